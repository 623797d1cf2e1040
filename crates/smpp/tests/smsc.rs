//! warden-smpp against a real SMPP server: the server of the npm package
//! `smpp` (node-smpp 0.5), run as a test SMSC by `tests/smsc/smsc.js`.
//! The SMSC reports what it received as JSON lines on stdout, which these
//! tests read.
//!
//! Node.js and npm are required: without them these tests fail (they are
//! never skipped). `npm ci` is run in tests/smsc when node_modules is
//! missing (scripts/test.sh does it beforehand).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use warden_smpp::pdu::status;
use warden_smpp::testing::Smsc;
use warden_smpp::{
    bench, BindConfig, BindMode, Client, DeliveryReceipt, Error, Incoming, ReceiptStat,
    SubmitRequest,
};

fn config() -> BindConfig {
    BindConfig {
        window: 10,
        ..BindConfig::new("warden", "secret")
    }
}

async fn next(incoming: &mut mpsc::Receiver<Incoming>) -> Incoming {
    tokio::time::timeout(Duration::from_secs(15), incoming.recv())
        .await
        .expect("nothing incoming within 15 s")
        .expect("incoming channel closed")
}

fn request(destination: &str, text: &str, registered_delivery: bool) -> SubmitRequest {
    SubmitRequest {
        source: "Warden".into(),
        destination: destination.into(),
        text: text.into(),
        registered_delivery,
    }
}

