//! Travellers' profiles and travel authorisations from agencies' ERP systems
//! on SQLite: batch upserts keyed by the agency's own identifiers.

use crate::{audit_tx, be, parse_ts, ts, uuid, SqliteStore};
use serde_json::json;
use sqlx::{QueryBuilder, Row, Sqlite};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;
use warden_domain::people::PersonnelCategory;
use warden_domain::trip::{LegStatus, ProcessingMode};
use warden_domain::{AreaCode, CountryCode};
use warden_store::*;

fn bad(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Bound parameters per statement stay well under SQLite's limit (32,766).
const ROWS_PER_INSERT: usize = 1500;

fn profile_digest(p: &ProfileInput) -> String {
    content_digest(p)
}

/// A leg keeps its status (and decision) when its place and times are unchanged.
fn same_leg(old: &sqlx::sqlite::SqliteRow, new: &NewLeg) -> bool {
    old.get::<&str, _>("area_code") == new.area.as_str()
        && old.get::<&str, _>("origin") == new.origin
        && old.get::<&str, _>("destination") == new.destination
        && old.get::<&str, _>("depart") == ts(&new.depart)
        && old.get::<&str, _>("arrive") == ts(&new.arrive)
}

/// A leg to insert: request id, seq, the leg, kind, status, and the decision
/// kept from the leg it replaces.
type LegRow<'a> = (String, i64, &'a NewLeg, String, String, Option<Kept>);

/// The decision columns of a leg kept across a TA update.
#[derive(Clone)]
struct Kept {
    decided_by: Option<String>,
    decided_at: Option<String>,
    grounds: String,
    comment: String,
    answer: String,
    answered_at: Option<String>,
}

impl Kept {
    fn of(r: &sqlx::sqlite::SqliteRow) -> Kept {
        Kept {
            decided_by: r.get("decided_by"),
            decided_at: r.get("decided_at"),
            grounds: r.get("grounds"),
            comment: r.get("comment"),
            answer: r.get("answer"),
            answered_at: r.get("answered_at"),
        }
    }
}

