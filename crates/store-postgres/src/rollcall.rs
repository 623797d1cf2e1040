//! Roll calls on PostgreSQL: the event, its areas and people, the
//! notifications and text messages asking them, all in one transaction; the
//! board from the answers given while it was open, read in one snapshot.

use crate::notify::{EMAIL_STATE, SQL_UUID_V7};
use crate::rows::{be, col, json_col};
use crate::write::audit_tx;
use crate::PgStore;
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::postgres::PgRow;
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

const RC_SELECT: &str = "SELECT r.id, r.message, r.state, r.started_by, u.display_name AS started_by_name, \
    r.started_at, r.closed_by, r.closed_at, r.people, r.sms_recipients, \
    ARRAY(SELECT a.area_code FROM roll_call_areas a WHERE a.roll_call_id = r.id ORDER BY a.seq) AS areas \
    FROM roll_calls r JOIN users u ON u.id = r.started_by";

fn rc_row(r: &PgRow) -> Result<RollCall> {
    Ok(RollCall {
        id: col(r, "id")?,
        areas: col::<Vec<String>>(r, "areas")?
            .iter()
            .map(|a| AreaCode::parse(a).map_err(bad))
            .collect::<Result<_>>()?,
        message: col(r, "message")?,
        state: RollCallState::parse(col::<&str>(r, "state")?).map_err(bad)?,
        started_by: col(r, "started_by")?,
        started_by_name: col(r, "started_by_name")?,
        started_at: col(r, "started_at")?,
        closed_by: col(r, "closed_by")?,
        closed_at: col(r, "closed_at")?,
        people: col(r, "people")?,
        sms_recipients: col(r, "sms_recipients")?,
    })
}

