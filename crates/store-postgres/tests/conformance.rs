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
