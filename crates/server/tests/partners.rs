//! Exchange with other agencies' systems over HTTP: the administrators'
//! partner registry, the headcount exchange (its authorisation matrix, bad
//! input named, idempotence), partner figures on the area headcount and the
//! roll-call board, and CAP 1.2 to partners (the pull feed and pushes to a
//! real HTTP server started here, with a failure retried after back-off),
//! every CAP message validated against the OASIS schema. On SQLite and
//! PostgreSQL.

mod common;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use common::{assert_valid_cap, spawn_app_on, Backend, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use warden_store::{AuditQuery, CapSubject, PageRequest};

/// What the partner's endpoint received.
#[derive(Default)]
struct Received {
    /// (content type, partner header, message header, body)
    posts: Vec<(String, String, String, String)>,
    /// Requests to refuse with 503 before accepting.
    fail_first: usize,
    seen: usize,
}

/// An HTTP server on a loopback port that records the CAP messages POSTed to it.
async fn partner_endpoint() -> (String, Arc<Mutex<Received>>) {
    let rec = Arc::new(Mutex::new(Received {
        fail_first: 1,
        ..Default::default()
    }));
    let r = rec.clone();
    let app = axum::Router::new().route(
        "/cap",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let r = r.clone();
            async move {
                let mut g = r.lock().unwrap();
                g.seen += 1;
                if g.seen <= g.fail_first {
                    return (StatusCode::SERVICE_UNAVAILABLE, "busy");
                }
                let h = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string()
                };
                g.posts.push((
                    h("content-type"),
                    h("x-warden-partner"),
                    h("x-warden-message"),
                    String::from_utf8_lossy(&body).to_string(),
                ));
                (StatusCode::OK, "received")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cap", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, rec)
}

async fn audits(app: &TestApp, prefix: &str) -> Vec<warden_store::AuditEntry> {
    app.store
        .list_audit(&AuditQuery {
            action_prefix: Some(prefix.into()),
            target: None,
            actor: None,
            page: PageRequest::default(),
        })
        .await
        .unwrap()
        .items
}

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

async fn approve_level(app: &TestApp, area: &str, level: i64) {
    let u = app.users.clone();
    let sa = app.token(&u.sa_af).await;
    let desk = app.token(&u.desk_af).await;
    let dof = app.token(&u.do_af).await;
    let a = app
        .post_as("/api/v1/assessments", &sa, &common::proposal(area, level))
        .await
        .ok(201);
    let id = a["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/assessments/{id}/actions");
    app.post_as(&path, &desk, &json!({"action": "validate"}))
        .await
        .ok(200);
    let a = app
        .post_as(
            &path,
            &dof,
            &json!({"action": "approve", "smt_consulted": [u.smt_af.id]}),
        )
        .await
        .ok(200);
    assert_eq!(a["status"], "approved", "{a}");
}

async fn partners(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let u = app.users.clone();
    let iom = app.agency("IOM").await;
    app.agency("WFP").await;
    let (push_url, received) = partner_endpoint().await;
    let admin = app.token(&u.admin).await;
    let do_af = app.token(&u.do_af).await;
    let traveller = app.token(&u.traveller).await;

    // ---- the registry: administrators only, input named ----
    let scaan_req =
        json!({"code": "iom-scaan", "name": "IOM SCAAN", "agency": "IOM", "push_url": push_url});
    app.call(Method::POST, "/api/v1/partners", None, Some(&scaan_req))
        .await
        .problem(401, None);
    for t in [&do_af, &traveller] {
        app.post_as("/api/v1/partners", t, &scaan_req)
            .await
            .problem(403, None);
        app.get_as("/api/v1/partners", t).await.problem(403, None);
    }
    for (body, field) in [
        (
            json!({"code": "Bad Code", "name": "x", "agency": "IOM"}),
            "code",
        ),
        (json!({"code": "x1", "name": " ", "agency": "IOM"}), "name"),
        (
            json!({"code": "x1", "name": "x", "agency": "NOPE"}),
            "agency",
        ),
        (
            json!({"code": "x1", "name": "x", "agency": "IOM", "push_url": "ftp://example.org/cap"}),
            "push_url",
        ),
        (
            json!({"code": "x1", "name": "x", "agency": "IOM", "push_url": "not a url"}),
            "push_url",
        ),
        (json!({"code": "x1", "name": "x", "agency": 5}), "agency"),
    ] {
        app.post_as("/api/v1/partners", &admin, &body)
            .await
            .problem(422, Some(field));
    }
    assert!(audits(&app, "partner.").await.is_empty());
    let created = app
        .post_as("/api/v1/partners", &admin, &scaan_req)
        .await
        .ok(201);
    let scaan = created["token"].as_str().unwrap().to_string();
    assert!(scaan.starts_with("wpt_") && scaan.len() > 40, "{created}");
    assert_eq!(created["partner"]["agency_code"], "IOM");
    assert_eq!(created["partner"]["agency"], json!(iom));
    assert_eq!(created["partner"]["push_url"], json!(push_url));
    let wfp = app
        .post_as(
            "/api/v1/partners",
            &admin,
            &json!({"code": "wfp-sys", "name": "WFP system", "agency": "WFP"}),
        )
        .await
        .ok(201)["token"]
        .as_str()
        .unwrap()
        .to_string();
    app.post_as("/api/v1/partners", &admin, &scaan_req)
        .await
        .problem(409, None);
    let list = app.get_as("/api/v1/partners", &admin).await.ok(200);
    let codes: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["iom-scaan", "wfp-sys"]);
    assert!(!list.to_string().contains(&scaan), "token listed: {list}");
    // Only the digest is stored.
    let stored = app.store.get_partner("iom-scaan").await.unwrap().unwrap();
    assert!(app.store.partner_by_token(&scaan).await.unwrap().is_none());
    assert_eq!(
        app.store
            .partner_by_token(&warden_auth::token_digest(&scaan))
            .await
            .unwrap()
            .unwrap()
            .id,
        stored.id
    );
    assert_eq!(audits(&app, "partner.create").await.len(), 2);

    // ---- the headcount exchange: who may report ----
    let now = warden_store::now_micros();
    let as_of = rfc3339(now - chrono::Duration::minutes(30));
    let kab = json!({
        "area": "AF-KAB", "as_of": as_of, "total": 57,
        "counts": {"international_staff": 9, "national_staff": 38, "dependant": 10},
        "reference": "SCAAN-KBL-1"
    });
    let path = "/api/v1/partners/iom-scaan/headcounts";
    app.call(Method::POST, path, None, Some(&kab))
        .await
        .problem(401, None);
    // A user's session is not a partner token, whatever the role.
    for t in [&admin, &do_af, &traveller] {
        app.post_as(path, t, &kab).await.problem(401, None);
    }
    app.post_as(path, "wpt_not-a-token", &kab)
        .await
        .problem(401, None);
    // Another partner's token (another agency's system) is refused.
    app.post_as(path, &wfp, &kab).await.problem(403, None);
    app.get_as("/api/v1/partners/iom-scaan/cap", &wfp)
        .await
        .problem(403, None);
    app.post_as("/api/v1/partners/wfp-sys/headcounts", &scaan, &kab)
        .await
        .problem(403, None);

    // ---- bad input, named; nothing written ----
    let bad = |i: usize, field: &str, v: Value| {
        let mut reports = vec![kab.clone(), kab.clone(), kab.clone()];
        for (k, r) in reports.iter_mut().enumerate() {
            r["area"] = json!(["AF-KAB", "AF-HER", "ML-BKO"][k]);
        }
        reports[i][field] = v;
        json!({ "reports": reports })
    };
    let future = rfc3339(now + chrono::Duration::hours(1));
    for (body, field) in [
        (bad(2, "area", json!("AF-ZZZ")), "reports[2].area"),
        (bad(1, "area", json!("not a code")), "reports[1].area"),
        (bad(0, "as_of", json!(future)), "reports[0].as_of"),
        (bad(1, "as_of", json!("yesterday")), "reports[1].as_of"),
        (bad(2, "total", json!(-1)), "reports[2].total"),
        (bad(2, "total", json!(10)), "reports[2].counts"),
        (bad(0, "total", json!("many")), "reports[0].total"),
        (
            bad(
                1,
                "roll_call",
                json!({"accounted": 50, "needs_help": 5, "no_answer": 5}),
            ),
            "reports[1].roll_call",
        ),
        (
            bad(1, "counts", json!({"national_staff": -2})),
            "reports[1].counts.national_staff",
        ),
        (
            bad(0, "reference", json!("x".repeat(201))),
            "reports[0].reference",
        ),
        (json!({"reports": []}), "reports"),
        (json!({"reports": [kab.clone(), kab.clone()]}), "reports[1]"),
    ] {
        app.post_as(path, &scaan, &body)
            .await
            .problem(422, Some(field));
    }
    let mut single = kab.clone();
    single["total"] = json!(-5);
    app.post_as(path, &scaan, &single)
        .await
        .problem(422, Some("total"));
    single["total"] = json!(57);
    single["area"] = json!("AF-ZZZ");
    app.post_as(path, &scaan, &single)
        .await
        .problem(422, Some("area"));
    app.post_as(path, &scaan, &json!([kab.clone()]))
        .await
        .problem(422, Some("body"));
    assert!(app
        .store
        .partner_headcounts(
            &[warden_domain::AreaCode::parse("AF-KAB").unwrap()],
            None,
            now + chrono::Duration::hours(2)
        )
        .await
        .unwrap()
        .is_empty());
    assert!(audits(&app, "partner.headcount").await.is_empty());

    // ---- accepted, idempotent ----
    let mut her = kab.clone();
    her["area"] = json!("AF-HER");
    her["total"] = json!(12);
    her["counts"] = json!({"national_staff": 12});
    let batch = json!({"reports": [kab.clone(), her]});
    let r = app.post_as(path, &scaan, &batch).await.ok(201);
    assert_eq!(
        (r["created"].as_i64(), r["unchanged"].as_i64()),
        (Some(2), Some(0)),
        "{r}"
    );
    assert_eq!(r["agency_code"], "IOM");
    assert_eq!(r["results"][1]["status"], "created");
    let r = app.post_as(path, &scaan, &batch).await.ok(200);
    assert_eq!(
        (r["created"].as_i64(), r["unchanged"].as_i64()),
        (Some(0), Some(2)),
        "{r}"
    );
    let r = app.post_as(path, &scaan, &kab).await.ok(200);
    assert_eq!(r["results"][0]["status"], "unchanged");
    let mut changed = kab.clone();
    changed["total"] = json!(58);
    app.post_as(path, &scaan, &json!({"reports": [changed.clone()]}))
        .await
        .problem(409, Some("reports[0]"));
    app.post_as(path, &scaan, &changed)
        .await
        .problem(409, Some("as_of"));
    let h = audits(&app, "partner.headcount").await;
    assert_eq!(h.len(), 1, "one audited write");
    assert_eq!(h[0].actor_name, "partner:iom-scaan");
    assert_eq!(h[0].actor, None);

    // ---- it joins the area's headcount, for whoever sees the counts ----
    let hc = app
        .get_as("/api/v1/areas/AF-KAB/headcount", &do_af)
        .await
        .ok(200);
    let p = &hc["partners"];
    assert_eq!(p.as_array().unwrap().len(), 1, "{hc}");
    assert_eq!(p[0]["agency_code"], "IOM");
    assert_eq!(p[0]["partner"], "iom-scaan");
    assert_eq!(p[0]["total"], 57);
    assert_eq!(p[0]["counts"]["international_staff"], 9);
    assert_eq!(p[0]["counts"]["dependant"], 10);
    assert_eq!(p[0]["reference"], "SCAAN-KBL-1");
    // Before the report's moment, no figure.
    let earlier = rfc3339(now - chrono::Duration::hours(2));
    let hc = app
        .get_as(
            &format!("/api/v1/areas/AF-KAB/headcount?at={earlier}"),
            &do_af,
        )
        .await
        .ok(200);
    assert_eq!(hc["partners"], json!([]));
    app.get_as("/api/v1/areas/AF-KAB/headcount", &traveller)
        .await
        .problem(403, None);
    let do_ml = app.token(&u.do_ml).await;
    app.get_as("/api/v1/areas/AF-KAB/headcount", &do_ml)
        .await
        .problem(403, None);

    // ---- the roll-call board: partner figures reported since it started ----
    let rc = app
        .post_as(
            "/api/v1/roll-calls",
            &do_af,
            &json!({"areas": ["AF-KAB", "AF-HER"], "message": "Explosion near the airport"}),
        )
        .await
        .ok(201);
    let rc_id = rc["id"].as_str().unwrap().to_string();
    let board = app
        .get_as(&format!("/api/v1/roll-calls/{rc_id}"), &do_af)
        .await
        .ok(200);
    assert_eq!(
        board["partners"],
        json!([]),
        "older figures are not the roll call's"
    );
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let during = warden_store::now_micros().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let kab2 = json!({
        "area": "AF-KAB", "as_of": during, "total": 57,
        "counts": {"international_staff": 9, "national_staff": 38, "dependant": 10},
        "roll_call": {"accounted": 50, "needs_help": 1, "no_answer": 6}
    });
    let her2 = json!({
        "area": "AF-HER", "as_of": during, "total": 12,
        "roll_call": {"accounted": 12, "needs_help": 0, "no_answer": 0}
    });
    app.post_as(path, &scaan, &json!({"reports": [kab2, her2]}))
        .await
        .ok(201);
    let board = app
        .get_as(&format!("/api/v1/roll-calls/{rc_id}"), &do_af)
        .await
        .ok(200);
    let p = &board["partners"];
    assert_eq!(p.as_array().unwrap().len(), 1, "{board}");
    assert_eq!(p[0]["agency_code"], "IOM");
    assert_eq!(p[0]["total"], 69);
    assert_eq!(
        p[0]["roll_call"],
        json!({"accounted": 62, "needs_help": 1, "no_answer": 6})
    );
    assert_eq!(p[0]["areas"].as_array().unwrap().len(), 2);
    assert!(board["by_agency"].is_array());

    // ---- CAP to partners: the pull feed ----
    approve_level(&app, "AF-KAB", 4).await;
    app.get_as("/api/v1/partners/iom-scaan/cap", &do_af)
        .await
        .problem(401, None);
    let feed = app
        .get_as("/api/v1/partners/iom-scaan/cap", &scaan)
        .await
        .ok(200);
    let items = feed["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{feed}");
    assert_eq!(items[0]["kind"], "advisory");
    assert_eq!(items[0]["country"], "AF");
    assert_eq!(items[1]["kind"], "rollcall");
    assert_eq!(items[1]["roll_call"], json!(rc_id));
    let wfp_feed = app
        .get_as("/api/v1/partners/wfp-sys/cap?limit=1", &wfp)
        .await
        .ok(200);
    assert_eq!(wfp_feed["items"].as_array().unwrap().len(), 1);
    app.get_as("/api/v1/partners/wfp-sys/cap?limit=0", &wfp)
        .await
        .problem(422, Some("limit"));
    let mut xmls = vec![];
    for it in items {
        let url = it["cap_url"].as_str().unwrap();
        app.get_as(url, &wfp).await.problem(403, None);
        let r = app
            .send(app.client.get(app.url(url)).bearer_auth(&scaan))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.content_type().starts_with("application/cap+xml"));
        assert_valid_cap(&r.text, &format!("partner feed {}", it["kind"]));
        xmls.push(r.text);
    }
    assert!(
        xmls[0].contains("<event>Security level</event>"),
        "{}",
        xmls[0]
    );
    assert!(xmls[0].contains("<value>4</value>"), "{}", xmls[0]);
    let roll = &xmls[1];
    assert!(roll.contains("<event>Roll call</event>"), "{roll}");
    assert!(roll.contains("<urgency>Immediate</urgency>"), "{roll}");
    assert!(roll.contains("Explosion near the airport"), "{roll}");
    assert_eq!(roll.matches("<area>").count(), 2, "{roll}");
    assert!(roll.contains("<polygon>"), "{roll}");
    assert!(roll.contains("<value>AF-HER</value>"), "{roll}");
    app.get_as(
        &format!("/api/v1/partners/iom-scaan/cap/{}", uuid::Uuid::now_v7()),
        &scaan,
    )
    .await
    .problem(404, None);

