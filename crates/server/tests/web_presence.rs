//! Who is where in the browser, over HTTP: the presence map, an area's
//! headcount page (counts for the area's security roles; names, why and how
//! fresh only after the undertaking and only of the people the role may
//! see, each view audited), the undertaking form, and a roll call started,
//! answered from the eTA page, followed on the board and closed through the
//! forms; GET /api/v1/roll-calls. SQLite; the rules behind the pages are
//! the API's (tests/presence.rs, tests/rollcall.rs run them on both stores).

mod common;

use chrono::{DateTime, Duration, Utc};
use common::{spawn_app, station_people, Resp, TestApp, TestUser};
use serde_json::{json, Value};
use uuid::Uuid;
use warden_domain::people::PersonnelCategory;
use warden_domain::Role;
use warden_store::Store;

fn hours(h: i64) -> DateTime<Utc> {
    Utc::now() + Duration::hours(h)
}

fn location(r: &Resp) -> String {
    r.headers
        .get("location")
        .unwrap_or_else(|| panic!("no Location ({}): {}", r.status, r.text))
        .to_str()
        .unwrap()
        .to_string()
}

async fn trip(store: &dyn Store, who: Uuid, legs: &[(&str, i64, i64)]) {
    let legs: Vec<_> = legs
        .iter()
        .map(|(code, depart, arrive)| (*code, hours(*depart), hours(*arrive)))
        .collect();
    common::record_trip(store, who, &legs).await;
}

/// The phone of `who` reports `code` (None: outside every area) `ago` hours ago.
async fn phone(store: &dyn Store, who: Uuid, code: Option<&str>, ago: i64) {
    common::phone_reports(store, who, code, &[hours(-ago)]).await;
}

/// Kabul now: residents R1 (UNDP) and R2 (WFP); T (WFP, of Herat) arrived
/// 10 hours ago; O (WFP, of Herat) flew in one way 30 days ago (overdue);
/// S (UNDP, of Kabul) last heard of in Kabul two days ago (stale); U (WFP,
/// of Kabul) whose phone is outside every area (unknown); and the test
/// traveller, whose phone is in Kabul. Returns WFP's id.
async fn populate(app: &TestApp) -> Uuid {
    let s = app.store.as_ref();
    let undp = app.agency("UNDP").await;
    let wfp = app.agency("WFP").await;
    use PersonnelCategory::*;
    let people = [
        ("R1", undp, NationalStaff, "AF-KAB"),
        ("R2", wfp, InternationalStaff, "AF-KAB"),
        ("T", wfp, Consultant, "AF-HER"),
        ("O", wfp, Contractor, "AF-HER"),
        ("S", undp, Dependant, "AF-KAB"),
        ("U", wfp, NationalStaff, "AF-KAB"),
    ];
    let ids = station_people(s, &people).await;
    trip(s, ids["T"], &[("AF-KAB", -12, -10), ("AF-HER", 24, 26)]).await;
    trip(s, ids["O"], &[("AF-KAB", -30 * 24 - 2, -30 * 24)]).await;
    phone(s, ids["S"], Some("AF-KAB"), 48).await;
    phone(s, ids["U"], None, 2).await;
    phone(s, app.users.traveller.id, Some("AF-KAB"), 1).await;
    wfp
}

