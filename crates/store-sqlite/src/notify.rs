//! Notifications (in-app, and the e-mail outbox) and the approved-airline list
//! on SQLite.

use crate::{audit_tx, be, parse_ts, ts, uuid, SqliteStore};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::json;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};
use uuid::Uuid;
use warden_domain::people::AirlineCode;
use warden_domain::trip::ProcessingMode;
use warden_domain::AreaCode;
use warden_store::messages;
use warden_store::*;

/// A random (v4) UUID made by SQLite itself, for rows inserted by
/// `INSERT … SELECT` (one statement for any number of recipients).
pub(crate) const SQL_UUID: &str =
    "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || \
    substr(hex(randomblob(2)), 2) || '-' || substr('89AB', 1 + (abs(random()) % 4), 1) || \
    substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))";

/// Whether to e-mail a user: not without an address or when disabled.
const EMAIL_STATE: &str =
    "CASE WHEN u.email = '' OR u.disabled <> 0 THEN 'none' ELSE 'pending' END";

/// Lease on a claimed e-mail; after it the e-mail may be claimed again.
const LEASE_MINUTES: i64 = 5;
/// Attempts before an e-mail is given up as failed.
pub const MAX_EMAIL_ATTEMPTS: i64 = 5;

/// Tells travellers whose legs into `area` were just re-evaluated (legs with
/// `reevaluated_at = at`), and the area's security advisers when legs became
/// clearance requests. Returns the number of travellers' notifications.
pub(crate) async fn reevaluated_tx(
    tx: &mut Transaction<'_, Sqlite>,
    area: &AreaCode,
    mode: ProcessingMode,
    at: &str,
) -> Result<u64> {
    let area_name: String = sqlx::query("SELECT name FROM areas WHERE code = ?")
        .bind(area.as_str())
        .fetch_one(&mut **tx)
        .await
        .map_err(be)?
        .get(0);
    let (subject, body) = messages::reevaluated(area, &area_name, mode);
    let travellers = sqlx::query(&format!(
        "INSERT INTO notifications (id, user_id, kind, subject, body, link, created_at, email_state) \
         SELECT {SQL_UUID}, t.traveller_id, 'leg_reevaluated', ?, ?, '/trips/' || t.id, ?, {EMAIL_STATE} \
         FROM (SELECT DISTINCT request_id FROM legs WHERE area_code = ? AND reevaluated_at = ?) x \
         JOIN travel_requests t ON t.id = x.request_id JOIN users u ON u.id = t.traveller_id"
    ))
    .bind(&subject)
    .bind(&body)
    .bind(at)
    .bind(area.as_str())
    .bind(at)
    .execute(&mut **tx)
    .await
    .map_err(be)?
    .rows_affected();
    if travellers > 0 && mode == ProcessingMode::Manual {
        let (subject, body) = messages::clearances_added(area, travellers);
        reviewers_tx(tx, area, "clearances_added", &subject, &body, at).await?;
    }
    Ok(travellers)
}

/// A notification to every security adviser covering `area`.
pub(crate) async fn reviewers_tx(
    tx: &mut Transaction<'_, Sqlite>,
    area: &AreaCode,
    kind: &str,
    subject: &str,
    body: &str,
    at: &str,
) -> Result<u64> {
    Ok(sqlx::query(&format!(
        "INSERT INTO notifications (id, user_id, kind, subject, body, link, created_at, email_state) \
         SELECT {SQL_UUID}, u.id, ?, ?, ?, ?, ?, {EMAIL_STATE} FROM users u \
         WHERE u.disabled = 0 AND u.id IN (SELECT user_id FROM role_grants \
           WHERE role = 'security_adviser' AND scope IN ('global', ?, ?))"
    ))
    .bind(kind)
    .bind(subject)
    .bind(body)
    .bind(format!("/clearances?area={area}"))
    .bind(at)
    .bind(area.country().as_str())
    .bind(area.as_str())
    .execute(&mut **tx)
    .await
    .map_err(be)?
    .rows_affected())
}

