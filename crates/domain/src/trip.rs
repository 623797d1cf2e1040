//! TRIP: travel notification and security clearance (2010 report ¶19-27,
//! ¶151-157; 2019 report ¶42, ¶78, ¶112).
//!
//! Every official trip is recorded. Each leg enters an area whose processing
//! mode, chosen by the Designated Official and independent of the area's
//! security level, makes the leg either a *notification* (acknowledged at once
//! on the DO's behalf) or a *clearance request* (granted, denied or returned
//! for more information by a security professional).

use crate::{AreaCode, DomainError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How an area processes travel into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessingMode {
    /// The system acknowledges on the DO's behalf: a travel notification.
    Automatic,
    /// A security professional decides: a security clearance.
    Manual,
}

impl ProcessingMode {
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s.trim() {
            "automatic" => Ok(ProcessingMode::Automatic),
            "manual" => Ok(ProcessingMode::Manual),
            other => Err(DomainError::invalid(
                "mode",
                format!("`{other}` is not a processing mode; expected automatic or manual"),
            )),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessingMode::Automatic => "automatic",
            ProcessingMode::Manual => "manual",
        }
    }
    /// What a leg into an area with this mode is.
    pub fn leg_kind(self) -> LegKind {
        match self {
            ProcessingMode::Automatic => LegKind::Notification,
            ProcessingMode::Manual => LegKind::Clearance,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegKind {
    Notification,
    Clearance,
}

impl LegKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LegKind::Notification => "notification",
            LegKind::Clearance => "clearance",
        }
    }
}

/// Why a trip is made: official travel must be recorded; personal travel may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TripPurpose {
    Official,
    /// Home leave and other entitlement travel paid by an agency (official too).
    Entitlement,
    Personal,
}

impl TripPurpose {
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s.trim() {
            "official" => Ok(TripPurpose::Official),
            "entitlement" => Ok(TripPurpose::Entitlement),
            "personal" => Ok(TripPurpose::Personal),
            other => Err(DomainError::invalid(
                "purpose",
                format!("`{other}` is not a purpose; expected official, entitlement or personal"),
            )),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            TripPurpose::Official => "official",
            TripPurpose::Entitlement => "entitlement",
            TripPurpose::Personal => "personal",
        }
    }
}

/// Where a leg stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegStatus {
    /// A notification, acknowledged on the DO's behalf.
    Acknowledged,
    /// A clearance request awaiting a security professional.
    Pending,
    Granted,
    Denied,
    /// Returned to the traveller for more information.
    Returned,
    Cancelled,
}

impl LegStatus {
    pub const ALL: [LegStatus; 6] = [
        LegStatus::Acknowledged,
        LegStatus::Pending,
        LegStatus::Granted,
        LegStatus::Denied,
        LegStatus::Returned,
        LegStatus::Cancelled,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            LegStatus::Acknowledged => "acknowledged",
            LegStatus::Pending => "pending",
            LegStatus::Granted => "granted",
            LegStatus::Denied => "denied",
            LegStatus::Returned => "returned",
            LegStatus::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
    /// The status a new leg gets from its area's mode.
    pub fn initial(mode: ProcessingMode) -> LegStatus {
        match mode {
            ProcessingMode::Automatic => LegStatus::Acknowledged,
            ProcessingMode::Manual => LegStatus::Pending,
        }
    }
}

/// The trip's status follows from its legs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TripStatus {
    /// Every leg acknowledged or granted.
    Cleared,
    /// At least one clearance pending, none denied or returned.
    Pending,
    /// At least one leg returned for more information, none denied.
    Returned,
    /// At least one leg denied.
    Denied,
    Cancelled,
}

impl TripStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TripStatus::Cleared => "cleared",
            TripStatus::Pending => "pending",
            TripStatus::Returned => "returned",
            TripStatus::Denied => "denied",
            TripStatus::Cancelled => "cancelled",
        }
    }
    pub fn of(legs: &[LegStatus]) -> TripStatus {
        let live: Vec<LegStatus> = legs
            .iter()
            .copied()
            .filter(|s| *s != LegStatus::Cancelled)
            .collect();
        if live.is_empty() {
            TripStatus::Cancelled
        } else if live.contains(&LegStatus::Denied) {
            TripStatus::Denied
        } else if live.contains(&LegStatus::Returned) {
            TripStatus::Returned
        } else if live.contains(&LegStatus::Pending) {
            TripStatus::Pending
        } else {
            TripStatus::Cleared
        }
    }
}

