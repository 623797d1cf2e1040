//! Partner systems on SQLite: the registry, their headcount reports
//! (idempotent on partner, area and moment), the CAP messages published to
//! them and the push outbox.

use crate::{audit_tx, be, opt_ts, parse_ts, ts, uuid, SqliteStore};
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};
use uuid::Uuid;
use warden_domain::{AreaCode, CountryCode};
use warden_store::*;

fn bad(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

const PARTNER_SELECT: &str = "SELECT p.id, p.code, p.name, p.agency_id, a.code AS agency_code, \
    p.push_url, p.created_at, p.revoked_at FROM partners p JOIN agencies a ON a.id = p.agency_id";

fn partner_row(r: &SqliteRow) -> Result<Partner> {
    Ok(Partner {
        id: uuid(r.get("id"))?,
        code: r.get("code"),
        name: r.get("name"),
        agency: uuid(r.get("agency_id"))?,
        agency_code: r.get("agency_code"),
        push_url: r.get("push_url"),
        created_at: parse_ts(r.get("created_at"))?,
        revoked_at: opt_ts(r.get("revoked_at"))?,
    })
}

const MESSAGE_COLS: &str =
    "m.id, m.kind, m.country, m.version, m.roll_call_id, m.headline, m.created_at";

fn message_row(r: &SqliteRow) -> Result<CapMessage> {
    let subject = match r.get::<&str, _>("kind") {
        "advisory" => CapSubject::Advisory {
            country: CountryCode::parse(r.get::<Option<&str>, _>("country").unwrap_or(""))
                .map_err(bad)?,
            version: r
                .get::<Option<i64>, _>("version")
                .ok_or_else(|| bad("advisory message without a version"))?,
        },
        "rollcall" => CapSubject::RollCall {
            id: uuid(
                r.get::<Option<&str>, _>("roll_call_id")
                    .ok_or_else(|| bad("roll-call message without a roll call"))?,
            )?,
        },
        k => return Err(bad(format!("unknown CAP message kind {k:?}"))),
    };
    Ok(CapMessage {
        id: uuid(r.get("id"))?,
        subject,
        headline: r.get("headline"),
        created_at: parse_ts(r.get("created_at"))?,
    })
}

/// Publishes a CAP message to partners inside `tx` (the transaction of what
/// it announces): the message, and a push for every partner not revoked
/// that has a push URL.
pub(crate) async fn queue_cap_tx(
    tx: &mut Transaction<'_, Sqlite>,
    subject: &CapSubject,
    headline: &str,
    at: &DateTime<Utc>,
) -> Result<Uuid> {
    let id = Uuid::now_v7();
    let (country, version, rc) = match subject {
        CapSubject::Advisory { country, version } => {
            (Some(country.as_str().to_string()), Some(*version), None)
        }
        CapSubject::RollCall { id } => (None, None, Some(id.to_string())),
    };
    sqlx::query(
        "INSERT INTO cap_messages (id, kind, country, version, roll_call_id, headline, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id.to_string())
    .bind(subject.kind())
    .bind(country)
    .bind(version)
    .bind(rc)
    .bind(headline)
    .bind(ts(at))
    .execute(&mut **tx)
    .await
    .map_err(be)?;
    sqlx::query(&format!(
        "INSERT INTO partner_deliveries (id, message_id, partner_id, created_at) \
         SELECT {}, ?, p.id, ? FROM partners p WHERE p.revoked_at IS NULL AND p.push_url IS NOT NULL",
        crate::notify::SQL_UUID
    ))
    .bind(id.to_string())
    .bind(ts(at))
    .execute(&mut **tx)
    .await
    .map_err(be)?;
    Ok(id)
}

impl SqliteStore {
    pub(crate) async fn partner_create(
        &self,
        p: &NewPartner,
        audit: &AuditContext,
    ) -> Result<Partner> {
        let mut tx = self.begin().await?;
        let agency = sqlx::query("SELECT 1 FROM agencies WHERE id = ?")
            .bind(p.agency.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(be)?;
        if agency.is_none() {
            return Err(StoreError::Invalid {
                field: "agency".into(),
                message: format!("no agency {}", p.agency),
            });
        }
        let taken = sqlx::query("SELECT 1 FROM partners WHERE code = ?")
            .bind(&p.code)
            .fetch_optional(&mut *tx)
            .await
            .map_err(be)?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!(
                "a partner with code {} exists",
                p.code
            )));
        }
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO partners (id, code, name, agency_id, push_url, token_digest, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(&p.code)
        .bind(&p.name)
        .bind(p.agency.to_string())
        .bind(&p.push_url)
        .bind(&p.token_digest)
        .bind(ts(&audit.at))
        .execute(&mut *tx)
        .await
        .map_err(be)?;
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
        sqlx::query(&format!("{PARTNER_SELECT} ORDER BY p.code"))
            .fetch_all(&self.reader)
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
        sqlx::query(&format!("{PARTNER_SELECT} WHERE {column} = ?"))
            .bind(value)
            .fetch_optional(&self.reader)
            .await
            .map_err(be)?
            .as_ref()
            .map(partner_row)
            .transpose()
    }

    pub(crate) async fn partner_revoke(&self, code: &str, audit: &AuditContext) -> Result<Partner> {
        let mut tx = self.begin().await?;
        let row = sqlx::query("SELECT id, revoked_at FROM partners WHERE code = ?")
            .bind(code)
            .fetch_optional(&mut *tx)
            .await
            .map_err(be)?
            .ok_or_else(|| StoreError::NotFound(format!("partner {code}")))?;
        let id: String = row.get("id");
        let changed =
            sqlx::query("UPDATE partners SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
                .bind(ts(&audit.at))
                .bind(&id)
                .execute(&mut *tx)
                .await
                .map_err(be)?
                .rows_affected();
        if changed == 0 {
            return Err(StoreError::Conflict(format!(
                "partner {code} is already revoked"
            )));
        }
        let cancelled = sqlx::query(
            "UPDATE partner_deliveries SET state = 'cancelled', error = 'partner revoked' \
             WHERE partner_id = ? AND state IN ('pending', 'sending')",
        )
        .bind(&id)
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
        let mut tx = self.begin().await?;
        let p = sqlx::query("SELECT code, agency_id, revoked_at FROM partners WHERE id = ?")
            .bind(partner.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(be)?
            .ok_or_else(|| StoreError::NotFound(format!("partner {partner}")))?;
        if p.get::<Option<String>, _>("revoked_at").is_some() {
            return Err(StoreError::Conflict(format!(
                "partner {} is revoked",
                p.get::<String, _>("code")
            )));
        }
        let code: String = p.get("code");
        let agency: String = p.get("agency_id");
        let mut out = Vec::with_capacity(reports.len());
        let mut created = vec![];
        for (i, r) in reports.iter().enumerate() {
            let area = sqlx::query("SELECT 1 FROM areas WHERE code = ?")
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
            let existing = sqlx::query(
                "SELECT fingerprint FROM partner_headcounts WHERE partner_id = ? AND area_code = ? AND as_of = ?",
            )
            .bind(partner.to_string())
            .bind(r.area.as_str())
            .bind(ts(&r.as_of))
            .fetch_optional(&mut *tx)
            .await
            .map_err(be)?;
            match existing {
                Some(e) if e.get::<String, _>("fingerprint") == fp => {
                    out.push(PartnerReportOutcome::Unchanged);
                    continue;
                }
                Some(_) => {
                    return Err(StoreError::Conflict(format!(
                    "reports[{i}]: a different report of {} for {} as of {} was received before",
                    code,
                    r.area,
                    r.as_of.to_rfc3339()
                )))
                }
                None => {}
            }
            let rc = r.roll_call;
            sqlx::query(
                "INSERT INTO partner_headcounts (id, partner_id, agency_id, area_code, as_of, received_at, \
                 total, counts, accounted, needs_help, no_answer, reference, fingerprint) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(Uuid::now_v7().to_string())
            .bind(partner.to_string())
            .bind(&agency)
            .bind(r.area.as_str())
            .bind(ts(&r.as_of))
            .bind(ts(&audit.at))
            .bind(r.total)
            .bind(serde_json::to_string(&r.counts).map_err(bad)?)
            .bind(rc.map(|f| f.accounted))
            .bind(rc.map(|f| f.needs_help))
            .bind(rc.map(|f| f.no_answer))
            .bind(&r.reference)
            .bind(&fp)
            .execute(&mut *tx)
            .await
            .map_err(be)?;
            created.push(json!({"area": r.area.as_str(), "as_of": r.as_of, "total": r.total}));
            out.push(PartnerReportOutcome::Created);
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
        let codes: Vec<&str> = areas.iter().map(|a| a.as_str()).collect();
        let rows = sqlx::query(
            "SELECT h.*, p.code AS partner_code, ag.code AS agency_code FROM ( \
               SELECT h.*, ROW_NUMBER() OVER (PARTITION BY h.area_code, h.agency_id \
                 ORDER BY h.as_of DESC, h.received_at DESC, h.id DESC) AS rn \
               FROM partner_headcounts h \
               WHERE h.area_code IN (SELECT value FROM json_each(?)) \
                 AND (? IS NULL OR h.as_of >= ?) AND h.as_of <= ?) h \
             JOIN partners p ON p.id = h.partner_id JOIN agencies ag ON ag.id = h.agency_id \
             WHERE h.rn = 1 ORDER BY h.area_code, ag.code",
        )
        .bind(serde_json::to_string(&codes).map_err(bad)?)
        .bind(from.as_ref().map(ts))
        .bind(from.as_ref().map(ts))
        .bind(ts(&to))
        .fetch_all(&self.reader)
        .await
        .map_err(be)?;
        rows.iter()
            .map(|r| {
                let rc = match (
                    r.get::<Option<i64>, _>("accounted"),
                    r.get::<Option<i64>, _>("needs_help"),
                    r.get::<Option<i64>, _>("no_answer"),
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
                    id: uuid(r.get("id"))?,
                    partner: uuid(r.get("partner_id"))?,
                    partner_code: r.get("partner_code"),
                    agency: uuid(r.get("agency_id"))?,
                    agency_code: r.get("agency_code"),
                    area: AreaCode::parse(r.get("area_code")).map_err(bad)?,
                    as_of: parse_ts(r.get("as_of"))?,
                    received_at: parse_ts(r.get("received_at"))?,
                    total: r.get("total"),
                    counts: serde_json::from_str(r.get("counts")).map_err(bad)?,
                    roll_call: rc,
                    reference: r.get("reference"),
                })
            })
            .collect()
    }

    pub(crate) async fn partner_messages(&self, limit: i64) -> Result<Vec<CapMessage>> {
        sqlx::query(&format!(
            "SELECT {MESSAGE_COLS} FROM cap_messages m ORDER BY m.created_at DESC, m.id DESC LIMIT ?"
        ))
        .bind(limit.clamp(0, 1000))
        .fetch_all(&self.reader)
        .await
        .map_err(be)?
        .iter()
        .map(message_row)
        .collect()
    }

    pub(crate) async fn partner_message(&self, id: Uuid) -> Result<Option<CapMessage>> {
        sqlx::query(&format!(
            "SELECT {MESSAGE_COLS} FROM cap_messages m WHERE m.id = ?"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.reader)
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
        let mut tx = self.begin().await?;
        let claimed = sqlx::query(
            "UPDATE partner_deliveries SET state = 'sending', send_after = ?, attempts = attempts + 1 \
             WHERE id IN (SELECT d.id FROM partner_deliveries d JOIN partners p ON p.id = d.partner_id \
                 WHERE d.state IN ('pending', 'sending') AND (d.send_after IS NULL OR d.send_after <= ?) \
                 AND p.revoked_at IS NULL AND p.push_url IS NOT NULL \
                 ORDER BY d.created_at, d.id LIMIT ?) \
             RETURNING id",
        )
        .bind(ts(&(now + chrono::Duration::minutes(PARTNER_PUSH_LEASE_MINUTES))))
        .bind(ts(&now))
        .bind(limit.max(0))
        .fetch_all(&mut *tx)
        .await
        .map_err(be)?;
        let ids: Vec<String> = claimed.iter().map(|r| r.get("id")).collect();
        let rows = sqlx::query(&format!(
            "SELECT d.id AS delivery_id, d.attempts, d.partner_id, p.code AS partner_code, p.push_url, \
                    {MESSAGE_COLS} \
             FROM partner_deliveries d JOIN partners p ON p.id = d.partner_id \
             JOIN cap_messages m ON m.id = d.message_id \
             WHERE d.id IN (SELECT value FROM json_each(?)) ORDER BY d.created_at, d.id"
        ))
        .bind(serde_json::to_string(&ids).map_err(bad)?)
        .fetch_all(&mut *tx)
        .await
        .map_err(be)?;
        tx.commit().await.map_err(be)?;
        rows.iter()
            .map(|r| {
                Ok(PartnerDelivery {
                    id: uuid(r.get("delivery_id"))?,
                    partner: uuid(r.get("partner_id"))?,
                    partner_code: r.get("partner_code"),
                    url: r.get::<Option<String>, _>("push_url").unwrap_or_default(),
                    message: message_row(r)?,
                    attempts: r.get::<i64, _>("attempts") as i32,
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
        let mut tx = self.begin().await?;
        match outcome {
            Ok(status) => {
                sqlx::query(
                    "UPDATE partner_deliveries SET state = 'sent', sent_at = ?, http_status = ?, error = NULL \
                     WHERE id = ? AND state = 'sending'",
                )
                .bind(ts(&now))
                .bind(status as i64)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(be)?;
            }
            Err((status, e)) => {
                let Some(row) = sqlx::query(
                    "SELECT attempts FROM partner_deliveries WHERE id = ? AND state = 'sending'",
                )
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(be)?
                else {
                    // Cancelled (partner revoked) or finished meanwhile.
                    return Ok(());
                };
                let attempts = row.get::<i64, _>("attempts") as i32;
                let (state, after) = if attempts >= PARTNER_PUSH_MAX_ATTEMPTS {
                    ("failed", None)
                } else {
                    ("pending", Some(ts(&(now + partner_push_backoff(attempts)))))
                };
                sqlx::query(
                    "UPDATE partner_deliveries SET state = ?, send_after = ?, http_status = ?, error = ? WHERE id = ?",
                )
                .bind(state)
                .bind(after)
                .bind(status.map(|s| s as i64))
                .bind(e.chars().take(500).collect::<String>())
                .bind(id.to_string())
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
             JOIN partners p ON p.id = d.partner_id WHERE d.message_id = ? ORDER BY p.code",
        )
        .bind(message.to_string())
        .fetch_all(&self.reader)
        .await
        .map_err(be)?
        .iter()
        .map(|r| {
            Ok(DeliveryRecord {
                id: uuid(r.get("id"))?,
                message: uuid(r.get("message_id"))?,
                partner: uuid(r.get("partner_id"))?,
                partner_code: r.get("partner_code"),
                state: r.get("state"),
                attempts: r.get::<i64, _>("attempts") as i32,
                send_after: opt_ts(r.get("send_after"))?,
                http_status: r.get::<Option<i64>, _>("http_status").map(|s| s as i32),
                error: r.get("error"),
                sent_at: opt_ts(r.get("sent_at"))?,
            })
        })
        .collect()
    }
}
