use crate::DomainError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// ISO 3166-1 alpha-2 country code, upper case (`AF`, `ML`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode(String);

impl CountryCode {
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let t = s.trim().to_ascii_uppercase();
        if t.len() == 2 && t.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(CountryCode(t))
        } else {
            Err(DomainError::invalid(
                "country",
                format!("`{s}` is not an ISO 3166-1 alpha-2 country code (two letters, e.g. AF)"),
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CountryCode {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        CountryCode::parse(&s)
    }
}
impl From<CountryCode> for String {
    fn from(c: CountryCode) -> String {
        c.0
    }
}
impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The code of an SLS area: an ISO 3166-2 subdivision code (`AF-KAB`), a
/// derived code for admin-1 units without one, or an administrator-chosen code
/// for a custom area (`AF-SLS-CENTRAL`). Always `CC-REST` where `CC` is the
/// country's alpha-2 code and `REST` is 1-40 upper-case letters, digits or `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AreaCode(String);

impl AreaCode {
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let t = s.trim().to_ascii_uppercase();
        let bad = || {
            DomainError::invalid(
                "code",
                format!(
                    "`{s}` is not an area code: expected a country code, a dash and 1-40 letters, digits or dashes (e.g. AF-KAB)"
                ),
            )
        };
        let (cc, rest) = t.split_once('-').ok_or_else(bad)?;
        if cc.len() != 2 || !cc.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(bad());
        }
        if rest.is_empty()
            || rest.len() > 40
            || rest.starts_with('-')
            || rest.ends_with('-')
            || !rest
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(bad());
        }
        Ok(AreaCode(t))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The country prefix of the code.
    pub fn country(&self) -> CountryCode {
        CountryCode(self.0[..2].to_string())
    }
}

impl TryFrom<String> for AreaCode {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        AreaCode::parse(&s)
    }
}
impl From<AreaCode> for String {
    fn from(c: AreaCode) -> String {
        c.0
    }
}
impl fmt::Display for AreaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_codes() {
        assert_eq!(AreaCode::parse("af-kab").unwrap().as_str(), "AF-KAB");
        assert_eq!(AreaCode::parse("FR-75C").unwrap().country().as_str(), "FR");
        assert_eq!(
            AreaCode::parse("ML-SLS-GAO-2").unwrap().as_str(),
            "ML-SLS-GAO-2"
        );
        for bad in [
            "", "AF", "AF-", "A-KAB", "AFG-KAB", "AF-KAB-", "AF--X", "AF-K B", "AF-Ä", "1F-KAB",
        ] {
            assert!(AreaCode::parse(bad).is_err(), "{bad} accepted");
        }
        let long = format!("AF-{}", "X".repeat(41));
        assert!(AreaCode::parse(&long).is_err());
    }

    #[test]
    fn country_codes() {
        assert_eq!(CountryCode::parse(" ml ").unwrap().as_str(), "ML");
        assert!(CountryCode::parse("MLI").is_err());
        assert!(CountryCode::parse("M1").is_err());
    }
}
