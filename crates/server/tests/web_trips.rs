//! The TRIP web pages over HTTP: submitting a trip through the form, my
//! trips, one trip, the clearance queue and decisions, an area's processing
//! mode. SQLite; the rules behind them are the API's (tests/trips.rs).

mod common;

use common::{spawn_app, Resp, TestApp};
use serde_json::json;
use uuid::Uuid;
use warden_store::PageRequest;

async fn set_manual(app: &TestApp, area: &str) {
    let t = app.token(&app.users.do_af.clone()).await;
    app.call(
        reqwest::Method::PUT,
        &format!("/api/v1/areas/{area}/processing-mode"),
        Some(&t),
        Some(&json!({"mode": "manual", "reason": "SMT decision"})),
    )
    .await
    .ok(200);
}

/// Geneva to Kabul (manual after `set_manual`), then on to Herat (automatic),
/// in local times.
fn trip_form(to_first: &str) -> Vec<(&str, &str)> {
    vec![
        ("purpose", "official"),
        ("ta_number", "TA-2030-77"),
        ("from", "GVA"),
        ("to", to_first),
        ("depart", "2030-03-01T08:00"),
        ("arrive", "2030-03-01T18:00"),
        ("from", "KBL"),
        ("to", "Herat, AF"),
        ("depart", "2030-03-03T09:00"),
        ("arrive", "2030-03-03T10:30"),
        ("op", "submit"),
    ]
}

fn location(r: &Resp) -> String {
    r.headers
        .get("location")
        .unwrap_or_else(|| panic!("no Location ({}): {}", r.status, r.text))
        .to_str()
        .unwrap()
        .to_string()
}

/// The trip id in `/trips/{id}?…`.
fn trip_id(loc: &str) -> Uuid {
    let rest = loc
        .strip_prefix("/trips/")
        .unwrap_or_else(|| panic!("{loc}"));
    rest.split(['?', '#']).next().unwrap().parse().unwrap()
}

