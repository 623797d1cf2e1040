//! Who is where: what the store hands the presence rules
//! (`warden_domain::presence`) for an area and a moment.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use warden_domain::people::PersonnelCategory;
use warden_domain::presence::{Evidence, LegEvidence};

/// A person whom some evidence may place in the area at the moment, with all
/// their evidence; `warden_domain::presence::whereabouts` decides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PresenceCandidate {
    pub user: Uuid,
    pub name: String,
    /// The profile's agency, else the user's.
    pub agency: Option<Uuid>,
    pub agency_code: Option<String>,
    /// None for a user without a profile (e.g. a traveller never imported).
    pub category: Option<PersonnelCategory>,
    pub evidence: Evidence,
}

impl PresenceCandidate {
    /// Adds one of the person's latest departed legs and when the stay it
    /// begins ends (each leg once, in the order ties are settled in).
    pub fn add_latest_leg(&mut self, leg: LegEvidence, until: Option<DateTime<Utc>>) {
        if !self.evidence.legs.contains(&leg) {
            self.evidence.legs.push(leg);
            sort_legs(&mut self.evidence.legs);
        }
        self.evidence.next_departure = until;
    }
}

/// Legs in the order the rule's ties are settled in: departure, arrival,
/// sequence, request (the last of equals wins).
pub fn sort_legs(legs: &mut [LegEvidence]) {
    legs.sort_by(|a, b| {
        (a.depart, a.arrive, a.seq, a.request).cmp(&(b.depart, b.arrive, b.seq, b.request))
    });
}

/// How many people the presence rule places in an area at a moment, of one
/// agency (None: people of no agency), and how many of them are flagged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceCount {
    pub area: warden_domain::AreaCode,
    pub agency: Option<Uuid>,
    pub agency_code: Option<String>,
    pub present: i64,
    pub flagged: i64,
}

/// The bounds [`Store::presence_counts`](crate::Store::presence_counts)
/// compares timestamps with: a phone location reported before the first is
/// stale; a last arrival before the second, away and with nothing after,
/// is overdue (as `warden_domain::presence::whereabouts` decides).
pub fn presence_bounds(
    at: DateTime<Utc>,
    rules: warden_domain::presence::PresenceRules,
) -> (DateTime<Utc>, DateTime<Utc>) {
    (
        at - Duration::hours(rules.fresh_hours),
        at - Duration::days(rules.overdue_days),
    )
}

/// The class of stays that are open (no later live leg) or 2^17 hours long
/// or longer: no lower bound on their departure.
pub const STAY_CLASS_OPEN: i32 = 99;

/// The number of bounded stay classes (0 … 17).
pub const STAY_CLASSES: i32 = 18;

/// A stay (a live leg, from its departure until the traveller's next live
/// leg departs) is in class c < 18 when it lasts less than 2^c hours
/// (class 0: under an hour), else in [`STAY_CLASS_OPEN`]; both stores
/// index stays by (class, departure), in their migrations' `stay_class`
/// column, which must agree with this.
pub fn stay_class(seconds: Option<i64>) -> i32 {
    match seconds {
        None => STAY_CLASS_OPEN,
        Some(s) => (0..STAY_CLASSES)
            .find(|c| s < 3600 << c)
            .unwrap_or(STAY_CLASS_OPEN),
    }
}

/// For each stay class, the earliest departure of a stay of that class that
/// may cover `at`: a stay of class c departed less than 2^c hours before
/// (a minute earlier still, as the stores compute lengths in whole
/// seconds); open stays may have departed any time (year 1). The stays
/// covering `at` are, per class, those departed in [bound, `at`] whose end
/// is after `at`.
pub fn stay_classes(at: DateTime<Utc>) -> Vec<(i32, DateTime<Utc>)> {
    let mut v: Vec<(i32, DateTime<Utc>)> = (0..STAY_CLASSES)
        .map(|c| (c, at - Duration::seconds((3600 << c) + 60)))
        .collect();
    v.push((
        STAY_CLASS_OPEN,
        Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(),
    ));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_fall_in_classes_by_length() {
        assert_eq!(stay_class(None), STAY_CLASS_OPEN);
        assert_eq!(stay_class(Some(0)), 0);
        assert_eq!(stay_class(Some(3599)), 0);
        assert_eq!(stay_class(Some(3600)), 1);
        assert_eq!(stay_class(Some(3 * 3600)), 2);
        assert_eq!(stay_class(Some(14 * 86_400)), 9);
        assert_eq!(stay_class(Some((3600 << 17) - 1)), 17);
        assert_eq!(stay_class(Some(3600 << 17)), STAY_CLASS_OPEN);
        // A stay of class c that covers a moment departed within the
        // class's window before it.
        let at = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
        let bounds = stay_classes(at);
        assert_eq!(bounds.len(), 19);
        for secs in [0, 59, 3600, 7199, 86_400, 40 * 86_400, (3600 << 17) - 1] {
            let c = stay_class(Some(secs));
            let (_, since) = bounds.iter().find(|(k, _)| *k == c).unwrap();
            // The longest such stay ending just after `at`.
            let depart = at - Duration::seconds(secs) + Duration::milliseconds(1);
            assert!(depart >= *since, "{secs} s in class {c}");
        }
    }
}
