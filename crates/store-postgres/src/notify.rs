//! Notifications (in-app, and the e-mail outbox) and the approved-airline list
//! on PostgreSQL.
//!
//! Notifications are written by the transaction of the change they report,
//! each batch of recipients by one `INSERT … SELECT`, whatever its size: a
//! mode change re-evaluating 100,000 legs tells their travellers in the same
//! statement that re-evaluates them, with no row travelling to the client
//! and back. Ids of rows made that way are UUID v7 made in SQL
//! (`SQL_UUID_V7`); a single notification gets one made here.
//!
//! The outbox is claimed with `FOR UPDATE SKIP LOCKED`, so that several
//! server instances sending mail never claim the same notification, and a
//! claim is a lease: an instance that dies mid-send leaves the e-mail to be
//! claimed again when the lease runs out.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde_json::json;
use sqlx::postgres::PgRow;
use uuid::Uuid;
use warden_domain::people::AirlineCode;
use warden_domain::trip::ProcessingMode;
use warden_domain::AreaCode;
use warden_store::*;

use crate::rows::{be, col};
use crate::write::{audit_tx, Tx};
use crate::PgStore;

/// A UUID v7 made by PostgreSQL, for rows inserted by `INSERT … SELECT`: the
/// Unix time in milliseconds (48 bits, from the clock at that row) over a
/// random (v4) UUID, whose version bits 0100 become 0111 by setting bits 52
/// and 53 (`set_bit` counts from the least significant bit of each byte).
/// The variant bits of the v4 UUID are already those of v7.
pub(crate) const SQL_UUID_V7: &str = "encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) \
     PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3) \
     FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid";

/// Whether to e-mail a user (`u`): not without an address or when disabled.
pub(crate) const EMAIL_STATE: &str =
    "CASE WHEN u.email = '' OR u.disabled THEN 'none' ELSE 'pending' END";

/// Lease on a claimed e-mail; after it the e-mail may be claimed again.
const LEASE_MINUTES: i64 = 5;
/// Attempts before an e-mail is given up as failed.
pub(crate) const MAX_EMAIL_ATTEMPTS: i32 = 5;

/// After a mode change told `travellers` travellers: the area's security
/// advisers are told too when legs became clearance requests.
pub(crate) async fn reevaluated_tx(
    tx: &mut Tx<'_>,
    area: &AreaCode,
    mode: ProcessingMode,
    travellers: u64,
    at: &DateTime<Utc>,
) -> Result<()> {
    if travellers > 0 && mode == ProcessingMode::Manual {
        let (subject, body) = messages::clearances_added(area, travellers);
        reviewers_tx(tx, area, "clearances_added", &subject, &body, at).await?;
    }
    Ok(())
}

