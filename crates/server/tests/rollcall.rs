//! Roll call over HTTP: the DO starts one for an area (others may not),
//! everyone present is asked (notification, SMS for those without a
//! smartphone), answers move them on the board, the event stream follows
//! the tally, closing works once; bad input is refused naming the field.
//! On SQLite and PostgreSQL.

mod common;

use chrono::Duration;
use common::{spawn_app_on, Backend, TestApp};
use serde_json::{json, Value};
use std::time::Instant;
use uuid::Uuid;
use warden_domain::eta::Wellbeing;
use warden_domain::people::PersonnelCategory;
use warden_domain::trip::TripPurpose;
use warden_domain::AreaCode;
use warden_store::{
    AuditContext, AuditQuery, NewAgency, NewLeg, NewTravelRequest, NewWellbeing, PageRequest,
    ProfileInput,
};

fn area(code: &str) -> AreaCode {
    AreaCode::parse(code).unwrap()
}
fn ctx() -> AuditContext {
    AuditContext::system("test setup")
}

async fn views(app: &TestApp) -> i64 {
    app.store
        .list_audit(&AuditQuery {
            action_prefix: Some("rollcall.view".into()),
            target: None,
            actor: None,
            page: PageRequest::default(),
        })
        .await
        .unwrap()
        .total
}

/// An open `text/event-stream` response, read event by event.
struct Events {
    resp: reqwest::Response,
    buf: String,
}

