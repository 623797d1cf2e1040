//! Partner systems, in the conformance suite: the registry (codes unique,
//! tokens by digest, revocation as a compare-and-set), headcount reports
//! idempotent on (partner, area, as_of) with a batch written whole or not at
//! all, the latest figure per agency and area, and the CAP outbox written
//! with the roll call or the advisory change it announces (claims with a
//! lease, back-off, revocation cancelling pushes).

use crate::testsuite::{minute as m, seed_geo, sys, sys_at as at, user};
use crate::*;
use chrono::Duration;
use std::collections::BTreeMap;
use warden_domain::Role;

pub async fn run_all<S: Store, F, Fut>(fresh: &F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = S>,
{
    registry(&fresh().await).await;
    headcounts_are_idempotent(&fresh().await).await;
    cap_outbox(&fresh().await).await;
}

fn code(s: &str) -> AreaCode {
    AreaCode::parse(s).unwrap()
}

async fn audits(s: &dyn Store, prefix: &str) -> i64 {
    s.list_audit(&AuditQuery {
        action_prefix: Some(prefix.into()),
        target: None,
        actor: None,
        page: PageRequest::default(),
    })
    .await
    .unwrap()
    .total
}

async fn agency(s: &dyn Store, c: &str) -> Agency {
    s.create_agency(
        &NewAgency {
            code: c.into(),
            name: format!("Agency {c}"),
        },
        &sys(),
    )
    .await
    .unwrap()
}

async fn partner(s: &dyn Store, c: &str, agency: Uuid, push: Option<&str>) -> Partner {
    s.create_partner(
        &NewPartner {
            code: c.into(),
            name: format!("Partner {c}"),
            agency,
            push_url: push.map(str::to_string),
            token_digest: format!("digest-{c}"),
        },
        &sys(),
    )
    .await
    .unwrap()
}

pub async fn registry(s: &dyn Store) {
    let iom = agency(s, "IOM").await;
    let p = partner(s, "scaan", iom.id, Some("http://127.0.0.1:9/cap")).await;
    assert_eq!(p.code, "scaan");
    assert_eq!(p.agency, iom.id);
    assert_eq!(p.agency_code, "IOM");
    assert_eq!(p.push_url.as_deref(), Some("http://127.0.0.1:9/cap"));
    assert!(p.revoked_at.is_none());
    assert_eq!(audits(s, "partner.create").await, 1);

    // Codes are unique; the agency must exist; nothing written by either.
    let dup = s
        .create_partner(
            &NewPartner {
                code: "scaan".into(),
                name: "Again".into(),
                agency: iom.id,
                push_url: None,
                token_digest: "other".into(),
            },
            &sys(),
        )
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let nobody = s
        .create_partner(
            &NewPartner {
                code: "ghost".into(),
                name: "Ghost".into(),
                agency: Uuid::now_v7(),
                push_url: None,
                token_digest: "ghost".into(),
            },
            &sys(),
        )
        .await;
    assert!(
        matches!(&nobody, Err(StoreError::Invalid { field, .. }) if field == "agency"),
        "{nobody:?}"
    );
    assert_eq!(audits(s, "partner.create").await, 1);

    let wfp = agency(s, "WFP").await;
    partner(s, "alpha", wfp.id, None).await;
    let all = s.list_partners().await.unwrap();
    assert_eq!(
        all.iter().map(|p| p.code.as_str()).collect::<Vec<_>>(),
        ["alpha", "scaan"]
    );
    assert_eq!(s.get_partner("scaan").await.unwrap().unwrap(), p);
    assert!(s.get_partner("nope").await.unwrap().is_none());
    assert_eq!(
        s.partner_by_token("digest-scaan")
            .await
            .unwrap()
            .unwrap()
            .id,
        p.id
    );
    assert!(s.partner_by_token("digest-x").await.unwrap().is_none());

    // Revocation: once; the token still resolves, revoked, so that the
    // server can refuse it.
    let r = s.revoke_partner("scaan", &at(5)).await.unwrap();
    assert_eq!(r.revoked_at, Some(m(5)));
    let again = s.revoke_partner("scaan", &at(6)).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let none = s.revoke_partner("nope", &at(6)).await;
    assert!(matches!(none, Err(StoreError::NotFound(_))), "{none:?}");
    assert!(s
        .partner_by_token("digest-scaan")
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
    assert_eq!(audits(s, "partner.revoke").await, 1);
}

fn report(area: &str, min: i64, total: i64) -> PartnerHeadcountInput {
    let mut counts = BTreeMap::new();
    counts.insert("international_staff".to_string(), total / 4);
    counts.insert("national_staff".to_string(), total - total / 4);
    PartnerHeadcountInput {
        area: code(area),
        as_of: m(min),
        total,
        counts,
        roll_call: None,
        reference: Some(format!("ref-{area}-{min}")),
    }
}

pub async fn headcounts_are_idempotent(s: &dyn Store) {
    seed_geo(s).await;
    let iom = agency(s, "IOM").await;
    let wfp = agency(s, "WFP").await;
    let a = partner(s, "scaan", iom.id, None).await;
    let b = partner(s, "iom2", iom.id, None).await;
    let w = partner(s, "wfp", wfp.id, None).await;

    let first = vec![report("AF-KAB", 0, 40), report("AF-HER", 0, 8)];
    assert_eq!(
        s.submit_partner_headcounts(a.id, &first, &at(1))
            .await
            .unwrap(),
        [PartnerReportOutcome::Created, PartnerReportOutcome::Created]
    );
    assert_eq!(audits(s, "partner.headcount").await, 1);
    // The same again writes nothing, not even an audit entry.
    assert_eq!(
        s.submit_partner_headcounts(a.id, &first, &at(2))
            .await
            .unwrap(),
        [
            PartnerReportOutcome::Unchanged,
            PartnerReportOutcome::Unchanged
        ]
    );
    assert_eq!(audits(s, "partner.headcount").await, 1);

    // A different report for a key already held: conflict, and the new
    // report of the same batch is not kept either.
    let mut changed = report("AF-KAB", 0, 41);
    changed.reference = first[0].reference.clone();
    let r = s
        .submit_partner_headcounts(a.id, &[report("ML-BKO", 0, 3), changed], &at(3))
        .await;
    assert!(
        matches!(&r, Err(StoreError::Conflict(msg)) if msg.contains("reports[1]")),
        "{r:?}"
    );
    let bko = s
        .partner_headcounts(&[code("ML-BKO")], None, m(100))
        .await
        .unwrap();
    assert!(bko.is_empty(), "{bko:?}");
    // An unknown area is named.
    let r = s
        .submit_partner_headcounts(
            a.id,
            &[report("ML-BKO", 0, 3), report("AF-XXX", 0, 1)],
            &at(3),
        )
        .await;
    assert!(
        matches!(&r, Err(StoreError::Invalid { field, .. }) if field == "reports[1].area"),
        "{r:?}"
    );
    assert_eq!(audits(s, "partner.headcount").await, 1);

    // Later figures of the same agency from another of its partners, and
    // another agency's figure, with roll-call figures.
    let mut later = report("AF-KAB", 30, 44);
    later.roll_call = Some(PartnerRollCallFigures {
        accounted: 40,
        needs_help: 1,
        no_answer: 3,
    });
    s.submit_partner_headcounts(b.id, &[later.clone()], &at(31))
        .await
        .unwrap();
    s.submit_partner_headcounts(w.id, &[report("AF-KAB", 10, 12)], &at(31))
        .await
        .unwrap();

    let now = s
        .partner_headcounts(&[code("AF-KAB"), code("AF-HER")], None, m(100))
        .await
        .unwrap();
    let got: Vec<(&str, &str, &str, i64)> = now
        .iter()
        .map(|h| {
            (
                h.area.as_str(),
                h.agency_code.as_str(),
                h.partner_code.as_str(),
                h.total,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("AF-HER", "IOM", "scaan", 8),
            ("AF-KAB", "IOM", "iom2", 44),
            ("AF-KAB", "WFP", "wfp", 12)
        ]
    );
    let kab_iom = &now[1];
    assert_eq!(kab_iom.as_of, m(30));
    assert_eq!(kab_iom.received_at, m(31));
    assert_eq!(kab_iom.roll_call, later.roll_call);
    assert_eq!(kab_iom.counts, later.counts);
    assert_eq!(kab_iom.reference, later.reference);
    assert_eq!(kab_iom.agency, iom.id);
    assert_eq!(kab_iom.partner, b.id);

    // At an earlier moment the earlier figure; from a later one, none.
    let before = s
        .partner_headcounts(&[code("AF-KAB")], None, m(20))
        .await
        .unwrap();
    assert_eq!(
        before
            .iter()
            .map(|h| (h.agency_code.as_str(), h.total))
            .collect::<Vec<_>>(),
        [("IOM", 40), ("WFP", 12)]
    );
    let since = s
        .partner_headcounts(&[code("AF-KAB")], Some(m(15)), m(100))
        .await
        .unwrap();
    assert_eq!(
        since
            .iter()
            .map(|h| (h.agency_code.as_str(), h.total))
            .collect::<Vec<_>>(),
        [("IOM", 44)]
    );
    assert!(s
        .partner_headcounts(&[], None, m(100))
        .await
        .unwrap()
        .is_empty());

    // A revoked partner reports nothing more.
    s.revoke_partner("wfp", &at(40)).await.unwrap();
    let r = s
        .submit_partner_headcounts(w.id, &[report("AF-KAB", 41, 1)], &at(41))
        .await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
}

pub async fn cap_outbox(s: &dyn Store) {
    seed_geo(s).await;
    let iom = agency(s, "IOM").await;
    let push = partner(s, "scaan", iom.id, Some("http://127.0.0.1:9/cap")).await;
    partner(s, "pull", iom.id, None).await;
    let gone = partner(s, "gone", iom.id, Some("http://127.0.0.1:9/gone")).await;
    s.revoke_partner("gone", &sys()).await.unwrap();
    let starter = user(s, "do", vec![(Role::DesignatedOfficial, "AF")]).await;

    // A roll call is published with its start.
    let rc = s
        .start_roll_call(&[code("AF-KAB")], starter.id, "Check in", &[], &at(0))
        .await
        .unwrap();
    let msgs = s.partner_cap_messages(10).await.unwrap();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert_eq!(msgs[0].subject, CapSubject::RollCall { id: rc.id });
    assert!(msgs[0].headline.contains("Kabul"), "{}", msgs[0].headline);
    assert_eq!(msgs[0].created_at, m(0));
    assert_eq!(
        s.get_partner_cap_message(msgs[0].id)
            .await
            .unwrap()
            .as_ref(),
        Some(&msgs[0])
    );
    assert!(s
        .get_partner_cap_message(Uuid::now_v7())
        .await
        .unwrap()
        .is_none());
    // One push: to the partner with a URL that is not revoked.
    let d = s.partner_deliveries(msgs[0].id).await.unwrap();
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!((d[0].partner, d[0].state.as_str()), (push.id, "pending"));
    assert_ne!(d[0].partner, gone.id);

    // An advisory change is published with it, newest first.
    s.update_advisory_area(
        &AdvisoryAreaUpdate {
            area: code("AF-HER"),
            text: "Avoid the old city".into(),
            mitigation_text: String::new(),
            measures: vec![],
        },
        &at(1),
    )
    .await
    .unwrap();
    let msgs = s.partner_cap_messages(10).await.unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(
        msgs[0].subject,
        CapSubject::Advisory {
            country: CountryCode::parse("AF").unwrap(),
            version: 1
        }
    );
    assert_eq!(s.partner_cap_messages(1).await.unwrap().len(), 1);

    // Claims: both due, oldest first; claimed again only after the lease.
    let c = s.claim_partner_deliveries(10, m(2)).await.unwrap();
    assert_eq!(c.len(), 2, "{c:?}");
    assert_eq!(c[0].message.subject, CapSubject::RollCall { id: rc.id });
    assert_eq!(c[0].url, "http://127.0.0.1:9/cap");
    assert_eq!(c[0].partner_code, "scaan");
    assert_eq!(c[0].attempts, 1);
    assert!(s
        .claim_partner_deliveries(10, m(3))
        .await
        .unwrap()
        .is_empty());
    // The first is delivered.
    s.finish_partner_delivery(c[0].id, Ok(204), m(3))
        .await
        .unwrap();
    let d = s.partner_deliveries(c[0].message.id).await.unwrap();
    assert_eq!(d[0].state, "sent");
    assert_eq!(d[0].http_status, Some(204));
    assert_eq!(d[0].sent_at, Some(m(3)));
    // The second fails: retried after the back-off, not before.
    s.finish_partner_delivery(c[1].id, Err((Some(503), "busy".into())), m(3))
        .await
        .unwrap();
    let d = s.partner_deliveries(c[1].message.id).await.unwrap();
    assert_eq!(d[0].state, "pending");
    assert_eq!(d[0].http_status, Some(503));
    assert_eq!(d[0].error.as_deref(), Some("busy"));
    let wait = partner_push_backoff(1);
    assert_eq!(d[0].send_after, Some(m(3) + wait));
    assert!(s
        .claim_partner_deliveries(10, m(3) + wait - Duration::seconds(1))
        .await
        .unwrap()
        .is_empty());
    let again = s.claim_partner_deliveries(10, m(3) + wait).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].id, again[0].attempts), (c[1].id, 2));
    // A lease that runs out lets it be claimed again.
    let later = m(3) + wait + Duration::minutes(PARTNER_PUSH_LEASE_MINUTES);
    let re = s.claim_partner_deliveries(10, later).await.unwrap();
    assert_eq!((re.len(), re[0].attempts), (1, 3));
    // Given up after the last attempt.
    let mut t = later;
    let mut attempt = re[0].attempts;
    loop {
        s.finish_partner_delivery(re[0].id, Err((None, "refused".into())), t)
            .await
            .unwrap();
        if attempt >= PARTNER_PUSH_MAX_ATTEMPTS {
            break;
        }
        t += partner_push_backoff(attempt);
        let next = s.claim_partner_deliveries(10, t).await.unwrap();
        assert_eq!(next.len(), 1);
        attempt = next[0].attempts;
    }
    let d = s.partner_deliveries(re[0].message.id).await.unwrap();
    assert_eq!(
        (d[0].state.as_str(), d[0].attempts),
        ("failed", PARTNER_PUSH_MAX_ATTEMPTS)
    );
    assert!(s
        .claim_partner_deliveries(10, t + Duration::days(1))
        .await
        .unwrap()
        .is_empty());

    // Revoking a partner cancels what is still to be pushed to it.
    let rc2 = s
        .start_roll_call(&[code("AF-HER")], starter.id, "", &[], &at(60))
        .await
        .unwrap();
    let msg = s.partner_cap_messages(1).await.unwrap().remove(0);
    assert_eq!(msg.subject, CapSubject::RollCall { id: rc2.id });
    s.revoke_partner("scaan", &at(61)).await.unwrap();
    let d = s.partner_deliveries(msg.id).await.unwrap();
    assert_eq!(d[0].state, "cancelled");
    assert!(s
        .claim_partner_deliveries(10, m(62))
        .await
        .unwrap()
        .is_empty());
    // A partner registered later gets later messages only.
    let late = partner(s, "late", iom.id, Some("http://127.0.0.1:9/late")).await;
    assert!(s
        .partner_deliveries(msg.id)
        .await
        .unwrap()
        .iter()
        .all(|d| d.partner != late.id));
}
