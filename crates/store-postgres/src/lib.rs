//! PostgreSQL implementation of Warden's `Store`.
//!
//! Mirrors `warden-store-sqlite` method for method: same records, same error
//! mapping, same audit entries, same list order. Differences are those of the
//! database, not of behaviour:
//!
//! - native types: uuid keys (UUID v7, generated here), `timestamptz`, `jsonb`
//!   for structured columns, `smallint` levels with CHECK constraints;
//! - one pool of connections under READ COMMITTED instead of one writer:
//!   audit appends are serialised by a row lock on the single-row
//!   `audit_head` table, and racing assessment decisions by a compare-and-set
//!   UPDATE on the assessment row;
//! - no advisory locks and no LISTEN/NOTIFY anywhere (not even for
//!   migrations), so that CockroachDB or Citus can follow;
//! - text is ordered with `COLLATE "C"` (byte order), as SQLite orders it,
//!   whatever the database's default collation.

mod erp;
mod eta;
mod notify;
mod partners;
mod presence;
mod presence_all;
mod rollcall;
mod rows;
mod trip;
mod write;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{Connection, PgConnection, PgPool, Postgres, QueryBuilder, Row};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;
use uuid::Uuid;
use warden_domain::{AreaCode, AssessmentStatus, CountryCode, Role, RoleGrant};
use warden_store::*;

use rows::*;
use write::*;

/// Maximum connections of the pool.
const MAX_CONNECTIONS: u32 = 10;

pub struct PgStore {
    pool: PgPool,
}

