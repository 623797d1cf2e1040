//! End-to-end tests of the Warden HTTP service: a real server on an
//! ephemeral port, a real store (SQLite; the workflow also on PostgreSQL),
//! real geography for a few countries, spoken to over HTTP with reqwest.

mod common;

use common::{proposal, spawn_app, spawn_app_on, Backend, TestApp, TestUser, PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

/// Every route of the JSON API (and /healthz), as the router serves it.
const ROUTES: &[(&str, &str)] = &[
    ("post", "/api/v1/auth/token"),
    ("get", "/api/v1/me"),
    ("get", "/api/v1/countries"),
    ("get", "/api/v1/areas"),
    ("post", "/api/v1/areas"),
    ("post", "/api/v1/areas/import"),
    ("get", "/api/v1/areas/{code}"),
    ("get", "/api/v1/areas/{code}/history"),
    ("get", "/api/v1/areas/{code}/geometry"),
    ("get", "/api/v1/map/areas.geojson"),
    ("get", "/api/v1/lookup"),
    ("get", "/api/v1/advisories/feed.atom"),
    ("get", "/api/v1/advisories/{country}"),
    ("get", "/api/v1/advisories/{country}/cap"),
    ("get", "/api/v1/advisories/{country}/feed.atom"),
    ("put", "/api/v1/advisories/{country}/areas/{code}"),
    ("get", "/api/v1/assessments"),
    ("post", "/api/v1/assessments"),
    ("get", "/api/v1/assessments/{id}"),
    ("post", "/api/v1/assessments/{id}/actions"),
    ("get", "/api/v1/measures"),
    ("post", "/api/v1/measures"),
    ("get", "/api/v1/users"),
    ("post", "/api/v1/users"),
    ("get", "/api/v1/audit"),
    ("get", "/api/v1/audit/verify"),
    ("get", "/api/v1/areas/{code}/processing-mode"),
    ("put", "/api/v1/areas/{code}/processing-mode"),
    ("post", "/api/v1/travel-requests"),
    ("get", "/api/v1/travel-requests/{id}"),
    ("post", "/api/v1/travel-requests/{id}/legs/{n}/decision"),
    ("get", "/api/v1/clearances"),
    ("get", "/api/v1/places"),
    ("get", "/api/v1/devices"),
    ("post", "/api/v1/devices"),
    ("delete", "/api/v1/devices/{id}"),
    ("post", "/api/v1/locations"),
    ("post", "/api/v1/owntracks"),
    ("get", "/api/v1/me/location"),
    ("get", "/api/v1/me/location-data"),
    ("delete", "/api/v1/me/location-data"),
    ("get", "/api/v1/me/wellbeing"),
    ("post", "/api/v1/me/wellbeing"),
    ("get", "/api/v1/me/profile"),
    ("put", "/api/v1/me/profile"),
    ("get", "/api/v1/tracking"),
    ("post", "/api/v1/tracking"),
    ("post", "/api/v1/tracking/{id}/end"),
    ("get", "/api/v1/areas/{code}/positions"),
    ("post", "/api/v1/areas/{code}/alerts"),
    ("get", "/api/v1/undertaking"),
    ("post", "/api/v1/undertaking"),
    ("get", "/api/v1/freezes"),
    ("post", "/api/v1/freezes"),
    ("post", "/api/v1/freezes/{id}/lift"),
    ("get", "/api/v1/alerts"),
    ("get", "/api/v1/alerts/{id}"),
    ("get", "/api/v1/alerts/{id}/cap"),
    ("post", "/api/v1/travel-requests/{id}/legs/{n}/answer"),
    ("post", "/api/v1/travel-authorisations"),
    ("get", "/api/v1/profiles/{user}"),
    ("get", "/api/v1/notifications"),
    ("post", "/api/v1/notifications/read"),
    ("get", "/api/v1/airlines"),
    ("get", "/api/v1/airlines/{month}"),
    ("put", "/api/v1/airlines/{month}"),
    ("get", "/api/v1/areas/{code}/headcount"),
    ("get", "/api/v1/areas/{code}/headcount.csv"),
    ("get", "/api/v1/headcount"),
    ("post", "/api/v1/headcount/polygon"),
    ("post", "/api/v1/roll-calls"),
    ("get", "/api/v1/roll-calls"),
    ("get", "/api/v1/roll-calls/{id}"),
    ("post", "/api/v1/roll-calls/{id}/close"),
    ("get", "/api/v1/roll-calls/{id}/events"),
    ("get", "/api/v1/partners"),
    ("post", "/api/v1/partners"),
    ("delete", "/api/v1/partners/{partner}"),
    ("post", "/api/v1/partners/{partner}/headcounts"),
    ("get", "/api/v1/partners/{partner}/cap"),
    ("get", "/api/v1/partners/{partner}/cap/{id}"),
    ("get", "/healthz"),
];

fn manifest_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Number of areas of a country in the store.
async fn area_total(app: &TestApp, cc: &str) -> i64 {
    app.get(&format!("/api/v1/areas?country={cc}&limit=1"))
        .await
        .ok(200)["total"]
        .as_i64()
        .unwrap()
}

async fn submit(app: &TestApp, sa: &str, area: &str, level: i64) -> String {
    let a = app
        .post_as("/api/v1/assessments", sa, &proposal(area, level))
        .await
        .ok(201);
    assert_eq!(a["status"], "submitted", "{a}");
    a["id"].as_str().unwrap().to_string()
}

async fn act(app: &TestApp, token: &str, id: &str, body: Value) -> common::Resp {
    app.post_as(&format!("/api/v1/assessments/{id}/actions"), token, &body)
        .await
}

/// Takes an assessment for `area` through submit, validate and approve.
async fn approve_level(app: &TestApp, area: &str, level: i64) -> String {
    let u = app.users.clone();
    let sa = app.token(&u.sa_af).await;
    let desk = app.token(&u.desk_af).await;
    let dof = app.token(&u.do_af).await;
    let id = submit(app, &sa, area, level).await;
    act(app, &desk, &id, json!({"action": "validate"}))
        .await
        .ok(200);
    let a = act(
        app,
        &dof,
        &id,
        json!({"action": "approve", "smt_consulted": [u.smt_af.id]}),
    )
    .await
    .ok(200);
    assert_eq!(a["status"], "approved", "{a}");
    id
}

/// The text of every `<tag>…</tag>` in `xml`.
fn elements<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = vec![];
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let j = after.find(&close).expect("closing tag");
        out.push(&after[..j]);
        rest = &after[j + close.len()..];
    }
    out
}