/// Tells every traveller with a future leg into `area` (not cancelled or
/// denied) that its security level changed. Returns how many were told.
pub(crate) async fn level_changed_tx(
    tx: &mut Transaction<'_, Sqlite>,
    area: &str,
    area_name: &str,
    old: Option<i64>,
    new: i64,
    at: &str,
) -> Result<u64> {
    let (subject, body) = messages::level_changed(area, area_name, old, new);
    Ok(sqlx::query(&format!(
        "INSERT INTO notifications (id, user_id, kind, subject, body, link, created_at, email_state) \
         SELECT {SQL_UUID}, t.traveller_id, 'level_changed', ?, ?, '/trips/' || t.id, ?, {EMAIL_STATE} \
         FROM (SELECT DISTINCT request_id FROM legs WHERE area_code = ? AND depart > ? \
               AND status NOT IN ('cancelled', 'denied')) x \
         JOIN travel_requests t ON t.id = x.request_id JOIN users u ON u.id = t.traveller_id"
    ))
    .bind(&subject)
    .bind(&body)
    .bind(at)
    .bind(area)
    .bind(at)
    .execute(&mut **tx)
    .await
    .map_err(be)?
    .rows_affected())
}

/// Tells every person whose phone last reported `area` (eTA) that its
/// security level changed; device alerts, not e-mailed. Returns how many.
pub(crate) async fn level_changed_devices_tx(
    tx: &mut Transaction<'_, Sqlite>,
    area: &str,
    area_name: &str,
    old: Option<i64>,
    new: i64,
    at: &str,
) -> Result<u64> {
    let (subject, body) = messages::level_changed(area, area_name, old, new);
    Ok(sqlx::query(&format!(
        "INSERT INTO notifications (id, user_id, kind, subject, body, link, created_at, email_state) \
         SELECT {SQL_UUID}, l.user_id, 'eta.level_changed', ?, ?, '/eta', ?, 'none' \
         FROM last_locations l JOIN users u ON u.id = l.user_id WHERE l.area_code = ? AND u.disabled = 0"
    ))
    .bind(&subject)
    .bind(&body)
    .bind(at)
    .bind(area)
    .execute(&mut **tx)
    .await
    .map_err(be)?
    .rows_affected())
}

/// One notification to one user.
pub(crate) async fn notify_tx(
    tx: &mut Transaction<'_, Sqlite>,
    user: Uuid,
    kind: &str,
    subject: &str,
    body: &str,
    link: &str,
    at: &str,
) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO notifications (id, user_id, kind, subject, body, link, created_at, email_state) \
         SELECT ?, u.id, ?, ?, ?, ?, ?, {EMAIL_STATE} FROM users u WHERE u.id = ?"
    ))
    .bind(Uuid::now_v7().to_string())
    .bind(kind)
    .bind(subject)
    .bind(body)
    .bind(link)
    .bind(at)
    .bind(user.to_string())
    .execute(&mut **tx)
    .await
    .map_err(be)?;
    Ok(())
}

fn notification_row(r: &SqliteRow) -> Result<Notification> {
    Ok(Notification {
        id: uuid(r.get("id"))?,
        user: uuid(r.get("user_id"))?,
        kind: r.get("kind"),
        subject: r.get("subject"),
        body: r.get("body"),
        link: r.get("link"),
        created_at: parse_ts(r.get("created_at"))?,
        read_at: r
            .get::<Option<String>, _>("read_at")
            .as_deref()
            .map(parse_ts)
            .transpose()?,
        email_state: r.get("email_state"),
    })
}

fn month_str(m: NaiveDate) -> String {
    m.format("%Y-%m").to_string()
}

fn parse_month(s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d")
        .map_err(|e| StoreError::Backend(format!("bad month {s:?}: {e}")))
}

