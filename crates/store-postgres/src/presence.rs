//! Who is where on PostgreSQL: the candidates of an area at a moment with
//! their evidence, in one query (one snapshot).
//!
//! Travel evidence comes from `presence_legs` (migration 0007, kept by
//! triggers): each traveller's live legs keyed by traveller and departure,
//! so that a person's latest leg departed by the moment and their first
//! after it are index seeks, and the legs into an area carry their
//! traveller.

use crate::rows::be;
use crate::PgStore;
use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;
use warden_domain::people::PersonnelCategory;
use warden_domain::presence::{Evidence, LegEvidence, PhoneEvidence};
use warden_domain::AreaCode;
use warden_store::*;

/// The people whom some evidence may place in area $1 at $2: stationed
/// there, whose latest live leg departed by then enters it (no later live
/// leg departed by then: one seek each), or whose phone was there by then.
const CANDIDATES: &str = "WITH cand(user_id) AS MATERIALIZED (
    SELECT user_id FROM profiles WHERE duty_station = $1
    UNION
    SELECT pl.traveller_id FROM presence_legs pl
     WHERE pl.area_code = $1 AND pl.depart <= $2
       AND NOT EXISTS (
           SELECT 1 FROM presence_legs p2
            WHERE p2.traveller_id = pl.traveller_id AND p2.depart > pl.depart AND p2.depart <= $2)
    UNION
    SELECT user_id FROM last_locations WHERE area_code = $1 AND since <= $2
)";

/// Each person's profile, agency, phone, their latest live leg departed by
/// $2 and their first departing after it (one index seek each; ties
/// settled as the rule settles them: the greatest departure, arrival,
/// sequence, request). Followed by the people (`FROM … users u`) and then
/// [`JOINS`].
pub(crate) const COLUMNS: &str = "
SELECT u.id, u.display_name, COALESCE(p.agency_id, u.agency_id) AS agency_id, ag.code AS agency_code,
       p.category, p.duty_station, p.updated_at AS profile_at,
       ll.area_code AS ll_area, ll.since AS ll_since, ll.reported_at AS ll_reported,
       lb.request_id AS b_request, lb.seq AS b_seq, lb.area_code AS b_area, lb.depart AS b_depart, lb.arrive AS b_arrive,
       la.request_id AS a_request, la.seq AS a_seq, la.area_code AS a_area, la.depart AS a_depart, la.arrive AS a_arrive";

pub(crate) const JOINS: &str = "
  LEFT JOIN profiles p ON p.user_id = u.id
  LEFT JOIN agencies ag ON ag.id = COALESCE(p.agency_id, u.agency_id)
  LEFT JOIN last_locations ll ON ll.user_id = u.id
  LEFT JOIN LATERAL (
       SELECT request_id, seq, area_code, depart, arrive FROM presence_legs
        WHERE traveller_id = u.id AND depart <= $2
        ORDER BY depart DESC, arrive DESC, seq DESC, request_id DESC LIMIT 1) lb ON true
  LEFT JOIN LATERAL (
       SELECT request_id, seq, area_code, depart, arrive FROM presence_legs
        WHERE traveller_id = u.id AND depart > $2
        ORDER BY depart, arrive, seq, request_id LIMIT 1) la ON true";

/// The candidates of `cand` as people.
pub(crate) const FROM_CANDIDATES: &str = " FROM cand c JOIN users u ON u.id = c.user_id";

fn bad(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn area(s: &str) -> Result<AreaCode> {
    AreaCode::parse(s).map_err(bad)
}

impl PgStore {
    pub(crate) async fn presence_candidates_of(
        &self,
        code: &AreaCode,
        at: DateTime<Utc>,
    ) -> Result<Vec<PresenceCandidate>> {
        // One statement: one snapshot.
        let rows = sqlx::query(&format!(
            "{CANDIDATES}{COLUMNS}{FROM_CANDIDATES}{JOINS} ORDER BY u.display_name, u.id"
        ))
        .bind(code.as_str())
        .bind(at)
        .fetch_all(&self.pool)
        .await
        .map_err(be)?;
        assemble(&rows)
    }
}

fn leg(r: &sqlx::postgres::PgRow, side: &str) -> Result<Option<LegEvidence>> {
    let Some(request) = r
        .try_get::<Option<Uuid>, _>(format!("{side}_request").as_str())
        .map_err(be)?
    else {
        return Ok(None);
    };
    Ok(Some(LegEvidence {
        request,
        seq: r.try_get(format!("{side}_seq").as_str()).map_err(be)?,
        area: area(r.try_get(format!("{side}_area").as_str()).map_err(be)?)?,
        depart: r.try_get(format!("{side}_depart").as_str()).map_err(be)?,
        arrive: r.try_get(format!("{side}_arrive").as_str()).map_err(be)?,
    }))
}

/// Candidates from the rows of COLUMNS, one row each, in the order of the
/// rows; each person's legs sorted by departure, arrival, sequence and
/// request.
pub(crate) fn assemble(rows: &[sqlx::postgres::PgRow]) -> Result<Vec<PresenceCandidate>> {
    rows.iter()
        .map(|r| {
            let user: Uuid = r.try_get("id").map_err(be)?;
            let phone = match r
                .try_get::<Option<DateTime<Utc>>, _>("ll_since")
                .map_err(be)?
            {
                Some(since) => Some(PhoneEvidence {
                    area: r
                        .get::<Option<String>, _>("ll_area")
                        .as_deref()
                        .map(area)
                        .transpose()?,
                    since,
                    reported_at: r.try_get("ll_reported").map_err(be)?,
                }),
                None => None,
            };
            // The latest departed is never after the first after: in order.
            let legs: Vec<LegEvidence> =
                [leg(r, "b")?, leg(r, "a")?].into_iter().flatten().collect();
            Ok(PresenceCandidate {
                user,
                name: r.get("display_name"),
                agency: r.try_get("agency_id").map_err(be)?,
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
                    duty_station_at: r.try_get("profile_at").map_err(be)?,
                    legs,
                    phone,
                },
            })
        })
        .collect()
}
