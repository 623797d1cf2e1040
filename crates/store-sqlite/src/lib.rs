//! SQLite implementation of Warden's `Store`.
//!
//! One file in WAL mode with `synchronous=FULL` (an acknowledged write is on
//! disk), a single writer connection whose transactions start with
//! `BEGIN IMMEDIATE` (so concurrent writers queue on `busy_timeout` instead of
//! failing on lock upgrades), a pool of read-only connections, and a
//! checkpointer on a connection of its own (`checkpoint`).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::json;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool, Transaction};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;
use uuid::Uuid;
use warden_domain::{
    AreaCode, AssessmentStatus, CountryCode, Role, RoleGrant, Scope, SecurityLevel,
};
use warden_store::*;

mod checkpoint;
mod erp;
mod eta;
mod group;
mod notify;
mod partners;
mod presence;
mod presence_all;
mod rollcall;
mod trip;

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// Travel requests and location reports go through a group-commit writer.
    group: group::GroupCommit,
    /// Copies committed pages from the WAL into the database file.
    checkpoint: std::sync::Mutex<Option<checkpoint::Checkpointer>>,
}

const TS: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

/// An instant as stored: `TS`, fixed width, so that text order is time order.
/// Written digit by digit (RFC 3339 with microseconds and `Z` is the same
/// text) rather than by interpreting the `TS` pattern for each of the
/// millions of timestamps a bulk load writes.
pub(crate) fn ts(dt: &DateTime<Utc>) -> String {
    dt.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

pub(crate) fn parse_ts(s: &str) -> Result<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(s, TS)
        .map(|n| n.and_utc())
        .map_err(|e| StoreError::Backend(format!("bad timestamp {s:?}: {e}")))
}

pub(crate) fn opt_ts(s: Option<String>) -> Result<Option<DateTime<Utc>>> {
    s.as_deref().map(parse_ts).transpose()
}

/// An instant as `presence_legs` keeps it (migration 0016): microseconds
/// since 1970, UTC, which sort as the `TS` text does.
pub(crate) fn micros(dt: &DateTime<Utc>) -> i64 {
    dt.timestamp_micros()
}

pub(crate) fn from_micros(us: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us)
        .ok_or_else(|| StoreError::Backend(format!("bad instant {us} µs")))
}

/// SQL for [`micros`] of a `TS` column or parameter `x`: the seconds of its
/// first 19 characters and the six digits of its fraction.
pub(crate) fn sql_micros(x: &str) -> String {
    format!("(unixepoch(substr({x}, 1, 19)) * 1000000 + CAST(substr({x}, 21, 6) AS INTEGER))")
}

/// SQL for the UUID text of 16 bytes `x` (`unhex(id, '-')` is the reverse).
pub(crate) fn sql_uuid_text(x: &str) -> String {
    format!(
        "lower(substr(hex({x}), 1, 8) || '-' || substr(hex({x}), 9, 4) || '-' || \
         substr(hex({x}), 13, 4) || '-' || substr(hex({x}), 17, 4) || '-' || substr(hex({x}), 21))"
    )
}

/// A UUID kept as its 16 bytes (migration 0016).
pub(crate) fn uuid_bytes(b: &[u8]) -> Result<Uuid> {
    Uuid::from_slice(b).map_err(|e| StoreError::Backend(format!("bad uuid {b:02x?}: {e}")))
}

pub(crate) fn be(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(d) = &e {
        if d.is_unique_violation() {
            return StoreError::Conflict(d.message().to_string());
        }
        if d.is_foreign_key_violation() {
            return StoreError::Invalid {
                field: "reference".into(),
                message: d.message().to_string(),
            };
        }
    }
    StoreError::Backend(e.to_string())
}

pub(crate) fn uuid(s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|e| StoreError::Backend(format!("bad uuid {s:?}: {e}")))
}

fn level(n: Option<i64>) -> Result<Option<SecurityLevel>> {
    n.map(|n| SecurityLevel::new(n).map_err(|e| StoreError::Backend(e.to_string())))
        .transpose()
}

fn status(s: &str) -> Result<AssessmentStatus> {
    AssessmentStatus::parse(s).ok_or_else(|| StoreError::Backend(format!("bad status {s}")))
}

fn json_of<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Backend(format!("bad json column: {e}")))
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("serialisable")
}

const AREA_COLS: &str = "code, iso_3166_2, country, name, names, kind, subtype, label_lon, label_lat, members, level, level_since, level_assessment";

fn area_row(r: &SqliteRow) -> Result<Area> {
    let code: String = r.get("code");
    let country: String = r.get("country");
    Ok(Area {
        code: AreaCode::parse(&code).map_err(|e| StoreError::Backend(e.to_string()))?,
        iso_3166_2: r.get("iso_3166_2"),
        country: CountryCode::parse(&country).map_err(|e| StoreError::Backend(e.to_string()))?,
        name: r.get("name"),
        names: json_of(r.get::<&str, _>("names"))?,
        kind: AreaKind::parse(r.get("kind")),
        subtype: r.get("subtype"),
        label_lon: r.get("label_lon"),
        label_lat: r.get("label_lat"),
        members: json_of(r.get::<&str, _>("members"))?,
        level: level(r.get("level"))?,
        level_since: opt_ts(r.get("level_since"))?,
        level_assessment: r
            .get::<Option<String>, _>("level_assessment")
            .as_deref()
            .map(uuid)
            .transpose()?,
    })
}

fn country_row(r: &SqliteRow) -> Result<Country> {
    let a2: String = r.get("alpha2");
    Ok(Country {
        alpha2: CountryCode::parse(&a2).map_err(|e| StoreError::Backend(e.to_string()))?,
        alpha3: r.get("alpha3"),
        name: r.get("name"),
        names: json_of(r.get::<&str, _>("names"))?,
        region: r.get("region"),
    })
}

const ASSESSMENT_SELECT: &str = "SELECT a.id, a.area_code, ar.name AS area_name, ar.country AS country, a.author_id, \
     u.display_name AS author_name, a.proposed_level, a.previous_level, a.ratings, a.narrative, a.advisory_text, \
     a.measures, a.mitigation_text, a.status, a.created_at, a.updated_at \
     FROM assessments a JOIN areas ar ON ar.code = a.area_code JOIN users u ON u.id = a.author_id";

fn assessment_row(r: &SqliteRow) -> Result<Assessment> {
    let area: String = r.get("area_code");
    let country: String = r.get("country");
    Ok(Assessment {
        id: uuid(r.get("id"))?,
        area: AreaCode::parse(&area).map_err(|e| StoreError::Backend(e.to_string()))?,
        area_name: r.get("area_name"),
        country: CountryCode::parse(&country).map_err(|e| StoreError::Backend(e.to_string()))?,
        author: uuid(r.get("author_id"))?,
        author_name: r.get("author_name"),
        proposed_level: level(Some(r.get("proposed_level")))?.expect("level"),
        previous_level: level(r.get("previous_level"))?,
        ratings: json_of(r.get::<&str, _>("ratings"))?,
        narrative: r.get("narrative"),
        advisory_text: r.get("advisory_text"),
        measures: json_of(r.get::<&str, _>("measures"))?,
        mitigation_text: r.get("mitigation_text"),
        status: status(r.get("status"))?,
        created_at: parse_ts(r.get("created_at"))?,
        updated_at: parse_ts(r.get("updated_at"))?,
    })
}

fn user_row(r: &SqliteRow, grants: Vec<RoleGrant>) -> Result<User> {
    Ok(User {
        id: uuid(r.get("id"))?,
        username: r.get("username"),
        display_name: r.get("display_name"),
        email: r.get("email"),
        agency: r
            .get::<Option<String>, _>("agency_id")
            .as_deref()
            .map(uuid)
            .transpose()?,
        password_hash: r.get("password_hash"),
        totp_secret: r.get("totp_secret"),
        totp_enabled: r.get::<i64, _>("totp_enabled") != 0,
        disabled: r.get::<i64, _>("disabled") != 0,
        locale: r.get("locale"),
        grants,
        created_at: parse_ts(r.get("created_at"))?,
    })
}

fn grant_row(r: &SqliteRow) -> Result<RoleGrant> {
    let agency: String = r.get("agency_id");
    Ok(RoleGrant {
        role: Role::parse(r.get("role")).map_err(|e| StoreError::Backend(e.to_string()))?,
        scope: Scope::parse(r.get("scope")).map_err(|e| StoreError::Backend(e.to_string()))?,
        agency: if agency.is_empty() {
            None
        } else {
            Some(uuid(&agency)?)
        },
    })
}