impl SqliteStore {
    pub(crate) async fn notifications_list(
        &self,
        user: Uuid,
        unread_only: bool,
        page: &PageRequest,
    ) -> Result<Page<Notification>> {
        let filter = if unread_only {
            " AND read_at IS NULL"
        } else {
            ""
        };
        let total: i64 = sqlx::query(&format!(
            "SELECT COUNT(*) FROM notifications WHERE user_id = ?{filter}"
        ))
        .bind(user.to_string())
        .fetch_one(&self.reader)
        .await
        .map_err(be)?
        .get(0);
        let items = sqlx::query(&format!(
            "SELECT * FROM notifications WHERE user_id = ?{filter} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
        ))
        .bind(user.to_string())
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(&self.reader)
        .await
        .map_err(be)?
        .iter()
        .map(notification_row)
        .collect::<Result<_>>()?;
        Ok(Page {
            items,
            total,
            limit: page.limit,
            offset: page.offset,
        })
    }

    pub(crate) async fn notifications_mark_read(
        &self,
        user: Uuid,
        ids: &[Uuid],
        at: DateTime<Utc>,
    ) -> Result<u64> {
        let mut b = QueryBuilder::<Sqlite>::new("UPDATE notifications SET read_at = ");
        b.push_bind(ts(&at))
            .push(" WHERE read_at IS NULL AND user_id = ")
            .push_bind(user.to_string());
        if !ids.is_empty() {
            b.push(" AND id IN (");
            let mut sep = b.separated(", ");
            for id in ids {
                sep.push_bind(id.to_string());
            }
            b.push(")");
        }
        let mut tx = self.begin().await?;
        let n = b
            .build()
            .execute(&mut *tx)
            .await
            .map_err(be)?
            .rows_affected();
        tx.commit().await.map_err(be)?;
        Ok(n)
    }

    pub(crate) async fn emails_claim(
        &self,
        limit: i64,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutgoingEmail>> {
        let now_s = ts(&now);
        let lease = ts(&(now + Duration::minutes(LEASE_MINUTES)));
        let mut tx = self.begin().await?;
        let rows = sqlx::query(
            "UPDATE notifications SET email_state = 'sending', email_after = ?, email_attempts = email_attempts + 1 \
             WHERE id IN (SELECT id FROM notifications WHERE email_state IN ('pending', 'sending') \
                 AND (email_after IS NULL OR email_after <= ?) ORDER BY created_at LIMIT ?) \
             RETURNING id, user_id, subject, body, link, email_attempts",
        )
        .bind(&lease)
        .bind(&now_s)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(be)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let user: String = r.get("user_id");
            let u = sqlx::query("SELECT email, display_name FROM users WHERE id = ?")
                .bind(&user)
                .fetch_one(&mut *tx)
                .await
                .map_err(be)?;
            out.push(OutgoingEmail {
                id: uuid(r.get("id"))?,
                to: u.get("email"),
                to_name: u.get("display_name"),
                subject: r.get("subject"),
                body: r.get("body"),
                link: r.get("link"),
                attempts: r.get::<i64, _>("email_attempts") as i32,
            });
        }
        tx.commit().await.map_err(be)?;
        Ok(out)
    }

    pub(crate) async fn email_finish(
        &self,
        id: Uuid,
        outcome: std::result::Result<(), String>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        match outcome {
            Ok(()) => {
                sqlx::query("UPDATE notifications SET email_state = 'sent', email_after = ?, email_error = NULL WHERE id = ?")
                    .bind(ts(&now))
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(be)?;
            }
            Err(e) => {
                let attempts: i64 =
                    sqlx::query("SELECT email_attempts FROM notifications WHERE id = ?")
                        .bind(id.to_string())
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(be)?
                        .map(|r| r.get(0))
                        .unwrap_or(MAX_EMAIL_ATTEMPTS);
                let (state, after) = if attempts >= MAX_EMAIL_ATTEMPTS {
                    ("failed", None)
                } else {
                    // 1, 2, 4, 8 minutes.
                    let wait = warden_store::retry_backoff(attempts);
                    ("pending", Some(ts(&(now + wait))))
                };
                sqlx::query("UPDATE notifications SET email_state = ?, email_after = ?, email_error = ? WHERE id = ?")
                    .bind(state)
                    .bind(after)
                    .bind(e.chars().take(500).collect::<String>())
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(be)?;
            }
        }
        tx.commit().await.map_err(be)?;
        Ok(())
    }

