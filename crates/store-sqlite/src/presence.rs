//! Who is where on SQLite: the candidates of an area at a moment with their
//! evidence, in one query (one snapshot).
//!
//! Travel evidence comes from `presence_legs` (migrations 0007 and 0010,
//! kept by triggers): each traveller's live legs keyed by traveller and
//! departure, each a stay until the traveller's next leg departs, indexed
//! by area, stay class and departure, so that the stays covering a moment
//! are a range per class and a person's latest leg is one seek. Its ids are
//! 16 bytes and its times microseconds (migration 0016): a query binds the
//! moment both as text (for the other tables) and as microseconds.

use crate::{be, from_micros, micros, parse_ts, sql_uuid_text, uuid, uuid_bytes, SqliteStore};
use chrono::{DateTime, Utc};
use sqlx::Row;
use std::sync::LazyLock;
use warden_domain::people::PersonnelCategory;
use warden_domain::presence::{Evidence, LegEvidence, PhoneEvidence};
use warden_domain::AreaCode;
use warden_store::*;

/// The stay classes and, per class, the earliest departure of a stay that
/// may cover the moment (`warden_store::stay_classes`), in microseconds, as
/// pairs bound from ?4 on by [`bind_stays`] (which binds the moment itself,
/// in microseconds, as ?3).
pub(crate) fn stays_cte() -> String {
    let values: Vec<String> = (0..=STAY_CLASSES as usize)
        .map(|i| format!("(?{}, ?{})", 4 + 2 * i, 5 + 2 * i))
        .collect();
    format!("stays(class, since) AS (VALUES {})", values.join(", "))
}

/// Binds ?3, the moment in microseconds, and the pairs of [`stays_cte`].
pub(crate) fn bind_stays<'q>(
    q: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    at: DateTime<Utc>,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    let mut q = q.bind(micros(&at));
    for (class, since) in stay_classes(at) {
        q = q.bind(class).bind(micros(&since));
    }
    q
}

/// The people whom some evidence may place in area ?1 at ?2: stationed
/// there, whose stay covering the moment (the latest live leg departed by
/// then: one range of the area's index per stay class) enters it, or whose
/// phone was there by then. `MATERIALIZED` keeps the few candidates a set
/// of their own, found by their indexes, before anything is joined to them.
static CANDIDATES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH {}, cand(user_id) AS MATERIALIZED (
    SELECT user_id FROM profiles WHERE duty_station = ?1
    UNION
    SELECT {} FROM stays k JOIN presence_legs pl
        ON pl.area_code = ?1 AND pl.stay_class = k.class AND pl.depart >= k.since AND pl.depart <= ?3
     WHERE pl.until IS NULL OR pl.until > ?3
    UNION
    SELECT user_id FROM last_locations WHERE area_code = ?1 AND since <= ?2
)",
        stays_cte(),
        sql_uuid_text("pl.traveller_id")
    )
});

/// Each person's profile, agency and phone. Followed by the people
/// (`FROM … users u`) and then [`JOINS`] or the stays.
pub(crate) const PERSON: &str = "
SELECT u.id, u.display_name, COALESCE(p.agency_id, u.agency_id) AS agency_id, ag.code AS agency_code,
       p.category, p.duty_station, p.updated_at AS profile_at,
       ll.area_code AS ll_area, ll.since AS ll_since, ll.reported_at AS ll_reported";

pub(crate) const PERSON_JOINS: &str = "
  LEFT JOIN profiles p ON p.user_id = u.id
  LEFT JOIN agencies ag ON ag.id = COALESCE(p.agency_id, u.agency_id)
  LEFT JOIN last_locations ll ON ll.user_id = u.id";

/// With [`PERSON`], their latest live legs departed by ?3 (in microseconds:
/// all that share its departure, one row each) and when their stay ends:
/// one seek on `presence_legs`. [`assemble`] keeps each leg once.
pub(crate) const LEG_COLUMNS: &str = ",
       lb.request_id AS b_request, lb.seq AS b_seq, lb.area_code AS b_area, lb.depart AS b_depart,
       lb.arrive AS b_arrive, lb.until AS b_until";

pub(crate) const LEG_JOINS: &str = "
  LEFT JOIN presence_legs lb ON lb.traveller_id = unhex(u.id, '-') AND lb.depart =
       (SELECT max(depart) FROM presence_legs WHERE traveller_id = unhex(u.id, '-') AND depart <= ?3)";

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
        let sql = format!(
            "{}{PERSON}{LEG_COLUMNS}{FROM_CANDIDATES}{PERSON_JOINS}{LEG_JOINS} ORDER BY u.display_name, u.id",
            *CANDIDATES
        );
        let q = sqlx::query(&sql).bind(code.as_str()).bind(&at_s);
        let rows = bind_stays(q, at)
            .fetch_all(&self.reader)
            .await
            .map_err(be)?;
        assemble(&rows)
    }
}

pub(crate) fn leg(r: &sqlx::sqlite::SqliteRow, side: &str) -> Result<Option<LegEvidence>> {
    let Some(request) = r.get::<Option<&[u8]>, _>(format!("{side}_request").as_str()) else {
        return Ok(None);
    };
    Ok(Some(LegEvidence {
        request: uuid_bytes(request)?,
        seq: r.get(format!("{side}_seq").as_str()),
        area: area(r.get(format!("{side}_area").as_str()))?,
        depart: from_micros(r.get(format!("{side}_depart").as_str()))?,
        arrive: from_micros(r.get(format!("{side}_arrive").as_str()))?,
    }))
}

/// A person of a row of [`PERSON`], without legs.
pub(crate) fn person(r: &sqlx::sqlite::SqliteRow) -> Result<PresenceCandidate> {
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
        user: uuid(r.get("id"))?,
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
            legs: vec![],
            next_departure: None,
            phone,
        },
    })
}

/// Candidates from the rows of [`PERSON`] and [`LEG_COLUMNS`] (consecutive
/// rows of one person, as ties on a departure give, are merged), in the
/// order of the rows.
pub(crate) fn assemble(rows: &[sqlx::sqlite::SqliteRow]) -> Result<Vec<PresenceCandidate>> {
    let mut out: Vec<PresenceCandidate> = Vec::with_capacity(rows.len());
    for r in rows {
        let user = uuid(r.get("id"))?;
        if out.last().is_none_or(|c| c.user != user) {
            out.push(person(r)?);
        }
        if let Some(l) = leg(r, "b")? {
            let until = r
                .get::<Option<i64>, _>("b_until")
                .map(from_micros)
                .transpose()?;
            out.last_mut()
                .expect("pushed above")
                .add_latest_leg(l, until);
        }
    }
    Ok(out)
}
