//! TRIP storage on SQLite: processing modes, travel requests, legs.

use crate::{audit_tx, be, parse_ts, ts, uuid, SqliteStore};
use serde_json::json;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};
use std::collections::HashMap;
use uuid::Uuid;
use warden_domain::people::AirlineCode;
use warden_domain::trip::{
    DenialGround, LegKind, LegStatus, ProcessingMode, TripPurpose, TripStatus,
};
use warden_domain::{AreaCode, CountryCode};
use warden_store::*;

fn bad(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn mode_of(s: &str) -> Result<ProcessingMode> {
    ProcessingMode::parse(s).map_err(bad)
}

fn leg_row(r: &SqliteRow) -> Result<Leg> {
    let kind = match r.get::<&str, _>("kind") {
        "clearance" => LegKind::Clearance,
        "notification" => LegKind::Notification,
        other => return Err(bad(format!("bad leg kind {other:?}"))),
    };
    let grounds: Vec<String> = serde_json::from_str(r.get::<&str, _>("grounds")).map_err(bad)?;
    Ok(Leg {
        seq: r.get::<i64, _>("seq") as i32,
        origin: r.get("origin"),
        destination: r.get("destination"),
        area: AreaCode::parse(r.get("area_code")).map_err(bad)?,
        area_name: r.get("area_name"),
        country: CountryCode::parse(r.get("country")).map_err(bad)?,
        depart: parse_ts(r.get("depart"))?,
        arrive: parse_ts(r.get("arrive"))?,
        depart_tz: r.get("depart_tz"),
        arrive_tz: r.get("arrive_tz"),
        kind,
        status: LegStatus::parse(r.get("status")).ok_or_else(|| bad("bad leg status"))?,
        decided_by: r
            .get::<Option<String>, _>("decided_by")
            .as_deref()
            .map(uuid)
            .transpose()?,
        decided_by_name: r.get("decided_by_name"),
        decided_at: r
            .get::<Option<String>, _>("decided_at")
            .as_deref()
            .map(parse_ts)
            .transpose()?,
        grounds: grounds
            .iter()
            .map(|g| DenialGround::parse(g).ok_or_else(|| bad(format!("bad denial ground {g:?}"))))
            .collect::<Result<_>>()?,
        comment: r.get("comment"),
        carrier: r
            .get::<Option<String>, _>("carrier")
            .map(|c| AirlineCode::parse(&c).map_err(bad))
            .transpose()?,
        answer: r.get("answer"),
        answered_at: r
            .get::<Option<String>, _>("answered_at")
            .as_deref()
            .map(parse_ts)
            .transpose()?,
    })
}

const LEG_SELECT: &str =
    "SELECT l.*, a.name AS area_name, a.country AS country, d.display_name AS decided_by_name \
     FROM legs l JOIN areas a ON a.code = l.area_code LEFT JOIN users d ON d.id = l.decided_by";

/// Future legs into `area` take the kind and first status of `mode`.
async fn reevaluate_sqlite(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    area: &AreaCode,
    mode: ProcessingMode,
    now: &str,
) -> Result<u64> {
    let from = match mode {
        ProcessingMode::Manual => LegStatus::initial(ProcessingMode::Automatic),
        ProcessingMode::Automatic => LegStatus::initial(ProcessingMode::Manual),
    };
    Ok(sqlx::query(
        "UPDATE legs SET kind = ?, status = ?, reevaluated_at = ? WHERE area_code = ? AND status = ? AND depart > ?",
    )
    .bind(mode.leg_kind().as_str())
    .bind(LegStatus::initial(mode).as_str())
    .bind(now)
    .bind(area.as_str())
    .bind(from.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(be)?
    .rows_affected())
}

/// Bound parameters per statement stay well under SQLite's limit (32,766).
const PARAMS_PER_STATEMENT: usize = 16_000;

/// The writes of one submission, inside `tx`; the trip as stored.
pub(crate) async fn insert_request_tx(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    r: &NewTravelRequest,
    audit: &AuditContext,
    id: Uuid,
) -> Result<TravelRequest> {
    let mut out = insert_requests_tx(tx, &[(r, audit, id)])
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) if r.ta_number.is_some() => StoreError::Conflict(format!(
                "TA {} is already recorded for this agency",
                r.ta_number.as_deref().unwrap_or_default()
            )),
            other => other,
        })?;
    out.pop().ok_or_else(|| bad("no trip written"))
}