/// A reviewer's decision on a clearance request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClearanceDecision {
    Grant,
    Deny,
    Return,
}

impl ClearanceDecision {
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s.trim() {
            "grant" => Ok(ClearanceDecision::Grant),
            "deny" => Ok(ClearanceDecision::Deny),
            "return" => Ok(ClearanceDecision::Return),
            other => Err(DomainError::invalid(
                "decision",
                format!("`{other}` is not a decision; expected grant, deny or return"),
            )),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            ClearanceDecision::Grant => "grant",
            ClearanceDecision::Deny => "deny",
            ClearanceDecision::Return => "return",
        }
    }
    pub fn outcome(self) -> LegStatus {
        match self {
            ClearanceDecision::Grant => LegStatus::Granted,
            ClearanceDecision::Deny => LegStatus::Denied,
            ClearanceDecision::Return => LegStatus::Returned,
        }
    }
}

/// Grounds a reviewer gives for a denial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DenialGround {
    SecuritySituation,
    ProgrammeCriticality,
    Capacity,
    IncompleteInformation,
    MissingTrainingCertificate,
    Other,
}

impl DenialGround {
    pub const ALL: [DenialGround; 6] = [
        DenialGround::SecuritySituation,
        DenialGround::ProgrammeCriticality,
        DenialGround::Capacity,
        DenialGround::IncompleteInformation,
        DenialGround::MissingTrainingCertificate,
        DenialGround::Other,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            DenialGround::SecuritySituation => "security_situation",
            DenialGround::ProgrammeCriticality => "programme_criticality",
            DenialGround::Capacity => "capacity",
            DenialGround::IncompleteInformation => "incomplete_information",
            DenialGround::MissingTrainingCertificate => "missing_training_certificate",
            DenialGround::Other => "other",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == s.trim())
    }
}

/// Checks a decision on a leg: only a pending leg can be decided; a denial
/// needs a ground and a comment, and may not rest on a missing training
/// certificate alone (2019 report ¶112: certificates are shown, but a
/// clearance is not withheld for one).
pub fn check_decision(
    current: LegStatus,
    decision: ClearanceDecision,
    grounds: &[DenialGround],
    comment: &str,
) -> Result<LegStatus, DomainError> {
    if current != LegStatus::Pending {
        return Err(DomainError::Conflict(format!(
            "this leg is {} and no longer awaits a decision; the first decision stands",
            current.as_str()
        )));
    }
    match decision {
        ClearanceDecision::Deny => {
            if grounds.is_empty() {
                return Err(DomainError::invalid(
                    "grounds",
                    "a denial must state its grounds",
                ));
            }
            if grounds
                .iter()
                .all(|g| *g == DenialGround::MissingTrainingCertificate)
            {
                return Err(DomainError::invalid(
                    "grounds",
                    "a clearance may not be denied only because a training certificate is missing; grant it, or state the security grounds",
                ));
            }
            if comment.trim().is_empty() {
                return Err(DomainError::invalid(
                    "comment",
                    "explain the denial to the traveller",
                ));
            }
        }
        ClearanceDecision::Return => {
            if comment.trim().is_empty() {
                return Err(DomainError::invalid(
                    "comment",
                    "say what information is needed",
                ));
            }
        }
        ClearanceDecision::Grant => {}
    }
    Ok(decision.outcome())
}

/// One leg of an itinerary as submitted, with times already resolved to UTC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LegTimes {
    pub area: AreaCode,
    pub depart: DateTime<Utc>,
    pub arrive: DateTime<Utc>,
}

