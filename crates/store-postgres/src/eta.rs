//! eTA on PostgreSQL: devices, where people are, positions under tracking,
//! freezes and the purge, undertakings, geo-alerts, answers.
//!
//! A location batch (`eta_ingest`) is the hot path: one transaction of a few
//! statements whatever the batch's size, and no audit entry. The device's
//! row is updated first (a revoked device matches nothing, and the batch is
//! a conflict); the tracking authorisations that could cover the batch come
//! back in the same statement; the positions kept go in with one `UNNEST`
//! insert; the person's last location is moved by one `UPDATE … FROM
//! (SELECT … FOR UPDATE)`, which hands back the area it held before (so the
//! area-entered notification is written only when the area changed) and
//! leaves a newer place untouched when the batch is late. Batches of one
//! device follow each other on the device's row lock; batches of one person
//! from two devices, on the last-location row.
//!
//! Ending a tracking authorisation is a compare-and-set on `ended_at`. A
//! batch that read the authorisation just before the end committed keeps
//! the positions it found covered, as a batch written just before the end
//! would (the SQLite writer has the same window between the end's time and
//! its turn). Ingest takes no lock on the authorisation: a stream of share
//! locks could starve the end of a busy authorisation.
//!
//! Freezes and deletions are settled by a row lock on the person's `users`
//! row. Creating a freeze and deleting a person's data on request take it
//! `FOR NO KEY UPDATE`; a purge step first takes `FOR SHARE` the rows of the
//! people whose positions lie in its time slice, then deletes only theirs,
//! in a statement whose snapshot is taken once the locks are held. A freeze
//! has therefore either committed before the step's locks (and the delete
//! sees it) or waits until the step commits (and holds what is left):
//! nothing is deleted under a freeze that was acknowledged before the
//! delete. Ingest locks no `users` row (its foreign key checks take KEY
//! SHARE, which neither lock blocks). The audit head is locked last, as
//! everywhere.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder, Row};
use std::collections::BTreeSet;
use uuid::Uuid;
use warden_domain::eta::{tracking_active, AlertSeverity, Wellbeing};
use warden_domain::{AreaCode, Role, RoleGrant, Scope};
use warden_store::*;

use crate::notify::SQL_UUID_V7;
use crate::rows::{area_code, be, col, country_code, json_col, user_row, NO_AGENCY, USER_COLS};
use crate::write::audit_tx;
use crate::PgStore;

/// Rounds at settling the person's last location when a concurrent batch
/// inserts or a purge deletes it between our two statements.
const LAST_LOCATION_ATTEMPTS: usize = 4;

fn bad(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn opt_area(s: Option<String>) -> Result<Option<AreaCode>> {
    s.as_deref().map(area_code).transpose()
}

const DEVICE_COLS: &str = "id, user_id, name, platform, created_at, last_seen_at, revoked_at";

fn device_row(r: &PgRow) -> Result<Device> {
    Ok(Device {
        id: col(r, "id")?,
        user: col(r, "user_id")?,
        name: col(r, "name")?,
        platform: col(r, "platform")?,
        created_at: col(r, "created_at")?,
        last_seen_at: col(r, "last_seen_at")?,
        revoked_at: col(r, "revoked_at")?,
    })
}

fn last_location_row(r: &PgRow) -> Result<LastLocation> {
    Ok(LastLocation {
        user: col(r, "user_id")?,
        device: col(r, "device_id")?,
        area: opt_area(col(r, "area_code")?)?,
        since: col(r, "since")?,
        reported_at: col(r, "reported_at")?,
    })
}

const TRACKING_FROM: &str =
    "FROM tracking_authorisations t JOIN areas a ON a.code = t.area_code JOIN users u ON u.id = t.authorised_by";

const TRACKING_SELECT: &str = "SELECT t.id, t.area_code, a.name AS area_name, a.country, t.starts_at, t.ends_at, \
     t.reason, t.authorised_by, u.display_name AS authorised_by_name, t.created_at, t.ended_at, t.ended_by, t.end_reason \
     FROM tracking_authorisations t JOIN areas a ON a.code = t.area_code JOIN users u ON u.id = t.authorised_by";

fn tracking_row(r: &PgRow) -> Result<TrackingAuthorisation> {
    Ok(TrackingAuthorisation {
        id: col(r, "id")?,
        area: area_code(&col::<String>(r, "area_code")?)?,
        area_name: col(r, "area_name")?,
        country: country_code(&col::<String>(r, "country")?)?,
        starts_at: col(r, "starts_at")?,
        ends_at: col(r, "ends_at")?,
        reason: col(r, "reason")?,
        authorised_by: col(r, "authorised_by")?,
        authorised_by_name: col(r, "authorised_by_name")?,
        created_at: col(r, "created_at")?,
        ended_at: col(r, "ended_at")?,
        ended_by: col(r, "ended_by")?,
        end_reason: col(r, "end_reason")?,
    })
}

const POSITION_SELECT: &str = "SELECT p.user_id, u.display_name, u.agency_id, p.device_id, p.area_code, \
     p.lat, p.lon, p.accuracy_m, p.recorded_at, p.tracking_id FROM positions p JOIN users u ON u.id = p.user_id";

fn position_row(r: &PgRow) -> Result<Position> {
    Ok(Position {
        user: col(r, "user_id")?,
        user_name: col(r, "display_name")?,
        agency: col(r, "agency_id")?,
        device: col(r, "device_id")?,
        area: area_code(&col::<String>(r, "area_code")?)?,
        lat: col(r, "lat")?,
        lon: col(r, "lon")?,
        accuracy_m: col(r, "accuracy_m")?,
        recorded_at: col(r, "recorded_at")?,
        tracking: col(r, "tracking_id")?,
    })
}

const FREEZE_SELECT: &str = "SELECT f.id, f.user_id, p.display_name AS person_name, p.agency_id, f.from_at, f.to_at, \
     f.case_reference, f.reason, f.created_by, c.display_name AS created_by_name, f.created_at, f.lifted_at, \
     f.lifted_by, f.lift_reason FROM location_freezes f JOIN users p ON p.id = f.user_id JOIN users c ON c.id = f.created_by";

fn freeze_row(r: &PgRow) -> Result<Freeze> {
    Ok(Freeze {
        id: col(r, "id")?,
        person: col(r, "user_id")?,
        person_name: col(r, "person_name")?,
        agency: col(r, "agency_id")?,
        from: col(r, "from_at")?,
        to: col(r, "to_at")?,
        case_reference: col(r, "case_reference")?,
        reason: col(r, "reason")?,
        created_by: col(r, "created_by")?,
        created_by_name: col(r, "created_by_name")?,
        created_at: col(r, "created_at")?,
        lifted_at: col(r, "lifted_at")?,
        lifted_by: col(r, "lifted_by")?,
        lift_reason: col(r, "lift_reason")?,
    })
}

const ALERT_SELECT: &str = "SELECT g.id, g.area_code, a.name AS area_name, a.country, g.headline, g.description, \
     g.instruction, g.severity, g.issued_by, u.display_name AS issued_by_name, g.issued_at, g.expires_at, g.recipients, g.sms_recipients \
     FROM geo_alerts g JOIN areas a ON a.code = g.area_code JOIN users u ON u.id = g.issued_by";

fn alert_row(r: &PgRow) -> Result<GeoAlert> {
    Ok(GeoAlert {
        id: col(r, "id")?,
        area: area_code(&col::<String>(r, "area_code")?)?,
        area_name: col(r, "area_name")?,
        country: country_code(&col::<String>(r, "country")?)?,
        headline: col(r, "headline")?,
        description: col(r, "description")?,
        instruction: col(r, "instruction")?,
        severity: AlertSeverity::parse(&col::<String>(r, "severity")?).map_err(bad)?,
        issued_by: col(r, "issued_by")?,
        issued_by_name: col(r, "issued_by_name")?,
        issued_at: col(r, "issued_at")?,
        expires_at: col(r, "expires_at")?,
        recipients: col(r, "recipients")?,
        sms_recipients: col(r, "sms_recipients")?,
    })
}

const WELLBEING_COLS: &str = "id, user_id, status, dependants, note, channel, area_code, at";

fn wellbeing_row(r: &PgRow) -> Result<WellbeingReport> {
    Ok(WellbeingReport {
        id: col(r, "id")?,
        user: col(r, "user_id")?,
        status: Wellbeing::parse(&col::<String>(r, "status")?).map_err(bad)?,
        dependants: json_col(r, "dependants")?,
        note: col(r, "note")?,
        channel: col(r, "channel")?,
        area: opt_area(col(r, "area_code")?)?,
        at: col(r, "at")?,
    })
}

/// A freeze in force covers the row's person and time (`user` and `at` name
/// the row's columns).
fn frozen(user: &str, at: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM location_freezes f WHERE f.user_id = {user} AND f.lifted_at IS NULL \
         AND {at} >= f.from_at AND {at} <= f.to_at)"
    )
}

