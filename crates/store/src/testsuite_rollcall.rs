//! Roll calls, in the conformance suite: starting one asks everyone given
//! (notification, e-mail, text message for those without a smartphone) in
//! one transaction; the board places each person from their answers given
//! while it was open; closing is a compare-and-set and keeps the record.

use crate::testsuite::{minute as m, seed_geo, sys, sys_at as at};
use crate::*;
use warden_domain::eta::Wellbeing;
use warden_domain::people::PersonnelCategory;
use warden_domain::rollcall::{RollCallState, Tally};

pub async fn run_all<S: Store, F, Fut>(fresh: &F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = S>,
{
    roll_call_asks_tallies_and_closes(&fresh().await).await;
}

fn code(s: &str) -> AreaCode {
    AreaCode::parse(s).unwrap()
}

pub async fn roll_call_asks_tallies_and_closes(s: &dyn Store) {
    seed_geo(s).await;
    let agency = s
        .create_agency(
            &NewAgency {
                code: "WFP".into(),
                name: "World Food Programme".into(),
            },
            &sys(),
        )
        .await
        .unwrap();
    let row = |id: &str, email: &str, phone: &str| ProfileInput {
        agency: agency.id,
        personnel_id: id.into(),
        display_name: format!("P{id}"),
        email: email.into(),
        category: PersonnelCategory::NationalStaff,
        nationality: None,
        phone: phone.into(),
        duty_station: Some(code("AF-KAB")),
        emergency_contacts: vec![],
        certificates: vec![],
    };
    s.import_profiles(
        &[
            // E-mail and a phone, no smartphone: e-mailed and texted.
            row("1", "one@example.org", "+93700000001"),
            // A phone and an enrolled device: not texted; no e-mail.
            row("2", "", "+93700000002"),
            // No phone: notified only.
            row("3", "three@example.org", ""),
            // Not asked.
            row("4", "four@example.org", "+93700000004"),
        ],
        &sys(),
    )
    .await
    .unwrap();
    let ids: Vec<String> = ["1", "2", "3", "4"].iter().map(|s| s.to_string()).collect();
    let users = s.profile_users(agency.id, &ids).await.unwrap();
    let u = |id: &str| users[id];
    s.create_device(
        &NewDevice {
            user: u("2"),
            name: "phone".into(),
            platform: "web".into(),
            token_digest: "rollcall-test-device".into(),
        },
        &sys(),
    )
    .await
    .unwrap();
    let dof = s
        .create_user(
            &NewUser {
                username: "do-rollcall".into(),
                display_name: "The DO".into(),
                email: String::new(),
                agency: None,
                password_hash: String::new(),
                grants: vec![],
                locale: "en".into(),
            },
            &sys(),
        )
        .await
        .unwrap();

    // Bad input changes nothing.
    let err = s
        .start_roll_call(&[], dof.id, "", &[u("1")], &at(0))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid { ref field, .. } if field == "areas"),
        "{err:?}"
    );
    let err = s
        .start_roll_call(
            &[code("AF-KAB"), code("AF-XYZ")],
            dof.id,
            "",
            &[u("1")],
            &at(0),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid { ref field, .. } if field == "areas[1]"),
        "{err:?}"
    );
    assert!(s.list_roll_calls(None, false).await.unwrap().is_empty());

    // An answer before the start does not count.
    let answer = |who: Uuid, status: Wellbeing, deps: Vec<Wellbeing>, channel: &str, min: i64| {
        let r = NewWellbeing {
            user: who,
            status,
            dependants: deps
                .into_iter()
                .enumerate()
                .map(|(i, status)| DependantStatus {
                    name: format!("child {i}"),
                    status,
                })
                .collect(),
            note: String::new(),
            channel: channel.into(),
        };
        async move { s.record_wellbeing(&r, &at(min)).await.unwrap() }
    };
    answer(u("1"), Wellbeing::Safe, vec![], "web", -5).await;

    let rc = s
        .start_roll_call(
            &[code("AF-KAB"), code("AF-HER")],
            dof.id,
            "Explosion near the airport",
            // A duplicate and an unknown user are left out.
            &[u("1"), u("2"), u("3"), u("1"), Uuid::now_v7()],
            &at(0),
        )
        .await
        .unwrap();
    assert_eq!(rc.areas, vec![code("AF-KAB"), code("AF-HER")]);
    assert_eq!(rc.state, RollCallState::Open);
    assert_eq!(rc.message, "Explosion near the airport");
    assert_eq!(rc.started_by, dof.id);
    assert_eq!(rc.started_by_name, "The DO");
    assert_eq!(rc.started_at, m(0));
    assert_eq!((rc.people, rc.sms_recipients), (3, 1));
    assert_eq!(s.get_roll_call(rc.id).await.unwrap().unwrap(), rc);

    // Everyone asked has the notification; e-mail for those with an address.
    for (who, email) in [("1", "pending"), ("2", "none"), ("3", "pending")] {
        let n = s
            .list_notifications(u(who), false, &PageRequest::default())
            .await
            .unwrap();
        let ask: Vec<_> = n
            .items
            .iter()
            .filter(|n| n.kind == "rollcall.ask")
            .collect();
        assert_eq!(ask.len(), 1, "{who}");
        assert_eq!(ask[0].email_state, email, "{who}");
        assert!(ask[0].subject.contains("Kabul") && ask[0].subject.contains("Herat"));
        assert!(ask[0].body.contains("Explosion near the airport"));
        assert_eq!(ask[0].created_at, m(0));
    }
    let n4 = s
        .list_notifications(u("4"), false, &PageRequest::default())
        .await
        .unwrap();
    assert!(n4.items.iter().all(|n| n.kind != "rollcall.ask"));
    // One text message, to the person without a smartphone.
    let sms = s.sms_for(&format!("rollcall:{}", rc.id)).await.unwrap();
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0].user, Some(u("1")));
    assert_eq!(sms[0].phone, "+93700000001");
    assert_eq!(sms[0].kind, "rollcall");
    let out = s.claim_sms(10, m(1)).await.unwrap();
    assert_eq!(out.len(), 1);
    assert!(
        out[0]
            .body
            .ends_with("Reply 1 if you are safe, 2 if you need help."),
        "{}",
        out[0].body
    );

    // Nobody has answered since the start.
    let board = s.roll_call_board(rc.id).await.unwrap().unwrap();
    assert_eq!(board.roll_call, rc);
    let names: Vec<_> = board.people.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["P1", "P2", "P3"]);
    assert!(board
        .people
        .iter()
        .all(|p| p.status == Tally::NoAnswer && p.channel.is_none() && p.answered_at.is_none()));
    assert_eq!(board.people[0].agency, Some(agency.id));
    assert_eq!(board.people[0].agency_code.as_deref(), Some("WFP"));
    assert_eq!(
        board.people[0].category,
        Some(PersonnelCategory::NationalStaff)
    );

    // 1 safe by SMS; 2 safe but a dependant needs help; 3 needs help, then safe.
    answer(u("1"), Wellbeing::Safe, vec![], "sms", 1).await;
    answer(
        u("2"),
        Wellbeing::Safe,
        vec![Wellbeing::Safe, Wellbeing::NeedHelp],
        "api",
        2,
    )
    .await;
    answer(u("3"), Wellbeing::NeedHelp, vec![], "web", 3).await;
    answer(u("3"), Wellbeing::Safe, vec![], "web", 4).await;
    let board = s.roll_call_board(rc.id).await.unwrap().unwrap();
    let got: Vec<_> = board
        .people
        .iter()
        .map(|p| (p.status, p.channel.clone(), p.answered_at))
        .collect();
    assert_eq!(
        got,
        vec![
            (Tally::Accounted, Some("sms".to_string()), Some(m(1))),
            (Tally::NeedsHelp, Some("api".to_string()), Some(m(2))),
            (Tally::NeedsHelp, Some("web".to_string()), Some(m(3))),
        ]
    );

    // A second roll call, in Bamako, still open.
    let other = s
        .start_roll_call(&[code("ML-BKO")], dof.id, "", &[u("4")], &at(5))
        .await
        .unwrap();
    assert_eq!((other.people, other.sms_recipients), (1, 1));
    let ids = |v: Vec<RollCall>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.list_roll_calls(None, false).await.unwrap()),
        vec![other.id, rc.id]
    );
    assert_eq!(
        ids(s
            .list_roll_calls(Some(&code("AF-HER")), false)
            .await
            .unwrap()),
        vec![rc.id]
    );
    assert!(
        s.list_roll_calls(Some(&code("ML-BKO")), true)
            .await
            .unwrap()
            .len()
            == 1
    );

    // Closing: once; the record stays; later answers do not count.
    let closed = s.close_roll_call(rc.id, dof.id, &at(10)).await.unwrap();
    assert_eq!(closed.state, RollCallState::Closed);
    assert_eq!(closed.closed_by, Some(dof.id));
    assert_eq!(closed.closed_at, Some(m(10)));
    assert_eq!(closed.people, 3);
    let err = s.close_roll_call(rc.id, dof.id, &at(11)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let err = s
        .close_roll_call(Uuid::now_v7(), dof.id, &at(11))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    assert_eq!(s.get_roll_call(rc.id).await.unwrap().unwrap(), closed);
    answer(u("2"), Wellbeing::NeedHelp, vec![], "web", 12).await;
    answer(u("1"), Wellbeing::NeedHelp, vec![], "web", 12).await;
    let after = s.roll_call_board(rc.id).await.unwrap().unwrap();
    assert_eq!(after.roll_call, closed);
    let statuses: Vec<_> = after
        .people
        .iter()
        .map(|p| (p.status, p.answered_at))
        .collect();
    assert_eq!(
        statuses,
        vec![
            (Tally::Accounted, Some(m(1))),
            (Tally::NeedsHelp, Some(m(2))),
            (Tally::NeedsHelp, Some(m(3))),
        ]
    );
    assert_eq!(
        ids(s.list_roll_calls(None, true).await.unwrap()),
        vec![other.id]
    );
    assert!(s.roll_call_board(Uuid::now_v7()).await.unwrap().is_none());

    // Each start and close is on the audit log.
    let audit = s
        .list_audit(&AuditQuery {
            action_prefix: Some("rollcall.start".into()),
            target: None,
            actor: None,
            page: PageRequest::default(),
        })
        .await
        .unwrap();
    assert_eq!(audit.total, 2);
    let audit = s
        .list_audit(&AuditQuery {
            action_prefix: Some("rollcall.close".into()),
            target: None,
            actor: None,
            page: PageRequest::default(),
        })
        .await
        .unwrap();
    assert_eq!(audit.total, 1);
    assert_eq!(audit.items[0].target, format!("rollcall:{}", rc.id));
    assert!(s.verify_audit_chain().await.unwrap().first_broken.is_none());
}
