//! Partner systems on PostgreSQL: the registry, their headcount reports
//! (idempotent on partner, area and moment, settled by the unique key even
//! between concurrent submissions), the CAP messages published to them and
//! the push outbox.

use crate::rows::{be, col, json_col};
use crate::write::{audit_tx, Tx};
use crate::PgStore;
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use uuid::Uuid;
use warden_domain::{AreaCode, CountryCode};
use warden_store::*;

fn bad(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

const PARTNER_SELECT: &str = "SELECT p.id, p.code, p.name, p.agency_id, a.code AS agency_code, \
    p.push_url, p.created_at, p.revoked_at FROM partners p JOIN agencies a ON a.id = p.agency_id";

fn partner_row(r: &PgRow) -> Result<Partner> {
    Ok(Partner {
        id: col(r, "id")?,
        code: col(r, "code")?,
        name: col(r, "name")?,
        agency: col(r, "agency_id")?,
        agency_code: col(r, "agency_code")?,
        push_url: col(r, "push_url")?,
        created_at: col(r, "created_at")?,
        revoked_at: col(r, "revoked_at")?,
    })
}

const MESSAGE_COLS: &str =
    "m.id, m.kind, m.country, m.version, m.roll_call_id, m.headline, m.created_at";

fn message_row(r: &PgRow) -> Result<CapMessage> {
    let subject = match col::<&str>(r, "kind")? {
        "advisory" => CapSubject::Advisory {
            country: CountryCode::parse(col::<Option<&str>>(r, "country")?.unwrap_or(""))
                .map_err(bad)?,
            version: col::<Option<i64>>(r, "version")?
                .ok_or_else(|| bad("advisory message without a version"))?,
        },
        "rollcall" => CapSubject::RollCall {
            id: col::<Option<Uuid>>(r, "roll_call_id")?
                .ok_or_else(|| bad("roll-call message without a roll call"))?,
        },
        k => return Err(bad(format!("unknown CAP message kind {k:?}"))),
    };
    Ok(CapMessage {
        id: col(r, "id")?,
        subject,
        headline: col(r, "headline")?,
        created_at: col(r, "created_at")?,
    })
}

/// Publishes a CAP message to partners inside `tx` (the transaction of what
/// it announces): the message, and a push for every partner not revoked
/// that has a push URL.
pub(crate) async fn queue_cap_tx(
    tx: &mut Tx<'_>,
    subject: &CapSubject,
    headline: &str,
    at: &DateTime<Utc>,
) -> Result<Uuid> {
    let id = Uuid::now_v7();
    let (country, version, rc) = match subject {
        CapSubject::Advisory { country, version } => {
            (Some(country.as_str().to_string()), Some(*version), None)
        }
        CapSubject::RollCall { id } => (None, None, Some(*id)),
    };
    sqlx::query(
        "INSERT INTO cap_messages (id, kind, country, version, roll_call_id, headline, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(subject.kind())
    .bind(country)
    .bind(version)
    .bind(rc)
    .bind(headline)
    .bind(at)
    .execute(&mut **tx)
    .await
    .map_err(be)?;
    sqlx::query(&format!(
        "INSERT INTO partner_deliveries (id, message_id, partner_id, created_at) \
         SELECT {}, $1, p.id, $2 FROM partners p WHERE p.revoked_at IS NULL AND p.push_url IS NOT NULL",
        crate::notify::SQL_UUID_V7
    ))
    .bind(id)
    .bind(at)
    .execute(&mut **tx)
    .await
    .map_err(be)?;
    Ok(id)
}

impl PgStore {
    pub(crate) async fn partner_create(
        &self,
        p: &NewPartner,
        audit: &AuditContext,
    ) -> Result<Partner> {
        let mut tx = self.pool.begin().await.map_err(be)?;
        let agency = sqlx::query("SELECT 1 FROM agencies WHERE id = $1")
            .bind(p.agency)
            .fetch_optional(&mut *tx)
            .await
            .map_err(be)?;
        if agency.is_none() {
            return Err(StoreError::Invalid {
                field: "agency".into(),
                message: format!("no agency {}", p.agency),
            });
        }
        let id = Uuid::now_v7();
        let inserted = sqlx::query(
            "INSERT INTO partners (id, code, name, agency_id, push_url, token_digest, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (code) DO NOTHING",
        )
        .bind(id)
        .bind(&p.code)
        .bind(&p.name)
        .bind(p.agency)
        .bind(&p.push_url)
        .bind(&p.token_digest)
        .bind(audit.at)
        .execute(&mut *tx)
        .await
        .map_err(be)?
        .rows_affected();
        if inserted == 0 {
            return Err(StoreError::Conflict(format!(
                "a partner with code {} exists",
                p.code
            )));
        }
        audit_tx(
            &mut tx,
            audit,
            "partner.create",
            &format!("partner:{}", p.code),
            json!({"name": p.name, "agency": p.agency, "push_url": p.push_url}),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        self.partner_get(&p.code)
            .await?
            .ok_or_else(|| bad("partner vanished"))
    }

    pub(crate) async fn partner_list(&self) -> Result<Vec<Partner>> {
        sqlx::query(&format!("{PARTNER_SELECT} ORDER BY p.code COLLATE \"C\""))
            .fetch_all(&self.pool)
            .await
            .map_err(be)?
            .iter()
            .map(partner_row)
            .collect()
    }

    pub(crate) async fn partner_get(&self, code: &str) -> Result<Option<Partner>> {
        self.partner_where("p.code", code).await
    }

    pub(crate) async fn partner_by_digest(&self, digest: &str) -> Result<Option<Partner>> {
        self.partner_where("p.token_digest", digest).await
    }

    /// The partner whose `column` (a unique one) holds `value`.
    async fn partner_where(&self, column: &str, value: &str) -> Result<Option<Partner>> {
        sqlx::query(&format!("{PARTNER_SELECT} WHERE {column} = $1"))
            .bind(value)
            .fetch_optional(&self.pool)
            .await
            .map_err(be)?
            .as_ref()
            .map(partner_row)
            .transpose()
    }

    pub(crate) async fn partner_revoke(&self, code: &str, audit: &AuditContext) -> Result<Partner> {
        let mut tx = self.pool.begin().await.map_err(be)?;
        let row = sqlx::query("SELECT id, revoked_at FROM partners WHERE code = $1 FOR UPDATE")
            .bind(code)
            .fetch_optional(&mut *tx)
            .await
            .map_err(be)?
            .ok_or_else(|| StoreError::NotFound(format!("partner {code}")))?;
        let id: Uuid = col(&row, "id")?;
        if col::<Option<DateTime<Utc>>>(&row, "revoked_at")?.is_some() {
            return Err(StoreError::Conflict(format!(
                "partner {code} is already revoked"
            )));
        }
        sqlx::query("UPDATE partners SET revoked_at = $1 WHERE id = $2")
            .bind(audit.at)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(be)?;
        let cancelled = sqlx::query(
            "UPDATE partner_deliveries SET state = 'cancelled', error = 'partner revoked' \
             WHERE partner_id = $1 AND state IN ('pending', 'sending')",
        )
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(be)?
        .rows_affected();
        audit_tx(
            &mut tx,
            audit,
            "partner.revoke",
            &format!("partner:{code}"),
            json!({"cancelled_pushes": cancelled}),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        self.partner_get(code)
            .await?
            .ok_or_else(|| bad("partner vanished"))
    }

    pub(crate) async fn partner_submit(
        &self,
        partner: Uuid,
        reports: &[PartnerHeadcountInput],
        audit: &AuditContext,
    ) -> Result<Vec<PartnerReportOutcome>> {
        let mut tx = self.pool.begin().await.map_err(be)?;
        let p = sqlx::query("SELECT code, agency_id, revoked_at FROM partners WHERE id = $1")
            .bind(partner)
            .fetch_optional(&mut *tx)
            .await
            .map_err(be)?
            .ok_or_else(|| StoreError::NotFound(format!("partner {partner}")))?;
        let code: String = col(&p, "code")?;
        if col::<Option<DateTime<Utc>>>(&p, "revoked_at")?.is_some() {
            return Err(StoreError::Conflict(format!("partner {code} is revoked")));
        }
        let agency: Uuid = col(&p, "agency_id")?;
        let mut out = Vec::with_capacity(reports.len());
        let mut created = vec![];
        for (i, r) in reports.iter().enumerate() {
            let area = sqlx::query("SELECT 1 FROM areas WHERE code = $1")
                .bind(r.area.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(be)?;
            if area.is_none() {
                return Err(StoreError::Invalid {
                    field: format!("reports[{i}].area"),
                    message: format!("no area {}", r.area),
                });
            }
            let fp = r.fingerprint();
            let rc = r.roll_call;
            // A concurrent submission of the same key waits here for the
            // other transaction, then finds its row below.
            let inserted = sqlx::query(
                "INSERT INTO partner_headcounts (id, partner_id, agency_id, area_code, as_of, received_at, \
                 total, counts, accounted, needs_help, no_answer, reference, fingerprint) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (partner_id, area_code, as_of) DO NOTHING",
            )
            .bind(Uuid::now_v7())
            .bind(partner)
            .bind(agency)
            .bind(r.area.as_str())
            .bind(r.as_of)
            .bind(audit.at)
            .bind(r.total)
            .bind(Json(&r.counts))
            .bind(rc.map(|f| f.accounted))
            .bind(rc.map(|f| f.needs_help))
            .bind(rc.map(|f| f.no_answer))
            .bind(&r.reference)
            .bind(&fp)
            .execute(&mut *tx)
            .await
            .map_err(be)?
            .rows_affected();
            if inserted == 1 {
                created.push(json!({"area": r.area.as_str(), "as_of": r.as_of, "total": r.total}));
                out.push(PartnerReportOutcome::Created);
                continue;
            }
            let existing: String = sqlx::query(
                "SELECT fingerprint FROM partner_headcounts WHERE partner_id = $1 AND area_code = $2 AND as_of = $3",
            )
            .bind(partner)
            .bind(r.area.as_str())
            .bind(r.as_of)
            .fetch_one(&mut *tx)
            .await
            .map_err(be)
            .and_then(|row| col(&row, "fingerprint"))?;
            if existing == fp {
                out.push(PartnerReportOutcome::Unchanged);
            } else {
                return Err(StoreError::Conflict(format!(
                    "reports[{i}]: a different report of {} for {} as of {} was received before",
                    code,
                    r.area,
                    r.as_of.to_rfc3339()
                )));
            }
        }
        if created.is_empty() {
            // Everything was received before: nothing to write.
            tx.rollback().await.map_err(be)?;
            return Ok(out);
        }
        audit_tx(
            &mut tx,
            audit,
            "partner.headcount",
            &format!("partner:{code}"),
            json!({"created": created, "unchanged": reports.len() - created.len()}),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        Ok(out)
    }

    pub(crate) async fn partner_figures(
        &self,
        areas: &[AreaCode],
        from: Option<DateTime<Utc>>,
        to: DateTime<Utc>,
    ) -> Result<Vec<PartnerHeadcount>> {
        if areas.is_empty() {
            return Ok(vec![]);
        }
        let codes: Vec<String> = areas.iter().map(|a| a.as_str().to_string()).collect();
        let rows = sqlx::query(
            "SELECT DISTINCT ON (h.area_code, h.agency_id) h.*, p.code AS partner_code, ag.code AS agency_code \
             FROM partner_headcounts h JOIN partners p ON p.id = h.partner_id \
             JOIN agencies ag ON ag.id = h.agency_id \
             WHERE h.area_code = ANY($1) AND ($2::timestamptz IS NULL OR h.as_of >= $2) AND h.as_of <= $3 \
             ORDER BY h.area_code, h.agency_id, h.as_of DESC, h.received_at DESC, h.id DESC",
        )
        .bind(&codes)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await
        .map_err(be)?;
        let mut out = rows
            .iter()
            .map(|r| {
                let rc = match (
                    col::<Option<i64>>(r, "accounted")?,
                    col::<Option<i64>>(r, "needs_help")?,
                    col::<Option<i64>>(r, "no_answer")?,
                ) {
                    (Some(accounted), Some(needs_help), Some(no_answer)) => {
                        Some(PartnerRollCallFigures {
                            accounted,
                            needs_help,
                            no_answer,
                        })
                    }
                    _ => None,
                };
                Ok(PartnerHeadcount {
                    id: col(r, "id")?,
                    partner: col(r, "partner_id")?,
                    partner_code: col(r, "partner_code")?,
                    agency: col(r, "agency_id")?,
                    agency_code: col(r, "agency_code")?,
                    area: AreaCode::parse(col::<&str>(r, "area_code")?).map_err(bad)?,
                    as_of: col(r, "as_of")?,
                    received_at: col(r, "received_at")?,
                    total: col(r, "total")?,
                    counts: json_col(r, "counts")?,
                    roll_call: rc,
                    reference: col(r, "reference")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // By area, then agency code (byte order, as on SQLite).
        out.sort_by(|a, b| {
            (a.area.as_str(), a.agency_code.as_bytes())
                .cmp(&(b.area.as_str(), b.agency_code.as_bytes()))
        });
        Ok(out)
    }

    pub(crate) async fn partner_messages(&self, limit: i64) -> Result<Vec<CapMessage>> {
        sqlx::query(&format!(
            "SELECT {MESSAGE_COLS} FROM cap_messages m ORDER BY m.created_at DESC, m.id DESC LIMIT $1"
        ))
        .bind(limit.clamp(0, 1000))
        .fetch_all(&self.pool)
        .await
        .map_err(be)?
        .iter()
        .map(message_row)
        .collect()
    }

    pub(crate) async fn partner_message(&self, id: Uuid) -> Result<Option<CapMessage>> {
        sqlx::query(&format!(
            "SELECT {MESSAGE_COLS} FROM cap_messages m WHERE m.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(be)?
        .as_ref()
        .map(message_row)
        .transpose()
    }

    pub(crate) async fn partner_claim(
        &self,
        limit: i64,
        now: DateTime<Utc>,
    ) -> Result<Vec<PartnerDelivery>> {
        // SKIP LOCKED: a row another instance is claiming is left to it.
        let rows = sqlx::query(&format!(
            "WITH claimed AS ( \
               UPDATE partner_deliveries SET state = 'sending', send_after = $1, attempts = attempts + 1 \
               WHERE id IN (SELECT d.id FROM partner_deliveries d JOIN partners p ON p.id = d.partner_id \
                   WHERE d.state IN ('pending', 'sending') AND (d.send_after IS NULL OR d.send_after <= $2) \
                   AND p.revoked_at IS NULL AND p.push_url IS NOT NULL \
                   ORDER BY d.created_at, d.id LIMIT $3 FOR UPDATE OF d SKIP LOCKED) \
               RETURNING id, message_id, partner_id, attempts, created_at) \
             SELECT c.id AS delivery_id, c.attempts, c.partner_id, c.created_at AS queued_at, \
                    p.code AS partner_code, p.push_url, {MESSAGE_COLS} \
             FROM claimed c JOIN partners p ON p.id = c.partner_id JOIN cap_messages m ON m.id = c.message_id \
             ORDER BY c.created_at, c.id"
        ))
        .bind(now + chrono::Duration::minutes(PARTNER_PUSH_LEASE_MINUTES))
        .bind(now)
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await
        .map_err(be)?;
        rows.iter()
            .map(|r| {
                Ok(PartnerDelivery {
                    id: col(r, "delivery_id")?,
                    partner: col(r, "partner_id")?,
                    partner_code: col(r, "partner_code")?,
                    url: col::<Option<String>>(r, "push_url")?.unwrap_or_default(),
                    message: message_row(r)?,
                    attempts: col(r, "attempts")?,
                })
            })
            .collect()
    }

    pub(crate) async fn partner_finish(
        &self,
        id: Uuid,
        outcome: std::result::Result<u16, (Option<u16>, String)>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(be)?;
        match outcome {
            Ok(status) => {
                sqlx::query(
                    "UPDATE partner_deliveries SET state = 'sent', sent_at = $1, http_status = $2, error = NULL \
                     WHERE id = $3 AND state = 'sending'",
                )
                .bind(now)
                .bind(status as i32)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(be)?;
            }
            Err((status, e)) => {
                let Some(row) = sqlx::query(
                    "SELECT attempts FROM partner_deliveries WHERE id = $1 AND state = 'sending' FOR UPDATE",
                )
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(be)?
                else {
                    // Cancelled (partner revoked) or finished meanwhile.
                    return Ok(());
                };
                let attempts: i32 = col(&row, "attempts")?;
                let (state, after) = if attempts >= PARTNER_PUSH_MAX_ATTEMPTS {
                    ("failed", None)
                } else {
                    ("pending", Some(now + partner_push_backoff(attempts)))
                };
                sqlx::query(
                    "UPDATE partner_deliveries SET state = $1, send_after = $2, http_status = $3, error = $4 WHERE id = $5",
                )
                .bind(state)
                .bind(after)
                .bind(status.map(|s| s as i32))
                .bind(e.chars().take(500).collect::<String>())
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(be)?;
            }
        }
        tx.commit().await.map_err(be)
    }

    pub(crate) async fn partner_delivery_records(
        &self,
        message: Uuid,
    ) -> Result<Vec<DeliveryRecord>> {
        sqlx::query(
            "SELECT d.*, p.code AS partner_code FROM partner_deliveries d \
             JOIN partners p ON p.id = d.partner_id WHERE d.message_id = $1 ORDER BY p.code COLLATE \"C\"",
        )
        .bind(message)
        .fetch_all(&self.pool)
        .await
        .map_err(be)?
        .iter()
        .map(|r| {
            Ok(DeliveryRecord {
                id: col(r, "id")?,
                message: col(r, "message_id")?,
                partner: col(r, "partner_id")?,
                partner_code: col(r, "partner_code")?,
                state: col(r, "state")?,
                attempts: col(r, "attempts")?,
                send_after: col(r, "send_after")?,
                http_status: col(r, "http_status")?,
                error: col(r, "error")?,
                sent_at: col(r, "sent_at")?,
            })
        })
        .collect()
    }
}
