//! eTA: the electronic travel advisory on the phone (2019 report ¶74-86).
//!
//! Location data is personal data and the rules here are the product:
//! - normally only the **area** a person is in is kept (area and time, no
//!   coordinates);
//! - precise positions are kept only while a Designated Official's
//!   **tracking authorisation** covers the area (for a time window, with a
//!   reason, ending by itself); oversight flags authorisations that have run
//!   longer than a limit (¶79: "turned on for over a week");
//! - everything is purged **96 hours** after it was recorded, unless an
//!   authorised investigator has **frozen** it for a named person, a period
//!   and a case (¶80);
//! - back-end users give an **undertaking** before their first access (¶75).

use crate::role::{has_role_for_area, RoleGrant};
use crate::{AreaCode, CountryCode, DomainError, Role};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Default retention of location data, in hours (2019 ¶79).
pub const DEFAULT_RETENTION_HOURS: i64 = 96;
/// Default oversight limit: tracking running longer than this is flagged.
pub const DEFAULT_TRACKING_WARN_DAYS: i64 = 7;
/// No single authorisation may run longer than this; a longer crisis needs a
/// renewed decision.
pub const MAX_TRACKING_DAYS: i64 = 30;
/// Reports dated further in the future than this are refused (clock skew).
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 300;
/// The text version of the undertaking back-end users accept.
pub const UNDERTAKING_VERSION: &str = "2026-11";

/// One position reported by a device.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LocationReport {
    pub lat: f64,
    pub lon: f64,
    /// Horizontal accuracy in metres, when the device gives it.
    pub accuracy_m: Option<f64>,
    /// When the device recorded it.
    pub recorded_at: DateTime<Utc>,
}

impl LocationReport {
    /// Checks coordinates, accuracy and time. `field` prefixes the error's
    /// field name (e.g. `reports[3]`).
    pub fn validate(&self, field: &str, now: DateTime<Utc>) -> Result<(), DomainError> {
        if !self.lat.is_finite() || !(-90.0..=90.0).contains(&self.lat) {
            return Err(DomainError::invalid(
                format!("{field}.lat"),
                format!("latitude must be between -90 and 90 (got {})", self.lat),
            ));
        }
        if !self.lon.is_finite() || !(-180.0..=180.0).contains(&self.lon) {
            return Err(DomainError::invalid(
                format!("{field}.lon"),
                format!("longitude must be between -180 and 180 (got {})", self.lon),
            ));
        }
        if let Some(a) = self.accuracy_m {
            if !a.is_finite() || a < 0.0 {
                return Err(DomainError::invalid(
                    format!("{field}.acc"),
                    format!("accuracy must be a non-negative number of metres (got {a})"),
                ));
            }
        }
        if self.recorded_at > now + Duration::seconds(MAX_CLOCK_SKEW_SECONDS) {
            return Err(DomainError::invalid(
                format!("{field}.tst"),
                format!(
                    "the report is dated {} , in the future; check the device's clock",
                    self.recorded_at.to_rfc3339()
                ),
            ));
        }
        Ok(())
    }
}

/// The moment before which location data is due for purging.
pub fn retention_cutoff(now: DateTime<Utc>, retention_hours: i64) -> DateTime<Utc> {
    now - Duration::hours(retention_hours)
}

/// What the DO asks for when switching tracking on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackingRequest {
    pub area: AreaCode,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub reason: String,
}

