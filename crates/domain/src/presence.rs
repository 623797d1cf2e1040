//! Who is where: the headcount of an area at a moment (2010 report ¶153:
//! "staff lists plus travel records must tell who is where"; 2019 ¶74-86).
//!
//! For one person, three kinds of evidence may say where they are:
//! - their **duty station** (the profile; residents and their dependants);
//! - their **travel** (TRIP legs: a leg into an area that arrived at or
//!   before the moment, with no later leg departed before it; a leg that
//!   departed and has not yet arrived puts them in transit);
//! - their **phone** (the eTA's last known area, since when, last reported).
//!
//! A fresher phone location overrides travel; travel overrides the duty
//! station. Nobody is silently dropped: a person whose evidence is missing,
//! old or contradicted by time is flagged (`overdue`, `stale_location`,
//! `unknown`).

use crate::eta::may_view_positions;
use crate::role::RoleGrant;
use crate::trip::LegStatus;
use crate::{AreaCode, CountryCode, Role};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Default: a trip whose last leg ended away from the duty station, with no
/// leg after it, is overdue this many days after the arrival.
pub const DEFAULT_OVERDUE_DAYS: i64 = 14;

/// The thresholds of the rules (from configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresenceRules {
    /// A phone location older than this is stale (`location_fresh_hours`).
    pub fresh_hours: i64,
    /// See [`DEFAULT_OVERDUE_DAYS`].
    pub overdue_days: i64,
}

impl Default for PresenceRules {
    fn default() -> Self {
        PresenceRules {
            fresh_hours: 24,
            overdue_days: DEFAULT_OVERDUE_DAYS,
        }
    }
}

/// Whether a leg of this status is evidence of travel: cancelled and denied
/// legs are not travelled; pending and returned ones may have been (for
/// accountability they count, rather than losing the traveller).
pub fn leg_counts(status: LegStatus) -> bool {
    !matches!(status, LegStatus::Cancelled | LegStatus::Denied)
}

/// One travel leg of the person (only legs that [`leg_counts`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegEvidence {
    pub request: Uuid,
    pub seq: i32,
    /// The area the leg enters.
    pub area: AreaCode,
    pub depart: DateTime<Utc>,
    pub arrive: DateTime<Utc>,
}

/// The person's last known phone location (area only; None when the phone
/// reported a place outside every known area).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneEvidence {
    pub area: Option<AreaCode>,
    /// Since when the phone has been in that area.
    pub since: DateTime<Utc>,
    /// When it last reported.
    pub reported_at: DateTime<Utc>,
}

/// Everything known about one person's whereabouts around a moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub duty_station: Option<AreaCode>,
    /// When the duty station was last recorded (the profile's update).
    pub duty_station_at: Option<DateTime<Utc>>,
    /// The person's legs around the moment, in any order: at least the
    /// latest that departed at or before it (all that share its departure)
    /// and, unless `next_departure` tells it, the first after them.
    pub legs: Vec<LegEvidence>,
    /// When the first live leg after the latest departed ones departs, if
    /// there is one and it is not among `legs` (stores that read a stay as
    /// an interval know when it ends, not where the next leg goes).
    pub next_departure: Option<DateTime<Utc>>,
    pub phone: Option<PhoneEvidence>,
}

/// Why we think the person is where we say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    DutyStation,
    Travel,
    Phone,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::DutyStation => "duty_station",
            Reason::Travel => "travel",
            Reason::Phone => "phone",
        }
    }
}

/// Where the evidence places a person at a moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Whereabouts {
    /// The area they are in; None when in transit or unknown.
    pub area: Option<AreaCode>,
    /// In transit on a leg into this area (departed, not yet arrived).
    pub in_transit_to: Option<AreaCode>,
    /// The evidence that decided (None: nothing places them anywhere).
    pub reason: Option<Reason>,
    /// When that evidence was recorded: the arrival (or departure in
    /// transit), the phone's last report, the profile's update.
    pub as_of: Option<DateTime<Utc>>,
    /// The last leg ended away from the duty station, nothing follows it,
    /// and more than `overdue_days` have passed.
    pub overdue: bool,
    /// The deciding phone location is older than `fresh_hours`.
    pub stale_location: bool,
    /// Nothing places them in any known area.
    pub unknown: bool,
}

impl Whereabouts {
    pub fn is_in(&self, area: &AreaCode) -> bool {
        self.area.as_ref() == Some(area)
    }
    pub fn flagged(&self) -> bool {
        self.overdue || self.stale_location || self.unknown
    }
}

