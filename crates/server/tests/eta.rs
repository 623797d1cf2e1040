//! eTA over HTTP: devices enrolled after TOTP, OwnTracks messages and our own
//! batches resolved to areas, no coordinates outside tracking, tracking
//! authorised by the DO and overseen, who may see positions (role × agency ×
//! area, with the undertaking), freezes and the purge, deletion on request,
//! geo-alerts reaching phones and published as CAP 1.2, "are you safe?".

mod common;

use chrono::{Duration, Utc};
use common::{spawn_app_on, Backend, TestApp, TestUser};
use reqwest::Method;
use serde_json::{json, Value};
use warden_domain::eta::{LocationReport, TrackingRequest};
use warden_domain::{AreaCode, Role};
use warden_store::{AuditContext, LocationBatch, NewTracking, ResolvedReport};

/// Kabul city centre, in AF-KAB.
const KABUL: (f64, f64) = (34.5281, 69.1723);
/// Herat city, in AF-HER.
const HERAT: (f64, f64) = (34.3482, 62.1997);

/// Enrols a phone for `u` with the next TOTP step (the current one may
/// have been used to sign in) and returns the device token.
async fn enrol(app: &TestApp, u: &TestUser) -> String {
    let t = app.token(u).await;
    let code = u.code_at(Utc::now().timestamp() + 30);
    let v = app
        .post_as(
            "/api/v1/devices",
            &t,
            &json!({"name": "Work phone", "platform": "owntracks", "totp": code}),
        )
        .await
        .ok(201);
    assert_eq!(v["owntracks"]["username"], json!(u.username));
    assert!(v["owntracks"]["url"]
        .as_str()
        .unwrap()
        .ends_with("/api/v1/owntracks"));
    v["token"].as_str().unwrap().to_string()
}

async fn owntracks(app: &TestApp, user: &str, token: &str, body: &Value) -> common::Resp {
    app.send(
        app.client
            .post(app.url("/api/v1/owntracks"))
            .basic_auth(user, Some(token))
            .header("X-Limit-U", user)
            .header("X-Limit-D", "phone")
            .json(body),
    )
    .await
}

fn location(at: (f64, f64), secs_ago: i64) -> Value {
    json!({"_type": "location", "lat": at.0, "lon": at.1, "tst": Utc::now().timestamp() - secs_ago,
           "acc": 15, "alt": 1790, "batt": 81, "conn": "m", "tid": "TP", "vac": 10, "vel": 0,
           "t": "u", "topic": "owntracks/traveller/phone"})
}

async fn batch(app: &TestApp, token: &str, reports: &[(f64, f64, i64)]) -> common::Resp {
    let now = Utc::now().timestamp();
    let body = json!({"reports": reports.iter().map(|(lat, lon, ago)| json!({"lat": lat, "lon": lon, "tst": now - ago, "acc": 10})).collect::<Vec<_>>()});
    app.post_as("/api/v1/locations", token, &body).await
}