// ---------------------------------------------------------------------------
// 1. health, metrics, OpenAPI
// ---------------------------------------------------------------------------

#[tokio::test]
async fn health_metrics_and_openapi_cover_every_route() {
    let app = spawn_app().await;

    let h = app.get("/healthz").await.ok(200);
    assert_eq!(h["status"], "ok");
    assert_eq!(h["database"], "sqlite");
    let loaded =
        area_total(&app, "AF").await + area_total(&app, "ML").await + area_total(&app, "CH").await;
    assert!(loaded > 50, "few areas loaded: {loaded}");
    assert_eq!(h["areas"].as_i64(), Some(loaded), "{h}");

    let m = app.get("/metrics").await;
    assert_eq!(m.status, 200);
    assert!(m.content_type().contains("text"), "{}", m.content_type());
    assert!(m.text.contains("warden_http_requests_total"), "{}", m.text);
    let healthz_line = m
        .text
        .lines()
        .find(|l| l.starts_with("warden_http_requests_total") && l.contains("route=\"/healthz\""))
        .unwrap_or_else(|| panic!("no request counter for /healthz:\n{}", m.text));
    assert!(healthz_line.contains("status=\"200\""), "{healthz_line}");
    assert!(
        healthz_line.trim_end().ends_with(" 1"),
        "one /healthz request so far: {healthz_line}"
    );

    let r = app.get("/api/openapi.json").await;
    assert_eq!(r.status, 200);
    assert!(r.content_type().starts_with("application/json"));
    let doc = r.json();
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "openapi version: {}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    let documented: BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|(p, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
                .map(move |m| (m.clone(), p.clone()))
        })
        .collect();
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    let missing: Vec<_> = served.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&served).collect();
    assert!(
        missing.is_empty(),
        "routes served but not documented: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "routes documented but not in the test's list: {extra:?}"
    );

    // The list is the router's: every entry is routed (not the API
    // fallback, not 405), and an unknown path is not.
    for (method, path) in ROUTES {
        let concrete = path
            .replace("{code}", "AF-KAB")
            .replace("{country}", "AF")
            .replace("{id}", &uuid::Uuid::new_v4().to_string())
            .replace("{n}", "1");
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let body = (m != Method::GET).then(|| json!({}));
        let r = app.call(m, &concrete, None, body.as_ref()).await;
        assert_ne!(
            r.status, 405,
            "{method} {concrete} is not routed: {}",
            r.text
        );
        assert!(
            !r.text.contains("no such API route"),
            "{method} {concrete} fell through to the fallback"
        );
    }
    let r = app.get("/api/v1/no-such-thing").await;
    let p = r.problem(404, None);
    assert!(p["detail"].as_str().unwrap().contains("no such API route"));

    app.finish().await;
}

// ---------------------------------------------------------------------------
// 2. the OpenAPI document is checked in
// ---------------------------------------------------------------------------

#[tokio::test]
async fn openapi_document_matches_checked_in_file() {
    let app = spawn_app().await;
    let served = app.get("/api/openapi.json").await;
    assert_eq!(served.status, 200);
    let file = manifest_dir().join("openapi.json");
    if std::env::var("WARDEN_UPDATE_OPENAPI").as_deref() == Ok("1") {
        std::fs::write(&file, &served.text).unwrap();
        eprintln!("wrote {}", file.display());
    } else {
        let checked_in = std::fs::read_to_string(&file).unwrap_or_else(|e| {
            panic!(
                "cannot read {}: {e}\nGenerate it with: WARDEN_UPDATE_OPENAPI=1 cargo test -p warden-server --test api openapi",
                file.display()
            )
        });
        if checked_in != served.text {
            let line = checked_in
                .lines()
                .zip(served.text.lines())
                .position(|(a, b)| a != b)
                .map(|i| i + 1)
                .unwrap_or_else(|| checked_in.lines().count().min(served.text.lines().count()) + 1);
            panic!(
                "the served OpenAPI document differs from {} (first difference at line {line}).\n\
                 If the API change is intended, regenerate the file and commit it:\n\
                 WARDEN_UPDATE_OPENAPI=1 cargo test -p warden-server --test api openapi",
                file.display()
            );
        }
    }
    app.finish().await;
}

