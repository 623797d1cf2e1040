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