/// Decides where the evidence places the person at `at`.
pub fn whereabouts(e: &Evidence, at: DateTime<Utc>, rules: PresenceRules) -> Whereabouts {
    let mut w = Whereabouts {
        area: None,
        in_transit_to: None,
        reason: None,
        as_of: None,
        overdue: false,
        stale_location: false,
        unknown: false,
    };
    // The latest leg that departed at or before the moment decides travel.
    let last = e
        .legs
        .iter()
        .filter(|l| l.depart <= at)
        .max_by_key(|l| (l.depart, l.arrive, l.seq));
    let travel_at = last.map(|l| if l.arrive <= at { l.arrive } else { l.depart });
    // A phone location counts when the phone was already there at the moment
    // and its report is fresher than the travel record.
    let phone = e
        .phone
        .as_ref()
        .filter(|p| p.since <= at)
        .filter(|p| travel_at.is_none_or(|t| p.reported_at > t));
    if let Some(p) = phone {
        w.reason = Some(Reason::Phone);
        w.as_of = Some(p.reported_at);
        w.area = p.area.clone();
        w.unknown = p.area.is_none();
        w.stale_location = at - p.reported_at > Duration::hours(rules.fresh_hours);
    } else if let Some(l) = last {
        w.reason = Some(Reason::Travel);
        w.as_of = travel_at;
        if l.arrive <= at {
            w.area = Some(l.area.clone());
            let nothing_after = !e.legs.iter().any(|n| n.depart > l.depart)
                && e.next_departure.is_none_or(|d| d <= l.depart);
            let away = e.duty_station.as_ref() != Some(&l.area);
            w.overdue = nothing_after && away && at - l.arrive > Duration::days(rules.overdue_days);
        } else {
            w.in_transit_to = Some(l.area.clone());
        }
    } else if let Some(ds) = &e.duty_station {
        w.reason = Some(Reason::DutyStation);
        w.as_of = e.duty_station_at;
        w.area = Some(ds.clone());
    } else {
        w.unknown = true;
    }
    w
}

/// Roles that see the headcount (counts only) of an area they cover.
pub const HEADCOUNT_ROLES: [Role; 5] = [
    Role::DesignatedOfficial,
    Role::SecurityAdviser,
    Role::SmtMember,
    Role::AgencyFocalPoint,
    Role::RegionalDesk,
];

/// Whether the caller may see an area's headcount (totals, per agency and
/// category, flagged counts; no names).
pub fn may_see_headcount(grants: &[RoleGrant], area: &AreaCode, country: &CountryCode) -> bool {
    grants
        .iter()
        .any(|g| HEADCOUNT_ROLES.contains(&g.role) && g.scope.covers_area(area, country))
}

