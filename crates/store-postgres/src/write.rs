//! Steps shared by several writing methods, each run inside the caller's
//! transaction.
//!
//! Lock order, to keep concurrent writers free of deadlocks: an assessment
//! row, then its area row, then the advisory rows, and the audit head always
//! last (every write appends its audit entry just before committing).

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{Postgres, Row, Transaction};
use uuid::Uuid;
use warden_domain::{AssessmentStatus, RoleGrant};
use warden_store::*;

use crate::rows::{be, col, NO_AGENCY};

pub(crate) type Tx<'a> = Transaction<'a, Postgres>;

/// Appends one entry to the hash-chained audit log inside `tx`.
///
/// The single row of `audit_head` is read `FOR UPDATE`: a concurrent append
/// waits on that row lock until this transaction ends, then reads the head
/// this one left. The detail is stored as exactly the text that was hashed.
pub(crate) async fn audit_tx(
    tx: &mut Tx<'_>,
    ctx: &AuditContext,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) -> Result<()> {
    audit_text_tx(tx, ctx, action, target, detail.to_string()).await
}

/// `audit_tx` with the detail already written as JSON text (kept that way
/// by a caller that holds many entries before appending them).
pub(crate) async fn audit_text_tx(
    tx: &mut Tx<'_>,
    ctx: &AuditContext,
    action: &str,
    target: &str,
    detail: String,
) -> Result<()> {
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE")
        .fetch_optional(&mut **tx)
        .await
        .map_err(be)?
        .ok_or_else(|| {
            StoreError::Backend("audit_head row is missing; the schema is damaged".into())
        })?;
    let seq = col::<i64>(&head, "seq")? + 1;
    let prev: String = col(&head, "hash")?;
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
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(seq)
    .bind(ctx.at)
    .bind(ctx.actor)
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
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(&hash)
        .execute(&mut **tx)
        .await
        .map_err(be)?;
    Ok(())
}

/// Every id must name a catalogued measure.
pub(crate) async fn check_measures(tx: &mut Tx<'_>, ids: &[Uuid]) -> Result<()> {
    for id in ids {
        let found = sqlx::query("SELECT 1 FROM measures WHERE id = $1")
            .bind(id)
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

/// Inserts a grant unless the user already holds it.
pub(crate) async fn insert_grant(tx: &mut Tx<'_>, user: Uuid, g: &RoleGrant) -> Result<()> {
    sqlx::query(
        "INSERT INTO role_grants (user_id, role, scope, agency_id) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, role, scope, agency_id) DO NOTHING",
    )
    .bind(user)
    .bind(g.role.as_str())
    .bind(g.scope.to_text())
    .bind(g.agency.unwrap_or(NO_AGENCY))
    .execute(&mut **tx)
    .await
    .map_err(be)?;
    Ok(())
}

/// Bumps the country's advisory version and records what changed. The
/// upsert takes the advisory row's lock, so versions never repeat.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn advisory_change_tx(
    tx: &mut Tx<'_>,
    country: &str,
    area: &str,
    kind: &str,
    old: Option<i16>,
    new: Option<i16>,
    summary: &str,
    at: &DateTime<Utc>,
) -> Result<i64> {
    let version: i64 = sqlx::query(
        "INSERT INTO advisories (country, version, updated_at) VALUES ($1, 1, $2) \
         ON CONFLICT (country) DO UPDATE SET version = advisories.version + 1, updated_at = excluded.updated_at \
         RETURNING version",
    )
    .bind(country)
    .bind(at)
    .fetch_one(&mut **tx)
    .await
    .map_err(be)?
    .try_get(0)
    .map_err(be)?;
    sqlx::query(
        "INSERT INTO advisory_changes (id, country, area_code, version, kind, old_level, new_level, summary, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(Uuid::now_v7())
    .bind(country)
    .bind(area)
    .bind(version)
    .bind(kind)
    .bind(old)
    .bind(new)
    .bind(summary)
    .bind(at)
    .execute(&mut **tx)
    .await
    .map_err(be)?;
    // Published to partner systems as CAP, in the same transaction.
    crate::partners::queue_cap_tx(
        tx,
        &CapSubject::Advisory {
            country: warden_domain::CountryCode::parse(country)
                .map_err(|e| StoreError::Backend(e.to_string()))?,
            version,
        },
        summary,
        at,
    )
    .await?;
    Ok(version)
}

pub(crate) async fn upsert_advisory_area_tx(
    tx: &mut Tx<'_>,
    area: &str,
    text: &str,
    mitigation: &str,
    measures: &[Uuid],
    at: &DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO advisory_areas (area_code, text, mitigation_text, measures, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (area_code) DO UPDATE SET text = excluded.text, mitigation_text = excluded.mitigation_text, \
         measures = excluded.measures, updated_at = excluded.updated_at",
    )
    .bind(area)
    .bind(text)
    .bind(mitigation)
    .bind(Json(measures))
    .bind(at)
    .execute(&mut **tx)
    .await
    .map_err(be)?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_event(
    tx: &mut Tx<'_>,
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
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(seq)
    .bind(action)
    .bind(actor)
    .bind(from.map(|s| s.as_str()))
    .bind(to.as_str())
    .bind(reason)
    .bind(Json(smt))
    .bind(at)
    .execute(&mut **tx)
    .await
    .map_err(be)?;
    Ok(())
}
