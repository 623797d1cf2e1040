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
    presence_matches_the_rule_on_all_evidence(&fresh().await).await;
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

/// Per area and agency: (agency code, present, flagged).
type ByAgency = BTreeMap<(AreaCode, Option<Uuid>), (Option<String>, i64, i64)>;

/// Every area's counts from the store's aggregate agree with the rule
/// applied to everyone's evidence, per area and agency, under `rules`.
async fn counts_agree(s: &dyn Store, at: DateTime<Utc>, rules: PresenceRules, what: &str) {
    let everyone = s.presence_everyone(at, None).await.unwrap();
    let mut expected = ByAgency::new();
    for c in &everyone {
        let w = whereabouts(&c.evidence, at, rules);
        let Some(area) = w.area.clone() else { continue };
        let e = expected
            .entry((area, c.agency))
            .or_insert((c.agency_code.clone(), 0, 0));
        e.1 += 1;
        e.2 += i64::from(w.flagged());
    }
    let counts = s.presence_counts(at, rules).await.unwrap();
    // Ordered by area, then agency.
    assert!(counts
        .windows(2)
        .all(|w| (&w[0].area, w[0].agency) < (&w[1].area, w[1].agency)));
    let got: ByAgency = counts
        .into_iter()
        .map(|c| ((c.area, c.agency), (c.agency_code, c.present, c.flagged)))
        .collect();
    assert_eq!(got, expected, "{what}: counts at {at}");
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
        counts_agree(s, at, PresenceRules::default(), "small").await;
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

/// A small deterministic generator (xorshift64*), so that a failure can be
/// replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Travel authorisations applied as an ERP import does: one batch per
/// agency, or with `Whole` one load per agency in batches of two.
async fn apply_tas(s: &dyn Store, tas: &[(Uuid, TravelAuthorisation)], mode: TaLoadMode) {
    let agencies: std::collections::BTreeSet<Uuid> = tas.iter().map(|(a, _)| *a).collect();
    for agency in agencies {
        let batch: Vec<TravelAuthorisation> = tas
            .iter()
            .filter(|(a, _)| *a == agency)
            .map(|(_, t)| t.clone())
            .collect();
        match mode {
            TaLoadMode::Batches => {
                s.apply_travel_authorisations(agency, batch[0].traveller, &batch, &sys())
                    .await
                    .unwrap();
            }
            TaLoadMode::Whole => {
                let mut load = s
                    .begin_ta_load(agency, batch[0].traveller, mode, &sys())
                    .await
                    .unwrap();
                for two in batch.chunks(2) {
                    load.apply(two).await.unwrap();
                }
                // A TA sent again later in the same load finds itself.
                let again = load.apply(&batch[..1]).await.unwrap();
                assert_eq!(again[0].outcome, TaOutcome::Unchanged);
                load.finish().await.unwrap();
            }
        }
    }
}

/// Everything the store holds about one person, read through the ordinary
/// reads (profile, every trip with every leg, last location), not through
/// the presence queries: the evidence the rule is applied to in full.
async fn full_evidence(s: &dyn Store, user: Uuid) -> warden_domain::presence::Evidence {
    use warden_domain::presence::{leg_counts, Evidence, LegEvidence, PhoneEvidence};
    let profile = s.get_profile(user).await.unwrap();
    let mut legs = vec![];
    let trips = s
        .list_travel_requests(
            user,
            &PageRequest {
                limit: 1000,
                offset: 0,
            },
        )
        .await
        .unwrap();
    for t in trips.items {
        assert_eq!(t.traveller, user);
        for l in t.legs.into_iter().filter(|l| leg_counts(l.status)) {
            legs.push(LegEvidence {
                request: t.id,
                seq: l.seq,
                area: l.area,
                depart: l.depart,
                arrive: l.arrive,
            });
        }
    }
    // Ties are settled as the stores order them: the last of equals wins.
    crate::sort_legs(&mut legs);
    Evidence {
        duty_station: profile.as_ref().and_then(|p| p.duty_station.clone()),
        duty_station_at: profile.as_ref().map(|p| p.updated_at),
        legs,
        next_departure: None,
        phone: s.last_location(user).await.unwrap().map(|l| PhoneEvidence {
            area: l.area,
            since: l.since,
            reported_at: l.reported_at,
        }),
    }
}

/// A varied random population (people stationed anywhere or nowhere, with
/// no profile, trips of one to three legs in every status, overlapping
/// trips, legs departing at the same moment, trips changed, cancelled and
/// handed to another traveller through the ERP path, phones in and out of
/// areas, people with nothing at all): at many moments, every area's
/// candidates and everyone's evidence (all, and by country) place each
/// person exactly where the rule applied to all their evidence does.
pub async fn presence_matches_the_rule_on_all_evidence(s: &dyn Store) {
    presence_matches_the_rule_with(s, TaLoadMode::Batches).await;
}

/// As `presence_matches_the_rule_on_all_evidence`, the travel
/// authorisations written by whole loads (`TaLoadMode::Whole`) of several
/// batches each, a first load and later ones.
pub async fn presence_matches_the_rule_after_whole_loads(s: &dyn Store) {
    presence_matches_the_rule_with(s, TaLoadMode::Whole).await;
}

async fn presence_matches_the_rule_with(s: &dyn Store, mode: TaLoadMode) {
    use warden_domain::presence::Whereabouts;
    use warden_domain::trip::{ClearanceDecision, DenialGround, LegStatus, ProcessingMode};
    crate::testsuite::seed_geo(s).await;
    let areas = [code("AF-KAB"), code("AF-HER"), code("ML-BKO")];
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let agencies = [
        s.create_agency(
            &NewAgency {
                code: "UNHCR".into(),
                name: "UNHCR".into(),
            },
            &sys(),
        )
        .await
        .unwrap(),
        s.create_agency(
            &NewAgency {
                code: "WHO".into(),
                name: "WHO".into(),
            },
            &sys(),
        )
        .await
        .unwrap(),
    ];
    // Herat decides by clearance: its legs start pending.
    let actor = crate::testsuite::user(s, "decider", vec![]).await.id;
    s.set_processing_mode(&areas[1], ProcessingMode::Manual, actor, "test", &sys())
        .await
        .unwrap();

    // People: most with a profile (a tenth stationed nowhere), some users
    // without one.
    let n = 48;
    let mut rows = vec![];
    for i in 0..n {
        rows.push(ProfileInput {
            agency: agencies[i % 2].id,
            personnel_id: format!("R{i:02}"),
            display_name: format!("Random {i:02}"),
            email: String::new(),
            category: PersonnelCategory::NationalStaff,
            nationality: None,
            phone: String::new(),
            duty_station: if rng.chance(10) {
                None
            } else {
                Some(areas[rng.below(3) as usize].clone())
            },
            emergency_contacts: vec![],
            certificates: vec![],
        });
    }
    s.import_profiles(&rows, &sys()).await.unwrap();
    let mut people = vec![];
    for a in &agencies {
        let ids: Vec<String> = rows
            .iter()
            .filter(|r| r.agency == a.id)
            .map(|r| r.personnel_id.clone())
            .collect();
        people.extend(s.profile_users(a.id, &ids).await.unwrap().into_values());
    }
    for i in 0..8 {
        people.push(
            crate::testsuite::user(s, &format!("noprofile{i}"), vec![])
                .await
                .id,
        );
    }
    people.sort();

    let leg = |area: &AreaCode, depart: i64, arrive: i64| NewLeg {
        origin: "somewhere".into(),
        destination: format!("{area}"),
        area: area.clone(),
        depart: h(depart),
        arrive: h(arrive),
        depart_tz: None,
        arrive_tz: None,
        carrier: None,
    };
    // Departures fall on a coarse grid, so that trips overlap and some legs
    // of different trips depart (or even arrive) at the same moment.
    let random_legs = |rng: &mut Rng| {
        let mut t = rng.below(40) as i64 * 6;
        let mut legs = vec![];
        for _ in 0..=rng.below(3) {
            let took = [0, 3, 6, 30][rng.below(4) as usize];
            legs.push(leg(&areas[rng.below(3) as usize], t, t + took));
            // Gaps from none to a month, so that stays of many lengths
            // (many stay classes) cover the moments.
            t += took + [0, 6, 24, 96, 720][rng.below(5) as usize];
        }
        legs
    };
    let mut requests = vec![];
    let mut ta = 0;
    let mut tas: Vec<(Uuid, TravelAuthorisation)> = vec![];
    let mut applied = 0;
    for &p in &people {
        if rng.chance(12) {
            continue; // nothing but a profile, or nothing at all
        }
        for _ in 0..rng.below(4) {
            let legs = random_legs(&mut rng);
            if rng.chance(if mode == TaLoadMode::Whole { 90 } else { 25 }) {
                // From an ERP, as a travel authorisation.
                ta += 1;
                let agency = agencies[ta % 2].id;
                let t = TravelAuthorisation {
                    ta_number: format!("TA-{ta}"),
                    traveller: p,
                    purpose: TripPurpose::Official,
                    cancelled: false,
                    legs,
                };
                tas.push((agency, t));
                // Applied in batches of a few, some with several of one
                // traveller's, as an ERP import does; whole loads take
                // them all at the end, large against what is stored.
                if mode == TaLoadMode::Batches && tas.len() - applied >= 5 {
                    apply_tas(s, &tas[applied..], mode).await;
                    applied = tas.len();
                }
            } else {
                let r = s
                    .create_travel_request(
                        &NewTravelRequest {
                            traveller: p,
                            submitted_by: p,
                            purpose: TripPurpose::Official,
                            ta_number: None,
                            legs,
                        },
                        &sys(),
                    )
                    .await
                    .unwrap();
                requests.push(r);
            }
        }
    }
    apply_tas(s, &tas[applied..], mode).await;
    // Decisions on the pending legs: granted, denied, returned (and some of
    // those answered), or left pending.
    for r in &requests {
        for l in r.legs.iter().filter(|l| l.status == LegStatus::Pending) {
            let (decision, to) = match rng.below(4) {
                0 => (ClearanceDecision::Grant, LegStatus::Granted),
                1 => (ClearanceDecision::Deny, LegStatus::Denied),
                2 => (ClearanceDecision::Return, LegStatus::Returned),
                _ => continue,
            };
            s.decide_leg(
                &LegDecision {
                    request: r.id,
                    seq: l.seq,
                    decision,
                    grounds: vec![DenialGround::SecuritySituation],
                    comment: "decided".into(),
                    actor,
                },
                to,
                &sys(),
            )
            .await
            .unwrap();
            if to == LegStatus::Returned && rng.chance(50) {
                s.answer_leg(r.id, l.seq, "here it is", &sys())
                    .await
                    .unwrap();
            }
        }
    }
    // Travel authorisations changed afterwards: new times and places, another
    // traveller, or cancelled. Whole loads change every one, in one load
    // per agency: large enough to set the indexes aside part of the way.
    let mut changed = vec![];
    let kinds = match mode {
        TaLoadMode::Batches => 4,
        TaLoadMode::Whole => 3,
    };
    for (agency, t) in tas.iter_mut() {
        match rng.below(kinds) {
            0 => t.legs = random_legs(&mut rng),
            1 => t.traveller = people[rng.below(people.len() as u64) as usize],
            2 => t.cancelled = true,
            _ => continue,
        }
        changed.push((*agency, t.clone()));
    }
    let per_load = match mode {
        TaLoadMode::Batches => 4,
        TaLoadMode::Whole => changed.len().max(1),
    };
    for batch in changed.chunks(per_load) {
        apply_tas(s, batch, mode).await;
    }
    // Phones: a few reports each, in an area or outside every area.
    for (i, &p) in people.iter().enumerate() {
        if !rng.chance(40) {
            continue;
        }
        let d = s
            .create_device(
                &NewDevice {
                    user: p,
                    name: "phone".into(),
                    platform: "web".into(),
                    token_digest: format!("random-digest-{i}"),
                },
                &sys(),
            )
            .await
            .unwrap();
        let mut t = rng.below(200) as i64;
        for _ in 0..=rng.below(3) {
            let area = if rng.chance(15) {
                None
            } else {
                Some(areas[rng.below(3) as usize].clone())
            };
            s.ingest_locations(&LocationBatch {
                device: d.id,
                user: p,
                reports: vec![ResolvedReport {
                    report: warden_domain::eta::LocationReport {
                        lat: 0.0,
                        lon: 0.0,
                        accuracy_m: None,
                        recorded_at: h(t),
                    },
                    area,
                }],
                received_at: h(t),
            })
            .await
            .unwrap();
            t += [1, 6, 30][rng.below(3) as usize];
        }
    }

    let mut evidence = BTreeMap::new();
    for &p in &people {
        evidence.insert(p, full_evidence(s, p).await);
    }
    let rules = PresenceRules::default();
    let af = CountryCode::parse("AF").unwrap();
    let (mut placed, mut travel, mut phone, mut flagged) = (0, 0, 0, 0);
    for hour in [
        -1, 0, 3, 6, 30, 60, 61, 90, 120, 150, 200, 240, 300, 400, 700, 1000, 2000,
    ] {
        let at = h(hour);
        let expected: BTreeMap<Uuid, Whereabouts> = evidence
            .iter()
            .map(|(p, e)| (*p, whereabouts(e, at, rules)))
            .collect();
        for w in expected.values() {
            placed += i64::from(w.area.is_some());
            travel += i64::from(w.reason == Some(warden_domain::presence::Reason::Travel));
            phone += i64::from(w.reason == Some(warden_domain::presence::Reason::Phone));
            flagged += i64::from(w.flagged());
        }
        // Every area: its candidates are decided as on all the evidence, and
        // everyone the rule places there or stationed there is among them.
        for a in &areas {
            let cands = s.presence_candidates(a, at).await.unwrap();
            for c in &cands {
                assert_eq!(
                    whereabouts(&c.evidence, at, rules),
                    expected[&c.user],
                    "{a} at hour {hour}: {} from {:?}, all evidence {:?}",
                    c.name,
                    c.evidence,
                    evidence[&c.user]
                );
            }
            for (p, w) in &expected {
                let stationed = evidence[p].duty_station.as_ref() == Some(a);
                if w.is_in(a) || stationed {
                    assert!(
                        cands.iter().any(|c| c.user == *p),
                        "{a} at hour {hour}: {p} missing ({w:?}, {:?})",
                        evidence[p]
                    );
                }
            }
        }
        // Everyone at once: each person with evidence once, decided alike.
        let everyone = s.presence_everyone(at, None).await.unwrap();
        assert!(everyone.windows(2).all(|w| w[0].user < w[1].user));
        for c in &everyone {
            assert_eq!(
                whereabouts(&c.evidence, at, rules),
                expected[&c.user],
                "everyone at hour {hour}: {}",
                c.name
            );
        }
        for (p, w) in &expected {
            if w.area.is_some() {
                assert!(
                    everyone.iter().any(|c| c.user == *p),
                    "everyone at hour {hour}: {p} missing"
                );
            }
        }
        // Every area's counts in one aggregate: the same, under the default
        // thresholds and under tight ones (more flagged).
        counts_agree(s, at, rules, "random").await;
        let tight = PresenceRules {
            fresh_hours: 2,
            overdue_days: 1,
        };
        counts_agree(s, at, tight, "random, tight thresholds").await;
        // One country: everyone the rule places there, decided alike.
        let in_af = s.presence_everyone(at, Some(&af)).await.unwrap();
        for c in &in_af {
            assert_eq!(whereabouts(&c.evidence, at, rules), expected[&c.user]);
        }
        for (p, w) in &expected {
            if w.area.as_ref().is_some_and(|a| a.country() == af) {
                assert!(
                    in_af.iter().any(|c| c.user == *p),
                    "AF at hour {hour}: {p} missing"
                );
            }
        }
    }
    // The population exercised every branch of the rule.
    assert!(placed > 100 && travel > 20 && phone > 10 && flagged > 5);
}
