//! Roll calls on SQLite: the event, its areas and people, the notifications
//! and text messages asking them, all in one transaction; the board from
//! the answers given while it was open.

use crate::notify::SQL_UUID;
use crate::{audit_tx, be, parse_ts, ts, uuid, SqliteStore};
use serde_json::json;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use std::collections::HashMap;
use uuid::Uuid;
use warden_domain::eta::Wellbeing;
use warden_domain::people::PersonnelCategory;
use warden_domain::rollcall::{Answer, RollCallState, Tally};
use warden_domain::AreaCode;
use warden_store::*;

fn bad(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

const RC_SELECT: &str =
    "SELECT r.id, r.message, r.state, r.started_by, u.display_name AS started_by_name, \
    r.started_at, r.closed_by, r.closed_at, r.people, r.sms_recipients \
    FROM roll_calls r JOIN users u ON u.id = r.started_by";

fn rc_row(r: &SqliteRow) -> Result<RollCall> {
    Ok(RollCall {
        id: uuid(r.get("id"))?,
        areas: vec![],
        message: r.get("message"),
        state: RollCallState::parse(r.get("state")).map_err(bad)?,
        started_by: uuid(r.get("started_by"))?,
        started_by_name: r.get("started_by_name"),
        started_at: parse_ts(r.get("started_at"))?,
        closed_by: r
            .get::<Option<String>, _>("closed_by")
            .as_deref()
            .map(uuid)
            .transpose()?,
        closed_at: r
            .get::<Option<String>, _>("closed_at")
            .as_deref()
            .map(parse_ts)
            .transpose()?,
        people: r.get("people"),
        sms_recipients: r.get("sms_recipients"),
    })
}

impl SqliteStore {
    /// Fills in the areas of roll calls, in their order.
    async fn rc_with_areas(&self, mut rcs: Vec<RollCall>) -> Result<Vec<RollCall>> {
        if rcs.is_empty() {
            return Ok(rcs);
        }
        let ids: Vec<String> = rcs.iter().map(|r| r.id.to_string()).collect();
        let rows = sqlx::query(
            "SELECT roll_call_id, area_code FROM roll_call_areas \
             WHERE roll_call_id IN (SELECT value FROM json_each(?)) ORDER BY roll_call_id, seq",
        )
        .bind(serde_json::to_string(&ids).map_err(bad)?)
        .fetch_all(&self.reader)
        .await
        .map_err(be)?;
        let mut by: HashMap<Uuid, Vec<AreaCode>> = HashMap::new();
        for r in rows {
            by.entry(uuid(r.get("roll_call_id"))?)
                .or_default()
                .push(AreaCode::parse(r.get("area_code")).map_err(bad)?);
        }
        for rc in &mut rcs {
            rc.areas = by.remove(&rc.id).unwrap_or_default();
        }
        Ok(rcs)
    }

    pub(crate) async fn rc_start(
        &self,
        areas: &[AreaCode],
        started_by: Uuid,
        message: &str,
        people: &[Uuid],
        audit: &AuditContext,
    ) -> Result<RollCall> {
        if areas.is_empty() {
            return Err(StoreError::Invalid {
                field: "areas".into(),
                message: "name at least one area".into(),
            });
        }
        let mut tx = self.begin().await?;
        let mut names = vec![];
        for (i, a) in areas.iter().enumerate() {
            let name: String = sqlx::query("SELECT name FROM areas WHERE code = ?")
                .bind(a.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(be)?
                .ok_or_else(|| StoreError::Invalid {
                    field: format!("areas[{i}]"),
                    message: format!("no area {a}"),
                })?
                .get(0);
            names.push(name);
        }
        let id = Uuid::now_v7();
        let at = ts(&audit.at);
        sqlx::query(
            "INSERT INTO roll_calls (id, message, state, started_by, started_at) VALUES (?, ?, 'open', ?, ?)",
        )
        .bind(id.to_string())
        .bind(message)
        .bind(started_by.to_string())
        .bind(&at)
        .execute(&mut *tx)
        .await
        .map_err(be)?;
        for (i, a) in areas.iter().enumerate() {
            sqlx::query(
                "INSERT INTO roll_call_areas (roll_call_id, seq, area_code) VALUES (?, ?, ?)",
            )
            .bind(id.to_string())
            .bind(i as i64)
            .bind(a.as_str())
            .execute(&mut *tx)
            .await
            .map_err(be)?;
        }
        let people_json =
            serde_json::to_string(&people.iter().map(|p| p.to_string()).collect::<Vec<_>>())
                .map_err(bad)?;
        let asked = sqlx::query(
            "INSERT INTO roll_call_people (roll_call_id, user_id) \
             SELECT ?, u.id FROM users u WHERE u.disabled = 0 AND u.id IN (SELECT value FROM json_each(?))",
        )
        .bind(id.to_string())
        .bind(&people_json)
        .execute(&mut *tx)
        .await
        .map_err(be)?
        .rows_affected() as i64;
        let (subject, body) = roll_call_ask(&names, message);
        sqlx::query(&format!(
            "INSERT INTO notifications (id, user_id, kind, subject, body, link, created_at, email_state) \
             SELECT {SQL_UUID}, u.id, 'rollcall.ask', ?, ?, '/eta', ?, \
                    CASE WHEN u.email = '' THEN 'none' ELSE 'pending' END \
             FROM roll_call_people rp JOIN users u ON u.id = rp.user_id WHERE rp.roll_call_id = ?"
        ))
        .bind(&subject)
        .bind(&body)
        .bind(&at)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(be)?;
        let sms = sqlx::query(&format!(
            "INSERT INTO sms_outbox (id, user_id, phone, body, kind, ref, created_at) \
             SELECT {SQL_UUID}, p.user_id, p.phone, ?, 'rollcall', ?, ? \
             FROM roll_call_people rp JOIN profiles p ON p.user_id = rp.user_id \
             WHERE rp.roll_call_id = ? AND p.phone <> '' \
             AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.user_id = p.user_id AND d.revoked_at IS NULL)"
        ))
        .bind(roll_call_sms(&names, message))
        .bind(format!("rollcall:{id}"))
        .bind(&at)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(be)?
        .rows_affected() as i64;
        sqlx::query("UPDATE roll_calls SET people = ?, sms_recipients = ? WHERE id = ?")
            .bind(asked)
            .bind(sms)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(be)?;
        // Published to partner systems as CAP, in the same transaction.
        crate::partners::queue_cap_tx(&mut tx, &CapSubject::RollCall { id }, &subject, &audit.at)
            .await?;
        let codes: Vec<&str> = areas.iter().map(|a| a.as_str()).collect();
        audit_tx(
            &mut tx,
            audit,
            "rollcall.start",
            &format!("rollcall:{id}"),
            json!({"areas": codes, "people": asked, "sms_recipients": sms}),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        self.rc_get(id)
            .await?
            .ok_or_else(|| bad("roll call vanished"))
    }

    pub(crate) async fn rc_get(&self, id: Uuid) -> Result<Option<RollCall>> {
        let row = sqlx::query(&format!("{RC_SELECT} WHERE r.id = ?"))
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await
            .map_err(be)?;
        match row {
            None => Ok(None),
            Some(r) => Ok(self.rc_with_areas(vec![rc_row(&r)?]).await?.pop()),
        }
    }

    pub(crate) async fn rc_list(
        &self,
        area: Option<&AreaCode>,
        open_only: bool,
    ) -> Result<Vec<RollCall>> {
        let code = area.map(|a| a.as_str().to_string());
        let rcs = sqlx::query(&format!(
            "{RC_SELECT} WHERE (?1 IS NULL OR EXISTS (SELECT 1 FROM roll_call_areas a \
               WHERE a.roll_call_id = r.id AND a.area_code = ?1)) \
             AND (?2 = 0 OR r.state = 'open') ORDER BY r.started_at DESC, r.id DESC"
        ))
        .bind(&code)
        .bind(open_only)
        .fetch_all(&self.reader)
        .await
        .map_err(be)?
        .iter()
        .map(rc_row)
        .collect::<Result<Vec<_>>>()?;
        self.rc_with_areas(rcs).await
    }

    pub(crate) async fn rc_board(&self, id: Uuid) -> Result<Option<RollCallBoard>> {
        let Some(rc) = self.rc_get(id).await? else {
            return Ok(None);
        };
        let mut tx = self.reader.begin().await.map_err(be)?;
        let rows = sqlx::query(
            "SELECT u.id, u.display_name, COALESCE(p.agency_id, u.agency_id) AS agency_id, \
                    ag.code AS agency_code, p.category \
             FROM roll_call_people rp JOIN users u ON u.id = rp.user_id \
             LEFT JOIN profiles p ON p.user_id = u.id \
             LEFT JOIN agencies ag ON ag.id = COALESCE(p.agency_id, u.agency_id) \
             WHERE rp.roll_call_id = ? ORDER BY u.display_name, u.id",
        )
        .bind(id.to_string())
        .fetch_all(&mut *tx)
        .await
        .map_err(be)?;
        let answers = sqlx::query(
            "SELECT w.user_id, w.status, w.dependants, w.channel, w.at \
             FROM roll_call_people rp JOIN wellbeing_reports w ON w.user_id = rp.user_id \
             WHERE rp.roll_call_id = ? AND w.at >= ? AND (? IS NULL OR w.at <= ?)",
        )
        .bind(id.to_string())
        .bind(ts(&rc.started_at))
        .bind(rc.closed_at.as_ref().map(ts))
        .bind(rc.closed_at.as_ref().map(ts))
        .fetch_all(&mut *tx)
        .await
        .map_err(be)?;
        tx.commit().await.map_err(be)?;
        let mut by: HashMap<Uuid, Vec<(Answer, String)>> = HashMap::new();
        for r in &answers {
            let deps: Vec<DependantStatus> =
                serde_json::from_str(r.get("dependants")).map_err(bad)?;
            by.entry(uuid(r.get("user_id"))?).or_default().push((
                Answer {
                    status: Wellbeing::parse(r.get("status")).map_err(bad)?,
                    dependants: deps.into_iter().map(|d| d.status).collect(),
                    at: parse_ts(r.get("at"))?,
                },
                r.get("channel"),
            ));
        }
        let people = rows
            .iter()
            .map(|r| {
                let user = uuid(r.get("id"))?;
                Ok((
                    RollCallPerson {
                        user,
                        name: r.get("display_name"),
                        agency: r
                            .get::<Option<String>, _>("agency_id")
                            .as_deref()
                            .map(uuid)
                            .transpose()?,
                        agency_code: r.get("agency_code"),
                        category: r
                            .get::<Option<String>, _>("category")
                            .as_deref()
                            .map(PersonnelCategory::parse)
                            .transpose()
                            .map_err(bad)?,
                        status: Tally::NoAnswer,
                        channel: None,
                        answered_at: None,
                    },
                    by.remove(&user).unwrap_or_default(),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(RollCallBoard {
            people: board_people(&rc, people),
            roll_call: rc,
        }))
    }

    pub(crate) async fn rc_close(
        &self,
        id: Uuid,
        by: Uuid,
        audit: &AuditContext,
    ) -> Result<RollCall> {
        let mut tx = self.begin().await?;
        let changed = sqlx::query(
            "UPDATE roll_calls SET state = 'closed', closed_by = ?, closed_at = ? WHERE id = ? AND state = 'open'",
        )
        .bind(by.to_string())
        .bind(ts(&audit.at))
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(be)?
        .rows_affected();
        if changed == 0 {
            let exists = sqlx::query("SELECT 1 FROM roll_calls WHERE id = ?")
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(be)?
                .is_some();
            return Err(if exists {
                StoreError::Conflict(format!("roll call {id} is already closed"))
            } else {
                StoreError::NotFound(format!("roll call {id}"))
            });
        }
        audit_tx(
            &mut tx,
            audit,
            "rollcall.close",
            &format!("rollcall:{id}"),
            json!({}),
        )
        .await?;
        tx.commit().await.map_err(be)?;
        self.rc_get(id)
            .await?
            .ok_or_else(|| bad("roll call vanished"))
    }
}