    // ---- CAP to partners: pushed through the outbox ----
    let msgs = app.store.partner_cap_messages(10).await.unwrap();
    assert_eq!(msgs.len(), 2);
    for m in &msgs {
        let d = app.store.partner_deliveries(m.id).await.unwrap();
        // Only the partner with a push URL.
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0].partner_code.as_str(), d[0].state.as_str()),
            ("iom-scaan", "pending")
        );
    }
    let cfg = warden_server::config::Config {
        base_url: app.base.clone(),
        ..Default::default()
    };
    let state = warden_server::state::AppState::new(app.store.clone(), cfg.clone())
        .await
        .unwrap();
    let worker = warden_server::partners::PushWorker::new(
        state,
        warden_server::partners::PushConfig::from_config(&cfg).unwrap(),
    )
    .unwrap();
    let t0 = warden_store::now_micros();
    assert_eq!(worker.deliver_due_at(t0).await.unwrap(), 2);
    // The first POST was refused (503): retried after the back-off, not before.
    let oldest = msgs
        .iter()
        .find(|m| matches!(m.subject, CapSubject::RollCall { .. }))
        .unwrap();
    let d = app.store.partner_deliveries(oldest.id).await.unwrap();
    assert_eq!(
        (d[0].state.as_str(), d[0].http_status),
        ("pending", Some(503)),
        "{d:?}"
    );
    assert_eq!(received.lock().unwrap().posts.len(), 1);
    assert_eq!(worker.deliver_due_at(t0).await.unwrap(), 0);
    let later = t0 + warden_store::partner_push_backoff(1) + chrono::Duration::seconds(1);
    assert_eq!(worker.deliver_due_at(later).await.unwrap(), 1);
    for m in &msgs {
        let d = app.store.partner_deliveries(m.id).await.unwrap();
        assert_eq!(
            (d[0].state.as_str(), d[0].http_status),
            ("sent", Some(200)),
            "{d:?}"
        );
        assert!(d[0].sent_at.is_some());
    }
    {
        let got = received.lock().unwrap();
        assert_eq!(got.posts.len(), 2);
        let mut ids = vec![];
        for (ct, partner, msg, body) in &got.posts {
            assert!(ct.starts_with("application/cap+xml"), "{ct}");
            assert_eq!(partner, "iom-scaan");
            ids.push(msg.clone());
            assert_valid_cap(body, "pushed to partner");
        }
        assert!(got
            .posts
            .iter()
            .any(|p| p.3.contains("<event>Roll call</event>")));
        assert!(got
            .posts
            .iter()
            .any(|p| p.3.contains("<event>Security level</event>")));
        let mut want: Vec<String> = msgs.iter().map(|m| m.id.to_string()).collect();
        ids.sort();
        want.sort();
        assert_eq!(ids, want);
    }
    assert_eq!(
        worker
            .deliver_due_at(later + chrono::Duration::hours(1))
            .await
            .unwrap(),
        0
    );

    // ---- revocation ----
    app.call(
        Method::DELETE,
        "/api/v1/partners/iom-scaan",
        Some(&do_af),
        None,
    )
    .await
    .problem(403, None);
    app.call(Method::DELETE, "/api/v1/partners/nope", Some(&admin), None)
        .await
        .problem(404, None);
    // A roll call started now queues a push, which revocation cancels.
    let rc2 = app
        .post_as("/api/v1/roll-calls", &do_af, &json!({"areas": ["AF-HER"]}))
        .await
        .ok(201);
    let m2 = app.store.partner_cap_messages(1).await.unwrap().remove(0);
    assert_eq!(
        m2.subject,
        CapSubject::RollCall {
            id: rc2["id"].as_str().unwrap().parse().unwrap()
        }
    );
    let r = app
        .call(
            Method::DELETE,
            "/api/v1/partners/iom-scaan",
            Some(&admin),
            None,
        )
        .await
        .ok(200);
    assert!(r["revoked_at"].is_string(), "{r}");
    app.call(
        Method::DELETE,
        "/api/v1/partners/iom-scaan",
        Some(&admin),
        None,
    )
    .await
    .problem(409, None);
    assert_eq!(
        app.store.partner_deliveries(m2.id).await.unwrap()[0].state,
        "cancelled"
    );
    assert_eq!(
        worker
            .deliver_due_at(later + chrono::Duration::hours(2))
            .await
            .unwrap(),
        0
    );
    app.post_as(path, &scaan, &kab).await.problem(401, None);
    app.get_as("/api/v1/partners/iom-scaan/cap", &scaan)
        .await
        .problem(401, None);
    // Its figures stay, and the other partner goes on.
    let hc = app
        .get_as("/api/v1/areas/AF-KAB/headcount", &do_af)
        .await
        .ok(200);
    assert_eq!(hc["partners"][0]["partner"], "iom-scaan");
    app.get_as("/api/v1/partners/wfp-sys/cap", &wfp)
        .await
        .ok(200);
    assert_eq!(audits(&app, "partner.revoke").await.len(), 1);

    app.finish().await;
}

#[tokio::test]
async fn partners_sqlite() {
    partners(Backend::Sqlite).await;
}

#[tokio::test]
async fn partners_postgres() {
    partners(Backend::Postgres).await;
}