/// The writes of several submissions set-wise, inside `tx` (a handful of
/// statements for any number of trips): the trips as stored, answered from
/// what was written rather than read back. One bad submission fails them all
/// (the group-commit writer then writes each alone).
pub(crate) async fn insert_requests_tx(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    jobs: &[(&NewTravelRequest, &AuditContext, Uuid)],
) -> Result<Vec<TravelRequest>> {
    if jobs.is_empty() {
        return Ok(vec![]);
    }
    // The areas of every leg: name, country and processing mode.
    let mut codes: Vec<&str> = jobs
        .iter()
        .flat_map(|(r, ..)| r.legs.iter().map(|l| l.area.as_str()))
        .collect();
    codes.sort_unstable();
    codes.dedup();
    let mut areas: HashMap<String, (String, CountryCode, ProcessingMode)> = HashMap::new();
    for chunk in codes.chunks(PARAMS_PER_STATEMENT) {
        let mut b = QueryBuilder::<Sqlite>::new(
            "SELECT a.code, a.name, a.country, m.mode FROM areas a LEFT JOIN area_modes m ON m.area_code = a.code WHERE a.code IN (",
        );
        let mut sep = b.separated(", ");
        for c in chunk {
            sep.push_bind(*c);
        }
        b.push(")");
        for row in b.build().fetch_all(&mut **tx).await.map_err(be)? {
            let mode = match row.get::<Option<String>, _>("mode") {
                Some(m) => mode_of(&m)?,
                None => ProcessingMode::Automatic,
            };
            areas.insert(
                row.get("code"),
                (
                    row.get("name"),
                    CountryCode::parse(row.get("country")).map_err(bad)?,
                    mode,
                ),
            );
        }
    }
    for (r, ..) in jobs {
        for (i, l) in r.legs.iter().enumerate() {
            if !areas.contains_key(l.area.as_str()) {
                return Err(StoreError::NotFound(format!("area {} (legs[{i}])", l.area)));
            }
        }
    }
    // The travellers: name, and agency (that of a TA number).
    let mut ids: Vec<String> = jobs.iter().map(|(r, ..)| r.traveller.to_string()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut travellers: HashMap<String, (String, Option<String>)> = HashMap::new();
    for chunk in ids.chunks(PARAMS_PER_STATEMENT) {
        let mut b = QueryBuilder::<Sqlite>::new(
            "SELECT id, display_name, agency_id FROM users WHERE id IN (",
        );
        let mut sep = b.separated(", ");
        for c in chunk {
            sep.push_bind(c.as_str());
        }
        b.push(")");
        for row in b.build().fetch_all(&mut **tx).await.map_err(be)? {
            travellers.insert(
                row.get("id"),
                (row.get("display_name"), row.get("agency_id")),
            );
        }
    }
    let agency_of = |r: &NewTravelRequest| -> Option<String> {
        r.ta_number.as_ref()?;
        travellers.get(&r.traveller.to_string())?.1.clone()
    };
    for chunk in jobs.chunks(PARAMS_PER_STATEMENT / 8) {
        let mut b = QueryBuilder::<Sqlite>::new(
            "INSERT INTO travel_requests (id, traveller_id, submitted_by, purpose, ta_number, agency_id, created_at, updated_at) ",
        );
        b.push_values(chunk, |mut q, (r, audit, id)| {
            let now = ts(&audit.at);
            q.push_bind(id.to_string())
                .push_bind(r.traveller.to_string())
                .push_bind(r.submitted_by.to_string())
                .push_bind(r.purpose.as_str())
                .push_bind(r.ta_number.clone())
                .push_bind(agency_of(r))
                .push_bind(now.clone())
                .push_bind(now);
        });
        b.build().execute(&mut **tx).await.map_err(be)?;
    }
    let legs: Vec<(Uuid, i64, &NewLeg)> = jobs
        .iter()
        .flat_map(|(r, _, id)| {
            r.legs
                .iter()
                .enumerate()
                .map(move |(i, l)| (*id, i as i64 + 1, l))
        })
        .collect();
    for chunk in legs.chunks(PARAMS_PER_STATEMENT / 12) {
        let mut b = QueryBuilder::<Sqlite>::new(
            "INSERT INTO legs (request_id, seq, origin, destination, area_code, depart, arrive, depart_tz, arrive_tz, carrier, kind, status) ",
        );
        b.push_values(chunk, |mut q, (id, seq, l)| {
            let mode = areas[l.area.as_str()].2;
            q.push_bind(id.to_string())
                .push_bind(*seq)
                .push_bind(&l.origin)
                .push_bind(&l.destination)
                .push_bind(l.area.as_str())
                .push_bind(ts(&l.depart))
                .push_bind(ts(&l.arrive))
                .push_bind(&l.depart_tz)
                .push_bind(&l.arrive_tz)
                .push_bind(l.carrier.as_ref().map(|c| c.as_str()))
                .push_bind(mode.leg_kind().as_str())
                .push_bind(LegStatus::initial(mode).as_str());
        });
        b.build().execute(&mut **tx).await.map_err(be)?;
    }
    let entries: Vec<(&AuditContext, String, serde_json::Value)> = jobs
        .iter()
        .map(|(r, audit, id)| {
            let kinds: Vec<&str> = r
                .legs
                .iter()
                .map(|l| areas[l.area.as_str()].2.leg_kind().as_str())
                .collect();
            (
                *audit,
                format!("trip:{id}"),
                json!({"purpose": r.purpose.as_str(), "legs": r.legs.iter().map(|l| l.area.as_str()).collect::<Vec<_>>(), "kinds": kinds, "ta_number": r.ta_number}),
            )
        })
        .collect();
    audit_many_tx(tx, "trip.submit", &entries).await?;
    // The trips as written (timestamps as stored, to the microsecond).
    let mut out = Vec::with_capacity(jobs.len());
    for (r, audit, id) in jobs {
        let at = parse_ts(&ts(&audit.at))?;
        let legs: Vec<Leg> = r
            .legs
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let (name, country, mode) = &areas[l.area.as_str()];
                Ok(Leg {
                    seq: i as i32 + 1,
                    origin: l.origin.clone(),
                    destination: l.destination.clone(),
                    area: l.area.clone(),
                    area_name: name.clone(),
                    country: country.clone(),
                    depart: parse_ts(&ts(&l.depart))?,
                    arrive: parse_ts(&ts(&l.arrive))?,
                    depart_tz: l.depart_tz.clone(),
                    arrive_tz: l.arrive_tz.clone(),
                    kind: mode.leg_kind(),
                    status: LegStatus::initial(*mode),
                    decided_by: None,
                    decided_by_name: None,
                    decided_at: None,
                    grounds: vec![],
                    comment: String::new(),
                    carrier: l.carrier.clone(),
                    answer: String::new(),
                    answered_at: None,
                })
            })
            .collect::<Result<_>>()?;
        let statuses: Vec<LegStatus> = legs.iter().map(|l| l.status).collect();
        let traveller = travellers
            .get(&r.traveller.to_string())
            .ok_or_else(|| StoreError::NotFound(format!("user {}", r.traveller)))?;
        out.push(TravelRequest {
            id: *id,
            traveller: r.traveller,
            traveller_name: traveller.0.clone(),
            submitted_by: r.submitted_by,
            purpose: r.purpose,
            ta_number: r.ta_number.clone(),
            agency: agency_of(r).as_deref().map(uuid).transpose()?,
            status: TripStatus::of(&statuses),
            created_at: at,
            updated_at: at,
            legs,
        });
    }
    Ok(out)
}

