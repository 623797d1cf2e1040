//! Bulk SMS end to end: an alert issued through the API is texted to the
//! people stationed in the area who have no smartphone, through a real SMPP
//! server (the npm package `smpp` as SMSC); delivery receipts are recorded,
//! and a reply "1" becomes that person's "I am safe".

mod common;

use common::{spawn_app_on, Backend};
use serde_json::json;
use std::time::Duration;
use warden_domain::people::PersonnelCategory;
use warden_domain::AreaCode;
use warden_server::sms::{SmsConfig, SmsGateway};
use warden_smpp::testing::Smsc;
use warden_store::{AuditContext, ProfileInput};

async fn alerts_are_texted(backend: Backend) {
    let smsc = Smsc::start(&[]);
    let app = spawn_app_on(backend).await;
    let undp = app
        .store
        .get_agency_by_code("UNDP")
        .await
        .unwrap()
        .unwrap()
        .id;
    let row = |id: &str, phone: &str, station: &str| ProfileInput {
        agency: undp,
        personnel_id: id.into(),
        display_name: format!("Guard {id}"),
        email: String::new(),
        category: PersonnelCategory::NationalStaff,
        nationality: None,
        phone: phone.into(),
        duty_station: Some(AreaCode::parse(station).unwrap()),
        emergency_contacts: vec![],
        certificates: vec![],
    };
    // +15550000001 answers "1" (the test SMSC's safe reply); the other does not answer.
    app.store
        .import_profiles(
            &[
                row("G1", "+15550000001", "AF-KAB"),
                row("G2", "+15550000002", "AF-KAB"),
                row("G3", "+15550000003", "AF-HER"),
            ],
            &AuditContext::system("test setup"),
        )
        .await
        .unwrap();
    let gateway = tokio::spawn(
        SmsGateway::new(
            app.store.clone(),
            SmsConfig {
                address: smsc.addr(),
                system_id: "warden".into(),
                password: "secret".into(),
                source: "Warden".into(),
                window: 10,
                poll: Duration::from_millis(100),
            },
        )
        .run(),
    );
    let sa = app.token(&app.users.sa_af.clone()).await;
    let alert = app
        .post_as(
            "/api/v1/areas/AF-KAB/alerts",
            &sa,
            &json!({"headline": "Clashes near the airport", "instruction": "Stay where you are", "severity": "extreme"}),
        )
        .await
        .ok(201);
    assert_eq!(alert["sms_recipients"], json!(2), "{alert}");
    let submitted = smsc.wait_for("submit_sm", 2).await;
    let mut to: Vec<&str> = submitted
        .iter()
        .map(|e| e["destination"].as_str().unwrap())
        .collect();
    to.sort();
    // International numbers travel as digits with TON 1 (international).
    assert_eq!(to, ["15550000001", "15550000002"]);
    assert!(submitted.iter().all(|e| e["destination_ton"] == json!(1)));
    assert!(submitted[0]["text"]
        .as_str()
        .unwrap()
        .contains("Clashes near the airport"));
    let reference = format!("alert:{}", alert["id"].as_str().unwrap());
    let g1 = app
        .store
        .user_by_phone("+15550000001")
        .await
        .unwrap()
        .unwrap();
    // Receipts and the reply arrive asynchronously.
    let mut done = false;
    for _ in 0..200 {
        let sms = app.store.sms_for(&reference).await.unwrap();
        let answered = app.store.latest_wellbeing(g1.id).await.unwrap();
        let all_delivered = sms
            .iter()
            .all(|m| m.state == "sent" && m.receipt.as_deref() == Some("DELIVRD"));
        if let (true, Some(w)) = (all_delivered, answered) {
            assert_eq!(w.channel, "sms");
            assert_eq!(w.status, warden_domain::eta::Wellbeing::Safe);
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        done,
        "texts: {:?}",
        app.store.sms_for(&reference).await.unwrap()
    );
    let g2 = app
        .store
        .user_by_phone("+15550000002")
        .await
        .unwrap()
        .unwrap();
    assert!(app.store.latest_wellbeing(g2.id).await.unwrap().is_none());
    gateway.abort();
    app.finish().await;
}

#[tokio::test]
async fn alerts_are_texted_and_replies_recorded_sqlite() {
    alerts_are_texted(Backend::Sqlite).await;
}

#[tokio::test]
async fn alerts_are_texted_and_replies_recorded_postgres() {
    alerts_are_texted(Backend::Postgres).await;
}
