//! TRIP over HTTP: processing modes, travel requests (places, local times,
//! itinerary checks), clearance decisions and the reviewers' queue. SQLite.

mod common;

use chrono::{DateTime, Utc};
use common::{spawn_app, TestApp, TestUser, PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};
use warden_domain::{Role, RoleGrant, Scope};
use warden_store::{AuditContext, NewUser};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn time_of(v: &Value) -> DateTime<Utc> {
    at(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
}

/// A security adviser for Mali (with TOTP), who covers no Afghan area.
async fn sa_ml(app: &TestApp) -> TestUser {
    let ctx = AuditContext::system("test setup");
    let u = app
        .store
        .create_user(
            &NewUser {
                username: "sa-ml".into(),
                display_name: "Test sa-ml".into(),
                email: "sa-ml@example.org".into(),
                agency: None,
                password_hash: warden_auth::hash_password(PASSWORD).unwrap(),
                grants: vec![RoleGrant {
                    role: Role::SecurityAdviser,
                    scope: Scope::parse("ML").unwrap(),
                    agency: None,
                }],
                locale: "en".into(),
            },
            &ctx,
        )
        .await
        .unwrap();
    let s = warden_auth::TotpSecret::generate();
    app.store
        .set_totp(u.id, Some(&s.to_base32()), true, &ctx)
        .await
        .unwrap();
    TestUser {
        id: u.id,
        username: "sa-ml".into(),
        totp: Some(s.as_bytes().to_vec()),
    }
}

async fn put_mode(app: &TestApp, token: &str, area: &str, body: Value) -> common::Resp {
    app.call(
        Method::PUT,
        &format!("/api/v1/areas/{area}/processing-mode"),
        Some(token),
        Some(&body),
    )
    .await
}

async fn set_manual(app: &TestApp, area: &str) {
    let t = app.token(&app.users.do_af.clone()).await;
    put_mode(
        app,
        &t,
        area,
        json!({"mode": "manual", "reason": "SMT decision"}),
    )
    .await
    .ok(200);
}

fn leg(from: &str, to: &str, depart: &str, arrive: &str) -> Value {
    json!({"from": from, "to": to, "depart": depart, "arrive": arrive})
}

async fn submit(app: &TestApp, legs: Vec<Value>) -> common::Resp {
    let t = app.token(&app.users.traveller.clone()).await;
    app.post_as(
        "/api/v1/travel-requests",
        &t,
        &json!({"purpose": "official", "ta_number": format!("TA-{}", uuid::Uuid::new_v4().simple()), "legs": legs}),
    )
    .await
}

async fn decide(app: &TestApp, token: &str, id: &str, n: i64, body: Value) -> common::Resp {
    app.post_as(
        &format!("/api/v1/travel-requests/{id}/legs/{n}/decision"),
        token,
        &body,
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn processing_mode_is_set_by_the_do_only() {
    let app = spawn_app().await;
    let sa = app.token(&app.users.sa_af.clone()).await;
    let do_af = app.token(&app.users.do_af.clone()).await;
    let do_ml = app.token(&app.users.do_ml.clone()).await;

    // Public read; automatic until the DO decides.
    let v = app
        .get("/api/v1/areas/AF-KAB/processing-mode")
        .await
        .ok(200);
    assert_eq!(v["mode"], "automatic", "{v}");
    assert_eq!(v["history"], json!([]), "{v}");

    let body = json!({"mode": "manual", "reason": "SMT decision of 3 December"});
    put_mode(&app, &sa, "AF-KAB", body.clone())
        .await
        .problem(403, None);
    put_mode(&app, &do_ml, "AF-KAB", body.clone())
        .await
        .problem(403, None);
    put_mode(
        &app,
        &do_af,
        "AF-KAB",
        json!({"mode": "manual", "reason": "  "}),
    )
    .await
    .problem(422, Some("reason"));
    put_mode(&app, &do_af, "AF-KAB", json!({"mode": "manual"}))
        .await
        .problem(422, Some("reason"));
    put_mode(
        &app,
        &do_af,
        "AF-KAB",
        json!({"mode": "sometimes", "reason": "x"}),
    )
    .await
    .problem(422, Some("mode"));
    put_mode(&app, &do_af, "AF-NOPE", body.clone())
        .await
        .problem(404, None);
    let anon = app
        .call(
            Method::PUT,
            "/api/v1/areas/AF-KAB/processing-mode",
            None,
            Some(&body),
        )
        .await;
    anon.problem(401, None);

    let v = put_mode(&app, &do_af, "AF-KAB", body.clone()).await.ok(200);
    assert_eq!(v["area"], "AF-KAB", "{v}");
    assert_eq!(v["mode"], "manual", "{v}");
    assert_eq!(v["set_by"], json!(app.users.do_af.id), "{v}");
    assert!(v["at"].is_string(), "{v}");

    let v = app
        .get("/api/v1/areas/AF-KAB/processing-mode")
        .await
        .ok(200);
    assert_eq!(v["mode"], "manual", "{v}");
    assert_eq!(v["history"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(
        v["history"][0]["reason"], "SMT decision of 3 December",
        "{v}"
    );
    // Another area is untouched.
    let v = app
        .get("/api/v1/areas/AF-HER/processing-mode")
        .await
        .ok(200);
    assert_eq!(v["mode"], "automatic", "{v}");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn travel_requests_resolve_places_and_times() {
    let app = spawn_app().await;
    set_manual(&app, "AF-KAB").await;

    // GVA (Geneva, local time in Europe/Zurich, UTC+1 in March) to Herat
    // (area code: offset required), then on to Kabul airport (local time
    // in Asia/Kabul, +04:30).
    let r = submit(
        &app,
        vec![
            leg(
                "GVA",
                "AF-HER",
                "2030-03-01T08:00",
                "2030-03-01T18:00:00+04:30",
            ),
            leg(
                "AF-HER",
                "KBL",
                "2030-03-02T09:00:00+04:30",
                "2030-03-02T10:30",
            ),
        ],
    )
    .await;
    let v = r.ok(201);
    assert!(v["id"].is_string(), "{v}");
    assert_eq!(v["status"], "pending", "{v}");
    assert_eq!(v["purpose"], "official", "{v}");
    let legs = v["legs"].as_array().unwrap();
    assert_eq!(legs.len(), 2, "{v}");
    assert_eq!(legs[0]["seq"], 1);
    assert_eq!(legs[0]["area"], "AF-HER", "{v}");
    assert_eq!(legs[0]["mode"], "notification", "{v}");
    assert_eq!(legs[0]["status"], "acknowledged", "{v}");
    assert_eq!(
        time_of(&legs[0]["depart"]),
        at("2030-03-01T07:00:00Z"),
        "{v}"
    );
    assert_eq!(
        time_of(&legs[0]["arrive"]),
        at("2030-03-01T13:30:00Z"),
        "{v}"
    );
    assert_eq!(legs[1]["seq"], 2);
    assert_eq!(legs[1]["area"], "AF-KAB", "{v}");
    assert!(
        legs[1]["area_name"].as_str().is_some_and(|s| !s.is_empty()),
        "{v}"
    );
    assert_eq!(legs[1]["mode"], "clearance", "{v}");
    assert_eq!(legs[1]["status"], "pending", "{v}");
    assert_eq!(
        time_of(&legs[1]["arrive"]),
        at("2030-03-02T06:00:00Z"),
        "{v}"
    );
    assert_eq!(legs[1]["arrive_tz"], "Asia/Kabul", "{v}");
    let reviewers: Vec<&str> = legs[1]["reviewers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert!(reviewers.contains(&"Test sa-af"), "{v}");
    assert!(
        !reviewers.contains(&"Test do-af"),
        "only security advisers: {v}"
    );
    let id = v["id"].as_str().unwrap().to_string();

    // Visibility: traveller, reviewers of its areas, administrators.
    let path = format!("/api/v1/travel-requests/{id}");
    for u in [
        &app.users.traveller,
        &app.users.sa_af,
        &app.users.do_af,
        &app.users.admin,
    ] {
        let t = app.token(&u.clone()).await;
        let g = app.get_as(&path, &t).await.ok(200);
        assert_eq!(g["id"], json!(id));
        assert_eq!(g["legs"][1]["status"], "pending");
    }
    for u in [&app.users.do_ml, &app.users.desk_af] {
        let t = app.token(&u.clone()).await;
        app.get_as(&path, &t).await.problem(404, None);
    }
    app.get(&path).await.problem(401, None);

    // A city name and an airport code reach the same area; a city gives its zone.
    for to in ["Kabul", "KBL", "Kabul, AF", "AF-KAB"] {
        let v = submit(
            &app,
            vec![leg(
                "AF-HER",
                to,
                "2030-04-01T08:00:00+04:30",
                "2030-04-01T09:30:00+04:30",
            )],
        )
        .await
        .ok(201);
        assert_eq!(v["legs"][0]["area"], "AF-KAB", "{to}: {v}");
        assert_eq!(v["legs"][0]["mode"], "clearance", "{to}: {v}");
    }
    let v = submit(
        &app,
        vec![leg(
            "AF-HER",
            "Kabul",
            "2030-04-01T08:00:00+04:30",
            "2030-04-01T09:30",
        )],
    )
    .await
    .ok(201);
    assert_eq!(
        time_of(&v["legs"][0]["arrive"]),
        at("2030-04-01T05:00:00Z"),
        "{v}"
    );

    // Unknown and ambiguous places, a local time without a zone, overlaps.
    let p = submit(
        &app,
        vec![leg(
            "AF-HER",
            "Xyzzyqvillezz",
            "2030-04-01T08:00:00Z",
            "2030-04-01T09:00:00Z",
        )],
    )
    .await
    .problem(422, Some("legs[0].to"));
    assert!(
        p["detail"].as_str().unwrap().contains("Xyzzyqvillezz"),
        "{p}"
    );
    submit(
        &app,
        vec![leg(
            "Nowhereatallville",
            "KBL",
            "2030-04-01T08:00:00Z",
            "2030-04-01T09:00:00Z",
        )],
    )
    .await
    .problem(422, Some("legs[0].from"));
    submit(
        &app,
        vec![leg(
            "AF-HER",
            "AF-NOPE",
            "2030-04-01T08:00:00Z",
            "2030-04-01T09:00:00Z",
        )],
    )
    .await
    .problem(422, Some("legs[0].to"));
    let p = submit(
        &app,
        vec![leg(
            "AF-HER",
            "Springfield",
            "2030-04-01T08:00:00Z",
            "2030-04-01T09:00:00Z",
        )],
    )
    .await
    .problem(422, Some("legs[0].to"));
    assert!(
        p["detail"].as_str().unwrap().contains("Springfield, US"),
        "candidates listed: {p}"
    );
    let p = submit(
        &app,
        vec![leg("KBL", "AF-HER", "2030-04-01T08:00", "2030-04-01T09:00")],
    )
    .await
    .problem(422, Some("legs[0].arrive"));
    assert!(p["detail"].as_str().unwrap().contains("offset"), "{p}");
    submit(
        &app,
        vec![leg("KBL", "AF-HER", "tomorrow", "2030-04-01T09:00:00Z")],
    )
    .await
    .problem(422, Some("legs[0].depart"));
    submit(
        &app,
        vec![
            leg(
                "AF-HER",
                "KBL",
                "2030-04-01T08:00:00Z",
                "2030-04-01T12:00:00Z",
            ),
            leg(
                "KBL",
                "AF-HER",
                "2030-04-01T10:00:00Z",
                "2030-04-01T13:00:00Z",
            ),
        ],
    )
    .await
    .problem(422, Some("legs[1].depart"));
    submit(
        &app,
        vec![leg(
            "AF-HER",
            "KBL",
            "2030-04-01T12:00:00Z",
            "2030-04-01T08:00:00Z",
        )],
    )
    .await
    .problem(422, Some("legs[0].arrive"));
    submit(&app, vec![]).await.problem(422, Some("legs"));
    let t = app.token(&app.users.traveller.clone()).await;
    app.post_as(
        "/api/v1/travel-requests",
        &t,
        &json!({"purpose": "tourism", "legs": [leg("AF-HER", "KBL", "2030-04-01T08:00:00Z", "2030-04-01T09:00:00Z")]}),
    )
    .await
    .problem(422, Some("purpose"));
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn clearance_decisions_and_queue() {
    clearance_decisions_and_queue_on(spawn_app().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn clearance_decisions_and_queue_postgres() {
    clearance_decisions_and_queue_on(common::spawn_app_on(common::Backend::Postgres).await).await;
}

async fn clearance_decisions_and_queue_on(app: TestApp) {
    set_manual(&app, "AF-KAB").await;
    let sa = app.token(&app.users.sa_af.clone()).await;
    let do_af = app.token(&app.users.do_af.clone()).await;
    let ml = sa_ml(&app).await;
    let sa_other = app.token(&ml).await;
    let traveller = app.token(&app.users.traveller.clone()).await;

    let v = submit(
        &app,
        vec![
            leg(
                "AF-HER",
                "KBL",
                "2030-05-02T08:00:00+04:30",
                "2030-05-02T09:30:00+04:30",
            ),
            leg(
                "KBL",
                "AF-HER",
                "2030-05-05T08:00:00+04:30",
                "2030-05-05T09:30:00+04:30",
            ),
        ],
    )
    .await
    .ok(201);
    let id = v["id"].as_str().unwrap().to_string();
    // An earlier trip, to check the queue's order.
    let early = submit(
        &app,
        vec![leg(
            "AF-HER",
            "Kabul",
            "2030-05-01T08:00:00+04:30",
            "2030-05-01T09:30:00+04:30",
        )],
    )
    .await
    .ok(201);

    // The queue: reviewers of the country only, oldest departure first.
    let q = app
        .get_as("/api/v1/clearances?country=AF", &sa)
        .await
        .ok(200);
    assert_eq!(q["total"], 2, "{q}");
    assert_eq!(q["items"][0]["request"], early["id"], "{q}");
    assert_eq!(q["items"][1]["request"], json!(id), "{q}");
    assert_eq!(q["items"][1]["leg"]["seq"], 1, "{q}");
    assert_eq!(q["items"][1]["traveller_name"], "Test traveller", "{q}");
    let q = app
        .get_as("/api/v1/clearances?country=AF&limit=1", &do_af)
        .await
        .ok(200);
    assert_eq!(
        (q["total"].as_i64(), q["items"].as_array().unwrap().len()),
        (Some(2), 1),
        "{q}"
    );
    app.get_as("/api/v1/clearances?country=AF", &sa_other)
        .await
        .problem(403, None);
    app.get_as("/api/v1/clearances?country=AF", &traveller)
        .await
        .problem(403, None);
    app.get_as("/api/v1/clearances", &sa)
        .await
        .problem(422, Some("country"));
    let q = app
        .get_as("/api/v1/clearances?country=ML", &sa_other)
        .await
        .ok(200);
    assert_eq!(q["total"], 0, "{q}");

    let grant = json!({"decision": "grant", "comment": ""});
    // Not a reviewer of the area.
    decide(&app, &sa_other, &id, 1, grant.clone())
        .await
        .problem(403, None);
    decide(&app, &traveller, &id, 1, grant.clone())
        .await
        .problem(403, None);
    decide(&app, &sa, &id, 9, grant.clone())
        .await
        .problem(404, None);
    // Leg 2 enters Herat (automatic): acknowledged, nothing to decide.
    decide(&app, &sa, &id, 2, grant.clone())
        .await
        .problem(409, None);
    // A denial for a missing certificate alone is refused.
    let p = decide(
        &app,
        &sa,
        &id,
        1,
        json!({"decision": "deny", "comment": "No BSAFE certificate", "grounds": ["missing_training_certificate"]}),
    )
    .await
    .problem(422, Some("grounds"));
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("training certificate"),
        "{p}"
    );
    decide(
        &app,
        &sa,
        &id,
        1,
        json!({"decision": "deny", "comment": "x"}),
    )
    .await
    .problem(422, Some("grounds"));
    decide(
        &app,
        &sa,
        &id,
        1,
        json!({"decision": "deny", "comment": " ", "grounds": ["security_situation"]}),
    )
    .await
    .problem(422, Some("comment"));
    decide(
        &app,
        &sa,
        &id,
        1,
        json!({"decision": "deny", "comment": "x", "grounds": ["bad_vibes"]}),
    )
    .await
    .problem(422, Some("grounds[0]"));
    decide(
        &app,
        &sa,
        &id,
        1,
        json!({"decision": "return", "comment": ""}),
    )
    .await
    .problem(422, Some("comment"));
    decide(
        &app,
        &sa,
        &id,
        1,
        json!({"decision": "maybe", "comment": "x"}),
    )
    .await
    .problem(422, Some("decision"));

    // Return for more information, then a grant comes too late.
    let v = decide(
        &app,
        &sa,
        &id,
        1,
        json!({"decision": "return", "comment": "Which hotel?"}),
    )
    .await
    .ok(200);
    assert_eq!(v["status"], "returned", "{v}");
    assert_eq!(v["legs"][0]["status"], "returned", "{v}");
    assert_eq!(v["legs"][0]["comment"], "Which hotel?", "{v}");
    assert_eq!(v["legs"][0]["decided_by"], json!(app.users.sa_af.id), "{v}");
    decide(&app, &do_af, &id, 1, grant.clone())
        .await
        .problem(409, None);
    let g = app
        .get_as(&format!("/api/v1/travel-requests/{id}"), &traveller)
        .await
        .ok(200);
    assert_eq!(
        g["legs"][0]["status"], "returned",
        "the first decision stands: {g}"
    );
    assert_eq!(g["legs"][0]["decided_by"], json!(app.users.sa_af.id), "{g}");

    // The DO grants the early trip; the queue is then empty.
    let eid = early["id"].as_str().unwrap();
    let v = decide(&app, &do_af, eid, 1, grant.clone()).await.ok(200);
    assert_eq!(
        (v["status"].as_str(), v["legs"][0]["status"].as_str()),
        (Some("cleared"), Some("granted")),
        "{v}"
    );
    let q = app
        .get_as("/api/v1/clearances?country=AF", &sa)
        .await
        .ok(200);
    assert_eq!(q["total"], 0, "{q}");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn switching_an_area_to_manual_turns_future_notifications_into_clearance_requests() {
    let app = spawn_app().await;
    let day = |d: i64| {
        (Utc::now() + chrono::Duration::days(d))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let r = submit(&app, vec![leg("GVA", "AF-KAB", &day(10), &day(11))])
        .await
        .ok(201);
    assert_eq!(
        (
            r["legs"][0]["mode"].as_str(),
            r["legs"][0]["status"].as_str()
        ),
        (Some("notification"), Some("acknowledged"))
    );
    let t = app.token(&app.users.do_af.clone()).await;
    let changed = put_mode(
        &app,
        &t,
        "AF-KAB",
        json!({"mode": "manual", "reason": "SMT decision"}),
    )
    .await
    .ok(200);
    assert_eq!(changed["reevaluated_legs"], 1);
    let traveller = app.token(&app.users.traveller.clone()).await;
    let id = r["id"].as_str().unwrap();
    let after = app
        .get_as(&format!("/api/v1/travel-requests/{id}"), &traveller)
        .await
        .ok(200);
    assert_eq!(
        (
            after["legs"][0]["mode"].as_str(),
            after["legs"][0]["status"].as_str()
        ),
        (Some("clearance"), Some("pending"))
    );
    assert_eq!(after["status"], "pending");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn places_for_the_itinerary_picker() {
    let app = spawn_app().await;
    set_manual(&app, "AF-KAB").await;

    // What a traveller types: cities and airports, with their area and zone.
    let v = app.get("/api/v1/places?q=Kab").await.ok(200);
    let items = v.as_array().unwrap();
    assert!(!items.is_empty() && items.len() <= 10, "{v}");
    let kabul = items
        .iter()
        .find(|p| p["value"] == "Kabul, AF")
        .unwrap_or_else(|| panic!("no Kabul in {v}"));
    assert_eq!(kabul["kind"], "city", "{v}");
    assert_eq!(kabul["area"], "AF-KAB", "{v}");
    assert_eq!(kabul["tz"], "Asia/Kabul", "{v}");
    assert_eq!(kabul["country"], "AF", "{v}");
    let v = app.get("/api/v1/places?q=kbl&limit=3").await.ok(200);
    assert!(v.as_array().unwrap().len() <= 3, "{v}");
    assert_eq!(v[0]["kind"], "airport", "{v}");
    assert_eq!(v[0]["value"], "KBL", "{v}");
    assert_eq!(v[0]["area"], "AF-KAB", "{v}");
    assert!(v[0]["label"].as_str().unwrap().contains("(KBL)"), "{v}");
    // Areas, by code (first) or by name, from the store.
    let v = app.get("/api/v1/places?q=AF-KAB").await.ok(200);
    assert_eq!(v[0]["kind"], "area", "{v}");
    assert_eq!(v[0]["value"], "AF-KAB", "{v}");
    assert_eq!(v[0]["tz"], Value::Null, "{v}");
    let v = app.get("/api/v1/places?q=Herat").await.ok(200);
    let kinds: Vec<(&str, &str)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["kind"].as_str().unwrap(), p["value"].as_str().unwrap()))
        .collect();
    assert!(kinds.contains(&("area", "AF-HER")), "{v}");
    assert!(kinds.contains(&("city", "Herāt, AF")), "{v}");
    assert!(kinds.contains(&("airport", "HEA")), "{v}");

    // Every value offered resolves back to the same place and area.
    let t = app.token(&app.users.traveller.clone()).await;
    for q in ["Kab", "Herat", "Bamako", "Gen"] {
        let v = app.get(&format!("/api/v1/places?q={q}")).await.ok(200);
        for p in v
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| !p["area"].is_null())
        {
            let r = app
                .post_as(
                    "/api/v1/travel-requests",
                    &t,
                    &json!({"purpose": "personal", "legs": [
                        leg("GVA", p["value"].as_str().unwrap(), "2030-05-01T08:00", "2030-05-01T23:00:00Z")]}),
                )
                .await
                .ok(201);
            assert_eq!(r["legs"][0]["area"], p["area"], "{q}: {p} → {r}");
        }
    }

    // Nothing typed yet; bad limits and lengths.
    assert_eq!(app.get("/api/v1/places?q=%20").await.ok(200), json!([]));
    app.get("/api/v1/places").await.problem(422, Some("query"));
    for l in ["0", "51", "x"] {
        let r = app.get(&format!("/api/v1/places?q=Kab&limit={l}")).await;
        assert_eq!(r.status, 422, "{l}: {}", r.text);
    }
    app.get("/api/v1/places?q=Kab&limit=0")
        .await
        .problem(422, Some("limit"));
    app.get(&format!("/api/v1/places?q={}", "a".repeat(101)))
        .await
        .problem(422, Some("q"));
    app.finish().await;
}