/// Appends one entry to the hash-chained audit log inside `tx`. The writer is
/// single and transactions are IMMEDIATE, so reading the head and appending
/// cannot interleave with another append.
pub(crate) async fn audit_tx(
    tx: &mut Transaction<'_, Sqlite>,
    ctx: &AuditContext,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) -> Result<()> {
    let head = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await
        .map_err(be)?;
    let (seq, prev) = match head {
        Some(r) => (r.get::<i64, _>("seq") + 1, r.get::<String, _>("hash")),
        None => (1, AUDIT_GENESIS.to_string()),
    };
    let detail = detail.to_string();
    let hash = audit_hash(
        &prev,
        &audit_canonical(
            seq,
            &ctx.at,
            ctx.actor,
            &ctx.actor_name,
            ctx.ip.as_deref(),
            action,
            target,
            &detail,
        ),
    );
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor_id, actor_name, ip, action, target, detail, prev_hash, hash) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(seq)
    .bind(ts(&ctx.at))
    .bind(ctx.actor.map(|a| a.to_string()))
    .bind(&ctx.actor_name)
    .bind(&ctx.ip)
    .bind(action)
    .bind(target)
    .bind(&detail)
    .bind(&prev)
    .bind(&hash)
    .execute(&mut **tx)
    .await
    .map_err(be)?;
    Ok(())
}

async fn check_measures(tx: &mut Transaction<'_, Sqlite>, ids: &[Uuid]) -> Result<()> {
    for id in ids {
        let found = sqlx::query("SELECT 1 FROM measures WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&mut **tx)
            .await
            .map_err(be)?;
        if found.is_none() {
            return Err(StoreError::Invalid {
                field: "measures".into(),
                message: format!("unknown mitigation measure {id}"),
            });
        }
    }
    Ok(())
}

/// Bumps the country's advisory version and records what changed.
#[allow(clippy::too_many_arguments)]
async fn advisory_change_tx(
    tx: &mut Transaction<'_, Sqlite>,
    country: &str,
    area: &str,
    kind: &str,
    old: Option<i64>,
    new: Option<i64>,
    summary: &str,
    at: &DateTime<Utc>,
) -> Result<i64> {
    let at_s = ts(at);
    let version: i64 = sqlx::query(
        "INSERT INTO advisories (country, version, updated_at) VALUES (?, 1, ?) \
         ON CONFLICT (country) DO UPDATE SET version = version + 1, updated_at = excluded.updated_at \
         RETURNING version",
    )
    .bind(country)
    .bind(&at_s)
    .fetch_one(&mut **tx)
    .await
    .map_err(be)?
    .get(0);
    sqlx::query(
        "INSERT INTO advisory_changes (id, country, area_code, version, kind, old_level, new_level, summary, at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(country)
    .bind(area)
    .bind(version)
    .bind(kind)
    .bind(old)
    .bind(new)
    .bind(summary)
    .bind(&at_s)
    .execute(&mut **tx)
    .await
    .map_err(be)?;
    // Published to partner systems as CAP, in the same transaction.
    partners::queue_cap_tx(
        tx,
        &CapSubject::Advisory {
            country: CountryCode::parse(country).map_err(|e| StoreError::Backend(e.to_string()))?,
            version,
        },
        summary,
        at,
    )
    .await?;
    Ok(version)
}

async fn upsert_advisory_area_tx(
    tx: &mut Transaction<'_, Sqlite>,
    area: &str,
    text: &str,
    mitigation: &str,
    measures: &[Uuid],
    at: &DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO advisory_areas (area_code, text, mitigation_text, measures, updated_at) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (area_code) DO UPDATE SET text = excluded.text, mitigation_text = excluded.mitigation_text, \
         measures = excluded.measures, updated_at = excluded.updated_at",
    )
    .bind(area)
    .bind(text)
    .bind(mitigation)
    .bind(to_json(&measures))
    .bind(ts(at))
    .execute(&mut **tx)
    .await
    .map_err(be)?;
    Ok(())
}

fn level_phrase(l: Option<i64>) -> String {
    match l.and_then(|l| SecurityLevel::new(l).ok()) {
        Some(l) => format!("{} ({})", l.get(), l.name()),
        None => "none".into(),
    }
}

/// Process-wide settings of SQLite, applied once before its first use.
/// SQLite counts the memory it holds under one global mutex on every
/// allocation and release unless told not to (`SQLITE_CONFIG_MEMSTATUS`);
/// nothing here reads that count, and with one writer thread and several
/// readers the lock is taken millions of times by a bulk load.
fn configure_sqlite() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: sqlite3_config may be called only before SQLite is
        // initialised and while no other thread uses it; the Once runs
        // before this store opens its first connection. Called later (SQLite
        // already initialised by another user in this process) it returns
        // SQLITE_MISUSE and changes nothing, which is harmless.
        let rc = unsafe {
            libsqlite3_sys::sqlite3_config(
                libsqlite3_sys::SQLITE_CONFIG_MEMSTATUS,
                0 as std::os::raw::c_int,
            )
        };
        if rc != libsqlite3_sys::SQLITE_OK {
            tracing::debug!(
                rc,
                "SQLite was initialised before Warden could configure it"
            );
        }
    });
}

