//! Who is where, every area at once, on SQLite: everyone whom some evidence
//! may place anywhere (or in one country) at a moment, with their evidence,
//! in one snapshot. Everywhere: two scans merged here (the people with
//! their profiles and phones; the stays covering the moment, a range per
//! stay class), no query or seek per person. One country: its candidates
//! by its areas' indexes, each with one seek for their latest leg.

use crate::presence::{
    assemble, bind_stays, leg, person, stays_cte, FROM_CANDIDATES, LEG_COLUMNS, LEG_JOINS, PERSON,
    PERSON_JOINS,
};
use crate::{be, from_micros, micros, sql_micros, uuid, uuid_bytes, SqliteStore};
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use sqlx::Row;
use std::collections::HashMap;
use std::sync::LazyLock;
use warden_domain::presence::LegEvidence;
use warden_domain::CountryCode;
use warden_store::*;

/// Every user with their profile, agency and phone, in id order.
static PEOPLE: LazyLock<String> =
    LazyLock::new(|| format!("{PERSON} FROM users u{PERSON_JOINS} ORDER BY u.id"));

/// The stays covering ?3 (in microseconds; ?1 and ?2 unused): per
/// traveller, their latest live legs departed by then (all that share its
/// departure), with when the stay ends.
static STAYS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH {} SELECT pl.traveller_id AS id,
       pl.request_id AS b_request, pl.seq AS b_seq, pl.area_code AS b_area, pl.depart AS b_depart,
       pl.arrive AS b_arrive, pl.until AS b_until
  FROM stays k JOIN presence_legs pl
    ON pl.stay_class = k.class AND pl.depart >= k.since AND pl.depart <= ?3
 WHERE (pl.until IS NULL OR pl.until > ?3) AND ?1 IS NULL AND ?2 IS NULL",
        stays_cte()
    )
});

/// The people whom some evidence ties to country ?1 at ?2: stationed in one
/// of its areas, whose stay covering the moment is in one, or whose phone
/// was in one by then (each area by its index), with [`PERSON`] and their
/// latest legs.
static IN_COUNTRY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH {}, cand(user_id) AS MATERIALIZED (
    SELECT p.user_id FROM areas a JOIN profiles p ON p.duty_station = a.code WHERE a.country = ?1
    UNION
    SELECT {} FROM areas a CROSS JOIN stays k JOIN presence_legs pl
        ON pl.area_code = a.code AND pl.stay_class = k.class AND pl.depart >= k.since AND pl.depart <= ?3
     WHERE a.country = ?1 AND (pl.until IS NULL OR pl.until > ?3)
    UNION
    SELECT ll.user_id FROM areas a JOIN last_locations ll ON ll.area_code = a.code
     WHERE a.country = ?1 AND ll.since <= ?2
){PERSON}{LEG_COLUMNS}{FROM_CANDIDATES}{PERSON_JOINS}{LEG_JOINS} ORDER BY u.id",
        stays_cte(),
        crate::sql_uuid_text("pl.traveller_id")
    )
});

/// Every area's headcount at ?1 (text; ?4 in microseconds, as
/// `presence_legs` keeps times), per agency: `whereabouts` as one aggregate
/// over the users (in table order, one pass), each with their profile, phone
/// and latest live leg departed by then (one seek down the table's key in
/// the rule's order: departure, arrival, sequence, request, the greatest
/// first). `why`: 1 the phone (there by then and reported after the travel
/// record), 2 travel, 3 the duty station. Flagged: a phone report before ?2
/// (stale); arrived by then, away from the duty station, nothing after and
/// arrived before ?3 (overdue, in microseconds). Unknown and in transit
/// place nobody.
static COUNTS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "
SELECT c.area, c.agency, ag.code AS agency_code, c.present, c.flagged FROM (
  SELECT area, agency, count(*) AS present, sum(flagged) AS flagged FROM (
    SELECT agency,
           CASE why WHEN 1 THEN ll_area
                    WHEN 2 THEN CASE WHEN arrive <= ?4 THEN l_area END
                    ELSE duty_station END AS area,
           CASE why WHEN 1 THEN reported_at < ?2
                    WHEN 2 THEN arrive <= ?4 AND until IS NULL AND l_area IS NOT duty_station AND arrive < ?3
                    ELSE 0 END AS flagged
      FROM (
        SELECT COALESCE(p.agency_id, u.agency_id) AS agency, p.duty_station,
               ll.area_code AS ll_area, ll.reported_at,
               l.area_code AS l_area, l.arrive, l.until,
               CASE WHEN ll.since <= ?1 AND (l.traveller_id IS NULL OR {} >
                             CASE WHEN l.arrive <= ?4 THEN l.arrive ELSE l.depart END) THEN 1
                    WHEN l.traveller_id IS NOT NULL THEN 2
                    ELSE 3 END AS why
          FROM users u
          LEFT JOIN profiles p ON p.user_id = u.id
          LEFT JOIN last_locations ll ON ll.user_id = u.id
          LEFT JOIN presence_legs l ON l.traveller_id = unhex(u.id, '-')
               AND (l.depart, l.arrive, l.seq, l.request_id) = (
                   SELECT depart, arrive, seq, request_id FROM presence_legs
                    WHERE traveller_id = unhex(u.id, '-') AND depart <= ?4
                    ORDER BY depart DESC, arrive DESC, seq DESC, request_id DESC LIMIT 1)))
   WHERE area IS NOT NULL
   GROUP BY area, agency) c
  LEFT JOIN agencies ag ON ag.id = c.agency
 ORDER BY c.area, c.agency",
        sql_micros("ll.reported_at")
    )
});

