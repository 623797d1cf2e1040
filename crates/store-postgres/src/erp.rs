//! Travellers' profiles and travel authorisations from agencies' ERP systems
//! on PostgreSQL: batch upserts keyed by the agency's own identifiers.
//!
//! Every batch is read with a few `= ANY($1)` queries and written with a few
//! `UNNEST` statements, whatever its size.
//!
//! An import of profiles locks the rows of its agencies, so imports for one
//! agency follow each other.
//!
//! A batch of TAs takes its locks in the order of `trip.rs`: the areas of its
//! legs `FOR SHARE`, in code order, so that new legs take the mode that
//! stands when the batch commits; then the legs of the TAs being changed;
//! then their request rows; the audit head last. That is the order of a
//! decision (leg, then request), so a batch and a decision never deadlock:
//! the batch either waits for the decision and keeps it, or the decision
//! waits for the batch and then decides the leg as the batch left it (legs
//! are rewritten in place, never deleted and inserted again). A batch that
//! finds one of its TAs changed or created by a concurrent batch meanwhile
//! starts again from fresh reads.

use serde_json::json;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use std::collections::{BTreeSet, HashMap, HashSet};
use uuid::Uuid;
use warden_domain::people::{Certificate, EmergencyContact, PersonnelCategory};
use warden_domain::trip::{DenialGround, LegStatus, ProcessingMode};
use warden_store::*;

use crate::rows::{area_code, be, col, country_code};
use crate::write::{audit_text_tx, audit_tx, Tx};
use crate::PgStore;

/// Attempts at a batch of TAs that meets a concurrent change of one of its
/// TAs before giving up with a conflict.
const TA_ATTEMPTS: usize = 5;

fn bad(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Timestamps as stored: PostgreSQL keeps microseconds (and sqlx truncates
/// to them), so a leg sent again compares equal to the one stored.
fn micros(t: &chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_micros()
}

/// A leg as stored, with what a TA update may keep of it.
struct OldLeg {
    origin: String,
    destination: String,
    area_code: String,
    depart: chrono::DateTime<chrono::Utc>,
    arrive: chrono::DateTime<chrono::Utc>,
    kind: String,
    status: String,
    kept: Kept,
}

/// The decision columns of a leg kept across a TA update.
#[derive(Clone)]
struct Kept {
    decided_by: Option<Uuid>,
    decided_at: Option<chrono::DateTime<chrono::Utc>>,
    grounds: Vec<DenialGround>,
    comment: String,
    answer: String,
    answered_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl OldLeg {
    fn of(r: &PgRow) -> Result<OldLeg> {
        Ok(OldLeg {
            origin: col(r, "origin")?,
            destination: col(r, "destination")?,
            area_code: col(r, "area_code")?,
            depart: col(r, "depart")?,
            arrive: col(r, "arrive")?,
            kind: col(r, "kind")?,
            status: col(r, "status")?,
            kept: Kept {
                decided_by: col(r, "decided_by")?,
                decided_at: col(r, "decided_at")?,
                grounds: col::<Json<Vec<DenialGround>>>(r, "grounds")?.0,
                comment: col(r, "comment")?,
                answer: col(r, "answer")?,
                answered_at: col(r, "answered_at")?,
            },
        })
    }

    /// A leg keeps its status (and decision) when its place and times are
    /// unchanged.
    fn same_as(&self, new: &NewLeg) -> bool {
        self.area_code == new.area.as_str()
            && self.origin == new.origin
            && self.destination == new.destination
            && micros(&self.depart) == micros(&new.depart)
            && micros(&self.arrive) == micros(&new.arrive)
    }
}

/// Legs to insert, column by column, for one `UNNEST` statement.
#[derive(Default)]
struct LegColumns {
    request: Vec<Uuid>,
    seq: Vec<i32>,
    origin: Vec<String>,
    destination: Vec<String>,
    area: Vec<String>,
    depart: Vec<chrono::DateTime<chrono::Utc>>,
    arrive: Vec<chrono::DateTime<chrono::Utc>>,
    depart_tz: Vec<Option<String>>,
    arrive_tz: Vec<Option<String>>,
    carrier: Vec<Option<String>>,
    kind: Vec<String>,
    status: Vec<String>,
    decided_by: Vec<Option<Uuid>>,
    decided_at: Vec<Option<chrono::DateTime<chrono::Utc>>>,
    grounds: Vec<String>,
    comment: Vec<String>,
    answer: Vec<String>,
    answered_at: Vec<Option<chrono::DateTime<chrono::Utc>>>,
}

impl LegColumns {
    fn push(
        &mut self,
        request: Uuid,
        seq: i32,
        l: &NewLeg,
        kind: &str,
        status: &str,
        keep: Option<&Kept>,
    ) -> Result<()> {
        self.request.push(request);
        self.seq.push(seq);
        self.origin.push(l.origin.clone());
        self.destination.push(l.destination.clone());
        self.area.push(l.area.as_str().to_string());
        self.depart.push(l.depart);
        self.arrive.push(l.arrive);
        self.depart_tz.push(l.depart_tz.clone());
        self.arrive_tz.push(l.arrive_tz.clone());
        self.carrier
            .push(l.carrier.as_ref().map(|c| c.as_str().to_string()));
        self.kind.push(kind.to_string());
        self.status.push(status.to_string());
        self.decided_by.push(keep.and_then(|k| k.decided_by));
        self.decided_at.push(keep.and_then(|k| k.decided_at));
        self.grounds.push(match keep {
            Some(k) => serde_json::to_string(&k.grounds).map_err(bad)?,
            None => "[]".into(),
        });
        self.comment
            .push(keep.map(|k| k.comment.clone()).unwrap_or_default());
        self.answer
            .push(keep.map(|k| k.answer.clone()).unwrap_or_default());
        self.answered_at.push(keep.and_then(|k| k.answered_at));
        Ok(())
    }

    /// Binds the first twelve columns, those every leg names: `$1` … `$12`.
    fn bind_leg<'q>(
        &'q self,
        q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        q.bind(&self.request)
            .bind(&self.seq)
            .bind(&self.origin)
            .bind(&self.destination)
            .bind(&self.area)
            .bind(&self.depart)
            .bind(&self.arrive)
            .bind(&self.depart_tz)
            .bind(&self.arrive_tz)
            .bind(&self.carrier)
            .bind(&self.kind)
            .bind(&self.status)
    }

    /// Inserts the legs of new requests: no conflict is possible, and the
    /// decision columns take their defaults.
    async fn insert(&self, tx: &mut Tx<'_>) -> Result<()> {
        if self.request.is_empty() {
            return Ok(());
        }
        let q = sqlx::query(
            "INSERT INTO legs (request_id, seq, origin, destination, area_code, depart, arrive, depart_tz, arrive_tz, \
             carrier, kind, status) \
             SELECT * FROM UNNEST($1::uuid[], $2::int4[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], \
             $7::timestamptz[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])",
        );
        self.bind_leg(q).execute(&mut **tx).await.map_err(be)?;
        Ok(())
    }

    /// Writes the legs in place: a leg of an updated TA is the same row,
    /// updated, so that a decision waiting for its lock re-checks the row as
    /// this leaves it (a deleted and re-inserted row would make it miss).
    async fn upsert(&self, tx: &mut Tx<'_>) -> Result<()> {
        if self.request.is_empty() {
            return Ok(());
        }
        let q = sqlx::query(
            "INSERT INTO legs (request_id, seq, origin, destination, area_code, depart, arrive, depart_tz, arrive_tz, \
             carrier, kind, status, decided_by, decided_at, grounds, comment, answer, answered_at) \
             SELECT x.request_id, x.seq, x.origin, x.destination, x.area_code, x.depart, x.arrive, x.depart_tz, x.arrive_tz, \
             x.carrier, x.kind, x.status, x.decided_by, x.decided_at, x.grounds::jsonb, x.comment, x.answer, x.answered_at \
             FROM UNNEST($1::uuid[], $2::int4[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[], \
             $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::uuid[], $14::timestamptz[], $15::text[], \
             $16::text[], $17::text[], $18::timestamptz[]) \
             AS x(request_id, seq, origin, destination, area_code, depart, arrive, depart_tz, arrive_tz, carrier, kind, \
             status, decided_by, decided_at, grounds, comment, answer, answered_at) \
             ON CONFLICT (request_id, seq) DO UPDATE SET origin = excluded.origin, destination = excluded.destination, \
             area_code = excluded.area_code, depart = excluded.depart, arrive = excluded.arrive, \
             depart_tz = excluded.depart_tz, arrive_tz = excluded.arrive_tz, carrier = excluded.carrier, \
             kind = excluded.kind, status = excluded.status, decided_by = excluded.decided_by, \
             decided_at = excluded.decided_at, grounds = excluded.grounds, comment = excluded.comment, \
             answer = excluded.answer, answered_at = excluded.answered_at, reevaluated_at = NULL",
        );
        self.bind_leg(q)
            .bind(&self.decided_by)
            .bind(&self.decided_at)
            .bind(&self.grounds)
            .bind(&self.comment)
            .bind(&self.answer)
            .bind(&self.answered_at)
            .execute(&mut **tx)
            .await
            .map_err(be)?;
        Ok(())
    }
}

/// Why one attempt at a batch of TAs did not go through.
enum TaFailure {
    /// One of its TAs changed meanwhile: start again from fresh reads.
    Raced,
    Failed(StoreError),
}

impl From<StoreError> for TaFailure {
    fn from(e: StoreError) -> Self {
        TaFailure::Failed(e)
    }
}

/// Whether an insert failed on the (agency, TA number) index: a concurrent
/// batch created the same TA first.
fn ta_index_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d)
        if d.is_unique_violation() && d.constraint() == Some("travel_requests_ta"))
}

