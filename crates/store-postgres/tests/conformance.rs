//! The shared conformance suite, and the audit tamper test, against a real
//! PostgreSQL. Every store gets its own schema `t_<uuid>` so that concurrent
//! runs never meet; the schemas a test created are dropped when it ends
//! (passing or not).
//!
//! The server is taken from `WARDEN_TEST_POSTGRES_URL`, by default
//! `postgres://postgres@127.0.0.1:5432/test`. If it cannot be reached the
//! tests fail: they never pass without having run.

use std::sync::{Arc, Mutex};
use warden_store::Store;
use warden_store_postgres::PgStore;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn url() -> String {
    std::env::var("WARDEN_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.to_string())
}

/// The schemas one test created. The test drops them with `drop_all` when
/// it ends; if it panicked first, `Drop` does it.
#[derive(Clone, Default)]
struct Schemas(Arc<Mutex<Vec<String>>>);

impl Schemas {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Drops the schemas, from inside the test's runtime so that the pools
    /// of finished stores can still flush their pending rollbacks (an idle
    /// transaction would hold locks that DROP SCHEMA waits for).
    async fn drop_all(&self) {
        drop_schemas(self.take()).await;
    }
}

impl Drop for Schemas {
    fn drop(&mut self) {
        // Only the last handle, and only if the test did not get to drop_all
        // (it panicked).
        if Arc::strong_count(&self.0) > 1 {
            return;
        }
        let names = self.take();
        if names.is_empty() {
            return;
        }
        // Drop runs inside the test's runtime, which cannot be blocked on;
        // clean up from a thread with a runtime of its own. Best effort: the
        // lock timeout keeps it from hanging on connections of this runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(drop_schemas(names));
        })
        .join();
    }
}

async fn drop_schemas(names: Vec<String>) {
    use sqlx::Connection;
    if names.is_empty() {
        return;
    }
    let url = url();
    let Ok(mut conn) = sqlx::PgConnection::connect(&url).await else {
        return;
    };
    let _ = sqlx::query("SET lock_timeout = '2s'")
        .execute(&mut conn)
        .await;
    for name in names {
        let sql = format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE");
        for attempt in 1..=5 {
            match sqlx::query(&sql).execute(&mut conn).await {
                Ok(_) => break,
                Err(e) if attempt == 5 => eprintln!("could not drop test schema {name}: {e}"),
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
            }
        }
    }
    let _ = conn.close().await;
}

async fn fresh_in(schemas: Schemas) -> PgStore {
    let url = url();
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let store = match PgStore::connect_with_schema(&url, &schema).await {
        Ok(s) => s,
        Err(e) => panic!(
            "cannot reach the test PostgreSQL at {url}: {e}\n\
             Start PostgreSQL there (trust auth, database `test`), or point the tests at another server with \
             WARDEN_TEST_POSTGRES_URL=postgres://user:password@host:port/database"
        ),
    };
    schemas.0.lock().unwrap().push(schema.clone());
    store
        .migrate()
        .await
        .unwrap_or_else(|e| panic!("migrating schema {schema} at {url}: {e}"));
    store
}

#[tokio::test]
async fn postgres_conformance() {
    let schemas = Schemas::default();
    warden_store::testsuite::run_all(|| fresh_in(schemas.clone())).await;
    schemas.drop_all().await;
}