/// Before any position: the purge's starting point when it is given none.
fn beginning_of_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// Marks the device used (unless revoked: then no row at all) and, in the
/// same statement, finds the tracking authorisations of the batch's areas
/// that overlap its time span. One row with NULLs when there are none.
const DEVICE_AND_TRACKING: &str = "WITH dev AS (\
       UPDATE devices SET last_seen_at = GREATEST(last_seen_at, $3) \
       WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING id) \
     SELECT t.id, t.area_code, t.starts_at, t.ends_at, t.ended_at FROM dev LEFT JOIN (\
       SELECT id, area_code, starts_at, ends_at, ended_at FROM tracking_authorisations \
       WHERE area_code = ANY($4) AND starts_at <= $5 AND ends_at > $6 AND (ended_at IS NULL OR ended_at > $6)) t \
     ON true ORDER BY t.starts_at, t.id";

/// Moves the person's last location, unless it is newer than the batch
/// (then the row is left as it was). The sub-select locks the row and reads
/// it as it stands (under READ COMMITTED a concurrent batch's update is
/// waited for and then seen), so `old_area` is the area the batch moves the
/// person from. `since` is kept when the whole batch is in the area the
/// person already was in.
const MOVE_LAST_LOCATION: &str = "UPDATE last_locations l SET \
       device_id = CASE WHEN l.reported_at <= $5 THEN $2 ELSE l.device_id END, \
       area_code = CASE WHEN l.reported_at <= $5 THEN $3::text ELSE l.area_code END, \
       since = CASE WHEN l.reported_at > $5 THEN l.since \
                    WHEN $6 AND l.area_code IS NOT DISTINCT FROM $3::text THEN l.since \
                    ELSE $4 END, \
       reported_at = GREATEST(l.reported_at, $5) \
     FROM (SELECT user_id, area_code, reported_at FROM last_locations WHERE user_id = $1 FOR UPDATE) o \
     WHERE l.user_id = o.user_id \
     RETURNING o.area_code AS old_area, o.reported_at <= $5 AS applied, l.area_code AS area";

