//! Who is where, in the conformance suite: the candidates of an area at a
//! moment, each with their evidence.

use crate::testsuite::{seed_geo, sys};
use crate::*;
use chrono::{Duration, TimeZone};
use warden_domain::eta::LocationReport;
use warden_domain::people::PersonnelCategory;
use warden_domain::presence::{whereabouts, LegEvidence, PhoneEvidence, PresenceRules, Reason};
use warden_domain::trip::{ClearanceDecision, LegStatus, TripPurpose};

pub async fn run_all<S: Store, F, Fut>(fresh: &F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = S>,
{
    candidates_come_with_their_evidence(&fresh().await).await;
}

fn kab() -> AreaCode {
    AreaCode::parse("AF-KAB").unwrap()
}
fn her() -> AreaCode {
    AreaCode::parse("AF-HER").unwrap()
}

/// Hours from a fixed day, microsecond precision.
fn h(hours: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap() + Duration::hours(hours)
}

fn leg(area: AreaCode, depart: i64, arrive: i64) -> NewLeg {
    NewLeg {
        origin: "somewhere".into(),
        destination: format!("{area} destination"),
        area,
        depart: h(depart),
        arrive: h(arrive),
        depart_tz: None,
        arrive_tz: None,
        carrier: None,
    }
}

async fn trip(s: &dyn Store, who: Uuid, legs: Vec<NewLeg>) -> TravelRequest {
    s.create_travel_request(
        &NewTravelRequest {
            traveller: who,
            submitted_by: who,
            purpose: TripPurpose::Official,
            ta_number: None,
            legs,
        },
        &sys(),
    )
    .await
    .unwrap()
}

pub async fn candidates_come_with_their_evidence(s: &dyn Store) {
    seed_geo(s).await;
    let agency = s
        .create_agency(
            &NewAgency {
                code: "UNICEF".into(),
                name: "United Nations Children's Fund".into(),
            },
            &sys(),
        )
        .await
        .unwrap();
    let row = |id: &str, category, station: Option<AreaCode>| ProfileInput {
        agency: agency.id,
        personnel_id: id.into(),
        display_name: format!("P{id}"),
        email: String::new(),
        category,
        nationality: None,
        phone: String::new(),
        duty_station: station,
        emergency_contacts: vec![],
        certificates: vec![],
    };
    use PersonnelCategory::*;
    s.import_profiles(
        &[
            row("1-resident", NationalStaff, Some(kab())),
            row("2-dependant", Dependant, Some(kab())),
            row("3-visitor", InternationalStaff, Some(her())),
            row("4-leaver", NationalStaff, Some(kab())),
            row("5-phone", Consultant, Some(her())),
            row("6-cancelled", Consultant, Some(her())),
            row("7-elsewhere", NationalStaff, Some(her())),
            row("8-passed", InternationalStaff, Some(her())),
            row("9-later-phone", NationalStaff, Some(her())),
        ],
        &sys(),
    )
    .await
    .unwrap();
    let ids: Vec<String> = [
        "1-resident",
        "2-dependant",
        "3-visitor",
        "4-leaver",
        "5-phone",
        "6-cancelled",
        "7-elsewhere",
        "8-passed",
        "9-later-phone",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let users = s.profile_users(agency.id, &ids).await.unwrap();
    let u = |id: &str| users[id];
    let at = h(100);

    // A visitor arrived in Kabul, with a return leg after the moment.
    let visit = trip(
        s,
        u("3-visitor"),
        vec![leg(kab(), 10, 12), leg(her(), 200, 202)],
    )
    .await;
    // A resident who left for Herat before the moment.
    trip(s, u("4-leaver"), vec![leg(her(), 50, 52)]).await;
    // A denied leg into Kabul is no evidence (a cancelled one likewise).
    let (kab_code, audit) = (kab(), sys());
    let mode = |m| s.set_processing_mode(&kab_code, m, u("1-resident"), "test", &audit);
    mode(warden_domain::trip::ProcessingMode::Manual)
        .await
        .unwrap();
    let denied = trip(s, u("6-cancelled"), vec![leg(kab(), 10, 12)]).await;
    mode(warden_domain::trip::ProcessingMode::Automatic)
        .await
        .unwrap();
    s.decide_leg(
        &LegDecision {
            request: denied.id,
            seq: 1,
            decision: ClearanceDecision::Deny,
            grounds: vec![warden_domain::trip::DenialGround::SecuritySituation],
            comment: "no".into(),
            actor: u("1-resident"),
        },
        LegStatus::Denied,
        &sys(),
    )
    .await
    .unwrap();
    // Someone who passed through Kabul and went on.
    trip(
        s,
        u("8-passed"),
        vec![leg(kab(), 10, 12), leg(her(), 20, 22)],
    )
    .await;
    // A phone in Kabul since before the moment; one that got there after.
    let phone_of = |user: Uuid, token: &'static str| async move {
        s.create_device(
            &NewDevice {
                user,
                name: "phone".into(),
                platform: "owntracks".into(),
                token_digest: format!("digest-{token}"),
            },
            &sys(),
        )
        .await
        .unwrap()
    };
    let report = |d: &Device, t: DateTime<Utc>, area: AreaCode| LocationBatch {
        device: d.id,
        user: d.user,
        reports: vec![ResolvedReport {
            report: LocationReport {
                lat: 34.5,
                lon: 69.2,
                accuracy_m: None,
                recorded_at: t,
            },
            area: Some(area),
        }],
        received_at: t,
    };
    let d5 = phone_of(u("5-phone"), "p5").await;
    s.ingest_locations(&report(&d5, h(90), kab()))
        .await
        .unwrap();
    let d9 = phone_of(u("9-later-phone"), "p9").await;
    s.ingest_locations(&report(&d9, h(150), kab()))
        .await
        .unwrap();

    let list = s.presence_candidates(&kab(), at).await.unwrap();
    let by_name = |n: &str| list.iter().find(|c| c.name == n);
    let names: Vec<&str> = list.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "P1-resident",
            "P2-dependant",
            "P3-visitor",
            "P4-leaver",
            "P5-phone"
        ],
        "stationed, travelled in, phone there; ordered by name"
    );
    assert!(
        by_name("P6-cancelled").is_none(),
        "a denied leg places nobody"
    );
    assert!(by_name("P8-passed").is_none(), "a later leg took them on");
    assert!(
        by_name("P9-later-phone").is_none(),
        "arrived after the moment"
    );

    let resident = by_name("P1-resident").unwrap();
    assert_eq!(resident.user, u("1-resident"));
    assert_eq!(resident.agency, Some(agency.id));
    assert_eq!(resident.agency_code.as_deref(), Some("UNICEF"));
    assert_eq!(resident.category, Some(NationalStaff));
    assert_eq!(resident.evidence.duty_station, Some(kab()));
    let profile = s.get_profile(u("1-resident")).await.unwrap().unwrap();
    assert_eq!(resident.evidence.duty_station_at, Some(profile.updated_at));
    assert!(resident.evidence.legs.is_empty() && resident.evidence.phone.is_none());
    assert_eq!(by_name("P2-dependant").unwrap().category, Some(Dependant));

    // The visitor: the leg that brought them, and when their stay ends (the
    // next leg's departure).
    let visitor = by_name("P3-visitor").unwrap();
    assert_eq!(
        visitor.evidence.legs,
        [LegEvidence {
            request: visit.id,
            seq: 1,
            area: kab(),
            depart: h(10),
            arrive: h(12)
        }]
    );
    assert_eq!(visitor.evidence.next_departure, Some(h(200)));
    let leaver = by_name("P4-leaver").unwrap();
    assert_eq!(leaver.evidence.legs.len(), 1);
    assert_eq!(leaver.evidence.legs[0].area, her());

    let phone = by_name("P5-phone").unwrap();
    let last = s.last_location(u("5-phone")).await.unwrap().unwrap();
    assert_eq!(
        phone.evidence.phone,
        Some(PhoneEvidence {
            area: Some(kab()),
            since: last.since,
            reported_at: last.reported_at
        })
    );
    assert_eq!(phone.evidence.duty_station, Some(her()));

    // The rules decide from that evidence.
    let rules = PresenceRules::default();
    let present: Vec<&str> = list
        .iter()
        .filter(|c| whereabouts(&c.evidence, at, rules).is_in(&kab()))
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        present,
        ["P1-resident", "P2-dependant", "P3-visitor", "P5-phone"]
    );
    assert_eq!(
        whereabouts(&phone.evidence, at, rules).reason,
        Some(Reason::Phone)
    );

    // Herat at the same moment: its residents, the leaver, the one who
    // passed through.
    let herat: Vec<String> = s
        .presence_candidates(&her(), at)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    for n in ["P4-leaver", "P5-phone", "P7-elsewhere", "P8-passed"] {
        assert!(herat.iter().any(|h| h == n), "{n} in {herat:?}");
    }
    // An area nobody is in.
    let bko = AreaCode::parse("ML-BKO").unwrap();
    assert!(s.presence_candidates(&bko, at).await.unwrap().is_empty());
}
