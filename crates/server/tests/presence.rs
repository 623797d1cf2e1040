//! Who is where over HTTP: the headcount of an area at a moment (residents,
//! dependants, travellers, phones, the overdue, the stale and the unknown),
//! and who sees counts and who sees people (role × agency × area), each view
//! of people audited. On SQLite and PostgreSQL.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{spawn_app_on, station_people, Backend, TestApp, TestUser};
use serde_json::{json, Value};
use uuid::Uuid;
use warden_domain::people::PersonnelCategory;
use warden_domain::{AreaCode, Role};
use warden_store::{AuditContext, NewAgency, ProfileInput, Store};

/// The moment every headcount here is asked for.
fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 15, 12, 0, 0).unwrap()
}
fn hours(h: i64) -> DateTime<Utc> {
    at() + Duration::hours(h)
}
fn area(code: &str) -> AreaCode {
    AreaCode::parse(code).unwrap()
}
fn ctx() -> AuditContext {
    AuditContext::system("test setup")
}

async fn trip(store: &dyn Store, who: Uuid, legs: &[(&str, i64, i64)]) {
    let legs: Vec<_> = legs
        .iter()
        .map(|(code, depart, arrive)| (*code, hours(*depart), hours(*arrive)))
        .collect();
    common::record_trip(store, who, &legs).await;
}

/// The phone of `who` reports `code` (None: outside every area) at these hours.
async fn phone(store: &dyn Store, who: Uuid, code: Option<&str>, at_hours: &[i64]) {
    let at: Vec<DateTime<Utc>> = at_hours.iter().map(|h| hours(*h)).collect();
    common::phone_reports(store, who, code, &at).await;
}

struct Population {
    undp: Uuid,
    wfp: Uuid,
}

/// Kabul at `at()`:
/// - residents R1 (UNDP), R2 (WFP) and a dependant D (UNDP);
/// - T (WFP, of Herat) arrived 10 hours ago, returns tomorrow;
/// - L (UNDP, of Kabul) left for Herat yesterday;
/// - P (UNDP, of Herat) whose phone has been in Kabul for 5 hours;
/// - O (WFP, of Herat) came on a one-way trip 30 days ago: overdue;
/// - S (UNDP, of Kabul) whose phone last reported Kabul two days ago: stale;
/// - U (WFP, of Kabul) whose phone is outside every area: unknown.
async fn populate(app: &TestApp) -> Population {
    let s = app.store.as_ref();
    let undp = s.get_agency_by_code("UNDP").await.unwrap().unwrap().id;
    let wfp = s
        .create_agency(
            &NewAgency {
                code: "WFP".into(),
                name: "World Food Programme".into(),
            },
            &ctx(),
        )
        .await
        .unwrap()
        .id;
    use PersonnelCategory::*;
    let people = [
        ("R1", undp, NationalStaff, "AF-KAB"),
        ("R2", wfp, InternationalStaff, "AF-KAB"),
        ("D", undp, Dependant, "AF-KAB"),
        ("T", wfp, Consultant, "AF-HER"),
        ("L", undp, NationalStaff, "AF-KAB"),
        ("P", undp, InternationalStaff, "AF-HER"),
        ("O", wfp, Contractor, "AF-HER"),
        ("S", undp, NationalStaff, "AF-KAB"),
        ("U", wfp, NationalStaff, "AF-KAB"),
    ];
    let ids = station_people(s, &people).await;
    trip(s, ids["T"], &[("AF-KAB", -12, -10), ("AF-HER", 24, 26)]).await;
    trip(s, ids["L"], &[("AF-HER", -26, -24)]).await;
    phone(s, ids["P"], Some("AF-KAB"), &[-5, -1]).await;
    trip(s, ids["O"], &[("AF-KAB", -30 * 24 - 2, -30 * 24)]).await;
    phone(s, ids["S"], Some("AF-KAB"), &[-100, -48]).await;
    phone(s, ids["U"], None, &[-3, -2]).await;
    Population { undp, wfp }
}

