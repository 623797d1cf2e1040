//! Who is where, every area at once, on PostgreSQL: everyone whom some
//! evidence may place anywhere (or in one country) at a moment, with their
//! evidence, in one query (one snapshot). Everywhere: the people joined to
//! the stays covering the moment (a range per stay class), set-wise, with
//! no seek per person. One country: its candidates by its areas' indexes,
//! each with one seek for their latest leg.

use crate::presence::{
    assemble, stay_bounds, FROM_CANDIDATES, LEG_COLUMNS, LEG_JOINS, PERSON, PERSON_JOINS, STAYS,
};
use crate::rows::be;
use crate::PgStore;
use chrono::{DateTime, Utc};
use std::sync::LazyLock;
use warden_domain::CountryCode;
use warden_store::*;

/// Everyone whom a duty station, a stay covering $2 or a phone may place
/// somewhere, with their latest legs departed by then (all that share its
/// departure, a row each); $1, the country, is NULL.
static EVERYONE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{PERSON},
       s.request_id AS b_request, s.seq AS b_seq, s.area_code AS b_area, s.depart AS b_depart,
       s.arrive AS b_arrive, s.until AS b_until
  FROM users u{PERSON_JOINS}
  LEFT JOIN (SELECT pl.traveller_id, pl.request_id, pl.seq, pl.area_code, pl.depart, pl.arrive, pl.until
               FROM {STAYS} JOIN presence_legs pl
                 ON pl.stay_class = k.class AND pl.depart >= k.since AND pl.depart <= $2
              WHERE pl.until IS NULL OR pl.until > $2) s ON s.traveller_id = u.id
 WHERE $1::text IS NULL
   AND (p.duty_station IS NOT NULL OR ll.user_id IS NOT NULL OR s.traveller_id IS NOT NULL)
 ORDER BY u.id"
    )
});

/// The people whom some evidence ties to country $1 at $2: stationed in one
/// of its areas, whose stay covering the moment is in one, or whose phone
/// was in one by then (each area by its index).
static IN_COUNTRY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH cand(user_id) AS MATERIALIZED (
    SELECT p.user_id FROM areas a JOIN profiles p ON p.duty_station = a.code WHERE a.country = $1::text
    UNION
    SELECT pl.traveller_id FROM areas a CROSS JOIN {STAYS} JOIN presence_legs pl
        ON pl.area_code = a.code AND pl.stay_class = k.class AND pl.depart >= k.since AND pl.depart <= $2
     WHERE a.country = $1::text AND (pl.until IS NULL OR pl.until > $2)
    UNION
    SELECT ll.user_id FROM areas a JOIN last_locations ll ON ll.area_code = a.code
     WHERE a.country = $1::text AND ll.since <= $2
){PERSON}{LEG_COLUMNS}{FROM_CANDIDATES}{PERSON_JOINS}{LEG_JOINS} ORDER BY u.id"
    )
});

/// Every area's headcount at $1, per agency: `whereabouts` as one aggregate
/// over the users joined set-wise to their profiles, phones and stays
/// covering the moment (each traveller's latest live leg departed by then:
/// of the legs sharing its departure, the greatest arrival, sequence,
/// request, as the rule settles ties). `why`: 1 the phone (there by then
/// and reported after the travel record), 2 travel, 3 the duty station.
/// Flagged: a phone report before $2 (stale); arrived by then, away from
/// the duty station, nothing after and arrived before $5 (overdue). Unknown
/// and in transit place nobody.
static COUNTS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "
WITH l AS (
  SELECT DISTINCT ON (pl.traveller_id) pl.traveller_id, pl.area_code, pl.depart, pl.arrive, pl.until
    FROM {STAYS} JOIN presence_legs pl
      ON pl.stay_class = k.class AND pl.depart >= k.since AND pl.depart <= $1
   WHERE pl.until IS NULL OR pl.until > $1
   ORDER BY pl.traveller_id, pl.arrive DESC, pl.seq DESC, pl.request_id DESC)
SELECT c.area, c.agency, ag.code AS agency_code, c.present, c.flagged FROM (
  SELECT area, agency, count(*) AS present, sum(flagged) AS flagged FROM (
    SELECT agency,
           CASE why WHEN 1 THEN ll_area
                    WHEN 2 THEN CASE WHEN arrive <= $1 THEN l_area END
                    ELSE duty_station END AS area,
           CASE why WHEN 1 THEN (reported_at < $2)::int
                    WHEN 2 THEN (arrive <= $1 AND until IS NULL AND l_area IS DISTINCT FROM duty_station
                                 AND arrive < $5)::int
                    ELSE 0 END AS flagged
      FROM (
        SELECT COALESCE(p.agency_id, u.agency_id) AS agency, p.duty_station,
               ll.area_code AS ll_area, ll.reported_at,
               l.area_code AS l_area, l.arrive, l.until,
               CASE WHEN ll.since <= $1 AND (l.traveller_id IS NULL OR ll.reported_at >
                             CASE WHEN l.arrive <= $1 THEN l.arrive ELSE l.depart END) THEN 1
                    WHEN l.traveller_id IS NOT NULL THEN 2
                    ELSE 3 END AS why
          FROM users u
          LEFT JOIN profiles p ON p.user_id = u.id
          LEFT JOIN last_locations ll ON ll.user_id = u.id
          LEFT JOIN l ON l.traveller_id = u.id) person) placed
   WHERE area IS NOT NULL
   GROUP BY area, agency) c
  LEFT JOIN agencies ag ON ag.id = c.agency
 ORDER BY c.area COLLATE \"C\", c.agency NULLS FIRST"
    )
});

impl PgStore {
    pub(crate) async fn presence_counts_of(
        &self,
        at: DateTime<Utc>,
        rules: warden_domain::presence::PresenceRules,
    ) -> Result<Vec<PresenceCount>> {
        use sqlx::Row;
        let (stale, overdue) = presence_bounds(at, rules);
        let (classes, since) = stay_bounds(at);
        let rows = sqlx::query(&COUNTS)
            .bind(at)
            .bind(stale)
            .bind(classes)
            .bind(since)
            .bind(overdue)
            .fetch_all(&self.pool)
            .await
            .map_err(be)?;
        rows.iter()
            .map(|r| {
                Ok(PresenceCount {
                    area: warden_domain::AreaCode::parse(r.get::<&str, _>("area"))
                        .map_err(|e| StoreError::Backend(e.to_string()))?,
                    agency: r.try_get("agency").map_err(be)?,
                    agency_code: r.get("agency_code"),
                    present: r.try_get("present").map_err(be)?,
                    flagged: r.try_get("flagged").map_err(be)?,
                })
            })
            .collect()
    }

    pub(crate) async fn presence_everyone_of(
        &self,
        at: DateTime<Utc>,
        country: Option<&CountryCode>,
    ) -> Result<Vec<PresenceCandidate>> {
        let sql: &str = if country.is_some() {
            &IN_COUNTRY
        } else {
            &EVERYONE
        };
        let (classes, since) = stay_bounds(at);
        // One statement: one snapshot.
        let rows = sqlx::query(sql)
            .bind(country.map(|c| c.to_string()))
            .bind(at)
            .bind(classes)
            .bind(since)
            .fetch_all(&self.pool)
            .await
            .map_err(be)?;
        assemble(&rows)
    }
}
