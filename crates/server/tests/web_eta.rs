//! The eTA's web side over HTTP: the phone app at /eta (area and advisory,
//! alerts, trips, "I am safe" without JavaScript, the person's contact
//! details, enrolment), GET/PUT /api/v1/me/profile, the person's location
//! data, one geo-alert, the tracking oversight page, and the manifest and
//! service worker that make the app installable. SQLite; the eTA rules
//! behind them are the API's (tests/eta.rs).

mod common;

use chrono::{Duration, Utc};
use common::{proposal, spawn_app, Resp, TestApp, TestUser, PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;
use warden_domain::eta::TrackingRequest;
use warden_domain::people::{EmergencyContact, PersonnelCategory};
use warden_domain::{AreaCode, CountryCode, Role};
use warden_store::{AuditContext, NewTracking, ProfileInput};

/// Kabul city centre, in AF-KAB.
const KABUL: (f64, f64) = (34.5281, 69.1723);

fn ctx() -> AuditContext {
    AuditContext::system("test setup")
}

fn location(r: &Resp) -> String {
    r.headers
        .get("location")
        .unwrap_or_else(|| panic!("no Location ({}): {}", r.status, r.text))
        .to_str()
        .unwrap()
        .to_string()
}

/// A user of the test agency with these grants and TOTP.
async fn person(app: &TestApp, name: &str, grants: &[(Role, &str, Option<Uuid>)]) -> TestUser {
    let undp = app.agency("UNDP").await;
    app.user_with(name, Some(undp), grants).await
}

/// A traveller imported from the agency's legacy system (so with a
/// profile), given a password to sign in.
async fn imported(app: &TestApp, personnel_id: &str) -> TestUser {
    let undp = app
        .store
        .get_agency_by_code("UNDP")
        .await
        .unwrap()
        .unwrap()
        .id;
    app.store
        .import_profiles(
            &[ProfileInput {
                agency: undp,
                personnel_id: personnel_id.into(),
                display_name: "Leila Haidari".into(),
                email: "leila@example.org".into(),
                category: PersonnelCategory::NationalStaff,
                nationality: Some(CountryCode::parse("AF").unwrap()),
                phone: "+93700000001".into(),
                duty_station: Some(AreaCode::parse("AF-KAB").unwrap()),
                emergency_contacts: vec![EmergencyContact {
                    name: "Omar Haidari".into(),
                    relation: "brother".into(),
                    phone: "+93700000002".into(),
                    email: String::new(),
                }],
                certificates: vec![],
            }],
            &ctx(),
        )
        .await
        .unwrap();
    let id = app
        .store
        .profile_users(undp, &[personnel_id.into()])
        .await
        .unwrap()[personnel_id];
    app.store
        .set_password(id, &warden_auth::hash_password(PASSWORD).unwrap(), &ctx())
        .await
        .unwrap();
    let username = format!("undp/{}", personnel_id.to_lowercase());
    TestUser {
        id,
        username,
        totp: None,
    }
}

/// Enrols a phone through the API with the next TOTP step (the current one
/// may have signed the person in); returns the device token.
async fn enrol(app: &TestApp, u: &TestUser) -> String {
    let t = app.token(u).await;
    let v = app
        .post_as(
            "/api/v1/devices",
            &t,
            &json!({"name": "Work phone", "platform": "web", "totp": u.code_at(Utc::now().timestamp() + 30)}),
        )
        .await
        .ok(201);
    v["token"].as_str().unwrap().to_string()
}

async fn report(app: &TestApp, device: &str, at: (f64, f64)) -> Value {
    app.post_as(
        "/api/v1/locations",
        device,
        &json!({"reports": [{"lat": at.0, "lon": at.1, "acc": 12, "tst": Utc::now().timestamp() - 5}]}),
    )
    .await
    .ok(200)
}

/// Kabul at `level`, with the advisory text of `common::proposal`.
async fn approve_level(app: &TestApp, area: &str, level: i64) {
    let u = app.users.clone();
    let sa = app.token(&u.sa_af).await;
    let desk = app.token(&u.desk_af).await;
    let dof = app.token(&u.do_af).await;
    let a = app
        .post_as("/api/v1/assessments", &sa, &proposal(area, level))
        .await
        .ok(201);
    let id = a["id"].as_str().unwrap();
    let act = |t: String, body: Value| async move {
        app.post_as(&format!("/api/v1/assessments/{id}/actions"), &t, &body)
            .await
            .ok(200)
    };
    act(desk, json!({"action": "validate"})).await;
    act(
        dof,
        json!({"action": "approve", "smt_consulted": [u.smt_af.id]}),
    )
    .await;
}

async fn issue_alert(app: &TestApp, headline: &str) -> String {
    let sa = app.token(&app.users.sa_af.clone()).await;
    let v = app
        .post_as(
            "/api/v1/areas/AF-KAB/alerts",
            &sa,
            &json!({"headline": headline, "instruction": "Stay indoors until further notice.",
                    "description": "Gunfire reported near the ministry district.", "severity": "severe"}),
        )
        .await
        .ok(201);
    v["id"].as_str().unwrap().to_string()
}

// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn the_phone_app_shows_area_advisory_alerts_and_trips() {
    let app = spawn_app().await;
    // Signed out: to the login page, and back here after.
    let r = app.send(app.raw_client.get(app.url("/eta"))).await;
    assert_eq!(r.status, 303);
    assert_eq!(location(&r), "/login?next=%2Feta");

    // A traveller whose phone never reported: the empty state, and (no TOTP)
    // the way to two-factor authentication before enrolling.
    let traveller = app.users.traveller.clone();
    let r = app.page_as("/eta", &traveller).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("id=\"area-empty\""), "{}", r.text);
    assert!(r.text.contains("We do not know where you are yet"));
    assert!(r.text.contains("href=\"/account/two-factor\""));
    assert!(
        !r.text.contains("id=\"enrol-form\""),
        "no enrolment without TOTP"
    );
    assert!(r
        .text
        .contains("<link rel=\"manifest\" href=\"/eta/manifest.webmanifest\">"));
    assert!(r.text.contains("src=\"/assets/eta.js\""));
    assert!(
        r.text.contains("href=\"/me/location-data\""),
        "the data page is linked"
    );
    assert!(r.text.contains("96 hours"), "the retention is explained");
    assert!(
        r.text.contains("href=\"/eta\" aria-current=\"page\""),
        "nav link, current"
    );
    assert!(
        !r.text.contains("href=\"/tracking\""),
        "no tracking link for a traveller"
    );
    assert!(
        r.text.contains("id=\"no-profile\""),
        "no profile recorded for them"
    );

    // Someone in Kabul, at level 5, with its advisory.
    approve_level(&app, "AF-KAB", 5).await;
    let walker = person(&app, "walker", &[(Role::Traveller, "global", None)]).await;
    let device = enrol(&app, &walker).await;
    let v = report(&app, &device, KABUL).await;
    assert_eq!(v["area"]["code"], json!("AF-KAB"));
    let r = app.page_as("/eta", &walker).await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("data-area=\"AF-KAB\""), "{}", r.text);
    assert!(r.text.contains(">Kabul</a>"), "the area's name");
    assert!(r.text.contains("id=\"area-level\" data-level=\"5\""));
    assert!(
        r.text.contains("badge badge-large level-5"),
        "the level's colour"
    );
    assert!(
        r.text
            .contains("Avoid non-essential travel in AF-KAB; convoys only."),
        "the advisory"
    );
    assert!(r.text.contains("data-fresh=\"true\""));
    assert!(!r.text.contains("id=\"area-empty\""));
    assert!(
        r.text.contains("id=\"enrol-form\""),
        "TOTP: the enrolment form"
    );
    assert!(r.text.contains("data-device="), "the phone is listed");
    assert!(
        !r.text.contains(&device),
        "the device token never appears in a page"
    );
    // Entering the area wrote an eTA notification: listed, unread.
    assert!(
        r.text.contains("data-kind=\"eta.area_entered\""),
        "{}",
        r.text
    );

    // An alert for the area reaches the list, unread, linking to its page.
    let alert = issue_alert(&app, "Shooting near the ministries").await;
    let r = app.page_as("/eta", &walker).await;
    assert!(r.text.contains(&format!("href=\"/alerts/{alert}\"")));
    assert!(r.text.contains("Shooting near the ministries"));
    let id = note_id(&app, &walker, "eta.alert").await;
    assert!(r.text.contains(&format!(
        "<li class=\"notification unread\" data-id=\"{id}\" data-kind=\"eta.alert\">"
    )));
    assert!(r.text.contains("id=\"alerts-unread\" data-count=\"2\""));
    // Marked read without JavaScript: one, then all.
    let r = app.form_as("/eta/read", &walker, &[("id", &id)]).await;
    assert_eq!(r.status, 303);
    assert_eq!(location(&r), "/eta#alerts");
    let r = app.page_as("/eta", &walker).await;
    assert!(r.text.contains("id=\"alerts-unread\" data-count=\"1\""));
    app.form_as("/eta/read", &walker, &[]).await;
    let r = app.page_as("/eta", &walker).await;
    assert!(r.text.contains("id=\"alerts-unread\" data-count=\"0\""));
    // Not an id: refused.
    let r = app
        .form_as("/eta/read", &walker, &[("id", "not-an-id")])
        .await;
    assert_eq!(r.status, 422);

    // The next trips, linking to each trip.
    let t = app.token(&walker).await;
    let depart = (Utc::now() + Duration::days(3))
        .format("%Y-%m-%dT09:00")
        .to_string();
    let arrive = (Utc::now() + Duration::days(3))
        .format("%Y-%m-%dT18:00")
        .to_string();
    let trip = app
        .post_as(
            "/api/v1/travel-requests",
            &t,
            &json!({"purpose": "official", "legs": [{"from": "GVA", "to": "KBL", "depart": depart, "arrive": arrive}]}),
        )
        .await
        .ok(201);
    let r = app.page_as("/eta", &walker).await;
    assert!(r
        .text
        .contains(&format!("href=\"/trips/{}\"", trip["id"].as_str().unwrap())));

    // The alert's own page, for any signed-in user; its CAP linked.
    let r = app.page_as(&format!("/alerts/{alert}"), &traveller).await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("Shooting near the ministries"));
    assert!(r.text.contains("data-severity=\"severe\""));
    assert!(r.text.contains("Stay indoors until further notice."));
    assert!(r
        .text
        .contains("Gunfire reported near the ministry district."));
    assert!(r.text.contains("Test sa-af"), "issued by");
    assert!(r
        .text
        .contains(&format!("href=\"/api/v1/alerts/{alert}/cap\"")));
    assert!(r.text.contains("href=\"/areas/AF-KAB\""));
    let r = app
        .page_as(&format!("/alerts/{}", Uuid::new_v4()), &traveller)
        .await;
    assert_eq!(r.status, 404);
    assert!(r.text.contains("We could not find that"));
    let r = app
        .send(app.raw_client.get(app.url(&format!("/alerts/{alert}"))))
        .await;
    assert_eq!(r.status, 303, "signed-in users only");

    // In Arabic, right to left.
    let r = app
        .send(app.raw_client.get(app.url("/eta")).header(
            "cookie",
            format!(
                "warden_session={}; warden_lang=ar",
                app.token(&walker).await
            ),
        ))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("dir=\"rtl\""));
    assert!(r.text.contains("أنا بأمان"));
    app.finish().await;
}