/// Appends several audit entries of one action in order, chained, with one
/// read of the chain's head and multi-row inserts.
async fn audit_many_tx(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    action: &str,
    entries: &[(&AuditContext, String, serde_json::Value)],
) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let head = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await
        .map_err(be)?;
    let (mut seq, mut prev) = match head {
        Some(r) => (r.get::<i64, _>("seq"), r.get::<String, _>("hash")),
        None => (0, AUDIT_GENESIS.to_string()),
    };
    let mut rows = Vec::with_capacity(entries.len());
    for (ctx, target, detail) in entries {
        seq += 1;
        let detail = detail.to_string();
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
        rows.push((seq, *ctx, target, detail, prev, hash.clone()));
        prev = hash;
    }
    for chunk in rows.chunks(PARAMS_PER_STATEMENT / 10) {
        let mut b = QueryBuilder::<Sqlite>::new(
            "INSERT INTO audit_log (seq, at, actor_id, actor_name, ip, action, target, detail, prev_hash, hash) ",
        );
        b.push_values(chunk, |mut q, (seq, ctx, target, detail, prev, hash)| {
            q.push_bind(*seq)
                .push_bind(ts(&ctx.at))
                .push_bind(ctx.actor.map(|a| a.to_string()))
                .push_bind(&ctx.actor_name)
                .push_bind(&ctx.ip)
                .push_bind(action)
                .push_bind(target.as_str())
                .push_bind(detail)
                .push_bind(prev)
                .push_bind(hash);
        });
        b.build().execute(&mut **tx).await.map_err(be)?;
    }
    Ok(())
}

