//! Who is where, every area at once, on SQLite: everyone whom some evidence
//! may place anywhere (or in one country) at a moment, with their evidence,
//! in two set-based queries read in one snapshot.

use crate::presence::{assemble, LEGS};
use crate::{be, SqliteStore};
use chrono::{DateTime, Utc};
use warden_domain::CountryCode;
use warden_store::*;

/// Everyone with a profile, a travel request or a phone location.
const EVERYONE: &str = "WITH cand(user_id) AS (
    SELECT user_id FROM profiles
    UNION
    SELECT traveller_id FROM travel_requests
    UNION
    SELECT user_id FROM last_locations
)";

/// The people whom some evidence ties to country ?1 (`XX-`) at ?2: stationed
/// there, whose latest live leg departed by then enters it, or whose phone
/// was there by then.
const IN_COUNTRY: &str = "WITH cand(user_id) AS MATERIALIZED (
    SELECT user_id FROM profiles WHERE substr(duty_station, 1, 3) = ?1
    UNION
    SELECT tr.traveller_id FROM legs l JOIN travel_requests tr ON tr.id = l.request_id
     WHERE substr(l.area_code, 1, 3) = ?1 AND l.depart <= ?2 AND l.status NOT IN ('cancelled', 'denied')
       AND NOT EXISTS (
           SELECT 1 FROM travel_requests tr2 JOIN legs l2 ON l2.request_id = tr2.id
            WHERE tr2.traveller_id = tr.traveller_id AND l2.depart > l.depart AND l2.depart <= ?2
              AND l2.status NOT IN ('cancelled', 'denied'))
    UNION
    SELECT user_id FROM last_locations WHERE substr(area_code, 1, 3) = ?1 AND since <= ?2
)";

/// Everyone's latest live leg departed by ?2 and first departing after: the
/// per-area LEGS without the join on the candidates (every traveller is
/// one), which spares the planner a join over all of them.
const LEGS_ALL: &str = "
SELECT user_id, request_id, seq, area_code, depart, arrive FROM (
    SELECT tr.traveller_id AS user_id, l.request_id, l.seq, l.area_code, l.depart, l.arrive,
           ROW_NUMBER() OVER (PARTITION BY tr.traveller_id ORDER BY l.depart DESC, l.arrive DESC, l.seq DESC) AS rn
      FROM travel_requests tr JOIN legs l ON l.request_id = tr.id
     WHERE l.depart <= ?2 AND l.status NOT IN ('cancelled', 'denied')
) b WHERE rn = 1
UNION ALL
SELECT user_id, request_id, seq, area_code, depart, arrive FROM (
    SELECT tr.traveller_id AS user_id, l.request_id, l.seq, l.area_code, l.depart, l.arrive,
           ROW_NUMBER() OVER (PARTITION BY tr.traveller_id ORDER BY l.depart, l.arrive, l.seq) AS rn
      FROM travel_requests tr JOIN legs l ON l.request_id = tr.id
     WHERE l.depart > ?2 AND l.status NOT IN ('cancelled', 'denied')
) n WHERE rn = 1";

const PEOPLE: &str = "
SELECT u.id, u.display_name, COALESCE(p.agency_id, u.agency_id) AS agency_id, ag.code AS agency_code,
       p.category, p.duty_station, p.updated_at AS profile_at,
       ll.area_code AS ll_area, ll.since AS ll_since, ll.reported_at AS ll_reported
  FROM cand c CROSS JOIN users u ON u.id = c.user_id
  LEFT JOIN profiles p ON p.user_id = u.id
  LEFT JOIN agencies ag ON ag.id = COALESCE(p.agency_id, u.agency_id)
  LEFT JOIN last_locations ll ON ll.user_id = u.id
 ORDER BY u.id";

impl SqliteStore {
    pub(crate) async fn presence_everyone_of(
        &self,
        at: DateTime<Utc>,
        country: Option<&CountryCode>,
    ) -> Result<Vec<PresenceCandidate>> {
        let at_s = crate::ts(&at);
        let (cand, legs_sql, prefix) = match country {
            Some(c) => (
                IN_COUNTRY,
                format!("{IN_COUNTRY}{LEGS}"),
                Some(format!("{c}-")),
            ),
            None => (EVERYONE, LEGS_ALL.to_string(), None),
        };
        // One read transaction: both queries see the same snapshot.
        let mut tx = self.reader.begin().await.map_err(be)?;
        let rows = sqlx::query(&format!("{cand}{PEOPLE}"))
            .bind(&prefix)
            .bind(&at_s)
            .fetch_all(&mut *tx)
            .await
            .map_err(be)?;
        let legs = sqlx::query(&legs_sql)
            .bind(&prefix)
            .bind(&at_s)
            .fetch_all(&mut *tx)
            .await
            .map_err(be)?;
        tx.commit().await.map_err(be)?;
        assemble(&rows, &legs)
    }
}
