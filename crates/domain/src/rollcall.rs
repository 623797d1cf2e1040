//! Roll call (issue 5, "who is where" item 3): an accountability event for
//! one or more areas. Everyone present is asked "are you safe?" for
//! themselves and their dependants; the board shows who is accounted for,
//! who needs help and who has not answered.
//!
//! Who may start or close one: for every area named, its Designated
//! Official or a delegate, i.e. a security adviser whose scope covers the
//! area. The tally of one person counts only the answers given while the
//! event was open (at or after its start, at or before its close).

use crate::error::DomainError;
use crate::eta::Wellbeing;
use crate::role::RoleGrant;
use crate::{AreaCode, CountryCode, Role};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The most areas one roll call may cover.
pub const MAX_AREAS: usize = 50;
/// The longest message (characters).
pub const MAX_MESSAGE_CHARS: usize = 500;

/// Whether the caller may start (or close) a roll call over these areas
/// (each with its country): every area must be covered by a Designated
/// Official or security adviser grant of the caller. No areas: no.
pub fn may_run_roll_call(grants: &[RoleGrant], areas: &[(AreaCode, CountryCode)]) -> bool {
    !areas.is_empty()
        && areas.iter().all(|(area, country)| {
            grants.iter().any(|g| {
                matches!(g.role, Role::DesignatedOfficial | Role::SecurityAdviser)
                    && g.scope.covers_area(area, country)
            })
        })
}

/// Open until closed; a closed roll call keeps its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RollCallState {
    Open,
    Closed,
}

impl RollCallState {
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "open" => Ok(RollCallState::Open),
            "closed" => Ok(RollCallState::Closed),
            _ => Err(DomainError::invalid(
                "state",
                format!("`{s}` is not a roll call state (open, closed)"),
            )),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            RollCallState::Open => "open",
            RollCallState::Closed => "closed",
        }
    }
    /// Closing is allowed only from open (compare-and-set in the store).
    pub fn may_close(self) -> bool {
        self == RollCallState::Open
    }
}

/// Where one person stands on the board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tally {
    /// Some answer said "I need help" (for themselves or a dependant).
    NeedsHelp,
    /// Not answered while the roll call was open.
    NoAnswer,
    /// Answered safe, with every listed dependant safe.
    Accounted,
}

impl Tally {
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "accounted" => Ok(Tally::Accounted),
            "needs_help" => Ok(Tally::NeedsHelp),
            "no_answer" => Ok(Tally::NoAnswer),
            _ => Err(DomainError::invalid(
                "status",
                format!("`{s}` is not a roll call status (accounted, needs_help, no_answer)"),
            )),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Tally::Accounted => "accounted",
            Tally::NeedsHelp => "needs_help",
            Tally::NoAnswer => "no_answer",
        }
    }
}

/// One "are you safe?" answer of a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub status: Wellbeing,
    /// The status given for each listed dependant.
    pub dependants: Vec<Wellbeing>,
    pub at: DateTime<Utc>,
}

impl Answer {
    /// The person and every listed dependant are safe.
    pub fn all_safe(&self) -> bool {
        self.status == Wellbeing::Safe && self.dependants.iter().all(|d| *d == Wellbeing::Safe)
    }
}

/// Whether an answer at `at` counts for a roll call open from `started` to
/// `closed` (inclusive; an open one has no end).
pub fn counts(at: DateTime<Utc>, started: DateTime<Utc>, closed: Option<DateTime<Utc>>) -> bool {
    at >= started && closed.is_none_or(|c| at <= c)
}