impl TrackingRequest {
    pub fn validate(&self, now: DateTime<Utc>) -> Result<(), DomainError> {
        if self.reason.trim().len() < 10 {
            return Err(DomainError::invalid(
                "reason",
                "say why tracking is needed (the crisis it responds to), in at least 10 characters",
            ));
        }
        if self.ends_at <= self.starts_at {
            return Err(DomainError::invalid(
                "ends_at",
                "tracking must end after it starts",
            ));
        }
        if self.ends_at <= now {
            return Err(DomainError::invalid(
                "ends_at",
                "the window is already over",
            ));
        }
        if self.ends_at - self.starts_at > Duration::days(MAX_TRACKING_DAYS) {
            return Err(DomainError::invalid(
                "ends_at",
                format!(
                    "tracking may be authorised for at most {MAX_TRACKING_DAYS} days at a time; renew the decision for longer"
                ),
            ));
        }
        if self.starts_at < now - Duration::minutes(5) {
            return Err(DomainError::invalid(
                "starts_at",
                "tracking cannot be authorised for the past",
            ));
        }
        Ok(())
    }
}

/// Only the Designated Official of the area authorises (or ends) tracking.
pub fn may_authorise_tracking(
    grants: &[RoleGrant],
    area: &AreaCode,
    country: &CountryCode,
) -> bool {
    has_role_for_area(grants, Role::DesignatedOfficial, area, country)
}

/// Whether a tracking authorisation is in force at `at`.
pub fn tracking_active(
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
) -> bool {
    let end = ended_at.map_or(ends_at, |e| e.min(ends_at));
    starts_at <= at && at < end
}

/// Oversight: an authorisation in force that has run longer than `warn_days`.
pub fn tracking_overdue(starts_at: DateTime<Utc>, at: DateTime<Utc>, warn_days: i64) -> bool {
    at - starts_at > Duration::days(warn_days)
}

/// Who may see precise positions of a person of `person_agency` in `area`:
/// the area's Designated Official or security advisers, and the agency focal
/// points of the person's agency, each grant limited to its agency when it
/// names one. (The caller also requires an accepted undertaking and an
/// authorisation in force, and audits the access.)
pub fn may_view_positions(
    grants: &[RoleGrant],
    area: &AreaCode,
    country: &CountryCode,
    person_agency: Option<Uuid>,
) -> bool {
    grants.iter().any(|g| {
        let role_ok = match g.role {
            Role::DesignatedOfficial | Role::SecurityAdviser => true,
            Role::AgencyFocalPoint => g.agency.is_some(),
            _ => false,
        };
        let agency_ok = match g.agency {
            None => true,
            Some(a) => person_agency == Some(a),
        };
        role_ok && agency_ok && g.scope.covers_area(area, country)
    })
}

/// Whether any grant could ever give sight of positions in the area (for
/// listing: which people's positions to show is then decided per person).
pub fn may_view_some_positions(
    grants: &[RoleGrant],
    area: &AreaCode,
    country: &CountryCode,
) -> bool {
    grants.iter().any(|g| {
        matches!(
            g.role,
            Role::DesignatedOfficial | Role::SecurityAdviser | Role::AgencyFocalPoint
        ) && g.scope.covers_area(area, country)
            && (g.role != Role::AgencyFocalPoint || g.agency.is_some())
    })
}

/// An investigator freezes data of people of their agency (a grant without
/// an agency covers every agency: the network's own investigation office).
pub fn may_freeze(grants: &[RoleGrant], person_agency: Option<Uuid>) -> bool {
    grants.iter().any(|g| {
        g.role == Role::Investigator
            && match g.agency {
                None => true,
                Some(a) => person_agency == Some(a),
            }
    })
}

/// Agency focal points see the freezes on their agency's people.
pub fn may_see_freezes(grants: &[RoleGrant], person_agency: Option<Uuid>) -> bool {
    may_freeze(grants, person_agency)
        || grants.iter().any(|g| {
            g.role == Role::AgencyFocalPoint
                && match g.agency {
                    None => true,
                    Some(a) => person_agency == Some(a),
                }
        })
}

/// What an investigator asks for when freezing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreezeRequest {
    pub person: Uuid,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub case_reference: String,
    pub reason: String,
}