async fn audits(app: &TestApp, action: &str) -> i64 {
    app.store
        .list_audit(&warden_store::AuditQuery {
            action_prefix: Some(action.into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .total
}

fn before(text: &str, a: &str, b: &str) -> bool {
    let i = text.find(a).unwrap_or_else(|| panic!("{a} missing"));
    let j = text.find(b).unwrap_or_else(|| panic!("{b} missing"));
    i < j
}

#[tokio::test(flavor = "multi_thread")]
async fn presence_map_and_area_headcount_pages() {
    let app = spawn_app().await;
    let wfp = populate(&app).await;
    let u = app.users.clone();

    // Signed out: to the login page.
    let r = app.send(app.raw_client.get(app.url("/presence"))).await;
    assert_eq!(r.status, 303);
    assert_eq!(location(&r), "/login?next=%2Fpresence");

    // A traveller sees neither the map nor an area's headcount, nor the link.
    let r = app.page_as("/presence", &u.traveller).await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = app.page_as("/areas/AF-KAB/headcount", &u.traveller).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(!r.text.contains("Person R1"));
    let r = app.page_as("/eta", &u.traveller).await;
    assert!(!r.text.contains("href=\"/presence\""), "no nav link");

    // The adviser's map: Afghanistan (their only country) by default, Kabul
    // in the table with its count and a link to its headcount.
    let r = app.page_as("/presence", &u.sa_af).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("href=\"/presence\" aria-current=\"page\""));
    assert!(
        r.text.contains("<option value=\"AF\" selected>"),
        "AF chosen"
    );
    assert!(r
        .text
        .contains("data-geojson-url=\"/api/v1/map/areas.geojson?country=AF\""));
    assert!(r.text.contains("src=\"/assets/presence.js\""));
    let row = r
        .text
        .split("<tr data-area=\"AF-KAB\">")
        .nth(1)
        .expect("Kabul row")
        .split("</tr>")
        .next()
        .unwrap();
    assert!(row.contains("href=\"/areas/AF-KAB/headcount\""), "{row}");
    // R1, R2, T, O, S and the traveller are placed in Kabul (U is nowhere);
    // O and S are flagged.
    assert!(
        row.contains("<td class=\"text-end\">6</td>"),
        "six present: {row}"
    );
    assert!(row.contains("badge-warning\">2<"), "two flagged: {row}");
    // The asset is served.
    let js = app.get("/assets/presence.js").await;
    assert_eq!(js.status, 200);
    assert!(js.text.contains("EventSource"));
    // Another moment, in a country where nobody of ours is: a useful empty
    // state; a moment that is no date is refused, naming it.
    let sa_td = app
        .user_with("sa.td", None, &[(Role::SecurityAdviser, "TD", None)])
        .await;
    let r = app
        .page_as("/presence?country=TD&at=2025-01-01T12:00", &sa_td)
        .await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("id=\"presence-empty\""), "{}", r.text);
    let r = app
        .page_as("/presence?country=AF&at=2025-01-01T12:00", &u.sa_af)
        .await;
    assert_eq!(r.status, 200);
    assert!(!r.text.contains("id=\"presence-empty\""), "residents stay");
    let r = app.page_as("/presence?at=tomorrow", &u.sa_af).await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("at:"), "{}", r.text);
    // Mali is not theirs.
    let r = app.page_as("/presence?country=ML", &u.sa_af).await;
    assert_eq!(r.status, 403);

    // The area page links to the headcount for security roles only.
    let r = app.page_as("/areas/AF-KAB", &u.sa_af).await;
    assert!(r.text.contains("href=\"/areas/AF-KAB/headcount\""));
    let r = app.page_as("/areas/AF-KAB", &u.traveller).await;
    assert!(!r.text.contains("href=\"/areas/AF-KAB/headcount\""));

    // An SMT member: counts only, no names, no undertaking asked, no roll call form.
    let views = audits(&app, "whereabouts.view").await;
    let r = app.page_as("/areas/AF-KAB/headcount", &u.smt_af).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("id=\"total-present\">6<"), "{}", r.text);
    assert!(r.text.contains("id=\"total-away\">1<"), "U is away");
    assert!(r.text.contains("id=\"total-flagged\">3<"));
    assert!(r.text.contains("id=\"flag-unknown\">1<"));
    assert!(r.text.contains("id=\"flag-overdue\">1<"));
    assert!(r.text.contains("id=\"flag-stale\">1<"));
    assert!(r.text.contains("id=\"why-travel\">2<"), "T and O travelled");
    assert!(
        r.text.contains("id=\"why-phone\">2<"),
        "S and the traveller"
    );
    assert!(r.text.contains("id=\"why-duty\">2<"), "R1 and R2");
    assert!(r.text.contains("Dependant"), "categories");
    assert!(r.text.contains(">WFP<"), "agencies");
    assert!(
        !r.text.contains("Person R1"),
        "no names for counts-only roles"
    );
    assert!(r.text.contains("not the people"));
    assert!(!r.text.contains("id=\"undertaking-link\""));
    assert!(!r.text.contains("id=\"rollcall-form\""));
    assert!(!r.text.contains("id=\"csv-export\""));

    // The adviser before the undertaking: counts, and the way to it.
    let r = app.page_as("/areas/AF-KAB/headcount", &u.sa_af).await;
    assert_eq!(r.status, 200);
    assert!(!r.text.contains("Person R1"));
    assert!(r
        .text
        .contains("href=\"/undertaking?next=/areas/AF-KAB/headcount\""));
    assert!(
        r.text.contains("id=\"rollcall-form\""),
        "the adviser may start a roll call"
    );
    assert_eq!(audits(&app, "whereabouts.view").await, views, "no view yet");

    // The undertaking page; accepting it goes back to the headcount.
    let r = app
        .page_as("/undertaking?next=/areas/AF-KAB/headcount", &u.sa_af)
        .await;
    assert_eq!(r.status, 200);
    assert!(r
        .text
        .contains("location data of personnel only to protect"));
    let r = app
        .form_as(
            "/undertaking",
            &u.sa_af,
            &[("version", "1999-01"), ("next", "/presence")],
        )
        .await;
    assert_eq!(r.status, 422, "an old version is refused");
    let r = app
        .form_as(
            "/undertaking",
            &u.sa_af,
            &[
                ("version", warden_domain::eta::UNDERTAKING_VERSION),
                ("next", "https://evil.example/"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(location(&r), "/presence", "no redirect off the site");

    // Now the people: why and how fresh, the flagged first; the view audited.
    let r = app.page_as("/areas/AF-KAB/headcount", &u.sa_af).await;
    assert_eq!(r.status, 200);
    for n in ["R1", "R2", "T", "O", "S", "U"] {
        assert!(r.text.contains(&format!("Person {n}")), "{n}: {}", r.text);
    }
    assert!(r.text.contains("data-flag=\"overdue\""));
    assert!(r.text.contains("data-flag=\"stale_location\""));
    assert!(r.text.contains("data-flag=\"unknown\""));
    assert!(r.text.contains("data-reason=\"travel\""));
    assert!(r.text.contains("data-reason=\"phone\""));
    assert!(r.text.contains("data-reason=\"duty_station\""));
    assert!(r.text.contains("h ago"), "how fresh");
    assert!(before(&r.text, "Person O", "Person R1"), "flagged first");
    assert!(before(&r.text, "Person U", "Person R2"), "flagged first");
    assert!(r
        .text
        .contains("href=\"/api/v1/areas/AF-KAB/headcount.csv\""));
    assert_eq!(audits(&app, "whereabouts.view").await, views + 1);

    // A WFP focal point sees WFP's people only.
    let fp = app
        .user_with(
            "fp.wfp",
            Some(wfp),
            &[(Role::AgencyFocalPoint, "AF", Some(wfp))],
        )
        .await;
    let t = app.token(&fp).await;
    app.post_as(
        "/api/v1/undertaking",
        &t,
        &json!({"version": warden_domain::eta::UNDERTAKING_VERSION}),
    )
    .await
    .ok(200);
    let r = app.page_as("/areas/AF-KAB/headcount", &fp).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("Person R2") && r.text.contains("Person O"));
    assert!(!r.text.contains("Person R1") && !r.text.contains("Person S"));

    // Not found, not theirs, not a date.
    assert_eq!(
        app.page_as("/areas/AF-XXX/headcount", &u.sa_af)
            .await
            .status,
        404
    );
    assert_eq!(
        app.page_as("/areas/AF-KAB/headcount", &u.do_ml)
            .await
            .status,
        403
    );
    let r = app
        .page_as("/areas/AF-KAB/headcount?at=noon", &u.sa_af)
        .await;
    assert_eq!(r.status, 422);

    // French and Arabic.
    let t = app.token(&u.sa_af).await;
    let fr = app
        .send(
            app.raw_client
                .get(app.url("/areas/AF-KAB/headcount"))
                .header("cookie", format!("warden_session={t}; warden_lang=fr")),
        )
        .await;
    assert!(fr.text.contains("Qui est à"), "{}", fr.text);
    assert!(fr.text.contains("Personne à charge"));
    let ar = app
        .send(
            app.raw_client
                .get(app.url("/presence"))
                .header("cookie", format!("warden_session={t}; warden_lang=ar")),
        )
        .await;
    assert!(ar.text.contains("dir=\"rtl\""));
    assert!(ar.text.contains("من أين"));
    app.finish().await;
}

async fn board(app: &TestApp, id: &str, u: &TestUser) -> Resp {
    app.page_as(&format!("/roll-calls/{id}"), u).await
}

#[tokio::test(flavor = "multi_thread")]
async fn roll_call_started_answered_and_closed_through_the_forms() {
    let app = spawn_app().await;
    populate(&app).await;
    let u = app.users.clone();

    // Nobody but the area's DO or security advisers starts one.
    let r = app
        .form_as("/roll-calls", &u.smt_af, &[("area", "AF-KAB")])
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = app
        .form_as("/roll-calls", &u.do_ml, &[("area", "AF-KAB")])
        .await;
    assert_eq!(r.status, 403);
    let r = app
        .form_as("/roll-calls", &u.do_af, &[("area", "AF-NOPE")])
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    // A message too long: the form again, the text kept, nothing started.
    let long = "x".repeat(600);
    let r = app
        .form_as(
            "/roll-calls",
            &u.do_af,
            &[("area", "AF-KAB"), ("message", &long)],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(
        r.text.contains("id=\"rollcall-message-error\""),
        "{}",
        r.text
    );
    assert!(r.text.contains(&long));
    assert!(app
        .store
        .list_roll_calls(None, false)
        .await
        .unwrap()
        .is_empty());

    // The DO's list is empty, with the way to start one.
    let r = app.page_as("/roll-calls", &u.do_af).await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("id=\"rollcalls-empty\""));

    // The DO starts one from Kabul's headcount page.
    let r = app.page_as("/areas/AF-KAB/headcount", &u.do_af).await;
    assert!(r.text.contains("(6 people present)"), "{}", r.text);
    let r = app
        .form_as(
            "/roll-calls",
            &u.do_af,
            &[
                ("area", "AF-KAB"),
                ("message", "Shelling reported near the airport."),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let to = location(&r);
    assert!(to.ends_with("?done=started"), "{to}");
    let id = to
        .trim_start_matches("/roll-calls/")
        .split('?')
        .next()
        .unwrap()
        .to_string();

    // The board: six asked, none answered yet, the people to chase.
    let views = audits(&app, "rollcall.view").await;
    let r = app.page_as(&to, &u.do_af).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("Roll call started: 6 people asked."));
    assert!(r.text.contains("id=\"tally-people\">6<"));
    assert!(r.text.contains("id=\"tally-accounted\">0<"));
    assert!(r.text.contains("id=\"tally-no-answer\">6<"));
    assert!(r.text.contains("Shelling reported near the airport."));
    assert!(r.text.contains(&format!(
        "data-events-url=\"/api/v1/roll-calls/{id}/events\""
    )));
    assert!(
        r.text.contains("<noscript><meta http-equiv=\"refresh\""),
        "refreshes without JavaScript"
    );
    // No names before the DO's undertaking on location data: the way to it,
    // back to this board; nothing audited.
    assert!(!r.text.contains("Test traveller"), "no names yet");
    assert!(r
        .text
        .contains(&format!("href=\"/undertaking?next=/roll-calls/{id}\"")));
    assert!(r.text.contains("id=\"close-roll-call\""));
    assert_eq!(audits(&app, "rollcall.view").await, views);
    let r = app
        .form_as(
            "/undertaking",
            &u.do_af,
            &[
                ("version", warden_domain::eta::UNDERTAKING_VERSION),
                ("next", &format!("/roll-calls/{id}")),
            ],
        )
        .await;
    assert_eq!(location(&r), format!("/roll-calls/{id}"));
    let r = board(&app, &id, &u.do_af).await;
    assert!(r.text.contains("Test traveller"), "to chase");
    assert_eq!(audits(&app, "rollcall.view").await, views + 1);
    // Counts only for the SMT member; none for Mali's DO; 404 for no such.
    let r = board(&app, &id, &u.smt_af).await;
    assert_eq!(r.status, 200);
    assert!(!r.text.contains("Test traveller"));
    assert!(!r.text.contains("id=\"close-roll-call\""));
    assert_eq!(board(&app, &id, &u.do_ml).await.status, 403);
    assert_eq!(
        board(&app, &Uuid::new_v4().to_string(), &u.do_af)
            .await
            .status,
        404
    );
    assert_eq!(board(&app, "not-an-id", &u.do_af).await.status, 404);
    // The headcount page links to the open roll call.
    let r = app.page_as("/areas/AF-KAB/headcount", &u.sa_af).await;
    assert!(r.text.contains(&format!("href=\"/roll-calls/{id}\"")));

    // The traveller was asked (the notification leads to the eTA page) and
    // answers there for herself and a dependant.
    let tt = app.token(&u.traveller).await;
    let n = app.get_as("/api/v1/notifications", &tt).await.ok(200);
    let ask = n["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "rollcall.ask")
        .unwrap_or_else(|| panic!("asked: {n}"));
    assert_eq!(ask["link"], "/eta");
    let r = app
        .form_as(
            "/eta/wellbeing",
            &u.traveller,
            &[
                ("status", "safe"),
                ("dep_name", "Sami"),
                ("dep_status", "safe"),
            ],
        )
        .await;
    assert!(r.status == 303 || r.status == 200, "{}", r.text);
    let r = board(&app, &id, &u.do_af).await;
    assert!(r.text.contains("id=\"tally-accounted\">1<"), "{}", r.text);
    assert!(r.text.contains("id=\"tally-no-answer\">5<"));
    assert!(!r.text.contains("Test traveller"), "no longer to chase");

    // The list and the API: open, with totals.
    let r = app.page_as("/roll-calls", &u.do_af).await;
    assert!(r.text.contains(&format!("href=\"/roll-calls/{id}\"")));
    assert!(r.text.contains("Open"));
    let t = app.token(&u.do_af).await;
    let v = app.get_as("/api/v1/roll-calls", &t).await.ok(200);
    assert_eq!(v["total"], 1);
    assert_eq!(v["items"][0]["id"], json!(id));
    assert_eq!(v["items"][0]["state"], "open");
    assert_eq!(v["items"][0]["totals"]["accounted"], 1);
    assert_eq!(v["items"][0]["totals"]["no_answer"], 5);
    let tm = app.token(&u.do_ml).await;
    let v = app.get_as("/api/v1/roll-calls", &tm).await.ok(200);
    assert_eq!(v["total"], 0, "Mali's DO sees none of Kabul's");
    let tt = app.token(&u.traveller).await;
    app.get_as("/api/v1/roll-calls", &tt)
        .await
        .problem(403, None);
    app.get_as("/api/v1/roll-calls?state=half", &t)
        .await
        .problem(422, Some("state"));
    app.get_as("/api/v1/roll-calls?limit=0", &t)
        .await
        .problem(422, Some("limit"));
    app.get_as("/api/v1/roll-calls?area=nowhere", &t)
        .await
        .problem(422, Some("area"));

    // The security adviser closes it as delegate; the record is kept, read-only.
    let r = app
        .form_as(&format!("/roll-calls/{id}/close"), &u.smt_af, &[])
        .await;
    assert_eq!(r.status, 403);
    let r = app
        .form_as(&format!("/roll-calls/{id}/close"), &u.sa_af, &[])
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(location(&r), format!("/roll-calls/{id}?done=closed"));
    let r = board(&app, &id, &u.do_af).await;
    assert!(r.text.contains("data-state=\"closed\""));
    assert!(!r.text.contains("id=\"close-roll-call\""));
    assert!(!r.text.contains("http-equiv=\"refresh\""));
    assert!(r.text.contains("id=\"tally-accounted\">1<"));
    let r = app
        .form_as(&format!("/roll-calls/{id}/close"), &u.do_af, &[])
        .await;
    assert_eq!(r.status, 409, "closed once");
    // Later answers do not count.
    app.form_as("/eta/wellbeing", &u.traveller, &[("status", "need_help")])
        .await;
    let r = board(&app, &id, &u.do_af).await;
    assert!(r.text.contains("id=\"tally-needs-help\">0<"));

    // A second one: open ones first in the list and the API.
    let r = app
        .form_as("/roll-calls", &u.sa_af, &[("area", "AF-KAB")])
        .await;
    assert_eq!(r.status, 303);
    let second = location(&r)
        .trim_start_matches("/roll-calls/")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let v: Value = app.get_as("/api/v1/roll-calls", &t).await.ok(200);
    assert_eq!(v["total"], 2);
    assert_eq!(v["items"][0]["id"], json!(second));
    assert_eq!(v["items"][1]["state"], "closed");
    let v = app
        .get_as("/api/v1/roll-calls?state=closed&limit=1", &t)
        .await
        .ok(200);
    assert_eq!(v["items"][0]["id"], json!(id));
    let r = app.page_as("/roll-calls", &u.do_af).await;
    assert!(before(
        &r.text,
        &format!("id=\"rc-{second}\""),
        &format!("id=\"rc-{id}\"")
    ));
    app.finish().await;
}