impl SqliteStore {
    pub(crate) async fn presence_counts_of(
        &self,
        at: DateTime<Utc>,
        rules: warden_domain::presence::PresenceRules,
    ) -> Result<Vec<PresenceCount>> {
        let (stale, overdue) = presence_bounds(at, rules);
        let rows = sqlx::query(&COUNTS)
            .bind(crate::ts(&at))
            .bind(crate::ts(&stale))
            .bind(micros(&overdue))
            .bind(micros(&at))
            .fetch_all(&self.reader)
            .await
            .map_err(be)?;
        rows.iter()
            .map(|r| {
                Ok(PresenceCount {
                    area: warden_domain::AreaCode::parse(r.get::<&str, _>("area"))
                        .map_err(|e| StoreError::Backend(e.to_string()))?,
                    agency: r
                        .get::<Option<String>, _>("agency")
                        .as_deref()
                        .map(uuid)
                        .transpose()?,
                    agency_code: r.get("agency_code"),
                    present: r.get("present"),
                    flagged: r.get("flagged"),
                })
            })
            .collect()
    }

    pub(crate) async fn presence_everyone_of(
        &self,
        at: DateTime<Utc>,
        country: Option<&CountryCode>,
    ) -> Result<Vec<PresenceCandidate>> {
        let at_s = crate::ts(&at);
        if let Some(country) = country {
            let q = sqlx::query(&IN_COUNTRY)
                .bind(country.to_string())
                .bind(&at_s);
            let rows = bind_stays(q, at)
                .fetch_all(&self.reader)
                .await
                .map_err(be)?;
            return assemble(&rows);
        }
        // One read transaction: one snapshot for both scans.
        let mut tx = self.reader.begin().await.map_err(be)?;
        let mut stays: HashMap<uuid::Uuid, (Vec<LegEvidence>, Option<DateTime<Utc>>)> =
            HashMap::new();
        {
            let q = sqlx::query(&STAYS)
                .bind(None::<String>)
                .bind(None::<String>);
            let mut rows = bind_stays(q, at).fetch(&mut *tx);
            while let Some(r) = rows.try_next().await.map_err(be)? {
                let Some(l) = leg(&r, "b")? else { continue };
                let until = r
                    .get::<Option<i64>, _>("b_until")
                    .map(from_micros)
                    .transpose()?;
                let e = stays.entry(uuid_bytes(r.get("id"))?).or_default();
                e.0.push(l);
                e.1 = until;
            }
        }
        let mut out = Vec::with_capacity(stays.len());
        {
            let mut rows = sqlx::query(&PEOPLE).fetch(&mut *tx);
            while let Some(r) = rows.try_next().await.map_err(be)? {
                let mut c = person(&r)?;
                if let Some((legs, until)) = stays.remove(&c.user) {
                    for l in legs {
                        c.add_latest_leg(l, until);
                    }
                } else if c.evidence.duty_station.is_none() && c.evidence.phone.is_none() {
                    // Nothing places them anywhere.
                    continue;
                }
                out.push(c);
            }
        }
        tx.commit().await.map_err(be)?;
        Ok(out)
    }
}
