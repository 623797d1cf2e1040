//! eTA storage on SQLite: devices, where people are, positions under
//! tracking, freezes and the purge, undertakings, geo-alerts, answers.

use crate::notify::SQL_UUID;
use crate::{audit_tx, be, opt_ts, parse_ts, ts, uuid, SqliteStore};
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};
use uuid::Uuid;
use warden_domain::eta::{tracking_active, AlertSeverity, Wellbeing};
use warden_domain::{AreaCode, CountryCode};
use warden_store::messages;
use warden_store::*;

fn bad(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn area(s: &str) -> Result<AreaCode> {
    AreaCode::parse(s).map_err(bad)
}

fn opt_uuid(r: &SqliteRow, col: &str) -> Result<Option<Uuid>> {
    r.get::<Option<String>, _>(col)
        .as_deref()
        .map(uuid)
        .transpose()
}

fn device_row(r: &SqliteRow) -> Result<Device> {
    Ok(Device {
        id: uuid(r.get("id"))?,
        user: uuid(r.get("user_id"))?,
        name: r.get("name"),
        platform: r.get("platform"),
        created_at: parse_ts(r.get("created_at"))?,
        last_seen_at: opt_ts(r.get("last_seen_at"))?,
        revoked_at: opt_ts(r.get("revoked_at"))?,
    })
}

const DEVICE_COLS: &str = "id, user_id, name, platform, created_at, last_seen_at, revoked_at";

fn last_location_row(r: &SqliteRow) -> Result<LastLocation> {
    Ok(LastLocation {
        user: uuid(r.get("user_id"))?,
        device: uuid(r.get("device_id"))?,
        area: r
            .get::<Option<String>, _>("area_code")
            .as_deref()
            .map(area)
            .transpose()?,
        since: parse_ts(r.get("since"))?,
        reported_at: parse_ts(r.get("reported_at"))?,
    })
}

const TRACKING_SELECT: &str = "SELECT t.id, t.area_code, a.name AS area_name, a.country, t.starts_at, t.ends_at, \
     t.reason, t.authorised_by, u.display_name AS authorised_by_name, t.created_at, t.ended_at, t.ended_by, t.end_reason \
     FROM tracking_authorisations t JOIN areas a ON a.code = t.area_code JOIN users u ON u.id = t.authorised_by";

fn tracking_row(r: &SqliteRow) -> Result<TrackingAuthorisation> {
    Ok(TrackingAuthorisation {
        id: uuid(r.get("id"))?,
        area: area(r.get("area_code"))?,
        area_name: r.get("area_name"),
        country: CountryCode::parse(r.get("country")).map_err(bad)?,
        starts_at: parse_ts(r.get("starts_at"))?,
        ends_at: parse_ts(r.get("ends_at"))?,
        reason: r.get("reason"),
        authorised_by: uuid(r.get("authorised_by"))?,
        authorised_by_name: r.get("authorised_by_name"),
        created_at: parse_ts(r.get("created_at"))?,
        ended_at: opt_ts(r.get("ended_at"))?,
        ended_by: opt_uuid(r, "ended_by")?,
        end_reason: r.get("end_reason"),
    })
}

const POSITION_SELECT: &str = "SELECT p.user_id, u.display_name, u.agency_id, p.device_id, p.area_code, \
     p.lat, p.lon, p.accuracy_m, p.recorded_at, p.tracking_id FROM positions p JOIN users u ON u.id = p.user_id";

fn position_row(r: &SqliteRow) -> Result<Position> {
    Ok(Position {
        user: uuid(r.get("user_id"))?,
        user_name: r.get("display_name"),
        agency: opt_uuid(r, "agency_id")?,
        device: uuid(r.get("device_id"))?,
        area: area(r.get("area_code"))?,
        lat: r.get("lat"),
        lon: r.get("lon"),
        accuracy_m: r.get("accuracy_m"),
        recorded_at: parse_ts(r.get("recorded_at"))?,
        tracking: uuid(r.get("tracking_id"))?,
    })
}

const FREEZE_SELECT: &str = "SELECT f.id, f.user_id, p.display_name AS person_name, p.agency_id, f.from_at, f.to_at, \
     f.case_reference, f.reason, f.created_by, c.display_name AS created_by_name, f.created_at, f.lifted_at, \
     f.lifted_by, f.lift_reason FROM location_freezes f JOIN users p ON p.id = f.user_id JOIN users c ON c.id = f.created_by";

fn freeze_row(r: &SqliteRow) -> Result<Freeze> {
    Ok(Freeze {
        id: uuid(r.get("id"))?,
        person: uuid(r.get("user_id"))?,
        person_name: r.get("person_name"),
        agency: opt_uuid(r, "agency_id")?,
        from: parse_ts(r.get("from_at"))?,
        to: parse_ts(r.get("to_at"))?,
        case_reference: r.get("case_reference"),
        reason: r.get("reason"),
        created_by: uuid(r.get("created_by"))?,
        created_by_name: r.get("created_by_name"),
        created_at: parse_ts(r.get("created_at"))?,
        lifted_at: opt_ts(r.get("lifted_at"))?,
        lifted_by: opt_uuid(r, "lifted_by")?,
        lift_reason: r.get("lift_reason"),
    })
}

const ALERT_SELECT: &str = "SELECT g.id, g.area_code, a.name AS area_name, a.country, g.headline, g.description, \
     g.instruction, g.severity, g.issued_by, u.display_name AS issued_by_name, g.issued_at, g.expires_at, g.recipients, g.sms_recipients \
     FROM geo_alerts g JOIN areas a ON a.code = g.area_code JOIN users u ON u.id = g.issued_by";

fn alert_row(r: &SqliteRow) -> Result<GeoAlert> {
    Ok(GeoAlert {
        id: uuid(r.get("id"))?,
        area: area(r.get("area_code"))?,
        area_name: r.get("area_name"),
        country: CountryCode::parse(r.get("country")).map_err(bad)?,
        headline: r.get("headline"),
        description: r.get("description"),
        instruction: r.get("instruction"),
        severity: AlertSeverity::parse(r.get("severity")).map_err(bad)?,
        issued_by: uuid(r.get("issued_by"))?,
        issued_by_name: r.get("issued_by_name"),
        issued_at: parse_ts(r.get("issued_at"))?,
        expires_at: parse_ts(r.get("expires_at"))?,
        recipients: r.get("recipients"),
        sms_recipients: r.get("sms_recipients"),
    })
}

fn wellbeing_row(r: &SqliteRow) -> Result<WellbeingReport> {
    Ok(WellbeingReport {
        id: uuid(r.get("id"))?,
        user: uuid(r.get("user_id"))?,
        status: Wellbeing::parse(r.get("status")).map_err(bad)?,
        dependants: serde_json::from_str(r.get("dependants")).map_err(bad)?,
        note: r.get("note"),
        channel: r.get("channel"),
        area: r
            .get::<Option<String>, _>("area_code")
            .as_deref()
            .map(area)
            .transpose()?,
        at: parse_ts(r.get("at"))?,
    })
}

/// A freeze in force covers the row's person and time (`{user}`, `{at}`
/// name the columns).
fn frozen(user: &str, at: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM location_freezes f WHERE f.user_id = {user} AND f.lifted_at IS NULL \
         AND {at} >= f.from_at AND {at} <= f.to_at)"
    )
}

