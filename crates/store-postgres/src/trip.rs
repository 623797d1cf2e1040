//! TRIP: processing modes, travel requests and clearance decisions.
//!
//! Lock order (see `write.rs`): the rows of the areas a write touches, in code
//! order, then a leg row, then its request row, and the audit head last.
//! Setting a mode locks its area row `FOR NO KEY UPDATE`; a submission reads
//! the areas of its legs `FOR SHARE`, so each leg's kind follows the mode as
//! it stands when the submission commits, never a mode being changed
//! meanwhile. Racing decisions on one leg are settled by a compare-and-set
//! UPDATE on the leg row; so is a traveller's answer to a returned leg, which
//! first share-locks the leg's area like a submission, since it too takes the
//! area's current mode.
//!
//! The notifications a change causes (see `notify.rs`) are written in its
//! transaction, after its own rows and before the audit head.

use serde_json::json;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder, Row};
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;
use warden_domain::people::AirlineCode;
use warden_domain::trip::{
    DenialGround, LegKind, LegStatus, ProcessingMode, TripPurpose, TripStatus,
};
use warden_domain::AreaCode;
use warden_store::*;

use crate::rows::{area_code, be, col, country_code};
use crate::write::{audit_tx, Tx};
use crate::{notify, PgStore};

fn mode(s: &str) -> Result<ProcessingMode> {
    ProcessingMode::parse(s).map_err(|e| StoreError::Backend(e.to_string()))
}

fn leg_kind(s: &str) -> Result<LegKind> {
    match s {
        "notification" => Ok(LegKind::Notification),
        "clearance" => Ok(LegKind::Clearance),
        other => Err(StoreError::Backend(format!("bad leg kind {other}"))),
    }
}

fn leg_status(s: &str) -> Result<LegStatus> {
    LegStatus::parse(s).ok_or_else(|| StoreError::Backend(format!("bad leg status {s}")))
}

fn purpose(s: &str) -> Result<TripPurpose> {
    TripPurpose::parse(s).map_err(|e| StoreError::Backend(e.to_string()))
}

/// The columns of a leg with its area and decider, from `legs l JOIN areas a
/// LEFT JOIN users d`.
const LEG_COLS: &str =
    "l.request_id, l.seq, l.origin, l.destination, l.area_code, a.name AS area_name, \
     a.country AS area_country, l.depart, l.arrive, l.depart_tz, l.arrive_tz, l.kind, l.status, \
     l.decided_by, d.display_name AS decided_by_name, l.decided_at, l.grounds, l.comment, \
     l.carrier, l.answer, l.answered_at";

const LEG_FROM: &str =
    "FROM legs l JOIN areas a ON a.code = l.area_code LEFT JOIN users d ON d.id = l.decided_by";

fn leg_row(r: &PgRow) -> Result<Leg> {
    Ok(Leg {
        seq: col(r, "seq")?,
        origin: col(r, "origin")?,
        destination: col(r, "destination")?,
        area: area_code(&col::<String>(r, "area_code")?)?,
        area_name: col(r, "area_name")?,
        country: country_code(&col::<String>(r, "area_country")?)?,
        depart: col(r, "depart")?,
        arrive: col(r, "arrive")?,
        depart_tz: col(r, "depart_tz")?,
        arrive_tz: col(r, "arrive_tz")?,
        kind: leg_kind(&col::<String>(r, "kind")?)?,
        status: leg_status(&col::<String>(r, "status")?)?,
        decided_by: col(r, "decided_by")?,
        decided_by_name: col(r, "decided_by_name")?,
        decided_at: col(r, "decided_at")?,
        grounds: col::<Json<Vec<DenialGround>>>(r, "grounds")?.0,
        comment: col(r, "comment")?,
        carrier: col::<Option<String>>(r, "carrier")?
            .map(|c| AirlineCode::parse(&c).map_err(|e| StoreError::Backend(e.to_string())))
            .transpose()?,
        answer: col(r, "answer")?,
        answered_at: col(r, "answered_at")?,
    })
}

const REQUEST_SELECT: &str =
    "SELECT r.id, r.traveller_id, u.display_name AS traveller_name, r.submitted_by, r.purpose, r.ta_number, \
     r.agency_id, r.created_at, r.updated_at FROM travel_requests r JOIN users u ON u.id = r.traveller_id";