async fn my_trip_count(app: &TestApp) -> i64 {
    app.store
        .list_travel_requests(app.users.traveller.id, &PageRequest::default())
        .await
        .unwrap()
        .total
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trip_submitted_through_the_form() {
    let app = spawn_app().await;
    set_manual(&app, "AF-KAB").await;
    let traveller = app.users.traveller.clone();

    // The form, and the navigation of a traveller: trips, no clearance queue.
    let r = app.page_as("/trips/new", &traveller).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("name=\"from\"") && r.text.contains("type=\"datetime-local\""));
    assert!(r.text.contains("data-place-search=\"/api/v1/places\""));
    assert!(r.text.contains("href=\"/trips\""), "nav link to my trips");
    assert!(
        !r.text.contains("href=\"/clearances\""),
        "no queue for travellers"
    );
    // The form needs a sign-in.
    let r = app.send(app.raw_client.get(app.url("/trips/new"))).await;
    assert_eq!(r.status, 303);
    assert_eq!(location(&r), "/login?next=%2Ftrips%2Fnew");

    // An unknown place: the form again, values kept, the message at the leg;
    // nothing recorded.
    let audit = app.audit_count().await;
    let r = app
        .form_as("/trips/new", &traveller, &trip_form("Xyzzyqvillezz"))
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("class=\"error-summary\""), "{}", r.text);
    assert!(r.text.contains("href=\"#leg-0-to\""), "{}", r.text);
    assert!(r.text.contains("id=\"leg-0-to-error\""), "{}", r.text);
    assert!(
        r.text.contains("Xyzzyqvillezz"),
        "the value and message are shown"
    );
    assert!(
        r.text.contains("value=\"Herat, AF\""),
        "other legs are kept"
    );
    assert!(r.text.contains("value=\"TA-2030-77\""));
    assert!(r.text.contains("value=\"2030-03-03T09:00\""));
    assert_eq!(my_trip_count(&app).await, 0);
    assert_eq!(app.audit_count().await, audit, "nothing written");

    // An error on the second leg is shown at the second leg.
    let mut f = trip_form("KBL");
    f[7] = ("to", "Nowhereatallville");
    let r = app.form_as("/trips/new", &traveller, &f).await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("id=\"leg-1-to-error\""), "{}", r.text);
    assert!(!r.text.contains("id=\"leg-0-to-error\""));
    // Legs out of order.
    let mut f = trip_form("KBL");
    f[8] = ("depart", "2030-02-01T09:00");
    let r = app.form_as("/trips/new", &traveller, &f).await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("id=\"leg-1-depart-error\""), "{}", r.text);

    // Adding and removing legs without JavaScript: the form again, nothing saved.
    let mut f = trip_form("KBL");
    f.retain(|(k, _)| *k != "op");
    f.push(("op", "add"));
    let r = app.form_as("/trips/new", &traveller, &f).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("id=\"leg-2-from\""), "a third leg");
    assert!(
        r.text
            .contains("id=\"leg-2-from\" name=\"from\" value=\"Herat, AF\""),
        "it starts where the last one ended: {}",
        r.text
    );
    f.pop();
    f.push(("op", "remove-0"));
    let r = app.form_as("/trips/new", &traveller, &f).await;
    assert_eq!(r.status, 200);
    assert!(!r.text.contains("id=\"leg-1-from\""), "one leg left");
    assert!(r
        .text
        .contains("id=\"leg-0-from\" name=\"from\" value=\"KBL\""));
    assert_eq!(my_trip_count(&app).await, 0);

    // A valid trip: to its page, with the answer leg by leg.
    let r = app
        .form_as("/trips/new", &traveller, &trip_form("Kabul"))
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let loc = location(&r);
    assert!(loc.ends_with("?done=submitted"), "{loc}");
    let id = trip_id(&loc);
    let stored = app.store.get_travel_request(id).await.unwrap().unwrap();
    assert_eq!(stored.traveller, traveller.id);
    assert_eq!(stored.ta_number.as_deref(), Some("TA-2030-77"));
    assert_eq!(stored.legs.len(), 2);
    assert_eq!(stored.legs[0].area.as_str(), "AF-KAB");
    assert_eq!(stored.legs[1].area.as_str(), "AF-HER");
    // 08:00 in Geneva in March is 07:00 UTC.
    assert_eq!(
        stored.legs[0].depart.to_rfc3339(),
        "2030-03-01T07:00:00+00:00"
    );

    let r = app.page_as(&loc, &traveller).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("flash-success"), "{}", r.text);
    assert!(
        r.text
            .contains("Leg 1 into Kabul (AF-KAB): clearance pending with Test sa-af, "),
        "{}",
        r.text
    );
    assert!(
        r.text
            .contains("Leg 2 into Herat (AF-HER): notification acknowledged."),
        "{}",
        r.text
    );
    // Local and UTC times, the area's page, no decision form for the traveller.
    assert!(
        r.text
            .contains("2030-03-01 08:00 (Europe/Zurich, UTC+01:00)"),
        "{}",
        r.text
    );
    assert!(r.text.contains("2030-03-01 07:00 UTC"));
    assert!(r.text.contains("2030-03-01 18:00 (Asia/Kabul, UTC+04:30)"));
    assert!(r.text.contains("href=\"/areas/AF-KAB\""));
    assert!(r.text.contains("data-status=\"pending\""));
    assert!(
        !r.text.contains("id=\"decide-1\""),
        "a traveller does not decide"
    );

    // My trips: newest first, with its status; nobody else's.
    let r = app.page_as("/trips", &traveller).await;
    assert_eq!(r.status, 200);
    assert!(
        r.text.contains(&format!("href=\"/trips/{id}\"")),
        "{}",
        r.text
    );
    assert!(r.text.contains("data-status=\"pending\""));
    assert!(!r.text.contains("No trips yet"));
    let r = app.page_as("/trips", &app.users.do_ml.clone()).await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("No trips yet"), "{}", r.text);
    assert!(r.text.contains("href=\"/trips/new\""));
    assert!(!r.text.contains(&id.to_string()));

    // French and Arabic.
    let r = app
        .send(app.raw_client.get(app.url("/trips/new")).header(
            "cookie",
            format!(
                "warden_session={}; warden_lang=ar",
                app.token(&traveller).await
            ),
        ))
        .await;
    assert_eq!(r.status, 200);
    assert!(
        r.text.contains("dir=\"rtl\"") && r.text.contains("تسجيل رحلة"),
        "{}",
        r.text
    );
    let r = app
        .send(app.raw_client.get(app.url(&format!("/trips/{id}"))).header(
            "cookie",
            format!(
                "warden_session={}; warden_lang=fr",
                app.token(&traveller).await
            ),
        ))
        .await;
    assert!(r.text.contains("Autorisation en attente"), "{}", r.text);

    // Cross-site posts are refused.
    let r = app
        .send(
            app.raw_client
                .post(app.url("/trips/new"))
                .header(
                    "cookie",
                    format!("warden_session={}", app.token(&traveller).await),
                )
                .header("origin", "http://evil.example")
                .form(&trip_form("KBL")),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(my_trip_count(&app).await, 1);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn clearance_queue_and_decisions() {
    let app = spawn_app().await;
    set_manual(&app, "AF-KAB").await;
    let traveller = app.users.traveller.clone();
    let sa = app.users.sa_af.clone();
    let r = app
        .form_as("/trips/new", &traveller, &trip_form("KBL"))
        .await;
    let id = trip_id(&location(&r));
    // A second trip departing within the day: urgent.
    let soon = chrono::Utc::now() + chrono::Duration::hours(20);
    let t = app.token(&traveller).await;
    let urgent = app
        .post_as(
            "/api/v1/travel-requests",
            &t,
            &json!({"purpose": "entitlement", "legs": [{
                "from": "GVA", "to": "KBL",
                "depart": soon.to_rfc3339(),
                "arrive": (soon + chrono::Duration::hours(9)).to_rfc3339()}]}),
        )
        .await
        .ok(201);
    let urgent_id = urgent["id"].as_str().unwrap().to_string();

    // The queue: the adviser's country pre-selected, oldest departure first.
    let r = app.page_as("/clearances", &sa).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.text.contains("href=\"/clearances\""),
        "nav link for reviewers"
    );
    assert!(
        r.text.contains("<option value=\"AF\" selected"),
        "{}",
        r.text
    );
    let first = r
        .text
        .find(&format!("data-trip=\"{urgent_id}\""))
        .expect("urgent trip listed");
    let second = r
        .text
        .find(&format!("data-trip=\"{id}\""))
        .expect("trip listed");
    assert!(first < second, "earliest departure first");
    assert!(r.text.contains("data-urgency=\"soon\""));
    assert_eq!(
        r.text.matches("data-urgency=").count(),
        1,
        "only the urgent one"
    );
    assert!(r.text.contains(&format!("href=\"/trips/{id}#leg-1\"")));
    assert!(r.text.contains("Test traveller"));
    // Filters: an area of the country; another country is not theirs.
    let r = app.page_as("/clearances?country=AF&area=AF-HER", &sa).await;
    assert_eq!(r.status, 200);
    assert!(!r.text.contains("data-trip="), "nothing pending in Herat");
    let r = app.page_as("/clearances?country=ML", &sa).await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = app.page_as("/clearances?country=ZZZ", &sa).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("error-summary"));
    // The Designated Official reviews too; the others may not.
    let r = app.page_as("/clearances", &app.users.do_af.clone()).await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains(&format!("data-trip=\"{id}\"")));
    for u in [&traveller, &app.users.desk_af, &app.users.smt_af] {
        let r = app.page_as("/clearances", u).await;
        assert_eq!(r.status, 403, "{}: {}", u.username, r.text);
        assert!(r.text.contains("Only security advisers"), "{}", r.text);
    }
    let r = app
        .page_as("/clearances?country=AF", &app.users.do_ml.clone())
        .await;
    assert_eq!(r.status, 403);

    // The trip: seen by its reviewers and administrators, a 404 for others.
    let path = format!("/trips/{id}");
    for u in [&app.users.do_ml, &app.users.smt_af, &app.users.desk_af] {
        let r = app.page_as(&path, u).await;
        assert_eq!(r.status, 404, "{}: {}", u.username, r.text);
        assert!(!r.text.contains("Test traveller"), "nothing revealed");
    }
    let r = app.page_as(&path, &app.users.admin.clone()).await;
    assert_eq!(r.status, 200);
    assert!(
        !r.text.contains("id=\"decide-1\""),
        "administrators do not decide"
    );
    let r = app
        .page_as(&format!("/trips/{}", Uuid::now_v7()), &sa)
        .await;
    assert_eq!(r.status, 404);

    // The adviser's decision form is on the pending leg only.
    let r = app.page_as(&path, &sa).await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("id=\"decide-1\""), "{}", r.text);
    assert!(
        !r.text.contains("id=\"decide-2\""),
        "leg 2 is a notification"
    );
    assert!(r.text.contains("value=\"missing_training_certificate\""));

    let decision = format!("/trips/{id}/legs/1/decision");
    // A denial needs grounds: the page again with the message, the comment kept.
    let r = app
        .form_as(
            &decision,
            &sa,
            &[("decision", "deny"), ("comment", "Road closed")],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.text.contains("a denial must state its grounds"),
        "{}",
        r.text
    );
    assert!(r.text.contains(">Road closed</textarea>"));
    // Not on a missing certificate alone.
    let r = app
        .form_as(
            &decision,
            &sa,
            &[
                ("decision", "deny"),
                ("comment", "No BSAFE"),
                ("grounds", "missing_training_certificate"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("training certificate"), "{}", r.text);
    assert!(
        r.text
            .contains("id=\"ground-1-missing_training_certificate\" name=\"grounds\" value=\"missing_training_certificate\" checked"),
        "the ticked ground is kept"
    );
    // The traveller cannot decide their own trip; nobody outside the area can.
    let r = app
        .form_as(&decision, &traveller, &[("decision", "grant")])
        .await;
    assert_eq!(r.status, 403);
    let r = app
        .form_as(
            &decision,
            &app.users.do_ml.clone(),
            &[("decision", "grant")],
        )
        .await;
    assert_eq!(r.status, 403);

    // Granted, with a comment.
    let r = app
        .form_as(
            &decision,
            &sa,
            &[("decision", "grant"), ("comment", "Use the UN flight.")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(location(&r), format!("/trips/{id}?done=granted#leg-1"));
    let r = app.page_as(&format!("/trips/{id}?done=granted"), &sa).await;
    assert!(r
        .text
        .contains("Clearance granted. The traveller sees it at once."));
    let r = app.page_as(&path, &traveller).await;
    assert!(
        r.text
            .contains("id=\"leg-1-status\" data-status=\"granted\""),
        "{}",
        r.text
    );
    assert!(r.text.contains("Use the UN flight."));
    assert!(r
        .text
        .contains("id=\"trip-status\" data-status=\"cleared\""));

    // A second decision: 409, the first one stands and is shown.
    let r = app
        .form_as(
            &decision,
            &app.users.do_af.clone(),
            &[
                ("decision", "deny"),
                ("comment", "Too late"),
                ("grounds", "security_situation"),
            ],
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(
        r.text.contains("Leg 1 was already decided and the first decision stands: Clearance granted by Test sa-af"),
        "{}",
        r.text
    );
    let stored = app.store.get_travel_request(id).await.unwrap().unwrap();
    assert_eq!(stored.legs[0].comment, "Use the UN flight.");
    // Gone from the queue.
    let r = app.page_as("/clearances", &sa).await;
    assert!(!r.text.contains(&format!("data-trip=\"{id}\"")));
    assert!(r.text.contains(&format!("data-trip=\"{urgent_id}\"")));
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn area_processing_mode_is_the_designated_officials() {
    let app = spawn_app().await;
    let do_af = app.users.do_af.clone();
    // A future trip into Kabul, acknowledged while the area is automatic.
    let t = app.token(&app.users.traveller.clone()).await;
    let soon = chrono::Utc::now() + chrono::Duration::days(10);
    app.post_as(
        "/api/v1/travel-requests",
        &t,
        &json!({"purpose": "official", "legs": [{
            "from": "GVA", "to": "KBL",
            "depart": soon.to_rfc3339(),
            "arrive": (soon + chrono::Duration::hours(9)).to_rfc3339()}]}),
    )
    .await
    .ok(201);

    // The area page links to the setting for its DO only, and shows the mode.
    let r = app.page_as("/areas/AF-KAB", &do_af).await;
    assert!(
        r.text.contains("href=\"/areas/AF-KAB/settings\""),
        "{}",
        r.text
    );
    assert!(r.text.contains("Automatic: travel notification"));
    for u in [&app.users.sa_af, &app.users.do_ml, &app.users.traveller] {
        let r = app.page_as("/areas/AF-KAB", u).await;
        assert_eq!(r.status, 200);
        assert!(!r.text.contains("/areas/AF-KAB/settings"), "{}", u.username);
    }

    let r = app.page_as("/areas/AF-KAB/settings", &do_af).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("data-mode=\"automatic\""));
    assert!(r
        .text
        .contains("id=\"mode-automatic\" name=\"mode\" value=\"automatic\" checked"));
    assert!(r.text.contains("The mode has never been set"));
    for u in [
        &app.users.sa_af,
        &app.users.do_ml,
        &app.users.traveller,
        &app.users.admin,
    ] {
        let r = app.page_as("/areas/AF-KAB/settings", u).await;
        assert_eq!(r.status, 403, "{}: {}", u.username, r.text);
    }
    let r = app.page_as("/areas/AF-NOPE/settings", &do_af).await;
    assert_eq!(r.status, 404);

    // A reason is required; the choice is kept.
    let r = app
        .form_as(
            "/areas/AF-KAB/settings",
            &do_af,
            &[("mode", "manual"), ("reason", " ")],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("href=\"#reason\""), "{}", r.text);
    assert!(r
        .text
        .contains("id=\"mode-manual\" name=\"mode\" value=\"manual\" checked"));
    assert_eq!(
        app.store
            .processing_mode(&warden_domain::AreaCode::parse("AF-KAB").unwrap())
            .await
            .unwrap()
            .as_str(),
        "automatic"
    );
    // Others cannot post it either.
    let r = app
        .form_as(
            "/areas/AF-KAB/settings",
            &app.users.sa_af.clone(),
            &[("mode", "manual"), ("reason", "x")],
        )
        .await;
    assert_eq!(r.status, 403);

    let r = app
        .form_as(
            "/areas/AF-KAB/settings",
            &do_af,
            &[("mode", "manual"), ("reason", "SMT decision of 3 December")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let loc = location(&r);
    assert_eq!(loc, "/areas/AF-KAB/settings?done=saved&reevaluated=1");
    let r = app.page_as(&loc, &do_af).await;
    assert!(
        r.text
            .contains("The mode is saved. 1 future leg into this area was re-evaluated."),
        "{}",
        r.text
    );
    assert!(r.text.contains("data-mode=\"manual\""));
    assert!(r.text.contains("SMT decision of 3 December"));
    assert!(r.text.contains("Test do-af"));
    // The re-evaluated leg now waits in the queue.
    let r = app.page_as("/clearances", &app.users.sa_af.clone()).await;
    assert_eq!(r.text.matches("data-trip=").count(), 1, "{}", r.text);
    app.finish().await;
}
