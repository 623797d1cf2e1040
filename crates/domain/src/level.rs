use crate::DomainError;
use serde::{Deserialize, Serialize};

/// A security level of the Security Level System: 1 (minimal) to 6 (extreme).
/// It describes the *threat* in an area and is only an input to risk
/// management: it never triggers clearance rules, relocation or evacuation by
/// itself (2010 report ¶19, ¶61).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct SecurityLevel(u8);

impl SecurityLevel {
    pub const ALL: [SecurityLevel; 6] = [
        SecurityLevel(1),
        SecurityLevel(2),
        SecurityLevel(3),
        SecurityLevel(4),
        SecurityLevel(5),
        SecurityLevel(6),
    ];

    pub fn new(n: i64) -> Result<Self, DomainError> {
        if (1..=6).contains(&n) {
            Ok(SecurityLevel(n as u8))
        } else {
            Err(DomainError::invalid(
                "level",
                format!("security level must be between 1 (minimal) and 6 (extreme), got {n}"),
            ))
        }
    }
    pub fn get(self) -> u8 {
        self.0
    }
    /// English name of the level; the UI translates `level.N`.
    pub fn name(self) -> &'static str {
        match self.0 {
            1 => "Minimal",
            2 => "Low",
            3 => "Moderate",
            4 => "Substantial",
            5 => "High",
            _ => "Extreme",
        }
    }
}

impl TryFrom<i64> for SecurityLevel {
    type Error = DomainError;
    fn try_from(n: i64) -> Result<Self, Self::Error> {
        SecurityLevel::new(n)
    }
}
impl From<SecurityLevel> for i64 {
    fn from(l: SecurityLevel) -> i64 {
        l.0 as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn bounds() {
        assert!(SecurityLevel::new(0).is_err());
        assert!(SecurityLevel::new(7).is_err());
        assert_eq!(SecurityLevel::new(4).unwrap().name(), "Substantial");
        let e = serde_json_like(9);
        assert!(e.is_err());
    }
    fn serde_json_like(n: i64) -> Result<SecurityLevel, DomainError> {
        SecurityLevel::try_from(n)
    }
}