/// A row of `REQUEST_SELECT` with its legs (in order).
fn request_row(row: &PgRow, legs: Vec<Leg>) -> Result<TravelRequest> {
    let statuses: Vec<LegStatus> = legs.iter().map(|l| l.status).collect();
    Ok(TravelRequest {
        id: col(row, "id")?,
        traveller: col(row, "traveller_id")?,
        traveller_name: col(row, "traveller_name")?,
        submitted_by: col(row, "submitted_by")?,
        purpose: purpose(&col::<String>(row, "purpose")?)?,
        ta_number: col(row, "ta_number")?,
        agency: col(row, "agency_id")?,
        status: TripStatus::of(&statuses),
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
        legs,
    })
}

fn area_not_found(code: &str) -> StoreError {
    StoreError::NotFound(format!("area {code}"))
}

impl PgStore {
    pub(crate) async fn trip_set_processing_mode(
        &self,
        area: &AreaCode,
        m: ProcessingMode,
        actor: Uuid,
        reason: &str,
        audit: &AuditContext,
    ) -> Result<u64> {
        let now = audit.at;
        let mut tx = self.begin().await?;
        // The area row's lock orders this change against submissions reading
        // the area's mode (FOR SHARE) and against other changes of it.
        let area_name: String =
            sqlx::query("SELECT name FROM areas WHERE code = $1 FOR NO KEY UPDATE")
                .bind(area.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(be)?
                .ok_or_else(|| area_not_found(area.as_str()))
                .and_then(|r| col(&r, "name"))?;
        sqlx::query(
            "INSERT INTO area_modes (area_code, mode, set_by, set_at, reason) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (area_code) DO UPDATE SET mode = excluded.mode, set_by = excluded.set_by, \
             set_at = excluded.set_at, reason = excluded.reason",
        )
        .bind(area.as_str())
        .bind(m.as_str())
        .bind(actor)
        .bind(now)
        .bind(reason)
        .execute(&mut *tx)
        .await
        .map_err(be)?;
        sqlx::query(
            "INSERT INTO area_mode_changes (id, area_code, mode, set_by, reason, at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(Uuid::now_v7())
        .bind(area.as_str())
        .bind(m.as_str())
        .bind(actor)
        .bind(reason)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(be)?;
        // Future legs into the area take the kind and first status of the new mode.
        let from = match m {
            ProcessingMode::Manual => LegStatus::initial(ProcessingMode::Automatic),
            ProcessingMode::Automatic => LegStatus::initial(ProcessingMode::Manual),
        };
        // One statement for any number of legs: it re-evaluates them (with
        // each one's trip and traveller from the join), tells the traveller
        // of each trip touched once, and hands back only the two counts.
        let (subject, body) = messages::reevaluated(area, &area_name, m);
        let counts = sqlx::query(&format!(
            "WITH changed AS (UPDATE legs l SET kind = $1, status = $2, reevaluated_at = $5 \
               FROM travel_requests t \
               WHERE t.id = l.request_id AND l.area_code = $3 AND l.status = $4 AND l.depart > $5 \
               RETURNING t.id, t.traveller_id), \
             told AS (INSERT INTO notifications (id, user_id, kind, subject, body, link, created_at, email_state) \
               SELECT {}, c.traveller_id, 'leg_reevaluated', $6, $7, '/trips/' || c.id, $5, {} \
               FROM (SELECT DISTINCT id, traveller_id FROM changed) c JOIN users u ON u.id = c.traveller_id \
               RETURNING 1) \
             SELECT (SELECT COUNT(*) FROM changed) AS legs, (SELECT COUNT(*) FROM told) AS told",
            notify::SQL_UUID_V7,
            notify::EMAIL_STATE
        ))
        .bind(m.leg_kind().as_str())
        .bind(LegStatus::initial(m).as_str())
        .bind(area.as_str())
        .bind(from.as_str())
        .bind(now)
        .bind(&subject)
        .bind(&body)
        .fetch_one(&mut *tx)
        .await
        .map_err(be)?;
        let reevaluated = col::<i64>(&counts, "legs")? as u64;
        let notified = col::<i64>(&counts, "told")? as u64;
        notify::reevaluated_tx(&mut tx, area, m, notified, &now).await?;
        audit_tx(
            &mut tx,
            audit,
            "area.processing_mode",
            &format!("area:{area}"),
            json!({"mode": m.as_str(), "reason": reason, "reevaluated_legs": reevaluated, "travellers_notified": notified}),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        Ok(reevaluated)
    }

    pub(crate) async fn trip_processing_mode(&self, area: &AreaCode) -> Result<ProcessingMode> {
        let row = sqlx::query("SELECT mode FROM area_modes WHERE area_code = $1")
            .bind(area.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(be)?;
        match row {
            Some(r) => mode(&col::<String>(&r, "mode")?),
            None => Ok(ProcessingMode::Automatic),
        }
    }

    pub(crate) async fn trip_processing_mode_history(
        &self,
        area: &AreaCode,
    ) -> Result<Vec<ProcessingModeChange>> {
        sqlx::query(
            "SELECT c.mode, c.set_by, u.display_name AS set_by_name, c.reason, c.at \
             FROM area_mode_changes c JOIN users u ON u.id = c.set_by \
             WHERE c.area_code = $1 ORDER BY c.at DESC, c.id DESC",
        )
        .bind(area.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(be)?
        .iter()
        .map(|r| {
            Ok(ProcessingModeChange {
                area: area.clone(),
                mode: mode(&col::<String>(r, "mode")?)?,
                set_by: col(r, "set_by")?,
                set_by_name: col(r, "set_by_name")?,
                reason: col(r, "reason")?,
                at: col(r, "at")?,
            })
        })
        .collect()
    }

    pub(crate) async fn trip_create_travel_request(
        &self,
        r: &NewTravelRequest,
        audit: &AuditContext,
    ) -> Result<TravelRequest> {
        let now = audit.at;
        let id = Uuid::now_v7();
        let mut tx = self.begin().await?;
        // The modes of the legs' areas, read under a share lock on each area
        // row (taken in code order, so submissions never deadlock with each
        // other or with mode changes).
        let codes: Vec<String> = r
            .legs
            .iter()
            .map(|l| l.area.as_str().to_string())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let locked = sqlx::query(
            "SELECT code FROM areas WHERE code = ANY($1) ORDER BY code COLLATE \"C\" FOR SHARE",
        )
        .bind(&codes)
        .fetch_all(&mut *tx)
        .await
        .map_err(be)?;
        // A separate statement, so that under READ COMMITTED it sees a mode
        // change committed while this one waited for the locks above (the
        // statement that waited keeps its older snapshot of other tables).
        let set: BTreeMap<String, String> =
            sqlx::query("SELECT area_code, mode FROM area_modes WHERE area_code = ANY($1)")
                .bind(&codes)
                .fetch_all(&mut *tx)
                .await
                .map_err(be)?
                .iter()
                .map(|r| Ok((col(r, "area_code")?, col(r, "mode")?)))
                .collect::<Result<_>>()?;
        let mut modes: BTreeMap<String, ProcessingMode> = BTreeMap::new();
        for row in &locked {
            let code: String = col(row, "code")?;
            let m = match set.get(&code) {
                Some(m) => mode(m)?,
                None => ProcessingMode::Automatic,
            };
            modes.insert(code, m);
        }
        if let Some((i, l)) = r
            .legs
            .iter()
            .enumerate()
            .find(|(_, l)| !modes.contains_key(l.area.as_str()))
        {
            return Err(StoreError::NotFound(format!("area {} (legs[{i}])", l.area)));
        }
        // A TA number is the agency's: the ERP's copy of the TA finds this
        // trip by the traveller's agency and the number.
        sqlx::query(
            "INSERT INTO travel_requests (id, traveller_id, submitted_by, purpose, ta_number, agency_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, CASE WHEN $5::text IS NULL THEN NULL \
               ELSE (SELECT agency_id FROM users WHERE id = $2) END, $6, $6)",
        )
        .bind(id)
        .bind(r.traveller)
        .bind(r.submitted_by)
        .bind(r.purpose.as_str())
        .bind(&r.ta_number)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| match be(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!(
                "TA {} is already recorded for this agency",
                r.ta_number.as_deref().unwrap_or_default()
            )),
            other => other,
        })?;
        let kinds: Vec<&str> = r
            .legs
            .iter()
            .map(|l| modes[l.area.as_str()].leg_kind().as_str())
            .collect();
        let statuses: Vec<&str> = r
            .legs
            .iter()
            .map(|l| LegStatus::initial(modes[l.area.as_str()]).as_str())
            .collect();
        let seqs: Vec<i32> = (1..=r.legs.len() as i32).collect();
        let origins: Vec<&str> = r.legs.iter().map(|l| l.origin.as_str()).collect();
        let destinations: Vec<&str> = r.legs.iter().map(|l| l.destination.as_str()).collect();
        let areas: Vec<&str> = r.legs.iter().map(|l| l.area.as_str()).collect();
        let departs: Vec<_> = r.legs.iter().map(|l| l.depart).collect();
        let arrives: Vec<_> = r.legs.iter().map(|l| l.arrive).collect();
        let depart_tzs: Vec<Option<&str>> = r.legs.iter().map(|l| l.depart_tz.as_deref()).collect();
        let arrive_tzs: Vec<Option<&str>> = r.legs.iter().map(|l| l.arrive_tz.as_deref()).collect();
        let carriers: Vec<Option<&str>> = r
            .legs
            .iter()
            .map(|l| l.carrier.as_ref().map(|c| c.as_str()))
            .collect();
        sqlx::query(
            "INSERT INTO legs (request_id, seq, origin, destination, area_code, depart, arrive, depart_tz, arrive_tz, \
             carrier, kind, status) \
             SELECT $1, x.seq, x.origin, x.destination, x.area_code, x.depart, x.arrive, x.depart_tz, x.arrive_tz, \
             x.carrier, x.kind, x.status \
             FROM UNNEST($2::int4[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[], \
             $8::text[], $9::text[], $10::text[], $11::text[], $12::text[]) \
             AS x(seq, origin, destination, area_code, depart, arrive, depart_tz, arrive_tz, carrier, kind, status)",
        )
        .bind(id)
        .bind(&seqs)
        .bind(&origins)
        .bind(&destinations)
        .bind(&areas)
        .bind(&departs)
        .bind(&arrives)
        .bind(&depart_tzs)
        .bind(&arrive_tzs)
        .bind(&carriers)
        .bind(&kinds)
        .bind(&statuses)
        .execute(&mut *tx)
        .await
        .map_err(be)?;
        audit_tx(
            &mut tx,
            audit,
            "trip.submit",
            &format!("trip:{id}"),
            json!({
                "purpose": r.purpose.as_str(),
                "legs": r.legs.iter().map(|l| l.area.as_str()).collect::<Vec<_>>(),
                "kinds": kinds,
                "ta_number": r.ta_number,
            }),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        self.trip_get_travel_request(id).await?.ok_or_else(|| {
            StoreError::Backend(format!("travel request {id} vanished after commit"))
        })
    }

    pub(crate) async fn trip_get_travel_request(&self, id: Uuid) -> Result<Option<TravelRequest>> {
        let Some(row) = sqlx::query(&format!("{REQUEST_SELECT} WHERE r.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(be)?
        else {
            return Ok(None);
        };
        let legs = sqlx::query(&format!(
            "SELECT {LEG_COLS} {LEG_FROM} WHERE l.request_id = $1 ORDER BY l.seq"
        ))
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(be)?
        .iter()
        .map(leg_row)
        .collect::<Result<Vec<Leg>>>()?;
        Ok(Some(request_row(&row, legs)?))
    }

    pub(crate) async fn trip_list_travel_requests(
        &self,
        traveller: Uuid,
        page: &PageRequest,
    ) -> Result<Page<TravelRequest>> {
        let total: i64 =
            sqlx::query("SELECT COUNT(*) FROM travel_requests WHERE traveller_id = $1")
                .bind(traveller)
                .fetch_one(&self.pool)
                .await
                .map_err(be)?
                .try_get(0)
                .map_err(be)?;
        let rows = sqlx::query(&format!(
            "{REQUEST_SELECT} WHERE r.traveller_id = $1 ORDER BY r.created_at DESC, r.id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(traveller)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(&self.pool)
        .await
        .map_err(be)?;
        // The legs of the whole page in one query.
        let ids: Vec<Uuid> = rows.iter().map(|r| col(r, "id")).collect::<Result<_>>()?;
        let mut legs: HashMap<Uuid, Vec<Leg>> = HashMap::new();
        if !ids.is_empty() {
            for r in sqlx::query(&format!(
                "SELECT {LEG_COLS} {LEG_FROM} WHERE l.request_id = ANY($1) ORDER BY l.request_id, l.seq"
            ))
            .bind(&ids)
            .fetch_all(&self.pool)
            .await
            .map_err(be)?
            .iter()
            {
                legs.entry(col(r, "request_id")?)
                    .or_default()
                    .push(leg_row(r)?);
            }
        }
        let items = rows
            .iter()
            .zip(&ids)
            .map(|(r, id)| request_row(r, legs.remove(id).unwrap_or_default()))
            .collect::<Result<_>>()?;
        Ok(Page {
            items,
            total,
            limit: page.limit,
            offset: page.offset,
        })
    }

    pub(crate) async fn trip_decide_leg(
        &self,
        d: &LegDecision,
        to: LegStatus,
        audit: &AuditContext,
    ) -> Result<TravelRequest> {
        let now = audit.at;
        let mut tx = self.begin().await?;
        // The compare-and-set. Under READ COMMITTED a racing decision waits
        // here for the winner's row lock, re-checks `status = 'pending'`
        // against the committed row, and matches nothing.
        let n = sqlx::query(
            "UPDATE legs SET status = $1, decided_by = $2, decided_at = $3, grounds = $4, comment = $5 \
             WHERE request_id = $6 AND seq = $7 AND status = 'pending'",
        )
        .bind(to.as_str())
        .bind(d.actor)
        .bind(now)
        .bind(Json(&d.grounds))
        .bind(&d.comment)
        .bind(d.request)
        .bind(d.seq)
        .execute(&mut *tx)
        .await
        .map_err(be)?
        .rows_affected();
        if n != 1 {
            return Err(Self::why_undecided(&mut tx, d).await);
        }
        sqlx::query("UPDATE travel_requests SET updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(d.request)
            .execute(&mut *tx)
            .await
            .map_err(be)?;
        let who = sqlx::query(
            "SELECT r.traveller_id, a.name FROM travel_requests r JOIN legs l ON l.request_id = r.id \
             JOIN areas a ON a.code = l.area_code WHERE r.id = $1 AND l.seq = $2",
        )
        .bind(d.request)
        .bind(d.seq)
        .fetch_one(&mut *tx)
        .await
        .map_err(be)?;
        let (subject, body) = messages::decision(d, &col::<String>(&who, "name")?);
        notify::notify_tx(
            &mut tx,
            col(&who, "traveller_id")?,
            "leg_decided",
            &subject,
            &body,
            &format!("/trips/{}", d.request),
            &now,
        )
        .await?;
        let grounds: Vec<&str> = d.grounds.iter().map(|g| g.as_str()).collect();
        audit_tx(
            &mut tx,
            audit,
            "trip.decide",
            &format!("trip:{}", d.request),
            json!({
                "leg": d.seq,
                "decision": d.decision.as_str(),
                "grounds": grounds,
                "comment": d.comment,
            }),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        self.trip_get_travel_request(d.request)
            .await?
            .ok_or_else(|| {
                StoreError::Backend(format!(
                    "travel request {} vanished after commit",
                    d.request
                ))
            })
    }

    /// Why the compare-and-set matched no leg: a fresh statement sees what a
    /// winner committed.
    async fn why_undecided(tx: &mut Tx<'_>, d: &LegDecision) -> StoreError {
        let row = sqlx::query("SELECT status FROM legs WHERE request_id = $1 AND seq = $2")
            .bind(d.request)
            .bind(d.seq)
            .fetch_optional(&mut **tx)
            .await;
        match row {
            Err(e) => be(e),
            Ok(None) => {
                StoreError::NotFound(format!("leg {} of travel request {}", d.seq, d.request))
            }
            Ok(Some(r)) => match col::<String>(&r, "status") {
                Err(e) => e,
                Ok(s) => StoreError::Conflict(format!(
                    "leg {} is {s} and no longer awaits a decision; the first decision stands",
                    d.seq
                )),
            },
        }
    }

    pub(crate) async fn trip_answer_leg(
        &self,
        request: Uuid,
        seq: i32,
        answer: &str,
        audit: &AuditContext,
    ) -> Result<TravelRequest> {
        let now = audit.at;
        let mut tx = self.begin().await?;
        let not_found = || StoreError::NotFound(format!("leg {seq} of travel request {request}"));
        let area: String =
            sqlx::query("SELECT area_code FROM legs WHERE request_id = $1 AND seq = $2")
                .bind(request)
                .bind(seq)
                .fetch_optional(&mut *tx)
                .await
                .map_err(be)?
                .ok_or_else(not_found)
                .and_then(|r| col(&r, "area_code"))?;
        // The leg takes the area's mode as it stands when this commits: the
        // share lock waits for a mode change in flight, and a mode change
        // waits for this (as with a submission).
        sqlx::query("SELECT code FROM areas WHERE code = $1 FOR SHARE")
            .bind(&area)
            .fetch_optional(&mut *tx)
            .await
            .map_err(be)?;
        // The compare-and-set, evaluated again under the area's current mode.
        let answered = sqlx::query(
            "UPDATE legs l SET \
               kind = CASE WHEN COALESCE((SELECT mode FROM area_modes m WHERE m.area_code = l.area_code), 'automatic') = 'manual' \
                      THEN 'clearance' ELSE 'notification' END, \
               status = CASE WHEN COALESCE((SELECT mode FROM area_modes m WHERE m.area_code = l.area_code), 'automatic') = 'manual' \
                      THEN 'pending' ELSE 'acknowledged' END, \
               answer = $1, answered_at = $2, decided_by = NULL, decided_at = NULL, grounds = '[]'::jsonb \
             WHERE l.request_id = $3 AND l.seq = $4 AND l.status = 'returned' \
             RETURNING l.area_code",
        )
        .bind(answer)
        .bind(now)
        .bind(request)
        .bind(seq)
        .fetch_optional(&mut *tx)
        .await
        .map_err(be)?;
        let Some(answered) = answered else {
            // A fresh statement sees what a racing answer committed.
            let cur = sqlx::query("SELECT status FROM legs WHERE request_id = $1 AND seq = $2")
                .bind(request)
                .bind(seq)
                .fetch_optional(&mut *tx)
                .await
                .map_err(be)?;
            return Err(match cur {
                None => not_found(),
                Some(r) => StoreError::Conflict(format!(
                    "leg {seq} is {}, not returned for more information",
                    col::<String>(&r, "status")?
                )),
            });
        };
        sqlx::query("UPDATE travel_requests SET updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(request)
            .execute(&mut *tx)
            .await
            .map_err(be)?;
        let area = area_code(&col::<String>(&answered, "area_code")?)?;
        let (subject, body) = messages::answered(&area, request, seq, answer);
        notify::reviewers_tx(&mut tx, &area, "leg_answered", &subject, &body, &now).await?;
        audit_tx(
            &mut tx,
            audit,
            "trip.answer",
            &format!("trip:{request}"),
            json!({"leg": seq, "answer": answer}),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        self.trip_get_travel_request(request).await?.ok_or_else(|| {
            StoreError::Backend(format!("travel request {request} vanished after commit"))
        })
    }

    pub(crate) async fn trip_clearance_queue(&self, q: &ClearanceQuery) -> Result<Page<QueuedLeg>> {
        fn filters<'a>(b: &mut QueryBuilder<'a, Postgres>, q: &'a ClearanceQuery) {
            b.push(" WHERE l.status = 'pending'");
            if let Some(c) = &q.country {
                b.push(" AND a.country = ").push_bind(c.as_str());
            }
            if let Some(ar) = &q.area {
                b.push(" AND l.area_code = ").push_bind(ar.as_str());
            }
        }
        let mut count = QueryBuilder::<Postgres>::new(
            "SELECT COUNT(*) FROM legs l JOIN areas a ON a.code = l.area_code",
        );
        filters(&mut count, q);
        let total: i64 = count
            .build()
            .fetch_one(&self.pool)
            .await
            .map_err(be)?
            .try_get(0)
            .map_err(be)?;
        let mut b = QueryBuilder::<Postgres>::new(format!(
            "SELECT {LEG_COLS}, t.display_name AS traveller_name, r.purpose, r.created_at AS submitted_at \
             {LEG_FROM} JOIN travel_requests r ON r.id = l.request_id JOIN users t ON t.id = r.traveller_id"
        ));
        filters(&mut b, q);
        b.push(" ORDER BY l.depart, l.request_id, l.seq LIMIT ")
            .push_bind(q.page.limit)
            .push(" OFFSET ")
            .push_bind(q.page.offset);
        let items = b
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(be)?
            .iter()
            .map(|r| {
                Ok(QueuedLeg {
                    request: col(r, "request_id")?,
                    traveller_name: col(r, "traveller_name")?,
                    purpose: purpose(&col::<String>(r, "purpose")?)?,
                    leg: leg_row(r)?,
                    submitted_at: col(r, "submitted_at")?,
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
