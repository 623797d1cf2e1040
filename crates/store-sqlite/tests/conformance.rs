use std::path::{Path, PathBuf};
use warden_store::Store;
use warden_store_sqlite::SqliteStore;

/// A migrated store in a directory of its own, removed when this is
/// dropped (a test run would otherwise leave hundreds of databases in the
/// temporary folder).
struct TestDb {
    store: SqliteStore,
    dir: PathBuf,
}

impl std::ops::Deref for TestDb {
    type Target = SqliteStore;
    fn deref(&self) -> &SqliteStore {
        &self.store
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn fresh() -> TestDb {
    let (store, dir) = fresh_under(&std::env::temp_dir()).await;
    TestDb { store, dir }
}

/// A migrated store in a new directory under `root`, and that directory
/// (the database is `t.db` in it).
async fn fresh_under(root: &Path) -> (SqliteStore, PathBuf) {
    let dir = root.join(format!("warden-sqlite-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let s = SqliteStore::open(dir.join("t.db").to_str().unwrap())
        .await
        .unwrap();
    s.migrate().await.unwrap();
    (s, dir)
}

#[tokio::test]
async fn sqlite_conformance() {
    // Each conformance test's store in a folder under one, removed at the end.
    let root = std::env::temp_dir().join(format!("warden-sqlite-suite-{}", uuid::Uuid::new_v4()));
    warden_store::testsuite::run_all(|| {
        let root = root.clone();
        async move { fresh_under(&root).await.0 }
    })
    .await;
    let _ = std::fs::remove_dir_all(&root);
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

/// A committed write reaches the database file itself without a later
/// write to carry it there: the writer does not checkpoint, the store's
/// checkpointer does (`checkpoint.rs`). The file is read from a copy made
/// without its WAL.
#[tokio::test]
async fn committed_writes_reach_the_database_file() {
    let s = fresh().await;
    let dir = &s.dir;
    let path = dir.join("t.db");
    let ctx = warden_store::AuditContext::system("test");
    s.append_audit(&ctx, "test.checkpointed", "t:1", serde_json::json!({}))
        .await
        .unwrap();
    let copy = dir.join("copy.db");
    let in_file = async || -> Option<i64> {
        std::fs::copy(&path, &copy).ok()?;
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&copy)
            .read_only(true);
        let mut c = sqlx::ConnectOptions::connect(&opts).await.ok()?;
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'test.checkpointed'")
            .fetch_one(&mut c)
            .await
            .ok()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if in_file().await == Some(1) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the write never reached the database file"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The WAL is still there: the copy was a checkpoint's, not that of a
    // closing last connection.
    assert!(std::fs::metadata(dir.join("t.db-wal")).is_ok());
}

#[tokio::test]
async fn closing_leaves_one_compact_file() {
    let s = fresh().await;
    let dir = &s.dir;
    let ctx = warden_store::AuditContext::system("test");
    s.append_audit(&ctx, "test.closed", "t:1", serde_json::json!({}))
        .await
        .unwrap();
    assert!(std::fs::metadata(dir.join("t.db-wal")).is_ok());
    s.close().await;
    // The last connection copied the WAL into the file and removed it.
    for ext in ["-wal", "-shm"] {
        assert!(
            std::fs::metadata(dir.join(format!("t.db{ext}"))).is_err(),
            "t.db{ext} is still there after close"
        );
    }
    s.close().await;
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.join("t.db"))
        .read_only(true);
    let mut c = sqlx::ConnectOptions::connect(&opts).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'test.closed'")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 1);
    drop(c);
}

/// Every stay ends exactly where its traveller's next live leg departs,
/// every live leg has its stay, `presence_deferred` is empty, and the
/// database has the indexes and triggers of a fresh one.
async fn assert_stays_exact(s: &SqliteStore) {
    let (rows, wrong): (i64, i64) = sqlx::query_as(
        "SELECT count(*), coalesce(sum(p.until IS NOT
             (SELECT min(q.depart) FROM presence_legs q
               WHERE q.traveller_id = p.traveller_id AND q.depart > p.depart)), 0)
           FROM presence_legs p",
    )
    .fetch_one(s.writer_pool())
    .await
    .unwrap();
    assert!(rows > 100, "{rows} stays");
    assert_eq!(wrong, 0, "{wrong} of {rows} stays wrong");
    let live: i64 =
        sqlx::query_scalar("SELECT count(*) FROM legs WHERE status NOT IN ('cancelled', 'denied')")
            .fetch_one(s.writer_pool())
            .await
            .unwrap();
    assert_eq!(rows, live);
    let deferred: i64 = sqlx::query_scalar("SELECT count(*) FROM presence_deferred")
        .fetch_one(s.writer_pool())
        .await
        .unwrap();
    assert_eq!(deferred, 0);
    let schema = "SELECT type, name, sql FROM sqlite_master
                   WHERE type IN ('index', 'trigger') ORDER BY type, name";
    let got: Vec<(String, String, Option<String>)> = sqlx::query_as(schema)
        .fetch_all(s.writer_pool())
        .await
        .unwrap();
    let want: Vec<(String, String, Option<String>)> = sqlx::query_as(schema)
        .fetch_all(fresh().await.writer_pool())
        .await
        .unwrap();
    assert_eq!(got, want);
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(s.writer_pool())
        .await
        .unwrap();
    assert_eq!(check, "ok");
}

/// Travel authorisations applied in batches (their stays written set-wise,
/// migration 0011) among trips written one by one, changed, cancelled and
/// handed to other travellers: the stays are exact.
#[tokio::test]
async fn stays_written_by_batches_are_exact() {
    let s = fresh().await;
    warden_store::testsuite_presence_all::presence_matches_the_rule_on_all_evidence(&s.store).await;
    assert_stays_exact(&s).await;
}

/// Legs deleted and requests handed to other travellers by plain SQL (no
/// write path does either today; the triggers keep `presence_legs` for any
/// that will): each stay goes with its leg, found by the table's key, and
/// moves with its request.
#[tokio::test]
async fn stays_follow_legs_deleted_and_requests_handed_over() {
    let s = fresh().await;
    warden_store::testsuite_presence_all::presence_matches_the_rule_on_all_evidence(&s.store).await;
    for sql in [
        "DELETE FROM legs WHERE rowid IN
           (SELECT rowid FROM legs WHERE status NOT IN ('cancelled', 'denied') ORDER BY rowid LIMIT 15)",
        "UPDATE travel_requests SET traveller_id =
           (SELECT p.user_id FROM profiles p WHERE p.user_id <> travel_requests.traveller_id
             ORDER BY p.user_id LIMIT 1)
          WHERE id IN (SELECT request_id FROM legs WHERE status NOT IN ('cancelled', 'denied')
                        ORDER BY rowid DESC LIMIT 10)",
    ] {
        let n = sqlx::query(sql)
            .execute(s.writer_pool())
            .await
            .unwrap()
            .rows_affected();
        assert!(n >= 5, "{n} rows: {sql}");
    }
    let stray: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (
           SELECT traveller_id, depart, arrive, seq, request_id FROM presence_legs
           EXCEPT
           SELECT unhex(tr.traveller_id, '-'),
                  unixepoch(substr(l.depart, 1, 19)) * 1000000 + CAST(substr(l.depart, 21, 6) AS INTEGER),
                  unixepoch(substr(l.arrive, 1, 19)) * 1000000 + CAST(substr(l.arrive, 21, 6) AS INTEGER),
                  l.seq, unhex(l.request_id, '-')
             FROM legs l JOIN travel_requests tr ON tr.id = l.request_id
            WHERE l.status NOT IN ('cancelled', 'denied'))",
    )
    .fetch_one(s.writer_pool())
    .await
    .unwrap();
    assert_eq!(stray, 0);
    assert_stays_exact(&s).await;
}

/// The same through whole loads, which set the indexes aside and rebuild
/// them (a first load at once, later ones once large enough): the stays
/// are exact and the indexes as in a fresh database.
#[tokio::test]
async fn stays_written_by_whole_loads_are_exact() {
    let s = fresh().await;
    warden_store::testsuite_presence_all::presence_matches_the_rule_after_whole_loads(&s.store)
        .await;
    assert_stays_exact(&s).await;
}

/// The `stay_class` column (migrations 0014 to 0016) agrees with
/// `warden_store::stay_class` on every class bound, a second either side,
/// and on open stays.
#[tokio::test]
async fn stay_classes_agree_with_the_rule() {
    let s = fresh().await;
    let depart = chrono::DateTime::parse_from_rfc3339("2026-10-01T06:30:15.250000Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let mut lengths: Vec<Option<i64>> = vec![None, Some(0), Some(1)];
    for c in 0..warden_store::STAY_CLASSES {
        for d in [-1, 0, 1] {
            lengths.push(Some((3600i64 << c) + d));
        }
    }
    let mut tx = s.writer_pool().begin().await.unwrap();
    // The stays' own triggers stand aside: each row keeps the end given.
    sqlx::query("INSERT INTO presence_deferred (id) VALUES (1)")
        .execute(&mut *tx)
        .await
        .unwrap();
    for (i, len) in lengths.iter().enumerate() {
        // Times in microseconds, ids as bytes (migration 0016).
        let until = len.map(|l| (depart + chrono::Duration::seconds(l)).timestamp_micros());
        sqlx::query(
            "INSERT INTO presence_legs (traveller_id, depart, arrive, seq, request_id, area_code, until)
             VALUES (?, ?, ?, 1, x'00', 'AF-KAB', ?)",
        )
        .bind(vec![i as u8])
        .bind(depart.timestamp_micros())
        .bind(depart.timestamp_micros() + 1_800_000_000)
        .bind(until)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    let got: Vec<(Vec<u8>, i32)> =
        sqlx::query_as("SELECT traveller_id, stay_class FROM presence_legs ORDER BY traveller_id")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(got.len(), lengths.len());
    for ((_, class), len) in got.iter().zip(&lengths) {
        assert_eq!(
            *class,
            warden_store::stay_class(*len),
            "a stay of {len:?} s"
        );
    }
}

/// Migration 0016 rebuilds `presence_legs` with ids as bytes and times as
/// microseconds: stays written under 0015 (as text, by its triggers) come
/// out converted, each with the same end and class, and the triggers of
/// 0016 go on keeping them.
#[tokio::test]
async fn stays_written_before_0016_are_converted() {
    use sqlx::sqlite::SqliteConnectOptions;
    use std::str::FromStr;
    let dir = std::env::temp_dir().join(format!("warden-sqlite-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.db");
    // The schema as it was before 0016, with legs written through its
    // triggers (no users or areas: foreign keys are off here).
    let mut upto15 = sqlx::migrate!("./migrations");
    upto15.migrations = upto15
        .migrations
        .iter()
        .filter(|m| m.version <= 15)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    let old = sqlx::SqlitePool::connect_with(
        SqliteConnectOptions::from_str(path.to_str().unwrap())
            .unwrap()
            .create_if_missing(true)
            .foreign_keys(false),
    )
    .await
    .unwrap();
    upto15.run(&old).await.unwrap();
    let travellers = [uuid::Uuid::now_v7(), uuid::Uuid::now_v7()];
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-10-01T06:30:15.123456Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    // (traveller, request, seq, hours after t0, status)
    let mut legs = vec![];
    for (i, who) in travellers.iter().enumerate() {
        for r in 0..3 {
            let request = uuid::Uuid::now_v7();
            for seq in 1..=2 {
                let hours = (r * 50 + seq * 7 + i as i64) as f64 + 0.000_001 * r as f64;
                let status = if r == 1 && seq == 2 {
                    "cancelled"
                } else {
                    "submitted"
                };
                legs.push((*who, request, seq, hours, status));
            }
        }
    }
    // An instant `h` hours after t0, as `legs` stores it and in microseconds.
    let at = |h: f64| t0 + chrono::Duration::microseconds((h * 3_600_000_000.0).round() as i64);
    let ts = |h: f64| at(h).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let us = |h: f64| at(h).timestamp_micros();
    for (who, request, seq, hours, status) in &legs {
        if *seq == 1 {
            sqlx::query(
                "INSERT INTO travel_requests (id, traveller_id, submitted_by, purpose, created_at, updated_at)
                 VALUES (?1, ?2, ?2, 'official', ?3, ?3)",
            )
            .bind(request.to_string())
            .bind(who.to_string())
            .bind(ts(0.0))
            .execute(&old)
            .await
            .unwrap();
        }
        sqlx::query(
            "INSERT INTO legs (request_id, seq, origin, destination, area_code, depart, arrive, kind, status)
             VALUES (?, ?, 'KBL', 'KDH', 'AF-KAN', ?, ?, 'notification', ?)",
        )
        .bind(request.to_string())
        .bind(seq)
        .bind(ts(*hours))
        .bind(ts(hours + 1.5))
        .bind(*status)
        .execute(&old)
        .await
        .unwrap();
    }
    let before: i64 =
        sqlx::query_scalar("SELECT count(*) FROM presence_legs WHERE until IS NOT NULL")
            .fetch_one(&old)
            .await
            .unwrap();
    assert_eq!(before, 8, "stays with an end under 0015");
    old.close().await;

    let s = SqliteStore::open(path.to_str().unwrap()).await.unwrap();
    s.migrate().await.unwrap();
    type Row = (Vec<u8>, i64, i64, i64, Vec<u8>, String, Option<i64>, i32);
    let got: Vec<Row> = sqlx::query_as(
        "SELECT traveller_id, depart, arrive, seq, request_id, area_code, until, stay_class
           FROM presence_legs ORDER BY traveller_id, depart",
    )
    .fetch_all(s.writer_pool())
    .await
    .unwrap();
    let mut want: Vec<Row> = vec![];
    for (who, request, seq, hours, status) in &legs {
        if *status == "cancelled" {
            continue;
        }
        let until = legs
            .iter()
            .filter(|l| l.0 == *who && l.4 != "cancelled" && l.3 > *hours)
            .map(|l| us(l.3))
            .min();
        want.push((
            who.as_bytes().to_vec(),
            us(*hours),
            us(hours + 1.5),
            *seq,
            request.as_bytes().to_vec(),
            "AF-KAN".into(),
            until,
            warden_store::stay_class(until.map(|u| (u - us(*hours)) / 1_000_000)),
        ));
    }
    want.sort();
    assert_eq!(got, want);
    // The triggers of 0016 keep the converted stays: a leg written now
    // between two from before ends the earlier one.
    let (who, request) = (legs[0].0, legs[0].1);
    let mut c = s.writer_pool().acquire().await.unwrap();
    sqlx::query("PRAGMA foreign_keys = OFF")
        .execute(&mut *c)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO legs (request_id, seq, origin, destination, area_code, depart, arrive, kind, status)
         VALUES (?, 3, 'KDH', 'KBL', 'AF-KAB', ?, ?, 'notification', 'submitted')",
    )
    .bind(request.to_string())
    .bind(ts(10.0))
    .bind(ts(11.0))
    .execute(&mut *c)
    .await
    .unwrap();
    sqlx::query("PRAGMA foreign_keys = ON")
        .execute(&mut *c)
        .await
        .unwrap();
    drop(c);
    let ends: Vec<(i64, Option<i64>)> = sqlx::query_as(
        "SELECT depart, until FROM presence_legs WHERE traveller_id = ? ORDER BY depart LIMIT 3",
    )
    .bind(who.as_bytes().to_vec())
    .fetch_all(s.writer_pool())
    .await
    .unwrap();
    assert_eq!(
        ends,
        vec![
            (us(7.0), Some(us(10.0))),
            (us(10.0), Some(us(14.0))),
            (us(14.0), Some(us(57.000001))),
        ]
    );
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}