/// The state of one person's place while a group of batches is applied.
#[derive(Clone, PartialEq)]
struct Place {
    device: String,
    area: Option<String>,
    since: String,
    reported_at: String,
}

/// The writes of many location batches (of many devices) inside the
/// group-commit transaction, set-wise: a handful of statements whatever the
/// number of batches. Batches are applied in order, so the outcome is the
/// one of applying them one after the other. A batch of a revoked device is
/// a Conflict and writes nothing. The outer error (a database failure)
/// means nothing of the group can be trusted: the caller rolls it back.
pub(crate) async fn ingest_group_tx(
    tx: &mut Transaction<'_, Sqlite>,
    batches: &[&LocationBatch],
) -> Result<Vec<Result<IngestOutcome>>> {
    use std::collections::{HashMap, HashSet};
    // 1. Devices: which are live, marked used.
    let mut ids: Vec<String> = batches.iter().map(|b| b.device.to_string()).collect();
    ids.sort();
    ids.dedup();
    let mut live = HashSet::new();
    for chunk in ids.chunks(500) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT id, user_id FROM devices WHERE revoked_at IS NULL AND id IN (",
        );
        let mut sep = q.separated(", ");
        for id in chunk {
            sep.push_bind(id.as_str());
        }
        sep.push_unseparated(")");
        for r in q.build().fetch_all(&mut **tx).await.map_err(be)? {
            live.insert((r.get::<String, _>("id"), r.get::<String, _>("user_id")));
        }
    }
    let ok: Vec<bool> = batches
        .iter()
        .map(|b| live.contains(&(b.device.to_string(), b.user.to_string())))
        .collect();
    let mut last_seen: HashMap<String, String> = HashMap::new();
    for (b, _) in batches.iter().zip(&ok).filter(|(_, ok)| **ok) {
        let at = ts(&b.received_at);
        let e = last_seen.entry(b.device.to_string()).or_default();
        if *e < at {
            *e = at;
        }
    }
    if !last_seen.is_empty() {
        let mut q = QueryBuilder::<Sqlite>::new("WITH seen(id, at) AS (");
        q.push_values(last_seen.iter(), |mut v, (id, at)| {
            v.push_bind(id.as_str()).push_bind(at.as_str());
        });
        q.push(") UPDATE devices SET last_seen_at = (SELECT at FROM seen WHERE seen.id = devices.id) WHERE id IN (SELECT id FROM seen)");
        q.build().execute(&mut **tx).await.map_err(be)?;
    }

    // 2. Precise positions: only where and when a tracking authorisation is in force.
    let (mut lo, mut hi) = (None::<DateTime<Utc>>, None::<DateTime<Utc>>);
    for (b, _) in batches.iter().zip(&ok).filter(|(_, ok)| **ok) {
        for r in b.reports.iter().filter(|r| r.area.is_some()) {
            let t = r.report.recorded_at;
            lo = Some(lo.map_or(t, |l| l.min(t)));
            hi = Some(hi.map_or(t, |h| h.max(t)));
        }
    }
    let mut kept_per_batch = vec![0u32; batches.len()];
    if let (Some(lo), Some(hi)) = (lo, hi) {
        let auths = sqlx::query(
            "SELECT id, area_code, starts_at, ends_at, ended_at FROM tracking_authorisations \
             WHERE starts_at <= ? AND ends_at > ? AND (ended_at IS NULL OR ended_at > ?)",
        )
        .bind(ts(&hi))
        .bind(ts(&lo))
        .bind(ts(&lo))
        .fetch_all(&mut **tx)
        .await
        .map_err(be)?;
        if !auths.is_empty() {
            let mut covering = Vec::with_capacity(auths.len());
            for a in &auths {
                covering.push((
                    a.get::<String, _>("id"),
                    a.get::<String, _>("area_code"),
                    parse_ts(a.get("starts_at"))?,
                    parse_ts(a.get("ends_at"))?,
                    opt_ts(a.get("ended_at"))?,
                ));
            }
            let mut kept = vec![];
            for (i, (b, ok)) in batches.iter().zip(&ok).enumerate() {
                if !ok {
                    continue;
                }
                for r in &b.reports {
                    let Some(code) = r.area.as_ref().map(|a| a.as_str()) else {
                        continue;
                    };
                    if let Some((id, ..)) = covering.iter().find(|(_, a, s, e, ended)| {
                        a == code && tracking_active(*s, *e, *ended, r.report.recorded_at)
                    }) {
                        kept.push((*b, r, id.as_str()));
                        kept_per_batch[i] += 1;
                    }
                }
            }
            for chunk in kept.chunks(1000) {
                let mut q = QueryBuilder::<Sqlite>::new(
                    "INSERT INTO positions (user_id, device_id, tracking_id, area_code, lat, lon, accuracy_m, recorded_at, received_at) ",
                );
                q.push_values(chunk, |mut v, (b, r, tracking)| {
                    v.push_bind(b.user.to_string())
                        .push_bind(b.device.to_string())
                        .push_bind(*tracking)
                        .push_bind(r.area.as_ref().map(|a| a.as_str()))
                        .push_bind(r.report.lat)
                        .push_bind(r.report.lon)
                        .push_bind(r.report.accuracy_m)
                        .push_bind(ts(&r.report.recorded_at))
                        .push_bind(ts(&b.received_at));
                });
                q.build().execute(&mut **tx).await.map_err(be)?;
            }
        }
    }

    // 3. Each person's area: read the stored places once, apply the batches
    // in order, write back what changed.
    let mut users: Vec<String> = batches
        .iter()
        .zip(&ok)
        .filter(|(b, ok)| **ok && !b.reports.is_empty())
        .map(|(b, _)| b.user.to_string())
        .collect();
    users.sort();
    users.dedup();
    let mut stored: HashMap<String, Place> = HashMap::new();
    for chunk in users.chunks(500) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT user_id, device_id, area_code, since, reported_at FROM last_locations WHERE user_id IN (",
        );
        let mut sep = q.separated(", ");
        for u in chunk {
            sep.push_bind(u.as_str());
        }
        sep.push_unseparated(")");
        for r in q.build().fetch_all(&mut **tx).await.map_err(be)? {
            stored.insert(
                r.get("user_id"),
                Place {
                    device: r.get("device_id"),
                    area: r.get("area_code"),
                    since: r.get("since"),
                    reported_at: r.get("reported_at"),
                },
            );
        }
    }
    let before = stored.clone();
    let mut outcomes = Vec::with_capacity(batches.len());
    // (user, area entered, received) for the advisories to send.
    let mut entered = vec![];
    for (i, (b, ok)) in batches.iter().zip(&ok).enumerate() {
        if !ok {
            outcomes.push(Err(StoreError::Conflict(
                "this device was revoked: enrol it again".into(),
            )));
            continue;
        }
        let mut out = IngestOutcome {
            accepted: b.reports.len() as u32,
            positions_kept: kept_per_batch[i],
            ..Default::default()
        };
        let mut order: Vec<&ResolvedReport> = b.reports.iter().collect();
        order.sort_by_key(|r| r.report.recorded_at);
        let user = b.user.to_string();
        let Some(latest) = order.last().copied() else {
            out.area = stored
                .get(&user)
                .and_then(|p| p.area.as_deref())
                .map(area)
                .transpose()?;
            outcomes.push(Ok(out));
            continue;
        };
        let now_area = latest.area.as_ref().map(|a| a.as_str().to_string());
        let run_start = order
            .iter()
            .rev()
            .take_while(|r| r.area.as_ref().map(|a| a.as_str()) == now_area.as_deref())
            .last()
            .map(|r| r.report.recorded_at)
            .unwrap_or(latest.report.recorded_at);
        let whole_batch = order
            .iter()
            .all(|r| r.area.as_ref().map(|a| a.as_str()) == now_area.as_deref());
        let latest_at = ts(&latest.report.recorded_at);
        match stored.get(&user) {
            Some(p) if p.reported_at > latest_at => {
                // A late batch: the stored place is newer.
                out.area = p.area.as_deref().map(area).transpose()?;
                outcomes.push(Ok(out));
                continue;
            }
            Some(p) if p.area == now_area => {
                let since = if whole_batch {
                    p.since.clone()
                } else {
                    ts(&run_start)
                };
                stored.insert(
                    user,
                    Place {
                        device: b.device.to_string(),
                        area: now_area.clone(),
                        since,
                        reported_at: latest_at,
                    },
                );
            }
            _ => {
                stored.insert(
                    user.clone(),
                    Place {
                        device: b.device.to_string(),
                        area: now_area.clone(),
                        since: ts(&run_start),
                        reported_at: latest_at,
                    },
                );
                if let Some(code) = &latest.area {
                    entered.push((user, code.clone(), ts(&b.received_at)));
                    out.entered = Some(code.clone());
                }
            }
        }
        out.area = latest.area.clone();
        outcomes.push(Ok(out));
    }
    let changed: Vec<(&String, &Place)> = stored
        .iter()
        .filter(|(u, p)| before.get(*u) != Some(*p))
        .collect();
    for chunk in changed.chunks(500) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO last_locations (user_id, device_id, area_code, since, reported_at) ",
        );
        q.push_values(chunk, |mut v, (u, p)| {
            v.push_bind(u.as_str())
                .push_bind(p.device.as_str())
                .push_bind(p.area.as_deref())
                .push_bind(p.since.as_str())
                .push_bind(p.reported_at.as_str());
        });
        q.push(
            " ON CONFLICT (user_id) DO UPDATE SET device_id = excluded.device_id, area_code = excluded.area_code, \
             since = excluded.since, reported_at = excluded.reported_at",
        );
        q.build().execute(&mut **tx).await.map_err(be)?;
    }

    // 4. The advisory of each area entered, to the person who entered it.
    if !entered.is_empty() {
        let mut codes: Vec<&str> = entered.iter().map(|(_, c, _)| c.as_str()).collect();
        codes.sort();
        codes.dedup();
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT a.code, a.name, a.level, COALESCE(v.text, '') AS advisory FROM areas a \
             LEFT JOIN advisory_areas v ON v.area_code = a.code WHERE a.code IN (",
        );
        let mut sep = q.separated(", ");
        for c in &codes {
            sep.push_bind(*c);
        }
        sep.push_unseparated(")");
        let mut texts = HashMap::new();
        for r in q.build().fetch_all(&mut **tx).await.map_err(be)? {
            let code: String = r.get("code");
            texts.insert(
                code,
                messages::area_entered(r.get("name"), r.get("level"), r.get("advisory")),
            );
        }
        for chunk in entered.chunks(500) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO notifications (id, user_id, kind, subject, body, link, created_at, email_state) ",
            );
            let mut missing = None;
            q.push_values(chunk, |mut v, (u, code, at)| {
                let (subject, body) = texts.get(code.as_str()).cloned().unwrap_or_else(|| {
                    missing = Some(code.clone());
                    Default::default()
                });
                v.push_bind(Uuid::now_v7().to_string())
                    .push_bind(u.as_str())
                    .push_bind("eta.area_entered")
                    .push_bind(subject)
                    .push_bind(body)
                    .push_bind("/eta")
                    .push_bind(at.as_str())
                    .push_bind("none");
            });
            if let Some(code) = missing {
                return Err(StoreError::NotFound(format!("area {code}")));
            }
            q.build().execute(&mut **tx).await.map_err(be)?;
        }
    }
    Ok(outcomes)
}

