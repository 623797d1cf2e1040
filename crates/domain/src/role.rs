use crate::{AreaCode, CountryCode, DomainError};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// The roles of the security management system (domain.md "People and roles").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Traveller,
    AgencyFocalPoint,
    SecurityAdviser,
    RegionalDesk,
    DesignatedOfficial,
    SmtMember,
    Administrator,
    /// Investigates incidents under an agency's rules; may freeze location
    /// data so that the 96-hour purge keeps it (2019 ¶80).
    Investigator,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::Traveller,
        Role::AgencyFocalPoint,
        Role::SecurityAdviser,
        Role::RegionalDesk,
        Role::DesignatedOfficial,
        Role::SmtMember,
        Role::Administrator,
        Role::Investigator,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Traveller => "traveller",
            Role::AgencyFocalPoint => "agency_focal_point",
            Role::SecurityAdviser => "security_adviser",
            Role::RegionalDesk => "regional_desk",
            Role::DesignatedOfficial => "designated_official",
            Role::SmtMember => "smt_member",
            Role::Administrator => "administrator",
            Role::Investigator => "investigator",
        }
    }

    pub fn parse(s: &str) -> Result<Role, DomainError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| {
                DomainError::invalid(
                    "role",
                    format!(
                        "unknown role `{s}`; expected one of: {}",
                        Role::ALL.map(|r| r.as_str()).join(", ")
                    ),
                )
            })
    }

    /// Roles that approve decisions or see personal data must use TOTP
    /// two-factor authentication. A traveller sees only their own data.
    pub fn requires_two_factor(self) -> bool {
        !matches!(self, Role::Traveller)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a role applies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "code", rename_all = "snake_case")]
pub enum Scope {
    Global,
    Country(CountryCode),
    Area(AreaCode),
}

impl Scope {
    /// Parses `global`, a country code (`AF`) or an area code (`AF-KAB`).
    pub fn parse(s: &str) -> Result<Scope, DomainError> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("global") || t == "*" {
            Ok(Scope::Global)
        } else if t.contains('-') {
            AreaCode::parse(t).map(Scope::Area).map_err(|_| {
                DomainError::invalid(
                    "scope",
                    format!("`{s}` is neither `global`, a country code nor an area code"),
                )
            })
        } else {
            CountryCode::parse(t).map(Scope::Country).map_err(|_| {
                DomainError::invalid(
                    "scope",
                    format!("`{s}` is neither `global`, a country code nor an area code"),
                )
            })
        }
    }

    pub fn covers_area(&self, area: &AreaCode, area_country: &CountryCode) -> bool {
        match self {
            Scope::Global => true,
            Scope::Country(c) => c == area_country,
            Scope::Area(a) => a == area,
        }
    }

    pub fn covers_country(&self, country: &CountryCode) -> bool {
        match self {
            Scope::Global => true,
            Scope::Country(c) => c == country,
            Scope::Area(a) => &a.country() == country,
        }
    }

    pub fn to_text(&self) -> String {
        match self {
            Scope::Global => "global".into(),
            Scope::Country(c) => c.to_string(),
            Scope::Area(a) => a.to_string(),
        }
    }
}

/// A role held by a user, within a scope and optionally limited to one agency.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RoleGrant {
    pub role: Role,
    pub scope: Scope,
    pub agency: Option<Uuid>,
}

/// True when one of `grants` gives `role` over the area.
pub fn has_role_for_area(
    grants: &[RoleGrant],
    role: Role,
    area: &AreaCode,
    country: &CountryCode,
) -> bool {
    grants
        .iter()
        .any(|g| g.role == role && g.scope.covers_area(area, country))
}

pub fn has_role_for_country(grants: &[RoleGrant], role: Role, country: &CountryCode) -> bool {
    grants
        .iter()
        .any(|g| g.role == role && g.scope.covers_country(country))
}

pub fn has_role(grants: &[RoleGrant], role: Role) -> bool {
    grants.iter().any(|g| g.role == role)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        let kab = AreaCode::parse("AF-KAB").unwrap();
        let af = CountryCode::parse("AF").unwrap();
        let ml = CountryCode::parse("ML").unwrap();
        assert!(Scope::Global.covers_area(&kab, &af));
        assert!(Scope::parse("af").unwrap().covers_area(&kab, &af));
        assert!(!Scope::Country(ml.clone()).covers_area(&kab, &af));
        assert!(Scope::parse("AF-KAB").unwrap().covers_area(&kab, &af));
        assert!(!Scope::parse("AF-HER").unwrap().covers_area(&kab, &af));
        assert!(Scope::parse("AF-HER").unwrap().covers_country(&af));
        assert!(Scope::parse("xx yy").is_err());
    }

    #[test]
    fn roles() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()).unwrap(), r);
        }
        assert!(Role::parse("king").is_err());
        assert!(!Role::Traveller.requires_two_factor());
        assert!(Role::DesignatedOfficial.requires_two_factor());
        assert!(Role::AgencyFocalPoint.requires_two_factor());
    }
}