impl SqliteStore {
    pub(crate) async fn profiles_import(
        &self,
        rows: &[ProfileInput],
        audit: &AuditContext,
    ) -> Result<ImportCounts> {
        let mut counts = ImportCounts::default();
        if rows.is_empty() {
            return Ok(counts);
        }
        let mut seen = HashSet::new();
        for (i, r) in rows.iter().enumerate() {
            if !seen.insert((r.agency, r.personnel_id.as_str())) {
                return Err(StoreError::Invalid {
                    field: format!("rows[{i}].personnel_id"),
                    message: format!("personnel id {} appears twice", r.personnel_id),
                });
            }
        }
        let now = ts(&audit.at);
        let mut tx = self.begin().await?;
        let mut agency_codes: HashMap<Uuid, String> = HashMap::new();
        for a in rows.iter().map(|r| r.agency).collect::<HashSet<_>>() {
            let code: String = sqlx::query("SELECT code FROM agencies WHERE id = ?")
                .bind(a.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(be)?
                .ok_or_else(|| StoreError::NotFound(format!("agency {a}")))?
                .get(0);
            agency_codes.insert(a, code);
        }
        // What is stored already, by (agency, personnel id).
        let mut existing: HashMap<(Uuid, String), (String, String)> = HashMap::new();
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let mut b = QueryBuilder::<Sqlite>::new(
                "SELECT agency_id, personnel_id, user_id, digest FROM profiles WHERE (agency_id, personnel_id) IN (",
            );
            let mut sep = b.separated(", ");
            for r in chunk {
                sep.push("(")
                    .push_bind_unseparated(r.agency.to_string())
                    .push_unseparated(", ")
                    .push_bind_unseparated(&r.personnel_id)
                    .push_unseparated(")");
            }
            b.push(")");
            for e in b.build().fetch_all(&mut *tx).await.map_err(be)? {
                existing.insert(
                    (uuid(e.get("agency_id"))?, e.get("personnel_id")),
                    (e.get("user_id"), e.get("digest")),
                );
            }
        }
        let mut new_rows = vec![];
        let mut created_ids = vec![];
        for r in rows {
            let digest = profile_digest(r);
            match existing.get(&(r.agency, r.personnel_id.clone())) {
                Some((_, d)) if *d == digest => counts.unchanged += 1,
                Some((user, _)) => {
                    counts.updated += 1;
                    sqlx::query("UPDATE users SET display_name = ?, email = ? WHERE id = ?")
                        .bind(&r.display_name)
                        .bind(&r.email)
                        .bind(user)
                        .execute(&mut *tx)
                        .await
                        .map_err(be)?;
                    sqlx::query(
                        "UPDATE profiles SET category = ?, nationality = ?, phone = ?, duty_station = ?, \
                         emergency_contacts = ?, certificates = ?, digest = ?, updated_at = ? WHERE user_id = ?",
                    )
                    .bind(r.category.as_str())
                    .bind(r.nationality.as_ref().map(|c| c.as_str()))
                    .bind(&r.phone)
                    .bind(r.duty_station.as_ref().map(|a| a.as_str()))
                    .bind(serde_json::to_string(&r.emergency_contacts).map_err(bad)?)
                    .bind(serde_json::to_string(&r.certificates).map_err(bad)?)
                    .bind(&digest)
                    .bind(&now)
                    .bind(user)
                    .execute(&mut *tx)
                    .await
                    .map_err(be)?;
                }
                None => {
                    counts.created += 1;
                    let id = Uuid::now_v7();
                    created_ids.push(r.personnel_id.as_str());
                    new_rows.push((id, r, digest));
                }
            }
        }
        for chunk in new_rows.chunks(ROWS_PER_INSERT / 2) {
            let mut b = QueryBuilder::<Sqlite>::new(
                "INSERT INTO users (id, username, display_name, email, agency_id, password_hash, locale, created_at) ",
            );
            b.push_values(chunk, |mut q, (id, r, _)| {
                q.push_bind(id.to_string())
                    .push_bind(format!(
                        "{}/{}",
                        agency_codes[&r.agency].to_lowercase(),
                        r.personnel_id.to_lowercase()
                    ))
                    .push_bind(&r.display_name)
                    .push_bind(&r.email)
                    .push_bind(r.agency.to_string())
                    .push_bind("")
                    .push_bind("en")
                    .push_bind(&now);
            });
            b.build().execute(&mut *tx).await.map_err(be)?;
            let mut g = QueryBuilder::<Sqlite>::new(
                "INSERT INTO role_grants (user_id, role, scope, agency_id) ",
            );
            g.push_values(chunk, |mut q, (id, r, _)| {
                q.push_bind(id.to_string())
                    .push_bind("traveller")
                    .push_bind("global")
                    .push_bind(r.agency.to_string());
            });
            g.build().execute(&mut *tx).await.map_err(be)?;
            let mut p = QueryBuilder::<Sqlite>::new(
                "INSERT INTO profiles (user_id, agency_id, personnel_id, category, nationality, phone, duty_station, \
                 emergency_contacts, certificates, digest, updated_at) ",
            );
            let mut err = None;
            p.push_values(chunk, |mut q, (id, r, digest)| {
                let contacts = serde_json::to_string(&r.emergency_contacts);
                let certs = serde_json::to_string(&r.certificates);
                if contacts.is_err() || certs.is_err() {
                    err = Some(bad("profile does not serialise"));
                }
                q.push_bind(id.to_string())
                    .push_bind(r.agency.to_string())
                    .push_bind(&r.personnel_id)
                    .push_bind(r.category.as_str())
                    .push_bind(r.nationality.as_ref().map(|c| c.as_str().to_string()))
                    .push_bind(&r.phone)
                    .push_bind(r.duty_station.as_ref().map(|a| a.as_str().to_string()))
                    .push_bind(contacts.unwrap_or_default())
                    .push_bind(certs.unwrap_or_default())
                    .push_bind(digest)
                    .push_bind(&now);
            });
            if let Some(e) = err {
                return Err(e);
            }
            p.build().execute(&mut *tx).await.map_err(be)?;
        }
        if counts.created + counts.updated > 0 {
            audit_tx(
                &mut tx,
                audit,
                "profiles.import",
                "profiles",
                json!({"created": counts.created, "updated": counts.updated, "unchanged": counts.unchanged}),
            )
            .await?;
        }
        tx.commit().await.map_err(be)?;
        Ok(counts)
    }