fn purpose(s: &str) -> Result<TripPurpose> {
    TripPurpose::parse(s).map_err(bad)
}

const REQUEST_SELECT: &str = "SELECT t.*, u.display_name AS traveller_name \
     FROM travel_requests t JOIN users u ON u.id = t.traveller_id";

/// A request row of `REQUEST_SELECT` with its legs (in order).
fn request_row(r: &SqliteRow, legs: Vec<Leg>) -> Result<TravelRequest> {
    let statuses: Vec<LegStatus> = legs.iter().map(|l| l.status).collect();
    Ok(TravelRequest {
        id: uuid(r.get("id"))?,
        traveller: uuid(r.get("traveller_id"))?,
        traveller_name: r.get("traveller_name"),
        submitted_by: uuid(r.get("submitted_by"))?,
        purpose: purpose(r.get("purpose"))?,
        ta_number: r.get("ta_number"),
        agency: r
            .get::<Option<String>, _>("agency_id")
            .as_deref()
            .map(uuid)
            .transpose()?,
        status: TripStatus::of(&statuses),
        created_at: parse_ts(r.get("created_at"))?,
        updated_at: parse_ts(r.get("updated_at"))?,
        legs,
    })
}

impl SqliteStore {
    pub(crate) async fn trip_set_mode(
        &self,
        area: &AreaCode,
        mode: ProcessingMode,
        actor: Uuid,
        reason: &str,
        audit: &AuditContext,
    ) -> Result<u64> {
        let mut tx = self.begin().await?;
        let exists = sqlx::query("SELECT 1 FROM areas WHERE code = ?")
            .bind(area.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(be)?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!("area {area}")));
        }
        let at = ts(&audit.at);
        sqlx::query(
            "INSERT INTO area_modes (area_code, mode, set_by, set_at, reason) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (area_code) DO UPDATE SET mode = excluded.mode, set_by = excluded.set_by, set_at = excluded.set_at, reason = excluded.reason",
        )
        .bind(area.as_str())
        .bind(mode.as_str())
        .bind(actor.to_string())
        .bind(&at)
        .bind(reason)
        .execute(&mut *tx)
        .await
        .map_err(be)?;
        sqlx::query("INSERT INTO area_mode_changes (id, area_code, mode, set_by, reason, at) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(Uuid::now_v7().to_string())
            .bind(area.as_str())
            .bind(mode.as_str())
            .bind(actor.to_string())
            .bind(reason)
            .bind(&at)
            .execute(&mut *tx)
            .await
            .map_err(be)?;
        let reevaluated = reevaluate_sqlite(&mut tx, area, mode, &at).await?;
        let told = if reevaluated > 0 {
            crate::notify::reevaluated_tx(&mut tx, area, mode, &at).await?
        } else {
            0
        };
        audit_tx(
            &mut tx,
            audit,
            "area.processing_mode",
            &format!("area:{area}"),
            json!({"mode": mode.as_str(), "reason": reason, "reevaluated_legs": reevaluated, "travellers_notified": told}),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        Ok(reevaluated)
    }

    pub(crate) async fn trip_mode(&self, area: &AreaCode) -> Result<ProcessingMode> {
        match sqlx::query("SELECT mode FROM area_modes WHERE area_code = ?")
            .bind(area.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(be)?
        {
            Some(r) => mode_of(r.get("mode")),
            None => Ok(ProcessingMode::Automatic),
        }
    }

    pub(crate) async fn trip_mode_history(
        &self,
        area: &AreaCode,
    ) -> Result<Vec<ProcessingModeChange>> {
        sqlx::query(
            "SELECT c.*, u.display_name AS set_by_name FROM area_mode_changes c JOIN users u ON u.id = c.set_by \
             WHERE c.area_code = ? ORDER BY c.at DESC, c.id DESC",
        )
        .bind(area.as_str())
        .fetch_all(&self.reader)
        .await
        .map_err(be)?
        .iter()
        .map(|r| {
            Ok(ProcessingModeChange {
                area: area.clone(),
                mode: mode_of(r.get("mode"))?,
                set_by: uuid(r.get("set_by"))?,
                set_by_name: r.get("set_by_name"),
                reason: r.get("reason"),
                at: parse_ts(r.get("at"))?,
            })
        })
        .collect()
    }

    /// Records a trip. Concurrent submissions are committed together (group
    /// commit): each is acknowledged only once its transaction is on disk.
    pub(crate) async fn trip_create(
        &self,
        r: &NewTravelRequest,
        audit: &AuditContext,
    ) -> Result<TravelRequest> {
        match self
            .group
            .run(crate::group::Work::Submit(r.clone(), audit.clone()))
            .await?
        {
            crate::group::Done::Submitted(t) => Ok(*t),
            _ => Err(bad("unexpected answer from the group-commit writer")),
        }
    }

    pub(crate) async fn trip_get(&self, id: Uuid) -> Result<Option<TravelRequest>> {
        let Some(r) = sqlx::query(&format!("{REQUEST_SELECT} WHERE t.id = ?"))
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await
            .map_err(be)?
        else {
            return Ok(None);
        };
        let legs: Vec<Leg> = sqlx::query(&format!(
            "{LEG_SELECT} WHERE l.request_id = ? ORDER BY l.seq"
        ))
        .bind(id.to_string())
        .fetch_all(&self.reader)
        .await
        .map_err(be)?
        .iter()
        .map(leg_row)
        .collect::<Result<_>>()?;
        Ok(Some(request_row(&r, legs)?))
    }

    pub(crate) async fn trip_list(
        &self,
        traveller: Uuid,
        page: &PageRequest,
    ) -> Result<Page<TravelRequest>> {
        let total: i64 = sqlx::query("SELECT COUNT(*) FROM travel_requests WHERE traveller_id = ?")
            .bind(traveller.to_string())
            .fetch_one(&self.reader)
            .await
            .map_err(be)?
            .get(0);
        let rows = sqlx::query(&format!(
            "{REQUEST_SELECT} WHERE t.traveller_id = ? ORDER BY t.created_at DESC, t.id DESC LIMIT ? OFFSET ?"
        ))
        .bind(traveller.to_string())
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(&self.reader)
        .await
        .map_err(be)?;
        // The legs of the whole page in one query.
        let mut legs: HashMap<String, Vec<Leg>> = HashMap::new();
        if !rows.is_empty() {
            let mut b =
                QueryBuilder::<Sqlite>::new(format!("{LEG_SELECT} WHERE l.request_id IN ("));
            let mut ids = b.separated(", ");
            for r in &rows {
                ids.push_bind(r.get::<String, _>("id"));
            }
            ids.push_unseparated(") ORDER BY l.request_id, l.seq");
            for r in b.build().fetch_all(&self.reader).await.map_err(be)?.iter() {
                legs.entry(r.get("request_id"))
                    .or_default()
                    .push(leg_row(r)?);
            }
        }
        let items = rows
            .iter()
            .map(|r| request_row(r, legs.remove(r.get::<&str, _>("id")).unwrap_or_default()))
            .collect::<Result<_>>()?;
        Ok(Page {
            items,
            total,
            limit: page.limit,
            offset: page.offset,
        })
    }

    pub(crate) async fn trip_decide(
        &self,
        d: &LegDecision,
        to: LegStatus,
        audit: &AuditContext,
    ) -> Result<TravelRequest> {
        let mut tx = self.begin().await?;
        let now = ts(&audit.at);
        let grounds: Vec<&str> = d.grounds.iter().map(|g| g.as_str()).collect();
        let n = sqlx::query(
            "UPDATE legs SET status = ?, decided_by = ?, decided_at = ?, grounds = ?, comment = ? \
             WHERE request_id = ? AND seq = ? AND status = 'pending'",
        )
        .bind(to.as_str())
        .bind(d.actor.to_string())
        .bind(&now)
        .bind(serde_json::to_string(&grounds).map_err(bad)?)
        .bind(&d.comment)
        .bind(d.request.to_string())
        .bind(d.seq as i64)
        .execute(&mut *tx)
        .await
        .map_err(be)?
        .rows_affected();
        if n != 1 {
            let cur = sqlx::query("SELECT status FROM legs WHERE request_id = ? AND seq = ?")
                .bind(d.request.to_string())
                .bind(d.seq as i64)
                .fetch_optional(&mut *tx)
                .await
                .map_err(be)?;
            return Err(match cur {
                None => {
                    StoreError::NotFound(format!("leg {} of travel request {}", d.seq, d.request))
                }
                Some(r) => StoreError::Conflict(format!(
                    "leg {} is {} and no longer awaits a decision; the first decision stands",
                    d.seq,
                    r.get::<&str, _>("status")
                )),
            });
        }
        sqlx::query("UPDATE travel_requests SET updated_at = ? WHERE id = ?")
            .bind(&now)
            .bind(d.request.to_string())
            .execute(&mut *tx)
            .await
            .map_err(be)?;
        let (traveller, area_name): (String, String) = {
            let r = sqlx::query("SELECT t.traveller_id, a.name FROM travel_requests t JOIN legs l ON l.request_id = t.id \
                                 JOIN areas a ON a.code = l.area_code WHERE t.id = ? AND l.seq = ?")
                .bind(d.request.to_string())
                .bind(d.seq as i64)
                .fetch_one(&mut *tx)
                .await
                .map_err(be)?;
            (r.get(0), r.get(1))
        };
        let (subject, body) = warden_store::messages::decision(d, &area_name);
        crate::notify::notify_tx(
            &mut tx,
            uuid(&traveller)?,
            "leg_decided",
            &subject,
            &body,
            &format!("/trips/{}", d.request),
            &now,
        )
        .await?;
        audit_tx(
            &mut tx,
            audit,
            "trip.decide",
            &format!("trip:{}", d.request),
            json!({"leg": d.seq, "decision": d.decision.as_str(), "grounds": grounds, "comment": d.comment}),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        self.trip_get(d.request)
            .await?
            .ok_or_else(|| bad("trip vanished"))
    }

    pub(crate) async fn trip_answer(
        &self,
        request: Uuid,
        seq: i32,
        answer: &str,
        audit: &AuditContext,
    ) -> Result<TravelRequest> {
        let mut tx = self.begin().await?;
        let now = ts(&audit.at);
        // Evaluated again under the area's mode now.
        let n = sqlx::query(
            "UPDATE legs SET \
               kind = CASE WHEN COALESCE((SELECT mode FROM area_modes m WHERE m.area_code = legs.area_code), 'automatic') = 'manual' \
                      THEN 'clearance' ELSE 'notification' END, \
               status = CASE WHEN COALESCE((SELECT mode FROM area_modes m WHERE m.area_code = legs.area_code), 'automatic') = 'manual' \
                      THEN 'pending' ELSE 'acknowledged' END, \
               answer = ?, answered_at = ?, decided_by = NULL, decided_at = NULL, grounds = '[]' \
             WHERE request_id = ? AND seq = ? AND status = 'returned'",
        )
        .bind(answer)
        .bind(&now)
        .bind(request.to_string())
        .bind(seq as i64)
        .execute(&mut *tx)
        .await
        .map_err(be)?
        .rows_affected();
        if n != 1 {
            let cur = sqlx::query("SELECT status FROM legs WHERE request_id = ? AND seq = ?")
                .bind(request.to_string())
                .bind(seq as i64)
                .fetch_optional(&mut *tx)
                .await
                .map_err(be)?;
            return Err(match cur {
                None => StoreError::NotFound(format!("leg {seq} of travel request {request}")),
                Some(r) => StoreError::Conflict(format!(
                    "leg {seq} is {}, not returned for more information",
                    r.get::<&str, _>("status")
                )),
            });
        }
        sqlx::query("UPDATE travel_requests SET updated_at = ? WHERE id = ?")
            .bind(&now)
            .bind(request.to_string())
            .execute(&mut *tx)
            .await
            .map_err(be)?;
        let area: String =
            sqlx::query("SELECT area_code FROM legs WHERE request_id = ? AND seq = ?")
                .bind(request.to_string())
                .bind(seq as i64)
                .fetch_one(&mut *tx)
                .await
                .map_err(be)?
                .get(0);
        let area = AreaCode::parse(&area).map_err(bad)?;
        let (subject, body) = warden_store::messages::answered(&area, request, seq, answer);
        crate::notify::reviewers_tx(&mut tx, &area, "leg_answered", &subject, &body, &now).await?;
        audit_tx(
            &mut tx,
            audit,
            "trip.answer",
            &format!("trip:{request}"),
            json!({"leg": seq, "answer": answer}),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        self.trip_get(request)
            .await?
            .ok_or_else(|| bad("trip vanished"))
    }

    pub(crate) async fn trip_queue(&self, q: &ClearanceQuery) -> Result<Page<QueuedLeg>> {
        fn filters<'a>(b: &mut QueryBuilder<'a, Sqlite>, q: &'a ClearanceQuery) {
            b.push(" WHERE l.status = 'pending'");
            if let Some(c) = &q.country {
                b.push(" AND a.country = ").push_bind(c.as_str());
            }
            if let Some(a) = &q.area {
                b.push(" AND l.area_code = ").push_bind(a.as_str());
            }
        }
        let from = " FROM legs l JOIN areas a ON a.code = l.area_code JOIN travel_requests t ON t.id = l.request_id \
                    JOIN users u ON u.id = t.traveller_id LEFT JOIN users d ON d.id = l.decided_by";
        let mut count = QueryBuilder::<Sqlite>::new(format!("SELECT COUNT(*){from}"));
        filters(&mut count, q);
        let total: i64 = count
            .build()
            .fetch_one(&self.reader)
            .await
            .map_err(be)?
            .get(0);
        let mut b = QueryBuilder::<Sqlite>::new(format!(
            "SELECT l.*, a.name AS area_name, a.country AS country, d.display_name AS decided_by_name, \
             u.display_name AS traveller_name, t.purpose AS purpose, t.created_at AS submitted_at{from}"
        ));
        filters(&mut b, q);
        b.push(" ORDER BY l.depart, l.request_id, l.seq LIMIT ")
            .push_bind(q.page.limit)
            .push(" OFFSET ")
            .push_bind(q.page.offset);
        let items = b
            .build()
            .fetch_all(&self.reader)
            .await
            .map_err(be)?
            .iter()
            .map(|r| {
                Ok(QueuedLeg {
                    request: uuid(r.get("request_id"))?,
                    traveller_name: r.get("traveller_name"),
                    purpose: purpose(r.get("purpose"))?,
                    leg: leg_row(r)?,
                    submitted_at: parse_ts(r.get("submitted_at"))?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Page {
            items,
            total,
            limit: q.page.limit,
            offset: q.page.offset,
        })
    }
}