/// Whether the caller may see one person's name and whereabouts in the area:
/// the same people whose positions they could see (the area's DO and
/// security advisers, the focal points of the person's own agency, each
/// grant limited to its agency when it names one).
pub fn may_see_whereabouts(
    grants: &[RoleGrant],
    area: &AreaCode,
    country: &CountryCode,
    person_agency: Option<Uuid>,
) -> bool {
    may_view_positions(grants, area, country, person_agency)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scope;
    use chrono::TimeZone;

    fn t(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + Duration::hours(h)
    }
    fn a(s: &str) -> AreaCode {
        AreaCode::parse(s).unwrap()
    }
    fn leg(seq: i32, area: &str, depart: i64, arrive: i64) -> LegEvidence {
        LegEvidence {
            request: Uuid::nil(),
            seq,
            area: a(area),
            depart: t(depart),
            arrive: t(arrive),
        }
    }
    fn resident(area: &str) -> Evidence {
        Evidence {
            duty_station: Some(a(area)),
            duty_station_at: Some(t(-1000)),
            ..Default::default()
        }
    }
    fn phone(area: Option<&str>, since: i64, reported: i64) -> Option<PhoneEvidence> {
        Some(PhoneEvidence {
            area: area.map(a),
            since: t(since),
            reported_at: t(reported),
        })
    }
    const R: PresenceRules = PresenceRules {
        fresh_hours: 24,
        overdue_days: 14,
    };

    #[test]
    fn a_resident_is_at_the_duty_station() {
        let w = whereabouts(&resident("AF-KAB"), t(0), R);
        assert!(w.is_in(&a("AF-KAB")));
        assert_eq!(w.reason, Some(Reason::DutyStation));
        assert_eq!(w.as_of, Some(t(-1000)));
        assert!(!w.flagged());
    }

    #[test]
    fn an_arrived_leg_places_the_traveller() {
        let mut e = resident("AF-KAB");
        e.legs = vec![leg(1, "AF-BAL", 2, 4)];
        // Before departure: still at home.
        let w = whereabouts(&e, t(1), R);
        assert!(w.is_in(&a("AF-KAB")));
        assert_eq!(w.reason, Some(Reason::DutyStation));
        // In the air: in transit, in no area.
        let w = whereabouts(&e, t(3), R);
        assert_eq!(w.area, None);
        assert_eq!(w.in_transit_to, Some(a("AF-BAL")));
        assert_eq!((w.reason, w.as_of), (Some(Reason::Travel), Some(t(2))));
        assert!(!w.flagged());
        // Arrived (at the very moment of arrival too).
        for h in [4, 5] {
            let w = whereabouts(&e, t(h), R);
            assert!(w.is_in(&a("AF-BAL")));
            assert_eq!((w.reason, w.as_of), (Some(Reason::Travel), Some(t(4))));
        }
    }

    #[test]
    fn a_later_leg_departed_moves_them_on() {
        let mut e = resident("AF-KAB");
        // Given out of order: the rule orders them.
        e.legs = vec![leg(2, "AF-KAB", 100, 102), leg(1, "AF-BAL", 2, 4)];
        assert!(whereabouts(&e, t(50), R).is_in(&a("AF-BAL")));
        assert_eq!(whereabouts(&e, t(101), R).in_transit_to, Some(a("AF-KAB")));
        let w = whereabouts(&e, t(103), R);
        assert!(w.is_in(&a("AF-KAB")));
        assert_eq!((w.reason, w.as_of), (Some(Reason::Travel), Some(t(102))));
        assert!(!w.overdue);
    }

    #[test]
    fn a_fresher_phone_overrides_travel_and_an_older_one_does_not() {
        let mut e = resident("AF-KAB");
        e.legs = vec![leg(1, "AF-BAL", 2, 4)];
        e.phone = phone(Some("AF-HER"), 6, 8);
        let w = whereabouts(&e, t(10), R);
        assert!(w.is_in(&a("AF-HER")));
        assert_eq!((w.reason, w.as_of), (Some(Reason::Phone), Some(t(8))));
        assert!(!w.flagged());
        // A phone report older than the arrival: travel decides.
        e.phone = phone(Some("AF-HER"), -10, 3);
        let w = whereabouts(&e, t(10), R);
        assert!(w.is_in(&a("AF-BAL")));
        assert_eq!(w.reason, Some(Reason::Travel));
        assert!(!w.stale_location);
    }

    #[test]
    fn a_phone_overrides_the_duty_station() {
        let mut e = resident("AF-KAB");
        e.phone = phone(Some("AF-BAL"), -5, -1);
        let w = whereabouts(&e, t(0), R);
        assert!(w.is_in(&a("AF-BAL")));
        assert_eq!(w.reason, Some(Reason::Phone));
    }

    #[test]
    fn a_phone_that_arrived_after_the_moment_says_nothing_about_it() {
        let mut e = resident("AF-KAB");
        e.phone = phone(Some("AF-BAL"), 5, 6);
        let w = whereabouts(&e, t(0), R);
        assert!(w.is_in(&a("AF-KAB")));
        assert_eq!(w.reason, Some(Reason::DutyStation));
        // ...but one that was already there and reported later covers it.
        e.phone = phone(Some("AF-BAL"), -5, 6);
        assert!(whereabouts(&e, t(0), R).is_in(&a("AF-BAL")));
    }

    #[test]
    fn a_stale_phone_is_flagged() {
        let mut e = resident("AF-KAB");
        e.phone = phone(Some("AF-BAL"), -40, -30);
        let w = whereabouts(&e, t(0), R);
        assert!(w.is_in(&a("AF-BAL")));
        assert!(w.stale_location && w.flagged());
        assert!(!w.unknown && !w.overdue);
        // Exactly at the limit it is still fresh.
        e.phone = phone(Some("AF-BAL"), -40, -24);
        assert!(!whereabouts(&e, t(0), R).stale_location);
    }

    #[test]
    fn a_phone_outside_every_area_makes_them_unknown() {
        let mut e = resident("AF-KAB");
        e.phone = phone(None, -2, -1);
        let w = whereabouts(&e, t(0), R);
        assert_eq!(w.area, None);
        assert!(w.unknown);
        assert_eq!(w.reason, Some(Reason::Phone));
    }

    #[test]
    fn nothing_at_all_is_unknown() {
        let w = whereabouts(&Evidence::default(), t(0), R);
        assert!(w.unknown && w.flagged());
        assert_eq!((w.area, w.reason, w.as_of), (None, None, None));
    }

    #[test]
    fn a_one_way_trip_becomes_overdue() {
        let mut e = resident("AF-KAB");
        e.legs = vec![leg(1, "AF-BAL", 0, 2)];
        let limit = 2 + 14 * 24;
        let w = whereabouts(&e, t(limit), R);
        assert!(w.is_in(&a("AF-BAL")) && !w.overdue);
        let w = whereabouts(&e, t(limit + 1), R);
        assert!(w.is_in(&a("AF-BAL")) && w.overdue);
        // A return leg planned later: not overdue, whether the leg itself
        // or only its departure is known.
        e.next_departure = Some(t(limit + 100));
        assert!(!whereabouts(&e, t(limit + 1), R).overdue);
        e.next_departure = Some(t(0));
        assert!(whereabouts(&e, t(limit + 1), R).overdue);
        e.next_departure = None;
        e.legs.push(leg(2, "AF-KAB", limit + 100, limit + 102));
        assert!(!whereabouts(&e, t(limit + 1), R).overdue);
        // Back home after the last leg: never overdue.
        let home = Evidence {
            legs: vec![leg(1, "AF-BAL", 0, 2), leg(2, "AF-KAB", 10, 12)],
            ..resident("AF-KAB")
        };
        assert!(!whereabouts(&home, t(10_000), R).overdue);
        // Nobody without a duty station stays on a one-way trip unnoticed.
        let visitor = Evidence {
            legs: vec![leg(1, "AF-BAL", 0, 2)],
            ..Default::default()
        };
        assert!(whereabouts(&visitor, t(limit + 1), R).overdue);
        // A fresher phone location settles it.
        e.legs.pop();
        e.phone = phone(Some("AF-BAL"), 1, limit);
        let w = whereabouts(&e, t(limit + 1), R);
        assert_eq!(w.reason, Some(Reason::Phone));
        assert!(!w.overdue);
    }

    #[test]
    fn cancelled_and_denied_legs_are_not_evidence() {
        assert!(leg_counts(LegStatus::Acknowledged));
        assert!(leg_counts(LegStatus::Granted));
        assert!(leg_counts(LegStatus::Pending));
        assert!(leg_counts(LegStatus::Returned));
        assert!(!leg_counts(LegStatus::Cancelled));
        assert!(!leg_counts(LegStatus::Denied));
    }

    #[test]
    fn who_sees_counts_and_who_sees_people() {
        let kab = a("AF-KAB");
        let af = CountryCode::parse("AF").unwrap();
        let (mine, other) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let g = |role, scope: &str, agency| RoleGrant {
            role,
            scope: Scope::parse(scope).unwrap(),
            agency,
        };
        let sa = [g(Role::SecurityAdviser, "AF", None)];
        assert!(may_see_headcount(&sa, &kab, &af));
        assert!(may_see_whereabouts(&sa, &kab, &af, Some(other)));
        let sa_elsewhere = [g(Role::SecurityAdviser, "AF-BAL", None)];
        assert!(!may_see_headcount(&sa_elsewhere, &kab, &af));
        assert!(!may_see_whereabouts(&sa_elsewhere, &kab, &af, Some(mine)));
        let fp = [g(Role::AgencyFocalPoint, "global", Some(mine))];
        assert!(may_see_headcount(&fp, &kab, &af));
        assert!(may_see_whereabouts(&fp, &kab, &af, Some(mine)));
        assert!(!may_see_whereabouts(&fp, &kab, &af, Some(other)));
        let smt = [g(Role::SmtMember, "AF", None)];
        assert!(may_see_headcount(&smt, &kab, &af));
        assert!(!may_see_whereabouts(&smt, &kab, &af, Some(mine)));
        for role in [Role::Traveller, Role::Administrator, Role::Investigator] {
            let gs = [g(role, "global", None)];
            assert!(!may_see_headcount(&gs, &kab, &af), "{role:?}");
            assert!(!may_see_whereabouts(&gs, &kab, &af, Some(mine)));
        }
    }
}