    pub(crate) async fn profile_get(&self, user: Uuid) -> Result<Option<Profile>> {
        let Some(r) = sqlx::query(
            "SELECT p.*, u.username, u.display_name, u.email, a.code AS agency_code FROM profiles p \
             JOIN users u ON u.id = p.user_id JOIN agencies a ON a.id = p.agency_id WHERE p.user_id = ?",
        )
        .bind(user.to_string())
        .fetch_optional(&self.reader)
        .await
        .map_err(be)?
        else {
            return Ok(None);
        };
        Ok(Some(Profile {
            user,
            username: r.get("username"),
            display_name: r.get("display_name"),
            email: r.get("email"),
            agency: uuid(r.get("agency_id"))?,
            agency_code: r.get("agency_code"),
            personnel_id: r.get("personnel_id"),
            category: PersonnelCategory::parse(r.get("category")).map_err(bad)?,
            nationality: r
                .get::<Option<String>, _>("nationality")
                .map(|c| CountryCode::parse(&c).map_err(bad))
                .transpose()?,
            phone: r.get("phone"),
            duty_station: r
                .get::<Option<String>, _>("duty_station")
                .map(|c| AreaCode::parse(&c).map_err(bad))
                .transpose()?,
            emergency_contacts: serde_json::from_str(r.get("emergency_contacts")).map_err(bad)?,
            certificates: serde_json::from_str(r.get("certificates")).map_err(bad)?,
            updated_at: parse_ts(r.get("updated_at"))?,
        }))
    }

    pub(crate) async fn profile_update_contacts(
        &self,
        user: Uuid,
        phone: &str,
        contacts: &[warden_domain::people::EmergencyContact],
        audit: &AuditContext,
    ) -> Result<Profile> {
        let mut tx = self.begin().await?;
        let n = sqlx::query(
            "UPDATE profiles SET phone = ?, emergency_contacts = ?, updated_at = ? WHERE user_id = ?",
        )
        .bind(phone)
        .bind(serde_json::to_string(contacts).map_err(bad)?)
        .bind(ts(&audit.at))
        .bind(user.to_string())
        .execute(&mut *tx)
        .await
        .map_err(be)?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("profile of user {user}")));
        }
        audit_tx(
            &mut tx,
            audit,
            "profile.update",
            &format!("user:{user}"),
            json!({"fields": ["phone", "emergency_contacts"], "contacts": contacts.len()}),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        self.profile_get(user)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("profile of user {user}")))
    }

    pub(crate) async fn profile_users(
        &self,
        agency: Uuid,
        ids: &[String],
    ) -> Result<HashMap<String, Uuid>> {
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(ROWS_PER_INSERT * 10) {
            let mut b = QueryBuilder::<Sqlite>::new(
                "SELECT personnel_id, user_id FROM profiles WHERE agency_id = ",
            );
            b.push_bind(agency.to_string())
                .push(" AND personnel_id IN (");
            let mut sep = b.separated(", ");
            for id in chunk {
                sep.push_bind(id);
            }
            b.push(")");
            for r in b.build().fetch_all(&self.reader).await.map_err(be)? {
                out.insert(r.get("personnel_id"), uuid(r.get("user_id"))?);
            }
        }
        Ok(out)
    }

    pub(crate) async fn tas_apply(
        &self,
        agency: Uuid,
        submitted_by: Uuid,
        tas: &[TravelAuthorisation],
        audit: &AuditContext,
    ) -> Result<Vec<TaResult>> {
        apply_batch(&self.writer, agency, submitted_by, tas, audit).await
    }

    pub(crate) async fn ta_load_begin(
        &self,
        agency: Uuid,
        submitted_by: Uuid,
        mode: TaLoadMode,
        audit: &AuditContext,
    ) -> Result<Box<dyn TaLoad>> {
        if mode == TaLoadMode::Batches {
            return Ok(Box::new(BatchedLoad {
                writer: self.writer.clone(),
                agency,
                submitted_by,
                audit: audit.clone(),
            }));
        }
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(be)?;
        let first = defer_stays(&mut tx).await?;
        Ok(Box::new(WholeLoad {
            tx,
            first,
            written: 0,
            set_aside: None,
            agency,
            submitted_by,
            audit: audit.clone(),
        }))
    }

    pub(crate) async fn legs_count_bound(&self) -> Result<u64> {
        // Legs are never renumbered: the last one's number bounds the count.
        Ok(last_leg(&self.reader).await?.max(0) as u64)
    }
}