/// A notification to every (enabled) security adviser whose scope covers
/// `area`: global, its country, or the area itself.
pub(crate) async fn reviewers_tx(
    tx: &mut Tx<'_>,
    area: &AreaCode,
    kind: &str,
    subject: &str,
    body: &str,
    at: &DateTime<Utc>,
) -> Result<u64> {
    Ok(sqlx::query(&format!(
        "INSERT INTO notifications (id, user_id, kind, subject, body, link, created_at, email_state) \
         SELECT {SQL_UUID_V7}, u.id, $1, $2, $3, $4, $5, {EMAIL_STATE} FROM users u \
         WHERE NOT u.disabled AND u.id IN (SELECT user_id FROM role_grants \
           WHERE role = 'security_adviser' AND scope IN ('global', $6, $7))"
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
/// denied), one notification per trip, that its security level changed.
/// Returns how many were told.
pub(crate) async fn level_changed_tx(
    tx: &mut Tx<'_>,
    area: &str,
    area_name: &str,
    old: Option<i16>,
    new: i16,
    at: &DateTime<Utc>,
) -> Result<u64> {
    let (subject, body) =
        messages::level_changed(area, area_name, old.map(i64::from), i64::from(new));
    Ok(sqlx::query(&format!(
        "INSERT INTO notifications (id, user_id, kind, subject, body, link, created_at, email_state) \
         SELECT {SQL_UUID_V7}, t.traveller_id, 'level_changed', $1, $2, '/trips/' || t.id, $3, {EMAIL_STATE} \
         FROM travel_requests t JOIN users u ON u.id = t.traveller_id \
         WHERE t.id IN (SELECT request_id FROM legs WHERE area_code = $4 AND depart > $3 \
           AND status NOT IN ('cancelled', 'denied'))"
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

/// Tells every person whose phone last reported `area` (eTA) that its
/// security level changed; device alerts, not e-mailed. Returns how many.
pub(crate) async fn level_changed_devices_tx(
    tx: &mut Tx<'_>,
    area: &str,
    area_name: &str,
    old: Option<i16>,
    new: i16,
    at: &DateTime<Utc>,
) -> Result<u64> {
    let (subject, body) =
        messages::level_changed(area, area_name, old.map(i64::from), i64::from(new));
    Ok(sqlx::query(&format!(
        "INSERT INTO notifications (id, user_id, kind, subject, body, link, created_at, email_state) \
         SELECT {SQL_UUID_V7}, l.user_id, 'eta.level_changed', $1, $2, '/eta', $3, 'none' \
         FROM last_locations l JOIN users u ON u.id = l.user_id WHERE l.area_code = $4 AND NOT u.disabled"
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
    tx: &mut Tx<'_>,
    user: Uuid,
    kind: &str,
    subject: &str,
    body: &str,
    link: &str,
    at: &DateTime<Utc>,
) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO notifications (id, user_id, kind, subject, body, link, created_at, email_state) \
         SELECT $1, u.id, $2, $3, $4, $5, $6, {EMAIL_STATE} FROM users u WHERE u.id = $7"
    ))
    .bind(Uuid::now_v7())
    .bind(kind)
    .bind(subject)
    .bind(body)
    .bind(link)
    .bind(at)
    .bind(user)
    .execute(&mut **tx)
    .await
    .map_err(be)?;
    Ok(())
}

const NOTIFICATION_COLS: &str =
    "id, user_id, kind, subject, body, link, created_at, read_at, email_state";

fn notification_row(r: &PgRow) -> Result<Notification> {
    Ok(Notification {
        id: col(r, "id")?,
        user: col(r, "user_id")?,
        kind: col(r, "kind")?,
        subject: col(r, "subject")?,
        body: col(r, "body")?,
        link: col(r, "link")?,
        created_at: col(r, "created_at")?,
        read_at: col(r, "read_at")?,
        email_state: col(r, "email_state")?,
    })
}

/// The first day of the month of `d`: lists are kept by month.
fn first_of_month(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

fn month_text(m: NaiveDate) -> String {
    m.format("%Y-%m").to_string()
}

impl PgStore {
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
            "SELECT COUNT(*) AS n FROM notifications WHERE user_id = $1{filter}"
        ))
        .bind(user)
        .fetch_one(&self.pool)
        .await
        .map_err(be)
        .and_then(|r| col(&r, "n"))?;
        let items = sqlx::query(&format!(
            "SELECT {NOTIFICATION_COLS} FROM notifications WHERE user_id = $1{filter} \
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(user)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(&self.pool)
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
        Ok(sqlx::query(
            "UPDATE notifications SET read_at = $1 WHERE read_at IS NULL AND user_id = $2 \
             AND (cardinality($3::uuid[]) = 0 OR id = ANY($3))",
        )
        .bind(at)
        .bind(user)
        .bind(ids)
        .execute(&self.pool)
        .await
        .map_err(be)?
        .rows_affected())
    }

    pub(crate) async fn emails_claim(
        &self,
        limit: i64,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutgoingEmail>> {
        let lease = now + Duration::minutes(LEASE_MINUTES);
        // SKIP LOCKED: a row another instance is claiming right now is left
        // to it. One that instance claimed and committed meanwhile is
        // re-checked against the condition (its lease is in the future) and
        // skipped too, so no e-mail is ever claimed twice at once.
        let rows = sqlx::query(
            "UPDATE notifications n SET email_state = 'sending', email_after = $1, email_attempts = n.email_attempts + 1 \
             FROM users u \
             WHERE u.id = n.user_id AND n.id IN (SELECT id FROM notifications \
                 WHERE email_state IN ('pending', 'sending') AND (email_after IS NULL OR email_after <= $2) \
                 ORDER BY created_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING n.id, n.created_at, u.email, u.display_name, n.subject, n.body, n.link, n.email_attempts",
        )
        .bind(lease)
        .bind(now)
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await
        .map_err(be)?;
        let mut out = rows
            .iter()
            .map(|r| {
                Ok((
                    col::<DateTime<Utc>>(r, "created_at")?,
                    OutgoingEmail {
                        id: col(r, "id")?,
                        to: col(r, "email")?,
                        to_name: col(r, "display_name")?,
                        subject: col(r, "subject")?,
                        body: col(r, "body")?,
                        link: col(r, "link")?,
                        attempts: col(r, "email_attempts")?,
                    },
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        // Oldest first, as they were chosen.
        out.sort_by_key(|a| (a.0, a.1.id));
        Ok(out.into_iter().map(|(_, e)| e).collect())
    }

    pub(crate) async fn email_finish(
        &self,
        id: Uuid,
        outcome: std::result::Result<(), String>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        match outcome {
            Ok(()) => {
                sqlx::query(
                    "UPDATE notifications SET email_state = 'sent', email_after = $1, email_error = NULL WHERE id = $2",
                )
                .bind(now)
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(be)?;
            }
            Err(e) => {
                // Failed for good after the last attempt; otherwise pending
                // again after 1, 2, 4, 8 minutes. One statement, so the
                // attempts it reads are those of the row it updates.
                sqlx::query(
                    "UPDATE notifications SET \
                       email_state = CASE WHEN email_attempts >= $1 THEN 'failed' ELSE 'pending' END, \
                       email_after = CASE WHEN email_attempts >= $1 THEN NULL \
                         ELSE $2 + make_interval(mins => 1 << LEAST(GREATEST(email_attempts - 1, 0), 10)) END, \
                       email_error = $3 \
                     WHERE id = $4",
                )
                .bind(MAX_EMAIL_ATTEMPTS)
                .bind(now)
                .bind(e.chars().take(500).collect::<String>())
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(be)?;
            }
        }
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
        let m = first_of_month(month);
        let mut tx = self.begin().await?;
        // The upsert first: it locks the month's row, so two publications of
        // one month follow each other instead of mixing their entries.
        sqlx::query(
            "INSERT INTO airline_lists (month, published_by, published_at, note) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (month) DO UPDATE SET published_by = excluded.published_by, \
             published_at = excluded.published_at, note = excluded.note",
        )
        .bind(m)
        .bind(actor)
        .bind(audit.at)
        .bind(note)
        .execute(&mut *tx)
        .await
        .map_err(be)?;
        sqlx::query("DELETE FROM airline_list_entries WHERE month = $1")
            .bind(m)
            .execute(&mut *tx)
            .await
            .map_err(be)?;
        let codes: Vec<&str> = airlines.iter().map(|a| a.code.as_str()).collect();
        let names: Vec<&str> = airlines.iter().map(|a| a.name.as_str()).collect();
        sqlx::query(
            "INSERT INTO airline_list_entries (month, code, name) \
             SELECT $1, x.code, x.name FROM UNNEST($2::text[], $3::text[]) AS x(code, name)",
        )
        .bind(m)
        .bind(&codes)
        .bind(&names)
        .execute(&mut *tx)
        .await
        .map_err(be)?;
        audit_tx(
            &mut tx,
            audit,
            "airlines.publish",
            &format!("airlines:{}", month_text(m)),
            json!({"airlines": codes, "note": note}),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        self.airlines_get(Some(m))
            .await?
            .ok_or_else(|| StoreError::Backend("list vanished".into()))
    }

    pub(crate) async fn airlines_get(
        &self,
        month: Option<NaiveDate>,
    ) -> Result<Option<AirlineList>> {
        const SELECT: &str =
            "SELECT l.month, l.published_by, l.published_at, l.note, u.display_name AS by_name \
             FROM airline_lists l JOIN users u ON u.id = l.published_by";
        let row = match month {
            Some(m) => {
                sqlx::query(&format!("{SELECT} WHERE l.month = $1"))
                    .bind(first_of_month(m))
                    .fetch_optional(&self.pool)
                    .await
            }
            None => {
                sqlx::query(&format!(
                    "{SELECT} WHERE l.month <= $1 ORDER BY l.month DESC LIMIT 1"
                ))
                .bind(first_of_month(Utc::now().date_naive()))
                .fetch_optional(&self.pool)
                .await
            }
        }
        .map_err(be)?;
        let Some(r) = row else { return Ok(None) };
        let m: NaiveDate = col(&r, "month")?;
        let airlines = sqlx::query(
            "SELECT code, name FROM airline_list_entries WHERE month = $1 ORDER BY code COLLATE \"C\"",
        )
        .bind(m)
        .fetch_all(&self.pool)
        .await
        .map_err(be)?
        .iter()
        .map(|e| {
            Ok(ApprovedAirline {
                code: AirlineCode::parse(&col::<String>(e, "code")?)
                    .map_err(|e| StoreError::Backend(e.to_string()))?,
                name: col(e, "name")?,
            })
        })
        .collect::<Result<_>>()?;
        Ok(Some(AirlineList {
            month: m,
            published_by: col(&r, "published_by")?,
            published_by_name: col(&r, "by_name")?,
            published_at: col(&r, "published_at")?,
            note: col(&r, "note")?,
            airlines,
        }))
    }

    pub(crate) async fn airlines_months(&self) -> Result<Vec<AirlineListSummary>> {
        sqlx::query(
            "SELECT l.month, l.published_at, u.display_name AS by_name, \
             (SELECT COUNT(*) FROM airline_list_entries e WHERE e.month = l.month) AS n \
             FROM airline_lists l JOIN users u ON u.id = l.published_by ORDER BY l.month DESC",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(be)?
        .iter()
        .map(|r| {
            Ok(AirlineListSummary {
                month: col(r, "month")?,
                published_by_name: col(r, "by_name")?,
                published_at: col(r, "published_at")?,
                count: col(r, "n")?,
            })
        })
        .collect()
    }
}