impl Events {
    async fn open(app: &TestApp, id: Uuid, token: &str) -> Events {
        let resp = app
            .client
            .get(app.url(&format!("/api/v1/roll-calls/{id}/events")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with("text/event-stream"), "{ct}");
        Events {
            resp,
            buf: String::new(),
        }
    }

    /// The data of the next `tally` event (None: the stream ended), within
    /// `secs` seconds.
    async fn next(&mut self, secs: u64) -> Option<Value> {
        let deadline = Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                if block.lines().any(|l| l == "event: tally") {
                    let data: String = block
                        .lines()
                        .filter_map(|l| l.strip_prefix("data: "))
                        .collect();
                    return Some(serde_json::from_str(&data).unwrap());
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let chunk = tokio::time::timeout(left, self.resp.chunk())
                .await
                .expect("no event in time")
                .unwrap();
            match chunk {
                Some(b) => self.buf.push_str(&String::from_utf8_lossy(&b)),
                None => return None,
            }
        }
    }
}

async fn roll_call(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let u = app.users.clone();
    let agency = app
        .store
        .create_agency(
            &NewAgency {
                code: "WFP".into(),
                name: "World Food Programme".into(),
            },
            &ctx(),
        )
        .await
        .unwrap();
    let row = |id: &str, phone: &str, station: &str| ProfileInput {
        agency: agency.id,
        personnel_id: id.into(),
        display_name: format!("Person {id}"),
        email: format!("p{id}@example.org"),
        category: PersonnelCategory::NationalStaff,
        nationality: None,
        phone: phone.into(),
        duty_station: Some(area(station)),
        emergency_contacts: vec![],
        certificates: vec![],
    };
    app.store
        .import_profiles(
            &[
                row("1", "+93700000001", "AF-KAB"),
                row("2", "", "AF-KAB"),
                row("3", "+93700000003", "AF-HER"),
            ],
            &ctx(),
        )
        .await
        .unwrap();
    let ids: Vec<String> = ["1", "2", "3"].iter().map(|s| s.to_string()).collect();
    let staff = app.store.profile_users(agency.id, &ids).await.unwrap();
    // The traveller flew into Kabul two days ago.
    let now = warden_store::now_micros();
    app.store
        .create_travel_request(
            &NewTravelRequest {
                traveller: u.traveller.id,
                submitted_by: u.traveller.id,
                purpose: TripPurpose::Official,
                ta_number: None,
                legs: vec![NewLeg {
                    origin: "Dubai".into(),
                    destination: "Kabul".into(),
                    area: area("AF-KAB"),
                    depart: now - Duration::hours(48),
                    arrive: now - Duration::hours(46),
                    depart_tz: None,
                    arrive_tz: None,
                    carrier: None,
                }],
            },
            &ctx(),
        )
        .await
        .unwrap();

    let do_af = app.token(&u.do_af).await;
    let start = json!({"areas": ["AF-KAB"], "message": "Shooting reported in district 9"});

    // Only the DO of every area named, or its security adviser.
    for who in [&u.traveller, &u.desk_af, &u.smt_af, &u.do_ml] {
        let t = app.token(who).await;
        app.post_as("/api/v1/roll-calls", &t, &start)
            .await
            .problem(403, None);
    }
    let do_ml = app.token(&u.do_ml).await;
    app.post_as(
        "/api/v1/roll-calls",
        &do_ml,
        &json!({"areas": ["ML-BKO", "AF-KAB"]}),
    )
    .await
    .problem(403, None);

    // Bad input, named.
    app.post_as("/api/v1/roll-calls", &do_af, &json!({"areas": []}))
        .await
        .problem(422, Some("areas"));
    app.post_as("/api/v1/roll-calls", &do_af, &json!({"areas": ["AF-ZZZ"]}))
        .await
        .problem(422, Some("areas[0]"));
    app.post_as(
        "/api/v1/roll-calls",
        &do_af,
        &json!({"areas": ["not a code"]}),
    )
    .await
    .problem(422, Some("areas[0]"));
    app.post_as(
        "/api/v1/roll-calls",
        &do_af,
        &json!({"areas": ["AF-KAB", "AF-KAB"]}),
    )
    .await
    .problem(422, Some("areas[1]"));
    app.post_as(
        "/api/v1/roll-calls",
        &do_af,
        &json!({"areas": ["AF-KAB"], "message": "x".repeat(501)}),
    )
    .await
    .problem(422, Some("message"));
    assert!(app
        .store
        .list_roll_calls(None, false)
        .await
        .unwrap()
        .is_empty());

    // The DO starts it: the two stationed in Kabul and the traveller.
    let rc = app
        .post_as("/api/v1/roll-calls", &do_af, &start)
        .await
        .ok(201);
    assert_eq!(rc["areas"], json!(["AF-KAB"]));
    assert_eq!(rc["state"], "open");
    assert_eq!(rc["people"], 3, "{rc}");
    assert_eq!(rc["sms_recipients"], 1, "{rc}");
    let id: Uuid = rc["id"].as_str().unwrap().parse().unwrap();

    // The traveller is asked in the app; Person 1 by SMS too.
    let tr = app.token(&u.traveller).await;
    let notes = app.get_as("/api/v1/notifications", &tr).await.ok(200);
    let asks: Vec<&Value> = notes["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "rollcall.ask")
        .collect();
    assert_eq!(asks.len(), 1, "{notes}");
    assert!(asks[0]["body"]
        .as_str()
        .unwrap()
        .contains("Shooting reported in district 9"));
    let sms = app.store.sms_for(&format!("rollcall:{id}")).await.unwrap();
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0].user, Some(staff["1"]));
    assert_eq!(sms[0].phone, "+93700000001");
    // Person 3, in Herat, is not asked.
    let n3 = app
        .store
        .list_notifications(staff["3"], false, &PageRequest::default())
        .await
        .unwrap();
    assert!(n3.items.iter().all(|n| n.kind != "rollcall.ask"));

    // The event stream gives the tally at once, then when it changes.
    let mut events = Events::open(&app, id, &do_af).await;
    let first = events.next(10).await.unwrap();
    assert_eq!(
        first,
        json!({"state": "open", "accounted": 0, "needs_help": 0, "no_answer": 3})
    );
    app.post_as("/api/v1/me/wellbeing", &tr, &json!({"status": "safe"}))
        .await
        .ok(201);
    let second = events.next(10).await.unwrap();
    assert_eq!(
        second,
        json!({"state": "open", "accounted": 1, "needs_help": 0, "no_answer": 2})
    );
    // Person 2 replies by SMS that they need help.
    app.store
        .record_wellbeing(
            &NewWellbeing {
                user: staff["2"],
                status: Wellbeing::NeedHelp,
                dependants: vec![],
                note: String::new(),
                channel: "sms".into(),
            },
            &ctx(),
        )
        .await
        .unwrap();

