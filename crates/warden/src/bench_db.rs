//! Fresh databases for the benchmarks, and direct SQL on them for bulk loads
//! and counts that go around the store.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use warden_store::Store;

/// Where a fresh benchmark database lives. A SQLite file's folder is
/// removed when this is dropped (a run that fails included), unless
/// `WARDEN_BENCH_KEEP` is set: a first ERP load alone leaves 1.4 GB.
pub(crate) enum Raw {
    /// `bench.db` in a temporary folder of its own.
    Sqlite(PathBuf),
    /// A schema of its own in this PostgreSQL database, dropped afterwards.
    Pg { url: String, schema: String },
}

/// A fresh store (a temporary SQLite file, or a new PostgreSQL schema),
/// migrated, with a label for the report and the way to reach it directly.
pub(crate) async fn fresh(postgres: Option<&str>) -> anyhow::Result<(Arc<dyn Store>, String, Raw)> {
    Ok(match postgres {
        Some(url) => {
            let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
            let s = warden_store_postgres::PgStore::connect_with_schema(url, &schema).await?;
            s.migrate().await?;
            (
                Arc::new(s),
                format!("postgres (schema {schema})"),
                Raw::Pg {
                    url: url.to_string(),
                    schema,
                },
            )
        }
        None => {
            let dir = std::env::temp_dir().join(format!("warden-bench-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&dir)?;
            let path = dir.join("bench.db");
            let s =
                warden_store_sqlite::SqliteStore::open(path.to_str().expect("utf-8 path")).await?;
            s.migrate().await?;
            (
                Arc::new(s),
                "sqlite (WAL, synchronous=FULL)".to_string(),
                Raw::Sqlite(path),
            )
        }
    })
}

impl Raw {
    async fn sqlite(path: &PathBuf, read_only: bool) -> anyhow::Result<sqlx::SqliteConnection> {
        use sqlx::ConnectOptions;
        Ok(sqlx::sqlite::SqliteConnectOptions::new()
            .filename(path)
            .read_only(read_only)
            .busy_timeout(Duration::from_secs(60))
            .connect()
            .await?)
    }

    async fn pg(url: &str, schema: &str) -> anyhow::Result<sqlx::PgConnection> {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(url).await?;
        sqlx::query(&format!("SET search_path TO \"{schema}\""))
            .execute(&mut c)
            .await?;
        Ok(c)
    }

    /// One SQL statement, directly (bulk loads).
    pub(crate) async fn exec(&self, sql: &str) -> anyhow::Result<u64> {
        use sqlx::Connection;
        match self {
            Raw::Sqlite(path) => Ok(sqlx::query(sql)
                .execute(&mut Self::sqlite(path, false).await?)
                .await?
                .rows_affected()),
            Raw::Pg { url, schema } => {
                let mut c = Self::pg(url, schema).await?;
                let n = sqlx::query(sql).execute(&mut c).await?.rows_affected();
                c.close().await?;
                Ok(n)
            }
        }
    }

    /// The number one query returns (`SELECT COUNT(*) …`).
    pub(crate) async fn count(&self, sql: &str) -> anyhow::Result<i64> {
        use sqlx::{Connection, Row};
        match self {
            Raw::Sqlite(path) => Ok(sqlx::query(sql)
                .fetch_one(&mut Self::sqlite(path, true).await?)
                .await?
                .get(0)),
            Raw::Pg { url, schema } => {
                let mut c = Self::pg(url, schema).await?;
                let n = sqlx::query(sql).fetch_one(&mut c).await?.get(0);
                c.close().await?;
                Ok(n)
            }
        }
    }

    /// Whether `WARDEN_BENCH_KEEP` asks to keep this run's database for
    /// inspection (query plans, say; removed by hand), and if so where it is.
    pub(crate) fn kept(&self) -> bool {
        if std::env::var_os("WARDEN_BENCH_KEEP").is_none() {
            return false;
        }
        match self {
            Raw::Pg { schema, .. } => eprintln!("kept: PostgreSQL schema {schema}"),
            Raw::Sqlite(path) => eprintln!("kept: {}", path.display()),
        }
        true
    }

    /// Drops the PostgreSQL schema unless [`Raw::kept`] (a SQLite file's
    /// folder goes when this is dropped).
    pub(crate) async fn discard(&self) -> anyhow::Result<()> {
        if self.kept() {
            return Ok(());
        }
        if let Raw::Pg { url, schema } = self {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(url).await?;
            sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .execute(&mut c)
                .await?;
        }
        Ok(())
    }

    pub(crate) fn is_pg(&self) -> bool {
        matches!(self, Raw::Pg { .. })
    }
}

impl Drop for Raw {
    /// Removes a SQLite file's folder (the file, its WAL and shared-memory
    /// files) unless `WARDEN_BENCH_KEEP` is set. Open connections keep
    /// reading the unlinked files until they close.
    fn drop(&mut self) {
        let Raw::Sqlite(path) = self else { return };
        if std::env::var_os("WARDEN_BENCH_KEEP").is_some() {
            return;
        }
        if let Some(dir) = path.parent() {
            if let Err(e) = std::fs::remove_dir_all(dir) {
                eprintln!("could not remove {}: {e}", dir.display());
            }
        }
    }
}