/// The id of the person's newest notification of `kind`.
async fn note_id(app: &TestApp, u: &TestUser, kind: &str) -> String {
    app.store
        .list_notifications(u.id, false, &warden_store::PageRequest::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|n| n.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} notification"))
        .id
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn i_am_safe_works_without_javascript() {
    let app = spawn_app().await;
    let traveller = app.users.traveller.clone();
    let t = app.token(&traveller).await;
    assert_eq!(
        app.get_as("/api/v1/me/wellbeing", &t).await.ok(200),
        Value::Null
    );
    let r = app.page_as("/eta", &traveller).await;
    assert!(r.text.contains("id=\"wellbeing-none\""));
    assert!(r.text.contains("action=\"/eta/wellbeing\""));
    assert!(r
        .text
        .contains("name=\"status\" value=\"safe\" id=\"i-am-safe\""));
    assert!(r
        .text
        .contains("name=\"status\" value=\"need_help\" id=\"i-need-help\""));

    // "I am safe", for me and one dependant; an empty row is ignored.
    let r = app
        .form_as(
            "/eta/wellbeing",
            &traveller,
            &[
                ("dep_name", "Sami"),
                ("dep_status", "safe"),
                ("dep_name", ""),
                ("dep_status", ""),
                ("dep_name", "Rana"),
                ("dep_status", "need_help"),
                ("note", "At the guest house."),
                ("status", "safe"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(location(&r), "/eta?done=wellbeing#wellbeing");
    let w = app.get_as("/api/v1/me/wellbeing", &t).await.ok(200);
    assert_eq!(w["status"], json!("safe"));
    assert_eq!(w["channel"], json!("web"));
    assert_eq!(w["note"], json!("At the guest house."));
    assert_eq!(
        w["dependants"],
        json!([{"name": "Sami", "status": "safe"}, {"name": "Rana", "status": "need_help"}])
    );
    // The page shows it, and offers the names again.
    let r = app.page_as("/eta?done=wellbeing", &traveller).await;
    assert!(r
        .text
        .contains("Your answer was sent to your security team."));
    assert!(r
        .text
        .contains("id=\"wellbeing-status\" data-status=\"safe\""));
    assert!(r.text.contains("value=\"Sami\""));
    assert!(r.text.contains("value=\"Rana\""));

    // Refused, with the field named; nothing recorded.
    let audit = app.audit_count().await;
    let r = app
        .form_as(
            "/eta/wellbeing",
            &traveller,
            &[
                ("dep_name", "Sami"),
                ("dep_status", ""),
                ("dep_name", " "),
                ("dep_status", "safe"),
                ("status", "need_help"),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("class=\"error-summary\""));
    assert!(r.text.contains("href=\"#dep-1-name\""), "{}", r.text);
    let r = app
        .form_as("/eta/wellbeing", &traveller, &[("status", "fine")])
        .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("href=\"#i-am-safe\""));
    assert_eq!(app.audit_count().await, audit, "nothing written");
    assert_eq!(
        app.get_as("/api/v1/me/wellbeing", &t).await.ok(200)["status"],
        json!("safe")
    );
    // From another site: refused.
    let r = app
        .send(
            app.raw_client
                .post(app.url("/eta/wellbeing"))
                .header("cookie", format!("warden_session={t}"))
                .header("origin", "https://evil.example")
                .form(&[("status", "need_help")]),
        )
        .await;
    assert_eq!(r.status, 403);
    // "I need help" through the API, as the page's script sends it.
    let w = app
        .post_as("/api/v1/me/wellbeing", &t, &json!({"status": "need_help"}))
        .await
        .ok(201);
    assert_eq!(w["channel"], json!("api"));
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_profile_api_validates_and_saves() {
    let app = spawn_app().await;
    let leila = imported(&app, "AF-7781").await;
    let t = app.token(&leila).await;
    let p = app.get_as("/api/v1/me/profile", &t).await.ok(200);
    assert_eq!(p["phone"], json!("+93700000001"));
    assert_eq!(p["emergency_contacts"][0]["name"], json!("Omar Haidari"));
    assert_eq!(p["agency"], json!("UNDP"));

    // Signed out, or without a profile.
    app.call(Method::GET, "/api/v1/me/profile", None, None)
        .await
        .problem(401, None);
    let plain = app.token(&app.users.traveller.clone()).await;
    app.get_as("/api/v1/me/profile", &plain)
        .await
        .problem(404, None);
    app.call(
        Method::PUT,
        "/api/v1/me/profile",
        Some(&plain),
        Some(&json!({"phone": "+41791234567", "emergency_contacts": []})),
    )
    .await
    .problem(404, None);

    // Refused, naming the field; nothing changes.
    let audit = app.audit_count().await;
    let put = |body: Value| {
        let t = t.clone();
        let app = &app;
        async move {
            app.call(Method::PUT, "/api/v1/me/profile", Some(&t), Some(&body))
                .await
        }
    };
    let omar = json!({"name": "Omar Haidari", "relation": "brother", "phone": "+93 700 000 002"});
    for (body, field) in [
        (
            json!({"phone": "0700 123 456", "emergency_contacts": [omar]}),
            "phone",
        ),
        (
            json!({"phone": "+93 12", "emergency_contacts": [omar]}),
            "phone",
        ),
        (
            json!({"phone": "+93 700 abc 456", "emergency_contacts": [omar]}),
            "phone",
        ),
        (
            json!({"phone": "", "emergency_contacts": [omar, {"name": "Office", "relation": "employer"}]}),
            "emergency_contacts[1].phone",
        ),
        (
            json!({"phone": "", "emergency_contacts": [omar, {"name": "Office", "phone": "12345"}]}),
            "emergency_contacts[1].phone",
        ),
        (
            json!({"phone": "", "emergency_contacts": [{"name": " ", "phone": "+93700000003"}]}),
            "emergency_contacts[0].name",
        ),
        (
            json!({"phone": "", "emergency_contacts": [{"name": "Office", "email": "office at un.org"}]}),
            "emergency_contacts[0].email",
        ),
        (
            json!({"phone": "", "emergency_contacts": [omar, omar, omar, omar, omar, omar]}),
            "emergency_contacts",
        ),
        (
            json!({"phone": "", "emergency_contacts": [], "nationality": "FR"}),
            "nationality",
        ),
        (json!({"phone": 41}), "phone"),
    ] {
        let r = put(body.clone()).await;
        let p = r.problem(422, Some(field));
        assert!(
            p["detail"].as_str().unwrap().starts_with(field),
            "{body}: {p}"
        );
    }
    assert_eq!(app.audit_count().await, audit, "nothing written");
    assert_eq!(
        app.get_as("/api/v1/me/profile", &t).await.ok(200)["phone"],
        json!("+93700000001")
    );

    // Saved, the numbers in one form; the rest of the profile untouched.
    let v = put(json!({"phone": "+93 700-123 456", "emergency_contacts": [
        omar, {"name": "Duty officer", "email": "duty@undp.example"}]}))
    .await
    .ok(200);
    assert_eq!(v["phone"], json!("+93700123456"));
    assert_eq!(v["emergency_contacts"][0]["phone"], json!("+93700000002"));
    assert_eq!(
        v["emergency_contacts"][1]["email"],
        json!("duty@undp.example")
    );
    assert_eq!(v["emergency_contacts"][1]["phone"], json!(""));
    assert_eq!(v["agency"], json!("UNDP"));
    assert_eq!(v["duty_station"], json!("AF-KAB"));
    assert_eq!(app.get_as("/api/v1/me/profile", &t).await.ok(200), v);
    assert_eq!(app.audit_count().await, audit + 1, "one audit entry");
    let admin = app.token(&app.users.admin.clone()).await;
    let a = app
        .get_as("/api/v1/audit?action=profile.update", &admin)
        .await
        .ok(200);
    assert_eq!(a["items"][0]["target"], json!(format!("user:{}", leila.id)));

    // The same through the page's form, without JavaScript.
    let r = app.page_as("/eta", &leila).await;
    assert!(r.text.contains("id=\"profile-form\""));
    assert!(r.text.contains("value=\"+93700123456\""));
    assert!(r.text.contains("value=\"Duty officer\""));
    assert!(
        r.text.contains("id=\"contact-2-name\""),
        "an empty row for a new contact"
    );
    let r = app
        .form_as(
            "/eta/profile",
            &leila,
            &[
                ("phone", "+93700123456"),
                ("c_name", "Omar Haidari"),
                ("c_relation", "brother"),
                ("c_phone", "+93700000002"),
                ("c_email", ""),
                ("c_name", "Nadia"),
                ("c_relation", ""),
                ("c_phone", ""),
                ("c_email", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("href=\"#contact-1-phone\""), "{}", r.text);
    assert!(r.text.contains("value=\"Nadia\""), "what was typed is kept");
    let r = app
        .form_as(
            "/eta/profile",
            &leila,
            &[
                ("phone", "+93 700 999 999"),
                ("c_name", "Omar Haidari"),
                ("c_relation", "brother"),
                ("c_phone", "+93700000002"),
                ("c_email", ""),
                ("c_name", ""),
                ("c_relation", ""),
                ("c_phone", ""),
                ("c_email", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(location(&r), "/eta?done=profile#profile");
    let p = app.get_as("/api/v1/me/profile", &t).await.ok(200);
    assert_eq!(p["phone"], json!("+93700999999"));
    assert_eq!(p["emergency_contacts"].as_array().unwrap().len(), 1);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn enrolling_a_phone_without_javascript_shows_its_settings_once() {
    let app = spawn_app().await;
    let walker = person(&app, "walker", &[(Role::Traveller, "global", None)]).await;
    app.token(&walker).await;
    let r = app
        .form_as(
            "/eta/devices",
            &walker,
            &[("name", "Field phone"), ("totp", "000000")],
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(r.text.contains("class=\"error-summary\""));
    assert!(r.text.contains("value=\"Field phone\""));
    assert!(app.store.list_devices(walker.id).await.unwrap().is_empty());
    let code = walker.code_at(Utc::now().timestamp() + 30);
    let r = app
        .form_as(
            "/eta/devices",
            &walker,
            &[("name", "Field phone"), ("totp", &code)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.headers.get("cache-control").unwrap().to_str().unwrap(),
        "no-store"
    );
    let token = r
        .text
        .split("id=\"owntracks-token\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap()
        .to_string();
    assert!(token.len() >= 20, "{token}");
    assert!(r.text.contains("/api/v1/owntracks"));
    let devices = app.store.list_devices(walker.id).await.unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].platform, "owntracks");
    // The token works for OwnTracks (Basic, user name and token) …
    let r = app
        .send(
            app.client
                .post(app.url("/api/v1/owntracks"))
                .basic_auth("walker", Some(&token))
                .json(&json!({"_type": "location", "lat": KABUL.0, "lon": KABUL.1, "tst": Utc::now().timestamp()})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // … and is never shown again.
    let r = app.page_as("/eta", &walker).await;
    assert!(!r.text.contains(&token));
    assert!(r.text.contains("data-area=\"AF-KAB\""));
    // The device is removed from the page; its token stops working.
    let id = devices[0].id;
    let r = app
        .form_as(&format!("/eta/devices/{id}/revoke"), &walker, &[])
        .await;
    assert_eq!(location(&r), "/eta?done=revoked#this-phone");
    let r = app
        .send(
            app.client
                .post(app.url("/api/v1/owntracks"))
                .basic_auth("walker", Some(&token))
                .json(&json!({"_type": "location", "lat": KABUL.0, "lon": KABUL.1, "tst": Utc::now().timestamp()})),
        )
        .await;
    assert_eq!(r.status, 401);
    // Nobody else's device.
    let other = person(&app, "other", &[(Role::Traveller, "global", None)]).await;
    let other_device = enrol(&app, &other).await;
    let (d, _) = app
        .store
        .device_by_token(&warden_auth::token_digest(&other_device))
        .await
        .unwrap()
        .unwrap();
    let r = app
        .form_as(&format!("/eta/devices/{}/revoke", d.id), &walker, &[])
        .await;
    assert_eq!(r.status, 404);
    report(&app, &other_device, KABUL).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn my_location_data_is_mine_only_and_deletable() {
    let app = spawn_app().await;
    let a = person(&app, "anna", &[(Role::Traveller, "global", None)]).await;
    let b = person(&app, "boris", &[(Role::Traveller, "global", None)]).await;
    let (da, db) = (enrol(&app, &a).await, enrol(&app, &b).await);
    // Tracking in Kabul since yesterday: positions are kept.
    let now = warden_store::now_micros();
    app.store
        .authorise_tracking(
            &NewTracking {
                request: TrackingRequest {
                    area: AreaCode::parse("AF-KAB").unwrap(),
                    starts_at: now - Duration::hours(24),
                    ends_at: now + Duration::hours(24),
                    reason: "Crisis response, test window".into(),
                },
                authorised_by: app.users.do_af.id,
            },
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(report(&app, &da, KABUL).await["positions_kept"], json!(1));
    report(&app, &db, (34.5301, 69.1801)).await;

    let r = app.page_as("/me/location-data", &a).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("id=\"held-area\""));
    assert!(r.text.contains("Kabul"));
    assert!(r.text.contains("34.52810, 69.17230"), "my position");
    assert!(!r.text.contains("34.53010"), "not boris's");
    assert!(!r.text.contains("boris"));
    assert!(r.text.contains("id=\"positions-total\">1<"));
    assert!(r.text.contains("id=\"no-freezes\""));
    assert!(r.text.contains("Work phone"), "my devices");

    // A freeze on boris's data by an investigator; he sees it, with his position frozen.
    let inv = person(&app, "inv", &[(Role::Investigator, "global", None)]).await;
    let ti = app.token(&inv).await;
    app.post_as(
        "/api/v1/freezes",
        &ti,
        &json!({"person": b.id, "from": (Utc::now() - Duration::hours(1)).to_rfc3339(),
                "to": (Utc::now() + Duration::hours(1)).to_rfc3339(),
                "case_reference": "OIOS-2026-0001", "reason": "Incident near the airport road"}),
    )
    .await
    .ok(201);
    let r = app.page_as("/me/location-data", &b).await;
    assert!(r.text.contains("OIOS-2026-0001"));
    assert!(r.text.contains("data-frozen"));
    let r = app.page_as("/me/location-data", &a).await;
    assert!(!r.text.contains("OIOS-2026-0001"), "not on anna's page");

    // Deleting: anna's all goes; boris's frozen position stays.
    let r = app.form_as("/me/location-data/delete", &a, &[]).await;
    assert_eq!(r.status, 303);
    assert_eq!(location(&r), "/me/location-data?deleted=1&frozen=0&last=1");
    let r = app.page_as(&location(&r), &a).await;
    assert!(r
        .text
        .contains("Deleted: 1 precise positions. Your last area is deleted too."));
    assert!(r.text.contains("id=\"held-none\""));
    assert!(r.text.contains("id=\"nothing-to-delete\""));
    assert!(app.store.last_location(a.id).await.unwrap().is_none());
    let r = app.form_as("/me/location-data/delete", &b, &[]).await;
    // (a freeze covering now keeps the last area too)
    assert_eq!(location(&r), "/me/location-data?deleted=0&frozen=1&last=0");
    let r = app.page_as(&location(&r), &b).await;
    assert!(r.text.contains(
        "Deleted: 0 precise positions. Kept because an investigation froze them: 1 positions."
    ));
    assert_eq!(
        app.store
            .held_location_data(b.id)
            .await
            .unwrap()
            .positions
            .len(),
        1
    );
    // Signed out: to the login page.
    let r = app
        .send(app.raw_client.get(app.url("/me/location-data")))
        .await;
    assert_eq!(r.status, 303);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tracking_page_for_security_roles_and_the_do() {
    let app = spawn_app().await;
    let u = app.users.clone();
    // Not for travellers: a 403 page.
    let r = app.page_as("/tracking", &u.traveller).await;
    assert_eq!(r.status, 403);
    assert!(r.text.contains("Only security roles oversee tracking."));
    let r = app.page_as("/eta", &u.sa_af).await;
    assert!(
        r.text.contains("href=\"/tracking\""),
        "nav link for security roles"
    );

    // An authorisation in force for eight days (written through the store:
    // the forms only open windows from now), and one in Mali.
    let now = warden_store::now_micros();
    let old = app
        .store
        .authorise_tracking(
            &NewTracking {
                request: TrackingRequest {
                    area: AreaCode::parse("AF-HER").unwrap(),
                    starts_at: now - Duration::days(8),
                    ends_at: now + Duration::days(2),
                    reason: "Flooding and evacuation of the western districts".into(),
                },
                authorised_by: u.do_af.id,
            },
            &ctx(),
        )
        .await
        .unwrap();
    let mali = app
        .store
        .authorise_tracking(
            &NewTracking {
                request: TrackingRequest {
                    area: AreaCode::parse("ML-BKO").unwrap(),
                    starts_at: now - Duration::hours(2),
                    ends_at: now + Duration::days(1),
                    reason: "Unrest in the capital after the elections".into(),
                },
                authorised_by: u.do_ml.id,
            },
            &ctx(),
        )
        .await
        .unwrap();

    // The adviser oversees Afghanistan: flagged overdue, no forms.
    let r = app.page_as("/tracking", &u.sa_af).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.text.contains(&format!(
            "id=\"tracking-{}\" data-state=\"active\" data-overdue",
            old.id
        )),
        "{}",
        r.text
    );
    assert!(r.text.contains("In force for over 7 days"));
    assert!(!r.text.contains(&mali.id.to_string()), "not Mali");
    assert!(
        !r.text.contains("id=\"authorise-form\""),
        "only the DO authorises"
    );
    assert!(!r
        .text
        .contains(&format!("action=\"/tracking/{}/end\"", old.id)));
    // The administrator (global) sees both countries.
    let r = app.page_as("/tracking", &u.admin).await;
    assert!(r.text.contains(&old.id.to_string()) && r.text.contains(&mali.id.to_string()));

    // The DO of Afghanistan: the form, with Afghanistan's areas.
    let r = app.page_as("/tracking", &u.do_af).await;
    assert!(r.text.contains("id=\"authorise-form\""));
    assert!(r.text.contains("<option value=\"AF-KAB\""));
    assert!(!r.text.contains("<option value=\"ML-BKO\""));
    assert!(r
        .text
        .contains(&format!("action=\"/tracking/{}/end\"", old.id)));

    // Refused, with the field named; nothing authorised.
    let ends = (Utc::now() + Duration::hours(12))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let count = |app: &TestApp| {
        let store = app.store.clone();
        async move {
            store
                .list_tracking(&Default::default(), &Default::default())
                .await
                .unwrap()
                .total
        }
    };
    let before = count(&app).await;
    for (form, field) in [
        (
            vec![
                ("area", "AF-KAB"),
                ("ends_at", ends.as_str()),
                ("reason", "crisis"),
            ],
            "reason",
        ),
        (
            vec![
                ("area", "AF-KAB"),
                ("ends_at", "tomorrow"),
                ("reason", "Armed clashes near the airport"),
            ],
            "ends_at",
        ),
        (
            vec![
                ("area", "AF-KAB"),
                ("ends_at", "2001-01-01T00:00"),
                ("reason", "Armed clashes near the airport"),
            ],
            "ends_at",
        ),
        (
            vec![
                ("area", "XX-NOPE"),
                ("ends_at", ends.as_str()),
                ("reason", "Armed clashes near the airport"),
            ],
            "area",
        ),
    ] {
        let r = app.form_as("/tracking", &u.do_af, &form).await;
        assert_eq!(r.status, 422, "{form:?}: {}", r.text);
        assert!(
            r.text.contains(&format!("href=\"#{field}\"")),
            "{form:?}: {}",
            r.text
        );
        assert!(r.text.contains("class=\"error-summary\""));
    }
    // Mali's area is not the Afghanistan DO's to authorise.
    let r = app
        .form_as(
            "/tracking",
            &u.do_af,
            &[
                ("area", "ML-BKO"),
                ("ends_at", &ends),
                ("reason", "Armed clashes near the airport"),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
    let r = app
        .form_as(
            "/tracking",
            &u.sa_af,
            &[
                ("area", "AF-KAB"),
                ("ends_at", &ends),
                ("reason", "Armed clashes near the airport"),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(count(&app).await, before);

    // Authorised.
    let r = app
        .form_as(
            "/tracking",
            &u.do_af,
            &[
                ("area", "AF-KAB"),
                ("ends_at", &ends),
                ("reason", "Armed clashes near the airport"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(location(&r), "/tracking?done=authorised");
    assert_eq!(count(&app).await, before + 1);
    let r = app.page_as("/tracking?done=authorised", &u.do_af).await;
    assert!(r.text.contains("Tracking is authorised."));
    assert!(r.text.contains("Armed clashes near the airport"));

    // Ending: a reason is needed; only the DO; then it is over.
    let r = app
        .form_as(
            &format!("/tracking/{}/end", old.id),
            &u.do_af,
            &[("reason", " ")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("id=\"end-error\""));
    let r = app
        .form_as(
            &format!("/tracking/{}/end", old.id),
            &u.sa_af,
            &[("reason", "Calm again")],
        )
        .await;
    assert_eq!(r.status, 403);
    let r = app
        .form_as(
            &format!("/tracking/{}/end", old.id),
            &u.do_af,
            &[("reason", "Water receded, evacuation over")],
        )
        .await;
    assert_eq!(location(&r), "/tracking?done=ended");
    let r = app.page_as("/tracking", &u.sa_af).await;
    assert!(r
        .text
        .contains(&format!("id=\"tracking-{}\" data-state=\"ended\"", old.id)));
    assert!(r.text.contains("Water receded, evacuation over"));
    // Ended twice: the first stands.
    let r = app
        .form_as(
            &format!("/tracking/{}/end", old.id),
            &u.do_af,
            &[("reason", "again")],
        )
        .await;
    assert_eq!(r.status, 409);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_app_is_installable_manifest_and_service_worker() {
    let app = spawn_app().await;
    let r = app.get("/eta/manifest.webmanifest").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type(), "application/manifest+json");
    let m = r.json();
    assert_eq!(m["start_url"], json!("/eta"));
    assert_eq!(m["scope"], json!("/eta"));
    assert_eq!(m["display"], json!("standalone"));
    for icon in m["icons"].as_array().unwrap() {
        let r = app.get(icon["src"].as_str().unwrap()).await;
        assert_eq!(r.status, 200, "{icon}");
        assert_eq!(r.content_type(), icon["type"].as_str().unwrap());
    }
    assert!(m["icons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["sizes"] == json!("512x512")));

    let r = app.get("/eta/sw.js").await;
    assert_eq!(r.status, 200);
    assert!(r.content_type().starts_with("text/javascript"));
    assert_eq!(
        r.headers
            .get("service-worker-allowed")
            .unwrap()
            .to_str()
            .unwrap(),
        "/eta"
    );
    assert!(
        r.text.contains("'/assets/eta.js'"),
        "the app shell is cached"
    );
    let r = app.get("/assets/eta.js").await;
    assert_eq!(r.status, 200);
    assert!(r.content_type().starts_with("text/javascript"));
    app.finish().await;
}