fn json_text<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|_| bad("profile does not serialise"))
}

impl PgStore {
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
        let now = audit.at;
        let mut tx = self.begin().await?;
        let agencies: Vec<Uuid> = rows
            .iter()
            .map(|r| r.agency)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut agency_codes: HashMap<Uuid, String> = HashMap::new();
        // The agencies' rows are locked (in id order): two imports for one
        // agency follow each other, so the second finds the people the first
        // created instead of failing on their usernames. Nothing else takes
        // more than a key-share lock on an agency row.
        for r in sqlx::query(
            "SELECT id, code FROM agencies WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
        )
        .bind(&agencies)
        .fetch_all(&mut *tx)
        .await
        .map_err(be)?
        {
            agency_codes.insert(col(&r, "id")?, col(&r, "code")?);
        }
        if let Some(a) = agencies.iter().find(|a| !agency_codes.contains_key(a)) {
            return Err(StoreError::NotFound(format!("agency {a}")));
        }
        // What is stored already, by (agency, personnel id).
        let keys_agency: Vec<Uuid> = rows.iter().map(|r| r.agency).collect();
        let keys_personnel: Vec<&str> = rows.iter().map(|r| r.personnel_id.as_str()).collect();
        let mut existing: HashMap<(Uuid, String), (Uuid, String)> = HashMap::new();
        for e in sqlx::query(
            "SELECT p.agency_id, p.personnel_id, p.user_id, p.digest FROM profiles p \
             JOIN UNNEST($1::uuid[], $2::text[]) AS k(agency_id, personnel_id) \
             ON p.agency_id = k.agency_id AND p.personnel_id = k.personnel_id",
        )
        .bind(&keys_agency)
        .bind(&keys_personnel)
        .fetch_all(&mut *tx)
        .await
        .map_err(be)?
        {
            existing.insert(
                (col(&e, "agency_id")?, col(&e, "personnel_id")?),
                (col(&e, "user_id")?, col(&e, "digest")?),
            );
        }

