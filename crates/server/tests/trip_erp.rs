//! TRIP over HTTP, continued: travel authorisations from an ERP, returned legs
//! answered by the traveller, the approved-airline list, and notifications
//! e-mailed through a real SMTP server (Python's aiosmtpd). SQLite.

mod common;

use common::{spawn_app, TestApp, TestUser, PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;
use uuid::Uuid;
use warden_domain::{Role, RoleGrant, Scope};
use warden_server::mailer::{Mailer, MailerConfig};
use warden_store::{AuditContext, NewUser};

/// A user with TOTP and one role, in the test agency.
async fn extra_user(app: &TestApp, name: &str, role: Role, scope: &str) -> TestUser {
    let ctx = AuditContext::system("test setup");
    let agency = app.store.get_agency_by_code("UNDP").await.unwrap().unwrap();
    let u = app
        .store
        .create_user(
            &NewUser {
                username: name.into(),
                display_name: format!("Test {name}"),
                email: format!("{name}@example.org"),
                agency: Some(agency.id),
                password_hash: warden_auth::hash_password(PASSWORD).unwrap(),
                grants: vec![RoleGrant {
                    role,
                    scope: Scope::parse(scope).unwrap(),
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
        username: name.into(),
        totp: Some(s.as_bytes().to_vec()),
    }
}

fn day(d: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(d))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

async fn import_profiles(app: &TestApp) {
    let agency = app.store.get_agency_by_code("UNDP").await.unwrap().unwrap();
    let state = app_state(app).await;
    let mut rows = vec![];
    for (id, name) in [("4711", "Nadia Rahimi"), ("4712", "Omar Diallo")] {
        rows.push(
            warden_server::erp::build_profile(
                &state,
                agency.id,
                &warden_server::erp::ProfileRow {
                    personnel_id: id.into(),
                    name: name.into(),
                    email: format!("{id}@undp.example"),
                    category: "international staff".into(),
                    nationality: "SN".into(),
                    certificates: "BSAFE:2025-01-15:2028-01-15".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap(),
        );
    }
    app.store
        .import_profiles(&rows, &AuditContext::system("test"))
        .await
        .unwrap();
}

async fn app_state(app: &TestApp) -> warden_server::state::AppState {
    warden_server::state::AppState::new(app.store.clone(), warden_server::config::Config::default())
        .await
        .unwrap()
}

fn ta(n: &str, traveller: &str, to: &str, d: i64, status: &str) -> Value {
    json!({"ta_number": n, "traveller": traveller, "status": status,
           "legs": [{"from": "GVA", "to": to, "depart": day(d), "arrive": day(d + 1), "flight": "ET 308"}]})
}

#[tokio::test]
async fn travel_authorisations_from_the_erp() {
    let app = spawn_app().await;
    import_profiles(&app).await;
    let fp = extra_user(&app, "fp-undp", Role::AgencyFocalPoint, "global").await;
    let fp_t = app.token(&fp).await;
    let do_t = app.token(&app.users.do_af.clone()).await;
    app.call(
        Method::PUT,
        "/api/v1/areas/AF-KAB/processing-mode",
        Some(&do_t),
        Some(&json!({"mode": "manual", "reason": "SMT"})),
    )
    .await
    .ok(200);

    let batch = json!([
        ta("TA-1", "4711", "Kabul, AF", 5, "approved"),
        ta("TA-2", "4712", "ML-BKO", 6, "issued")
    ]);
    let r = app
        .post_as("/api/v1/travel-authorisations", &fp_t, &batch)
        .await
        .ok(200);
    let outcomes: Vec<&str> = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, vec!["created", "created"]);
    let id = r["results"][0]["request"].as_str().unwrap().to_string();
    let trip = app
        .get_as(&format!("/api/v1/travel-requests/{id}"), &do_t)
        .await
        .ok(200);
    assert_eq!(trip["ta_number"], "TA-1");
    assert_eq!(trip["traveller_name"], "Nadia Rahimi");
    assert_eq!(
        (
            trip["legs"][0]["mode"].as_str(),
            trip["legs"][0]["status"].as_str()
        ),
        (Some("clearance"), Some("pending")),
        "a TA still needs its own clearance in a manual area"
    );
    assert_eq!(
        trip["certificates"][0]["name"], "BSAFE",
        "shown to the reviewer"
    );
    assert_eq!(trip["certificates"][0]["valid"], true);
    let page = app
        .page_as(&format!("/trips/{id}"), &app.users.do_af.clone())
        .await;
    assert!(
        page.text.contains("id=\"certificates\"") && page.text.contains("BSAFE"),
        "the reviewer sees the certificates on the trip page"
    );

    // The same batch again: nothing new.
    let again = app
        .post_as("/api/v1/travel-authorisations", &fp_t, &batch)
        .await
        .ok(200);
    assert!(again["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["outcome"] == "unchanged"));
    assert_eq!(again["results"][0]["request"].as_str(), Some(id.as_str()));

    // One bad TA refuses the whole batch, naming it; nothing is written.
    let bad = json!([
        ta("TA-3", "4711", "ML-BKO", 7, "approved"),
        ta("TA-4", "4712", "Atlantis", 8, "approved")
    ]);
    let p = app
        .post_as("/api/v1/travel-authorisations", &fp_t, &bad)
        .await
        .problem(422, Some("[1].legs[0].to"));
    assert!(p["detail"].as_str().unwrap().contains("Atlantis"), "{p}");
    let unknown = json!(ta("TA-5", "9999", "ML-BKO", 7, "approved"));
    app.post_as("/api/v1/travel-authorisations", &fp_t, &unknown)
        .await
        .problem(422, Some("traveller"));
    let weird = json!(ta("TA-6", "4711", "ML-BKO", 7, "lost"));
    app.post_as("/api/v1/travel-authorisations", &fp_t, &weird)
        .await
        .problem(422, Some("status"));
    let again = app
        .post_as(
            "/api/v1/travel-authorisations",
            &fp_t,
            &json!([ta("TA-3", "4711", "ML-BKO", 7, "approved")]),
        )
        .await
        .ok(200);
    assert_eq!(
        again["results"][0]["outcome"], "created",
        "TA-3 was not written by the refused batch"
    );

    // Cancelled in the ERP: the trip is cancelled.
    let c = app
        .post_as(
            "/api/v1/travel-authorisations",
            &fp_t,
            &ta("TA-2", "4712", "ML-BKO", 6, "cancelled"),
        )
        .await
        .ok(200);
    assert_eq!(c["results"][0]["outcome"], "cancelled");
    let two = c["results"][0]["request"].as_str().unwrap();
    let admin_t = app.token(&app.users.admin.clone()).await;
    let t2 = app
        .get_as(&format!("/api/v1/travel-requests/{two}"), &admin_t)
        .await
        .ok(200);
    assert_eq!(t2["status"], "cancelled");

    // Only focal points (for their agency) and administrators send TAs.
    let tr = app.token(&app.users.traveller.clone()).await;
    app.post_as("/api/v1/travel-authorisations", &tr, &batch)
        .await
        .problem(403, None);
    app.call(
        Method::POST,
        "/api/v1/travel-authorisations?agency=NOPE",
        Some(&admin_t),
        Some(&batch),
    )
    .await
    .problem(422, Some("agency"));
    app.finish().await;
}

#[tokio::test]
async fn a_returned_leg_is_answered_and_resubmitted() {
    let app = spawn_app().await;
    let do_t = app.token(&app.users.do_af.clone()).await;
    app.call(
        Method::PUT,
        "/api/v1/areas/AF-KAB/processing-mode",
        Some(&do_t),
        Some(&json!({"mode": "manual", "reason": "SMT"})),
    )
    .await
    .ok(200);
    let tr = app.token(&app.users.traveller.clone()).await;
    let r = app
        .post_as(
            "/api/v1/travel-requests",
            &tr,
            &json!({"purpose": "official", "legs": [{"from": "GVA", "to": "KBL", "depart": day(4), "arrive": day(5)}]}),
        )
        .await
        .ok(201);
    let id = r["id"].as_str().unwrap();
    let sa = app.token(&app.users.sa_af.clone()).await;
    app.post_as(
        &format!("/api/v1/travel-requests/{id}/legs/1/decision"),
        &sa,
        &json!({"decision": "return", "comment": "Where will you stay?"}),
    )
    .await
    .ok(200);
    // Someone else cannot answer; an empty answer is refused.
    app.post_as(
        &format!("/api/v1/travel-requests/{id}/legs/1/answer"),
        &sa,
        &json!({"answer": "x"}),
    )
    .await
    .problem(403, None);
    app.post_as(
        &format!("/api/v1/travel-requests/{id}/legs/1/answer"),
        &tr,
        &json!({"answer": "  "}),
    )
    .await
    .problem(422, Some("answer"));
    let a = app
        .post_as(
            &format!("/api/v1/travel-requests/{id}/legs/1/answer"),
            &tr,
            &json!({"answer": "UN compound, Kabul"}),
        )
        .await
        .ok(200);
    assert_eq!(a["legs"][0]["status"], "pending");
    assert_eq!(a["legs"][0]["answer"], "UN compound, Kabul");
    assert_eq!(a["legs"][0]["comment"], "Where will you stay?");
    assert_eq!(a["status"], "pending");
    app.post_as(
        &format!("/api/v1/travel-requests/{id}/legs/1/answer"),
        &tr,
        &json!({"answer": "again"}),
    )
    .await
    .problem(409, None);
    // The traveller was told of the return, in the app.
    let n = app
        .get_as("/api/v1/notifications?unread=true", &tr)
        .await
        .ok(200);
    assert!(n["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["kind"] == "leg_decided"
            && x["body"].as_str().unwrap().contains("Where will you stay?")));
    let m = app
        .post_as("/api/v1/notifications/read", &tr, &json!({}))
        .await
        .ok(200);
    assert!(m["marked"].as_u64().unwrap() >= 1);
    assert_eq!(
        app.get_as("/api/v1/notifications?unread=true", &tr)
            .await
            .ok(200)["total"],
        0
    );
    app.finish().await;
}

#[tokio::test]
async fn approved_airline_list_flags_itineraries() {
    let app = spawn_app().await;
    let admin = app.token(&app.users.admin.clone()).await;
    let sa = app.token(&app.users.sa_af.clone()).await;
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let list = json!({"airlines": [{"code": "KQ", "name": "Kenya Airways"}, {"code": "ET", "name": "Ethiopian Airlines"}], "note": "monthly review"});
    app.call(
        Method::PUT,
        &format!("/api/v1/airlines/{month}"),
        Some(&sa),
        Some(&list),
    )
    .await
    .problem(403, None);
    app.call(
        Method::PUT,
        &format!("/api/v1/airlines/{month}"),
        Some(&admin),
        Some(&json!({"airlines": [{"code": "KQ", "name": "Kenya Airways"}, {"code": "kq", "name": "dup"}]})),
    )
    .await
    .problem(422, Some("airlines[1].code"));
    app.call(
        Method::PUT,
        "/api/v1/airlines/2026-13",
        Some(&admin),
        Some(&list),
    )
    .await
    .problem(422, Some("month"));
    let l = app
        .call(
            Method::PUT,
            &format!("/api/v1/airlines/{month}"),
            Some(&admin),
            Some(&list),
        )
        .await
        .ok(200);
    assert_eq!(l["airlines"][0]["code"], "ET");
    let cur = app.get_as("/api/v1/airlines", &sa).await.ok(200);
    assert_eq!(cur["current"]["month"], month);
    assert_eq!(cur["history"][0]["count"], 2);

    let tr = app.token(&app.users.traveller.clone()).await;
    let r = app
        .post_as(
            "/api/v1/travel-requests",
            &tr,
            &json!({"purpose": "official", "legs": [
                {"from": "GVA", "to": "BKO", "depart": day(4), "arrive": day(5), "flight": "KQ 117"},
                {"from": "BKO", "to": "KBL", "depart": day(6), "arrive": day(7), "flight": "XY 9"}]}),
        )
        .await;
    let r = r.ok(201);
    assert_eq!(r["legs"][0]["airline"], "KQ");
    assert_eq!(r["legs"][0]["airline_approved"], true);
    assert_eq!(r["legs"][1]["airline_approved"], false);
    assert_eq!(r["flags"], json!(["airline_not_approved:2"]));
    app.post_as(
        "/api/v1/travel-requests",
        &tr,
        &json!({"purpose": "official", "legs": [{"from": "GVA", "to": "KBL", "depart": day(4), "arrive": day(5), "flight": "308"}]}),
    )
    .await
    .problem(422, Some("legs[0].flight"));
    app.finish().await;
}

/// A real SMTP server: `python3 -m aiosmtpd` delivering into a Maildir.
struct SmtpServer {
    child: std::process::Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl SmtpServer {
    async fn start() -> SmtpServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("warden-smtp-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut child = std::process::Command::new("python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(dir.join("maildir"))
            .spawn()
            .expect("python3 -m aiosmtpd (pip install aiosmtpd; scripts/test.sh installs it)");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return SmtpServer { child, port, dir };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("aiosmtpd did not start on port {port}");
    }

    fn messages(&self) -> Vec<String> {
        let new = self.dir.join("maildir").join("new");
        let Ok(rd) = std::fs::read_dir(&new) else {
            return vec![];
        };
        rd.map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
        .map(|l| l[name.len() + 1..].trim())
}

#[tokio::test]
async fn a_mode_change_is_emailed_to_travellers_and_advisers() {
    let app = spawn_app().await;
    let smtp = SmtpServer::start().await;
    let tr = app.token(&app.users.traveller.clone()).await;
    let r = app
        .post_as(
            "/api/v1/travel-requests",
            &tr,
            &json!({"purpose": "official", "legs": [{"from": "GVA", "to": "KBL", "depart": day(9), "arrive": day(10)}]}),
        )
        .await
        .ok(201);
    assert_eq!(r["legs"][0]["status"], "acknowledged");
    let do_t = app.token(&app.users.do_af.clone()).await;
    app.call(
        Method::PUT,
        "/api/v1/areas/AF-KAB/processing-mode",
        Some(&do_t),
        Some(&json!({"mode": "manual", "reason": "SMT decision"})),
    )
    .await
    .ok(200);
    // In the app at once.
    let n = app.get_as("/api/v1/notifications", &tr).await.ok(200);
    assert_eq!(n["items"][0]["kind"], "leg_reevaluated");
    assert_eq!(n["items"][0]["email"], "pending");

    let mailer = Mailer::new(
        app.store.clone(),
        MailerConfig {
            host: "127.0.0.1".into(),
            port: smtp.port,
            from: "Warden <warden@example.org>".into(),
            base_url: "https://warden.example.org".into(),
            poll: Duration::from_millis(100),
        },
    )
    .unwrap();
    let sent = mailer.send_due().await.unwrap();
    assert!(
        sent >= 2,
        "the traveller and the security adviser(s): {sent}"
    );
    let mut msgs = vec![];
    for _ in 0..50 {
        msgs = smtp.messages();
        if msgs.len() >= sent {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let to_traveller = msgs
        .iter()
        .find(|m| header(m, "To").is_some_and(|t| t.contains("traveller@example.org")))
        .unwrap_or_else(|| panic!("no e-mail to the traveller in {msgs:?}"));
    assert!(header(to_traveller, "Subject")
        .unwrap()
        .contains("Security clearance now needed"));
    assert!(to_traveller.contains(&format!(
        "https://warden.example.org/trips/{}",
        r["id"].as_str().unwrap()
    )));
    assert!(
        msgs.iter()
            .any(|m| header(m, "To").is_some_and(|t| t.contains("sa-af@example.org"))),
        "{msgs:?}"
    );
    let n = app.get_as("/api/v1/notifications", &tr).await.ok(200);
    assert_eq!(n["items"][0]["email"], "sent");
    assert_eq!(mailer.send_due().await.unwrap(), 0, "each e-mail goes once");
    app.finish().await;
}

#[tokio::test]
async fn the_traveller_answers_in_the_browser_and_reads_notifications() {
    let app = spawn_app().await;
    let do_t = app.token(&app.users.do_af.clone()).await;
    app.call(
        Method::PUT,
        "/api/v1/areas/AF-KAB/processing-mode",
        Some(&do_t),
        Some(&json!({"mode": "manual", "reason": "SMT"})),
    )
    .await
    .ok(200);
    let traveller = app.users.traveller.clone();
    let tr = app.token(&traveller).await;
    let r = app
        .post_as(
            "/api/v1/travel-requests",
            &tr,
            &json!({"purpose": "official", "legs": [{"from": "GVA", "to": "KBL", "depart": day(4), "arrive": day(5), "flight": "ZZ 1"}]}),
        )
        .await
        .ok(201);
    let id = r["id"].as_str().unwrap();
    let sa = app.token(&app.users.sa_af.clone()).await;
    app.post_as(
        &format!("/api/v1/travel-requests/{id}/legs/1/decision"),
        &sa,
        &json!({"decision": "return", "comment": "Which hotel?"}),
    )
    .await
    .ok(200);
    let page = app.page_as(&format!("/trips/{id}"), &traveller).await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("id=\"answer-1\""),
        "the answer form is offered"
    );
    // An empty answer: the form again with the message, nothing changed.
    let bad = app
        .form_as(
            &format!("/trips/{id}/legs/1/answer"),
            &traveller,
            &[("answer", " ")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.text.contains("answer"));
    let ok = app
        .form_as(
            &format!("/trips/{id}/legs/1/answer"),
            &traveller,
            &[("answer", "Serena Hotel")],
        )
        .await;
    assert_eq!(ok.status, 303);
    let page = app.page_as(&format!("/trips/{id}"), &traveller).await;
    assert!(page.text.contains("Serena Hotel"));
    assert!(!page.text.contains("id=\"answer-1\""), "answered once");
    // The reviewer sees the answer.
    let page = app
        .page_as(&format!("/trips/{id}"), &app.users.sa_af.clone())
        .await;
    assert!(page.text.contains("Serena Hotel"));
    // Notifications page: the return is listed; marking read empties the unread list.
    let notes = app.page_as("/notifications", &traveller).await;
    assert_eq!(notes.status, 200);
    assert!(
        notes.text.contains("More information needed"),
        "{}",
        notes.text
    );
    assert!(notes.text.contains("id=\"mark-read\""));
    let r = app.form_as("/notifications/read", &traveller, &[]).await;
    assert_eq!(r.status, 303);
    let notes = app.page_as("/notifications", &traveller).await;
    assert!(!notes.text.contains("id=\"mark-read\""));
    app.finish().await;
}
