//! What the service keeps in memory to answer travel submissions quickly is
//! never allowed to outlive a change made through it: a session signed out
//! is refused at once, a newly published airline list and a new security
//! adviser show in the very next answer. SQLite and PostgreSQL.

mod common;

use common::{Backend, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

fn day(n: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(n))
        .format("%Y-%m-%dT10:00:00Z")
        .to_string()
}

fn trip(flight: &str) -> Value {
    json!({"purpose": "official", "legs": [
        {"from": "GVA", "to": "KBL", "depart": day(4), "arrive": day(5), "flight": flight}]})
}

async fn signed_out_session_is_refused_at_once_on(app: TestApp) {
    let u = app.users.traveller.clone();
    let t = app.token(&u).await;
    // Used twice, so that the second answer may come from memory.
    app.post_as("/api/v1/travel-requests", &t, &trip("ET 308"))
        .await
        .ok(201);
    app.get_as("/api/v1/notifications", &t).await.ok(200);
    let out = app.form_as("/logout", &u, &[]).await;
    assert_eq!(out.status, 303, "{}", out.text);
    app.get_as("/api/v1/notifications", &t)
        .await
        .problem(401, None);
    app.post_as("/api/v1/travel-requests", &t, &trip("ET 308"))
        .await
        .problem(401, None);
    app.finish().await;
}

#[tokio::test]
async fn signed_out_session_is_refused_at_once() {
    signed_out_session_is_refused_at_once_on(common::spawn_app().await).await;
}

#[tokio::test]
async fn signed_out_session_is_refused_at_once_postgres() {
    signed_out_session_is_refused_at_once_on(common::spawn_app_on(Backend::Postgres).await).await;
}

async fn airline_list_and_advisers_seen_at_once_on(app: TestApp) {
    let admin = app.token(&app.users.admin.clone()).await;
    let tr = app.token(&app.users.traveller.clone()).await;
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let publish = |codes: &[&str]| {
        json!({"airlines": codes.iter().map(|c| json!({"code": c, "name": format!("Airline {c}")})).collect::<Vec<_>>(),
               "note": "monthly review"})
    };
    app.call(
        Method::PUT,
        &format!("/api/v1/airlines/{month}"),
        Some(&admin),
        Some(&publish(&["KQ"])),
    )
    .await
    .ok(200);
    for _ in 0..2 {
        let r = app
            .post_as("/api/v1/travel-requests", &tr, &trip("ET 308"))
            .await
            .ok(201);
        assert_eq!(r["legs"][0]["airline_approved"], false, "{r}");
        assert_eq!(r["flags"], json!(["airline_not_approved:1"]));
    }
    app.call(
        Method::PUT,
        &format!("/api/v1/airlines/{month}"),
        Some(&admin),
        Some(&publish(&["KQ", "ET"])),
    )
    .await
    .ok(200);
    let r = app
        .post_as("/api/v1/travel-requests", &tr, &trip("ET 308"))
        .await
        .ok(201);
    assert_eq!(r["legs"][0]["airline_approved"], true, "{r}");
    assert_eq!(r["flags"], json!([]));

    // A security adviser for Kabul created through the API is named at once.
    let before = r["legs"][0]["reviewers"].as_array().unwrap().clone();
    assert!(!before.iter().any(|n| n == "Kabul Adviser"), "{r}");
    app.post_as(
        "/api/v1/users",
        &admin,
        &json!({"username": "sa-kabul", "display_name": "Kabul Adviser", "email": "sa-kabul@example.org",
                "password": "a long enough password 123",
                "grants": [{"role": "security_adviser", "scope": "AF-KAB"}]}),
    )
    .await
    .ok(201);
    let r = app
        .post_as("/api/v1/travel-requests", &tr, &trip("ET 308"))
        .await
        .ok(201);
    let after = r["legs"][0]["reviewers"].as_array().unwrap();
    assert!(after.iter().any(|n| n == "Kabul Adviser"), "{r}");
    assert_eq!(after.len(), before.len() + 1, "{r}");
    app.finish().await;
}

#[tokio::test]
async fn airline_list_and_advisers_seen_at_once() {
    airline_list_and_advisers_seen_at_once_on(common::spawn_app().await).await;
}

#[tokio::test]
async fn airline_list_and_advisers_seen_at_once_postgres() {
    airline_list_and_advisers_seen_at_once_on(common::spawn_app_on(Backend::Postgres).await).await;
}
