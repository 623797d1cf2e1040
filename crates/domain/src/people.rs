//! Travellers' profiles and the approved-airline list.

use crate::DomainError;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Personnel category of a traveller (who the security management system covers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonnelCategory {
    InternationalStaff,
    NationalStaff,
    Consultant,
    Contractor,
    Dependant,
    Other,
}

impl PersonnelCategory {
    pub const ALL: [PersonnelCategory; 6] = [
        PersonnelCategory::InternationalStaff,
        PersonnelCategory::NationalStaff,
        PersonnelCategory::Consultant,
        PersonnelCategory::Contractor,
        PersonnelCategory::Dependant,
        PersonnelCategory::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PersonnelCategory::InternationalStaff => "international_staff",
            PersonnelCategory::NationalStaff => "national_staff",
            PersonnelCategory::Consultant => "consultant",
            PersonnelCategory::Contractor => "contractor",
            PersonnelCategory::Dependant => "dependant",
            PersonnelCategory::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let t = s.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        PersonnelCategory::ALL
            .into_iter()
            .find(|c| c.as_str() == t)
            .ok_or_else(|| {
                DomainError::invalid(
                    "category",
                    format!(
                        "`{}` is not a personnel category; expected one of {}",
                        s.trim(),
                        PersonnelCategory::ALL.map(|c| c.as_str()).join(", ")
                    ),
                )
            })
    }
}

/// Someone to call when the traveller is in trouble.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmergencyContact {
    pub name: String,
    #[serde(default)]
    pub relation: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub email: String,
}

/// A security training certificate (e.g. BSAFE), shown to clearance reviewers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    pub name: String,
    pub completed_on: NaiveDate,
    #[serde(default)]
    pub expires_on: Option<NaiveDate>,
}

impl Certificate {
    /// Whether the certificate is valid on `day`.
    pub fn valid_on(&self, day: NaiveDate) -> bool {
        self.completed_on <= day && self.expires_on.is_none_or(|e| day <= e)
    }
}

/// An airline's IATA designator: two characters, letters or digits, not both digits
/// (e.g. `ET`, `KQ`, `5Y`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AirlineCode(String);

impl AirlineCode {
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let t = s.trim().to_ascii_uppercase();
        let ok = t.len() == 2
            && t.bytes().all(|b| b.is_ascii_alphanumeric())
            && !t.bytes().all(|b| b.is_ascii_digit());
        if ok {
            Ok(AirlineCode(t))
        } else {
            Err(DomainError::invalid(
                "airline",
                format!(
                    "`{}` is not an IATA airline designator (two letters or digits, e.g. ET, 5Y)",
                    s.trim()
                ),
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The airline of a flight number such as `ET 308` or `KQ0310`.
    pub fn of_flight(flight: &str) -> Result<Self, DomainError> {
        let t: String = flight.chars().filter(|c| !c.is_whitespace()).collect();
        let prefix: String = t.chars().take(2).collect();
        let number = &t[prefix.len().min(t.len())..];
        if number.is_empty()
            || number.len() > 5
            || !number
                .trim_end_matches(|c: char| c.is_ascii_alphabetic())
                .bytes()
                .all(|b| b.is_ascii_digit())
        {
            return Err(DomainError::invalid(
                "flight",
                format!("`{}` is not a flight number (e.g. ET 308)", flight.trim()),
            ));
        }
        AirlineCode::parse(&prefix).map_err(|_| {
            DomainError::invalid(
                "flight",
                format!(
                    "`{}` does not start with an airline designator (e.g. ET 308)",
                    flight.trim()
                ),
            )
        })
    }
}

impl std::fmt::Display for AirlineCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for AirlineCode {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        AirlineCode::parse(&s)
    }
}

impl From<AirlineCode> for String {
    fn from(a: AirlineCode) -> String {
        a.0
    }
}

/// A month of the approved-airline list, `YYYY-MM`.
pub fn parse_list_month(s: &str) -> Result<NaiveDate, DomainError> {
    NaiveDate::parse_from_str(&format!("{}-01", s.trim()), "%Y-%m-%d").map_err(|_| {
        DomainError::invalid("month", format!("`{}` is not a month (YYYY-MM)", s.trim()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_parse_loosely_and_reject_unknown() {
        assert_eq!(
            PersonnelCategory::parse("International staff").unwrap(),
            PersonnelCategory::InternationalStaff
        );
        assert_eq!(
            PersonnelCategory::parse("national-staff").unwrap(),
            PersonnelCategory::NationalStaff
        );
        let e = PersonnelCategory::parse("volunteer").unwrap_err();
        assert_eq!(e.field(), "category");
    }

    #[test]
    fn airline_codes_and_flights() {
        assert_eq!(AirlineCode::parse("et").unwrap().as_str(), "ET");
        assert_eq!(AirlineCode::parse("5Y").unwrap().as_str(), "5Y");
        assert!(AirlineCode::parse("55").is_err());
        assert!(AirlineCode::parse("ETH").is_err());
        assert_eq!(AirlineCode::of_flight("ET 308").unwrap().as_str(), "ET");
        assert_eq!(AirlineCode::of_flight("kq0310").unwrap().as_str(), "KQ");
        assert!(AirlineCode::of_flight("ET").is_err());
        assert!(AirlineCode::of_flight("ET 30X8").is_err());
        assert!(AirlineCode::of_flight("12 345").is_err());
    }

    #[test]
    fn certificates_expire() {
        let c = Certificate {
            name: "BSAFE".into(),
            completed_on: NaiveDate::from_ymd_opt(2024, 1, 10).unwrap(),
            expires_on: NaiveDate::from_ymd_opt(2027, 1, 10),
        };
        assert!(c.valid_on(NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()));
        assert!(!c.valid_on(NaiveDate::from_ymd_opt(2027, 1, 11).unwrap()));
        assert!(!c.valid_on(NaiveDate::from_ymd_opt(2023, 1, 11).unwrap()));
    }

    #[test]
    fn months() {
        assert_eq!(
            parse_list_month("2026-11").unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()
        );
        assert!(parse_list_month("2026-13").is_err());
        assert!(parse_list_month("Nov 2026").is_err());
    }
}