    // The board before the DO's undertaking on location data: counts, and
    // why the names are withheld; nothing audited.
    let before = views(&app).await;
    let b = app
        .get_as(&format!("/api/v1/roll-calls/{id}"), &do_af)
        .await
        .ok(200);
    assert_eq!(b["totals"]["needs_help"], 1);
    assert!(b.get("to_chase").is_none(), "{b}");
    assert!(b["people_withheld"]
        .as_str()
        .unwrap()
        .contains("undertaking"));
    assert_eq!(views(&app).await, before);
    // After it: totals, per agency, the people to chase (audited).
    app.accept_undertaking(&do_af).await;
    let b = app
        .get_as(&format!("/api/v1/roll-calls/{id}"), &do_af)
        .await
        .ok(200);
    assert_eq!(
        b["totals"],
        json!({"accounted": 1, "needs_help": 1, "no_answer": 1}),
        "{b}"
    );
    let wfp = b["by_agency"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agency_code"] == "WFP")
        .unwrap();
    assert_eq!(
        (&wfp["accounted"], &wfp["needs_help"], &wfp["no_answer"]),
        (&json!(0), &json!(1), &json!(1))
    );
    let chase: Vec<(&str, &str)> = b["to_chase"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        chase,
        [("Person 2", "needs_help"), ("Person 1", "no_answer")]
    );
    assert_eq!(b["to_chase"][0]["channel"], "sms");
    assert_eq!(views(&app).await, before + 1);
    // The regional desk sees counts only, not audited; a traveller nothing.
    let desk = app.token(&u.desk_af).await;
    let b = app
        .get_as(&format!("/api/v1/roll-calls/{id}"), &desk)
        .await
        .ok(200);
    assert_eq!(b["totals"]["needs_help"], 1);
    assert!(b.get("to_chase").is_none(), "{b}");
    assert_eq!(views(&app).await, before + 1);
    app.get_as(&format!("/api/v1/roll-calls/{id}"), &tr)
        .await
        .problem(403, None);
    app.get_as(&format!("/api/v1/roll-calls/{id}/events"), &tr)
        .await
        .problem(403, None);
    app.get_as(&format!("/api/v1/roll-calls/{}", Uuid::now_v7()), &do_af)
        .await
        .problem(404, None);

    // Closing: not by others; once; the stream says so and ends.
    app.post_as(&format!("/api/v1/roll-calls/{id}/close"), &desk, &json!({}))
        .await
        .problem(403, None);
    let sa = app.token(&u.sa_af).await;
    let closed = app
        .post_as(&format!("/api/v1/roll-calls/{id}/close"), &sa, &json!({}))
        .await
        .ok(200);
    assert_eq!(closed["state"], "closed");
    assert_eq!(closed["closed_by"], json!(u.sa_af.id));
    app.post_as(
        &format!("/api/v1/roll-calls/{id}/close"),
        &do_af,
        &json!({}),
    )
    .await
    .problem(409, None);
    let mut last = events.next(10).await.unwrap();
    while last["state"] == "open" {
        last = events.next(10).await.unwrap();
    }
    assert_eq!(last["state"], "closed");
    assert!(events.next(10).await.is_none());
    // Answers after the close are not counted; the record stays.
    app.post_as("/api/v1/me/wellbeing", &tr, &json!({"status": "need_help"}))
        .await
        .ok(201);
    let b = app
        .get_as(&format!("/api/v1/roll-calls/{id}"), &do_af)
        .await
        .ok(200);
    assert_eq!(b["roll_call"]["state"], "closed");
    assert_eq!(
        b["totals"],
        json!({"accounted": 1, "needs_help": 1, "no_answer": 1})
    );
    app.finish().await;
}

#[tokio::test]
async fn roll_call_sqlite() {
    roll_call(Backend::Sqlite).await;
}

#[tokio::test]
async fn roll_call_postgres() {
    roll_call(Backend::Postgres).await;
}