impl PgStore {
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
            let name: String = sqlx::query("SELECT name FROM areas WHERE code = $1")
                .bind(a.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(be)?
                .ok_or_else(|| StoreError::Invalid {
                    field: format!("areas[{i}]"),
                    message: format!("no area {a}"),
                })
                .and_then(|r| col(&r, "name"))?;
            names.push(name);
        }
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO roll_calls (id, message, state, started_by, started_at) VALUES ($1, $2, 'open', $3, $4)",
        )
        .bind(id)
        .bind(message)
        .bind(started_by)
        .bind(audit.at)
        .execute(&mut *tx)
        .await
        .map_err(be)?;
        let codes: Vec<String> = areas.iter().map(|a| a.as_str().to_string()).collect();
        sqlx::query(
            "INSERT INTO roll_call_areas (roll_call_id, seq, area_code) \
             SELECT $1, t.ord - 1, t.code FROM unnest($2::text[]) WITH ORDINALITY AS t(code, ord)",
        )
        .bind(id)
        .bind(&codes)
        .execute(&mut *tx)
        .await
        .map_err(be)?;
        let asked = sqlx::query(
            "INSERT INTO roll_call_people (roll_call_id, user_id) \
             SELECT $1, u.id FROM users u WHERE NOT u.disabled AND u.id = ANY($2)",
        )
        .bind(id)
        .bind(people)
        .execute(&mut *tx)
        .await
        .map_err(be)?
        .rows_affected() as i64;
        let (subject, body) = roll_call_ask(&names, message);
        sqlx::query(&format!(
            "INSERT INTO notifications (id, user_id, kind, subject, body, link, created_at, email_state) \
             SELECT {SQL_UUID_V7}, u.id, 'rollcall.ask', $1, $2, '/eta', $3, {EMAIL_STATE} \
             FROM roll_call_people rp JOIN users u ON u.id = rp.user_id WHERE rp.roll_call_id = $4"
        ))
        .bind(&subject)
        .bind(&body)
        .bind(audit.at)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(be)?;
        let sms = sqlx::query(&format!(
            "INSERT INTO sms_outbox (id, user_id, phone, body, kind, ref, created_at) \
             SELECT {SQL_UUID_V7}, p.user_id, p.phone, $1, 'rollcall', $2, $3 \
             FROM roll_call_people rp JOIN profiles p ON p.user_id = rp.user_id \
             WHERE rp.roll_call_id = $4 AND p.phone <> '' \
             AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.user_id = p.user_id AND d.revoked_at IS NULL)"
        ))
        .bind(roll_call_sms(&names, message))
        .bind(format!("rollcall:{id}"))
        .bind(audit.at)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(be)?
        .rows_affected() as i64;
        sqlx::query("UPDATE roll_calls SET people = $1, sms_recipients = $2 WHERE id = $3")
            .bind(asked)
            .bind(sms)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(be)?;
        // Published to partner systems as CAP, in the same transaction.
        crate::partners::queue_cap_tx(&mut tx, &CapSubject::RollCall { id }, &subject, &audit.at)
            .await?;
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
        sqlx::query(&format!("{RC_SELECT} WHERE r.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(be)?
            .as_ref()
            .map(rc_row)
            .transpose()
    }

    pub(crate) async fn rc_list(
        &self,
        area: Option<&AreaCode>,
        open_only: bool,
    ) -> Result<Vec<RollCall>> {
        sqlx::query(&format!(
            "{RC_SELECT} WHERE ($1::text IS NULL OR EXISTS (SELECT 1 FROM roll_call_areas a \
               WHERE a.roll_call_id = r.id AND a.area_code = $1)) \
             AND (NOT $2 OR r.state = 'open') ORDER BY r.started_at DESC, r.id DESC"
        ))
        .bind(area.map(|a| a.as_str()))
        .bind(open_only)
        .fetch_all(&self.pool)
        .await
        .map_err(be)?
        .iter()
        .map(rc_row)
        .collect()
    }

    pub(crate) async fn rc_board(&self, id: Uuid) -> Result<Option<RollCallBoard>> {
        // One snapshot for the roll call, its people and their answers.
        let mut tx = self.pool.begin().await.map_err(be)?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(be)?;
        let Some(rc) = sqlx::query(&format!("{RC_SELECT} WHERE r.id = $1"))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(be)?
            .as_ref()
            .map(rc_row)
            .transpose()?
        else {
            return Ok(None);
        };
        let rows = sqlx::query(
            "SELECT u.id, u.display_name, COALESCE(p.agency_id, u.agency_id) AS agency_id, \
                    ag.code AS agency_code, p.category \
             FROM roll_call_people rp JOIN users u ON u.id = rp.user_id \
             LEFT JOIN profiles p ON p.user_id = u.id \
             LEFT JOIN agencies ag ON ag.id = COALESCE(p.agency_id, u.agency_id) \
             WHERE rp.roll_call_id = $1 ORDER BY u.display_name, u.id",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .map_err(be)?;
        let answers = sqlx::query(
            "SELECT w.user_id, w.status, w.dependants, w.channel, w.at \
             FROM roll_call_people rp JOIN wellbeing_reports w ON w.user_id = rp.user_id \
             WHERE rp.roll_call_id = $1 AND w.at >= $2 AND ($3::timestamptz IS NULL OR w.at <= $3)",
        )
        .bind(id)
        .bind(rc.started_at)
        .bind(rc.closed_at)
        .fetch_all(&mut *tx)
        .await
        .map_err(be)?;
        tx.commit().await.map_err(be)?;
        let mut by: HashMap<Uuid, Vec<(Answer, String)>> = HashMap::new();
        for r in &answers {
            let deps: Vec<DependantStatus> = json_col(r, "dependants")?;
            by.entry(col(r, "user_id")?).or_default().push((
                Answer {
                    status: Wellbeing::parse(col::<&str>(r, "status")?).map_err(bad)?,
                    dependants: deps.into_iter().map(|d| d.status).collect(),
                    at: col::<DateTime<Utc>>(r, "at")?,
                },
                col(r, "channel")?,
            ));
        }
        let people = rows
            .iter()
            .map(|r| {
                let user: Uuid = col(r, "id")?;
                Ok((
                    RollCallPerson {
                        user,
                        name: col(r, "display_name")?,
                        agency: col(r, "agency_id")?,
                        agency_code: col(r, "agency_code")?,
                        category: col::<Option<&str>>(r, "category")?
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
            "UPDATE roll_calls SET state = 'closed', closed_by = $1, closed_at = $2 WHERE id = $3 AND state = 'open'",
        )
        .bind(by)
        .bind(audit.at)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(be)?
        .rows_affected();
        if changed == 0 {
            let exists = sqlx::query("SELECT 1 FROM roll_calls WHERE id = $1")
                .bind(id)
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