impl FreezeRequest {
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.case_reference.trim().is_empty() {
            return Err(DomainError::invalid(
                "case_reference",
                "name the investigation's case reference",
            ));
        }
        if self.reason.trim().len() < 10 {
            return Err(DomainError::invalid(
                "reason",
                "say why the data must be kept, in at least 10 characters",
            ));
        }
        if self.to <= self.from {
            return Err(DomainError::invalid(
                "to",
                "the period must end after it starts",
            ));
        }
        Ok(())
    }
}

/// The severity of a geo-alert (CAP 1.2 severity values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertSeverity {
    Extreme,
    Severe,
    Moderate,
    Minor,
}

impl AlertSeverity {
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "extreme" => Ok(AlertSeverity::Extreme),
            "severe" => Ok(AlertSeverity::Severe),
            "moderate" => Ok(AlertSeverity::Moderate),
            "minor" => Ok(AlertSeverity::Minor),
            other => Err(DomainError::invalid(
                "severity",
                format!("`{other}` is not a severity; expected extreme, severe, moderate or minor"),
            )),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            AlertSeverity::Extreme => "extreme",
            AlertSeverity::Severe => "severe",
            AlertSeverity::Moderate => "moderate",
            AlertSeverity::Minor => "minor",
        }
    }
    /// The CAP 1.2 spelling.
    pub fn cap(self) -> &'static str {
        match self {
            AlertSeverity::Extreme => "Extreme",
            AlertSeverity::Severe => "Severe",
            AlertSeverity::Moderate => "Moderate",
            AlertSeverity::Minor => "Minor",
        }
    }
}

/// Security advisers and the DO of an area issue alerts for it.
pub fn may_issue_alert(grants: &[RoleGrant], area: &AreaCode, country: &CountryCode) -> bool {
    has_role_for_area(grants, Role::DesignatedOfficial, area, country)
        || has_role_for_area(grants, Role::SecurityAdviser, area, country)
}

/// A person's answer to "are you safe?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Wellbeing {
    Safe,
    NeedHelp,
}