/// The number (rowid) of the last leg stored, 0 for none.
async fn last_leg<'e>(db: impl sqlx::SqliteExecutor<'e>) -> Result<i64> {
    sqlx::query_scalar("SELECT coalesce(max(rowid), 0) FROM legs")
        .fetch_one(db)
        .await
        .map_err(be)
}

/// One batch of TAs in its own transaction.
async fn apply_batch(
    writer: &sqlx::SqlitePool,
    agency: Uuid,
    submitted_by: Uuid,
    tas: &[TravelAuthorisation],
    audit: &AuditContext,
) -> Result<Vec<TaResult>> {
    if tas.is_empty() {
        return Ok(vec![]);
    }
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await.map_err(be)?;
    let mut deferred = None;
    let results = apply_tas(&mut tx, &mut deferred, agency, submitted_by, tas, audit).await?;
    if let Some(first) = deferred {
        write_stays(&mut tx, first).await?;
    }
    tx.commit().await.map_err(be)?;
    Ok(results)
}

/// A load in one transaction per batch.
struct BatchedLoad {
    writer: sqlx::SqlitePool,
    agency: Uuid,
    submitted_by: Uuid,
    audit: AuditContext,
}

#[async_trait::async_trait]
impl TaLoad for BatchedLoad {
    async fn apply(&mut self, tas: &[TravelAuthorisation]) -> Result<Vec<TaResult>> {
        apply_batch(
            &self.writer,
            self.agency,
            self.submitted_by,
            tas,
            &self.audit,
        )
        .await
    }

    async fn finish(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}

/// A load in one transaction, its stays written at `finish`. Once it has
/// written as many legs as a quarter of those stored before it (at once
/// for a first load), it sets aside the indexes it does not read and
/// rebuilds them at `finish`: rebuilding is then cheaper than writing each
/// leg into them. Dropped unfinished, the transaction rolls back and the
/// indexes are as before.
struct WholeLoad {
    tx: sqlx::Transaction<'static, Sqlite>,
    /// The last leg stored before the load (legs are numbered in order).
    first: i64,
    /// Legs written by the load so far.
    written: u64,
    /// The indexes set aside, with the statements that create them.
    set_aside: Option<Vec<(String, String)>>,
    agency: Uuid,
    submitted_by: Uuid,
    audit: AuditContext,
}

#[async_trait::async_trait]
impl TaLoad for WholeLoad {
    async fn apply(&mut self, tas: &[TravelAuthorisation]) -> Result<Vec<TaResult>> {
        let mut deferred = Some(self.first);
        let results = apply_tas(
            &mut self.tx,
            &mut deferred,
            self.agency,
            self.submitted_by,
            tas,
            &self.audit,
        )
        .await?;
        self.written += legs_written(tas, &results);
        if self.set_aside.is_none() && self.written * 4 >= self.first as u64 && self.written > 0 {
            self.set_aside = Some(set_aside_for_load(&mut self.tx).await?);
        }
        Ok(results)
    }

    async fn finish(self: Box<Self>) -> Result<()> {
        let WholeLoad {
            mut tx,
            first,
            set_aside,
            ..
        } = *self;
        // Each step's time, for `WARDEN_LOG=warden_store_sqlite=debug`.
        let t = std::time::Instant::now();
        write_stays(&mut tx, first).await?;
        tracing::debug!(
            seconds = t.elapsed().as_secs_f64(),
            "whole load: stays written"
        );
        for (name, sql) in set_aside.iter().flatten() {
            let t = std::time::Instant::now();
            sqlx::query(sql).execute(&mut *tx).await.map_err(be)?;
            tracing::debug!(
                seconds = t.elapsed().as_secs_f64(),
                "whole load: {name} rebuilt"
            );
        }
        // The commit syncs the WAL; the checkpointer copies the load into
        // the database file afterwards (`checkpoint`).
        let t = std::time::Instant::now();
        tx.commit().await.map_err(be)?;
        tracing::debug!(seconds = t.elapsed().as_secs_f64(), "whole load: committed");
        Ok(())
    }
}

/// Drops the indexes of the trip tables that a load does not read, and the
/// triggers that stand aside while `presence_deferred` holds its row (they
/// would do nothing but test that row for each leg), and returns their
/// names and statements. The indexes the load reads stay: the tables and
/// their primary keys, and TA numbers.
async fn set_aside_for_load(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
) -> Result<Vec<(String, String)>> {
    let set_aside: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT type, name, sql FROM sqlite_master
          WHERE (type = 'index' AND sql IS NOT NULL AND name <> 'travel_requests_ta'
                 AND tbl_name IN ('travel_requests', 'legs', 'presence_legs'))
             OR (type = 'trigger' AND sql LIKE '%presence_deferred%')
          ORDER BY type, name",
    )
    .fetch_all(&mut **tx)
    .await
    .map_err(be)?;
    let mut out = Vec::with_capacity(set_aside.len());
    for (kind, name, sql) in set_aside {
        let kind = if kind == "index" { "INDEX" } else { "TRIGGER" };
        sqlx::query(&format!("DROP {kind} \"{name}\""))
            .execute(&mut **tx)
            .await
            .map_err(be)?;
        out.push((name, sql));
    }
    Ok(out)
}