/// Legs must be in order, each arriving after it departs, and none may start
/// before the previous one has arrived.
pub fn check_itinerary(legs: &[LegTimes]) -> Result<(), DomainError> {
    if legs.is_empty() {
        return Err(DomainError::invalid(
            "legs",
            "a trip needs at least one leg",
        ));
    }
    if legs.len() > 50 {
        return Err(DomainError::invalid("legs", "a trip has at most 50 legs"));
    }
    for (i, l) in legs.iter().enumerate() {
        if l.arrive < l.depart {
            return Err(DomainError::invalid(
                format!("legs[{i}].arrive"),
                "arrival is before departure",
            ));
        }
        if i > 0 && l.depart < legs[i - 1].arrive {
            return Err(DomainError::invalid(
                format!("legs[{i}].depart"),
                format!(
                    "departs before leg {} arrives: legs must be in order and must not overlap",
                    i
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, h, 0, 0).unwrap()
    }
    fn leg(code: &str, d: u32, a: u32) -> LegTimes {
        LegTimes {
            area: AreaCode::parse(code).unwrap(),
            depart: t(d),
            arrive: t(a),
        }
    }

    #[test]
    fn modes_are_independent_of_levels() {
        // The mode alone decides the kind of a leg; there is no level input.
        assert_eq!(ProcessingMode::Automatic.leg_kind(), LegKind::Notification);
        assert_eq!(ProcessingMode::Manual.leg_kind(), LegKind::Clearance);
        assert_eq!(
            LegStatus::initial(ProcessingMode::Manual),
            LegStatus::Pending
        );
        assert!(ProcessingMode::parse("sometimes").is_err());
    }

    #[test]
    fn trip_status_follows_legs() {
        use LegStatus::*;
        assert_eq!(
            TripStatus::of(&[Acknowledged, Granted]),
            TripStatus::Cleared
        );
        assert_eq!(
            TripStatus::of(&[Acknowledged, Pending]),
            TripStatus::Pending
        );
        assert_eq!(TripStatus::of(&[Returned, Pending]), TripStatus::Returned);
        assert_eq!(
            TripStatus::of(&[Denied, Returned, Granted]),
            TripStatus::Denied
        );
        assert_eq!(
            TripStatus::of(&[Cancelled, Cancelled]),
            TripStatus::Cancelled
        );
        assert_eq!(TripStatus::of(&[Cancelled, Granted]), TripStatus::Cleared);
    }

    #[test]
    fn decisions() {
        use ClearanceDecision::*;
        use DenialGround::*;
        assert_eq!(
            check_decision(LegStatus::Pending, Grant, &[], "").unwrap(),
            LegStatus::Granted
        );
        assert!(matches!(
            check_decision(LegStatus::Granted, Deny, &[SecuritySituation], "x"),
            Err(DomainError::Conflict(_))
        ));
        assert!(
            matches!(check_decision(LegStatus::Pending, Deny, &[], "x"), Err(DomainError::Invalid { field, .. }) if field == "grounds")
        );
        let e = check_decision(
            LegStatus::Pending,
            Deny,
            &[MissingTrainingCertificate],
            "no BSAFE",
        )
        .unwrap_err();
        assert!(e.to_string().contains("training certificate"));
        assert_eq!(
            check_decision(
                LegStatus::Pending,
                Deny,
                &[MissingTrainingCertificate, SecuritySituation],
                "Road closed by fighting"
            )
            .unwrap(),
            LegStatus::Denied
        );
        assert!(
            matches!(check_decision(LegStatus::Pending, Return, &[], " "), Err(DomainError::Invalid { field, .. }) if field == "comment")
        );
        assert_eq!(
            check_decision(LegStatus::Pending, Return, &[], "Which hotel?").unwrap(),
            LegStatus::Returned
        );
    }

    #[test]
    fn itineraries() {
        assert!(check_itinerary(&[leg("AF-KAB", 1, 3), leg("AF-HER", 5, 6)]).is_ok());
        assert!(check_itinerary(&[]).is_err());
        let e = check_itinerary(&[leg("AF-KAB", 3, 1)]).unwrap_err();
        assert!(matches!(e, DomainError::Invalid { ref field, .. } if field == "legs[0].arrive"));
        let e = check_itinerary(&[leg("AF-KAB", 1, 5), leg("AF-HER", 4, 6)]).unwrap_err();
        assert!(matches!(e, DomainError::Invalid { ref field, .. } if field == "legs[1].depart"));
    }
}