#[tokio::test]
async fn owntracks_and_batches_resolve_to_areas_without_coordinates() {
    let app = spawn_app_on(Backend::Sqlite).await;
    let t = app
        .user_with("walker", None, &[(Role::Traveller, "global", None)])
        .await;
    // Without TOTP set up, no device.
    let plain = app.token(&app.users.traveller.clone()).await;
    app.post_as(
        "/api/v1/devices",
        &plain,
        &json!({"name": "Phone", "totp": "123456"}),
    )
    .await
    .problem(401, None);
    let tok = app.token(&t).await;
    // A wrong code is refused.
    app.post_as(
        "/api/v1/devices",
        &tok,
        &json!({"name": "Phone", "totp": "000000"}),
    )
    .await
    .problem(401, Some("totp"));
    let device = enrol(&app, &t).await;

    // The real OwnTracks message format, with fields we do not use.
    let r = owntracks(&app, "walker", &device, &location(KABUL, 60)).await;
    assert_eq!(r.ok(200), json!([]));
    // Other message types and empty payloads are acknowledged and ignored.
    let r = owntracks(
        &app,
        "walker",
        &device,
        &json!({"_type": "transition", "event": "enter", "desc": "Office", "tst": 1, "wtst": 1, "acc": 5, "t": "c"}),
    )
    .await;
    assert_eq!(r.ok(200), json!([]));
    let r = app
        .send(
            app.client
                .post(app.url("/api/v1/owntracks"))
                .basic_auth("walker", Some(&device))
                .header("content-type", "application/json"),
        )
        .await;
    assert_eq!(r.ok(200), json!([]));
    // Someone else's name with this token, or a made-up token: refused.
    owntracks(&app, "traveller", &device, &location(KABUL, 0))
        .await
        .problem(401, None);
    owntracks(&app, "walker", "nope", &location(KABUL, 0))
        .await
        .problem(401, None);

    let me = app.get_as("/api/v1/me/location", &tok).await.ok(200);
    assert_eq!(me["area"]["code"], json!("AF-KAB"), "{me}");
    assert_eq!(me["fresh"], json!(true));
    // The advisory of the area entered came as a notification.
    let n = app.get_as("/api/v1/notifications", &tok).await.ok(200);
    assert_eq!(n["items"][0]["kind"], json!("eta.area_entered"), "{n}");

    // Our own batch format: Herat now.
    let v = batch(
        &app,
        &device,
        &[(HERAT.0, HERAT.1, 30), (HERAT.0, HERAT.1, 10)],
    )
    .await
    .ok(200);
    assert_eq!(v["accepted"], json!(2));
    assert_eq!(v["positions_kept"], json!(0));
    assert_eq!(v["entered"], json!(true));
    assert_eq!(v["area"]["code"], json!("AF-HER"));

    // No coordinates are held outside tracking: only the area.
    let held = app.get_as("/api/v1/me/location-data", &tok).await.ok(200);
    assert_eq!(held["positions"], json!([]));
    assert_eq!(held["last_location"]["area"], json!("AF-HER"));
    assert_eq!(held["retention_hours"], json!(96));
    assert_eq!(held["devices"][0]["active"], json!(true));

    // Bad input changes nothing and names the field.
    let before = app.get_as("/api/v1/me/location-data", &tok).await.ok(200);
    batch(&app, &device, &[(KABUL.0, KABUL.1, 5), (91.0, 10.0, 1)])
        .await
        .problem(422, Some("reports[1].lat"));
    batch(&app, &device, &[(KABUL.0, KABUL.1, -3600)])
        .await
        .problem(422, Some("reports[0].tst"));
    let many: Vec<(f64, f64, i64)> = (0..1001).map(|_| (KABUL.0, KABUL.1, 1)).collect();
    batch(&app, &device, &many)
        .await
        .problem(422, Some("reports"));
    app.post_as(
        "/api/v1/locations",
        &device,
        &json!({"reports": [{"lat": 1, "lon": 2, "tst": 3, "speed": 4}]}),
    )
    .await
    .problem(422, Some("reports[0].speed"));
    owntracks(
        &app,
        "walker",
        &device,
        &json!({"_type": "location", "lat": 34.5}),
    )
    .await
    .problem(422, Some("lat"));
    assert_eq!(
        app.get_as("/api/v1/me/location-data", &tok).await.ok(200),
        before
    );

    // Revoked: the token stops working at once.
    let devices = app.get_as("/api/v1/devices", &tok).await.ok(200);
    let id = devices[0]["id"].as_str().unwrap().to_string();
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/devices/{id}"),
            Some(&tok),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    batch(&app, &device, &[(KABUL.0, KABUL.1, 1)])
        .await
        .problem(401, None);
    app.finish().await;
}