#[tokio::test]
async fn tampering_with_the_audit_log_is_refused_and_detected() {
    let schemas = Schemas::default();
    let s = fresh_in(schemas.clone()).await;
    let ctx = warden_store::AuditContext::system("test");
    for i in 0..3 {
        s.append_audit(
            &ctx,
            "test.event",
            &format!("t:{i}"),
            serde_json::json!({"i": i}),
        )
        .await
        .unwrap();
    }
    assert_eq!(s.verify_audit_chain().await.unwrap().first_broken, None);
    // The database refuses edits and deletions outright.
    let r = sqlx::query("UPDATE audit_log SET detail = '{}' WHERE seq = 2")
        .execute(s.pool())
        .await;
    let msg = r.unwrap_err().to_string();
    assert!(msg.contains("append-only"), "{msg}");
    let r = sqlx::query("DELETE FROM audit_log WHERE seq = 3")
        .execute(s.pool())
        .await;
    let msg = r.unwrap_err().to_string();
    assert!(msg.contains("append-only"), "{msg}");
    // Someone with database access who drops the trigger is still caught by the chain.
    sqlx::query("DROP TRIGGER audit_log_no_update ON audit_log")
        .execute(s.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET detail = '{\"i\":9}' WHERE seq = 2")
        .execute(s.pool())
        .await
        .unwrap();
    assert_eq!(s.verify_audit_chain().await.unwrap().first_broken, Some(2));
    s.pool().close().await;
    schemas.drop_all().await;
}

#[tokio::test]
async fn concurrent_audit_appends_keep_one_unbroken_chain() {
    let schemas = Schemas::default();
    let s = Arc::new(fresh_in(schemas.clone()).await);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let ctx = warden_store::AuditContext::system("race");
            s.append_audit(
                &ctx,
                "test.race",
                &format!("t:{i}"),
                serde_json::json!({"i": i}),
            )
            .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let v = s.verify_audit_chain().await.unwrap();
    assert_eq!((v.entries, v.first_broken), (40, None));
    s.pool().close().await;
    schemas.drop_all().await;
}

/// Under READ COMMITTED both racers read `submitted`; the loser's
/// compare-and-set then matches no row. It must still fail with the message
/// SQLite gives (which names the status the winner left).
#[tokio::test]
async fn racing_decisions_lose_with_the_sqlite_message() {
    use std::collections::BTreeMap;
    use warden_domain::{
        AreaCode, AssessmentAction, AssessmentStatus, CountryCode, Role, RoleGrant, Scope,
        SecurityLevel,
    };
    use warden_store::*;

    let schemas = Schemas::default();
    let s = fresh_in(schemas.clone()).await;
    let sys = AuditContext::system("test");
    let af = CountryCode::parse("AF").unwrap();
    s.upsert_countries(&[Country {
        alpha2: af.clone(),
        alpha3: "AFG".into(),
        name: "Afghanistan".into(),
        names: BTreeMap::new(),
        region: None,
    }])
    .await
    .unwrap();
    let code = AreaCode::parse("AF-KAB").unwrap();
    let geometry =
        r#"{"type":"MultiPolygon","coordinates":[[[[69,34],[70,34],[70,35],[69,35],[69,34]]]]}"#
            .to_string();
    let area = NewArea {
        code: code.clone(),
        iso_3166_2: None,
        country: af,
        name: "Kabul".into(),
        names: BTreeMap::new(),
        kind: AreaKind::Admin1,
        subtype: None,
        label_lon: 69.5,
        label_lat: 34.5,
        geometry,
        members: vec![],
    };
    s.upsert_areas(&[area], &sys).await.unwrap();
    let desk = s
        .create_user(
            &NewUser {
                username: "desk".into(),
                display_name: "Desk".into(),
                email: "desk@example.org".into(),
                agency: None,
                password_hash: "h".into(),
                grants: vec![RoleGrant {
                    role: Role::RegionalDesk,
                    scope: Scope::parse("AF").unwrap(),
                    agency: None,
                }],
                locale: "en".into(),
            },
            &sys,
        )
        .await
        .unwrap();
    for round in 0..10 {
        let a = s
            .create_assessment(
                &NewAssessment {
                    area: code.clone(),
                    author: desk.id,
                    proposed_level: SecurityLevel::new(3).unwrap(),
                    ratings: BTreeMap::new(),
                    narrative: format!("round {round}"),
                    advisory_text: String::new(),
                    measures: vec![],
                    mitigation_text: String::new(),
                },
                &sys,
            )
            .await
            .unwrap();
        let mk = |action, to| AssessmentTransition {
            id: a.id,
            action,
            to,
            actor: desk.id,
            reason: "r".into(),
            smt_consulted: vec![],
            revision: None,
        };
        let (t1, t2) = (
            mk(AssessmentAction::Validate, AssessmentStatus::Validated),
            mk(AssessmentAction::SendBack, AssessmentStatus::Returned),
        );
        let (c1, c2) = (sys.clone(), sys.clone());
        let (r1, r2) = tokio::join!(
            s.apply_assessment_action(&t1, AssessmentStatus::Submitted, &c1),
            s.apply_assessment_action(&t2, AssessmentStatus::Submitted, &c2)
        );
        let (winner, loser) = match (r1, r2) {
            (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
            other => panic!("exactly one must win: {other:?}"),
        };
        let expected = format!(
            "the assessment is now {} (somebody acted on it first); nothing was changed",
            winner.status.as_str()
        );
        assert!(
            matches!(&loser, StoreError::Conflict(m) if *m == expected),
            "{loser:?}"
        );
        assert_eq!(
            s.get_assessment(a.id).await.unwrap().unwrap().events.len(),
            2
        );
    }
    assert_eq!(s.verify_audit_chain().await.unwrap().first_broken, None);
    s.pool().close().await;
    schemas.drop_all().await;
}

/// A TRIP fixture: Afghanistan with Kabul, a DO and a traveller.
async fn trip_fixture(
    s: &PgStore,
) -> (
    warden_domain::AreaCode,
    warden_store::User,
    warden_store::User,
) {
    use std::collections::BTreeMap;
    use warden_domain::{AreaCode, CountryCode, Role, RoleGrant, Scope};
    use warden_store::*;
    let sys = AuditContext::system("test");
    let af = CountryCode::parse("AF").unwrap();
    s.upsert_countries(&[Country {
        alpha2: af.clone(),
        alpha3: "AFG".into(),
        name: "Afghanistan".into(),
        names: BTreeMap::new(),
        region: None,
    }])
    .await
    .unwrap();
    let code = AreaCode::parse("AF-KAB").unwrap();
    s.upsert_areas(
        &[NewArea {
            code: code.clone(),
            iso_3166_2: None,
            country: af,
            name: "Kabul".into(),
            names: BTreeMap::new(),
            kind: AreaKind::Admin1,
            subtype: None,
            label_lon: 69.5,
            label_lat: 34.5,
            geometry: r#"{"type":"MultiPolygon","coordinates":[[[[69,34],[70,34],[70,35],[69,35],[69,34]]]]}"#.into(),
            members: vec![],
        }],
        &sys,
    )
    .await
    .unwrap();
    let mut users = Vec::new();
    for (name, role, scope) in [
        ("do", Role::DesignatedOfficial, "AF"),
        ("t", Role::Traveller, "global"),
    ] {
        users.push(
            s.create_user(
                &NewUser {
                    username: name.into(),
                    display_name: name.into(),
                    email: format!("{name}@example.org"),
                    agency: None,
                    password_hash: "h".into(),
                    grants: vec![RoleGrant {
                        role,
                        scope: Scope::parse(scope).unwrap(),
                        agency: None,
                    }],
                    locale: "en".into(),
                },
                &sys,
            )
            .await
            .unwrap(),
        );
    }
    let t = users.pop().unwrap();
    let dof = users.pop().unwrap();
    (code, dof, t)
}

fn trip_to(
    area: &warden_domain::AreaCode,
    traveller: uuid::Uuid,
) -> warden_store::NewTravelRequest {
    warden_store::NewTravelRequest {
        traveller,
        submitted_by: traveller,
        purpose: warden_domain::trip::TripPurpose::Official,
        ta_number: None,
        legs: vec![warden_store::NewLeg {
            origin: "Geneva".into(),
            destination: "Kabul".into(),
            area: area.clone(),
            // Always in the future, so that mode changes re-evaluate it.
            depart: chrono::Utc::now() + chrono::Duration::days(30),
            arrive: chrono::Utc::now() + chrono::Duration::days(30) + chrono::Duration::hours(8),
            depart_tz: None,
            arrive_tz: None,
        }],
    }
}

/// Both racers pass their reads; the loser's compare-and-set matches no row
/// and it must fail with the message SQLite gives, naming the winner's status.
#[tokio::test]
async fn racing_leg_decisions_lose_with_the_sqlite_message() {
    use warden_domain::trip::{ClearanceDecision, DenialGround, LegStatus, ProcessingMode};
    use warden_store::*;
    let schemas = Schemas::default();
    let s = fresh_in(schemas.clone()).await;
    let sys = AuditContext::system("test");
    let (kab, dof, t) = trip_fixture(&s).await;
    s.set_processing_mode(&kab, ProcessingMode::Manual, dof.id, "x", &sys)
        .await
        .unwrap();
    for _ in 0..10 {
        let r = s
            .create_travel_request(&trip_to(&kab, t.id), &sys)
            .await
            .unwrap();
        let grant = LegDecision {
            request: r.id,
            seq: 1,
            decision: ClearanceDecision::Grant,
            grounds: vec![],
            comment: String::new(),
            actor: dof.id,
        };
        let deny = LegDecision {
            decision: ClearanceDecision::Deny,
            grounds: vec![DenialGround::SecuritySituation],
            comment: "fighting".into(),
            ..grant.clone()
        };
        let (c1, c2) = (sys.clone(), sys.clone());
        let (a, b) = tokio::join!(
            s.decide_leg(&grant, LegStatus::Granted, &c1),
            s.decide_leg(&deny, LegStatus::Denied, &c2)
        );
        let (winner, loser) = match (a, b) {
            (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
            other => panic!("exactly one must win: {other:?}"),
        };
        let expected = format!(
            "leg 1 is {} and no longer awaits a decision; the first decision stands",
            winner.legs[0].status.as_str()
        );
        assert!(
            matches!(&loser, StoreError::Conflict(m) if *m == expected),
            "{loser:?}"
        );
        let decisions = s
            .list_audit(&AuditQuery {
                action_prefix: Some("trip.decide".into()),
                target: Some(format!("trip:{}", r.id)),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(decisions.total, 1);
    }
    assert_eq!(s.verify_audit_chain().await.unwrap().first_broken, None);
    s.pool().close().await;
    schemas.drop_all().await;
}

/// A submission racing a change of its area's mode ends under the new mode
/// whichever commits first: submitted before, its future leg is re-evaluated
/// by the change; submitted after, it reads the new mode.
#[tokio::test]
async fn submissions_racing_a_mode_change_follow_commit_order() {
    use warden_domain::trip::ProcessingMode;
    use warden_store::*;
    let schemas = Schemas::default();
    let s = fresh_in(schemas.clone()).await;
    let sys = AuditContext::system("test");
    let (kab, dof, t) = trip_fixture(&s).await;
    for round in 0..20 {
        let m = if round % 2 == 0 {
            ProcessingMode::Manual
        } else {
            ProcessingMode::Automatic
        };
        let (c1, c2) = (sys.clone(), sys.clone());
        let req = trip_to(&kab, t.id);
        let (set, sub) = tokio::join!(
            s.set_processing_mode(&kab, m, dof.id, "race", &c1),
            s.create_travel_request(&req, &c2)
        );
        set.unwrap();
        let r = sub.unwrap();
        let stored = s.get_travel_request(r.id).await.unwrap().unwrap();
        assert_eq!(
            (stored.legs[0].kind, stored.legs[0].status),
            (m.leg_kind(), warden_domain::trip::LegStatus::initial(m)),
            "round {round}: the leg must end under the mode that stands after both commits"
        );
    }
    s.pool().close().await;
    schemas.drop_all().await;
}