fn headcount_path(code: &str) -> String {
    format!("/api/v1/areas/{code}/headcount?at=2026-10-15T12:00:00Z")
}

fn person<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["people"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == json!(name))
        .unwrap_or_else(|| panic!("{name} not in {v}"))
}

async fn headcount(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let Population { undp, wfp } = populate(&app).await;
    let sa = app.token(&app.users.sa_af.clone()).await;

    // Before the undertaking: counts, and why the people are withheld.
    let v = app.get_as(&headcount_path("AF-KAB"), &sa).await.ok(200);
    assert!(v.get("people").is_none(), "{v}");
    assert!(v["people_withheld"]
        .as_str()
        .unwrap()
        .contains("undertaking"));
    assert_eq!(v["total"], json!(7), "{v}");
    app.accept_undertaking(&sa).await;

    let v = app.get_as(&headcount_path("AF-KAB"), &sa).await.ok(200);
    assert_eq!(v["area"], json!("AF-KAB"));
    assert_eq!(v["at"], json!("2026-10-15T12:00:00Z"));
    assert_eq!(v["total"], json!(7), "{v}");
    assert_eq!(v["away"], json!(2), "{v}");
    assert_eq!(
        v["by_reason"],
        json!({"duty_station": 3, "travel": 2, "phone": 2})
    );
    assert_eq!(
        v["flagged"],
        json!({"total": 3, "overdue": 1, "stale_location": 1, "unknown": 1})
    );
    let agency = |id: Uuid| {
        v["by_agency"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["agency"] == json!(id))
            .cloned()
            .unwrap()
    };
    let u = agency(undp);
    assert_eq!(
        (&u["agency_code"], &u["present"], &u["away"], &u["flagged"]),
        (&json!("UNDP"), &json!(4), &json!(1), &json!(1))
    );
    let w = agency(wfp);
    assert_eq!(
        (&w["agency_code"], &w["present"], &w["away"], &w["flagged"]),
        (&json!("WFP"), &json!(3), &json!(1), &json!(2))
    );
    let cat = |c: &str| {
        v["by_category"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["category"] == json!(c))
            .map(|k| (k["present"].as_i64().unwrap(), k["away"].as_i64().unwrap()))
    };
    assert_eq!(cat("national_staff"), Some((2, 2)), "R1, S; L, U");
    assert_eq!(cat("dependant"), Some((1, 0)));
    assert_eq!(cat("international_staff"), Some((2, 0)), "R2, P");
    assert_eq!(cat("consultant"), Some((1, 0)));
    assert_eq!(cat("contractor"), Some((1, 0)));

    // Each person: why we think they are there, and how fresh that is.
    assert_eq!(v["people"].as_array().unwrap().len(), 9);
    let p = person(&v, "Person R1");
    assert_eq!(
        (&p["present"], &p["reason"], &p["area"], &p["flags"]),
        (
            &json!(true),
            &json!("duty_station"),
            &json!("AF-KAB"),
            &json!([])
        )
    );
    assert!(p["as_of"].is_string());
    assert_eq!(person(&v, "Person D")["category"], json!("dependant"));
    let p = person(&v, "Person T");
    assert_eq!(
        (&p["present"], &p["reason"], &p["as_of"], &p["duty_station"]),
        (
            &json!(true),
            &json!("travel"),
            &json!("2026-10-15T02:00:00Z"),
            &json!("AF-HER")
        )
    );
    let p = person(&v, "Person L");
    assert_eq!(
        (&p["present"], &p["reason"], &p["area"], &p["flags"]),
        (
            &json!(false),
            &json!("travel"),
            &json!("AF-HER"),
            &json!([])
        )
    );
    let p = person(&v, "Person P");
    assert_eq!(
        (&p["present"], &p["reason"], &p["as_of"], &p["flags"]),
        (
            &json!(true),
            &json!("phone"),
            &json!("2026-10-15T11:00:00Z"),
            &json!([])
        )
    );
    let p = person(&v, "Person O");
    assert_eq!(
        (&p["present"], &p["reason"], &p["flags"]),
        (&json!(true), &json!("travel"), &json!(["overdue"]))
    );
    let p = person(&v, "Person S");
    assert_eq!(
        (&p["present"], &p["reason"], &p["flags"]),
        (&json!(true), &json!("phone"), &json!(["stale_location"]))
    );
    let p = person(&v, "Person U");
    assert_eq!(
        (&p["present"], &p["area"], &p["flags"]),
        (&json!(false), &Value::Null, &json!(["unknown"]))
    );

    // Herat at the same moment: L is there; T, P and O, stationed there, are away.
    let h = app.get_as(&headcount_path("AF-HER"), &sa).await.ok(200);
    assert_eq!((&h["total"], &h["away"]), (&json!(1), &json!(3)), "{h}");
    assert_eq!(person(&h, "Person L")["reason"], json!("travel"));
    assert_eq!(person(&h, "Person O")["flags"], json!(["overdue"]));
    // A day earlier, before T's arrival: not in Kabul's headcount at all,
    // present in Herat's (stationed there).
    let earlier =
        |code: &str| format!("/api/v1/areas/{code}/headcount?at=2026-10-14T12:00:00%2B00:00");
    let k = app.get_as(&earlier("AF-KAB"), &sa).await.ok(200);
    assert_eq!(k["at"], json!("2026-10-14T12:00:00Z"));
    assert!(!k.to_string().contains("Person T"), "{k}");
    let h = app.get_as(&earlier("AF-HER"), &sa).await.ok(200);
    let t = person(&h, "Person T");
    assert_eq!(
        (&t["present"], &t["reason"]),
        (&json!(true), &json!("duty_station"))
    );

    // Bad input, refused before anything is read, naming the field.
    app.get_as("/api/v1/areas/AF-KAB/headcount?at=yesterday", &sa)
        .await
        .problem(422, Some("at"));
    app.get_as("/api/v1/areas/AF-NOPE/headcount", &sa)
        .await
        .problem(404, None);
    app.get_as("/api/v1/areas/nope/headcount", &sa)
        .await
        .problem(422, None);
    app.get("/api/v1/areas/AF-KAB/headcount")
        .await
        .problem(401, None);
    app.finish().await;
}