/// The writes of one location batch.
pub(crate) async fn ingest_tx(
    tx: &mut Transaction<'_, Sqlite>,
    b: &LocationBatch,
) -> Result<IngestOutcome> {
    ingest_group_tx(tx, &[b]).await?.remove(0)
}

impl SqliteStore {
    pub(crate) async fn eta_create_device(
        &self,
        d: &NewDevice,
        audit: &AuditContext,
    ) -> Result<Device> {
        let mut tx = self.begin().await?;
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO devices (id, user_id, name, platform, token_digest, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(d.user.to_string())
        .bind(&d.name)
        .bind(&d.platform)
        .bind(&d.token_digest)
        .bind(ts(&audit.at))
        .execute(&mut *tx)
        .await
        .map_err(be)?;
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

    pub(crate) async fn eta_list_devices(&self, user: Uuid) -> Result<Vec<Device>> {
        sqlx::query(&format!(
            "SELECT {DEVICE_COLS} FROM devices WHERE user_id = ? \
             ORDER BY revoked_at IS NOT NULL, last_seen_at IS NULL, last_seen_at DESC, created_at DESC"
        ))
        .bind(user.to_string())
        .fetch_all(&self.reader)
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
        let n = sqlx::query(
            "UPDATE devices SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
        )
        .bind(ts(&audit.at))
        .bind(device.to_string())
        .bind(user.to_string())
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

    pub(crate) async fn eta_device_by_token(&self, digest: &str) -> Result<Option<(Device, User)>> {
        let Some(r) = sqlx::query(&format!(
            "SELECT {DEVICE_COLS} FROM devices WHERE token_digest = ? AND revoked_at IS NULL"
        ))
        .bind(digest)
        .fetch_optional(&self.reader)
        .await
        .map_err(be)?
        else {
            return Ok(None);
        };
        let d = device_row(&r)?;
        match self.get_user(d.user).await? {
            Some(u) if !u.disabled => Ok(Some((d, u))),
            _ => Ok(None),
        }
    }

    pub(crate) async fn eta_ingest(&self, b: &LocationBatch) -> Result<IngestOutcome> {
        match self
            .group
            .run(crate::group::Work::Locations(b.clone()))
            .await?
        {
            crate::group::Done::Ingested(o) => Ok(o),
            _ => Err(bad("unexpected answer from the group-commit writer")),
        }
    }

    pub(crate) async fn eta_last_location(&self, user: Uuid) -> Result<Option<LastLocation>> {
        sqlx::query("SELECT user_id, device_id, area_code, since, reported_at FROM last_locations WHERE user_id = ?")
            .bind(user.to_string())
            .fetch_optional(&self.reader)
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
        let mut tx = self.begin().await?;
        let id = Uuid::now_v7();
        let r = &t.request;
        sqlx::query(
            "INSERT INTO tracking_authorisations (id, area_code, starts_at, ends_at, reason, authorised_by, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(r.area.as_str())
        .bind(ts(&r.starts_at))
        .bind(ts(&r.ends_at))
        .bind(&r.reason)
        .bind(t.authorised_by.to_string())
        .bind(ts(&audit.at))
        .execute(&mut *tx)
        .await
        .map_err(|e| match be(e) {
            StoreError::Invalid { .. } => StoreError::NotFound(format!("area {}", r.area)),
            other => other,
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
        let row = sqlx::query(
            "SELECT area_code, ended_at, ends_at FROM tracking_authorisations WHERE id = ?",
        )
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(be)?
        .ok_or_else(|| StoreError::NotFound(format!("tracking authorisation {id}")))?;
        let at = ts(&audit.at);
        if row.get::<Option<String>, _>("ended_at").is_some()
            || row.get::<String, _>("ends_at") <= at
        {
            return Err(StoreError::Conflict(
                "this tracking authorisation has already ended".into(),
            ));
        }
        sqlx::query(
            "UPDATE tracking_authorisations SET ended_at = ?, ended_by = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL",
        )
        .bind(&at)
        .bind(by.to_string())
        .bind(reason)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(be)?;
        audit_tx(
            &mut tx,
            audit,
            "tracking.end",
            &format!("area:{}", row.get::<String, _>("area_code")),
            json!({"tracking": id, "reason": reason}),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        self.eta_get_tracking(id)
            .await?
            .ok_or_else(|| bad("tracking authorisation vanished"))
    }

    pub(crate) async fn eta_get_tracking(&self, id: Uuid) -> Result<Option<TrackingAuthorisation>> {
        sqlx::query(&format!("{TRACKING_SELECT} WHERE t.id = ?"))
            .bind(id.to_string())
            .fetch_optional(&self.reader)
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
        fn filters<'a>(b: &mut QueryBuilder<'a, Sqlite>, q: &'a TrackingQuery) {
            b.push(" WHERE 1 = 1");
            if let Some(at) = &q.active_at {
                let at = ts(at);
                b.push(" AND t.starts_at <= ")
                    .push_bind(at.clone())
                    .push(" AND t.ends_at > ")
                    .push_bind(at.clone())
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
        let mut count = QueryBuilder::<Sqlite>::new(
            "SELECT COUNT(*) FROM tracking_authorisations t JOIN areas a ON a.code = t.area_code",
        );
        filters(&mut count, q);
        let total: i64 = count
            .build()
            .fetch_one(&self.reader)
            .await
            .map_err(be)?
            .get(0);
        let mut b = QueryBuilder::<Sqlite>::new(TRACKING_SELECT);
        filters(&mut b, q);
        b.push(" ORDER BY t.starts_at DESC, t.id DESC LIMIT ")
            .push_bind(page.limit)
            .push(" OFFSET ")
            .push_bind(page.offset);
        let items = b
            .build()
            .fetch_all(&self.reader)
            .await
            .map_err(be)?
            .iter()
            .map(tracking_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page {
            items,
            total,
            limit: page.limit,
            offset: page.offset,
        })
    }

    pub(crate) async fn eta_positions_in_area(
        &self,
        code: &AreaCode,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        visible: &(dyn Fn(Option<Uuid>) -> bool + Send + Sync),
        audit: &AuditContext,
    ) -> Result<Vec<Position>> {
        let mut tx = self.begin().await?;
        let rows = sqlx::query(&format!(
            "{POSITION_SELECT} WHERE p.area_code = ? AND p.recorded_at >= ? AND p.recorded_at < ? \
             ORDER BY p.recorded_at DESC, p.id DESC"
        ))
        .bind(code.as_str())
        .bind(ts(&from))
        .bind(ts(&to))
        .fetch_all(&mut *tx)
        .await
        .map_err(be)?;
        let mut shown = Vec::new();
        for r in &rows {
            let p = position_row(r)?;
            if visible(p.agency) {
                shown.push(p);
            }
        }
        let people: std::collections::BTreeSet<Uuid> = shown.iter().map(|p| p.user).collect();
        audit_tx(
            &mut tx,
            audit,
            "location.view",
            &format!("area:{code}"),
            json!({"from": from, "to": to, "positions": shown.len(), "people": people.len(),
                   "withheld": rows.len() - shown.len()}),
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
        let mut tx = self.begin().await?;
        let id = Uuid::now_v7();
        let r = &f.request;
        sqlx::query(
            "INSERT INTO location_freezes (id, user_id, from_at, to_at, case_reference, reason, created_by, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(r.person.to_string())
        .bind(ts(&r.from))
        .bind(ts(&r.to))
        .bind(&r.case_reference)
        .bind(&r.reason)
        .bind(f.created_by.to_string())
        .bind(ts(&audit.at))
        .execute(&mut *tx)
        .await
        .map_err(|e| match be(e) {
            StoreError::Invalid { .. } => StoreError::NotFound(format!("person {}", r.person)),
            other => other,
        })?;
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
        let person: String = sqlx::query("SELECT user_id FROM location_freezes WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(be)?
            .ok_or_else(|| StoreError::NotFound(format!("freeze {id}")))?
            .get(0);
        let n = sqlx::query(
            "UPDATE location_freezes SET lifted_at = ?, lifted_by = ?, lift_reason = ? WHERE id = ? AND lifted_at IS NULL",
        )
        .bind(ts(&audit.at))
        .bind(by.to_string())
        .bind(reason)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(be)?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict(
                "this freeze was already lifted".into(),
            ));
        }
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
        sqlx::query(&format!("{FREEZE_SELECT} WHERE f.id = ?"))
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await
            .map_err(be)?
            .as_ref()
            .map(freeze_row)
            .transpose()
    }

    pub(crate) async fn eta_list_freezes(&self, q: &FreezeQuery) -> Result<Vec<Freeze>> {
        let mut b = QueryBuilder::<Sqlite>::new(FREEZE_SELECT);
        b.push(" WHERE 1 = 1");
        if let Some(p) = q.person {
            b.push(" AND f.user_id = ").push_bind(p.to_string());
        }
        if let Some(a) = q.agency {
            b.push(" AND p.agency_id = ").push_bind(a.to_string());
        }
        if q.active_only {
            b.push(" AND f.lifted_at IS NULL");
        }
        b.push(" ORDER BY f.created_at DESC, f.id DESC LIMIT 1000");
        b.build()
            .fetch_all(&self.reader)
            .await
            .map_err(be)?
            .iter()
            .map(freeze_row)
            .collect()
    }

    pub(crate) async fn eta_purge(
        &self,
        cutoff: DateTime<Utc>,
        after: Option<DateTime<Utc>>,
        limit: i64,
    ) -> Result<PurgeChunk> {
        let cutoff_s = ts(&cutoff);
        let from = after.map(|a| ts(&a)).unwrap_or_default();
        let mut tx = self.begin().await?;
        // The time bound of the next `limit` positions due.
        let bound: Option<String> = sqlx::query(
            "SELECT recorded_at FROM positions WHERE recorded_at >= ? AND recorded_at < ? \
             ORDER BY recorded_at LIMIT 1 OFFSET ?",
        )
        .bind(&from)
        .bind(&cutoff_s)
        .bind(limit.max(1))
        .fetch_optional(&mut *tx)
        .await
        .map_err(be)?
        .map(|r| r.get(0));
        // Many positions at the very same time: go past them all.
        let bound = match bound {
            Some(b) if b <= from => sqlx::query(
                "SELECT MIN(recorded_at) FROM positions WHERE recorded_at > ? AND recorded_at < ?",
            )
            .bind(&from)
            .bind(&cutoff_s)
            .fetch_one(&mut *tx)
            .await
            .map_err(be)?
            .get(0),
            other => other,
        };
        let upto = bound.clone().unwrap_or_else(|| cutoff_s.clone());
        let positions = sqlx::query(&format!(
            "DELETE FROM positions WHERE recorded_at >= ? AND recorded_at < ? AND NOT {}",
            frozen("positions.user_id", "positions.recorded_at")
        ))
        .bind(&from)
        .bind(&upto)
        .execute(&mut *tx)
        .await
        .map_err(be)?
        .rows_affected();
        let mut chunk = PurgeChunk {
            positions,
            ..Default::default()
        };
        match bound {
            Some(b) => chunk.next = Some(parse_ts(&b)?),
            None => {
                chunk.last_locations = sqlx::query(&format!(
                    "DELETE FROM last_locations WHERE reported_at < ? AND NOT {}",
                    frozen("last_locations.user_id", "last_locations.reported_at")
                ))
                .bind(&cutoff_s)
                .execute(&mut *tx)
                .await
                .map_err(be)?
                .rows_affected();
            }
        }
        tx.commit().await.map_err(be)?;
        Ok(chunk)
    }

    pub(crate) async fn eta_held(&self, user: Uuid) -> Result<HeldLocationData> {
        let positions = sqlx::query(&format!(
            "{POSITION_SELECT} WHERE p.user_id = ? ORDER BY p.recorded_at DESC, p.id DESC"
        ))
        .bind(user.to_string())
        .fetch_all(&self.reader)
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
        let u = user.to_string();
        let positions_deleted = sqlx::query(&format!(
            "DELETE FROM positions WHERE user_id = ? AND NOT {}",
            frozen("positions.user_id", "positions.recorded_at")
        ))
        .bind(&u)
        .execute(&mut *tx)
        .await
        .map_err(be)?
        .rows_affected();
        let positions_frozen: i64 = sqlx::query("SELECT COUNT(*) FROM positions WHERE user_id = ?")
            .bind(&u)
            .fetch_one(&mut *tx)
            .await
            .map_err(be)?
            .get(0);
        let last = sqlx::query(&format!(
            "DELETE FROM last_locations WHERE user_id = ? AND NOT {}",
            frozen("last_locations.user_id", "last_locations.reported_at")
        ))
        .bind(&u)
        .execute(&mut *tx)
        .await
        .map_err(be)?
        .rows_affected();
        let out = DeletionOutcome {
            positions_deleted,
            positions_frozen: positions_frozen as u64,
            last_location_deleted: last > 0,
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
            "INSERT INTO location_undertakings (user_id, version, accepted_at) VALUES (?, ?, ?) \
             ON CONFLICT (user_id) DO UPDATE SET version = excluded.version, accepted_at = excluded.accepted_at",
        )
        .bind(user.to_string())
        .bind(version)
        .bind(ts(&audit.at))
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
        let Some(r) =
            sqlx::query("SELECT version, accepted_at FROM location_undertakings WHERE user_id = ?")
                .bind(user.to_string())
                .fetch_optional(&self.reader)
                .await
                .map_err(be)?
        else {
            return Ok(None);
        };
        Ok(Some(Undertaking {
            user,
            version: r.get("version"),
            accepted_at: parse_ts(r.get("accepted_at"))?,
        }))
    }

    pub(crate) async fn eta_issue_alert(
        &self,
        a: &NewGeoAlert,
        fresh_after: DateTime<Utc>,
        audit: &AuditContext,
    ) -> Result<GeoAlert> {
        let mut tx = self.begin().await?;
        let area_name: String = sqlx::query("SELECT name FROM areas WHERE code = ?")
            .bind(a.area.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(be)?
            .ok_or_else(|| StoreError::NotFound(format!("area {}", a.area)))?
            .get(0);
        let id = Uuid::now_v7();
        let at = ts(&audit.at);
        let (subject, body) =
            messages::geo_alert(&a.headline, &area_name, a.severity, &a.instruction);
        let recipients = sqlx::query(&format!(
            "INSERT INTO notifications (id, user_id, kind, subject, body, link, created_at, email_state) \
             SELECT {SQL_UUID}, l.user_id, 'eta.alert', ?, ?, ?, ?, 'none' FROM last_locations l \
             JOIN users u ON u.id = l.user_id WHERE l.area_code = ? AND l.reported_at >= ? AND u.disabled = 0"
        ))
        .bind(&subject)
        .bind(&body)
        .bind(format!("/alerts/{id}"))
        .bind(&at)
        .bind(a.area.as_str())
        .bind(ts(&fresh_after))
        .execute(&mut *tx)
        .await
        .map_err(be)?
        .rows_affected();
        // People stationed there without a smartphone get a text message.
        let sms = messages::geo_alert_sms(&a.headline, &area_name, a.severity, &a.instruction);
        let sms_recipients = sqlx::query(&format!(
            "INSERT INTO sms_outbox (id, user_id, phone, body, kind, ref, created_at) \
             SELECT {SQL_UUID}, p.user_id, p.phone, ?, 'alert', ?, ? FROM profiles p JOIN users u ON u.id = p.user_id \
             WHERE p.duty_station = ? AND p.phone <> '' AND u.disabled = 0 \
             AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.user_id = p.user_id AND d.revoked_at IS NULL)"
        ))
        .bind(&sms)
        .bind(format!("alert:{id}"))
        .bind(&at)
        .bind(a.area.as_str())
        .execute(&mut *tx)
        .await
        .map_err(be)?
        .rows_affected();
        sqlx::query(
            "INSERT INTO geo_alerts (id, area_code, headline, description, instruction, severity, issued_by, issued_at, expires_at, recipients, sms_recipients) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(a.area.as_str())
        .bind(&a.headline)
        .bind(&a.description)
        .bind(&a.instruction)
        .bind(a.severity.as_str())
        .bind(a.issued_by.to_string())
        .bind(&at)
        .bind(ts(&a.expires_at))
        .bind(recipients as i64)
        .bind(sms_recipients as i64)
        .execute(&mut *tx)
        .await
        .map_err(be)?;
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
        sqlx::query(&format!("{ALERT_SELECT} WHERE g.id = ?"))
            .bind(id.to_string())
            .fetch_optional(&self.reader)
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
        let code = code.map(|c| c.as_str().to_string());
        let total: i64 =
            sqlx::query("SELECT COUNT(*) FROM geo_alerts WHERE ? IS NULL OR area_code = ?")
                .bind(&code)
                .bind(&code)
                .fetch_one(&self.reader)
                .await
                .map_err(be)?
                .get(0);
        let items = sqlx::query(&format!(
            "{ALERT_SELECT} WHERE ? IS NULL OR g.area_code = ? ORDER BY g.issued_at DESC, g.id DESC LIMIT ? OFFSET ?"
        ))
        .bind(&code)
        .bind(&code)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(&self.reader)
        .await
        .map_err(be)?
        .iter()
        .map(alert_row)
        .collect::<Result<Vec<_>>>()?;
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
        let area: Option<String> =
            sqlx::query("SELECT area_code FROM last_locations WHERE user_id = ?")
                .bind(r.user.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(be)?
                .and_then(|row| row.get(0));
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO wellbeing_reports (id, user_id, status, dependants, note, channel, area_code, at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(r.user.to_string())
        .bind(r.status.as_str())
        .bind(serde_json::to_string(&r.dependants).map_err(bad)?)
        .bind(&r.note)
        .bind(&r.channel)
        .bind(&area)
        .bind(ts(&audit.at))
        .execute(&mut *tx)
        .await
        .map_err(be)?;
        audit_tx(
            &mut tx,
            audit,
            "wellbeing.report",
            &format!("user:{}", r.user),
            json!({"status": r.status.as_str(), "dependants": r.dependants.len(), "channel": r.channel}),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        self.eta_latest_wellbeing(r.user)
            .await?
            .ok_or_else(|| bad("wellbeing report vanished"))
    }

    pub(crate) async fn eta_latest_wellbeing(&self, user: Uuid) -> Result<Option<WellbeingReport>> {
        sqlx::query(
            "SELECT id, user_id, status, dependants, note, channel, area_code, at FROM wellbeing_reports \
             WHERE user_id = ? ORDER BY at DESC, id DESC LIMIT 1",
        )
        .bind(user.to_string())
        .fetch_optional(&self.reader)
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
const MAX_SMS_ATTEMPTS: i64 = 5;

impl SqliteStore {
    pub(crate) async fn sms_claim(
        &self,
        limit: i64,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutgoingSms>> {
        let mut tx = self.begin().await?;
        let rows = sqlx::query(
            "UPDATE sms_outbox SET state = 'sending', send_after = ?, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM sms_outbox WHERE state IN ('pending', 'sending') \
                 AND (send_after IS NULL OR send_after <= ?) ORDER BY created_at LIMIT ?) \
             RETURNING id, user_id, phone, body, attempts",
        )
        .bind(ts(&(now + chrono::Duration::minutes(SMS_LEASE_MINUTES))))
        .bind(ts(&now))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(be)?;
        tx.commit().await.map_err(be)?;
        rows.iter()
            .map(|r| {
                Ok(OutgoingSms {
                    id: uuid(r.get("id"))?,
                    user: opt_uuid(r, "user_id")?,
                    phone: r.get("phone"),
                    body: r.get("body"),
                    attempts: r.get::<i64, _>("attempts") as i32,
                })
            })
            .collect()
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
                sqlx::query(
                    "UPDATE sms_outbox SET state = 'sent', sent_at = ?, error = NULL WHERE id = ?",
                )
                .bind(ts(&now))
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(be)?;
                for m in ids {
                    sqlx::query("INSERT INTO sms_parts (message_id, sms_id) VALUES (?, ?) ON CONFLICT (message_id) DO NOTHING")
                        .bind(m)
                        .bind(id.to_string())
                        .execute(&mut *tx)
                        .await
                        .map_err(be)?;
                }
            }
            Err(e) => {
                let attempts: i64 = sqlx::query("SELECT attempts FROM sms_outbox WHERE id = ?")
                    .bind(id.to_string())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(be)?
                    .map(|r| r.get(0))
                    .unwrap_or(MAX_SMS_ATTEMPTS);
                let (state, after) = if attempts >= MAX_SMS_ATTEMPTS {
                    ("failed", None)
                } else {
                    // 1, 2, 4, 8 minutes.
                    let wait = warden_store::retry_backoff(attempts);
                    ("pending", Some(ts(&(now + wait))))
                };
                sqlx::query(
                    "UPDATE sms_outbox SET state = ?, send_after = ?, error = ? WHERE id = ?",
                )
                .bind(state)
                .bind(after)
                .bind(e.chars().take(500).collect::<String>())
                .bind(id.to_string())
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
            "INSERT INTO sms_receipts (message_id, state, at) VALUES (?, ?, ?) \
             ON CONFLICT (message_id) DO UPDATE SET state = excluded.state, at = excluded.at",
        )
        .bind(message_id)
        .bind(state)
        .bind(ts(&at))
        .execute(&mut *tx)
        .await
        .map_err(be)?;
        let known = sqlx::query("SELECT 1 FROM sms_parts WHERE message_id = ?")
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
             FROM sms_outbox o WHERE o.ref = ? ORDER BY o.created_at, o.id",
        )
        .bind(reference)
        .fetch_all(&self.reader)
        .await
        .map_err(be)?
        .iter()
        .map(|r| {
            Ok(SmsRecord {
                id: uuid(r.get("id"))?,
                user: opt_uuid(r, "user_id")?,
                phone: r.get("phone"),
                kind: r.get("kind"),
                reference: r.get("ref"),
                state: r.get("state"),
                attempts: r.get::<i64, _>("attempts") as i32,
                receipt: r.get("receipt"),
                created_at: parse_ts(r.get("created_at"))?,
            })
        })
        .collect()
    }

    pub(crate) async fn user_of_phone(&self, phone: &str) -> Result<Option<User>> {
        let id: Option<String> = sqlx::query(
            "SELECT user_id FROM profiles WHERE phone = ? ORDER BY updated_at DESC LIMIT 1",
        )
        .bind(phone)
        .fetch_optional(&self.reader)
        .await
        .map_err(be)?
        .map(|r| r.get(0));
        match id {
            Some(id) => self.get_user(uuid(&id)?).await,
            None => Ok(None),
        }
    }
}