/// Closes a pool and every connection of it. sqlx's `Pool::close` waits for
/// the connections handed out to come back, but one handed back while it
/// waits goes to the idle queue after the queue was emptied and stays open
/// (with one connection, always): closing again closes it. At most a
/// second's worth of rounds.
async fn close_pool(pool: &SqlitePool) {
    for _ in 0..100 {
        pool.close().await;
        if pool.size() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path`,
    /// `sqlite:path` or a plain file path).
    pub async fn open(url: &str) -> Result<SqliteStore> {
        configure_sqlite();
        let url = if url.starts_with("sqlite:") {
            url.to_string()
        } else {
            format!("sqlite://{url}")
        };
        let base = SqliteConnectOptions::from_str(&url)
            .map_err(be)?
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .pragma("temp_store", "memory")
            .pragma("cache_size", "-32000");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            // A large page cache for the one writer, so that a big transaction
            // (a mode change re-evaluating 100,000 legs) does not spill to disk
            // before it commits. Its commits do not checkpoint: the
            // checkpointer does, on its own connection. A rewound WAL is cut
            // back to 64 MiB.
            .connect_with(
                base.clone()
                    .create_if_missing(true)
                    .pragma("cache_size", "-262144")
                    .pragma("wal_autocheckpoint", "0")
                    .pragma("journal_size_limit", "67108864"),
            )
            .await
            .map_err(be)?;
        let readers = std::thread::available_parallelism()
            .map(|n| n.get() as u32 * 2)
            .unwrap_or(4)
            .max(2);
        // Readers map the database file into memory (up to SQLite's limit of
        // about 2 GB) instead of copying each page with a system call, and
        // may sort with helper threads: a query that walks the whole
        // population (every area's headcount, grouped by area and agency)
        // spends much of its time in both otherwise.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        let reader = SqlitePoolOptions::new()
            .max_connections(readers)
            .connect_with(
                base.clone()
                    .read_only(true)
                    .pragma("mmap_size", "2147418112")
                    .pragma("threads", threads.to_string()),
            )
            .await
            .map_err(be)?;
        let group = group::GroupCommit::start(writer.clone());
        let checkpoint = checkpoint::Checkpointer::start(base).await?;
        Ok(SqliteStore {
            writer,
            reader,
            group,
            checkpoint: std::sync::Mutex::new(Some(checkpoint)),
        })
    }

    pub(crate) async fn begin(&self) -> Result<Transaction<'_, Sqlite>> {
        self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(be)
    }

    /// Direct access for tests that must bypass the store (tamper tests).
    pub fn writer_pool(&self) -> &SqlitePool {
        &self.writer
    }

    async fn grants_of(&self, user: &str) -> Result<Vec<RoleGrant>> {
        sqlx::query(
            "SELECT role, scope, agency_id FROM role_grants WHERE user_id = ? ORDER BY role, scope",
        )
        .bind(user)
        .fetch_all(&self.reader)
        .await
        .map_err(be)?
        .iter()
        .map(grant_row)
        .collect()
    }

    async fn user_where(&self, clause: &str, arg: &str) -> Result<Option<User>> {
        let row = sqlx::query(&format!("SELECT * FROM users WHERE {clause}"))
            .bind(arg)
            .fetch_optional(&self.reader)
            .await
            .map_err(be)?;
        match row {
            Some(r) => {
                let id: String = r.get("id");
                let grants = self.grants_of(&id).await?;
                Ok(Some(user_row(&r, grants)?))
            }
            None => Ok(None),
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn migrate(&self) -> Result<()> {
        sqlx::migrate!("./migrations")
            .run(&self.writer)
            .await
            .map_err(|e| StoreError::Backend(format!("migration failed: {e}")))
    }

    async fn close(&self) {
        close_pool(&self.reader).await;
        close_pool(&self.writer).await;
        // The checkpointer's connection last: it is never closed for being
        // idle, as the pools' may be, and it can write (a read-only last
        // connection would leave the WAL).
        let checkpoint = self.checkpoint.lock().ok().and_then(|mut c| c.take());
        if let Some(c) = checkpoint {
            c.stop().await;
        }
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map_err(be)?;
        Ok(())
    }

    async fn upsert_countries(&self, countries: &[Country]) -> Result<()> {
        let mut tx = self.begin().await?;
        for c in countries {
            sqlx::query(
                "INSERT INTO countries (alpha2, alpha3, name, names, region) VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (alpha2) DO UPDATE SET alpha3 = excluded.alpha3, name = excluded.name, \
                 names = excluded.names, region = excluded.region",
            )
            .bind(c.alpha2.as_str())
            .bind(&c.alpha3)
            .bind(&c.name)
            .bind(to_json(&c.names))
            .bind(&c.region)
            .execute(&mut *tx)
            .await
            .map_err(be)?;
        }
        tx.commit().await.map_err(be)
    }

    async fn list_countries(&self) -> Result<Vec<CountrySummary>> {
        let rows = sqlx::query(
            "SELECT c.alpha2, c.alpha3, c.name, c.names, c.region, COUNT(a.code) AS areas, MAX(a.level) AS highest, \
             COUNT(a.level) AS with_level FROM countries c LEFT JOIN areas a ON a.country = c.alpha2 \
             GROUP BY c.alpha2 ORDER BY c.name",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(be)?;
        rows.iter()
            .map(|r| {
                Ok(CountrySummary {
                    country: country_row(r)?,
                    areas: r.get("areas"),
                    highest_level: level(r.get("highest"))?,
                    areas_with_level: r.get("with_level"),
                })
            })
            .collect()
    }

    async fn get_country(&self, cc: &CountryCode) -> Result<Option<Country>> {
        sqlx::query("SELECT * FROM countries WHERE alpha2 = ?")
            .bind(cc.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(be)?
            .as_ref()
            .map(country_row)
            .transpose()
    }

    async fn upsert_areas(&self, areas: &[NewArea], audit: &AuditContext) -> Result<usize> {
        for (i, a) in areas.iter().enumerate() {
            if serde_json::from_str::<serde_json::Value>(&a.geometry).is_err() {
                return Err(StoreError::Invalid {
                    field: format!("areas[{i}].geometry"),
                    message: "geometry is not valid JSON".into(),
                });
            }
        }
        let mut tx = self.begin().await?;
        for a in areas {
            sqlx::query(
                "INSERT INTO areas (code, iso_3166_2, country, name, names, kind, subtype, label_lon, label_lat, members, geometry) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (code) DO UPDATE SET iso_3166_2 = excluded.iso_3166_2, country = excluded.country, \
                 name = excluded.name, names = excluded.names, kind = excluded.kind, subtype = excluded.subtype, \
                 label_lon = excluded.label_lon, label_lat = excluded.label_lat, members = excluded.members, \
                 geometry = excluded.geometry",
            )
            .bind(a.code.as_str())
            .bind(&a.iso_3166_2)
            .bind(a.country.as_str())
            .bind(&a.name)
            .bind(to_json(&a.names))
            .bind(a.kind.as_str())
            .bind(&a.subtype)
            .bind(a.label_lon)
            .bind(a.label_lat)
            .bind(to_json(&a.members))
            .bind(&a.geometry)
            .execute(&mut *tx)
            .await
            .map_err(be)?;
        }
        let codes: Vec<&str> = areas.iter().take(20).map(|a| a.code.as_str()).collect();
        audit_tx(
            &mut tx,
            audit,
            "areas.import",
            "areas",
            json!({"count": areas.len(), "first_codes": codes}),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        Ok(areas.len())
    }

    async fn get_area(&self, code: &AreaCode) -> Result<Option<Area>> {
        sqlx::query(&format!("SELECT {AREA_COLS} FROM areas WHERE code = ?"))
            .bind(code.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(be)?
            .as_ref()
            .map(area_row)
            .transpose()
    }

    async fn list_areas(&self, q: &AreaQuery) -> Result<Page<Area>> {
        fn filters<'a>(b: &mut QueryBuilder<'a, Sqlite>, q: &'a AreaQuery) {
            b.push(" WHERE 1=1");
            if let Some(c) = &q.country {
                b.push(" AND country = ").push_bind(c.as_str());
            }
            if let Some(s) = &q.search {
                let pat = format!("%{}%", s.replace(['%', '_'], ""));
                b.push(" AND (name LIKE ")
                    .push_bind(pat.clone())
                    .push(" OR code LIKE ")
                    .push_bind(pat)
                    .push(")");
            }
            if let Some(l) = q.level {
                b.push(" AND level = ").push_bind(l.get() as i64);
            }
        }
        let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM areas");
        filters(&mut count, q);
        let total: i64 = count
            .build()
            .fetch_one(&self.reader)
            .await
            .map_err(be)?
            .get(0);
        let mut b = QueryBuilder::<Sqlite>::new(format!("SELECT {AREA_COLS} FROM areas"));
        filters(&mut b, q);
        b.push(" ORDER BY code LIMIT ")
            .push_bind(q.page.limit)
            .push(" OFFSET ")
            .push_bind(q.page.offset);
        let items = b
            .build()
            .fetch_all(&self.reader)
            .await
            .map_err(be)?
            .iter()
            .map(area_row)
            .collect::<Result<_>>()?;
        Ok(Page {
            items,
            total,
            limit: q.page.limit,
            offset: q.page.offset,
        })
    }

    async fn area_geometries(&self, country: Option<&CountryCode>) -> Result<Vec<AreaGeometry>> {
        let rows = match country {
            Some(c) => {
                sqlx::query(
                    "SELECT code, kind, geometry FROM areas WHERE country = ? ORDER BY code",
                )
                .bind(c.as_str())
                .fetch_all(&self.reader)
                .await
            }
            None => {
                sqlx::query("SELECT code, kind, geometry FROM areas ORDER BY code")
                    .fetch_all(&self.reader)
                    .await
            }
        }
        .map_err(be)?;
        rows.iter()
            .map(|r| {
                Ok(AreaGeometry {
                    code: AreaCode::parse(r.get("code"))
                        .map_err(|e| StoreError::Backend(e.to_string()))?,
                    kind: AreaKind::parse(r.get("kind")),
                    geometry: r.get("geometry"),
                })
            })
            .collect()
    }

    async fn area_count(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) FROM areas")
            .fetch_one(&self.reader)
            .await
            .map_err(be)?
            .get(0))
    }

    async fn create_agency(&self, a: &NewAgency, audit: &AuditContext) -> Result<Agency> {
        let id = Uuid::now_v7();
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO agencies (id, code, name) VALUES (?, ?, ?)")
            .bind(id.to_string())
            .bind(&a.code)
            .bind(&a.name)
            .execute(&mut *tx)
            .await
            .map_err(|e| match be(e) {
                StoreError::Conflict(_) => {
                    StoreError::Conflict(format!("agency code {} already exists", a.code))
                }
                o => o,
            })?;
        audit_tx(
            &mut tx,
            audit,
            "agency.create",
            &format!("agency:{id}"),
            json!({"code": a.code, "name": a.name}),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        Ok(Agency {
            id,
            code: a.code.clone(),
            name: a.name.clone(),
        })
    }

    async fn list_agencies(&self) -> Result<Vec<Agency>> {
        sqlx::query("SELECT id, code, name FROM agencies ORDER BY code")
            .fetch_all(&self.reader)
            .await
            .map_err(be)?
            .iter()
            .map(|r| {
                Ok(Agency {
                    id: uuid(r.get("id"))?,
                    code: r.get("code"),
                    name: r.get("name"),
                })
            })
            .collect()
    }

    async fn get_agency_by_code(&self, code: &str) -> Result<Option<Agency>> {
        sqlx::query("SELECT id, code, name FROM agencies WHERE code = ?")
            .bind(code)
            .fetch_optional(&self.reader)
            .await
            .map_err(be)?
            .map(|r| {
                Ok(Agency {
                    id: uuid(r.get("id"))?,
                    code: r.get("code"),
                    name: r.get("name"),
                })
            })
            .transpose()
    }

    async fn create_user(&self, u: &NewUser, audit: &AuditContext) -> Result<User> {
        let id = Uuid::now_v7();
        let now = now_micros();
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO users (id, username, display_name, email, agency_id, password_hash, locale, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(&u.username)
        .bind(&u.display_name)
        .bind(&u.email)
        .bind(u.agency.map(|a| a.to_string()))
        .bind(&u.password_hash)
        .bind(&u.locale)
        .bind(ts(&now))
        .execute(&mut *tx)
        .await
        .map_err(|e| match be(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!("username {} is taken", u.username)),
            o => o,
        })?;
        for g in &u.grants {
            sqlx::query("INSERT OR IGNORE INTO role_grants (user_id, role, scope, agency_id) VALUES (?, ?, ?, ?)")
                .bind(id.to_string())
                .bind(g.role.as_str())
                .bind(g.scope.to_text())
                .bind(g.agency.map(|a| a.to_string()).unwrap_or_default())
                .execute(&mut *tx)
                .await
                .map_err(be)?;
        }
        let grants: Vec<String> = u
            .grants
            .iter()
            .map(|g| format!("{}@{}", g.role, g.scope.to_text()))
            .collect();
        audit_tx(
            &mut tx,
            audit,
            "user.create",
            &format!("user:{id}"),
            json!({"username": u.username, "grants": grants}),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        self.get_user(id)
            .await?
            .ok_or_else(|| StoreError::Backend("user vanished".into()))
    }

    async fn get_user(&self, id: Uuid) -> Result<Option<User>> {
        self.user_where("id = ?", &id.to_string()).await
    }

    async fn get_user_by_username(&self, username: &str) -> Result<Option<User>> {
        self.user_where("username = ?", username).await
    }

    async fn list_users(&self, page: &PageRequest) -> Result<Page<User>> {
        let total: i64 = sqlx::query("SELECT COUNT(*) FROM users")
            .fetch_one(&self.reader)
            .await
            .map_err(be)?
            .get(0);
        let rows = sqlx::query("SELECT * FROM users ORDER BY username LIMIT ? OFFSET ?")
            .bind(page.limit)
            .bind(page.offset)
            .fetch_all(&self.reader)
            .await
            .map_err(be)?;
        let mut items = Vec::with_capacity(rows.len());
        for r in &rows {
            let grants = self.grants_of(r.get("id")).await?;
            items.push(user_row(r, grants)?);
        }
        Ok(Page {
            items,
            total,
            limit: page.limit,
            offset: page.offset,
        })
    }

    async fn users_with_role(&self, role: Role, country: &CountryCode) -> Result<Vec<User>> {
        let rows = sqlx::query(
            "SELECT DISTINCT u.* FROM users u JOIN role_grants g ON g.user_id = u.id \
             WHERE g.role = ? AND (g.scope = 'global' OR g.scope = ? OR g.scope LIKE ?) AND u.disabled = 0 \
             ORDER BY u.display_name",
        )
        .bind(role.as_str())
        .bind(country.as_str())
        .bind(format!("{}-%", country.as_str()))
        .fetch_all(&self.reader)
        .await
        .map_err(be)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let grants = self.grants_of(r.get("id")).await?;
            out.push(user_row(r, grants)?);
        }
        Ok(out)
    }

    async fn set_totp(
        &self,
        user: Uuid,
        secret: Option<&str>,
        enabled: bool,
        audit: &AuditContext,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let n = sqlx::query("UPDATE users SET totp_secret = ?, totp_enabled = ?, totp_last_step = NULL WHERE id = ?")
            .bind(secret)
            .bind(enabled as i64)
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(be)?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("user {user}")));
        }
        audit_tx(
            &mut tx,
            audit,
            "user.totp",
            &format!("user:{user}"),
            json!({"enabled": enabled, "secret_set": secret.is_some()}),
        )
        .await?;
        tx.commit().await.map_err(be)
    }

    async fn advance_totp_step(&self, user: Uuid, step: i64) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE users SET totp_last_step = ? WHERE id = ? AND (totp_last_step IS NULL OR totp_last_step < ?)",
        )
        .bind(step)
        .bind(user.to_string())
        .bind(step)
        .execute(&self.writer)
        .await
        .map_err(be)?
        .rows_affected();
        Ok(n == 1)
    }

    async fn set_password(&self, user: Uuid, hash: &str, audit: &AuditContext) -> Result<()> {
        let mut tx = self.begin().await?;
        let n = sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(hash)
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(be)?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("user {user}")));
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = ?")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(be)?;
        audit_tx(
            &mut tx,
            audit,
            "user.password",
            &format!("user:{user}"),
            json!({}),
        )
        .await?;
        tx.commit().await.map_err(be)
    }

    async fn add_grant(&self, user: Uuid, g: &RoleGrant, audit: &AuditContext) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("INSERT OR IGNORE INTO role_grants (user_id, role, scope, agency_id) VALUES (?, ?, ?, ?)")
            .bind(user.to_string())
            .bind(g.role.as_str())
            .bind(g.scope.to_text())
            .bind(g.agency.map(|a| a.to_string()).unwrap_or_default())
            .execute(&mut *tx)
            .await
            .map_err(be)?;
        audit_tx(
            &mut tx,
            audit,
            "user.grant",
            &format!("user:{user}"),
            json!({"role": g.role, "scope": g.scope.to_text(), "agency": g.agency}),
        )
        .await?;
        tx.commit().await.map_err(be)
    }

    async fn create_session(&self, s: &Session) -> Result<()> {
        sqlx::query("INSERT INTO sessions (digest, user_id, kind, two_factor, created_at, expires_at, ip) VALUES (?, ?, ?, ?, ?, ?, ?)")
            .bind(&s.digest)
            .bind(s.user_id.to_string())
            .bind(s.kind.as_str())
            .bind(s.two_factor as i64)
            .bind(ts(&s.created_at))
            .bind(ts(&s.expires_at))
            .bind(&s.ip)
            .execute(&self.writer)
            .await
            .map_err(be)?;
        Ok(())
    }

    async fn get_session(
        &self,
        digest: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(Session, User)>> {
        let row = sqlx::query("SELECT * FROM sessions WHERE digest = ? AND expires_at > ?")
            .bind(digest)
            .bind(ts(&now))
            .fetch_optional(&self.reader)
            .await
            .map_err(be)?;
        let Some(r) = row else { return Ok(None) };
        let session = Session {
            digest: r.get("digest"),
            user_id: uuid(r.get("user_id"))?,
            kind: if r.get::<&str, _>("kind") == "api" {
                SessionKind::Api
            } else {
                SessionKind::Web
            },
            two_factor: r.get::<i64, _>("two_factor") != 0,
            created_at: parse_ts(r.get("created_at"))?,
            expires_at: parse_ts(r.get("expires_at"))?,
            ip: r.get("ip"),
        };
        match self.get_user(session.user_id).await? {
            Some(u) if !u.disabled => Ok(Some((session, u))),
            _ => Ok(None),
        }
    }

    async fn mark_session_two_factor(&self, digest: &str) -> Result<()> {
        sqlx::query("UPDATE sessions SET two_factor = 1 WHERE digest = ?")
            .bind(digest)
            .execute(&self.writer)
            .await
            .map_err(be)?;
        Ok(())
    }

    async fn delete_session(&self, digest: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE digest = ?")
            .bind(digest)
            .execute(&self.writer)
            .await
            .map_err(be)?;
        Ok(())
    }

    async fn create_measure(&self, m: &NewMeasure, audit: &AuditContext) -> Result<Measure> {
        let id = Uuid::now_v7();
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO measures (id, code, title, description, category, country) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(id.to_string())
            .bind(&m.code)
            .bind(&m.title)
            .bind(&m.description)
            .bind(&m.category)
            .bind(m.country.as_ref().map(|c| c.as_str()))
            .execute(&mut *tx)
            .await
            .map_err(|e| match be(e) {
                StoreError::Conflict(_) => StoreError::Conflict(format!("measure code {} already exists", m.code)),
                o => o,
            })?;
        audit_tx(
            &mut tx,
            audit,
            "measure.create",
            &format!("measure:{id}"),
            json!({"code": m.code, "title": m.title}),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        Ok(Measure {
            id,
            code: m.code.clone(),
            title: m.title.clone(),
            description: m.description.clone(),
            category: m.category.clone(),
            country: m.country.clone(),
        })
    }

    async fn list_measures(&self) -> Result<Vec<Measure>> {
        sqlx::query("SELECT * FROM measures ORDER BY category, code")
            .fetch_all(&self.reader)
            .await
            .map_err(be)?
            .iter()
            .map(measure_row)
            .collect()
    }

    async fn create_assessment(
        &self,
        a: &NewAssessment,
        audit: &AuditContext,
    ) -> Result<Assessment> {
        let id = Uuid::now_v7();
        let now = audit.at;
        let mut tx = self.begin().await?;
        let area = sqlx::query("SELECT level FROM areas WHERE code = ?")
            .bind(a.area.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(be)?
            .ok_or_else(|| StoreError::NotFound(format!("area {}", a.area)))?;
        let previous: Option<i64> = area.get("level");
        check_measures(&mut tx, &a.measures).await?;
        sqlx::query(
            "INSERT INTO assessments (id, area_code, author_id, proposed_level, previous_level, ratings, narrative, \
             advisory_text, measures, mitigation_text, status, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'submitted', ?, ?)",
        )
        .bind(id.to_string())
        .bind(a.area.as_str())
        .bind(a.author.to_string())
        .bind(a.proposed_level.get() as i64)
        .bind(previous)
        .bind(to_json(&a.ratings))
        .bind(&a.narrative)
        .bind(&a.advisory_text)
        .bind(to_json(&a.measures))
        .bind(&a.mitigation_text)
        .bind(ts(&now))
        .bind(ts(&now))
        .execute(&mut *tx)
        .await
        .map_err(be)?;
        insert_event(
            &mut tx,
            id,
            1,
            "submit",
            a.author,
            None,
            AssessmentStatus::Submitted,
            "",
            &[],
            &now,
        )
        .await?;
        audit_tx(
            &mut tx,
            audit,
            "assessment.submit",
            &format!("assessment:{id}"),
            json!({"area": a.area, "proposed_level": a.proposed_level.get()}),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        Ok(self
            .get_assessment(id)
            .await?
            .expect("just written")
            .assessment)
    }

    async fn get_assessment(&self, id: Uuid) -> Result<Option<AssessmentDetail>> {
        let row = sqlx::query(&format!("{ASSESSMENT_SELECT} WHERE a.id = ?"))
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await
            .map_err(be)?;
        let Some(r) = row else { return Ok(None) };
        let assessment = assessment_row(&r)?;
        let events = sqlx::query(
            "SELECT e.*, u.display_name AS actor_name FROM assessment_events e JOIN users u ON u.id = e.actor_id \
             WHERE e.assessment_id = ? ORDER BY e.seq",
        )
        .bind(id.to_string())
        .fetch_all(&self.reader)
        .await
        .map_err(be)?
        .iter()
        .map(|r| {
            Ok(AssessmentEvent {
                seq: r.get("seq"),
                action: r.get("action"),
                actor: uuid(r.get("actor_id"))?,
                actor_name: r.get("actor_name"),
                from_status: r.get::<Option<String>, _>("from_status").as_deref().map(status).transpose()?,
                to_status: status(r.get("to_status"))?,
                reason: r.get("reason"),
                smt_consulted: json_of(r.get::<&str, _>("smt_consulted"))?,
                at: parse_ts(r.get("at"))?,
            })
        })
        .collect::<Result<_>>()?;
        Ok(Some(AssessmentDetail { assessment, events }))
    }

    async fn list_assessments(&self, q: &AssessmentQuery) -> Result<Page<Assessment>> {
        fn filters<'a>(b: &mut QueryBuilder<'a, Sqlite>, q: &'a AssessmentQuery) {
            b.push(" WHERE 1=1");
            if let Some(a) = &q.area {
                b.push(" AND a.area_code = ").push_bind(a.as_str());
            }
            if let Some(c) = &q.country {
                b.push(" AND ar.country = ").push_bind(c.as_str());
            }
            if !q.statuses.is_empty() {
                b.push(" AND a.status IN (");
                let mut sep = b.separated(", ");
                for s in &q.statuses {
                    sep.push_bind(s.as_str());
                }
                b.push(")");
            }
        }
        let mut count = QueryBuilder::<Sqlite>::new(
            "SELECT COUNT(*) FROM assessments a JOIN areas ar ON ar.code = a.area_code JOIN users u ON u.id = a.author_id",
        );
        filters(&mut count, q);
        let total: i64 = count
            .build()
            .fetch_one(&self.reader)
            .await
            .map_err(be)?
            .get(0);
        let mut b = QueryBuilder::<Sqlite>::new(ASSESSMENT_SELECT);
        filters(&mut b, q);
        b.push(" ORDER BY a.created_at DESC, a.id DESC LIMIT ")
            .push_bind(q.page.limit)
            .push(" OFFSET ")
            .push_bind(q.page.offset);
        let items = b
            .build()
            .fetch_all(&self.reader)
            .await
            .map_err(be)?
            .iter()
            .map(assessment_row)
            .collect::<Result<_>>()?;
        Ok(Page {
            items,
            total,
            limit: q.page.limit,
            offset: q.page.offset,
        })
    }

    async fn apply_assessment_action(
        &self,
        t: &AssessmentTransition,
        expected: AssessmentStatus,
        audit: &AuditContext,
    ) -> Result<Assessment> {
        let now = audit.at;
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "SELECT a.status, a.area_code, a.proposed_level, a.advisory_text, a.measures, a.mitigation_text, \
             ar.country, ar.name AS area_name, ar.level AS current_level \
             FROM assessments a JOIN areas ar ON ar.code = a.area_code WHERE a.id = ?",
        )
        .bind(t.id.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(be)?
        .ok_or_else(|| StoreError::NotFound(format!("assessment {}", t.id)))?;
        let current = status(row.get("status"))?;
        if current != expected {
            return Err(StoreError::Conflict(format!(
                "the assessment is now {} (somebody acted on it first); nothing was changed",
                current.as_str()
            )));
        }
        let n = sqlx::query(
            "UPDATE assessments SET status = ?, updated_at = ? WHERE id = ? AND status = ?",
        )
        .bind(t.to.as_str())
        .bind(ts(&now))
        .bind(t.id.to_string())
        .bind(expected.as_str())
        .execute(&mut *tx)
        .await
        .map_err(be)?
        .rows_affected();
        if n != 1 {
            return Err(StoreError::Conflict(
                "the assessment changed meanwhile; nothing was changed".into(),
            ));
        }
        if let Some(r) = &t.revision {
            check_measures(&mut tx, &r.measures).await?;
            sqlx::query(
                "UPDATE assessments SET proposed_level = ?, ratings = ?, narrative = ?, advisory_text = ?, measures = ?, \
                 mitigation_text = ? WHERE id = ?",
            )
            .bind(r.proposed_level.get() as i64)
            .bind(to_json(&r.ratings))
            .bind(&r.narrative)
            .bind(&r.advisory_text)
            .bind(to_json(&r.measures))
            .bind(&r.mitigation_text)
            .bind(t.id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(be)?;
        }
        let seq: i64 = sqlx::query(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM assessment_events WHERE assessment_id = ?",
        )
        .bind(t.id.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(be)?
        .get(0);
        insert_event(
            &mut tx,
            t.id,
            seq,
            t.action.as_str(),
            t.actor,
            Some(expected),
            t.to,
            &t.reason,
            &t.smt_consulted,
            &now,
        )
        .await?;

        let area_code: String = row.get("area_code");
        let mut detail = json!({"from": expected.as_str(), "to": t.to.as_str(), "reason": t.reason, "area": area_code});
        if t.to == AssessmentStatus::Approved {
            let new_level: i64 = row.get("proposed_level");
            let old_level: Option<i64> = row.get("current_level");
            let country: String = row.get("country");
            let area_name: String = row.get("area_name");
            sqlx::query(
                "UPDATE areas SET level = ?, level_since = ?, level_assessment = ? WHERE code = ?",
            )
            .bind(new_level)
            .bind(ts(&now))
            .bind(t.id.to_string())
            .bind(&area_code)
            .execute(&mut *tx)
            .await
            .map_err(be)?;
            sqlx::query(
                "INSERT INTO level_changes (id, area_code, old_level, new_level, assessment_id, approved_by, reason, at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(Uuid::now_v7().to_string())
            .bind(&area_code)
            .bind(old_level)
            .bind(new_level)
            .bind(t.id.to_string())
            .bind(t.actor.to_string())
            .bind(&t.reason)
            .bind(ts(&now))
            .execute(&mut *tx)
            .await
            .map_err(be)?;
            let measures: Vec<Uuid> = json_of(row.get::<&str, _>("measures"))?;
            upsert_advisory_area_tx(
                &mut tx,
                &area_code,
                row.get("advisory_text"),
                row.get("mitigation_text"),
                &measures,
                &now,
            )
            .await?;
            let summary = format!(
                "{area_name}: security level {}, previously {}",
                level_phrase(Some(new_level)),
                level_phrase(old_level)
            );
            let version = advisory_change_tx(
                &mut tx,
                &country,
                &area_code,
                "level",
                old_level,
                Some(new_level),
                &summary,
                &now,
            )
            .await?;
            if old_level != Some(new_level) {
                let told = notify::level_changed_tx(
                    &mut tx,
                    &area_code,
                    &area_name,
                    old_level,
                    new_level,
                    &ts(&now),
                )
                .await?;
                detail["travellers_notified"] = json!(told);
                let phones = notify::level_changed_devices_tx(
                    &mut tx,
                    &area_code,
                    &area_name,
                    old_level,
                    new_level,
                    &ts(&now),
                )
                .await?;
                detail["phones_notified"] = json!(phones);
            }
            detail["old_level"] = json!(old_level);
            detail["new_level"] = json!(new_level);
            detail["advisory_version"] = json!(version);
            detail["smt_consulted"] = json!(t.smt_consulted);
        }
        audit_tx(
            &mut tx,
            audit,
            &format!("assessment.{}", t.action.as_str()),
            &format!("assessment:{}", t.id),
            detail,
        )
        .await?;
        tx.commit().await.map_err(be)?;
        Ok(self.get_assessment(t.id).await?.expect("exists").assessment)
    }

    async fn level_history(&self, area: &AreaCode) -> Result<Vec<LevelChange>> {
        sqlx::query(
            "SELECT l.*, u.display_name AS approver FROM level_changes l JOIN users u ON u.id = l.approved_by \
             WHERE l.area_code = ? ORDER BY l.at DESC, l.id DESC",
        )
        .bind(area.as_str())
        .fetch_all(&self.reader)
        .await
        .map_err(be)?
        .iter()
        .map(|r| {
            Ok(LevelChange {
                id: uuid(r.get("id"))?,
                area: area.clone(),
                old_level: level(r.get("old_level"))?,
                new_level: level(Some(r.get("new_level")))?.expect("level"),
                assessment: uuid(r.get("assessment_id"))?,
                approved_by: uuid(r.get("approved_by"))?,
                approved_by_name: r.get("approver"),
                reason: r.get("reason"),
                at: parse_ts(r.get("at"))?,
            })
        })
        .collect()
    }

    async fn get_advisory(&self, cc: &CountryCode) -> Result<Option<Advisory>> {
        let Some(country) = self.get_country(cc).await? else {
            return Ok(None);
        };
        let head = sqlx::query("SELECT version, updated_at FROM advisories WHERE country = ?")
            .bind(cc.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(be)?;
        let (version, updated_at) = match head {
            Some(r) => (
                r.get::<i64, _>("version"),
                Some(parse_ts(r.get("updated_at"))?),
            ),
            None => (0, None),
        };
        let measures: BTreeMap<Uuid, Measure> = self
            .list_measures()
            .await?
            .into_iter()
            .map(|m| (m.id, m))
            .collect();
        let rows = sqlx::query(&format!(
            "SELECT {}, v.text AS adv_text, v.mitigation_text AS adv_mitigation, v.measures AS adv_measures, \
             v.updated_at AS adv_updated FROM areas a LEFT JOIN advisory_areas v ON v.area_code = a.code \
             WHERE a.country = ? ORDER BY a.level DESC NULLS LAST, a.name",
            AREA_COLS.split(", ").map(|c| format!("a.{c}")).collect::<Vec<_>>().join(", ")
        ))
        .bind(cc.as_str())
        .fetch_all(&self.reader)
        .await
        .map_err(be)?;
        let mut areas = Vec::with_capacity(rows.len());
        for r in &rows {
            let ids: Vec<Uuid> = match r.get::<Option<String>, _>("adv_measures") {
                Some(s) => json_of(&s)?,
                None => vec![],
            };
            areas.push(AdvisoryArea {
                area: area_row(r)?,
                text: r.get::<Option<String>, _>("adv_text").unwrap_or_default(),
                mitigation_text: r
                    .get::<Option<String>, _>("adv_mitigation")
                    .unwrap_or_default(),
                measures: ids
                    .iter()
                    .filter_map(|i| measures.get(i).cloned())
                    .collect(),
                updated_at: opt_ts(r.get("adv_updated"))?,
            });
        }
        Ok(Some(Advisory {
            country,
            version,
            updated_at,
            areas,
        }))
    }

    async fn update_advisory_area(
        &self,
        u: &AdvisoryAreaUpdate,
        audit: &AuditContext,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let row = sqlx::query("SELECT country, name, level FROM areas WHERE code = ?")
            .bind(u.area.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(be)?
            .ok_or_else(|| StoreError::NotFound(format!("area {}", u.area)))?;
        check_measures(&mut tx, &u.measures).await?;
        upsert_advisory_area_tx(
            &mut tx,
            u.area.as_str(),
            &u.text,
            &u.mitigation_text,
            &u.measures,
            &audit.at,
        )
        .await?;
        let name: String = row.get("name");
        let lvl: Option<i64> = row.get("level");
        let version = advisory_change_tx(
            &mut tx,
            row.get("country"),
            u.area.as_str(),
            "text",
            lvl,
            lvl,
            &format!("{name}: advisory text and measures updated"),
            &audit.at,
        )
        .await?;
        audit_tx(
            &mut tx,
            audit,
            "advisory.update",
            &format!("area:{}", u.area),
            json!({"version": version}),
        )
        .await?;
        tx.commit().await.map_err(be)
    }

    async fn advisory_changes(
        &self,
        cc: Option<&CountryCode>,
        limit: i64,
    ) -> Result<Vec<AdvisoryChange>> {
        let sql = "SELECT c.*, a.name AS area_name FROM advisory_changes c JOIN areas a ON a.code = c.area_code";
        let rows = match cc {
            Some(cc) => {
                sqlx::query(&format!(
                    "{sql} WHERE c.country = ? ORDER BY c.at DESC, c.id DESC LIMIT ?"
                ))
                .bind(cc.as_str())
                .bind(limit)
                .fetch_all(&self.reader)
                .await
            }
            None => {
                sqlx::query(&format!("{sql} ORDER BY c.at DESC, c.id DESC LIMIT ?"))
                    .bind(limit)
                    .fetch_all(&self.reader)
                    .await
            }
        }
        .map_err(be)?;
        rows.iter()
            .map(|r| {
                Ok(AdvisoryChange {
                    id: uuid(r.get("id"))?,
                    country: CountryCode::parse(r.get("country"))
                        .map_err(|e| StoreError::Backend(e.to_string()))?,
                    area: AreaCode::parse(r.get("area_code"))
                        .map_err(|e| StoreError::Backend(e.to_string()))?,
                    area_name: r.get("area_name"),
                    version: r.get("version"),
                    kind: r.get("kind"),
                    old_level: level(r.get("old_level"))?,
                    new_level: level(r.get("new_level"))?,
                    summary: r.get("summary"),
                    at: parse_ts(r.get("at"))?,
                })
            })
            .collect()
    }

    async fn set_processing_mode(
        &self,
        area: &AreaCode,
        mode: warden_domain::trip::ProcessingMode,
        actor: Uuid,
        reason: &str,
        audit: &AuditContext,
    ) -> Result<u64> {
        self.trip_set_mode(area, mode, actor, reason, audit).await
    }

    async fn processing_mode(
        &self,
        area: &AreaCode,
    ) -> Result<warden_domain::trip::ProcessingMode> {
        self.trip_mode(area).await
    }

    async fn processing_mode_history(&self, area: &AreaCode) -> Result<Vec<ProcessingModeChange>> {
        self.trip_mode_history(area).await
    }

    async fn create_travel_request(
        &self,
        r: &NewTravelRequest,
        audit: &AuditContext,
    ) -> Result<TravelRequest> {
        self.trip_create(r, audit).await
    }

    async fn get_travel_request(&self, id: Uuid) -> Result<Option<TravelRequest>> {
        self.trip_get(id).await
    }

    async fn list_travel_requests(
        &self,
        traveller: Uuid,
        page: &PageRequest,
    ) -> Result<Page<TravelRequest>> {
        self.trip_list(traveller, page).await
    }

    async fn decide_leg(
        &self,
        d: &LegDecision,
        to: warden_domain::trip::LegStatus,
        audit: &AuditContext,
    ) -> Result<TravelRequest> {
        self.trip_decide(d, to, audit).await
    }

    async fn clearance_queue(&self, q: &ClearanceQuery) -> Result<Page<QueuedLeg>> {
        self.trip_queue(q).await
    }

    async fn answer_leg(
        &self,
        request: Uuid,
        seq: i32,
        answer: &str,
        audit: &AuditContext,
    ) -> Result<TravelRequest> {
        self.trip_answer(request, seq, answer, audit).await
    }

    async fn import_profiles(
        &self,
        rows: &[ProfileInput],
        audit: &AuditContext,
    ) -> Result<ImportCounts> {
        self.profiles_import(rows, audit).await
    }

    async fn get_profile(&self, user: Uuid) -> Result<Option<Profile>> {
        self.profile_get(user).await
    }

    async fn update_own_contacts(
        &self,
        user: Uuid,
        phone: &str,
        emergency_contacts: &[warden_domain::people::EmergencyContact],
        audit: &AuditContext,
    ) -> Result<Profile> {
        self.profile_update_contacts(user, phone, emergency_contacts, audit)
            .await
    }

    async fn profile_users(
        &self,
        agency: Uuid,
        personnel_ids: &[String],
    ) -> Result<std::collections::HashMap<String, Uuid>> {
        SqliteStore::profile_users(self, agency, personnel_ids).await
    }

    async fn apply_travel_authorisations(
        &self,
        agency: Uuid,
        submitted_by: Uuid,
        tas: &[TravelAuthorisation],
        audit: &AuditContext,
    ) -> Result<Vec<TaResult>> {
        self.tas_apply(agency, submitted_by, tas, audit).await
    }

    async fn begin_ta_load(
        &self,
        agency: Uuid,
        submitted_by: Uuid,
        mode: TaLoadMode,
        audit: &AuditContext,
    ) -> Result<Box<dyn TaLoad>> {
        self.ta_load_begin(agency, submitted_by, mode, audit).await
    }

    async fn legs_stored(&self) -> Result<u64> {
        self.legs_count_bound().await
    }

    async fn publish_airline_list(
        &self,
        month: chrono::NaiveDate,
        airlines: &[ApprovedAirline],
        note: &str,
        audit: &AuditContext,
    ) -> Result<AirlineList> {
        self.airlines_publish(month, airlines, note, audit).await
    }

    async fn airline_list(&self, month: Option<chrono::NaiveDate>) -> Result<Option<AirlineList>> {
        self.airlines_get(month).await
    }

    async fn airline_lists(&self) -> Result<Vec<AirlineListSummary>> {
        self.airlines_months().await
    }

    async fn list_notifications(
        &self,
        user: Uuid,
        unread_only: bool,
        page: &PageRequest,
    ) -> Result<Page<Notification>> {
        self.notifications_list(user, unread_only, page).await
    }

    async fn mark_notifications_read(
        &self,
        user: Uuid,
        ids: &[Uuid],
        at: DateTime<Utc>,
    ) -> Result<u64> {
        self.notifications_mark_read(user, ids, at).await
    }

    async fn claim_emails(&self, limit: i64, now: DateTime<Utc>) -> Result<Vec<OutgoingEmail>> {
        self.emails_claim(limit, now).await
    }

    async fn finish_email(
        &self,
        id: Uuid,
        outcome: std::result::Result<(), String>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.email_finish(id, outcome, now).await
    }

    async fn create_device(&self, d: &NewDevice, audit: &AuditContext) -> Result<Device> {
        self.eta_create_device(d, audit).await
    }
    async fn list_devices(&self, user: Uuid) -> Result<Vec<Device>> {
        self.eta_list_devices(user).await
    }
    async fn revoke_device(&self, user: Uuid, device: Uuid, audit: &AuditContext) -> Result<()> {
        self.eta_revoke_device(user, device, audit).await
    }
    async fn device_by_token(&self, digest: &str) -> Result<Option<(Device, User)>> {
        self.eta_device_by_token(digest).await
    }
    async fn ingest_locations(&self, b: &LocationBatch) -> Result<IngestOutcome> {
        self.eta_ingest(b).await
    }
    async fn last_location(&self, user: Uuid) -> Result<Option<LastLocation>> {
        self.eta_last_location(user).await
    }
    async fn authorise_tracking(
        &self,
        t: &NewTracking,
        audit: &AuditContext,
    ) -> Result<TrackingAuthorisation> {
        self.eta_authorise_tracking(t, audit).await
    }
    async fn end_tracking(
        &self,
        id: Uuid,
        by: Uuid,
        reason: &str,
        audit: &AuditContext,
    ) -> Result<TrackingAuthorisation> {
        self.eta_end_tracking(id, by, reason, audit).await
    }
    async fn get_tracking(&self, id: Uuid) -> Result<Option<TrackingAuthorisation>> {
        self.eta_get_tracking(id).await
    }
    async fn list_tracking(
        &self,
        q: &TrackingQuery,
        page: &PageRequest,
    ) -> Result<Page<TrackingAuthorisation>> {
        self.eta_list_tracking(q, page).await
    }
    async fn positions_in_area(
        &self,
        area: &AreaCode,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        visible: &(dyn Fn(Option<Uuid>) -> bool + Send + Sync),
        audit: &AuditContext,
    ) -> Result<Vec<Position>> {
        self.eta_positions_in_area(area, from, to, visible, audit)
            .await
    }
    async fn create_freeze(&self, f: &NewFreeze, audit: &AuditContext) -> Result<Freeze> {
        self.eta_create_freeze(f, audit).await
    }
    async fn lift_freeze(
        &self,
        id: Uuid,
        by: Uuid,
        reason: &str,
        audit: &AuditContext,
    ) -> Result<Freeze> {
        self.eta_lift_freeze(id, by, reason, audit).await
    }
    async fn get_freeze(&self, id: Uuid) -> Result<Option<Freeze>> {
        self.eta_get_freeze(id).await
    }
    async fn list_freezes(&self, q: &FreezeQuery) -> Result<Vec<Freeze>> {
        self.eta_list_freezes(q).await
    }
    async fn purge_locations(
        &self,
        cutoff: DateTime<Utc>,
        after: Option<DateTime<Utc>>,
        limit: i64,
    ) -> Result<PurgeChunk> {
        self.eta_purge(cutoff, after, limit).await
    }
    async fn held_location_data(&self, user: Uuid) -> Result<HeldLocationData> {
        self.eta_held(user).await
    }
    async fn delete_location_data(
        &self,
        user: Uuid,
        audit: &AuditContext,
    ) -> Result<DeletionOutcome> {
        self.eta_delete(user, audit).await
    }
    async fn accept_undertaking(
        &self,
        user: Uuid,
        version: &str,
        audit: &AuditContext,
    ) -> Result<Undertaking> {
        self.eta_accept_undertaking(user, version, audit).await
    }
    async fn undertaking(&self, user: Uuid) -> Result<Option<Undertaking>> {
        self.eta_undertaking(user).await
    }
    async fn issue_alert(
        &self,
        a: &NewGeoAlert,
        fresh_after: DateTime<Utc>,
        audit: &AuditContext,
    ) -> Result<GeoAlert> {
        self.eta_issue_alert(a, fresh_after, audit).await
    }
    async fn get_alert(&self, id: Uuid) -> Result<Option<GeoAlert>> {
        self.eta_get_alert(id).await
    }
    async fn list_alerts(
        &self,
        area: Option<&AreaCode>,
        page: &PageRequest,
    ) -> Result<Page<GeoAlert>> {
        self.eta_list_alerts(area, page).await
    }
    async fn record_wellbeing(
        &self,
        r: &NewWellbeing,
        audit: &AuditContext,
    ) -> Result<WellbeingReport> {
        self.eta_record_wellbeing(r, audit).await
    }
    async fn latest_wellbeing(&self, user: Uuid) -> Result<Option<WellbeingReport>> {
        self.eta_latest_wellbeing(user).await
    }

    async fn claim_sms(&self, limit: i64, now: DateTime<Utc>) -> Result<Vec<OutgoingSms>> {
        self.sms_claim(limit, now).await
    }
    async fn finish_sms(
        &self,
        id: Uuid,
        outcome: std::result::Result<Vec<String>, String>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.sms_finish(id, outcome, now).await
    }
    async fn sms_receipt(&self, message_id: &str, state: &str, at: DateTime<Utc>) -> Result<bool> {
        self.sms_receipt_of(message_id, state, at).await
    }
    async fn sms_for(&self, reference: &str) -> Result<Vec<SmsRecord>> {
        self.sms_list(reference).await
    }
    async fn user_by_phone(&self, phone: &str) -> Result<Option<User>> {
        self.user_of_phone(phone).await
    }

    async fn append_audit(
        &self,
        audit: &AuditContext,
        action: &str,
        target: &str,
        detail: serde_json::Value,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        audit_tx(&mut tx, audit, action, target, detail).await?;
        tx.commit().await.map_err(be)
    }

    async fn list_audit(&self, q: &AuditQuery) -> Result<Page<AuditEntry>> {
        fn filters<'a>(b: &mut QueryBuilder<'a, Sqlite>, q: &'a AuditQuery) {
            b.push(" WHERE 1=1");
            if let Some(p) = &q.action_prefix {
                b.push(" AND substr(action, 1, ")
                    .push_bind(p.len() as i64)
                    .push(") = ")
                    .push_bind(p.as_str());
            }
            if let Some(t) = &q.target {
                b.push(" AND target = ").push_bind(t.as_str());
            }
            if let Some(a) = &q.actor {
                b.push(" AND actor_id = ").push_bind(a.to_string());
            }
        }
        let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM audit_log");
        filters(&mut count, q);
        let total: i64 = count
            .build()
            .fetch_one(&self.reader)
            .await
            .map_err(be)?
            .get(0);
        let mut b = QueryBuilder::<Sqlite>::new("SELECT * FROM audit_log");
        filters(&mut b, q);
        b.push(" ORDER BY seq DESC LIMIT ")
            .push_bind(q.page.limit)
            .push(" OFFSET ")
            .push_bind(q.page.offset);
        let items = b
            .build()
            .fetch_all(&self.reader)
            .await
            .map_err(be)?
            .iter()
            .map(audit_row)
            .collect::<Result<_>>()?;
        Ok(Page {
            items,
            total,
            limit: q.page.limit,
            offset: q.page.offset,
        })
    }

    async fn verify_audit_chain(&self) -> Result<AuditVerification> {
        let mut prev = AUDIT_GENESIS.to_string();
        let mut entries = 0;
        let mut first_broken = None;
        let mut after = 0i64;
        loop {
            let rows = sqlx::query("SELECT * FROM audit_log WHERE seq > ? ORDER BY seq LIMIT 5000")
                .bind(after)
                .fetch_all(&self.reader)
                .await
                .map_err(be)?;
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                let e = audit_row(r)?;
                entries += 1;
                after = e.seq;
                if first_broken.is_none()
                    && (e.prev_hash != prev || e.expected_hash() != e.hash || e.seq != entries)
                {
                    first_broken = Some(e.seq);
                }
                prev = e.hash;
            }
        }
        Ok(AuditVerification {
            entries,
            first_broken,
            head: prev,
        })
    }

    // ---- who is where ----
    async fn presence_candidates(
        &self,
        area: &AreaCode,
        at: DateTime<Utc>,
    ) -> Result<Vec<PresenceCandidate>> {
        self.presence_candidates_of(area, at).await
    }

    // ---- who is where: every area ----
    async fn presence_everyone(
        &self,
        at: DateTime<Utc>,
        country: Option<&CountryCode>,
    ) -> Result<Vec<PresenceCandidate>> {
        self.presence_everyone_of(at, country).await
    }

    async fn presence_counts(
        &self,
        at: DateTime<Utc>,
        rules: warden_domain::presence::PresenceRules,
    ) -> Result<Vec<PresenceCount>> {
        self.presence_counts_of(at, rules).await
    }

    // ---- roll calls ----
    async fn start_roll_call(
        &self,
        areas: &[AreaCode],
        started_by: Uuid,
        message: &str,
        people: &[Uuid],
        audit: &AuditContext,
    ) -> Result<RollCall> {
        self.rc_start(areas, started_by, message, people, audit)
            .await
    }
    async fn get_roll_call(&self, id: Uuid) -> Result<Option<RollCall>> {
        self.rc_get(id).await
    }
    async fn list_roll_calls(
        &self,
        area: Option<&AreaCode>,
        open_only: bool,
    ) -> Result<Vec<RollCall>> {
        self.rc_list(area, open_only).await
    }
    async fn roll_call_board(&self, id: Uuid) -> Result<Option<RollCallBoard>> {
        self.rc_board(id).await
    }
    async fn close_roll_call(&self, id: Uuid, by: Uuid, audit: &AuditContext) -> Result<RollCall> {
        self.rc_close(id, by, audit).await
    }

    // ---- partners ----
    async fn create_partner(&self, p: &NewPartner, audit: &AuditContext) -> Result<Partner> {
        self.partner_create(p, audit).await
    }
    async fn list_partners(&self) -> Result<Vec<Partner>> {
        self.partner_list().await
    }
    async fn get_partner(&self, code: &str) -> Result<Option<Partner>> {
        self.partner_get(code).await
    }
    async fn partner_by_token(&self, digest: &str) -> Result<Option<Partner>> {
        self.partner_by_digest(digest).await
    }
    async fn revoke_partner(&self, code: &str, audit: &AuditContext) -> Result<Partner> {
        self.partner_revoke(code, audit).await
    }
    async fn submit_partner_headcounts(
        &self,
        partner: Uuid,
        reports: &[PartnerHeadcountInput],
        audit: &AuditContext,
    ) -> Result<Vec<PartnerReportOutcome>> {
        self.partner_submit(partner, reports, audit).await
    }
    async fn partner_headcounts(
        &self,
        areas: &[AreaCode],
        from: Option<DateTime<Utc>>,
        to: DateTime<Utc>,
    ) -> Result<Vec<PartnerHeadcount>> {
        self.partner_figures(areas, from, to).await
    }
    async fn partner_cap_messages(&self, limit: i64) -> Result<Vec<CapMessage>> {
        self.partner_messages(limit).await
    }
    async fn get_partner_cap_message(&self, id: Uuid) -> Result<Option<CapMessage>> {
        self.partner_message(id).await
    }
    async fn claim_partner_deliveries(
        &self,
        limit: i64,
        now: DateTime<Utc>,
    ) -> Result<Vec<PartnerDelivery>> {
        self.partner_claim(limit, now).await
    }
    async fn finish_partner_delivery(
        &self,
        id: Uuid,
        outcome: std::result::Result<u16, (Option<u16>, String)>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.partner_finish(id, outcome, now).await
    }
    async fn partner_deliveries(&self, message: Uuid) -> Result<Vec<DeliveryRecord>> {
        self.partner_delivery_records(message).await
    }
}

fn measure_row(r: &SqliteRow) -> Result<Measure> {
    Ok(Measure {
        id: uuid(r.get("id"))?,
        code: r.get("code"),
        title: r.get("title"),
        description: r.get("description"),
        category: r.get("category"),
        country: r
            .get::<Option<String>, _>("country")
            .map(|c| CountryCode::parse(&c).map_err(|e| StoreError::Backend(e.to_string())))
            .transpose()?,
    })
}

fn audit_row(r: &SqliteRow) -> Result<AuditEntry> {
    Ok(AuditEntry {
        seq: r.get("seq"),
        at: parse_ts(r.get("at"))?,
        actor: r
            .get::<Option<String>, _>("actor_id")
            .as_deref()
            .map(uuid)
            .transpose()?,
        actor_name: r.get("actor_name"),
        ip: r.get("ip"),
        action: r.get("action"),
        target: r.get("target"),
        detail: r.get("detail"),
        prev_hash: r.get("prev_hash"),
        hash: r.get("hash"),
    })
}

#[allow(clippy::too_many_arguments)]
async fn insert_event(
    tx: &mut Transaction<'_, Sqlite>,
    id: Uuid,
    seq: i64,
    action: &str,
    actor: Uuid,
    from: Option<AssessmentStatus>,
    to: AssessmentStatus,
    reason: &str,
    smt: &[Uuid],
    at: &DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO assessment_events (assessment_id, seq, action, actor_id, from_status, to_status, reason, smt_consulted, at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id.to_string())
    .bind(seq)
    .bind(action)
    .bind(actor.to_string())
    .bind(from.map(|s| s.as_str()))
    .bind(to.as_str())
    .bind(reason)
    .bind(to_json(&smt))
    .bind(ts(at))
    .execute(&mut **tx)
    .await
    .map_err(be)?;
    Ok(())
}

#[cfg(test)]
mod ts_tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timestamps_are_written_as_the_stored_pattern_reads_them() {
        let mut instants = vec![
            Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(2026, 12, 31, 7, 0, 0).unwrap(),
            // A leap second.
            NaiveDateTime::parse_from_str("2016-12-31T23:59:59.999999", "%Y-%m-%dT%H:%M:%S%.f")
                .unwrap()
                .and_utc()
                + chrono::Duration::nanoseconds(1),
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let secs = (x % 253_402_300_799) as i64 - 62_135_596_800;
            let nanos = (x >> 40) as u32 % 1_000_000_000;
            instants.push(DateTime::from_timestamp(secs, nanos).unwrap());
        }
        for t in instants {
            assert_eq!(ts(&t), t.format(TS).to_string(), "{t:?}");
            assert_eq!(ts(&t).len(), 27, "{t:?}");
        }
    }
}