/// Tracking in Kabul, a UNDP traveller and a WFP traveller reporting there,
/// and who may see their positions.
async fn tracking_matrix(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let undp = app
        .store
        .get_agency_by_code("UNDP")
        .await
        .unwrap()
        .unwrap()
        .id;
    let wfp = app.agency("WFP").await;
    let a = app
        .user_with(
            "undp-staff",
            Some(undp),
            &[(Role::Traveller, "global", None)],
        )
        .await;
    let b = app
        .user_with("wfp-staff", Some(wfp), &[(Role::Traveller, "global", None)])
        .await;
    let (da, db) = (enrol(&app, &a).await, enrol(&app, &b).await);
    let do_af = app.token(&app.users.do_af.clone()).await;
    let in_hour = (Utc::now() + Duration::hours(1)).to_rfc3339();

    // Only the DO of the area authorises; the request is checked.
    let minute_ago = (Utc::now() - Duration::minutes(1)).to_rfc3339();
    let body = json!({"area": "AF-KAB", "starts_at": minute_ago, "ends_at": in_hour, "reason": "Armed clashes around the airport road"});
    for u in [
        app.users.sa_af.clone(),
        app.users.do_ml.clone(),
        app.users.admin.clone(),
    ] {
        let t = app.token(&u).await;
        app.post_as("/api/v1/tracking", &t, &body)
            .await
            .problem(403, None);
    }
    app.post_as(
        "/api/v1/tracking",
        &do_af,
        &json!({"area": "AF-KAB", "ends_at": in_hour, "reason": "crisis"}),
    )
    .await
    .problem(422, Some("reason"));
    app.post_as(
        "/api/v1/tracking",
        &do_af,
        &json!({"area": "AF-KAB", "ends_at": (Utc::now() + Duration::days(40)).to_rfc3339(), "reason": "Armed clashes around the airport road"}),
    )
    .await
    .problem(422, Some("ends_at"));
    app.post_as(
        "/api/v1/tracking",
        &do_af,
        &json!({"area": "XX-NOPE", "ends_at": in_hour, "reason": "Armed clashes around the airport road"}),
    )
    .await
    .problem(422, Some("area"));
    let auth = app.post_as("/api/v1/tracking", &do_af, &body).await.ok(201);
    assert_eq!(auth["active"], json!(true));
    assert_eq!(auth["overdue"], json!(false));

    // Reports in Kabul are now kept precisely; Herat's are not.
    let v = batch(&app, &da, &[(KABUL.0, KABUL.1, 5), (HERAT.0, HERAT.1, 1)])
        .await
        .ok(200);
    assert_eq!(v["positions_kept"], json!(1));
    assert_eq!(
        batch(&app, &db, &[(KABUL.0, KABUL.1, 2)]).await.ok(200)["positions_kept"],
        json!(1)
    );

    // Oversight.
    let sa = app.token(&app.users.sa_af.clone()).await;
    let list = app
        .get_as("/api/v1/tracking?country=AF&active=true", &sa)
        .await
        .ok(200);
    assert_eq!(list["total"], json!(1));
    app.get_as("/api/v1/tracking?country=ML", &sa)
        .await
        .problem(403, None);
    let trav = app.token(&a).await;
    app.get_as("/api/v1/tracking?country=AF", &trav)
        .await
        .problem(403, None);

    // Who sees positions: role × agency × area, after the undertaking.
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
    let sa_undp_only = app
        .user_with(
            "sa-undp",
            Some(undp),
            &[(Role::SecurityAdviser, "AF-KAB", Some(undp))],
        )
        .await;
    let path = "/api/v1/areas/AF-KAB/positions";
    // Before the undertaking: refused, naming what to do.
    let p = app.get_as(path, &sa).await.problem(403, None);
    assert!(p["detail"].as_str().unwrap().contains("undertaking"), "{p}");
    let cases: Vec<(TestUser, Option<Vec<&str>>)> = vec![
        (
            app.users.sa_af.clone(),
            Some(vec!["Test undp-staff", "Test wfp-staff"]),
        ),
        (
            app.users.do_af.clone(),
            Some(vec!["Test undp-staff", "Test wfp-staff"]),
        ),
        (fp_undp.clone(), Some(vec!["Test undp-staff"])),
        (fp_wfp.clone(), Some(vec!["Test wfp-staff"])),
        (sa_undp_only.clone(), Some(vec!["Test undp-staff"])),
        (fp_ml.clone(), None),
        (app.users.do_ml.clone(), None),
        (app.users.admin.clone(), None),
        (app.users.desk_af.clone(), None),
        (app.users.smt_af.clone(), None),
        (a.clone(), None),
    ];
    for (u, expect) in &cases {
        let t = app.token(u).await;
        app.accept_undertaking(&t).await;
        let r = app.get_as(path, &t).await;
        match expect {
            Some(names) => {
                let v = r.ok(200);
                let mut got: Vec<&str> = v
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["name"].as_str().unwrap())
                    .collect();
                got.sort();
                assert_eq!(&got, names, "{}", u.username);
                for p in v.as_array().unwrap() {
                    assert!((p["lat"].as_f64().unwrap() - KABUL.0).abs() < 1e-9);
                }
            }
            None => {
                r.problem(403, None);
            }
        }
    }
    // Every access is in the audit log.
    let admin = app.token(&app.users.admin.clone()).await;
    let audit = app
        .get_as("/api/v1/audit?action=location.view&limit=100", &admin)
        .await
        .ok(200);
    assert_eq!(audit["total"], json!(5), "{audit}");

    // Ended: nothing is visible any more, and reports are not kept.
    let id = auth["id"].as_str().unwrap();
    app.post_as(
        &format!("/api/v1/tracking/{id}/end"),
        &sa,
        &json!({"reason": "Calm"}),
    )
    .await
    .problem(403, None);
    let ended = app
        .post_as(
            &format!("/api/v1/tracking/{id}/end"),
            &do_af,
            &json!({"reason": "Situation calm again"}),
        )
        .await
        .ok(200);
    assert_eq!(ended["active"], json!(false));
    app.post_as(
        &format!("/api/v1/tracking/{id}/end"),
        &do_af,
        &json!({"reason": "again"}),
    )
    .await
    .problem(409, None);
    app.get_as(path, &sa).await.problem(409, None);
    // (recorded two seconds after the end: whole-second timestamps)
    assert_eq!(
        batch(&app, &da, &[(KABUL.0, KABUL.1, -2)]).await.ok(200)["positions_kept"],
        json!(0)
    );
    app.finish().await;
}