/// Sets the row triggers of the stays aside for the rest of the transaction
/// (migrations 0011 and 0012); `write_stays` with the rowid returned writes
/// the stays of the legs inserted from now on, and puts the triggers back.
async fn defer_stays(tx: &mut sqlx::Transaction<'_, Sqlite>) -> Result<i64> {
    let first = last_leg(&mut **tx).await?;
    sqlx::query("INSERT OR IGNORE INTO presence_deferred (id) VALUES (1)")
        .execute(&mut **tx)
        .await
        .map_err(be)?;
    Ok(first)
}

/// Applies a batch of TAs in `tx`. Before its first write it defers the
/// stays (`defer_stays`) unless `deferred` already holds where they start;
/// the caller then writes them (`write_stays`).
async fn apply_tas(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    deferred: &mut Option<i64>,
    agency: Uuid,
    submitted_by: Uuid,
    tas: &[TravelAuthorisation],
    audit: &AuditContext,
) -> Result<Vec<TaResult>> {
    if tas.is_empty() {
        return Ok(vec![]);
    }
    let mut seen = HashSet::new();
    for (i, t) in tas.iter().enumerate() {
        if !seen.insert(t.ta_number.as_str()) {
            return Err(StoreError::Invalid {
                field: format!("[{i}].ta_number"),
                message: format!("TA {} appears twice in one batch", t.ta_number),
            });
        }
    }
    let now = ts(&audit.at);
    let agency_s = agency.to_string();
    // Stored TAs of the batch: number → (request id, digest).
    let mut existing: HashMap<String, (String, Option<String>)> = HashMap::new();
    for chunk in tas.chunks(ROWS_PER_INSERT * 10) {
        let mut b = QueryBuilder::<Sqlite>::new(
            "SELECT id, ta_number, ta_digest FROM travel_requests WHERE agency_id = ",
        );
        b.push_bind(&agency_s).push(" AND ta_number IN (");
        let mut sep = b.separated(", ");
        for t in chunk {
            sep.push_bind(&t.ta_number);
        }
        b.push(")");
        for r in b.build().fetch_all(&mut **tx).await.map_err(be)? {
            existing.insert(r.get("ta_number"), (r.get("id"), r.get("ta_digest")));
        }
    }
    // Processing modes of the areas of the batch, read in this transaction.
    let areas: HashSet<&str> = tas
        .iter()
        .flat_map(|t| t.legs.iter().map(|l| l.area.as_str()))
        .collect();
    let mut modes: HashMap<String, ProcessingMode> = HashMap::new();
    let areas: Vec<&str> = areas.into_iter().collect();
    for chunk in areas.chunks(ROWS_PER_INSERT * 10) {
        let mut b = QueryBuilder::<Sqlite>::new(
            "SELECT area_code, mode FROM area_modes WHERE area_code IN (",
        );
        let mut sep = b.separated(", ");
        for a in chunk {
            sep.push_bind(*a);
        }
        b.push(")");
        for r in b.build().fetch_all(&mut **tx).await.map_err(be)? {
            modes.insert(
                r.get("area_code"),
                ProcessingMode::parse(r.get("mode")).map_err(bad)?,
            );
        }
    }
    let mode_of = |a: &AreaCode| {
        modes
            .get(a.as_str())
            .copied()
            .unwrap_or(ProcessingMode::Automatic)
    };

    let mut results = Vec::with_capacity(tas.len());
    let mut new_requests: Vec<(Uuid, &TravelAuthorisation, String)> = vec![];
    // (request id, seq, leg, status, kept decision columns from the old leg)
    let mut new_legs: Vec<LegRow> = vec![];
    for t in tas {
        let digest = ta_digest(t);
        match existing.get(&t.ta_number) {
            Some((id, Some(d))) if ta_digest_same(d, &digest, t) => results.push(TaResult {
                ta_number: t.ta_number.clone(),
                request: uuid(id)?,
                outcome: TaOutcome::Unchanged,
            }),
            Some((id, _)) => {
                if deferred.is_none() {
                    *deferred = Some(defer_stays(tx).await?);
                }
                let old: Vec<sqlx::sqlite::SqliteRow> =
                    sqlx::query("SELECT * FROM legs WHERE request_id = ? ORDER BY seq")
                        .bind(id)
                        .fetch_all(&mut **tx)
                        .await
                        .map_err(be)?;
                // Its stays go first, by the old traveller (the
                // table's key; the triggers stand aside, migration 0012).
                sqlx::query(
                    "DELETE FROM presence_legs WHERE request_id = unhex(?1, '-') AND traveller_id = \
                         (SELECT unhex(traveller_id, '-') FROM travel_requests WHERE id = ?1)",
                )
                .bind(id)
                .execute(&mut **tx)
                .await
                .map_err(be)?;
                sqlx::query("DELETE FROM legs WHERE request_id = ?")
                    .bind(id)
                    .execute(&mut **tx)
                    .await
                    .map_err(be)?;
                sqlx::query(
                        "UPDATE travel_requests SET traveller_id = ?, purpose = ?, ta_digest = ?, updated_at = ? WHERE id = ?",
                    )
                    .bind(t.traveller.to_string())
                    .bind(t.purpose.as_str())
                    .bind(&digest)
                    .bind(&now)
                    .bind(id)
                    .execute(&mut **tx)
                    .await
                    .map_err(be)?;
                for (i, l) in t.legs.iter().enumerate() {
                    let prev = old.get(i).filter(|o| same_leg(o, l));
                    let mode = mode_of(&l.area);
                    let (kind, status, keep) = if t.cancelled {
                        (
                            prev.map(|p| p.get::<String, _>("kind"))
                                .unwrap_or_else(|| mode.leg_kind().as_str().into()),
                            LegStatus::Cancelled.as_str().to_string(),
                            prev.map(Kept::of),
                        )
                    } else if let Some(p) = prev {
                        (p.get("kind"), p.get("status"), Some(Kept::of(p)))
                    } else {
                        (
                            mode.leg_kind().as_str().into(),
                            LegStatus::initial(mode).as_str().into(),
                            None,
                        )
                    };
                    new_legs.push((id.clone(), i as i64 + 1, l, kind, status, keep));
                }
                results.push(TaResult {
                    ta_number: t.ta_number.clone(),
                    request: uuid(id)?,
                    outcome: if t.cancelled {
                        TaOutcome::Cancelled
                    } else {
                        TaOutcome::Updated
                    },
                });
            }
            None => {
                let id = Uuid::now_v7();
                for (i, l) in t.legs.iter().enumerate() {
                    let mode = mode_of(&l.area);
                    let status = if t.cancelled {
                        LegStatus::Cancelled
                    } else {
                        LegStatus::initial(mode)
                    };
                    new_legs.push((
                        id.to_string(),
                        i as i64 + 1,
                        l,
                        mode.leg_kind().as_str().into(),
                        status.as_str().into(),
                        None,
                    ));
                }
                results.push(TaResult {
                    ta_number: t.ta_number.clone(),
                    request: id,
                    outcome: if t.cancelled {
                        TaOutcome::Cancelled
                    } else {
                        TaOutcome::Created
                    },
                });
                new_requests.push((id, t, digest));
            }
        }
    }
    for chunk in new_requests.chunks(ROWS_PER_INSERT) {
        let mut b = QueryBuilder::<Sqlite>::new(
                "INSERT INTO travel_requests (id, traveller_id, submitted_by, purpose, ta_number, agency_id, ta_digest, created_at, updated_at) ",
            );
        b.push_values(chunk, |mut q, (id, t, digest)| {
            q.push_bind(id.to_string())
                .push_bind(t.traveller.to_string())
                .push_bind(submitted_by.to_string())
                .push_bind(t.purpose.as_str())
                .push_bind(&t.ta_number)
                .push_bind(&agency_s)
                .push_bind(digest)
                .push_bind(&now)
                .push_bind(&now);
        });
        b.build().execute(&mut **tx).await.map_err(be)?;
    }
    // The legs' stays are written set-wise by the caller (migration
    // 0011), not by the row triggers.
    if !new_legs.is_empty() && deferred.is_none() {
        *deferred = Some(defer_stays(tx).await?);
    }
    // Legs that keep an earlier decision name its columns; new ones leave
    // them to their defaults (a third fewer values to bind).
    let mut fresh: Vec<&LegRow> = vec![];
    let mut kept: Vec<(&LegRow, &Kept)> = vec![];
    for row in &new_legs {
        match &row.5 {
            Some(k) => kept.push((row, k)),
            None => fresh.push(row),
        }
    }
    for chunk in fresh.chunks(ROWS_PER_INSERT) {
        let mut b = QueryBuilder::<Sqlite>::new(
            "INSERT INTO legs (request_id, seq, origin, destination, area_code, depart, arrive, \
             depart_tz, arrive_tz, carrier, kind, status) ",
        );
        b.push_values(chunk, |mut q, (id, seq, l, kind, status, _)| {
            q.push_bind(id.as_str())
                .push_bind(*seq)
                .push_bind(&l.origin)
                .push_bind(&l.destination)
                .push_bind(l.area.as_str())
                .push_bind(ts(&l.depart))
                .push_bind(ts(&l.arrive))
                .push_bind(&l.depart_tz)
                .push_bind(&l.arrive_tz)
                .push_bind(l.carrier.as_ref().map(|c| c.as_str().to_string()))
                .push_bind(kind.as_str())
                .push_bind(status.as_str());
        });
        b.build().execute(&mut **tx).await.map_err(be)?;
    }
    for chunk in kept.chunks(ROWS_PER_INSERT) {
        let mut b = QueryBuilder::<Sqlite>::new(
                "INSERT INTO legs (request_id, seq, origin, destination, area_code, depart, arrive, depart_tz, arrive_tz, \
                 carrier, kind, status, decided_by, decided_at, grounds, comment, answer, answered_at) ",
            );
        b.push_values(chunk, |mut q, ((id, seq, l, kind, status, _), k)| {
            q.push_bind(id.as_str())
                .push_bind(*seq)
                .push_bind(&l.origin)
                .push_bind(&l.destination)
                .push_bind(l.area.as_str())
                .push_bind(ts(&l.depart))
                .push_bind(ts(&l.arrive))
                .push_bind(&l.depart_tz)
                .push_bind(&l.arrive_tz)
                .push_bind(l.carrier.as_ref().map(|c| c.as_str().to_string()))
                .push_bind(kind.as_str())
                .push_bind(status.as_str())
                .push_bind(k.decided_by.clone())
                .push_bind(k.decided_at.clone())
                .push_bind(k.grounds.clone())
                .push_bind(k.comment.clone())
                .push_bind(k.answer.clone())
                .push_bind(k.answered_at.clone());
        });
        b.build().execute(&mut **tx).await.map_err(be)?;
    }
    let changed: Vec<(&str, &str)> = results
        .iter()
        .filter(|r| r.outcome != TaOutcome::Unchanged)
        .map(|r| (r.ta_number.as_str(), r.outcome.as_str()))
        .collect();
    if !changed.is_empty() {
        audit_tx(
            tx,
            audit,
            "travel_authorisations.apply",
            &format!("agency:{agency}"),
            json!({"changed": changed.iter().map(|(n, o)| json!([n, o])).collect::<Vec<_>>(),
                       "unchanged": results.len() - changed.len()}),
        )
        .await?;
    }
    Ok(results)
}

