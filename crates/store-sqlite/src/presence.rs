//! Who is where on SQLite: the candidates of an area at a moment with their
//! evidence, in one query (one snapshot).
//!
//! Travel evidence comes from `presence_legs` (migration 0007, kept by
//! triggers): each traveller's live legs keyed by traveller and departure,
//! so that a person's latest leg departed by the moment and their first
//! after it are index seeks, and the legs into an area carry their
//! traveller.

use crate::{be, parse_ts, uuid, SqliteStore};
use chrono::{DateTime, Utc};
use sqlx::Row;
use warden_domain::people::PersonnelCategory;
use warden_domain::presence::{Evidence, LegEvidence, PhoneEvidence};
use warden_domain::AreaCode;
use warden_store::*;

/// The people whom some evidence may place in area ?1 at ?2: stationed
/// there, whose latest live leg departed by then enters it (no later live
/// leg departed by then: one seek each), or whose phone was there by then.
/// `MATERIALIZED` keeps the few candidates a set of their own, found by
/// their indexes, before anything is joined to them.
const CANDIDATES: &str = "WITH cand(user_id) AS MATERIALIZED (
    SELECT user_id FROM profiles WHERE duty_station = ?1
    UNION
    SELECT pl.traveller_id FROM presence_legs pl
     WHERE pl.area_code = ?1 AND pl.depart <= ?2
       AND NOT EXISTS (
           SELECT 1 FROM presence_legs p2
            WHERE p2.traveller_id = pl.traveller_id AND p2.depart > pl.depart AND p2.depart <= ?2)
    UNION
    SELECT user_id FROM last_locations WHERE area_code = ?1 AND since <= ?2
)";

/// Each person's profile, agency, phone, and their latest live legs
/// departed by ?2 (all that share its departure) and their first departing
/// after it (likewise): two seeks each on `presence_legs`. Ties give one
/// row per combination; [`assemble`] keeps each leg once. Followed by the
/// people (`FROM … users u`) and then [`JOINS`].
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
  LEFT JOIN presence_legs lb ON lb.traveller_id = u.id AND lb.depart =
       (SELECT max(depart) FROM presence_legs WHERE traveller_id = u.id AND depart <= ?2)
  LEFT JOIN presence_legs la ON la.traveller_id = u.id AND la.depart =
       (SELECT min(depart) FROM presence_legs WHERE traveller_id = u.id AND depart > ?2)";

/// The candidates of `cand` as people.
pub(crate) const FROM_CANDIDATES: &str = " FROM cand c CROSS JOIN users u ON u.id = c.user_id";

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
        // One statement: one snapshot.
        let rows = sqlx::query(&format!(
            "{CANDIDATES}{COLUMNS}{FROM_CANDIDATES}{JOINS} ORDER BY u.display_name, u.id"
        ))
        .bind(code.as_str())
        .bind(&at_s)
        .fetch_all(&self.reader)
        .await
        .map_err(be)?;
        assemble(&rows)
    }
}

fn leg(r: &sqlx::sqlite::SqliteRow, side: &str) -> Result<Option<LegEvidence>> {
    let Some(request) = r.get::<Option<String>, _>(format!("{side}_request").as_str()) else {
        return Ok(None);
    };
    Ok(Some(LegEvidence {
        request: uuid(&request)?,
        seq: r.get(format!("{side}_seq").as_str()),
        area: area(r.get(format!("{side}_area").as_str()))?,
        depart: parse_ts(r.get(format!("{side}_depart").as_str()))?,
        arrive: parse_ts(r.get(format!("{side}_arrive").as_str()))?,
    }))
}

/// Candidates from the rows of COLUMNS (consecutive rows of one person, as
/// ties on a departure give, are merged), in the order of the rows. Each
/// person's legs are sorted by departure, arrival, sequence and request.
pub(crate) fn assemble(rows: &[sqlx::sqlite::SqliteRow]) -> Result<Vec<PresenceCandidate>> {
    let mut out: Vec<PresenceCandidate> = Vec::with_capacity(rows.len());
    for r in rows {
        let user = uuid(r.get("id"))?;
        let legs = [leg(r, "b")?, leg(r, "a")?];
        if let Some(last) = out.last_mut().filter(|c| c.user == user) {
            for l in legs.into_iter().flatten() {
                if !last.evidence.legs.contains(&l) {
                    last.evidence.legs.push(l);
                }
            }
            sort_legs(&mut last.evidence.legs);
            continue;
        }
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
        let mut legs: Vec<LegEvidence> = legs.into_iter().flatten().collect();
        sort_legs(&mut legs);
        out.push(PresenceCandidate {
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
                legs,
                phone,
            },
        });
    }
    Ok(out)
}

/// Legs in the order the rule's ties are settled in: departure, arrival,
/// sequence, request (the last of equals wins).
pub(crate) fn sort_legs(legs: &mut [LegEvidence]) {
    legs.sort_by(|a, b| {
        (a.depart, a.arrive, a.seq, a.request).cmp(&(b.depart, b.arrive, b.seq, b.request))
    });
}