        // Changed rows, column by column.
        let mut up_user: Vec<Uuid> = vec![];
        let mut up_name: Vec<&str> = vec![];
        let mut up_email: Vec<&str> = vec![];
        let mut up_category: Vec<&str> = vec![];
        let mut up_nationality: Vec<Option<&str>> = vec![];
        let mut up_phone: Vec<&str> = vec![];
        let mut up_duty: Vec<Option<&str>> = vec![];
        let mut up_contacts: Vec<String> = vec![];
        let mut up_certs: Vec<String> = vec![];
        let mut up_digest: Vec<String> = vec![];
        // New rows.
        let mut new_id: Vec<Uuid> = vec![];
        let mut new_username: Vec<String> = vec![];
        let mut new_name: Vec<&str> = vec![];
        let mut new_email: Vec<&str> = vec![];
        let mut new_agency: Vec<Uuid> = vec![];
        let mut new_personnel: Vec<&str> = vec![];
        let mut new_category: Vec<&str> = vec![];
        let mut new_nationality: Vec<Option<&str>> = vec![];
        let mut new_phone: Vec<&str> = vec![];
        let mut new_duty: Vec<Option<&str>> = vec![];
        let mut new_contacts: Vec<String> = vec![];
        let mut new_certs: Vec<String> = vec![];
        let mut new_digest: Vec<String> = vec![];
        for r in rows {
            let digest = content_digest(r);
            match existing.get(&(r.agency, r.personnel_id.clone())) {
                Some((_, d)) if *d == digest => counts.unchanged += 1,
                Some((user, _)) => {
                    counts.updated += 1;
                    up_user.push(*user);
                    up_name.push(&r.display_name);
                    up_email.push(&r.email);
                    up_category.push(r.category.as_str());
                    up_nationality.push(r.nationality.as_ref().map(|c| c.as_str()));
                    up_phone.push(&r.phone);
                    up_duty.push(r.duty_station.as_ref().map(|a| a.as_str()));
                    up_contacts.push(json_text(&r.emergency_contacts)?);
                    up_certs.push(json_text(&r.certificates)?);
                    up_digest.push(digest);
                }
                None => {
                    counts.created += 1;
                    new_id.push(Uuid::now_v7());
                    new_username.push(format!(
                        "{}/{}",
                        agency_codes[&r.agency].to_lowercase(),
                        r.personnel_id.to_lowercase()
                    ));
                    new_name.push(&r.display_name);
                    new_email.push(&r.email);
                    new_agency.push(r.agency);
                    new_personnel.push(&r.personnel_id);
                    new_category.push(r.category.as_str());
                    new_nationality.push(r.nationality.as_ref().map(|c| c.as_str()));
                    new_phone.push(&r.phone);
                    new_duty.push(r.duty_station.as_ref().map(|a| a.as_str()));
                    new_contacts.push(json_text(&r.emergency_contacts)?);
                    new_certs.push(json_text(&r.certificates)?);
                    new_digest.push(digest);
                }
            }
        }
        if !up_user.is_empty() {
            sqlx::query(
                "UPDATE users u SET display_name = x.display_name, email = x.email \
                 FROM UNNEST($1::uuid[], $2::text[], $3::text[]) AS x(id, display_name, email) WHERE u.id = x.id",
            )
            .bind(&up_user)
            .bind(&up_name)
            .bind(&up_email)
            .execute(&mut *tx)
            .await
            .map_err(be)?;
            sqlx::query(
                "UPDATE profiles p SET category = x.category, nationality = x.nationality, phone = x.phone, \
                 duty_station = x.duty_station, emergency_contacts = x.contacts::jsonb, certificates = x.certs::jsonb, \
                 digest = x.digest, updated_at = $9 \
                 FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) \
                 AS x(user_id, category, nationality, phone, duty_station, contacts, certs, digest) \
                 WHERE p.user_id = x.user_id",
            )
            .bind(&up_user)
            .bind(&up_category)
            .bind(&up_nationality)
            .bind(&up_phone)
            .bind(&up_duty)
            .bind(&up_contacts)
            .bind(&up_certs)
            .bind(&up_digest)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(be)?;
        }
        if !new_id.is_empty() {
            sqlx::query(
                "INSERT INTO users (id, username, display_name, email, agency_id, password_hash, locale, created_at) \
                 SELECT x.id, x.username, x.display_name, x.email, x.agency_id, '', 'en', $6 \
                 FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::uuid[]) \
                 AS x(id, username, display_name, email, agency_id)",
            )
            .bind(&new_id)
            .bind(&new_username)
            .bind(&new_name)
            .bind(&new_email)
            .bind(&new_agency)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(be)?;
            sqlx::query(
                "INSERT INTO role_grants (user_id, role, scope, agency_id) \
                 SELECT x.id, 'traveller', 'global', x.agency_id FROM UNNEST($1::uuid[], $2::uuid[]) AS x(id, agency_id)",
            )
            .bind(&new_id)
            .bind(&new_agency)
            .execute(&mut *tx)
            .await
            .map_err(be)?;
            sqlx::query(
                "INSERT INTO profiles (user_id, agency_id, personnel_id, category, nationality, phone, duty_station, \
                 emergency_contacts, certificates, digest, updated_at) \
                 SELECT x.user_id, x.agency_id, x.personnel_id, x.category, x.nationality, x.phone, x.duty_station, \
                 x.contacts::jsonb, x.certs::jsonb, x.digest, $11 \
                 FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
                 $8::text[], $9::text[], $10::text[]) \
                 AS x(user_id, agency_id, personnel_id, category, nationality, phone, duty_station, contacts, certs, digest)",
            )
            .bind(&new_id)
            .bind(&new_agency)
            .bind(&new_personnel)
            .bind(&new_category)
            .bind(&new_nationality)
            .bind(&new_phone)
            .bind(&new_duty)
            .bind(&new_contacts)
            .bind(&new_certs)
            .bind(&new_digest)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(be)?;
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
            "SELECT p.user_id, p.agency_id, p.personnel_id, p.category, p.nationality, p.phone, p.duty_station, \
             p.emergency_contacts, p.certificates, p.updated_at, u.username, u.display_name, u.email, \
             a.code AS agency_code FROM profiles p JOIN users u ON u.id = p.user_id \
             JOIN agencies a ON a.id = p.agency_id WHERE p.user_id = $1",
        )
        .bind(user)
        .fetch_optional(&self.pool)
        .await
        .map_err(be)?
        else {
            return Ok(None);
        };
        Ok(Some(Profile {
            user,
            username: col(&r, "username")?,
            display_name: col(&r, "display_name")?,
            email: col(&r, "email")?,
            agency: col(&r, "agency_id")?,
            agency_code: col(&r, "agency_code")?,
            personnel_id: col(&r, "personnel_id")?,
            category: PersonnelCategory::parse(&col::<String>(&r, "category")?).map_err(bad)?,
            nationality: col::<Option<String>>(&r, "nationality")?
                .as_deref()
                .map(country_code)
                .transpose()?,
            phone: col(&r, "phone")?,
            duty_station: col::<Option<String>>(&r, "duty_station")?
                .as_deref()
                .map(area_code)
                .transpose()?,
            emergency_contacts: col::<Json<Vec<EmergencyContact>>>(&r, "emergency_contacts")?.0,
            certificates: col::<Json<Vec<Certificate>>>(&r, "certificates")?.0,
            updated_at: col(&r, "updated_at")?,
        }))
    }

    /// The profile row is locked by the UPDATE, then the audit head: the
    /// order of an import (which locks its agencies first, then profiles).
    pub(crate) async fn profile_update_contacts(
        &self,
        user: Uuid,
        phone: &str,
        contacts: &[EmergencyContact],
        audit: &AuditContext,
    ) -> Result<Profile> {
        let mut tx = self.begin().await?;
        let n = sqlx::query(
            "UPDATE profiles SET phone = $1, emergency_contacts = $2, updated_at = $3 WHERE user_id = $4",
        )
        .bind(phone)
        .bind(Json(contacts))
        .bind(audit.at)
        .bind(user)
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

    pub(crate) async fn profile_users_of(
        &self,
        agency: Uuid,
        ids: &[String],
    ) -> Result<HashMap<String, Uuid>> {
        let mut out = HashMap::with_capacity(ids.len());
        if ids.is_empty() {
            return Ok(out);
        }
        for r in sqlx::query(
            "SELECT personnel_id, user_id FROM profiles WHERE agency_id = $1 AND personnel_id = ANY($2)",
        )
        .bind(agency)
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .map_err(be)?
        {
            out.insert(col(&r, "personnel_id")?, col(&r, "user_id")?);
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
        apply_batch(&self.pool, agency, submitted_by, tas, audit).await
    }

    pub(crate) async fn ta_load_begin(
        &self,
        agency: Uuid,
        submitted_by: Uuid,
        mode: TaLoadMode,
        audit: &AuditContext,
    ) -> Result<Box<dyn TaLoad>> {
        let mut lanes = vec![];
        let mut stored = 0;
        if mode == TaLoadMode::Whole {
            for _ in 0..WHOLE_LANES {
                let mut tx = self.begin().await?;
                // The presence triggers stand aside for this transaction
                // (migration 0012); `finish` writes the stays. Transition
                // tables and the batches' sorts stay in memory. The load's
                // own analyses (`PgLoad`) sample 3,000 rows, not 30,000.
                for sql in [
                    "SELECT set_config('warden.presence_deferred', 'on', true)",
                    "SET LOCAL work_mem = '64MB'",
                    "SET LOCAL default_statistics_target = 10",
                ] {
                    sqlx::query(sql).execute(&mut *tx).await.map_err(be)?;
                }
                lanes.push(Lane {
                    tx,
                    touched: HashSet::new(),
                    audit: vec![],
                });
            }
            // The planner's idea of the legs stored (-1 before any analysis).
            let n: f32 =
                sqlx::query_scalar("SELECT reltuples FROM pg_class WHERE oid = 'legs'::regclass")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(be)?;
            stored = n.max(0.0) as u64;
        }
        Ok(Box::new(PgLoad {
            pool: self.pool.clone(),
            plan: LanePlan::new(lanes.len()),
            lanes,
            stored,
            analysed: stored,
            written: 0,
            agency,
            submitted_by,
            audit: audit.clone(),
        }))
    }

    pub(crate) async fn legs_count(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM legs")
            .fetch_one(&self.pool)
            .await
            .map_err(be)?;
        Ok(n.max(0) as u64)
    }
}

/// Checks that no TA number repeats within one batch.
fn distinct_numbers(tas: &[TravelAuthorisation]) -> Result<()> {
    let mut seen = HashSet::new();
    for (i, t) in tas.iter().enumerate() {
        if !seen.insert(t.ta_number.as_str()) {
            return Err(StoreError::Invalid {
                field: format!("[{i}].ta_number"),
                message: format!("TA {} appears twice in one batch", t.ta_number),
            });
        }
    }
    Ok(())
}

/// One batch of TAs in its own transaction, started again from fresh reads
/// when a concurrent batch changed one of its TAs meanwhile.
async fn apply_batch(
    pool: &sqlx::PgPool,
    agency: Uuid,
    submitted_by: Uuid,
    tas: &[TravelAuthorisation],
    audit: &AuditContext,
) -> Result<Vec<TaResult>> {
    if tas.is_empty() {
        return Ok(vec![]);
    }
    distinct_numbers(tas)?;
    let tas: Vec<&TravelAuthorisation> = tas.iter().collect();
    for _ in 0..TA_ATTEMPTS {
        let mut tx = pool.begin().await.map_err(be)?;
        // The triggers keep the stays of a batch's travellers.
        match apply_in(&mut tx, agency, submitted_by, &tas, audit, &mut vec![]).await {
            Ok(r) => {
                if let Some(detail) = audit_detail(&r) {
                    audit_batch(&mut tx, audit, agency, detail).await?;
                }
                tx.commit().await.map_err(be)?;
                return Ok(r);
            }
            Err(TaFailure::Failed(e)) => return Err(e),
            Err(TaFailure::Raced) => continue,
        }
    }
    Err(raced())
}

fn raced() -> StoreError {
    StoreError::Conflict(
        "the travel authorisations kept changing while being applied; nothing was changed".into(),
    )
}

/// The transactions a whole load is written by. Each holds the TAs of its
/// own travellers, so that their stays are written without waiting for
/// one another, and PostgreSQL runs each on a backend of its own: the load
/// uses two cores instead of one.
const WHOLE_LANES: usize = 2;

/// A load of TAs: a transaction per batch, or a whole load: a few
/// transactions ("lanes", `WHOLE_LANES`), each for its own travellers, with
/// a savepoint per batch (a batch that meets a concurrent change starts
/// again from its savepoint), committed one after the other by `finish`.
/// A whole load sets the presence triggers aside and writes the stays of
/// the travellers it touched at its end (`write_deferred_stays`). Nothing
/// of it is visible before `finish`; dropped or failed before the commits,
/// it leaves nothing. A failure between two lanes' commits keeps the lanes
/// committed before it: each is whole (its TAs, their stays and audit
/// entries), and a run of the same file again writes the rest.
///
/// Autovacuum cannot see the rows of a transaction still open, so a whole
/// load analyses the trip tables itself each time it has doubled the legs
/// last analysed (in its first lane: `ANALYZE` holds its lock until the
/// commit, and a second would wait for it): its look-ups of stored TAs,
/// and the stays at its end, are planned for what the tables hold (seeks
/// by key rather than scans of tables the planner still takes to be
/// small). Those plans need the tables' sizes, not fine histograms: the
/// load analyses with a small sample (statistics target 10), and
/// autovacuum analyses the tables in full once the load has committed.
struct PgLoad {
    pool: sqlx::PgPool,
    /// Empty for a transaction per batch.
    lanes: Vec<Lane>,
    plan: LanePlan,
    /// Legs in the table when the load began, and when it was last
    /// analysed (as the planner knows).
    stored: u64,
    analysed: u64,
    /// Legs written by the load so far.
    written: u64,
    agency: Uuid,
    submitted_by: Uuid,
    audit: AuditContext,
}

/// One transaction of a whole load.
struct Lane {
    tx: Tx<'static>,
    /// The travellers whose legs the lane wrote, their stays to be
    /// written at `finish`.
    touched: HashSet<Uuid>,
    /// The audit entries of its part of each batch, appended at `finish`
    /// after the travellers are locked: the audit chain's head, once taken,
    /// is held until the commit, and a concurrent write that holds a
    /// traveller while it waits for the head would otherwise deadlock with
    /// the load.
    audit: Vec<String>,
}

/// Which lane each TA goes to: the lane of its traveller, given at the
/// traveller's first TA to the lane with the fewest legs so far (legs, not
/// TAs, are what a lane writes: balanced by TAs, a file whose travellers
/// differ in legs per TA can leave one lane with twice the legs of the
/// other). A TA
/// number seen before keeps its lane (a lane sees only its own uncommitted
/// rows: the same TA in two lanes would wait on its unique index for the
/// other lane's commit), so a traveller can end up in two lanes, as can
/// the one an updated TA had before; `finish` writes such travellers' stays
/// lane by lane after the lanes before have committed.
struct LanePlan {
    /// TA numbers by a 64-bit hash (a collision only puts two TAs in one
    /// lane).
    tas: HashMap<u64, usize>,
    travellers: HashMap<Uuid, usize>,
    /// Legs given to each lane.
    load: Vec<u64>,
}

impl LanePlan {
    fn new(lanes: usize) -> LanePlan {
        LanePlan {
            tas: HashMap::new(),
            travellers: HashMap::new(),
            load: vec![0; lanes],
        }
    }

    fn lane(&mut self, t: &TravelAuthorisation) -> usize {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        t.ta_number.hash(&mut h);
        let least = (0..self.load.len())
            .min_by_key(|&i| self.load[i])
            .unwrap_or(0);
        let lane = *self
            .tas
            .entry(h.finish())
            .or_insert_with(|| *self.travellers.entry(t.traveller).or_insert(least));
        self.load[lane] += t.legs.len() as u64;
        lane
    }
}

#[async_trait::async_trait]
impl TaLoad for PgLoad {
    async fn apply(&mut self, tas: &[TravelAuthorisation]) -> Result<Vec<TaResult>> {
        if self.lanes.is_empty() {
            return apply_batch(&self.pool, self.agency, self.submitted_by, tas, &self.audit).await;
        }
        if tas.is_empty() {
            return Ok(vec![]);
        }
        distinct_numbers(tas)?;
        let mut parts: Vec<Vec<usize>> = vec![vec![]; self.lanes.len()];
        for (i, t) in tas.iter().enumerate() {
            parts[self.plan.lane(t)].push(i);
        }
        let (agency, by, audit) = (self.agency, self.submitted_by, &self.audit);
        let done = futures_util::future::try_join_all(self.lanes.iter_mut().zip(&parts).map(
            |(lane, part)| {
                let tas: Vec<&TravelAuthorisation> = part.iter().map(|&i| &tas[i]).collect();
                async move {
                    let t = std::time::Instant::now();
                    let r = lane.apply(tas, agency, by, audit).await;
                    tracing::debug!(
                        seconds = t.elapsed().as_secs_f64(),
                        "whole load: a lane's batch"
                    );
                    r
                }
            },
        ))
        .await?;
        let mut results: Vec<Option<TaResult>> = vec![None; tas.len()];
        for (part, rs) in parts.iter().zip(done) {
            for (&i, r) in part.iter().zip(rs) {
                results[i] = Some(r);
            }
        }
        let results: Vec<TaResult> = results.into_iter().flatten().collect();
        self.written += legs_written(tas, &results);
        let now = self.stored + self.written;
        if self.written >= 10_000 && now >= 2 * self.analysed {
            sqlx::query("ANALYZE travel_requests, legs")
                .execute(&mut *self.lanes[0].tx)
                .await
                .map_err(be)?;
            self.analysed = now;
        }
        Ok(results)
    }

    async fn finish(self: Box<Self>) -> Result<()> {
        if self.lanes.is_empty() {
            return Ok(());
        }
        // Travellers of more than one lane: their stays follow from the
        // legs of every lane, so each lane writes them only once the lanes
        // before it have committed.
        let mut lanes_of: HashMap<Uuid, usize> = HashMap::new();
        for lane in &self.lanes {
            for t in &lane.touched {
                *lanes_of.entry(*t).or_default() += 1;
            }
        }
        let shared: HashSet<Uuid> = lanes_of
            .into_iter()
            .filter_map(|(t, n)| (n > 1).then_some(t))
            .collect();
        let mut lanes = self.lanes;
        // Each step's time, for `WARDEN_LOG=warden_store_postgres=debug`.
        let t = std::time::Instant::now();
        futures_util::future::try_join_all(lanes.iter_mut().enumerate().map(|(i, lane)| {
            let own: HashSet<Uuid> = lane.touched.difference(&shared).copied().collect();
            async move {
                let t = std::time::Instant::now();
                write_deferred_stays(&mut lane.tx, &own).await?;
                tracing::debug!(
                    lane = i,
                    seconds = t.elapsed().as_secs_f64(),
                    travellers = own.len(),
                    "whole load: a lane's stays written"
                );
                Ok::<(), StoreError>(())
            }
        }))
        .await?;
        tracing::debug!(
            seconds = t.elapsed().as_secs_f64(),
            travellers = lanes.iter().map(|l| l.touched.len()).sum::<usize>(),
            shared = shared.len(),
            legs = ?self.plan.load,
            "whole load: stays written"
        );
        let t = std::time::Instant::now();
        for mut lane in lanes {
            let mine: HashSet<Uuid> = lane.touched.intersection(&shared).copied().collect();
            write_deferred_stays(&mut lane.tx, &mine).await?;
            for detail in lane.audit {
                audit_batch(&mut lane.tx, &self.audit, self.agency, detail).await?;
            }
            lane.tx.commit().await.map_err(be)?;
        }
        tracing::debug!(seconds = t.elapsed().as_secs_f64(), "whole load: committed");
        Ok(())
    }
}

impl Lane {
    /// Applies a lane's part of a batch under a savepoint.
    async fn apply(
        &mut self,
        tas: Vec<&TravelAuthorisation>,
        agency: Uuid,
        submitted_by: Uuid,
        audit: &AuditContext,
    ) -> Result<Vec<TaResult>> {
        if tas.is_empty() {
            return Ok(vec![]);
        }
        for _ in 0..TA_ATTEMPTS {
            let mut sp = sqlx::Connection::begin(&mut *self.tx).await.map_err(be)?;
            let mut touched = vec![];
            match apply_in(&mut sp, agency, submitted_by, &tas, audit, &mut touched).await {
                Ok(r) => {
                    sp.commit().await.map_err(be)?;
                    self.touched.extend(touched);
                    self.audit.extend(audit_detail(&r));
                    return Ok(r);
                }
                Err(TaFailure::Failed(e)) => return Err(e),
                Err(TaFailure::Raced) => sp.rollback().await.map_err(be)?,
            }
        }
        Err(raced())
    }
}

/// Writes the stays of `travellers` while the presence triggers stand aside
/// (migration 0012; they stand aside until the transaction ends, and
/// nothing after this writes legs or stays). A traveller's stays follow from their live legs alone, so
/// they are written whole: the travellers' rows are locked first (in id
/// order, as the triggers lock them: a concurrent write to one of them
/// waits for this load's commit and then recomputes from it), their stays
/// deleted, and every live leg of theirs written with the next departure
/// among them as its end. Each statement reads a fresh snapshot, so the
/// legs another transaction committed for them meanwhile are included.
async fn write_deferred_stays(tx: &mut Tx<'_>, travellers: &HashSet<Uuid>) -> Result<()> {
    if travellers.is_empty() {
        return Ok(());
    }
    let mut ids: Vec<Uuid> = travellers.iter().copied().collect();
    ids.sort_unstable();
    // The sort of every stay of a first load stays in memory.
    sqlx::query("SET LOCAL work_mem = '256MB'")
        .execute(&mut **tx)
        .await
        .map_err(be)?;
    for sql in [
        "SELECT 1 FROM users WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
        "DELETE FROM presence_legs WHERE traveller_id = ANY($1)",
        // A stay ends at the first departure after its own: the first
        // row of the frame that follows the legs departing with it. The
        // window's sort hands the rows over in the order of the primary
        // key's first two columns, near enough to its order for the index
        // (a sort by all five costs more than it saves).
        "INSERT INTO presence_legs (traveller_id, depart, arrive, seq, request_id, area_code, until)
         SELECT tr.traveller_id, l.depart, l.arrive, l.seq, l.request_id, l.area_code,
                first_value(l.depart) OVER (PARTITION BY tr.traveller_id ORDER BY l.depart
                    RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING EXCLUDE GROUP)
           FROM legs l JOIN travel_requests tr ON tr.id = l.request_id
          WHERE tr.traveller_id = ANY($1) AND l.status NOT IN ('cancelled', 'denied')",
    ] {
        sqlx::query(sql)
            .bind(&ids)
            .execute(&mut **tx)
            .await
            .map_err(be)?;
    }
    Ok(())
}

/// Applies a batch of TAs in `tx` (a transaction or a savepoint), and adds
/// to `touched` the travellers whose legs it wrote (for an updated TA,
/// also the one it had before).
async fn apply_in(
    tx: &mut Tx<'_>,
    agency: Uuid,
    submitted_by: Uuid,
    tas: &[&TravelAuthorisation],
    audit: &AuditContext,
    touched: &mut Vec<Uuid>,
) -> std::result::Result<Vec<TaResult>, TaFailure> {
    let now = audit.at;
    // The areas of the batch, share-locked in code order (as a submission
    // does), then their modes read by a later statement, which sees a
    // mode change committed while this one waited.
    let codes: Vec<String> = tas
        .iter()
        .flat_map(|t| t.legs.iter().map(|l| l.area.as_str().to_string()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    sqlx::query(
        "SELECT code FROM areas WHERE code = ANY($1) ORDER BY code COLLATE \"C\" FOR SHARE",
    )
    .bind(&codes)
    .fetch_all(&mut **tx)
    .await
    .map_err(be)?;
    let mut modes: HashMap<String, ProcessingMode> = HashMap::new();
    for r in sqlx::query("SELECT area_code, mode FROM area_modes WHERE area_code = ANY($1)")
        .bind(&codes)
        .fetch_all(&mut **tx)
        .await
        .map_err(be)?
    {
        modes.insert(
            col(&r, "area_code")?,
            ProcessingMode::parse(&col::<String>(&r, "mode")?).map_err(bad)?,
        );
    }
    let mode_of = |a: &warden_domain::AreaCode| {
        modes
            .get(a.as_str())
            .copied()
            .unwrap_or(ProcessingMode::Automatic)
    };

    // Stored TAs of the batch: number → (request id, digest).
    let numbers: Vec<&str> = tas.iter().map(|t| t.ta_number.as_str()).collect();
    let mut existing: HashMap<String, (Uuid, Option<String>)> = HashMap::new();
    for r in sqlx::query(
        "SELECT id, ta_number, ta_digest FROM travel_requests WHERE agency_id = $1 AND ta_number = ANY($2)",
    )
    .bind(agency)
    .bind(&numbers)
    .fetch_all(&mut **tx)
    .await
    .map_err(be)?
    {
        existing.insert(col(&r, "ta_number")?, (col(&r, "id")?, col(&r, "ta_digest")?));
    }
    let digests: Vec<String> = tas.iter().map(|t| ta_digest(t)).collect();
    // Per TA, whether it is stored with the same content.
    let unchanged: Vec<bool> = tas
        .iter()
        .zip(&digests)
        .map(|(t, d)| {
            matches!(existing.get(&t.ta_number), Some((_, Some(old))) if ta_digest_same(old, d, t))
        })
        .collect();
    let changed: Vec<Uuid> = tas
        .iter()
        .zip(&unchanged)
        .filter(|(_, same)| !**same)
        .filter_map(|(t, _)| existing.get(&t.ta_number).map(|(id, _)| *id))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();

    // The legs of the TAs that changed, locked (a decision in flight is
    // waited for, and kept), then their request rows, with the travellers
    // they had.
    let mut old_legs: HashMap<Uuid, Vec<OldLeg>> = HashMap::new();
    let mut traveller_of: HashMap<Uuid, Uuid> = HashMap::new();
    if !changed.is_empty() {
        for r in sqlx::query(
                "SELECT request_id, seq, origin, destination, area_code, depart, arrive, kind, status, \
                 decided_by, decided_at, grounds, comment, answer, answered_at FROM legs \
                 WHERE request_id = ANY($1) ORDER BY request_id, seq FOR UPDATE",
            )
            .bind(&changed)
            .fetch_all(&mut **tx)
            .await
            .map_err(be)?
            {
                old_legs
                    .entry(col(&r, "request_id")?)
                    .or_default()
                    .push(OldLeg::of(&r)?);
            }
        // A fresh statement sees what a concurrent batch committed: if
        // one of these TAs changed since it was read, the legs above may
        // be stale, so start again.
        let locked = sqlx::query(
            "SELECT id, ta_digest, traveller_id FROM travel_requests WHERE id = ANY($1) ORDER BY id FOR UPDATE",
        )
        .bind(&changed)
        .fetch_all(&mut **tx)
        .await
        .map_err(be)?;
        let before: HashMap<Uuid, &Option<String>> =
            existing.values().map(|(id, d)| (*id, d)).collect();
        for r in &locked {
            let id: Uuid = col(r, "id")?;
            let d: Option<String> = col(r, "ta_digest")?;
            if before.get(&id).is_none_or(|b| **b != d) {
                return Err(TaFailure::Raced);
            }
            traveller_of.insert(id, col(r, "traveller_id")?);
        }
        if locked.len() != changed.len() {
            return Err(TaFailure::Raced);
        }
    }

    let mut results = Vec::with_capacity(tas.len());
    let mut legs = LegColumns::default();
    // The legs of new requests: no earlier row, no decision to keep.
    let mut fresh = LegColumns::default();
    // Requests to create, and to update.
    let mut new_req: Vec<(Uuid, &TravelAuthorisation, &str)> = vec![];
    let mut upd_req: Vec<(Uuid, &TravelAuthorisation, &str)> = vec![];
    for ((t, digest), same) in tas.iter().zip(&digests).zip(unchanged) {
        match existing.get(&t.ta_number) {
            Some((id, _)) if same => results.push(TaResult {
                ta_number: t.ta_number.clone(),
                request: *id,
                outcome: TaOutcome::Unchanged,
            }),
            Some((id, _)) => {
                let old = old_legs.get(id).map(Vec::as_slice).unwrap_or_default();
                for (i, l) in t.legs.iter().enumerate() {
                    let prev = old.get(i).filter(|o| o.same_as(l));
                    let mode = mode_of(&l.area);
                    let seq = i as i32 + 1;
                    if t.cancelled {
                        let kind = prev
                            .map(|p| p.kind.as_str())
                            .unwrap_or(mode.leg_kind().as_str());
                        legs.push(
                            *id,
                            seq,
                            l,
                            kind,
                            LegStatus::Cancelled.as_str(),
                            prev.map(|p| &p.kept),
                        )?;
                    } else if let Some(p) = prev {
                        legs.push(*id, seq, l, &p.kind, &p.status, Some(&p.kept))?;
                    } else {
                        legs.push(
                            *id,
                            seq,
                            l,
                            mode.leg_kind().as_str(),
                            LegStatus::initial(mode).as_str(),
                            None,
                        )?;
                    }
                }
                upd_req.push((*id, t, digest));
                touched.push(t.traveller);
                touched.extend(traveller_of.get(id).copied());
                results.push(TaResult {
                    ta_number: t.ta_number.clone(),
                    request: *id,
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
                    fresh.push(
                        id,
                        i as i32 + 1,
                        l,
                        mode.leg_kind().as_str(),
                        status.as_str(),
                        None,
                    )?;
                }
                new_req.push((id, t, digest));
                touched.push(t.traveller);
                results.push(TaResult {
                    ta_number: t.ta_number.clone(),
                    request: id,
                    outcome: if t.cancelled {
                        TaOutcome::Cancelled
                    } else {
                        TaOutcome::Created
                    },
                });
            }
        }
    }
    if !upd_req.is_empty() {
        let ids: Vec<Uuid> = upd_req.iter().map(|(id, _, _)| *id).collect();
        // Legs beyond the TA's new itinerary go; the others are
        // rewritten in place below.
        let counts: Vec<i32> = upd_req
            .iter()
            .map(|(_, t, _)| t.legs.len() as i32)
            .collect();
        sqlx::query(
            "DELETE FROM legs l USING UNNEST($1::uuid[], $2::int4[]) AS x(request_id, n) \
                 WHERE l.request_id = x.request_id AND l.seq > x.n",
        )
        .bind(&ids)
        .bind(&counts)
        .execute(&mut **tx)
        .await
        .map_err(be)?;
        let travellers: Vec<Uuid> = upd_req.iter().map(|(_, t, _)| t.traveller).collect();
        let purposes: Vec<&str> = upd_req.iter().map(|(_, t, _)| t.purpose.as_str()).collect();
        let digests: Vec<&str> = upd_req.iter().map(|(_, _, d)| *d).collect();
        sqlx::query(
                "UPDATE travel_requests r SET traveller_id = x.traveller_id, purpose = x.purpose, \
                 ta_digest = x.digest, updated_at = $5 \
                 FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[]) AS x(id, traveller_id, purpose, digest) \
                 WHERE r.id = x.id",
            )
            .bind(&ids)
            .bind(&travellers)
            .bind(&purposes)
            .bind(&digests)
            .bind(now)
            .execute(&mut **tx)
            .await
            .map_err(be)?;
    }
    if !new_req.is_empty() {
        let ids: Vec<Uuid> = new_req.iter().map(|(id, _, _)| *id).collect();
        let travellers: Vec<Uuid> = new_req.iter().map(|(_, t, _)| t.traveller).collect();
        let purposes: Vec<&str> = new_req.iter().map(|(_, t, _)| t.purpose.as_str()).collect();
        let numbers: Vec<&str> = new_req
            .iter()
            .map(|(_, t, _)| t.ta_number.as_str())
            .collect();
        let digests: Vec<&str> = new_req.iter().map(|(_, _, d)| *d).collect();
        let inserted = sqlx::query(
                "INSERT INTO travel_requests (id, traveller_id, submitted_by, purpose, ta_number, agency_id, ta_digest, \
                 created_at, updated_at) \
                 SELECT x.id, x.traveller_id, $6, x.purpose, x.ta_number, $7, x.digest, $8, $8 \
                 FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[]) \
                 AS x(id, traveller_id, purpose, ta_number, digest)",
            )
            .bind(&ids)
            .bind(&travellers)
            .bind(&purposes)
            .bind(&numbers)
            .bind(&digests)
            .bind(submitted_by)
            .bind(agency)
            .bind(now)
            .execute(&mut **tx)
            .await;
        match inserted {
            // A concurrent batch created one of these TAs first: this
            // batch now updates it instead.
            Err(e) if ta_index_violation(&e) => return Err(TaFailure::Raced),
            Err(e) => return Err(be(e).into()),
            Ok(_) => {}
        }
    }
    fresh.insert(tx).await?;
    legs.upsert(tx).await?;
    Ok(results)
}

/// The audit entry of a batch's results, as JSON text: the TAs it
/// changed, with what became of each, and how many were unchanged; none if
/// nothing changed.
fn audit_detail(results: &[TaResult]) -> Option<String> {
    let changed: Vec<serde_json::Value> = results
        .iter()
        .filter(|r| r.outcome != TaOutcome::Unchanged)
        .map(|r| json!([r.ta_number, r.outcome.as_str()]))
        .collect();
    let unchanged = results.len() - changed.len();
    (!changed.is_empty()).then(|| json!({"changed": changed, "unchanged": unchanged}).to_string())
}

async fn audit_batch(
    tx: &mut Tx<'_>,
    audit: &AuditContext,
    agency: Uuid,
    detail: String,
) -> Result<()> {
    audit_text_tx(
        tx,
        audit,
        "travel_authorisations.apply",
        &format!("agency:{agency}"),
        detail,
    )
    .await
}
