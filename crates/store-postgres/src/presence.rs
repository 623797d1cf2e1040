//! Who is where on PostgreSQL: the candidates of an area at a moment with
//! their evidence, in one query (one snapshot).
//!
//! Travel evidence comes from `presence_legs` (migrations 0007 and 0010,
//! kept by triggers): each traveller's live legs keyed by traveller and
//! departure, each a stay until the traveller's next leg departs, indexed
//! by area, stay class and departure, so that the stays covering a moment
//! are a range per class and a person's latest leg is one seek.

use crate::rows::be;
use crate::PgStore;
use chrono::{DateTime, Utc};
use sqlx::Row;
use std::sync::LazyLock;
use uuid::Uuid;
use warden_domain::people::PersonnelCategory;
use warden_domain::presence::{Evidence, LegEvidence, PhoneEvidence};
use warden_domain::AreaCode;
use warden_store::*;

/// The stay classes ($3) and, per class, the earliest departure of a stay
/// that may cover the moment ($4): `warden_store::stay_classes`.
pub(crate) const STAYS: &str = "unnest($3::int[], $4::timestamptz[]) AS k(class, since)";

/// The bounds of [`STAYS`] as the two arrays it binds.
pub(crate) fn stay_bounds(at: DateTime<Utc>) -> (Vec<i32>, Vec<DateTime<Utc>>) {
    stay_classes(at).into_iter().unzip()
}

/// The people whom some evidence may place in area $1 at $2: stationed
/// there, whose stay covering the moment (the latest live leg departed by
/// then: one range of the area's index per stay class) enters it, or whose
/// phone was there by then.
static CANDIDATES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH cand(user_id) AS MATERIALIZED (
    SELECT user_id FROM profiles WHERE duty_station = $1
    UNION
    SELECT pl.traveller_id FROM {STAYS} JOIN presence_legs pl
        ON pl.area_code = $1 AND pl.stay_class = k.class AND pl.depart >= k.since AND pl.depart <= $2
     WHERE pl.until IS NULL OR pl.until > $2
    UNION
    SELECT user_id FROM last_locations WHERE area_code = $1 AND since <= $2
)"
    )
});

/// Each person's profile, agency and phone. Followed by the people
/// (`FROM … users u`) and then [`PERSON_JOINS`].
pub(crate) const PERSON: &str = "
SELECT u.id, u.display_name, COALESCE(p.agency_id, u.agency_id) AS agency_id, ag.code AS agency_code,
       p.category, p.duty_station, p.updated_at AS profile_at,
       ll.area_code AS ll_area, ll.since AS ll_since, ll.reported_at AS ll_reported";

pub(crate) const PERSON_JOINS: &str = "
  LEFT JOIN profiles p ON p.user_id = u.id
  LEFT JOIN agencies ag ON ag.id = COALESCE(p.agency_id, u.agency_id)
  LEFT JOIN last_locations ll ON ll.user_id = u.id";

/// With [`PERSON`], their latest live leg departed by $2 (one index seek;
/// ties settled as the rule settles them: the greatest departure, arrival,
/// sequence, request) and when its stay ends.
pub(crate) const LEG_COLUMNS: &str = ",
       lb.request_id AS b_request, lb.seq AS b_seq, lb.area_code AS b_area, lb.depart AS b_depart,
       lb.arrive AS b_arrive, lb.until AS b_until";

pub(crate) const LEG_JOINS: &str = "
  LEFT JOIN LATERAL (
       SELECT request_id, seq, area_code, depart, arrive, until FROM presence_legs
        WHERE traveller_id = u.id AND depart <= $2
        ORDER BY depart DESC, arrive DESC, seq DESC, request_id DESC LIMIT 1) lb ON true";

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
        let (classes, since) = stay_bounds(at);
        let rows = sqlx::query(&format!(
            "{}{PERSON}{LEG_COLUMNS}{FROM_CANDIDATES}{PERSON_JOINS}{LEG_JOINS} ORDER BY u.display_name, u.id",
            *CANDIDATES
        ))
        .bind(code.as_str())
        .bind(at)
        .bind(classes)
        .bind(since)
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

/// A person of a row of [`PERSON`], without legs.
pub(crate) fn person(r: &sqlx::postgres::PgRow) -> Result<PresenceCandidate> {
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
    Ok(PresenceCandidate {
        user: r.try_get("id").map_err(be)?,
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
            legs: vec![],
            next_departure: None,
            phone,
        },
    })
}

/// Adds a latest departed leg (`b_…`), if the row has one, and the end of
/// its stay to a person's evidence.
fn add_leg(c: &mut PresenceCandidate, r: &sqlx::postgres::PgRow) -> Result<()> {
    if let Some(l) = leg(r, "b")? {
        c.add_latest_leg(l, r.try_get("b_until").map_err(be)?);
    }
    Ok(())
}

/// Candidates from the rows of [`PERSON`] and [`LEG_COLUMNS`] (consecutive
/// rows of one person are merged), in the order of the rows.
pub(crate) fn assemble(rows: &[sqlx::postgres::PgRow]) -> Result<Vec<PresenceCandidate>> {
    let mut out: Vec<PresenceCandidate> = Vec::with_capacity(rows.len());
    for r in rows {
        let user: Uuid = r.try_get("id").map_err(be)?;
        if out.last().is_none_or(|c| c.user != user) {
            out.push(person(r)?);
        }
        add_leg(out.last_mut().expect("pushed above"), r)?;
    }
    Ok(out)
}