impl PgStore {
    pub(crate) async fn eta_create_device(
        &self,
        d: &NewDevice,
        audit: &AuditContext,
    ) -> Result<Device> {
        let id = Uuid::now_v7();
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO devices (id, user_id, name, platform, token_digest, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(d.user)
        .bind(&d.name)
        .bind(&d.platform)
        .bind(&d.token_digest)
        .bind(audit.at)
        .execute(&mut *tx)
        .await
        .map_err(|e| match be(e) {
            StoreError::Conflict(_) => {
                StoreError::Conflict("this device token is already enrolled".into())
            }
            o => o,
        })?;
        audit_tx(
            &mut tx,
            audit,
            "device.enrol",
            &format!("user:{}", d.user),
            json!({"device": id, "name": d.name, "platform": d.platform}),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        Ok(Device {
            id,
            user: d.user,
            name: d.name.clone(),
            platform: d.platform.clone(),
            created_at: audit.at,
            last_seen_at: None,
            revoked_at: None,
        })
    }

    /// Unrevoked first (the first is the active device), then by last use,
    /// most recent first, never-used devices after.
    pub(crate) async fn eta_list_devices(&self, user: Uuid) -> Result<Vec<Device>> {
        sqlx::query(&format!(
            "SELECT {DEVICE_COLS} FROM devices WHERE user_id = $1 \
             ORDER BY revoked_at IS NOT NULL, last_seen_at DESC NULLS LAST, created_at DESC, id DESC"
        ))
        .bind(user)
        .fetch_all(&self.pool)
        .await
        .map_err(be)?
        .iter()
        .map(device_row)
        .collect()
    }

    pub(crate) async fn eta_revoke_device(
        &self,
        user: Uuid,
        device: Uuid,
        audit: &AuditContext,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        // Waits for a batch of the device in flight (it holds the row), so
        // no batch is taken after the revocation commits.
        let n = sqlx::query(
            "UPDATE devices SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
        )
        .bind(audit.at)
        .bind(device)
        .bind(user)
        .execute(&mut *tx)
        .await
        .map_err(be)?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("device {device}")));
        }
        audit_tx(
            &mut tx,
            audit,
            "device.revoke",
            &format!("user:{user}"),
            json!({"device": device}),
        )
        .await?;
        tx.commit().await.map_err(be)
    }

    /// One query: the device, its (enabled) user, and the user's grants, one
    /// row per grant.
    pub(crate) async fn eta_device_by_token(&self, digest: &str) -> Result<Option<(Device, User)>> {
        let user_cols = USER_COLS
            .split(',')
            .map(|c| format!("u.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = sqlx::query(&format!(
            "SELECT d.id AS d_id, d.user_id AS d_user, d.name AS d_name, d.platform AS d_platform, \
             d.created_at AS d_created_at, d.last_seen_at AS d_last_seen_at, {user_cols}, \
             g.role AS g_role, g.scope AS g_scope, g.agency_id AS g_agency \
             FROM devices d JOIN users u ON u.id = d.user_id LEFT JOIN role_grants g ON g.user_id = u.id \
             WHERE d.token_digest = $1 AND d.revoked_at IS NULL AND NOT u.disabled \
             ORDER BY g.role COLLATE \"C\", g.scope COLLATE \"C\", g.agency_id"
        ))
        .bind(digest)
        .fetch_all(&self.pool)
        .await
        .map_err(be)?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let mut grants = Vec::new();
        for r in &rows {
            let Some(role) = col::<Option<String>>(r, "g_role")? else {
                continue;
            };
            let scope: String = col(r, "g_scope")?;
            let agency: Uuid = col(r, "g_agency")?;
            grants.push(RoleGrant {
                role: Role::parse(&role).map_err(bad)?,
                scope: Scope::parse(&scope).map_err(bad)?,
                agency: (agency != NO_AGENCY).then_some(agency),
            });
        }
        let device = Device {
            id: col(first, "d_id")?,
            user: col(first, "d_user")?,
            name: col(first, "d_name")?,
            platform: col(first, "d_platform")?,
            created_at: col(first, "d_created_at")?,
            last_seen_at: col(first, "d_last_seen_at")?,
            revoked_at: None,
        };
        Ok(Some((device, user_row(first, grants)?)))
    }

    pub(crate) async fn eta_ingest(&self, b: &LocationBatch) -> Result<IngestOutcome> {
        let mut order: Vec<&ResolvedReport> = b.reports.iter().collect();
        order.sort_by_key(|r| r.report.recorded_at);
        let placed: Vec<&ResolvedReport> =
            order.iter().copied().filter(|r| r.area.is_some()).collect();
        let mut areas: Vec<&str> = placed
            .iter()
            .filter_map(|r| r.area.as_ref().map(|a| a.as_str()))
            .collect();
        areas.sort_unstable();
        areas.dedup();
        let span = |r: Option<&&ResolvedReport>| r.map_or(b.received_at, |r| r.report.recorded_at);
        let (first_at, last_at) = (span(placed.first()), span(placed.last()));

        let mut tx = self.begin().await?;
        let rows = sqlx::query(DEVICE_AND_TRACKING)
            .bind(b.device)
            .bind(b.user)
            .bind(b.received_at)
            .bind(&areas)
            .bind(last_at)
            .bind(first_at)
            .fetch_all(&mut *tx)
            .await
            .map_err(be)?;
        if rows.is_empty() {
            // Revoked (or not this person's device): nothing is written.
            return Err(StoreError::Conflict(
                "this device was revoked: enrol it again".into(),
            ));
        }
        let mut out = IngestOutcome {
            accepted: b.reports.len() as u32,
            ..Default::default()
        };
        let Some(latest) = order.last().copied() else {
            tx.commit().await.map_err(be)?;
            return Ok(out);
        };

        // Precise positions: only where and when an authorisation is in force.
        let mut covering = Vec::with_capacity(rows.len());
        for r in &rows {
            if let Some(id) = col::<Option<Uuid>>(r, "id")? {
                covering.push((
                    id,
                    col::<String>(r, "area_code")?,
                    col::<DateTime<Utc>>(r, "starts_at")?,
                    col::<DateTime<Utc>>(r, "ends_at")?,
                    col::<Option<DateTime<Utc>>>(r, "ended_at")?,
                ));
            }
        }
        if !covering.is_empty() {
            let mut tracking = Vec::new();
            let mut area = Vec::new();
            let mut lat = Vec::new();
            let mut lon = Vec::new();
            let mut acc = Vec::new();
            let mut at = Vec::new();
            for r in &placed {
                let Some(code) = r.area.as_ref().map(|a| a.as_str()) else {
                    continue;
                };
                let found = covering.iter().find(|(_, a, s, e, ended)| {
                    a == code && tracking_active(*s, *e, *ended, r.report.recorded_at)
                });
                if let Some((id, ..)) = found {
                    tracking.push(*id);
                    area.push(code);
                    lat.push(r.report.lat);
                    lon.push(r.report.lon);
                    acc.push(r.report.accuracy_m);
                    at.push(r.report.recorded_at);
                }
            }
            if !tracking.is_empty() {
                sqlx::query(
                    "INSERT INTO positions (user_id, device_id, tracking_id, area_code, lat, lon, accuracy_m, recorded_at, received_at) \
                     SELECT $1, $2, x.tracking, x.area, x.lat, x.lon, x.acc, x.at, $3 \
                     FROM UNNEST($4::uuid[], $5::text[], $6::float8[], $7::float8[], $8::float8[], $9::timestamptz[]) \
                       AS x(tracking, area, lat, lon, acc, at)",
                )
                .bind(b.user)
                .bind(b.device)
                .bind(b.received_at)
                .bind(&tracking)
                .bind(&area)
                .bind(&lat)
                .bind(&lon)
                .bind(&acc)
                .bind(&at)
                .execute(&mut *tx)
                .await
                .map_err(be)?;
                out.positions_kept = tracking.len() as u32;
            }
        }

        // The area: the latest report's, since the start of its run of
        // reports in that area.
        let now_area = latest.area.as_ref();
        let run_start = order
            .iter()
            .rev()
            .take_while(|r| r.area.as_ref() == now_area)
            .last()
            .map_or(latest.report.recorded_at, |r| r.report.recorded_at);
        let whole_batch = order.iter().all(|r| r.area.as_ref() == now_area);
        let area_s = now_area.map(|a| a.as_str());
        let mut moved = None;
        for _ in 0..LAST_LOCATION_ATTEMPTS {
            let row = sqlx::query(MOVE_LAST_LOCATION)
                .bind(b.user)
                .bind(b.device)
                .bind(area_s)
                .bind(run_start)
                .bind(latest.report.recorded_at)
                .bind(whole_batch)
                .fetch_optional(&mut *tx)
                .await
                .map_err(be)?;
            if let Some(r) = row {
                let old: Option<String> = col(&r, "old_area")?;
                let applied: bool = col(&r, "applied")?;
                let area: Option<String> = col(&r, "area")?;
                let entered = applied && old.as_deref() != area_s;
                moved = Some((opt_area(area)?, entered));
                break;
            }
            // No row yet: the first report of this person (or one purged).
            // A concurrent batch inserting it first makes this insert do
            // nothing, and the update above then sees that row.
            let inserted = sqlx::query(
                "INSERT INTO last_locations (user_id, device_id, area_code, since, reported_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id) DO NOTHING",
            )
            .bind(b.user)
            .bind(b.device)
            .bind(area_s)
            .bind(run_start)
            .bind(latest.report.recorded_at)
            .execute(&mut *tx)
            .await
            .map_err(be)?
            .rows_affected();
            if inserted == 1 {
                moved = Some((now_area.cloned(), true));
                break;
            }
        }
        let Some((area, entered)) = moved else {
            return Err(StoreError::Conflict(
                "the person's location changed concurrently; send the batch again".into(),
            ));
        };
        out.area = area;

        if let (true, Some(code)) = (entered, now_area) {
            let a = sqlx::query(
                "SELECT a.name, a.level, COALESCE(v.text, '') AS advisory FROM areas a \
                 LEFT JOIN advisory_areas v ON v.area_code = a.code WHERE a.code = $1",
            )
            .bind(code.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(be)?
            .ok_or_else(|| StoreError::NotFound(format!("area {code}")))?;
            let (subject, body) = messages::area_entered(
                &col::<String>(&a, "name")?,
                col::<Option<i16>>(&a, "level")?.map(i64::from),
                &col::<String>(&a, "advisory")?,
            );
            sqlx::query(
                "INSERT INTO notifications (id, user_id, kind, subject, body, link, created_at, email_state) \
                 VALUES ($1, $2, 'eta.area_entered', $3, $4, '/eta', $5, 'none')",
            )
            .bind(Uuid::now_v7())
            .bind(b.user)
            .bind(&subject)
            .bind(&body)
            .bind(b.received_at)
            .execute(&mut *tx)
            .await
            .map_err(be)?;
            out.entered = Some(code.clone());
        }
        tx.commit().await.map_err(be)?;
        Ok(out)
    }

    pub(crate) async fn eta_last_location(&self, user: Uuid) -> Result<Option<LastLocation>> {
        sqlx::query(
            "SELECT user_id, device_id, area_code, since, reported_at FROM last_locations WHERE user_id = $1",
        )
        .bind(user)
        .fetch_optional(&self.pool)
        .await
        .map_err(be)?
        .as_ref()
        .map(last_location_row)
        .transpose()
    }

    pub(crate) async fn eta_authorise_tracking(
        &self,
        t: &NewTracking,
        audit: &AuditContext,
    ) -> Result<TrackingAuthorisation> {
        let id = Uuid::now_v7();
        let r = &t.request;
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO tracking_authorisations (id, area_code, starts_at, ends_at, reason, authorised_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(r.area.as_str())
        .bind(r.starts_at)
        .bind(r.ends_at)
        .bind(&r.reason)
        .bind(t.authorised_by)
        .bind(audit.at)
        .execute(&mut *tx)
        .await
        .map_err(|e| match be(e) {
            StoreError::Invalid { .. } => StoreError::NotFound(format!("area {}", r.area)),
            o => o,
        })?;
        audit_tx(
            &mut tx,
            audit,
            "tracking.authorise",
            &format!("area:{}", r.area),
            json!({"tracking": id, "starts_at": r.starts_at, "ends_at": r.ends_at, "reason": r.reason}),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        self.eta_get_tracking(id)
            .await?
            .ok_or_else(|| bad("tracking authorisation vanished"))
    }

    pub(crate) async fn eta_end_tracking(
        &self,
        id: Uuid,
        by: Uuid,
        reason: &str,
        audit: &AuditContext,
    ) -> Result<TrackingAuthorisation> {
        let mut tx = self.begin().await?;
        // The compare-and-set: of two ends, the second waits for the first's
        // row lock, re-checks against the committed row and matches nothing.
        // One whose window has run out is over already.
        let row = sqlx::query(
            "UPDATE tracking_authorisations SET ended_at = $2, ended_by = $3, end_reason = $4 \
             WHERE id = $1 AND ended_at IS NULL AND ends_at > $2 RETURNING area_code",
        )
        .bind(id)
        .bind(audit.at)
        .bind(by)
        .bind(reason)
        .fetch_optional(&mut *tx)
        .await
        .map_err(be)?;
        let Some(row) = row else {
            let exists = sqlx::query("SELECT 1 FROM tracking_authorisations WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(be)?;
            return Err(match exists {
                Some(_) => {
                    StoreError::Conflict("this tracking authorisation has already ended".into())
                }
                None => StoreError::NotFound(format!("tracking authorisation {id}")),
            });
        };
        audit_tx(
            &mut tx,
            audit,
            "tracking.end",
            &format!("area:{}", col::<String>(&row, "area_code")?),
            json!({"tracking": id, "reason": reason}),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        self.eta_get_tracking(id)
            .await?
            .ok_or_else(|| bad("tracking authorisation vanished"))
    }

    pub(crate) async fn eta_get_tracking(&self, id: Uuid) -> Result<Option<TrackingAuthorisation>> {
        sqlx::query(&format!("{TRACKING_SELECT} WHERE t.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(be)?
            .as_ref()
            .map(tracking_row)
            .transpose()
    }

    pub(crate) async fn eta_list_tracking(
        &self,
        q: &TrackingQuery,
        page: &PageRequest,
    ) -> Result<Page<TrackingAuthorisation>> {
        fn filters<'a>(b: &mut QueryBuilder<'a, Postgres>, q: &'a TrackingQuery) {
            b.push(" WHERE 1=1");
            if let Some(at) = q.active_at {
                b.push(" AND t.starts_at <= ")
                    .push_bind(at)
                    .push(" AND t.ends_at > ")
                    .push_bind(at)
                    .push(" AND (t.ended_at IS NULL OR t.ended_at > ")
                    .push_bind(at)
                    .push(")");
            }
            if let Some(c) = &q.country {
                b.push(" AND a.country = ").push_bind(c.as_str());
            }
            if let Some(a) = &q.area {
                b.push(" AND t.area_code = ").push_bind(a.as_str());
            }
        }
        let mut count = QueryBuilder::<Postgres>::new(format!("SELECT COUNT(*) {TRACKING_FROM}"));
        filters(&mut count, q);
        let total: i64 = count
            .build()
            .fetch_one(&self.pool)
            .await
            .map_err(be)?
            .try_get(0)
            .map_err(be)?;
        let mut b = QueryBuilder::<Postgres>::new(TRACKING_SELECT);
        filters(&mut b, q);
        b.push(" ORDER BY t.starts_at DESC, t.id DESC LIMIT ")
            .push_bind(page.limit)
            .push(" OFFSET ")
            .push_bind(page.offset);
        let items = b
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(be)?
            .iter()
            .map(tracking_row)
            .collect::<Result<_>>()?;
        Ok(Page {
            items,
            total,
            limit: page.limit,
            offset: page.offset,
        })
    }

    /// Two reads: how many positions each agency's people have there (the
    /// caller's rule is a function of the agency), then the positions of the
    /// agencies it lets through, so that withheld positions never leave the
    /// database.
    pub(crate) async fn eta_positions_in_area(
        &self,
        code: &AreaCode,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        visible: &(dyn Fn(Option<Uuid>) -> bool + Send + Sync),
        audit: &AuditContext,
    ) -> Result<Vec<Position>> {
        let mut tx = self.begin().await?;
        let per_agency = sqlx::query(
            "SELECT u.agency_id, COUNT(*) AS n FROM positions p JOIN users u ON u.id = p.user_id \
             WHERE p.area_code = $1 AND p.recorded_at >= $2 AND p.recorded_at < $3 GROUP BY u.agency_id",
        )
        .bind(code.as_str())
        .bind(from)
        .bind(to)
        .fetch_all(&mut *tx)
        .await
        .map_err(be)?;
        let mut agencies: Vec<Uuid> = Vec::new();
        let mut without_agency = false;
        let mut withheld = 0i64;
        for r in &per_agency {
            let agency: Option<Uuid> = col(r, "agency_id")?;
            if visible(agency) {
                match agency {
                    Some(a) => agencies.push(a),
                    None => without_agency = true,
                }
            } else {
                withheld += col::<i64>(r, "n")?;
            }
        }
        let shown = if agencies.is_empty() && !without_agency {
            Vec::new()
        } else {
            sqlx::query(&format!(
                "{POSITION_SELECT} WHERE p.area_code = $1 AND p.recorded_at >= $2 AND p.recorded_at < $3 \
                 AND (u.agency_id = ANY($4) OR ($5 AND u.agency_id IS NULL)) \
                 ORDER BY p.recorded_at DESC, p.id DESC"
            ))
            .bind(code.as_str())
            .bind(from)
            .bind(to)
            .bind(&agencies)
            .bind(without_agency)
            .fetch_all(&mut *tx)
            .await
            .map_err(be)?
            .iter()
            .map(position_row)
            .collect::<Result<Vec<_>>>()?
        };
        let people: BTreeSet<Uuid> = shown.iter().map(|p| p.user).collect();
        audit_tx(
            &mut tx,
            audit,
            "location.view",
            &format!("area:{code}"),
            json!({"from": from, "to": to, "positions": shown.len(), "people": people.len(),
                   "withheld": withheld}),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        Ok(shown)
    }

    pub(crate) async fn eta_create_freeze(
        &self,
        f: &NewFreeze,
        audit: &AuditContext,
    ) -> Result<Freeze> {
        let id = Uuid::now_v7();
        let r = &f.request;
        let mut tx = self.begin().await?;
        // The person's row: a purge step deleting their data holds it FOR
        // SHARE until it commits, and one starting later sees this freeze.
        sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE")
            .bind(r.person)
            .fetch_optional(&mut *tx)
            .await
            .map_err(be)?
            .ok_or_else(|| StoreError::NotFound(format!("person {}", r.person)))?;
        sqlx::query(
            "INSERT INTO location_freezes (id, user_id, from_at, to_at, case_reference, reason, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(r.person)
        .bind(r.from)
        .bind(r.to)
        .bind(&r.case_reference)
        .bind(&r.reason)
        .bind(f.created_by)
        .bind(audit.at)
        .execute(&mut *tx)
        .await
        .map_err(be)?;
        audit_tx(
            &mut tx,
            audit,
            "freeze.create",
            &format!("user:{}", r.person),
            json!({"freeze": id, "from": r.from, "to": r.to, "case_reference": r.case_reference, "reason": r.reason}),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        self.eta_get_freeze(id)
            .await?
            .ok_or_else(|| bad("freeze vanished"))
    }

    pub(crate) async fn eta_lift_freeze(
        &self,
        id: Uuid,
        by: Uuid,
        reason: &str,
        audit: &AuditContext,
    ) -> Result<Freeze> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "UPDATE location_freezes SET lifted_at = $2, lifted_by = $3, lift_reason = $4 \
             WHERE id = $1 AND lifted_at IS NULL RETURNING user_id",
        )
        .bind(id)
        .bind(audit.at)
        .bind(by)
        .bind(reason)
        .fetch_optional(&mut *tx)
        .await
        .map_err(be)?;
        let Some(row) = row else {
            let exists = sqlx::query("SELECT 1 FROM location_freezes WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(be)?;
            return Err(match exists {
                Some(_) => StoreError::Conflict("this freeze was already lifted".into()),
                None => StoreError::NotFound(format!("freeze {id}")),
            });
        };
        let person: Uuid = col(&row, "user_id")?;
        audit_tx(
            &mut tx,
            audit,
            "freeze.lift",
            &format!("user:{person}"),
            json!({"freeze": id, "reason": reason}),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        self.eta_get_freeze(id)
            .await?
            .ok_or_else(|| bad("freeze vanished"))
    }

    pub(crate) async fn eta_get_freeze(&self, id: Uuid) -> Result<Option<Freeze>> {
        sqlx::query(&format!("{FREEZE_SELECT} WHERE f.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(be)?
            .as_ref()
            .map(freeze_row)
            .transpose()
    }

    pub(crate) async fn eta_list_freezes(&self, q: &FreezeQuery) -> Result<Vec<Freeze>> {
        let mut b = QueryBuilder::<Postgres>::new(FREEZE_SELECT);
        b.push(" WHERE 1=1");
        if let Some(p) = q.person {
            b.push(" AND f.user_id = ").push_bind(p);
        }
        if let Some(a) = q.agency {
            b.push(" AND p.agency_id = ").push_bind(a);
        }
        if q.active_only {
            b.push(" AND f.lifted_at IS NULL");
        }
        b.push(" ORDER BY f.created_at DESC, f.id DESC LIMIT 1000");
        b.build()
            .fetch_all(&self.pool)
            .await
            .map_err(be)?
            .iter()
            .map(freeze_row)
            .collect()
    }

    /// One step: the positions recorded in [after, bound), where bound is
    /// the time of the position `limit` places on in time order (so about
    /// `limit` positions, frozen ones included, which stay), found through
    /// the `recorded_at` index. When fewer remain before the cutoff, the
    /// rest of them and the last locations reported before it go, and the
    /// purge is done.
    pub(crate) async fn eta_purge(
        &self,
        cutoff: DateTime<Utc>,
        after: Option<DateTime<Utc>>,
        limit: i64,
    ) -> Result<PurgeChunk> {
        let from = after.unwrap_or_else(beginning_of_time);
        let mut tx = self.begin().await?;
        // When more than `limit` positions share the time `from`, the step
        // takes all of them (up to the next time), so that it moves on.
        let bound: Option<DateTime<Utc>> = sqlx::query(
            "SELECT CASE WHEN b.at IS NULL OR b.at > $1 THEN b.at \
               ELSE (SELECT min(recorded_at) FROM positions WHERE recorded_at > $1 AND recorded_at < $2) END AS bound \
             FROM (SELECT 1) one LEFT JOIN (SELECT recorded_at AS at FROM positions \
               WHERE recorded_at >= $1 AND recorded_at < $2 ORDER BY recorded_at OFFSET $3 LIMIT 1) b ON true",
        )
        .bind(from)
        .bind(cutoff)
        .bind(limit.max(1))
        .fetch_one(&mut *tx)
        .await
        .map_err(be)
        .and_then(|r| col(&r, "bound"))?;
        let upto = bound.unwrap_or(cutoff);
        // The people whose positions these are, locked against a freeze or
        // a deletion committing meanwhile; only their positions are deleted
        // (one arriving late for someone else waits for the next purge).
        let people: Vec<Uuid> = sqlx::query(
            "SELECT id FROM users WHERE id IN (SELECT user_id FROM positions \
               WHERE recorded_at >= $1 AND recorded_at < $2) ORDER BY id FOR SHARE",
        )
        .bind(from)
        .bind(upto)
        .fetch_all(&mut *tx)
        .await
        .map_err(be)?
        .iter()
        .map(|r| col(r, "id"))
        .collect::<Result<_>>()?;
        let mut chunk = PurgeChunk::default();
        if !people.is_empty() {
            chunk.positions = sqlx::query(&format!(
                "DELETE FROM positions p WHERE p.recorded_at >= $1 AND p.recorded_at < $2 \
                 AND p.user_id = ANY($3) AND NOT {}",
                frozen("p.user_id", "p.recorded_at")
            ))
            .bind(from)
            .bind(upto)
            .bind(&people)
            .execute(&mut *tx)
            .await
            .map_err(be)?
            .rows_affected();
        }
        match bound {
            Some(b) => chunk.next = Some(b),
            None => {
                let people: Vec<Uuid> = sqlx::query(
                    "SELECT id FROM users WHERE id IN (SELECT user_id FROM last_locations \
                       WHERE reported_at < $1) ORDER BY id FOR SHARE",
                )
                .bind(cutoff)
                .fetch_all(&mut *tx)
                .await
                .map_err(be)?
                .iter()
                .map(|r| col(r, "id"))
                .collect::<Result<_>>()?;
                if !people.is_empty() {
                    // A batch that moved the person on meanwhile is seen by
                    // the re-check of the row's reported_at.
                    chunk.last_locations = sqlx::query(&format!(
                        "DELETE FROM last_locations l WHERE l.reported_at < $1 AND l.user_id = ANY($2) AND NOT {}",
                        frozen("l.user_id", "l.reported_at")
                    ))
                    .bind(cutoff)
                    .bind(&people)
                    .execute(&mut *tx)
                    .await
                    .map_err(be)?
                    .rows_affected();
                }
            }
        }
        tx.commit().await.map_err(be)?;
        Ok(chunk)
    }

    pub(crate) async fn eta_held(&self, user: Uuid) -> Result<HeldLocationData> {
        let positions = sqlx::query(&format!(
            "{POSITION_SELECT} WHERE p.user_id = $1 ORDER BY p.recorded_at DESC, p.id DESC"
        ))
        .bind(user)
        .fetch_all(&self.pool)
        .await
        .map_err(be)?
        .iter()
        .map(position_row)
        .collect::<Result<Vec<_>>>()?;
        Ok(HeldLocationData {
            last_location: self.eta_last_location(user).await?,
            positions,
            freezes: self
                .eta_list_freezes(&FreezeQuery {
                    person: Some(user),
                    ..Default::default()
                })
                .await?,
            devices: self.eta_list_devices(user).await?,
        })
    }

    pub(crate) async fn eta_delete(
        &self,
        user: Uuid,
        audit: &AuditContext,
    ) -> Result<DeletionOutcome> {
        let mut tx = self.begin().await?;
        // Against a freeze of this person committing meanwhile (see create).
        sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE")
            .bind(user)
            .fetch_optional(&mut *tx)
            .await
            .map_err(be)?;
        // One statement: the frozen count reads the positions as they were
        // before the delete, and the frozen ones are exactly those it spares.
        let row = sqlx::query(&format!(
            "WITH gone AS (DELETE FROM positions p WHERE p.user_id = $1 AND NOT {pf} RETURNING 1), \
             last AS (DELETE FROM last_locations l WHERE l.user_id = $1 AND NOT {lf} RETURNING 1) \
             SELECT (SELECT COUNT(*) FROM gone) AS deleted, \
               (SELECT COUNT(*) FROM positions p WHERE p.user_id = $1 AND {pf}) AS kept, \
               (SELECT COUNT(*) FROM last) AS last",
            pf = frozen("p.user_id", "p.recorded_at"),
            lf = frozen("l.user_id", "l.reported_at"),
        ))
        .bind(user)
        .fetch_one(&mut *tx)
        .await
        .map_err(be)?;
        let out = DeletionOutcome {
            positions_deleted: col::<i64>(&row, "deleted")? as u64,
            positions_frozen: col::<i64>(&row, "kept")? as u64,
            last_location_deleted: col::<i64>(&row, "last")? > 0,
        };
        audit_tx(
            &mut tx,
            audit,
            "location.delete",
            &format!("user:{user}"),
            json!(out),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        Ok(out)
    }

    pub(crate) async fn eta_accept_undertaking(
        &self,
        user: Uuid,
        version: &str,
        audit: &AuditContext,
    ) -> Result<Undertaking> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO location_undertakings (user_id, version, accepted_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET version = excluded.version, accepted_at = excluded.accepted_at",
        )
        .bind(user)
        .bind(version)
        .bind(audit.at)
        .execute(&mut *tx)
        .await
        .map_err(be)?;
        audit_tx(
            &mut tx,
            audit,
            "undertaking.accept",
            &format!("user:{user}"),
            json!({"version": version}),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        Ok(Undertaking {
            user,
            version: version.to_string(),
            accepted_at: audit.at,
        })
    }

    pub(crate) async fn eta_undertaking(&self, user: Uuid) -> Result<Option<Undertaking>> {
        sqlx::query("SELECT version, accepted_at FROM location_undertakings WHERE user_id = $1")
            .bind(user)
            .fetch_optional(&self.pool)
            .await
            .map_err(be)?
            .map(|r| {
                Ok(Undertaking {
                    user,
                    version: col(&r, "version")?,
                    accepted_at: col(&r, "accepted_at")?,
                })
            })
            .transpose()
    }

    /// The alert and its notifications in one statement: one notification
    /// per (enabled) person whose phone reported the area at or after
    /// `fresh_after`, and their count stored with the alert.
    pub(crate) async fn eta_issue_alert(
        &self,
        a: &NewGeoAlert,
        fresh_after: DateTime<Utc>,
        audit: &AuditContext,
    ) -> Result<GeoAlert> {
        let id = Uuid::now_v7();
        let mut tx = self.begin().await?;
        let area_name: String = sqlx::query("SELECT name FROM areas WHERE code = $1")
            .bind(a.area.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(be)?
            .ok_or_else(|| StoreError::NotFound(format!("area {}", a.area)))
            .and_then(|r| col(&r, "name"))?;
        let (subject, body) =
            messages::geo_alert(&a.headline, &area_name, a.severity, &a.instruction);
        // People stationed there without a smartphone get a text message.
        let sms = messages::geo_alert_sms(&a.headline, &area_name, a.severity, &a.instruction);
        let sms_recipients = sqlx::query(&format!(
            "INSERT INTO sms_outbox (id, user_id, phone, body, kind, ref, created_at) \
             SELECT {SQL_UUID_V7}, p.user_id, p.phone, $1, 'alert', $2, $3 FROM profiles p JOIN users u ON u.id = p.user_id \
             WHERE p.duty_station = $4 AND p.phone <> '' AND NOT u.disabled \
             AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.user_id = p.user_id AND d.revoked_at IS NULL)"
        ))
        .bind(&sms)
        .bind(format!("alert:{id}"))
        .bind(audit.at)
        .bind(a.area.as_str())
        .execute(&mut *tx)
        .await
        .map_err(be)?
        .rows_affected() as i64;
        let recipients: i64 = sqlx::query(&format!(
            "WITH told AS (INSERT INTO notifications (id, user_id, kind, subject, body, link, created_at, email_state) \
               SELECT {SQL_UUID_V7}, l.user_id, 'eta.alert', $1, $2, $3, $4, 'none' FROM last_locations l \
               JOIN users u ON u.id = l.user_id WHERE l.area_code = $5 AND l.reported_at >= $6 AND NOT u.disabled \
               RETURNING 1) \
             INSERT INTO geo_alerts (id, area_code, headline, description, instruction, severity, issued_by, \
               issued_at, expires_at, recipients, sms_recipients) \
             SELECT $7, $5, $8, $9, $10, $11, $12, $4, $13, (SELECT COUNT(*) FROM told), $14 \
             RETURNING recipients"
        ))
        .bind(&subject)
        .bind(&body)
        .bind(format!("/alerts/{id}"))
        .bind(audit.at)
        .bind(a.area.as_str())
        .bind(fresh_after)
        .bind(id)
        .bind(&a.headline)
        .bind(&a.description)
        .bind(&a.instruction)
        .bind(a.severity.as_str())
        .bind(a.issued_by)
        .bind(a.expires_at)
        .bind(sms_recipients)
        .fetch_one(&mut *tx)
        .await
        .map_err(be)
        .and_then(|r| col(&r, "recipients"))?;
        audit_tx(
            &mut tx,
            audit,
            "alert.issue",
            &format!("area:{}", a.area),
            json!({"alert": id, "headline": a.headline, "severity": a.severity.as_str(), "recipients": recipients, "sms_recipients": sms_recipients}),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        self.eta_get_alert(id)
            .await?
            .ok_or_else(|| bad("alert vanished"))
    }

    pub(crate) async fn eta_get_alert(&self, id: Uuid) -> Result<Option<GeoAlert>> {
        sqlx::query(&format!("{ALERT_SELECT} WHERE g.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(be)?
            .as_ref()
            .map(alert_row)
            .transpose()
    }

    pub(crate) async fn eta_list_alerts(
        &self,
        code: Option<&AreaCode>,
        page: &PageRequest,
    ) -> Result<Page<GeoAlert>> {
        let code = code.map(|c| c.as_str());
        let total: i64 =
            sqlx::query("SELECT COUNT(*) FROM geo_alerts WHERE $1::text IS NULL OR area_code = $1")
                .bind(code)
                .fetch_one(&self.pool)
                .await
                .map_err(be)?
                .try_get(0)
                .map_err(be)?;
        let items = sqlx::query(&format!(
            "{ALERT_SELECT} WHERE $1::text IS NULL OR g.area_code = $1 \
             ORDER BY g.issued_at DESC, g.id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(code)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(&self.pool)
        .await
        .map_err(be)?
        .iter()
        .map(alert_row)
        .collect::<Result<_>>()?;
        Ok(Page {
            items,
            total,
            limit: page.limit,
            offset: page.offset,
        })
    }

    pub(crate) async fn eta_record_wellbeing(
        &self,
        r: &NewWellbeing,
        audit: &AuditContext,
    ) -> Result<WellbeingReport> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(&format!(
            "INSERT INTO wellbeing_reports (id, user_id, status, dependants, note, channel, area_code, at) \
             SELECT $1, $2, $3, $4, $5, $6, (SELECT area_code FROM last_locations WHERE user_id = $2), $7 \
             RETURNING {WELLBEING_COLS}"
        ))
        .bind(Uuid::now_v7())
        .bind(r.user)
        .bind(r.status.as_str())
        .bind(Json(&r.dependants))
        .bind(&r.note)
        .bind(&r.channel)
        .bind(audit.at)
        .fetch_one(&mut *tx)
        .await
        .map_err(be)?;
        let report = wellbeing_row(&row)?;
        audit_tx(
            &mut tx,
            audit,
            "wellbeing.report",
            &format!("user:{}", r.user),
            json!({"status": r.status.as_str(), "dependants": r.dependants.len(), "channel": r.channel}),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        Ok(report)
    }

    pub(crate) async fn eta_latest_wellbeing(&self, user: Uuid) -> Result<Option<WellbeingReport>> {
        sqlx::query(&format!(
            "SELECT {WELLBEING_COLS} FROM wellbeing_reports WHERE user_id = $1 ORDER BY at DESC, id DESC LIMIT 1"
        ))
        .bind(user)
        .fetch_optional(&self.pool)
        .await
        .map_err(be)?
        .as_ref()
        .map(wellbeing_row)
        .transpose()
    }
}

/// Lease on a claimed text message; after it the message may be claimed again.
const SMS_LEASE_MINUTES: i64 = 5;
/// Attempts before a text message is given up as failed.
const MAX_SMS_ATTEMPTS: i32 = 5;

impl PgStore {
    pub(crate) async fn sms_claim(
        &self,
        limit: i64,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutgoingSms>> {
        // SKIP LOCKED: a row another instance is claiming is left to it.
        let rows = sqlx::query(
            "UPDATE sms_outbox SET state = 'sending', send_after = $1, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM sms_outbox WHERE state IN ('pending', 'sending') \
                 AND (send_after IS NULL OR send_after <= $2) ORDER BY created_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING id, user_id, phone, body, attempts, created_at",
        )
        .bind(now + chrono::Duration::minutes(SMS_LEASE_MINUTES))
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
                    OutgoingSms {
                        id: col(r, "id")?,
                        user: col(r, "user_id")?,
                        phone: col(r, "phone")?,
                        body: col(r, "body")?,
                        attempts: col(r, "attempts")?,
                    },
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        out.sort_by_key(|(at, m)| (*at, m.id));
        Ok(out.into_iter().map(|(_, m)| m).collect())
    }

    pub(crate) async fn sms_finish(
        &self,
        id: Uuid,
        outcome: std::result::Result<Vec<String>, String>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        match outcome {
            Ok(ids) => {
                sqlx::query("UPDATE sms_outbox SET state = 'sent', sent_at = $1, error = NULL WHERE id = $2")
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(be)?;
                sqlx::query(
                    "INSERT INTO sms_parts (message_id, sms_id) SELECT m, $2 FROM UNNEST($1::text[]) m \
                     ON CONFLICT (message_id) DO NOTHING",
                )
                .bind(&ids)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(be)?;
            }
            Err(e) => {
                let attempts: i32 =
                    sqlx::query("SELECT attempts FROM sms_outbox WHERE id = $1 FOR UPDATE")
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(be)?
                        .map(|r| col(&r, "attempts"))
                        .transpose()?
                        .unwrap_or(MAX_SMS_ATTEMPTS);
                let (state, after) = if attempts >= MAX_SMS_ATTEMPTS {
                    ("failed", None)
                } else {
                    // 1, 2, 4, 8 minutes.
                    let wait = warden_store::retry_backoff(i64::from(attempts));
                    ("pending", Some(now + wait))
                };
                sqlx::query(
                    "UPDATE sms_outbox SET state = $1, send_after = $2, error = $3 WHERE id = $4",
                )
                .bind(state)
                .bind(after)
                .bind(e.chars().take(500).collect::<String>())
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(be)?;
            }
        }
        tx.commit().await.map_err(be)
    }

    pub(crate) async fn sms_receipt_of(
        &self,
        message_id: &str,
        state: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO sms_receipts (message_id, state, at) VALUES ($1, $2, $3) \
             ON CONFLICT (message_id) DO UPDATE SET state = excluded.state, at = excluded.at",
        )
        .bind(message_id)
        .bind(state)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(be)?;
        let known = sqlx::query("SELECT 1 FROM sms_parts WHERE message_id = $1")
            .bind(message_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(be)?
            .is_some();
        tx.commit().await.map_err(be)?;
        Ok(known)
    }

    pub(crate) async fn sms_list(&self, reference: &str) -> Result<Vec<SmsRecord>> {
        sqlx::query(
            "SELECT o.id, o.user_id, o.phone, o.kind, o.ref, o.state, o.attempts, o.created_at, \
               (SELECT r.state FROM sms_parts p JOIN sms_receipts r ON r.message_id = p.message_id \
                WHERE p.sms_id = o.id ORDER BY r.at DESC LIMIT 1) AS receipt \
             FROM sms_outbox o WHERE o.ref = $1 ORDER BY o.created_at, o.id",
        )
        .bind(reference)
        .fetch_all(&self.pool)
        .await
        .map_err(be)?
        .iter()
        .map(|r| {
            Ok(SmsRecord {
                id: col(r, "id")?,
                user: col(r, "user_id")?,
                phone: col(r, "phone")?,
                kind: col(r, "kind")?,
                reference: col(r, "ref")?,
                state: col(r, "state")?,
                attempts: col(r, "attempts")?,
                receipt: col(r, "receipt")?,
                created_at: col(r, "created_at")?,
            })
        })
        .collect()
    }

    pub(crate) async fn user_of_phone(&self, phone: &str) -> Result<Option<User>> {
        let id: Option<Uuid> = sqlx::query(
            "SELECT user_id FROM profiles WHERE phone = $1 ORDER BY updated_at DESC LIMIT 1",
        )
        .bind(phone)
        .fetch_optional(&self.pool)
        .await
        .map_err(be)?
        .map(|r| col(&r, "user_id"))
        .transpose()?;
        match id {
            Some(id) => self.get_user(id).await,
            None => Ok(None),
        }
    }
}