#[tokio::test]
async fn bind_succeeds_and_a_bad_password_is_refused() {
    let smsc = Smsc::start(&[]);
    for mode in [BindMode::Transmitter, BindMode::Transceiver] {
        let client = Client::connect(smsc.addr(), BindConfig { mode, ..config() })
            .await
            .unwrap();
        assert_eq!(client.smsc_system_id(), "NodeSMSC");
        client.unbind().await.unwrap();
        assert!(client.is_closed());
    }
    let refused = Client::connect(
        smsc.addr(),
        BindConfig {
            password: "wrong".into(),
            ..config()
        },
    )
    .await;
    let Err(error) = refused else {
        panic!("a wrong password was accepted")
    };
    assert!(
        matches!(error, Error::BindRefused { status: 0x0D }),
        "{error:?}"
    );
    assert_eq!(error.status(), Some(status::ESME_RBINDFAIL));
    assert!(error.to_string().contains("ESME_RBINDFAIL"), "{error}");

    let binds = smsc.wait_for("bind", 2).await;
    assert_eq!(binds[0]["command"], "bind_transmitter");
    assert_eq!(binds[1]["command"], "bind_transceiver");
    assert_eq!(binds[0]["interface_version"], 0x34);
    assert_eq!(smsc.wait_for("bind_refused", 1).await.len(), 1);
    assert_eq!(smsc.wait_for("unbind", 2).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_messages_within_the_window_all_get_ids_and_receipts() {
    // Each submit_sm is answered after 5 ms, so the window fills.
    let smsc = Smsc::start(&["--delay-ms", "5"]);
    let client = Arc::new(Client::connect(smsc.addr(), config()).await.unwrap());
    let mut incoming = client.incoming().expect("incoming");
    assert!(client.incoming().is_none(), "handed out once");

    let mut tasks = JoinSet::new();
    for i in 0..200 {
        let client = client.clone();
        tasks.spawn(async move {
            let text = format!("Warden check-in {i}: are you safe? Reply 1 or 2");
            let ids = client
                .submit(&request(&format!("+1555010{i:04}"), &text, true))
                .await
                .unwrap();
            assert_eq!(ids.len(), 1);
            ids.into_iter().next().unwrap()
        });
    }
    let mut ids = HashSet::new();
    while let Some(id) = tasks.join_next().await {
        let id = id.unwrap();
        assert!(!id.is_empty());
        assert!(ids.insert(id), "duplicate message id");
    }
    assert_eq!(ids.len(), 200);

    let mut receipted = HashSet::new();
    while receipted.len() < 200 {
        match next(&mut incoming).await {
            Incoming::Receipt(DeliveryReceipt {
                id,
                stat,
                submit_date,
                done_date,
                sub,
                dlvrd,
                ..
            }) => {
                assert_eq!(stat, ReceiptStat::Delivered);
                assert!(submit_date.is_some() && done_date.is_some());
                assert_eq!((sub, dlvrd), (Some(1), Some(1)));
                assert!(receipted.insert(id), "receipt twice");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(receipted, ids);

    let submits = smsc.wait_for("submit_sm", 200).await;
    assert_eq!(submits.len(), 200);
    let most = submits
        .iter()
        .map(|e| e["outstanding"].as_u64().unwrap())
        .max()
        .unwrap();
    assert_eq!(most, 10, "at most the window, and the window was used");
    for e in &submits {
        assert_eq!(e["data_coding"], 0);
        assert_eq!(e["registered_delivery"], 1);
        assert_eq!(e["destination_ton"], 1);
        assert!(e["text"].as_str().unwrap().starts_with("Warden check-in "));
    }
    // Every receipt was acknowledged with deliver_sm_resp, status 0.
    let acks = smsc.wait_for("deliver_sm_resp", 200).await;
    assert!(acks
        .iter()
        .all(|a| a["kind"] == "receipt" && a["status"] == 0));
    client.unbind().await.unwrap();
}

#[tokio::test]
async fn long_messages_are_split_and_reassembled_at_the_smsc() {
    let smsc = Smsc::start(&[]);
    let client = Client::connect(smsc.addr(), config()).await.unwrap();

    let arabic = "عزيزي الزميل، هذه رسالة من فريق الأمن. يرجى تأكيد سلامتك فوراً. \
                  أرسل الرقم 1 إذا كنت بأمان، أو الرقم 2 إذا كنت بحاجة إلى مساعدة. \
                  سنتصل بك في أقرب وقت ممكن. ابق في مكان آمن.";
    let units = arabic.encode_utf16().count();
    assert!(units > 134, "long enough for three segments: {units}");
    let ids = client
        .submit(&request("+15550100001", arabic, false))
        .await
        .unwrap();
    assert_eq!(ids.len(), units.div_ceil(67));

    let english: String = "Security update for all staff in the region. "
        .repeat(9)
        .trim_end()
        .to_owned();
    assert!(english.len() > 306);
    let english_ids = client
        .submit(&request("+15550100002", &english, false))
        .await
        .unwrap();
    assert_eq!(english_ids.len(), english.len().div_ceil(153));

    let joined = smsc.wait_for("concatenated", 2).await;
    let by = |dest: &str| {
        joined
            .iter()
            .find(|e| e["destination"] == dest)
            .unwrap_or_else(|| panic!("no concatenated message to {dest}: {joined:#?}"))
            .clone()
    };
    let ar = by("15550100001");
    assert_eq!(ar["text"], arabic);
    assert_eq!(ar["data_coding"], 8);
    assert_eq!(ar["total"], ids.len());
    let segments = ar["segments"].as_array().unwrap();
    assert!(segments
        .iter()
        .all(|s| s.as_str().unwrap().chars().count() <= 67));
    let smsc_ids: HashSet<&str> = ar["message_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(smsc_ids, ids.iter().map(String::as_str).collect());

    let en = by("15550100002");
    assert_eq!(en["text"], english.as_str());
    assert_eq!(en["data_coding"], 0);
    assert_eq!(en["total"], english_ids.len());
    // Every segment carried the UDH indicator and one shared reference.
    let parts: Vec<Value> = smsc
        .events("submit_sm")
        .into_iter()
        .filter(|e| e["destination"] == "15550100001")
        .collect();
    assert_eq!(parts.len(), ids.len());
    assert!(parts
        .iter()
        .all(|p| p["esm_class"] == 0x40 && p["part"]["ref"] == ar["ref"]));
    client.unbind().await.unwrap();
}

#[tokio::test]
async fn a_safe_reply_arrives_as_a_message() {
    let smsc = Smsc::start(&[]);
    let client = Client::connect(smsc.addr(), config()).await.unwrap();
    let mut incoming = client.incoming().unwrap();
    let ids = client
        .submit(&request(
            "+15550000001",
            "Are you safe? Reply 1 if you are safe, 2 if you need help.",
            true,
        ))
        .await
        .unwrap();

    let (mut reply, mut receipt) = (None, None);
    while reply.is_none() || receipt.is_none() {
        match next(&mut incoming).await {
            Incoming::Message {
                source,
                destination,
                text,
            } => reply = Some((source, destination, text)),
            Incoming::Receipt(r) => receipt = Some(r),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        reply.unwrap(),
        ("+15550000001".into(), "Warden".into(), "1".into())
    );
    assert_eq!(receipt.unwrap().id, ids[0]);
    let acks = smsc.wait_for("deliver_sm_resp", 2).await;
    assert!(acks.iter().any(|a| a["kind"] == "mo" && a["status"] == 0));
    client.unbind().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttling_smsc_gets_retries_and_every_message_is_accepted() {
    // At most 20 submit_sm a second; 60 messages with a window of 10.
    let smsc = Smsc::start(&["--throttle", "20"]);
    let client = Arc::new(Client::connect(smsc.addr(), config()).await.unwrap());
    let mut tasks = JoinSet::new();
    for i in 0..60 {
        let client = client.clone();
        tasks.spawn(async move {
            client
                .submit(&request(
                    &format!("+1555020{i:04}"),
                    "Curfew at 20:00",
                    false,
                ))
                .await
        });
    }
    let mut ids = HashSet::new();
    while let Some(result) = tasks.join_next().await {
        let result = result.unwrap();
        let id = result.unwrap_or_else(|e| panic!("refused despite retries: {e}"));
        ids.insert(id[0].clone());
    }
    assert_eq!(ids.len(), 60);
    // The SMSC's stdout is read by another thread: wait for it to catch up
    // (throttled events come before the last submit_sm on that stream).
    assert_eq!(smsc.wait_for("submit_sm", 60).await.len(), 60);
    assert!(
        !smsc.events("throttled").is_empty(),
        "the SMSC never throttled"
    );
    client.unbind().await.unwrap();
}

#[tokio::test]
async fn without_retries_throttling_is_an_error_with_the_status() {
    let smsc = Smsc::start(&["--throttle", "1"]);
    let client = Client::connect(
        smsc.addr(),
        BindConfig {
            throttle_retries: 0,
            ..config()
        },
    )
    .await
    .unwrap();
    client
        .submit(&request("+15550300001", "first", false))
        .await
        .unwrap();
    let error = client
        .submit(&request("+15550300002", "second", false))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(status::ESME_RTHROTTLED));
    assert!(error.to_string().contains("ESME_RTHROTTLED"), "{error}");
    client.unbind().await.unwrap();
}

#[tokio::test]
async fn enquire_link_both_ways() {
    let smsc = Smsc::start(&["--enquire-link-ms", "100"]);
    let client = Client::connect(
        smsc.addr(),
        BindConfig {
            enquire_link_interval: Duration::from_millis(100),
            ..config()
        },
    )
    .await
    .unwrap();
    client.enquire_link().await.unwrap();
    // Ours (one asked for, the rest periodic) and the SMSC's, answered.
    assert!(smsc.wait_for("enquire_link", 4).await.len() >= 4);
    let answered = smsc.wait_for("enquire_link_resp", 3).await;
    assert!(answered.iter().all(|e| e["status"] == 0));
    assert!(!client.is_closed());
    client.unbind().await.unwrap();
    assert!(matches!(client.enquire_link().await, Err(Error::Closed)));
}

#[tokio::test]
async fn the_smsc_going_away_closes_the_session() {
    let mut smsc = Smsc::start(&[]);
    let client = Client::connect(smsc.addr(), config()).await.unwrap();
    smsc.kill();
    for _ in 0..100 {
        if client.is_closed() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(client.is_closed());
    let error = client
        .submit(&request("+15550400001", "anyone there?", false))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Closed), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throughput_helper() {
    let smsc = Smsc::start(&[]);
    let (elapsed, per_second) = bench::throughput(smsc.addr(), config(), 300, 10)
        .await
        .unwrap();
    assert!(elapsed > Duration::ZERO && per_second > 0.0);
    assert_eq!(smsc.wait_for("submit_sm", 300).await.len(), 300);
}

/// The measurement for BENCHMARKS and the report:
/// `cargo test --release -p warden-smpp --test smsc -- --ignored --nocapture measure`
/// (SMPP_BENCH_N messages, 20,000 by default, window 10).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run by hand in release mode"]
async fn measure_throughput() {
    let n = std::env::var("SMPP_BENCH_N")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let smsc = Smsc::start(&["--quiet"]);
    let (elapsed, per_second) = bench::throughput(smsc.addr(), config(), n, 10)
        .await
        .unwrap();
    println!(
        "{n} messages, window 10, against node-smpp: {:.2} s, {per_second:.0} messages/s",
        elapsed.as_secs_f64()
    );
}
