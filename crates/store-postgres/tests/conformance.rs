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

/// The schemas one test created; dropped when the test ends.
#[derive(Clone, Default)]
struct Schemas(Arc<Mutex<Vec<String>>>);

impl Drop for Schemas {
    fn drop(&mut self) {
        // Only the last handle cleans up.
        if Arc::strong_count(&self.0) > 1 {
            return;
        }
        let names: Vec<String> =
            std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()));
        if names.is_empty() {
            return;
        }
        // Drop runs inside the test's runtime, which cannot be blocked on;
        // clean up from a thread with a runtime of its own. Best effort.
        let url = url();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                use sqlx::Connection;
                let Ok(mut conn) = sqlx::PgConnection::connect(&url).await else {
                    return;
                };
                for name in names {
                    if let Err(e) =
                        sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"))
                            .execute(&mut conn)
                            .await
                    {
                        eprintln!("could not drop test schema {name}: {e}");
                    }
                }
                let _ = conn.close().await;
            });
        })
        .join();
    }
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
}
