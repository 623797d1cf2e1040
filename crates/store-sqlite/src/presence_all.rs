//! Who is where, every area at once, on SQLite: everyone whom some evidence
//! may place anywhere (or in one country) at a moment, with their evidence,
//! in one query (one snapshot): per person, seeks on `presence_legs` for the
//! latest live leg departed by the moment and the first after it.

use crate::presence::{assemble, COLUMNS, FROM_CANDIDATES, JOINS};
use crate::{be, SqliteStore};
use chrono::{DateTime, Utc};
use warden_domain::CountryCode;
use warden_store::*;

/// Everyone with a profile, a travel request or a phone location, in the
/// order of their ids (the users' index, no sort); ?1, the country, is NULL.
const EVERYONE: &str = "
 FROM users u";
const EVERYONE_WHERE: &str = "
 WHERE ?1 IS NULL
   AND (EXISTS (SELECT 1 FROM profiles WHERE user_id = u.id)
        OR EXISTS (SELECT 1 FROM travel_requests WHERE traveller_id = u.id)
        OR EXISTS (SELECT 1 FROM last_locations WHERE user_id = u.id))";

/// The people whom some evidence ties to country ?1 at ?2: stationed in one
/// of its areas, whose latest live leg departed by then enters one, or whose
/// phone was in one by then (each area by its index).
const IN_COUNTRY: &str = "WITH cand(user_id) AS MATERIALIZED (
    SELECT p.user_id FROM areas a JOIN profiles p ON p.duty_station = a.code WHERE a.country = ?1
    UNION
    SELECT pl.traveller_id FROM areas a JOIN presence_legs pl ON pl.area_code = a.code
     WHERE a.country = ?1 AND pl.depart <= ?2
       AND NOT EXISTS (
           SELECT 1 FROM presence_legs p2
            WHERE p2.traveller_id = pl.traveller_id AND p2.depart > pl.depart AND p2.depart <= ?2)
    UNION
    SELECT ll.user_id FROM areas a JOIN last_locations ll ON ll.area_code = a.code
     WHERE a.country = ?1 AND ll.since <= ?2
)";

impl SqliteStore {
    pub(crate) async fn presence_everyone_of(
        &self,
        at: DateTime<Utc>,
        country: Option<&CountryCode>,
    ) -> Result<Vec<PresenceCandidate>> {
        let at_s = crate::ts(&at);
        let sql = if country.is_some() {
            format!("{IN_COUNTRY}{COLUMNS}{FROM_CANDIDATES}{JOINS} ORDER BY u.id")
        } else {
            format!("{COLUMNS}{EVERYONE}{JOINS}{EVERYONE_WHERE} ORDER BY u.id")
        };
        // One statement: one snapshot.
        let rows = sqlx::query(&sql)
            .bind(country.map(|c| c.to_string()))
            .bind(&at_s)
            .fetch_all(&self.reader)
            .await
            .map_err(be)?;
        assemble(&rows)
    }
}