/// Writes the stays of the legs inserted after rowid `first` while
/// `presence_deferred` held its row (migration 0011), then removes that
/// row. The new live legs are gathered in a temporary table keyed like
/// `presence_legs` (ids as bytes, times as microseconds: migration 0016),
/// in its order. While the table still holds only the stays from before,
/// the stay before each new departure is shortened to end at the first new
/// departure after it, and each new leg learns the next departure among
/// the stays from before (a seek each, only for travellers who have one).
/// Each new stay then ends at that departure or at the traveller's next new
/// one, whichever comes first, and is written in the table's order, a
/// stream of appends. The result is the one the row triggers give. The
/// statements call no function on the table's side and stop at a broken
/// constraint without undoing their own rows (`OR FAIL`: any error here
/// fails the batch or load, whose transaction the caller then rolls back),
/// so that SQLite keeps no statement journal for them. (`OR ROLLBACK` would
/// too, but would end the transaction under sqlx, whose own rollback would
/// then fail and leave the connection counting a transaction.)
async fn write_stays(tx: &mut sqlx::Transaction<'_, Sqlite>, first: i64) -> Result<()> {
    // Emptied before commit; a failed batch's rows go with its rollback.
    sqlx::query(
        "CREATE TEMP TABLE IF NOT EXISTS presence_batch (
            traveller_id BLOB NOT NULL, depart INTEGER NOT NULL, arrive INTEGER NOT NULL,
            seq INTEGER NOT NULL, request_id BLOB NOT NULL, area_code TEXT NOT NULL,
            next INTEGER,
            PRIMARY KEY (traveller_id, depart, arrive, seq, request_id)) WITHOUT ROWID",
    )
    .execute(&mut **tx)
    .await
    .map_err(be)?;
    sqlx::query(&format!(
        "INSERT OR FAIL INTO temp.presence_batch
         SELECT unhex(tr.traveller_id, '-'), {}, {}, l.seq, unhex(l.request_id, '-'), l.area_code, NULL
           FROM legs l JOIN travel_requests tr ON tr.id = l.request_id
          WHERE l.rowid > ?1 AND l.status NOT IN ('cancelled', 'denied')
          ORDER BY 1, 2, 3, 4, 5",
        crate::sql_micros("l.depart"),
        crate::sql_micros("l.arrive")
    ))
    .bind(first)
    .execute(&mut **tx)
    .await
    .map_err(be)?;
    for sql in [
        // A stay from before ends at the first new departure after it,
        // unless the next stay from before departs earlier. Only the stay
        // just before a new departure can change.
        "UPDATE OR FAIL presence_legs SET until = s.next
           FROM (SELECT traveller_id, depart, min(next) AS next
                   FROM (SELECT b.traveller_id,
                                (SELECT max(p.depart) FROM presence_legs p
                                  WHERE p.traveller_id = b.traveller_id AND p.depart < b.depart) AS depart,
                                b.depart AS next
                           FROM temp.presence_batch b)
                  WHERE depart IS NOT NULL
                  GROUP BY 1, 2) s
          WHERE presence_legs.traveller_id = s.traveller_id AND presence_legs.depart = s.depart
            AND (presence_legs.until IS NULL OR presence_legs.until > s.next)",
        // The next departure among the stays from before, where there is one.
        "UPDATE OR FAIL temp.presence_batch AS b
            SET next = (SELECT min(p.depart) FROM presence_legs p
                         WHERE p.traveller_id = b.traveller_id AND p.depart > b.depart)
          WHERE EXISTS (SELECT 1 FROM presence_legs p
                         WHERE p.traveller_id = b.traveller_id AND p.depart > b.depart)",
        // Each new stay ends at the first departure after it: the next one
        // from before where it is earlier than every new one, else the
        // traveller's next new one (one seek, bounded by the former).
        "INSERT OR FAIL INTO presence_legs (traveller_id, depart, arrive, seq, request_id, area_code, until)
         SELECT b.traveller_id, b.depart, b.arrive, b.seq, b.request_id, b.area_code,
                CASE WHEN b.next IS NULL
                     THEN (SELECT min(m.depart) FROM temp.presence_batch m
                            WHERE m.traveller_id = b.traveller_id AND m.depart > b.depart)
                     ELSE coalesce((SELECT min(m.depart) FROM temp.presence_batch m
                                     WHERE m.traveller_id = b.traveller_id AND m.depart > b.depart
                                       AND m.depart < b.next), b.next) END
           FROM temp.presence_batch b",
        "DELETE FROM presence_deferred",
        "DELETE FROM temp.presence_batch",
    ] {
        sqlx::query(sql).execute(&mut **tx).await.map_err(be)?;
    }
    Ok(())
}