/// A schema name that can go into the connection's startup options and into
/// SQL unquoted: an ASCII identifier of at most 63 bytes.
fn check_schema_name(schema: &str) -> Result<()> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && schema
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid {
            field: "schema".into(),
            message: format!(
                "{schema:?} is not a plain identifier (letters, digits, underscore; at most 63)"
            ),
        })
    }
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user@host:port/db`).
    pub async fn connect(url: &str) -> Result<PgStore> {
        let opts = PgConnectOptions::from_str(url).map_err(be)?;
        Self::with_options(opts).await
    }

    /// Connects with every connection's `search_path` set to `schema`, which
    /// is created first if missing. Tests use it to isolate runs; it also
    /// lets several deployments share one database.
    pub async fn connect_with_schema(url: &str, schema: &str) -> Result<PgStore> {
        check_schema_name(schema)?;
        let base = PgConnectOptions::from_str(url).map_err(be)?;
        let mut conn = PgConnection::connect_with(&base).await.map_err(be)?;
        let created = sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
            .execute(&mut conn)
            .await;
        if let Err(e) = created {
            // Two processes creating the same schema at once: one of them
            // meets the other's catalogue row. The schema exists either way.
            let raced = matches!(&e, sqlx::Error::Database(d)
                if d.is_unique_violation() || d.code().as_deref() == Some("42P06"));
            if !raced {
                return Err(be(e));
            }
        }
        conn.close().await.map_err(be)?;
        Self::with_options(base.options([("search_path", schema)])).await
    }

    async fn with_options(opts: PgConnectOptions) -> Result<PgStore> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts)
            .await
            .map_err(be)?;
        Ok(PgStore { pool })
    }

    /// Direct access for tests that must bypass the store (tamper tests).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn begin(&self) -> Result<Tx<'static>> {
        self.pool.begin().await.map_err(be)
    }

    async fn grants_of(&self, user: Uuid) -> Result<Vec<RoleGrant>> {
        sqlx::query(
            "SELECT role, scope, agency_id FROM role_grants WHERE user_id = $1 \
             ORDER BY role COLLATE \"C\", scope COLLATE \"C\", agency_id",
        )
        .bind(user)
        .fetch_all(&self.pool)
        .await
        .map_err(be)?
        .iter()
        .map(grant_row)
        .collect()
    }

    /// Users of the given rows, in the rows' order, with their grants
    /// (fetched in one query).
    async fn users_of(&self, rows: &[PgRow]) -> Result<Vec<User>> {
        let ids = rows
            .iter()
            .map(|r| col::<Uuid>(r, "id"))
            .collect::<Result<Vec<_>>>()?;
        let mut grants: BTreeMap<Uuid, Vec<RoleGrant>> = BTreeMap::new();
        if !ids.is_empty() {
            let grant_rows = sqlx::query(
                "SELECT user_id, role, scope, agency_id FROM role_grants WHERE user_id = ANY($1) \
                 ORDER BY user_id, role COLLATE \"C\", scope COLLATE \"C\", agency_id",
            )
            .bind(&ids)
            .fetch_all(&self.pool)
            .await
            .map_err(be)?;
            for g in &grant_rows {
                grants
                    .entry(col(g, "user_id")?)
                    .or_default()
                    .push(grant_row(g)?);
            }
        }
        rows.iter()
            .zip(ids)
            .map(|(r, id)| user_row(r, grants.remove(&id).unwrap_or_default()))
            .collect()
    }

    async fn user_by_id(&self, id: Uuid) -> Result<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(be)?;
        match row {
            Some(r) => Ok(Some(user_row(&r, self.grants_of(id).await?)?)),
            None => Ok(None),
        }
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn migrate(&self) -> Result<()> {
        let mut migrator = sqlx::migrate!("./migrations");
        // sqlx would otherwise take pg_advisory_lock around the run. Each
        // migration still runs in its own transaction, so a concurrent
        // second run fails on the migrations table instead of half-applying.
        migrator.set_locking(false);
        migrator
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Backend(format!("migration failed: {e}")))
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(be)?;
        Ok(())
    }

    async fn upsert_countries(&self, countries: &[Country]) -> Result<()> {
        let mut tx = self.begin().await?;
        for c in countries {
            sqlx::query(
                "INSERT INTO countries (alpha2, alpha3, name, names, region) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (alpha2) DO UPDATE SET alpha3 = excluded.alpha3, name = excluded.name, \
                 names = excluded.names, region = excluded.region",
            )
            .bind(c.alpha2.as_str())
            .bind(&c.alpha3)
            .bind(&c.name)
            .bind(Json(&c.names))
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
             GROUP BY c.alpha2 ORDER BY c.name COLLATE \"C\", c.alpha2 COLLATE \"C\"",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(be)?;
        rows.iter()
            .map(|r| {
                Ok(CountrySummary {
                    country: country_row(r)?,
                    areas: col(r, "areas")?,
                    highest_level: level(col(r, "highest")?)?,
                    areas_with_level: col(r, "with_level")?,
                })
            })
            .collect()
    }

    async fn get_country(&self, cc: &CountryCode) -> Result<Option<Country>> {
        sqlx::query("SELECT alpha2, alpha3, name, names, region FROM countries WHERE alpha2 = $1")
            .bind(cc.as_str())
            .fetch_optional(&self.pool)
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
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (code) DO UPDATE SET iso_3166_2 = excluded.iso_3166_2, country = excluded.country, \
                 name = excluded.name, names = excluded.names, kind = excluded.kind, subtype = excluded.subtype, \
                 label_lon = excluded.label_lon, label_lat = excluded.label_lat, members = excluded.members, \
                 geometry = excluded.geometry",
            )
            .bind(a.code.as_str())
            .bind(&a.iso_3166_2)
            .bind(a.country.as_str())
            .bind(&a.name)
            .bind(Json(&a.names))
            .bind(a.kind.as_str())
            .bind(&a.subtype)
            .bind(a.label_lon)
            .bind(a.label_lat)
            .bind(Json(&a.members))
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
        sqlx::query(&format!("SELECT {AREA_COLS} FROM areas WHERE code = $1"))
            .bind(code.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(be)?
            .as_ref()
            .map(area_row)
            .transpose()
    }

    async fn list_areas(&self, q: &AreaQuery) -> Result<Page<Area>> {
        fn filters<'a>(b: &mut QueryBuilder<'a, Postgres>, q: &'a AreaQuery) {
            b.push(" WHERE 1=1");
            if let Some(c) = &q.country {
                b.push(" AND country = ").push_bind(c.as_str());
            }
            if let Some(s) = &q.search {
                // Wildcards in the search are dropped, as in SQLite; ESCAPE ''
                // makes a backslash an ordinary character there too.
                let pat = format!("%{}%", s.replace(['%', '_'], ""));
                b.push(" AND (name ILIKE ")
                    .push_bind(pat.clone())
                    .push(" ESCAPE '' OR code ILIKE ")
                    .push_bind(pat)
                    .push(" ESCAPE '')");
            }
            if let Some(l) = q.level {
                b.push(" AND level = ").push_bind(level_db(l));
            }
        }
        let mut count = QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM areas");
        filters(&mut count, q);
        let total: i64 = count
            .build()
            .fetch_one(&self.pool)
            .await
            .map_err(be)?
            .try_get(0)
            .map_err(be)?;
        let mut b = QueryBuilder::<Postgres>::new(format!("SELECT {AREA_COLS} FROM areas"));
        filters(&mut b, q);
        b.push(" ORDER BY code COLLATE \"C\" LIMIT ")
            .push_bind(q.page.limit)
            .push(" OFFSET ")
            .push_bind(q.page.offset);
        let items = b
            .build()
            .fetch_all(&self.pool)
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
            Some(c) => sqlx::query("SELECT code, kind, geometry FROM areas WHERE country = $1 ORDER BY code COLLATE \"C\"")
                .bind(c.as_str())
                .fetch_all(&self.pool)
                .await,
            None => sqlx::query("SELECT code, kind, geometry FROM areas ORDER BY code COLLATE \"C\"").fetch_all(&self.pool).await,
        }
        .map_err(be)?;
        rows.iter()
            .map(|r| {
                Ok(AreaGeometry {
                    code: area_code(&col::<String>(r, "code")?)?,
                    kind: AreaKind::parse(&col::<String>(r, "kind")?),
                    geometry: col(r, "geometry")?,
                })
            })
            .collect()
    }

    async fn area_count(&self) -> Result<i64> {
        sqlx::query("SELECT COUNT(*) FROM areas")
            .fetch_one(&self.pool)
            .await
            .map_err(be)?
            .try_get(0)
            .map_err(be)
    }

    async fn create_agency(&self, a: &NewAgency, audit: &AuditContext) -> Result<Agency> {
        let id = Uuid::now_v7();
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO agencies (id, code, name) VALUES ($1, $2, $3)")
            .bind(id)
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
        sqlx::query("SELECT id, code, name FROM agencies ORDER BY code COLLATE \"C\"")
            .fetch_all(&self.pool)
            .await
            .map_err(be)?
            .iter()
            .map(|r| {
                Ok(Agency {
                    id: col(r, "id")?,
                    code: col(r, "code")?,
                    name: col(r, "name")?,
                })
            })
            .collect()
    }

    async fn get_agency_by_code(&self, code: &str) -> Result<Option<Agency>> {
        sqlx::query("SELECT id, code, name FROM agencies WHERE code = $1")
            .bind(code)
            .fetch_optional(&self.pool)
            .await
            .map_err(be)?
            .map(|r| {
                Ok(Agency {
                    id: col(&r, "id")?,
                    code: col(&r, "code")?,
                    name: col(&r, "name")?,
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
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(&u.username)
        .bind(&u.display_name)
        .bind(&u.email)
        .bind(u.agency)
        .bind(&u.password_hash)
        .bind(&u.locale)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| match be(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!("username {} is taken", u.username)),
            o => o,
        })?;
        for g in &u.grants {
            insert_grant(&mut tx, id, g).await?;
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
        self.user_by_id(id).await
    }

    async fn get_user_by_username(&self, username: &str) -> Result<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLS} FROM users WHERE username = $1"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await
        .map_err(be)?;
        match row {
            Some(r) => Ok(self.users_of(std::slice::from_ref(&r)).await?.pop()),
            None => Ok(None),
        }
    }

    async fn list_users(&self, page: &PageRequest) -> Result<Page<User>> {
        let total: i64 = sqlx::query("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await
            .map_err(be)?
            .try_get(0)
            .map_err(be)?;
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLS} FROM users ORDER BY username COLLATE \"C\" LIMIT $1 OFFSET $2"
        ))
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(&self.pool)
        .await
        .map_err(be)?;
        let items = self.users_of(&rows).await?;
        Ok(Page {
            items,
            total,
            limit: page.limit,
            offset: page.offset,
        })
    }

    async fn users_with_role(&self, role: Role, country: &CountryCode) -> Result<Vec<User>> {
        // SQLite's SELECT DISTINCT over the join, written as EXISTS (PostgreSQL
        // will not order a DISTINCT result by a collated expression).
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLS} FROM users u WHERE u.disabled = false AND EXISTS (\
             SELECT 1 FROM role_grants g WHERE g.user_id = u.id AND g.role = $1 \
             AND (g.scope = 'global' OR g.scope = $2 OR g.scope LIKE $3)) \
             ORDER BY u.display_name COLLATE \"C\", u.id"
        ))
        .bind(role.as_str())
        .bind(country.as_str())
        .bind(format!("{}-%", country.as_str()))
        .fetch_all(&self.pool)
        .await
        .map_err(be)?;
        self.users_of(&rows).await
    }

    async fn set_totp(
        &self,
        user: Uuid,
        secret: Option<&str>,
        enabled: bool,
        audit: &AuditContext,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let n = sqlx::query("UPDATE users SET totp_secret = $1, totp_enabled = $2, totp_last_step = NULL WHERE id = $3")
            .bind(secret)
            .bind(enabled)
            .bind(user)
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
        // One conditional UPDATE: of two concurrent uses of the same step, the
        // second waits for the first's row lock, re-checks, and matches nothing.
        let n = sqlx::query(
            "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
        )
        .bind(step)
        .bind(user)
        .execute(&self.pool)
        .await
        .map_err(be)?
        .rows_affected();
        Ok(n == 1)
    }

    async fn set_password(&self, user: Uuid, hash: &str, audit: &AuditContext) -> Result<()> {
        let mut tx = self.begin().await?;
        let n = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(user)
            .execute(&mut *tx)
            .await
            .map_err(be)?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("user {user}")));
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user)
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
        insert_grant(&mut tx, user, g).await?;
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
        sqlx::query(
            "INSERT INTO sessions (digest, user_id, kind, two_factor, created_at, expires_at, ip) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&s.digest)
        .bind(s.user_id)
        .bind(s.kind.as_str())
        .bind(s.two_factor)
        .bind(s.created_at)
        .bind(s.expires_at)
        .bind(&s.ip)
        .execute(&self.pool)
        .await
        .map_err(be)?;
        Ok(())
    }

    async fn get_session(
        &self,
        digest: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(Session, User)>> {
        let row = sqlx::query(
            "SELECT digest, user_id, kind, two_factor, created_at, expires_at, ip FROM sessions \
             WHERE digest = $1 AND expires_at > $2",
        )
        .bind(digest)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(be)?;
        let Some(r) = row else { return Ok(None) };
        let session = session_row(&r)?;
        match self.get_user(session.user_id).await? {
            Some(u) if !u.disabled => Ok(Some((session, u))),
            _ => Ok(None),
        }
    }

    async fn mark_session_two_factor(&self, digest: &str) -> Result<()> {
        sqlx::query("UPDATE sessions SET two_factor = true WHERE digest = $1")
            .bind(digest)
            .execute(&self.pool)
            .await
            .map_err(be)?;
        Ok(())
    }

    async fn delete_session(&self, digest: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE digest = $1")
            .bind(digest)
            .execute(&self.pool)
            .await
            .map_err(be)?;
        Ok(())
    }

    async fn create_measure(&self, m: &NewMeasure, audit: &AuditContext) -> Result<Measure> {
        let id = Uuid::now_v7();
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO measures (id, code, title, description, category, country) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(id)
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
        sqlx::query(
            "SELECT id, code, title, description, category, country FROM measures \
             ORDER BY category COLLATE \"C\", code COLLATE \"C\"",
        )
        .fetch_all(&self.pool)
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
        let area = sqlx::query("SELECT level FROM areas WHERE code = $1")
            .bind(a.area.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(be)?
            .ok_or_else(|| StoreError::NotFound(format!("area {}", a.area)))?;
        let previous: Option<i16> = col(&area, "level")?;
        check_measures(&mut tx, &a.measures).await?;
        sqlx::query(
            "INSERT INTO assessments (id, area_code, author_id, proposed_level, previous_level, ratings, narrative, \
             advisory_text, measures, mitigation_text, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'submitted', $11, $11)",
        )
        .bind(id)
        .bind(a.area.as_str())
        .bind(a.author)
        .bind(level_db(a.proposed_level))
        .bind(previous)
        .bind(Json(&a.ratings))
        .bind(&a.narrative)
        .bind(&a.advisory_text)
        .bind(Json(&a.measures))
        .bind(&a.mitigation_text)
        .bind(now)
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
        self.get_assessment(id)
            .await?
            .map(|d| d.assessment)
            .ok_or_else(|| StoreError::Backend(format!("assessment {id} vanished after commit")))
    }

    async fn get_assessment(&self, id: Uuid) -> Result<Option<AssessmentDetail>> {
        let row = sqlx::query(&format!("{ASSESSMENT_SELECT} WHERE a.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(be)?;
        let Some(r) = row else { return Ok(None) };
        let assessment = assessment_row(&r)?;
        let events = sqlx::query(
            "SELECT e.seq, e.action, e.actor_id, e.from_status, e.to_status, e.reason, e.smt_consulted, e.at, \
             u.display_name AS actor_name FROM assessment_events e JOIN users u ON u.id = e.actor_id \
             WHERE e.assessment_id = $1 ORDER BY e.seq",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(be)?
        .iter()
        .map(event_row)
        .collect::<Result<_>>()?;
        Ok(Some(AssessmentDetail { assessment, events }))
    }

    async fn list_assessments(&self, q: &AssessmentQuery) -> Result<Page<Assessment>> {
        fn filters<'a>(b: &mut QueryBuilder<'a, Postgres>, q: &'a AssessmentQuery) {
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
        let mut count = QueryBuilder::<Postgres>::new(format!("SELECT COUNT(*) {ASSESSMENT_FROM}"));
        filters(&mut count, q);
        let total: i64 = count
            .build()
            .fetch_one(&self.pool)
            .await
            .map_err(be)?
            .try_get(0)
            .map_err(be)?;
        let mut b = QueryBuilder::<Postgres>::new(ASSESSMENT_SELECT);
        filters(&mut b, q);
        b.push(" ORDER BY a.created_at DESC, a.id DESC LIMIT ")
            .push_bind(q.page.limit)
            .push(" OFFSET ")
            .push_bind(q.page.offset);
        let items = b
            .build()
            .fetch_all(&self.pool)
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
        let current = sqlx::query("SELECT status FROM assessments WHERE id = $1")
            .bind(t.id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(be)?
            .ok_or_else(|| StoreError::NotFound(format!("assessment {}", t.id)))?;
        let current = status(&col::<String>(&current, "status")?)?;
        let acted_first = |now_status: AssessmentStatus| {
            StoreError::Conflict(format!(
                "the assessment is now {} (somebody acted on it first); nothing was changed",
                now_status.as_str()
            ))
        };
        if current != expected {
            return Err(acted_first(current));
        }
        // The compare-and-set. Under READ COMMITTED a racing transaction that
        // read the same status waits here for the winner's row lock, then
        // re-checks the condition against the committed row and matches
        // nothing. RETURNING gives the row as this transaction now holds it.
        let row = sqlx::query(
            "UPDATE assessments SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4 \
             RETURNING area_code, proposed_level, advisory_text, measures, mitigation_text",
        )
        .bind(t.to.as_str())
        .bind(now)
        .bind(t.id)
        .bind(expected.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(be)?;
        let Some(row) = row else {
            // A fresh statement sees what the winner committed, so the loser
            // gets the same message SQLite gives (its writer is serial, so
            // there the loser always fails on the read above).
            let now_status = sqlx::query("SELECT status FROM assessments WHERE id = $1")
                .bind(t.id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(be)?;
            return Err(match now_status {
                Some(r) => acted_first(status(&col::<String>(&r, "status")?)?),
                None => StoreError::Conflict(
                    "the assessment changed meanwhile; nothing was changed".into(),
                ),
            });
        };
        if let Some(r) = &t.revision {
            check_measures(&mut tx, &r.measures).await?;
            sqlx::query(
                "UPDATE assessments SET proposed_level = $1, ratings = $2, narrative = $3, advisory_text = $4, measures = $5, \
                 mitigation_text = $6 WHERE id = $7",
            )
            .bind(level_db(r.proposed_level))
            .bind(Json(&r.ratings))
            .bind(&r.narrative)
            .bind(&r.advisory_text)
            .bind(Json(&r.measures))
            .bind(&r.mitigation_text)
            .bind(t.id)
            .execute(&mut *tx)
            .await
            .map_err(be)?;
        }
        let seq: i64 = sqlx::query(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM assessment_events WHERE assessment_id = $1",
        )
        .bind(t.id)
        .fetch_one(&mut *tx)
        .await
        .map_err(be)?
        .try_get(0)
        .map_err(be)?;
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

        let area_code: String = col(&row, "area_code")?;
        let mut detail = json!({"from": expected.as_str(), "to": t.to.as_str(), "reason": t.reason, "area": area_code});
        if t.to == AssessmentStatus::Approved {
            let new_level: i16 = col(&row, "proposed_level")?;
            // Lock the area so that two approvals for it record each other's
            // level as the old one, as they would one after the other.
            let ar =
                sqlx::query("SELECT country, name, level FROM areas WHERE code = $1 FOR UPDATE")
                    .bind(&area_code)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(be)?;
            let old_level: Option<i16> = col(&ar, "level")?;
            let country: String = col(&ar, "country")?;
            let area_name: String = col(&ar, "name")?;
            sqlx::query("UPDATE areas SET level = $1, level_since = $2, level_assessment = $3 WHERE code = $4")
                .bind(new_level)
                .bind(now)
                .bind(t.id)
                .bind(&area_code)
                .execute(&mut *tx)
                .await
                .map_err(be)?;
            sqlx::query(
                "INSERT INTO level_changes (id, area_code, old_level, new_level, assessment_id, approved_by, reason, at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(Uuid::now_v7())
            .bind(&area_code)
            .bind(old_level)
            .bind(new_level)
            .bind(t.id)
            .bind(t.actor)
            .bind(&t.reason)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(be)?;
            let measures: Vec<Uuid> = json_col(&row, "measures")?;
            let advisory_text: String = col(&row, "advisory_text")?;
            let mitigation_text: String = col(&row, "mitigation_text")?;
            upsert_advisory_area_tx(
                &mut tx,
                &area_code,
                &advisory_text,
                &mitigation_text,
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
                    &mut tx, &area_code, &area_name, old_level, new_level, &now,
                )
                .await?;
                detail["travellers_notified"] = json!(told);
                let phones = notify::level_changed_devices_tx(
                    &mut tx, &area_code, &area_name, old_level, new_level, &now,
                )
                .await?;
                detail["phones_notified"] = json!(phones);
            }
            detail["old_level"] = json!(old_level.map(i64::from));
            detail["new_level"] = json!(i64::from(new_level));
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
        self.get_assessment(t.id)
            .await?
            .map(|d| d.assessment)
            .ok_or_else(|| {
                StoreError::Backend(format!("assessment {} vanished after commit", t.id))
            })
    }

    async fn level_history(&self, area: &AreaCode) -> Result<Vec<LevelChange>> {
        sqlx::query(
            "SELECT l.id, l.old_level, l.new_level, l.assessment_id, l.approved_by, l.reason, l.at, \
             u.display_name AS approver FROM level_changes l JOIN users u ON u.id = l.approved_by \
             WHERE l.area_code = $1 ORDER BY l.at DESC, l.id DESC",
        )
        .bind(area.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(be)?
        .iter()
        .map(|r| level_change_row(r, area))
        .collect()
    }

    async fn get_advisory(&self, cc: &CountryCode) -> Result<Option<Advisory>> {
        let Some(country) = self.get_country(cc).await? else {
            return Ok(None);
        };
        let head = sqlx::query("SELECT version, updated_at FROM advisories WHERE country = $1")
            .bind(cc.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(be)?;
        let (version, updated_at) = match head {
            Some(r) => (
                col::<i64>(&r, "version")?,
                Some(col::<DateTime<Utc>>(&r, "updated_at")?),
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
             WHERE a.country = $1 ORDER BY a.level DESC NULLS LAST, a.name COLLATE \"C\", a.code COLLATE \"C\"",
            area_cols_of("a")
        ))
        .bind(cc.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(be)?;
        let mut areas = Vec::with_capacity(rows.len());
        for r in &rows {
            let ids: Vec<Uuid> = opt_json_col(r, "adv_measures")?.unwrap_or_default();
            areas.push(AdvisoryArea {
                area: area_row(r)?,
                text: col::<Option<String>>(r, "adv_text")?.unwrap_or_default(),
                mitigation_text: col::<Option<String>>(r, "adv_mitigation")?.unwrap_or_default(),
                measures: ids
                    .iter()
                    .filter_map(|i| measures.get(i).cloned())
                    .collect(),
                updated_at: col(r, "adv_updated")?,
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
        let row = sqlx::query("SELECT country, name, level FROM areas WHERE code = $1")
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
        let name: String = col(&row, "name")?;
        let country: String = col(&row, "country")?;
        let lvl: Option<i16> = col(&row, "level")?;
        let version = advisory_change_tx(
            &mut tx,
            &country,
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
        let sql = "SELECT c.id, c.country, c.area_code, c.version, c.kind, c.old_level, c.new_level, c.summary, c.at, \
                   a.name AS area_name FROM advisory_changes c JOIN areas a ON a.code = c.area_code";
        let rows = match cc {
            Some(cc) => {
                sqlx::query(&format!(
                    "{sql} WHERE c.country = $1 ORDER BY c.at DESC, c.id DESC LIMIT $2"
                ))
                .bind(cc.as_str())
                .bind(limit)
                .fetch_all(&self.pool)
                .await
            }
            None => {
                sqlx::query(&format!("{sql} ORDER BY c.at DESC, c.id DESC LIMIT $1"))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
            }
        }
        .map_err(be)?;
        rows.iter().map(advisory_change_row).collect()
    }

    async fn set_processing_mode(
        &self,
        area: &AreaCode,
        mode: warden_domain::trip::ProcessingMode,
        actor: Uuid,
        reason: &str,
        audit: &AuditContext,
    ) -> Result<u64> {
        self.trip_set_processing_mode(area, mode, actor, reason, audit)
            .await
    }

    async fn processing_mode(
        &self,
        area: &AreaCode,
    ) -> Result<warden_domain::trip::ProcessingMode> {
        self.trip_processing_mode(area).await
    }

    async fn processing_mode_history(&self, area: &AreaCode) -> Result<Vec<ProcessingModeChange>> {
        self.trip_processing_mode_history(area).await
    }

    async fn create_travel_request(
        &self,
        r: &NewTravelRequest,
        audit: &AuditContext,
    ) -> Result<TravelRequest> {
        self.trip_create_travel_request(r, audit).await
    }

    async fn get_travel_request(&self, id: Uuid) -> Result<Option<TravelRequest>> {
        self.trip_get_travel_request(id).await
    }

    async fn list_travel_requests(
        &self,
        traveller: Uuid,
        page: &PageRequest,
    ) -> Result<Page<TravelRequest>> {
        self.trip_list_travel_requests(traveller, page).await
    }

    async fn decide_leg(
        &self,
        d: &LegDecision,
        to: warden_domain::trip::LegStatus,
        audit: &AuditContext,
    ) -> Result<TravelRequest> {
        self.trip_decide_leg(d, to, audit).await
    }

    async fn clearance_queue(&self, q: &ClearanceQuery) -> Result<Page<QueuedLeg>> {
        self.trip_clearance_queue(q).await
    }

    async fn answer_leg(
        &self,
        request: Uuid,
        seq: i32,
        answer: &str,
        audit: &AuditContext,
    ) -> Result<TravelRequest> {
        self.trip_answer_leg(request, seq, answer, audit).await
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
        self.profile_users_of(agency, personnel_ids).await
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
        self.legs_count().await
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
        fn filters<'a>(b: &mut QueryBuilder<'a, Postgres>, q: &'a AuditQuery) {
            b.push(" WHERE 1=1");
            if let Some(p) = &q.action_prefix {
                // A literal prefix test (no LIKE wildcards), as SQLite's substr.
                b.push(" AND left(action, char_length(")
                    .push_bind(p.as_str())
                    .push(")) = ")
                    .push_bind(p.as_str());
            }
            if let Some(t) = &q.target {
                b.push(" AND target = ").push_bind(t.as_str());
            }
            if let Some(a) = &q.actor {
                b.push(" AND actor_id = ").push_bind(*a);
            }
        }
        let mut count = QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM audit_log");
        filters(&mut count, q);
        let total: i64 = count
            .build()
            .fetch_one(&self.pool)
            .await
            .map_err(be)?
            .try_get(0)
            .map_err(be)?;
        let mut b = QueryBuilder::<Postgres>::new("SELECT * FROM audit_log");
        filters(&mut b, q);
        b.push(" ORDER BY seq DESC LIMIT ")
            .push_bind(q.page.limit)
            .push(" OFFSET ")
            .push_bind(q.page.offset);
        let items = b
            .build()
            .fetch_all(&self.pool)
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
            let rows =
                sqlx::query("SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 5000")
                    .bind(after)
                    .fetch_all(&self.pool)
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