#[tokio::test]
async fn tracking_and_who_sees_positions_sqlite() {
    tracking_matrix(Backend::Sqlite).await;
}

#[tokio::test]
async fn tracking_and_who_sees_positions_postgres() {
    tracking_matrix(Backend::Postgres).await;
}

/// Positions recorded `hours_ago` under a tracking window opened in the
/// past (written through the store, as the API only opens windows from now).
async fn old_positions(app: &TestApp, user: &TestUser, device_token: &str, hours_ago: &[i64]) {
    let (device, _) = app
        .store
        .device_by_token(&warden_auth::token_digest(device_token))
        .await
        .unwrap()
        .unwrap();
    let now = warden_store::now_micros();
    let kab = AreaCode::parse("AF-KAB").unwrap();
    let out = app
        .store
        .ingest_locations(&LocationBatch {
            device: device.id,
            user: user.id,
            reports: hours_ago
                .iter()
                .map(|h| ResolvedReport {
                    report: LocationReport {
                        lat: KABUL.0,
                        lon: KABUL.1,
                        accuracy_m: None,
                        recorded_at: now - Duration::hours(*h),
                    },
                    area: Some(kab.clone()),
                })
                .collect(),
            received_at: now,
        })
        .await
        .unwrap();
    assert_eq!(out.positions_kept as usize, hours_ago.len());
}

