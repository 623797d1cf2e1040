use warden_store::Store;
use warden_store_sqlite::SqliteStore;

async fn fresh() -> SqliteStore {
    let dir = std::env::temp_dir().join(format!("warden-sqlite-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let s = SqliteStore::open(dir.join("t.db").to_str().unwrap())
        .await
        .unwrap();
    s.migrate().await.unwrap();
    s
}

#[tokio::test]
async fn sqlite_conformance() {
    warden_store::testsuite::run_all(fresh).await;
}

#[tokio::test]
async fn tampering_with_the_audit_log_is_refused_and_detected() {
    let s = fresh().await;
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
    // The database refuses edits outright.
    let r = sqlx::query("UPDATE audit_log SET detail = '{}' WHERE seq = 2")
        .execute(s.writer_pool())
        .await;
    assert!(r.unwrap_err().to_string().contains("append-only"));
    // Someone with file access who drops the trigger is still caught by the chain.
    sqlx::query("DROP TRIGGER audit_log_no_update")
        .execute(s.writer_pool())
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET detail = '{\"i\":9}' WHERE seq = 2")
        .execute(s.writer_pool())
        .await
        .unwrap();
    assert_eq!(s.verify_audit_chain().await.unwrap().first_broken, Some(2));
}