#[tokio::test]
async fn headcount_of_an_area_sqlite() {
    headcount(Backend::Sqlite).await;
}

#[tokio::test]
async fn headcount_of_an_area_postgres() {
    headcount(Backend::Postgres).await;
}

/// Who sees what: the counts for the area's security roles; the people
/// only for the DO and security advisers (each grant limited to its agency
/// when it names one) and the focal points of the people's own agency;
/// nothing for roles elsewhere or without security duties.
async fn matrix(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let Population { undp, wfp } = populate(&app).await;
    let fp_undp = app
        .user_with(
            "fp-undp",
            Some(undp),
            &[(Role::AgencyFocalPoint, "global", Some(undp))],
        )
        .await;
    let fp_wfp = app
        .user_with(
            "fp-wfp",
            Some(wfp),
            &[(Role::AgencyFocalPoint, "AF", Some(wfp))],
        )
        .await;
    let fp_ml = app
        .user_with(
            "fp-ml",
            Some(wfp),
            &[(Role::AgencyFocalPoint, "ML", Some(wfp))],
        )
        .await;
    let sa_undp_kab = app
        .user_with(
            "sa-undp",
            Some(undp),
            &[(Role::SecurityAdviser, "AF-KAB", Some(undp))],
        )
        .await;
    let sa_her = app
        .user_with("sa-her", None, &[(Role::SecurityAdviser, "AF-HER", None)])
        .await;
    let undp_people = ["Person D", "Person L", "Person P", "Person R1", "Person S"];
    let wfp_people = ["Person O", "Person R2", "Person T", "Person U"];
    let everyone = [
        "Person D",
        "Person L",
        "Person O",
        "Person P",
        "Person R1",
        "Person R2",
        "Person S",
        "Person T",
        "Person U",
    ];
    enum Sees {
        People(Vec<&'static str>),
        Counts,
        Nothing,
    }
    let u = &app.users;
    let cases: Vec<(TestUser, Sees)> = vec![
        (u.sa_af.clone(), Sees::People(everyone.to_vec())),
        (u.do_af.clone(), Sees::People(everyone.to_vec())),
        (fp_undp, Sees::People(undp_people.to_vec())),
        (fp_wfp, Sees::People(wfp_people.to_vec())),
        (sa_undp_kab, Sees::People(undp_people.to_vec())),
        (u.smt_af.clone(), Sees::Counts),
        (u.desk_af.clone(), Sees::Counts),
        (sa_her, Sees::Nothing),
        (fp_ml, Sees::Nothing),
        (u.do_ml.clone(), Sees::Nothing),
        (u.smt_ml.clone(), Sees::Nothing),
        (u.admin.clone(), Sees::Nothing),
        (u.traveller.clone(), Sees::Nothing),
    ];
    let admin = app.token(&u.admin.clone()).await;
    let mut shown = 0;
    for (who, sees) in &cases {
        let t = app.token(who).await;
        app.accept_undertaking(&t).await;
        let r = app.get_as(&headcount_path("AF-KAB"), &t).await;
        match sees {
            Sees::People(names) => {
                let v = r.ok(200);
                assert_eq!(v["total"], json!(7), "{}: {v}", who.username);
                let mut got: Vec<&str> = v["people"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["name"].as_str().unwrap())
                    .collect();
                got.sort();
                assert_eq!(&got, names, "{}", who.username);
                shown += 1;
                // The view is on the record, with how many people were shown.
                let audit = app
                    .get_as("/api/v1/audit?action=whereabouts.view&limit=1", &admin)
                    .await
                    .ok(200);
                assert_eq!(audit["total"], json!(shown), "{audit}");
                let e = &audit["items"][0];
                assert_eq!(e["target"], json!("area:AF-KAB"));
                assert_eq!(e["actor_name"], json!(who.username));
                let detail = &e["detail"];
                assert_eq!(detail["people"], json!(names.len()), "{detail}");
            }
            Sees::Counts => {
                let v = r.ok(200);
                assert_eq!(v["total"], json!(7), "{}: {v}", who.username);
                assert_eq!(v["flagged"]["total"], json!(3));
                assert!(v.get("people").is_none(), "{}: {v}", who.username);
                assert!(v.get("people_withheld").is_none());
                let s = v.to_string();
                assert!(!s.contains("Person "), "no names for {}", who.username);
            }
            Sees::Nothing => {
                r.problem(403, None);
            }
        }
    }
    // Counts-only views and refusals wrote no whereabouts entry.
    let audit = app
        .get_as("/api/v1/audit?action=whereabouts.view&limit=100", &admin)
        .await
        .ok(200);
    assert_eq!(audit["total"], json!(5), "{audit}");
    app.finish().await;
}

#[tokio::test]
async fn who_sees_counts_and_who_sees_people_sqlite() {
    matrix(Backend::Sqlite).await;
}

#[tokio::test]
async fn who_sees_counts_and_who_sees_people_postgres() {
    matrix(Backend::Postgres).await;
}

/// Every area at once (the world presence map), an ad-hoc zone drawn as a
/// GeoJSON polygon, and an area's people as CSV: the same counts as each
/// area's own headcount, the same authority.
async fn world_zone_and_csv(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let Population { undp, wfp } = populate(&app).await;
    let sa = app.token(&app.users.sa_af.clone()).await;
    let q = "at=2026-10-15T12:00:00Z";

    // Every area: each agrees with the area's own headcount.
    let v = app
        .get_as(&format!("/api/v1/headcount?{q}"), &sa)
        .await
        .ok(200);
    assert_eq!(v["at"], json!("2026-10-15T12:00:00Z"));
    let areas = v["areas"].as_array().unwrap();
    assert!(!areas.is_empty(), "{v}");
    let mut sum = 0;
    for a in areas {
        let code = a["area"].as_str().unwrap();
        assert!(code.starts_with("AF-"), "only what the roles cover: {v}");
        let one = app.get_as(&headcount_path(code), &sa).await.ok(200);
        assert_eq!(a["present"], one["total"], "{code}: {a} vs {one}");
        sum += a["present"].as_i64().unwrap();
        assert!(a.get("people").is_none() && a.get("name").is_none());
    }
    assert_eq!(v["present"], json!(sum));
    let kab = areas.iter().find(|a| a["area"] == json!("AF-KAB")).unwrap();
    // O (overdue) and S (stale) are present; U (unknown) is placed nowhere.
    assert_eq!((&kab["present"], &kab["flagged"]), (&json!(7), &json!(2)));
    assert_eq!(kab["by_agency_restricted"], json!(false));
    assert_eq!(kab["by_agency"].as_array().unwrap().len(), 2, "{kab}");
    // One country: the same; a country the roles do not cover: refused.
    let af = app
        .get_as(&format!("/api/v1/headcount?{q}&country=AF"), &sa)
        .await
        .ok(200);
    assert_eq!(af["areas"], v["areas"]);
    app.get_as(&format!("/api/v1/headcount?{q}&country=ML"), &sa)
        .await
        .problem(403, None);
    app.get_as("/api/v1/headcount?country=Afghanistan", &sa)
        .await
        .problem(422, Some("country"));
    app.get_as("/api/v1/headcount?at=yesterday", &sa)
        .await
        .problem(422, Some("at"));
    let traveller = app.token(&app.users.traveller.clone()).await;
    app.get_as("/api/v1/headcount", &traveller)
        .await
        .problem(403, None);
    // A focal point sees the totals and only their agency's counts.
    let fp_wfp = app
        .user_with(
            "fp-wfp",
            Some(wfp),
            &[(Role::AgencyFocalPoint, "AF", Some(wfp))],
        )
        .await;
    let fp = app.token(&fp_wfp).await;
    let v = app
        .get_as(&format!("/api/v1/headcount?{q}"), &fp)
        .await
        .ok(200);
    let kab = v["areas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["area"] == json!("AF-KAB"))
        .unwrap();
    assert_eq!(kab["present"], json!(7));
    assert_eq!(kab["by_agency_restricted"], json!(true));
    assert_eq!(
        kab["by_agency"],
        json!([{"agency": wfp, "agency_code": "WFP", "present": 3, "flagged": 1}]),
        "R2, T and O (overdue)"
    );

    // A zone around Kabul city: the area it intersects, counted as one.
    let square = |lon: f64, lat: f64, d: f64| {
        json!([[
            [lon, lat],
            [lon + d, lat],
            [lon + d, lat + d],
            [lon, lat + d],
            [lon, lat]
        ]])
    };
    let zone = format!("/api/v1/headcount/polygon?{q}");
    let z = app
        .post_as(
            &zone,
            &sa,
            &json!({"type": "Polygon", "coordinates": square(69.15, 34.5, 0.05)}),
        )
        .await
        .ok(200);
    assert_eq!(z["areas"][0]["area"], json!("AF-KAB"), "{z}");
    assert_eq!(z["areas"].as_array().unwrap().len(), 1, "{z}");
    assert_eq!((&z["total"], &z["away"]), (&json!(7), &json!(2)), "{z}");
    assert_eq!(
        z["flagged"],
        json!({"total": 3, "overdue": 1, "stale_location": 1, "unknown": 1})
    );
    assert_eq!(
        z["by_reason"],
        json!({"duty_station": 3, "travel": 2, "phone": 2})
    );
    let undp_counts = z["by_agency"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agency"] == json!(undp))
        .unwrap();
    assert_eq!(undp_counts["present"], json!(4));
    // Kabul and Bamako: Bamako is not the adviser's, and is left out.
    let both = json!({"type": "MultiPolygon", "coordinates": [
        square(69.15, 34.5, 0.05), square(-8.0, 12.6, 0.05)]});
    let z = app.post_as(&zone, &sa, &both).await.ok(200);
    assert_eq!(z["total"], json!(7), "{z}");
    let withheld = z["areas_withheld"].as_array().unwrap();
    assert!(
        !withheld.is_empty()
            && withheld
                .iter()
                .all(|c| c.as_str().unwrap().starts_with("ML-")),
        "{z}"
    );
    // Bamako alone: refused; bad geometry: 422 naming the member.
    app.post_as(
        &zone,
        &sa,
        &json!({"type": "Polygon", "coordinates": square(-8.0, 12.6, 0.05)}),
    )
    .await
    .problem(403, None);
    app.post_as(
        &zone,
        &sa,
        &json!({"type": "Point", "coordinates": [69.2, 34.5]}),
    )
    .await
    .problem(422, Some("type"));
    let p = app
        .post_as(
            &zone,
            &sa,
            &json!({"type": "Polygon", "coordinates": [[[69.1, 34.5], [69.2, 34.5], [69.2, 34.6]]]}),
        )
        .await
        .problem(422, None);
    assert!(
        p["field"].as_str().unwrap().starts_with("coordinates"),
        "{p}"
    );
    app.post_as(&zone, &traveller, &both)
        .await
        .problem(403, None);

    // The CSV: the people the JSON shows, once the undertaking is accepted.
    let csv = format!("/api/v1/areas/AF-KAB/headcount.csv?{q}");
    let r = app.get_as(&csv, &sa).await;
    r.problem(403, None);
    app.accept_undertaking(&sa).await;
    let r = app.get_as(&csv, &sa).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    assert!(r.content_type().starts_with("text/csv"), "{r:?}");
    let lines: Vec<&str> = r.text.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "name,agency,category,present,area,reason,as_of,flags"
    );
    assert_eq!(lines.len(), 1 + 9 + 1, "header, nine people, final CRLF");
    assert_eq!(lines[10], "");
    assert!(
        lines.contains(&"Person O,WFP,contractor,true,AF-KAB,travel,2026-09-15T12:00:00Z,overdue"),
        "{}",
        r.text
    );
    assert!(
        lines.contains(&"Person L,UNDP,national_staff,false,AF-HER,travel,2026-10-14T12:00:00Z,"),
        "{}",
        r.text
    );
    // Counts-only roles get no CSV.
    let desk = app.token(&app.users.desk_af.clone()).await;
    app.get_as(&csv, &desk).await.problem(403, None);
    // Each CSV of people is on the record like the JSON.
    let audit = app
        .get_as(
            "/api/v1/audit?action=whereabouts.view",
            &app.token(&app.users.admin.clone()).await,
        )
        .await;
    assert!(audit.text.contains("whereabouts.view"), "{}", audit.text);
    app.finish().await;
}

#[tokio::test]
async fn every_area_a_zone_and_csv_sqlite() {
    world_zone_and_csv(Backend::Sqlite).await;
}

#[tokio::test]
async fn every_area_a_zone_and_csv_postgres() {
    world_zone_and_csv(Backend::Postgres).await;
}

/// The world answer's roll-ups: per country and per agency, the sums of the
/// areas shown, with the same authority (a focal point's agency totals only
/// of their agency; a country-scoped adviser sees no other country).
async fn world_roll_ups(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let Population { undp, wfp } = populate(&app).await;
    // And one WFP resident of Bamako.
    app.store
        .import_profiles(
            &[ProfileInput {
                agency: wfp,
                personnel_id: "M".into(),
                display_name: "Person M".into(),
                email: String::new(),
                category: PersonnelCategory::NationalStaff,
                nationality: None,
                phone: String::new(),
                duty_station: Some(area("ML-BKO")),
                emergency_contacts: vec![],
                certificates: vec![],
            }],
            &ctx(),
        )
        .await
        .unwrap();
    let q = "at=2026-10-15T12:00:00Z";
    let sums = |v: &Value| {
        // (country, areas, present, flagged) and (agency, present, flagged)
        // summed from the areas themselves.
        let mut c = std::collections::BTreeMap::<String, (i64, i64, i64)>::new();
        let mut a = std::collections::BTreeMap::<String, (i64, i64)>::new();
        for area in v["areas"].as_array().unwrap() {
            let e = c
                .entry(area["country"].as_str().unwrap().into())
                .or_default();
            e.0 += 1;
            e.1 += area["present"].as_i64().unwrap();
            e.2 += area["flagged"].as_i64().unwrap();
            for g in area["by_agency"].as_array().unwrap() {
                let e = a.entry(g["agency"].to_string()).or_default();
                e.0 += g["present"].as_i64().unwrap();
                e.1 += g["flagged"].as_i64().unwrap();
            }
        }
        let c: Vec<Value> = c
            .into_iter()
            .map(|(k, (n, p, f))| json!({"country": k, "areas": n, "present": p, "flagged": f}))
            .collect();
        (json!(c), a)
    };

    // An adviser of every country: Kabul 7 (S stale, O overdue), Herat 1
    // (L), Bamako 1 (M).
    let global = app
        .user_with(
            "sa-global",
            None,
            &[(Role::SecurityAdviser, "global", None)],
        )
        .await;
    let t = app.token(&global).await;
    let v = app
        .get_as(&format!("/api/v1/headcount?{q}"), &t)
        .await
        .ok(200);
    assert_eq!(
        v["by_country"],
        json!([
            {"country": "AF", "areas": 2, "present": 8, "flagged": 2},
            {"country": "ML", "areas": 1, "present": 1, "flagged": 0}
        ]),
        "{v}"
    );
    assert_eq!(v["by_country"], sums(&v).0);
    let mut expected = vec![
        (
            undp,
            json!({"agency": undp, "agency_code": "UNDP", "present": 5, "flagged": 1}),
        ),
        (
            wfp,
            json!({"agency": wfp, "agency_code": "WFP", "present": 4, "flagged": 1}),
        ),
    ];
    expected.sort_by_key(|(id, _)| *id);
    let expected: Vec<Value> = expected.into_iter().map(|(_, v)| v).collect();
    assert_eq!(v["by_agency"], json!(expected), "{v}");
    assert_eq!(v["by_agency_restricted"], json!(false));
    assert_eq!(v["present"], json!(9));
    // One country: its roll-up only.
    let ml = app
        .get_as(&format!("/api/v1/headcount?{q}&country=ML"), &t)
        .await
        .ok(200);
    assert_eq!(
        ml["by_country"],
        json!([{"country": "ML", "areas": 1, "present": 1, "flagged": 0}])
    );
    assert_eq!(
        ml["by_agency"],
        json!([{"agency": wfp, "agency_code": "WFP", "present": 1, "flagged": 0}])
    );

    // The adviser for Afghanistan: Mali is not theirs.
    let sa = app.token(&app.users.sa_af.clone()).await;
    let v = app
        .get_as(&format!("/api/v1/headcount?{q}"), &sa)
        .await
        .ok(200);
    assert_eq!(
        v["by_country"],
        json!([{"country": "AF", "areas": 2, "present": 8, "flagged": 2}])
    );
    let (_, agencies) = sums(&v);
    assert_eq!(agencies.values().map(|a| a.0).sum::<i64>(), 8);

    // A WFP focal point for Afghanistan: every count of the areas, but the
    // agency totals of WFP only.
    let fp_wfp = app
        .user_with(
            "fp-wfp-rollup",
            Some(wfp),
            &[(Role::AgencyFocalPoint, "AF", Some(wfp))],
        )
        .await;
    let fp = app.token(&fp_wfp).await;
    let v = app
        .get_as(&format!("/api/v1/headcount?{q}"), &fp)
        .await
        .ok(200);
    assert_eq!(
        v["by_country"],
        json!([{"country": "AF", "areas": 2, "present": 8, "flagged": 2}])
    );
    assert_eq!(
        v["by_agency"],
        json!([{"agency": wfp, "agency_code": "WFP", "present": 3, "flagged": 1}]),
        "R2, T and O"
    );
    assert_eq!(v["by_agency_restricted"], json!(true));
    app.finish().await;
}

#[tokio::test]
async fn world_roll_ups_sqlite() {
    world_roll_ups(Backend::Sqlite).await;
}

#[tokio::test]
async fn world_roll_ups_postgres() {
    world_roll_ups(Backend::Postgres).await;
}