async fn freezes_purge_and_deletion(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let undp = app
        .store
        .get_agency_by_code("UNDP")
        .await
        .unwrap()
        .unwrap()
        .id;
    let wfp = app.agency("WFP").await;
    let a = app
        .user_with(
            "undp-staff",
            Some(undp),
            &[(Role::Traveller, "global", None)],
        )
        .await;
    let device = enrol(&app, &a).await;
    let now = warden_store::now_micros();
    app.store
        .authorise_tracking(
            &NewTracking {
                request: TrackingRequest {
                    area: AreaCode::parse("AF-KAB").unwrap(),
                    starts_at: now - Duration::hours(200),
                    ends_at: now + Duration::hours(1),
                    reason: "Crisis response, test window".into(),
                },
                authorised_by: app.users.do_af.id,
            },
            &AuditContext::system("test setup"),
        )
        .await
        .unwrap();
    old_positions(&app, &a, &device, &[150, 120, 100, 2]).await;

    let inv_undp = app
        .user_with(
            "inv-undp",
            Some(undp),
            &[(Role::Investigator, "global", Some(undp))],
        )
        .await;
    let inv_wfp = app
        .user_with(
            "inv-wfp",
            Some(wfp),
            &[(Role::Investigator, "global", Some(wfp))],
        )
        .await;
    let body = json!({"person": a.id, "from": (now - Duration::hours(130)).to_rfc3339(),
                      "to": (now - Duration::hours(110)).to_rfc3339(),
                      "case_reference": "OIOS-2026-0412", "reason": "Vehicle incident near the airport, under investigation"});
    let t_wfp = app.token(&inv_wfp).await;
    app.post_as("/api/v1/freezes", &t_wfp, &body)
        .await
        .problem(403, None);
    let sa = app.token(&app.users.sa_af.clone()).await;
    app.post_as("/api/v1/freezes", &sa, &body)
        .await
        .problem(403, None);
    let t_inv = app.token(&inv_undp).await;
    let mut no_case = body.clone();
    no_case["case_reference"] = json!(" ");
    app.post_as("/api/v1/freezes", &t_inv, &no_case)
        .await
        .problem(422, Some("case_reference"));
    let freeze = app.post_as("/api/v1/freezes", &t_inv, &body).await.ok(201);
    assert_eq!(freeze["person_name"], json!("Test undp-staff"));

    // The agency's focal point sees it; another agency's does not.
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
            &[(Role::AgencyFocalPoint, "global", Some(wfp))],
        )
        .await;
    let seen = app
        .get_as("/api/v1/freezes", &app.token(&fp_undp).await)
        .await
        .ok(200);
    assert_eq!(seen.as_array().unwrap().len(), 1);
    let seen = app
        .get_as("/api/v1/freezes", &app.token(&fp_wfp).await)
        .await
        .ok(200);
    assert_eq!(seen, json!([]));
    app.get_as("/api/v1/freezes", &sa).await.problem(403, None);

    // The purge: 150 h and 100 h go; the frozen 120 h and the recent 2 h stay.
    let totals = warden_server::eta::purge(
        app.store.as_ref(),
        96,
        warden_store::now_micros(),
        1,
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(totals.positions, 2);
    let tok = app.token(&a).await;
    let held = app.get_as("/api/v1/me/location-data", &tok).await.ok(200);
    let mut ages: Vec<i64> = held["positions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let at: chrono::DateTime<Utc> = p["recorded_at"].as_str().unwrap().parse().unwrap();
            ((now - at).num_seconds() as f64 / 3600.0).round() as i64
        })
        .collect();
    ages.sort();
    assert_eq!(ages, vec![2, 120]);
    assert_eq!(
        held["freezes"][0]["case_reference"],
        json!("OIOS-2026-0412")
    );

    // Deletion on request spares the frozen position only.
    let r = app
        .call(Method::DELETE, "/api/v1/me/location-data", Some(&tok), None)
        .await
        .ok(200);
    assert_eq!(r["positions_deleted"], json!(1));
    assert_eq!(r["positions_frozen"], json!(1));
    assert_eq!(r["last_location_deleted"], json!(true));

    // Lifted: the 96-hour rule applies again.
    let id = freeze["id"].as_str().unwrap();
    app.post_as(
        &format!("/api/v1/freezes/{id}/lift"),
        &t_wfp,
        &json!({"reason": "Closed"}),
    )
    .await
    .problem(403, None);
    app.post_as(
        &format!("/api/v1/freezes/{id}/lift"),
        &t_inv,
        &json!({"reason": "Case closed"}),
    )
    .await
    .ok(200);
    let totals = warden_server::eta::purge(
        app.store.as_ref(),
        96,
        warden_store::now_micros(),
        1000,
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(totals.positions, 1);
    let held = app.get_as("/api/v1/me/location-data", &tok).await.ok(200);
    assert_eq!(held["positions"], json!([]));
    app.finish().await;
}