// ---------------------------------------------------------------------------
// 3. areas, lookup, map
// ---------------------------------------------------------------------------

#[tokio::test]
async fn areas_lookup_and_map() {
    let app = spawn_app().await;

    let page = app.get("/api/v1/areas?country=AF&limit=5").await.ok(200);
    let total = page["total"].as_i64().unwrap();
    assert!(
        (30..=40).contains(&total),
        "Afghanistan has 34 provinces, got {total}"
    );
    assert_eq!(page["limit"], 5);
    assert_eq!(page["offset"], 0);
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert!(items.iter().all(|a| a["country"] == "AF"), "{page}");
    let page2 = app
        .get("/api/v1/areas?country=AF&limit=5&offset=5")
        .await
        .ok(200);
    let first: BTreeSet<_> = items.iter().map(|a| a["code"].to_string()).collect();
    assert!(page2["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| !first.contains(&a["code"].to_string())));
    let all = app.get("/api/v1/areas?country=AF&limit=1000").await.ok(200);
    assert_eq!(all["items"].as_array().unwrap().len() as i64, total);

    let a = app.get("/api/v1/areas/AF-KAB").await.ok(200);
    assert_eq!(a["code"], "AF-KAB");
    assert_eq!(a["country"], "AF");
    assert!(a["name"].as_str().unwrap().contains("Kabul"), "{a}");
    assert!(a.as_object().unwrap().contains_key("level"), "{a}");
    assert_eq!(a["level"], Value::Null);
    assert_eq!(a["kind"], "admin1");
    // Lower case is accepted.
    assert_eq!(
        app.get("/api/v1/areas/af-kab").await.ok(200)["code"],
        "AF-KAB"
    );

    let p = app.get("/api/v1/areas/AF-ZZZ").await.problem(404, None);
    assert_eq!(p["type"], "/problems/not-found");
    app.get("/api/v1/areas/AF_KAB!")
        .await
        .problem(422, Some("code"));

    let l = app.get("/api/v1/lookup?lat=34.53&lon=69.17").await.ok(200);
    assert_eq!(l["code"], "AF-KAB", "{l}");
    let bamako = app.get("/api/v1/lookup?lat=12.64&lon=-8.0").await.ok(200);
    assert_eq!(bamako["country"], "ML", "{bamako}");
    app.get("/api/v1/lookup?lat=95&lon=69.17")
        .await
        .problem(422, Some("lat"));
    app.get("/api/v1/lookup?lat=34.5&lon=181")
        .await
        .problem(422, Some("lon"));
    // Open ocean: no area.
    app.get("/api/v1/lookup?lat=0&lon=-30")
        .await
        .problem(404, None);

    let r = app.get("/api/v1/map/areas.geojson?country=AF").await;
    assert_eq!(r.status, 200);
    assert!(r.content_type().starts_with("application/geo+json"));
    let fc = r.json();
    assert_eq!(fc["type"], "FeatureCollection");
    let feats = fc["features"].as_array().unwrap();
    assert_eq!(feats.len() as i64, total);
    for f in feats {
        assert_eq!(f["type"], "Feature");
        let props = f["properties"].as_object().unwrap();
        assert!(props.contains_key("level"), "{f}");
        assert_eq!(props["country"], "AF");
        assert!(
            ["Polygon", "MultiPolygon"].contains(&f["geometry"]["type"].as_str().unwrap()),
            "{}",
            f["geometry"]["type"]
        );
    }
    app.finish().await;
}

// ---------------------------------------------------------------------------
// 4. the workflow (SQLite here, PostgreSQL in test 10)
// ---------------------------------------------------------------------------

async fn full_workflow(app: &TestApp) {
    let u = app.users.clone();
    let sa = app.token(&u.sa_af).await;
    let desk = app.token(&u.desk_af).await;
    let dof = app.token(&u.do_af).await;
    let do_ml = app.token(&u.do_ml).await;

    let created = app
        .post_as("/api/v1/assessments", &sa, &proposal("AF-KAB", 5))
        .await
        .ok(201);
    assert_eq!(created["status"], "submitted");
    assert_eq!(created["area"], "AF-KAB");
    assert_eq!(created["proposed_level"], 5);
    assert_eq!(created["previous_level"], Value::Null);
    assert_eq!(created["author"], json!(u.sa_af.id));
    let id = created["id"].as_str().unwrap().to_string();

    let approve = json!({"action": "approve", "smt_consulted": [u.smt_af.id]});
    // Not validated yet.
    let p = act(app, &dof, &id, approve.clone())
        .await
        .problem(409, None);
    assert_eq!(p["type"], "/problems/conflict");

    let v = act(app, &desk, &id, json!({"action": "validate"}))
        .await
        .ok(200);
    assert_eq!(v["status"], "validated");

    // The DO of another country is refused. The service answers 404, not
    // 403, on purpose: it does not reveal that another country's
    // assessment exists (api/assessments.rs `load_visible`).
    let p = act(app, &do_ml, &id, approve.clone())
        .await
        .problem(404, None);
    assert_eq!(p["type"], "/problems/not-found");
    // A security adviser may not approve.
    let p = act(app, &sa, &id, approve.clone()).await.problem(403, None);
    assert_eq!(p["type"], "/problems/forbidden");
    // Approval needs the SMT consulted, and real SMT members of the country.
    act(app, &dof, &id, json!({"action": "approve"}))
        .await
        .problem(422, Some("smt_consulted"));
    act(
        app,
        &dof,
        &id,
        json!({"action": "approve", "smt_consulted": [u.sa_af.id]}),
    )
    .await
    .problem(422, Some("smt_consulted[0]"));
    act(
        app,
        &dof,
        &id,
        json!({"action": "approve", "smt_consulted": [u.smt_af.id, u.smt_ml.id]}),
    )
    .await
    .problem(422, Some("smt_consulted[1]"));
    // Nothing of that changed the level.
    assert_eq!(
        app.get("/api/v1/areas/AF-KAB").await.ok(200)["level"],
        Value::Null
    );

    let a = act(app, &dof, &id, approve.clone()).await.ok(200);
    assert_eq!(a["status"], "approved");

    let area = app.get("/api/v1/areas/AF-KAB").await.ok(200);
    assert_eq!(area["level"], 5, "{area}");
    assert!(area["level_name"].is_string());
    assert!(area["level_since"].is_string());

    let hist = app.get("/api/v1/areas/AF-KAB/history").await.ok(200);
    let hist = hist.as_array().unwrap();
    assert_eq!(hist.len(), 1, "{hist:?}");
    assert_eq!(hist[0]["new_level"], 5);
    assert_eq!(hist[0]["old_level"], Value::Null);
    assert_eq!(hist[0]["assessment"], json!(id));

    let adv = app.get("/api/v1/advisories/AF").await.ok(200);
    assert_eq!(adv["country"], "AF");
    assert_eq!(adv["highest_level"], 5);
    assert!(adv["version"].as_i64().unwrap() >= 1, "{}", adv["version"]);
    let entry = adv["areas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["area"]["code"] == "AF-KAB")
        .expect("AF-KAB in the advisory");
    assert_eq!(entry["area"]["level"], 5);
    assert_eq!(entry["threat"], proposal("AF-KAB", 5)["advisory_text"]);
    assert_eq!(
        entry["mitigation"],
        proposal("AF-KAB", 5)["mitigation_text"]
    );

    let feed = app.get("/api/v1/advisories/AF/feed.atom").await;
    assert_eq!(feed.status, 200);
    assert!(feed.content_type().starts_with("application/atom+xml"));
    assert!(feed.text.contains("<feed"), "{}", feed.text);
    let entries = elements(&feed.text, "entry");
    assert_eq!(feed.text.matches("<entry>").count(), 1, "{}", feed.text);
    assert!(entries[0].contains("Kabul"), "{}", entries[0]);
    let global = app.get("/api/v1/advisories/feed.atom").await;
    assert!(global.text.contains("Kabul"));

    // A second approval is a conflict and changes nothing.
    let detail_before = app
        .get_as(&format!("/api/v1/assessments/{id}"), &dof)
        .await
        .ok(200);
    let audit_before = app.audit_count().await;
    act(app, &dof, &id, approve).await.problem(409, None);
    let hist2 = app.get("/api/v1/areas/AF-KAB/history").await.ok(200);
    assert_eq!(hist2.as_array().unwrap().len(), 1, "history grew: {hist2}");
    let detail_after = app
        .get_as(&format!("/api/v1/assessments/{id}"), &dof)
        .await
        .ok(200);
    assert_eq!(detail_before["events"], detail_after["events"]);
    assert_eq!(
        detail_after["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["submit", "validate", "approve"]
    );
    assert_eq!(app.audit_count().await, audit_before);
    let adv2 = app.get("/api/v1/advisories/AF").await.ok(200);
    assert_eq!(adv2["version"], adv["version"]);
}

#[tokio::test]
async fn workflow_submit_validate_approve_sqlite() {
    let app = spawn_app().await;
    full_workflow(&app).await;
    app.finish().await;
}

// ---------------------------------------------------------------------------
// 5. CAP 1.2
// ---------------------------------------------------------------------------

#[tokio::test]
async fn cap_alerts_validate_against_the_schema() {
    let xmllint = common::xmllint(); // fail first, with the install hint, if missing
    assert!(xmllint.is_file());
    let app = spawn_app().await;
    approve_level(&app, "AF-KAB", 4).await;

    for path in [
        "/api/v1/advisories/AF/cap",
        "/api/v1/advisories/AF/cap?version=1",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert!(
            r.content_type().starts_with("application/cap+xml"),
            "{}",
            r.content_type()
        );
        common::assert_valid_cap(&r.text, path);

        let infos = elements(&r.text, "info");
        assert_eq!(infos.len(), 1, "{path}: one area has a level:\n{}", r.text);
        let geocodes = elements(infos[0], "geocode");
        assert!(
            geocodes
                .iter()
                .any(|g| g.contains("<valueName>ISO3166-2</valueName>")
                    && g.contains("<value>AF-KAB</value>")),
            "{path}: no ISO3166-2 geocode AF-KAB in {geocodes:?}"
        );
        let polygons = elements(infos[0], "polygon");
        assert!(!polygons.is_empty(), "{path}: no polygon");
        for poly in polygons {
            let pairs: Vec<&str> = poly.split_whitespace().collect();
            assert!(pairs.len() >= 4, "{poly}");
            assert_eq!(
                pairs.first(),
                pairs.last(),
                "CAP polygons are closed: {poly}"
            );
            for pair in pairs {
                let (lat, lon) = pair.split_once(',').expect("lat,lon");
                let (lat, lon): (f64, f64) = (lat.parse().unwrap(), lon.parse().unwrap());
                assert!(
                    (29.0..=39.0).contains(&lat) && (60.0..=75.0).contains(&lon),
                    "{path}: {pair} is not lat,lon in Afghanistan"
                );
            }
        }
        assert!(infos[0].contains("<valueName>securityLevel</valueName>"));
        assert!(infos[0].contains("<value>4</value>"), "{}", infos[0]);
    }
    app.get("/api/v1/advisories/AF/cap?version=99")
        .await
        .problem(404, None);
    app.get("/api/v1/advisories/ZZ/cap")
        .await
        .problem(404, None);
    app.finish().await;
}

// ---------------------------------------------------------------------------
// 6. bad input changes nothing
// ---------------------------------------------------------------------------

#[tokio::test]
async fn bad_input_is_refused_with_a_problem_and_changes_nothing() {
    let app = spawn_app().await;
    let u = app.users.clone();
    let sa = app.token(&u.sa_af).await;
    let admin = app.token(&u.admin).await;
    let audit0 = app.audit_count().await;
    let af_areas = area_total(&app, "AF").await;

    let bad_assessments = [
        (proposal("AF-KAB", 0), 422, Some("level")),
        (proposal("AF-KAB", 7), 422, Some("level")),
        (
            {
                let mut p = proposal("AF-KAB", 3);
                p["ratings"].as_object_mut().unwrap().remove("crime");
                p
            },
            422,
            Some("ratings.crime"),
        ),
        (
            {
                let mut p = proposal("AF-KAB", 3);
                p["ratings"]["crime"] = json!(9);
                p
            },
            422,
            Some("ratings.crime"),
        ),
        (
            {
                let mut p = proposal("AF-KAB", 3);
                p["level"] = json!("three");
                p
            },
            422,
            Some("level"),
        ),
        (proposal("AF-ZZZ", 3), 404, None),
        (proposal("AF_KAB!", 3), 422, Some("area")),
    ];
    for (body, status, field) in &bad_assessments {
        app.post_as("/api/v1/assessments", &sa, body)
            .await
            .problem(*status, *field);
    }

    // Wrong content type.
    let r = app
        .send(
            app.client
                .post(app.url("/api/v1/assessments"))
                .bearer_auth(&sa)
                .header("content-type", "text/plain")
                .body(proposal("AF-KAB", 3).to_string()),
        )
        .await;
    assert_eq!(
        r.problem(415, None)["type"],
        "/problems/unsupported-media-type"
    );
    // Malformed JSON.
    let r = app
        .send(
            app.client
                .post(app.url("/api/v1/assessments"))
                .bearer_auth(&sa)
                .header("content-type", "application/json")
                .body(r#"{"area": "AF-KAB", "level": "#),
        )
        .await;
    assert_eq!(r.problem(400, None)["type"], "/problems/malformed-body");
    // Unknown field.
    let mut p = proposal("AF-KAB", 3);
    p["colour"] = json!("red");
    let r = app.post_as("/api/v1/assessments", &sa, &p).await;
    let prob = r.problem(422, Some("colour"));
    assert!(
        prob["detail"].as_str().unwrap().contains("unknown field"),
        "{prob}"
    );
    // Over the body limit.
    let mut p = proposal("AF-KAB", 3);
    p["narrative"] = json!("x".repeat(100 * 1024));
    let r = app.post_as("/api/v1/assessments", &sa, &p).await;
    assert_eq!(r.problem(413, None)["type"], "/problems/payload-too-large");

    // Nothing was stored.
    let list = app
        .get_as("/api/v1/assessments?country=AF", &sa)
        .await
        .ok(200);
    assert_eq!(list["total"], 0, "{list}");
    assert_eq!(
        app.get("/api/v1/areas/AF-KAB").await.ok(200)["level"],
        Value::Null
    );
    assert_eq!(
        app.audit_count().await,
        audit0,
        "refused requests must not be audited as changes"
    );

    // A self-intersecting (bow-tie) polygon.
    let bowtie = json!({
        "code": "AF-SLS-BOWTIE",
        "name": "Bow tie",
        "geometry": {"type": "Polygon", "coordinates": [[[66.0, 33.0], [67.0, 34.0], [67.0, 33.0], [66.0, 34.0], [66.0, 33.0]]]}
    });
    let p = app
        .post_as("/api/v1/areas", &admin, &bowtie)
        .await
        .problem(422, None);
    let field = p["field"].as_str().unwrap();
    assert!(
        field.starts_with("geometry.coordinates"),
        "field {field} should point into geometry: {p}"
    );
    app.get("/api/v1/areas/AF-SLS-BOWTIE")
        .await
        .problem(404, None);

    // A GeoJSON import whose second feature has an unclosed ring: all or nothing.
    let import = json!({
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"code": "AF-SLS-A", "name": "Zone A"},
             "geometry": {"type": "Polygon", "coordinates": [[[66.0, 33.0], [67.0, 33.0], [67.0, 34.0], [66.0, 34.0], [66.0, 33.0]]]}},
            {"type": "Feature", "properties": {"code": "AF-SLS-B", "name": "Zone B"},
             "geometry": {"type": "Polygon", "coordinates": [[[68.0, 33.0], [69.0, 33.0], [69.0, 34.0], [68.0, 34.0], [68.0, 33.5]]]}}
        ]
    });
    let r = app
        .send(
            app.client
                .post(app.url("/api/v1/areas/import"))
                .bearer_auth(&admin)
                .header("content-type", "application/geo+json")
                .body(import.to_string()),
        )
        .await;
    let p = r.problem(422, None);
    let field = p["field"].as_str().unwrap();
    assert!(
        field.starts_with("features[1]"),
        "field {field} should name features[1]: {p}"
    );
    app.get("/api/v1/areas/AF-SLS-A").await.problem(404, None);
    app.get("/api/v1/areas/AF-SLS-B").await.problem(404, None);
    assert_eq!(area_total(&app, "AF").await, af_areas);
    assert_eq!(app.audit_count().await, audit0);

    // A valid custom area made of real neighbours wins over admin-1 in lookups.
    let total_before = af_areas;
    let custom = json!({
        "code": "AF-SLS-CENTRAL",
        "name": "Central region",
        "members": ["AF-KAB", "AF-LOG"]
    });
    let c = app.post_as("/api/v1/areas", &admin, &custom).await.ok(201);
    assert_eq!(c["code"], "AF-SLS-CENTRAL");
    assert_eq!(c["kind"], "custom");
    assert_eq!(c["members"], json!(["AF-KAB", "AF-LOG"]));
    assert_eq!(area_total(&app, "AF").await, total_before + 1);
    let l = app.get("/api/v1/lookup?lat=34.53&lon=69.17").await.ok(200);
    assert_eq!(
        l["code"], "AF-SLS-CENTRAL",
        "custom areas win over admin-1: {l}"
    );
    // Pul-i-Alam, in Logar, the other member.
    let l = app.get("/api/v1/lookup?lat=33.99&lon=69.02").await.ok(200);
    assert_eq!(l["code"], "AF-SLS-CENTRAL", "{l}");
    // Outside the custom area, admin-1 still answers (Kandahar).
    let k = app.get("/api/v1/lookup?lat=31.61&lon=65.71").await.ok(200);
    assert_eq!(k["code"], "AF-KAN", "{k}");
    assert!(app.audit_count().await > audit0);
    // Defining it twice is a conflict.
    app.post_as("/api/v1/areas", &admin, &custom)
        .await
        .problem(409, None);

    app.finish().await;
}

// ---------------------------------------------------------------------------
// 7. authentication
// ---------------------------------------------------------------------------

#[tokio::test]
async fn authentication_tokens_totp_and_lockout() {
    let app = spawn_app().await;
    let u = app.users.clone();

    let p = app.get("/api/v1/me").await.problem(401, None);
    assert_eq!(p["type"], "/problems/unauthenticated");
    app.get_as("/api/v1/me", "not-a-real-token")
        .await
        .problem(401, None);
    let r = app
        .send(
            app.client
                .get(app.url("/api/v1/me"))
                .header("authorization", "Basic Zm9vOmJhcg=="),
        )
        .await;
    r.problem(401, None);

    // A code is required, a wrong one is refused.
    app.request_token(&u.sa_af.username, PASSWORD, None)
        .await
        .problem(422, Some("totp"));
    let now = chrono::Utc::now().timestamp();
    let valid: Vec<String> = (-2..=2).map(|k| u.sa_af.code_at(now + 30 * k)).collect();
    let wrong = (0..1_000_000)
        .map(|n| format!("{n:06}"))
        .find(|c| !valid.contains(c))
        .unwrap();
    app.request_token(&u.sa_af.username, PASSWORD, Some(&wrong))
        .await
        .problem(401, Some("totp"));

    // A TOTP code works once.
    let code = u.sa_af.code_now();
    let t = app
        .request_token(&u.sa_af.username, PASSWORD, Some(&code))
        .await
        .ok(200);
    let token = t["token"].as_str().unwrap();
    let me = app.get_as("/api/v1/me", token).await.ok(200);
    assert_eq!(me["username"], u.sa_af.username);
    assert_eq!(me["two_factor_enabled"], true);
    assert_eq!(me["grants"][0]["role"], "security_adviser");
    assert_eq!(me["grants"][0]["scope"], "AF");
    let p = app
        .request_token(&u.sa_af.username, PASSWORD, Some(&code))
        .await
        .problem(401, Some("totp"));
    assert!(
        p["detail"].as_str().unwrap().contains("already been used"),
        "{p}"
    );

    // Five wrong passwords, then even the right one is refused for a while.
    let lock = &u.sa_lockout;
    for i in 0..5 {
        let p = app
            .request_token(
                &lock.username,
                "wrong password, surely",
                Some(&lock.code_now()),
            )
            .await
            .problem(401, None);
        assert_eq!(p["type"], "/problems/unauthenticated", "attempt {i}: {p}");
    }
    let r = app
        .request_token(&lock.username, PASSWORD, Some(&lock.code_now()))
        .await;
    let p = r.problem(429, None);
    assert_eq!(p["type"], "/problems/rate-limited");
    let retry: u64 = r
        .headers
        .get("retry-after")
        .expect("Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds");
    assert!(retry > 0 && retry <= 15 * 60, "Retry-After {retry}");
    // Another user is not affected.
    app.token(&u.desk_af).await;

    // Roles that need TOTP, but none set up.
    let p = app
        .request_token(&u.sa_unenrolled.username, PASSWORD, None)
        .await
        .problem(401, None);
    assert_eq!(p["type"], "/problems/two-factor-required");

    // A traveller needs no code.
    let t = app
        .request_token(&u.traveller.username, PASSWORD, None)
        .await
        .ok(200);
    let me = app
        .get_as("/api/v1/me", t["token"].as_str().unwrap())
        .await
        .ok(200);
    assert_eq!(me["username"], "traveller");
    assert_eq!(me["grants"][0]["role"], "traveller");

    // Unknown user: the same answer as a wrong password.
    let p = app
        .request_token("nobody-here", PASSWORD, None)
        .await
        .problem(401, None);
    assert_eq!(p["type"], "/problems/unauthenticated");

    app.finish().await;
}

// ---------------------------------------------------------------------------
// 8. authorisation matrix
// ---------------------------------------------------------------------------

#[tokio::test]
async fn authorisation_matrix() {
    let app = spawn_app().await;
    let u = app.users.clone();
    let sa = app.token(&u.sa_af).await;
    let desk = app.token(&u.desk_af).await;

    const ACTIONS: [&str; 9] = [
        "list assessments AF",
        "create assessment AF-KAB",
        "validate",
        "approve",
        "list users",
        "read audit",
        "create measure",
        "create area",
        "edit advisory AF-KAB",
    ];
    #[rustfmt::skip]
    let table: [(&str, &TestUser, [u16; 9]); 7] = [
        //                          list create valid approve users audit measure area advisory
        ("traveller", &u.traveller, [403, 403,   404,  404,    403,  403,  403,    403, 403]),
        ("sa AF",     &u.sa_af,     [200, 201,   403,  403,    403,  403,  403,    403, 204]),
        ("desk AF",   &u.desk_af,   [200, 403,   200,  403,    403,  403,  403,    403, 403]),
        ("do AF",     &u.do_af,     [200, 403,   403,  200,    403,  403,  403,    403, 204]),
        ("smt AF",    &u.smt_af,    [200, 403,   403,  403,    403,  403,  403,    403, 403]),
        ("do ML",     &u.do_ml,     [403, 403,   404,  404,    403,  403,  403,    403, 403]),
        ("admin",     &u.admin,     [200, 403,   403,  403,    200,  200,  201,    201, 403]),
    ];
    let mut failures = vec![];
    for (row, (who, user, expected)) in table.iter().enumerate() {
        let token = app.token(user).await;
        let mut got = [0u16; 9];

        got[0] = app
            .get_as("/api/v1/assessments?country=AF", &token)
            .await
            .status
            .as_u16();
        got[1] = app
            .post_as("/api/v1/assessments", &token, &proposal("AF-KAB", 3))
            .await
            .status
            .as_u16();
        let id = submit(&app, &sa, "AF-KAB", 3).await;
        got[2] = act(&app, &token, &id, json!({"action": "validate"}))
            .await
            .status
            .as_u16();
        let id = submit(&app, &sa, "AF-KAB", 3).await;
        act(&app, &desk, &id, json!({"action": "validate"}))
            .await
            .ok(200);
        got[3] = act(
            &app,
            &token,
            &id,
            json!({"action": "approve", "smt_consulted": [u.smt_af.id]}),
        )
        .await
        .status
        .as_u16();
        got[4] = app.get_as("/api/v1/users", &token).await.status.as_u16();
        got[5] = app.get_as("/api/v1/audit", &token).await.status.as_u16();
        got[6] = app
            .post_as(
                "/api/v1/measures",
                &token,
                &json!({"code": format!("M-{row}"), "title": "Armoured vehicles", "description": "Use B6 vehicles", "category": "movement"}),
            )
            .await
            .status
            .as_u16();
        got[7] = app
            .post_as(
                "/api/v1/areas",
                &token,
                &json!({"code": format!("AF-SLS-R{row}"), "name": "Zone",
                        "geometry": {"type": "Polygon", "coordinates": [[[66.0, 33.0], [66.5, 33.0], [66.5, 33.5], [66.0, 33.5], [66.0, 33.0]]]}}),
            )
            .await
            .status
            .as_u16();
        got[8] = app
            .call(
                Method::PUT,
                "/api/v1/advisories/AF/areas/AF-KAB",
                Some(&token),
                Some(&json!({"threat": format!("Edited by {who}"), "mitigation": "Stay in the compound."})),
            )
            .await
            .status
            .as_u16();

        for (i, (g, e)) in got.iter().zip(expected.iter()).enumerate() {
            if g != e {
                failures.push(format!("{who} × {}: expected {e}, got {g}", ACTIONS[i]));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "authorisation matrix mismatches:\n{}",
        failures.join("\n")
    );
    app.finish().await;
}

// ---------------------------------------------------------------------------
// 9. web pages
// ---------------------------------------------------------------------------

#[tokio::test]
async fn web_pages_render_localise_and_refuse_cross_site_posts() {
    let app = spawn_app().await;
    let c = &app.raw_client;

    let r = app.send(c.get(app.url("/login"))).await;
    assert_eq!(r.status, 200);
    assert!(r.content_type().starts_with("text/html"));
    assert!(
        r.text.contains("<form") && r.text.contains("name=\"password\""),
        "{}",
        r.text
    );

    let form = [("username", "sa-af"), ("password", PASSWORD)];
    let r = app
        .send(
            c.post(app.url("/login"))
                .header("origin", "http://evil.example")
                .form(&form),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.headers.get("set-cookie").is_none());
    // The same post from our own origin is handled (wrong password → 401 page).
    let r = app
        .send(
            c.post(app.url("/login"))
                .header("origin", &app.base)
                .form(&[("username", "sa-af"), ("password", "not the password")]),
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.text);
    // And with the right password it signs in and asks for the TOTP code.
    let r = app
        .send(
            c.post(app.url("/login"))
                .header("origin", &app.base)
                .form(&form),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert!(r.headers["location"]
        .to_str()
        .unwrap()
        .starts_with("/login/totp"));
    assert!(r.headers["set-cookie"]
        .to_str()
        .unwrap()
        .contains("HttpOnly"));

    let r = app
        .send(c.get(app.url("/")).header("accept-language", "fr"))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("Niveaux de sécurité"), "{}", r.text);
    assert!(r.text.contains("lang=\"fr\""));
    let r = app
        .send(c.get(app.url("/")).header("cookie", "warden_lang=ar"))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("dir=\"rtl\""), "{}", r.text);
    // The cookie wins over Accept-Language; English is left to right.
    let r = app
        .send(
            c.get(app.url("/"))
                .header("cookie", "warden_lang=ar")
                .header("accept-language", "fr"),
        )
        .await;
    assert!(r.text.contains("dir=\"rtl\""));
    let r = app.send(c.get(app.url("/"))).await;
    assert!(r.text.contains("dir=\"ltr\"") && !r.text.contains("Niveaux de sécurité"));
    assert_eq!(r.headers["x-frame-options"], "DENY");

    let r = app
        .send(c.get(app.url("/assessments?status=submitted")))
        .await;
    assert!(r.status.is_redirection(), "{}", r.status);
    let loc = r.headers["location"].to_str().unwrap();
    assert_eq!(loc, "/login?next=%2Fassessments%3Fstatus%3Dsubmitted");

    app.finish().await;
}

// ---------------------------------------------------------------------------
// 10. the workflow on PostgreSQL
// ---------------------------------------------------------------------------

#[tokio::test]
async fn workflow_submit_validate_approve_postgres() {
    let app = spawn_app_on(Backend::Postgres).await;
    let h = app.get("/healthz").await.ok(200);
    assert_eq!(h["database"], "postgres");
    full_workflow(&app).await;
    app.finish().await;
}

#[tokio::test]
async fn malformed_path_and_query_values_are_problems() {
    let app = common::spawn_app().await;
    // A query value of the wrong type.
    let r = app.get("/api/v1/lookup?lat=north&lon=69.1").await;
    let p = r.problem(422, Some("query"));
    assert!(p["detail"].as_str().unwrap().contains("lat"), "{p}");
    let r = app.get("/api/v1/advisories/AF/cap?version=latest").await;
    r.problem(422, Some("query"));
    // A path value of the wrong type, for a signed-in caller.
    let token = app.token(&app.users.admin).await;
    let r = app.get_as("/api/v1/assessments/not-a-uuid", &token).await;
    let p = r.problem(422, Some("path"));
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("uuid"),
        "{p}"
    );
    app.finish().await;
}