    pub(crate) async fn airlines_publish(
        &self,
        month: NaiveDate,
        airlines: &[ApprovedAirline],
        note: &str,
        audit: &AuditContext,
    ) -> Result<AirlineList> {
        let actor = audit
            .actor
            .ok_or_else(|| StoreError::Backend("publishing a list needs a user".into()))?;
        let m = month_str(month);
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM airline_list_entries WHERE month = ?")
            .bind(&m)
            .execute(&mut *tx)
            .await
            .map_err(be)?;
        sqlx::query(
            "INSERT INTO airline_lists (month, published_by, published_at, note) VALUES (?, ?, ?, ?) \
             ON CONFLICT (month) DO UPDATE SET published_by = excluded.published_by, \
             published_at = excluded.published_at, note = excluded.note",
        )
        .bind(&m)
        .bind(actor.to_string())
        .bind(ts(&audit.at))
        .bind(note)
        .execute(&mut *tx)
        .await
        .map_err(be)?;
        for chunk in airlines.chunks(1000) {
            let mut b = QueryBuilder::<Sqlite>::new(
                "INSERT INTO airline_list_entries (month, code, name) ",
            );
            b.push_values(chunk, |mut r, a| {
                r.push_bind(&m)
                    .push_bind(a.code.as_str())
                    .push_bind(&a.name);
            });
            b.build().execute(&mut *tx).await.map_err(be)?;
        }
        audit_tx(
            &mut tx,
            audit,
            "airlines.publish",
            &format!("airlines:{m}"),
            json!({"airlines": airlines.iter().map(|a| a.code.as_str()).collect::<Vec<_>>(), "note": note}),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        self.airlines_get(Some(month))
            .await?
            .ok_or_else(|| StoreError::Backend("list vanished".into()))
    }

    pub(crate) async fn airlines_get(
        &self,
        month: Option<NaiveDate>,
    ) -> Result<Option<AirlineList>> {
        let row = match month {
            Some(m) => sqlx::query("SELECT l.*, u.display_name AS by_name FROM airline_lists l JOIN users u ON u.id = l.published_by WHERE l.month = ?")
                .bind(month_str(m))
                .fetch_optional(&self.reader)
                .await,
            None => sqlx::query("SELECT l.*, u.display_name AS by_name FROM airline_lists l JOIN users u ON u.id = l.published_by WHERE l.month <= ? ORDER BY l.month DESC LIMIT 1")
                .bind(month_str(Utc::now().date_naive()))
                .fetch_optional(&self.reader)
                .await,
        }
        .map_err(be)?;
        let Some(r) = row else { return Ok(None) };
        let m: String = r.get("month");
        let airlines = sqlx::query(
            "SELECT code, name FROM airline_list_entries WHERE month = ? ORDER BY code",
        )
        .bind(&m)
        .fetch_all(&self.reader)
        .await
        .map_err(be)?
        .iter()
        .map(|e| {
            Ok(ApprovedAirline {
                code: AirlineCode::parse(e.get("code"))
                    .map_err(|e| StoreError::Backend(e.to_string()))?,
                name: e.get("name"),
            })
        })
        .collect::<Result<_>>()?;
        Ok(Some(AirlineList {
            month: parse_month(&m)?,
            published_by: uuid(r.get("published_by"))?,
            published_by_name: r.get("by_name"),
            published_at: parse_ts(r.get("published_at"))?,
            note: r.get("note"),
            airlines,
        }))
    }

    pub(crate) async fn airlines_months(&self) -> Result<Vec<AirlineListSummary>> {
        sqlx::query(
            "SELECT l.month, l.published_at, u.display_name AS by_name, \
             (SELECT COUNT(*) FROM airline_list_entries e WHERE e.month = l.month) AS n \
             FROM airline_lists l JOIN users u ON u.id = l.published_by ORDER BY l.month DESC",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(be)?
        .iter()
        .map(|r| {
            Ok(AirlineListSummary {
                month: parse_month(r.get("month"))?,
                published_by_name: r.get("by_name"),
                published_at: parse_ts(r.get("published_at"))?,
                count: r.get("n"),
            })
        })
        .collect()
    }
}