#[tokio::test]
async fn freezes_purge_and_deletion_sqlite() {
    freezes_purge_and_deletion(Backend::Sqlite).await;
}

#[tokio::test]
async fn freezes_purge_and_deletion_postgres() {
    freezes_purge_and_deletion(Backend::Postgres).await;
}

#[tokio::test]
async fn alerts_reach_phones_in_the_area_and_publish_as_cap() {
    let app = spawn_app_on(Backend::Sqlite).await;
    let a = app
        .user_with("in-kabul", None, &[(Role::Traveller, "global", None)])
        .await;
    let b = app
        .user_with("in-herat", None, &[(Role::Traveller, "global", None)])
        .await;
    let (da, db) = (enrol(&app, &a).await, enrol(&app, &b).await);
    batch(&app, &da, &[(KABUL.0, KABUL.1, 1)]).await.ok(200);
    batch(&app, &db, &[(HERAT.0, HERAT.1, 1)]).await.ok(200);
    let body = json!({"headline": "Demonstration on Darulaman Road", "instruction": "Avoid the area; stay indoors until further notice",
                      "severity": "severe", "description": "Large crowd gathering near the parliament"});
    let trav = app.token(&a).await;
    app.post_as("/api/v1/areas/AF-KAB/alerts", &trav, &body)
        .await
        .problem(403, None);
    let do_ml = app.token(&app.users.do_ml.clone()).await;
    app.post_as("/api/v1/areas/AF-KAB/alerts", &do_ml, &body)
        .await
        .problem(403, None);
    let sa = app.token(&app.users.sa_af.clone()).await;
    let mut bad = body.clone();
    bad["severity"] = json!("apocalyptic");
    app.post_as("/api/v1/areas/AF-KAB/alerts", &sa, &bad)
        .await
        .problem(422, Some("severity"));
    let alert = app
        .post_as("/api/v1/areas/AF-KAB/alerts", &sa, &body)
        .await
        .ok(201);
    assert_eq!(alert["recipients"], json!(1));
    let n = app
        .get_as("/api/v1/notifications?unread=true", &trav)
        .await
        .ok(200);
    assert!(
        n["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["kind"] == json!("eta.alert")
                && x["subject"] == json!("Demonstration on Darulaman Road")),
        "{n}"
    );
    let other = app.token(&b).await;
    let n = app.get_as("/api/v1/notifications", &other).await.ok(200);
    assert!(!n["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["kind"] == json!("eta.alert")));

    // CAP 1.2 for partner systems, valid against the official schema.
    let r = app.get(alert["cap_url"].as_str().unwrap()).await;
    assert_eq!(r.status, 200);
    assert!(r.content_type().starts_with("application/cap+xml"));
    common::assert_valid_cap(&r.text, "geo-alert");
    assert!(r.text.contains("<severity>Severe</severity>"));
    assert!(r.text.contains("<polygon>"));
    let list = app.get("/api/v1/alerts?area=AF-KAB").await.ok(200);
    assert_eq!(list["total"], json!(1));

    // "Are you safe?"
    app.post_as("/api/v1/me/wellbeing", &trav, &json!({"status": "fine"}))
        .await
        .problem(422, Some("status"));
    app.post_as(
        "/api/v1/me/wellbeing",
        &trav,
        &json!({"status": "safe", "dependants": [{"name": "Amina", "status": "maybe"}]}),
    )
    .await
    .problem(422, Some("dependants[0].status"));
    let w = app
        .post_as(
            "/api/v1/me/wellbeing",
            &trav,
            &json!({"status": "need_help", "dependants": [{"name": "Amina", "status": "safe"}], "note": "Stuck at a checkpoint"}),
        )
        .await
        .ok(201);
    assert_eq!(w["area"], json!("AF-KAB"));
    assert_eq!(
        app.get_as("/api/v1/me/wellbeing", &trav).await.ok(200)["status"],
        json!("need_help")
    );
    app.finish().await;
}