/// One person's place on the board from their answers (in any order) and
/// the roll call's window, with the index of the deciding answer: the
/// latest that asked for help when any did (a call for help is not erased
/// by a later "safe": somebody must follow it up), else the latest one.
pub fn tally(
    answers: &[Answer],
    started: DateTime<Utc>,
    closed: Option<DateTime<Utc>>,
) -> (Tally, Option<usize>) {
    let latest = |need_help: bool| {
        answers
            .iter()
            .enumerate()
            .filter(|(_, a)| counts(a.at, started, closed) && (!need_help || !a.all_safe()))
            .max_by_key(|(_, a)| a.at)
            .map(|(i, _)| i)
    };
    if let Some(i) = latest(true) {
        return (Tally::NeedsHelp, Some(i));
    }
    match latest(false) {
        Some(i) => (Tally::Accounted, Some(i)),
        None => (Tally::NoAnswer, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scope;
    use chrono::{Duration, TimeZone};
    use uuid::Uuid;

    fn t(m: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap() + Duration::minutes(m)
    }
    fn a(status: Wellbeing, deps: &[Wellbeing], m: i64) -> Answer {
        Answer {
            status,
            dependants: deps.to_vec(),
            at: t(m),
        }
    }
    fn grant(role: Role, scope: &str) -> RoleGrant {
        RoleGrant {
            role,
            scope: Scope::parse(scope).unwrap(),
            agency: None,
        }
    }
    fn area(code: &str) -> (AreaCode, CountryCode) {
        (
            AreaCode::parse(code).unwrap(),
            CountryCode::parse(&code[..2]).unwrap(),
        )
    }
    use Wellbeing::{NeedHelp, Safe};

    #[test]
    fn do_or_security_adviser_of_every_area() {
        let (kab, her, bko) = (area("AF-KAB"), area("AF-HER"), area("ML-BKO"));
        let dof = [grant(Role::DesignatedOfficial, "AF")];
        assert!(may_run_roll_call(&dof, &[kab.clone(), her.clone()]));
        assert!(!may_run_roll_call(&dof, &[kab.clone(), bko.clone()]));
        assert!(!may_run_roll_call(&dof, &[]));
        let sa = [grant(Role::SecurityAdviser, "AF-KAB")];
        assert!(may_run_roll_call(&sa, std::slice::from_ref(&kab)));
        assert!(!may_run_roll_call(&sa, &[kab.clone(), her.clone()]));
        // Two grants may cover the areas between them.
        let both = [
            grant(Role::SecurityAdviser, "AF-KAB"),
            grant(Role::DesignatedOfficial, "ML"),
        ];
        assert!(may_run_roll_call(&both, &[kab.clone(), bko.clone()]));
        for role in [Role::AgencyFocalPoint, Role::Traveller, Role::Administrator] {
            let mut g = grant(role, "global");
            g.agency = Some(Uuid::nil());
            assert!(
                !may_run_roll_call(&[g], std::slice::from_ref(&kab)),
                "{role:?}"
            );
        }
    }

    #[test]
    fn states() {
        assert_eq!(RollCallState::parse("open").unwrap(), RollCallState::Open);
        assert_eq!(RollCallState::Closed.as_str(), "closed");
        assert!(RollCallState::parse("shut").is_err());
        assert!(RollCallState::Open.may_close());
        assert!(!RollCallState::Closed.may_close());
        for s in [Tally::Accounted, Tally::NeedsHelp, Tally::NoAnswer] {
            assert_eq!(Tally::parse(s.as_str()).unwrap(), s);
        }
    }

    #[test]
    fn tally_rule() {
        let start = t(0);
        // Nothing, or only before the start: no answer.
        assert_eq!(tally(&[], start, None), (Tally::NoAnswer, None));
        assert_eq!(
            tally(&[a(Safe, &[], -1)], start, None),
            (Tally::NoAnswer, None)
        );
        // An answer at the start counts.
        assert_eq!(
            tally(&[a(Safe, &[], 0)], start, None),
            (Tally::Accounted, Some(0))
        );
        // Safe with every dependant safe.
        assert_eq!(
            tally(&[a(Safe, &[Safe, Safe], 5)], start, None).0,
            Tally::Accounted
        );
        // A dependant in need makes the person's entry need help.
        assert_eq!(
            tally(&[a(Safe, &[Safe, NeedHelp], 5)], start, None),
            (Tally::NeedsHelp, Some(0))
        );
        // Any answer asking for help wins over a later "safe", and is the
        // deciding one.
        let answers = [a(Safe, &[], 1), a(NeedHelp, &[], 2), a(Safe, &[], 3)];
        assert_eq!(tally(&answers, start, None), (Tally::NeedsHelp, Some(1)));
        // A call for help before the start does not count.
        let answers = [a(NeedHelp, &[], -5), a(Safe, &[], 3)];
        assert_eq!(tally(&answers, start, None), (Tally::Accounted, Some(1)));
        // The latest counts, in any order.
        let answers = [a(Safe, &[], 9), a(Safe, &[], 3)];
        assert_eq!(tally(&answers, start, None), (Tally::Accounted, Some(0)));
        // After the close nothing counts.
        let closed = Some(t(10));
        assert_eq!(
            tally(&[a(NeedHelp, &[], 11)], start, closed),
            (Tally::NoAnswer, None)
        );
        assert_eq!(
            tally(&[a(Safe, &[], 10), a(NeedHelp, &[], 11)], start, closed),
            (Tally::Accounted, Some(0))
        );
    }
}
