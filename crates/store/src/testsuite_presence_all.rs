//! Who is where, every area at once, in the conformance suite: the evidence
//! of everyone, grouped by the area the rules place them in, agrees with the
//! per-area candidates for every area and every moment.

use crate::testsuite::sys;
use crate::testsuite_presence::candidates_come_with_their_evidence;
use crate::*;
use chrono::{Duration, TimeZone};
use std::collections::BTreeMap;
use warden_domain::people::PersonnelCategory;
use warden_domain::presence::{whereabouts, PresenceRules};
use warden_domain::trip::TripPurpose;

pub async fn run_all<S: Store, F, Fut>(fresh: &F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = S>,
{
    every_area_at_once_agrees_with_each_area(&fresh().await).await;
}

fn code(s: &str) -> AreaCode {
    AreaCode::parse(s).unwrap()
}

/// Hours from the day of `testsuite_presence`.
fn h(hours: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap() + Duration::hours(hours)
}

/// Per area: (present, flagged among present, present by agency).
type Counts = BTreeMap<AreaCode, (i64, i64, BTreeMap<Option<Uuid>, i64>)>;

fn count(list: &[PresenceCandidate], at: DateTime<Utc>, only: Option<&AreaCode>) -> Counts {
    let rules = PresenceRules::default();
    let mut out = Counts::new();
    for c in list {
        let w = whereabouts(&c.evidence, at, rules);
        let Some(area) = w.area.clone() else { continue };
        if only.is_some_and(|o| o != &area) {
            continue;
        }
        let e = out.entry(area).or_default();
        e.0 += 1;
        e.1 += i64::from(w.flagged());
        *e.2.entry(c.agency).or_default() += 1;
    }
    out
}

pub async fn every_area_at_once_agrees_with_each_area(s: &dyn Store) {
    // The population of the per-area test (Kabul and Herat, UNICEF)...
    candidates_come_with_their_evidence(s).await;
    // ...and another agency in Mali, one of whose people travels to Kabul
    // and one on a one-way trip to Herat (overdue later).
    let wfp = s
        .create_agency(
            &NewAgency {
                code: "WFP".into(),
                name: "World Food Programme".into(),
            },
            &sys(),
        )
        .await
        .unwrap();
    let row = |id: &str| ProfileInput {
        agency: wfp.id,
        personnel_id: id.into(),
        display_name: format!("W{id}"),
        email: String::new(),
        category: PersonnelCategory::NationalStaff,
        nationality: None,
        phone: String::new(),
        duty_station: Some(code("ML-BKO")),
        emergency_contacts: vec![],
        certificates: vec![],
    };
    s.import_profiles(&[row("1"), row("2"), row("3")], &sys())
        .await
        .unwrap();
    let ids: Vec<String> = ["1", "2", "3"].iter().map(|s| s.to_string()).collect();
    let users = s.profile_users(wfp.id, &ids).await.unwrap();
    let leg = |area: &str, depart: i64, arrive: i64| NewLeg {
        origin: "somewhere".into(),
        destination: format!("{area} destination"),
        area: code(area),
        depart: h(depart),
        arrive: h(arrive),
        depart_tz: None,
        arrive_tz: None,
        carrier: None,
    };
    let trip = |who: Uuid, legs: Vec<NewLeg>| NewTravelRequest {
        traveller: who,
        submitted_by: who,
        purpose: TripPurpose::Official,
        ta_number: None,
        legs,
    };
    s.create_travel_request(
        &trip(
            users["2"],
            vec![leg("AF-KAB", 60, 62), leg("ML-BKO", 120, 130)],
        ),
        &sys(),
    )
    .await
    .unwrap();
    s.create_travel_request(&trip(users["3"], vec![leg("AF-HER", 30, 40)]), &sys())
        .await
        .unwrap();

    let areas = [code("AF-KAB"), code("AF-HER"), code("ML-BKO")];
    let af = CountryCode::parse("AF").unwrap();
    let mut seen_present = 0;
    for hour in [
        -10, 0, 11, 21, 35, 51, 61, 91, 100, 125, 131, 160, 201, 1000,
    ] {
        let at = h(hour);
        let everyone = s.presence_everyone(at, None).await.unwrap();
        // Ordered by user id, each person once.
        assert!(everyone.windows(2).all(|w| w[0].user < w[1].user));
        let world = count(&everyone, at, None);
        // Each area's own query gives the same counts.
        let mut summed = Counts::new();
        for a in &areas {
            let one = s.presence_candidates(a, at).await.unwrap();
            summed.extend(count(&one, at, Some(a)));
        }
        assert_eq!(world, summed, "at hour {hour}");
        seen_present += world.values().map(|c| c.0).sum::<i64>();
        // One country: the same counts for its areas, none of others.
        let in_af = s.presence_everyone(at, Some(&af)).await.unwrap();
        let af_counts = count(&in_af, at, None);
        let expected: Counts = world
            .iter()
            .filter(|(a, _)| a.country() == af)
            .map(|(a, c)| (a.clone(), c.clone()))
            .collect();
        assert_eq!(af_counts, expected, "AF at hour {hour}");
    }
    assert!(seen_present > 0);
    // At hour 61 the WFP traveller is counted in Kabul, not Bamako; by hour
    // 1000 the one-way traveller in Herat is overdue.
    let at = h(61);
    let world = count(&s.presence_everyone(at, None).await.unwrap(), at, None);
    assert_eq!(
        world[&code("AF-KAB")].2.get(&Some(wfp.id)),
        None,
        "in transit"
    );
    let at = h(63);
    let world = count(&s.presence_everyone(at, None).await.unwrap(), at, None);
    assert_eq!(world[&code("AF-KAB")].2[&Some(wfp.id)], 1);
    assert_eq!(world[&code("ML-BKO")].0, 1, "W3 went to Herat");
    let at = h(1000);
    let world = count(&s.presence_everyone(at, None).await.unwrap(), at, None);
    assert!(world[&code("AF-HER")].1 >= 1, "overdue counted as flagged");
    // Mali at the start: only the WFP people stationed there.
    let empty = s
        .presence_everyone(h(0), Some(&CountryCode::parse("ML").unwrap()))
        .await
        .unwrap();
    assert!(empty.iter().all(|c| c.agency == Some(wfp.id)));
}