impl Wellbeing {
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s.trim() {
            "safe" | "1" => Ok(Wellbeing::Safe),
            "need_help" | "2" => Ok(Wellbeing::NeedHelp),
            other => Err(DomainError::invalid(
                "status",
                format!("`{other}` is not an answer; expected safe or need_help"),
            )),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Wellbeing::Safe => "safe",
            Wellbeing::NeedHelp => "need_help",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scope;
    use chrono::TimeZone;

    fn t(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + Duration::hours(h)
    }

    #[test]
    fn reports_are_checked() {
        let ok = LocationReport {
            lat: 34.5,
            lon: 69.2,
            accuracy_m: Some(12.0),
            recorded_at: t(0),
        };
        assert!(ok.validate("r", t(0)).is_ok());
        let e = LocationReport { lat: 91.0, ..ok }
            .validate("r[2]", t(0))
            .unwrap_err();
        assert_eq!(e.field(), "r[2].lat");
        let e = LocationReport {
            lon: f64::NAN,
            ..ok
        }
        .validate("r", t(0))
        .unwrap_err();
        assert_eq!(e.field(), "r.lon");
        let e = LocationReport {
            accuracy_m: Some(-1.0),
            ..ok
        }
        .validate("r", t(0))
        .unwrap_err();
        assert_eq!(e.field(), "r.acc");
        let e = LocationReport {
            recorded_at: t(1),
            ..ok
        }
        .validate("r", t(0))
        .unwrap_err();
        assert_eq!(e.field(), "r.tst");
    }

    #[test]
    fn tracking_windows() {
        let area = AreaCode::parse("AF-KAB").unwrap();
        let ok = TrackingRequest {
            area,
            starts_at: t(0),
            ends_at: t(48),
            reason: "Clashes in the city centre".into(),
        };
        assert!(ok.validate(t(0)).is_ok());
        let e = TrackingRequest {
            reason: "x".into(),
            ..ok.clone()
        }
        .validate(t(0))
        .unwrap_err();
        assert_eq!(e.field(), "reason");
        let e = TrackingRequest {
            ends_at: t(0),
            ..ok.clone()
        }
        .validate(t(0))
        .unwrap_err();
        assert_eq!(e.field(), "ends_at");
        let e = TrackingRequest {
            ends_at: t(24 * 31),
            ..ok.clone()
        }
        .validate(t(0))
        .unwrap_err();
        assert_eq!(e.field(), "ends_at");
        assert!(tracking_active(t(0), t(48), None, t(47)));
        assert!(!tracking_active(t(0), t(48), None, t(48)));
        assert!(!tracking_active(t(0), t(48), Some(t(10)), t(11)));
        assert!(tracking_active(t(0), t(48), Some(t(10)), t(9)));
        assert!(!tracking_overdue(t(0), t(24 * 7), 7));
        assert!(tracking_overdue(t(0), t(24 * 7 + 1), 7));
    }

    #[test]
    fn who_sees_positions() {
        let kab = AreaCode::parse("AF-KAB").unwrap();
        let af = CountryCode::parse("AF").unwrap();
        let a1 = Uuid::from_u128(1);
        let a2 = Uuid::from_u128(2);
        let g = |role, scope: &str, agency| RoleGrant {
            role,
            scope: Scope::parse(scope).unwrap(),
            agency,
        };
        assert!(may_view_positions(
            &[g(Role::SecurityAdviser, "AF", None)],
            &kab,
            &af,
            Some(a1)
        ));
        assert!(!may_view_positions(
            &[g(Role::SecurityAdviser, "ML", None)],
            &kab,
            &af,
            Some(a1)
        ));
        assert!(may_view_positions(
            &[g(Role::AgencyFocalPoint, "AF", Some(a1))],
            &kab,
            &af,
            Some(a1)
        ));
        assert!(!may_view_positions(
            &[g(Role::AgencyFocalPoint, "AF", Some(a1))],
            &kab,
            &af,
            Some(a2)
        ));
        assert!(!may_view_positions(
            &[g(Role::AgencyFocalPoint, "AF", None)],
            &kab,
            &af,
            Some(a1)
        ));
        assert!(!may_view_positions(
            &[g(Role::Administrator, "global", None)],
            &kab,
            &af,
            Some(a1)
        ));
        assert!(!may_view_positions(
            &[g(Role::Traveller, "global", None)],
            &kab,
            &af,
            Some(a1)
        ));
        assert!(may_freeze(
            &[g(Role::Investigator, "global", Some(a1))],
            Some(a1)
        ));
        assert!(!may_freeze(
            &[g(Role::Investigator, "global", Some(a1))],
            Some(a2)
        ));
        assert!(may_see_freezes(
            &[g(Role::AgencyFocalPoint, "global", Some(a2))],
            Some(a2)
        ));
        assert!(!may_see_freezes(
            &[g(Role::SecurityAdviser, "global", None)],
            Some(a2)
        ));
    }

    #[test]
    fn freezes_need_a_case() {
        let ok = FreezeRequest {
            person: Uuid::from_u128(1),
            from: t(0),
            to: t(10),
            case_reference: "OIOS-2026-114".into(),
            reason: "Vehicle incident under investigation".into(),
        };
        assert!(ok.validate().is_ok());
        assert_eq!(
            FreezeRequest {
                case_reference: " ".into(),
                ..ok.clone()
            }
            .validate()
            .unwrap_err()
            .field(),
            "case_reference"
        );
        assert_eq!(
            FreezeRequest {
                to: t(0),
                ..ok.clone()
            }
            .validate()
            .unwrap_err()
            .field(),
            "to"
        );
    }

    #[test]
    fn wellbeing_replies() {
        assert_eq!(Wellbeing::parse("1").unwrap(), Wellbeing::Safe);
        assert_eq!(Wellbeing::parse("2").unwrap(), Wellbeing::NeedHelp);
        assert!(Wellbeing::parse("3").is_err());
        assert_eq!(AlertSeverity::parse("Severe").unwrap().cap(), "Severe");
    }
}
