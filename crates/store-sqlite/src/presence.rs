//! Who is where on SQLite: the candidates of an area at a moment with their
//! evidence, in two set-based queries read in one snapshot.

use crate::{be, parse_ts, uuid, SqliteStore};
use chrono::{DateTime, Utc};
use sqlx::Row;
use std::collections::HashMap;
use uuid::Uuid;
use warden_domain::people::PersonnelCategory;
use warden_domain::presence::{Evidence, LegEvidence, PhoneEvidence};
use warden_domain::AreaCode;
use warden_store::*;

/// `MATERIALIZED` and the `CROSS JOIN`s fix the plan whatever the planner
/// estimates: the few candidates first (each branch by its index), then
/// their requests and legs by key; never a scan of all legs probing the
/// candidates.
/// The people whom some evidence may place in area ?1 at ?2: stationed
/// there, whose latest live leg departed by then enters it (no later live
/// leg departed by then), or whose phone was there by then.
const CANDIDATES: &str = "WITH cand(user_id) AS MATERIALIZED (
    SELECT user_id FROM profiles WHERE duty_station = ?1
    UNION
    SELECT tr.traveller_id FROM legs l JOIN travel_requests tr ON tr.id = l.request_id
     WHERE l.area_code = ?1 AND l.depart <= ?2 AND l.status NOT IN ('cancelled', 'denied')
       AND NOT EXISTS (
           SELECT 1 FROM travel_requests tr2 JOIN legs l2 ON l2.request_id = tr2.id
            WHERE tr2.traveller_id = tr.traveller_id AND l2.depart > l.depart AND l2.depart <= ?2
              AND l2.status NOT IN ('cancelled', 'denied'))
    UNION
    SELECT user_id FROM last_locations WHERE area_code = ?1 AND since <= ?2
)";

const PEOPLE: &str = "
SELECT u.id, u.display_name, COALESCE(p.agency_id, u.agency_id) AS agency_id, ag.code AS agency_code,
       p.category, p.duty_station, p.updated_at AS profile_at,
       ll.area_code AS ll_area, ll.since AS ll_since, ll.reported_at AS ll_reported
  FROM cand c CROSS JOIN users u ON u.id = c.user_id
  LEFT JOIN profiles p ON p.user_id = u.id
  LEFT JOIN agencies ag ON ag.id = COALESCE(p.agency_id, u.agency_id)
  LEFT JOIN last_locations ll ON ll.user_id = u.id
 ORDER BY u.display_name, u.id";

/// Each candidate's latest live leg departed by ?2 and first departing after.
pub(crate) const LEGS: &str = "
SELECT user_id, request_id, seq, area_code, depart, arrive FROM (
    SELECT tr.traveller_id AS user_id, l.request_id, l.seq, l.area_code, l.depart, l.arrive,
           ROW_NUMBER() OVER (PARTITION BY tr.traveller_id ORDER BY l.depart DESC, l.arrive DESC, l.seq DESC) AS rn
      FROM cand c CROSS JOIN travel_requests tr ON tr.traveller_id = c.user_id CROSS JOIN legs l ON l.request_id = tr.id
     WHERE l.depart <= ?2 AND l.status NOT IN ('cancelled', 'denied')
) b WHERE rn = 1
UNION ALL
SELECT user_id, request_id, seq, area_code, depart, arrive FROM (
    SELECT tr.traveller_id AS user_id, l.request_id, l.seq, l.area_code, l.depart, l.arrive,
           ROW_NUMBER() OVER (PARTITION BY tr.traveller_id ORDER BY l.depart, l.arrive, l.seq) AS rn
      FROM cand c CROSS JOIN travel_requests tr ON tr.traveller_id = c.user_id CROSS JOIN legs l ON l.request_id = tr.id
     WHERE l.depart > ?2 AND l.status NOT IN ('cancelled', 'denied')
) n WHERE rn = 1";

fn bad(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn area(s: &str) -> Result<AreaCode> {
    AreaCode::parse(s).map_err(bad)
}

impl SqliteStore {
    pub(crate) async fn presence_candidates_of(
        &self,
        code: &AreaCode,
        at: DateTime<Utc>,
    ) -> Result<Vec<PresenceCandidate>> {
        let at_s = crate::ts(&at);
        // One read transaction: both queries see the same snapshot.
        let mut tx = self.reader.begin().await.map_err(be)?;
        let rows = sqlx::query(&format!("{CANDIDATES}{PEOPLE}"))
            .bind(code.as_str())
            .bind(&at_s)
            .fetch_all(&mut *tx)
            .await
            .map_err(be)?;
        let legs = sqlx::query(&format!("{CANDIDATES}{LEGS}"))
            .bind(code.as_str())
            .bind(&at_s)
            .fetch_all(&mut *tx)
            .await
            .map_err(be)?;
        tx.commit().await.map_err(be)?;
        assemble(&rows, &legs)
    }
}

/// Candidates from the rows of PEOPLE and LEGS (in the order of PEOPLE).
pub(crate) fn assemble(
    rows: &[sqlx::sqlite::SqliteRow],
    legs: &[sqlx::sqlite::SqliteRow],
) -> Result<Vec<PresenceCandidate>> {
    let mut by_user: HashMap<Uuid, Vec<LegEvidence>> = HashMap::new();
    for r in legs {
        by_user
            .entry(uuid(r.get("user_id"))?)
            .or_default()
            .push(LegEvidence {
                request: uuid(r.get("request_id"))?,
                seq: r.get("seq"),
                area: area(r.get("area_code"))?,
                depart: parse_ts(r.get("depart"))?,
                arrive: parse_ts(r.get("arrive"))?,
            });
    }
    rows.iter()
        .map(|r| {
            let user = uuid(r.get("id"))?;
            let phone = match r.get::<Option<String>, _>("ll_since") {
                Some(since) => Some(PhoneEvidence {
                    area: r
                        .get::<Option<String>, _>("ll_area")
                        .as_deref()
                        .map(area)
                        .transpose()?,
                    since: parse_ts(&since)?,
                    reported_at: parse_ts(r.get("ll_reported"))?,
                }),
                None => None,
            };
            Ok(PresenceCandidate {
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
                evidence: Evidence {
                    duty_station: r
                        .get::<Option<String>, _>("duty_station")
                        .as_deref()
                        .map(area)
                        .transpose()?,
                    duty_station_at: r
                        .get::<Option<String>, _>("profile_at")
                        .as_deref()
                        .map(parse_ts)
                        .transpose()?,
                    legs: by_user.remove(&user).unwrap_or_default(),
                    phone,
                },
            })
        })
        .collect()
}
