//! `warden bench headcount`: who is where at scale (issue 5). A generated
//! population (personnel of many agencies stationed over the real areas,
//! weighted toward the countries where the network works; a year of travel;
//! fresh phone locations), bulk-loaded with direct SQL into a fresh database;
//! then the headcount of one area at a moment through the API (p50, p99 over
//! many areas and moments), the same question asked of the store directly
//! (its SQL query), and every area at once (through the API, and the
//! store's aggregate alone).

use crate::bench::{ms, percentile, start, token_for};
use crate::bench_db::{fresh, Raw};
use std::time::{Duration, Instant};
use warden_domain::{AreaCode, Role};
use warden_store::{AuditContext, NewAgency};

/// Countries where the network works (most duty stations): weight 12; every
/// other area weight 1.
const FIELD: &[&str] = &[
    "AF", "SO", "SS", "SD", "YE", "SY", "CD", "ML", "NE", "NG", "ET", "KE", "UA", "HT", "IQ", "LB",
    "MM", "BF", "CF", "TD", "LY", "MZ", "CO", "BD", "PK",
];
const FIELD_WEIGHT: usize = 12;

impl Raw {
    /// A UUID made from a number and a tag (`4` people, `9` trips).
    fn uuid(&self, expr: &str, tag: char) -> String {
        if self.is_pg() {
            format!("('00000000-0000-4000-{tag}000-' || lpad(to_hex({expr}), 12, '0'))::uuid")
        } else {
            format!("printf('00000000-0000-4000-{tag}000-%012x', {expr})")
        }
    }
    /// A timestamp `secs` seconds (an SQL expression) after `base`.
    fn time(&self, base: chrono::DateTime<chrono::Utc>, secs: &str) -> String {
        if self.is_pg() {
            format!(
                "('{}'::timestamptz + ({secs}) * interval '1 second')",
                base.to_rfc3339()
            )
        } else {
            format!(
                "(strftime('%Y-%m-%dT%H:%M:%S', '{}', '+' || ({secs}) || ' seconds') || '.000000Z')",
                base.format("%Y-%m-%d %H:%M:%S")
            )
        }
    }
    /// `SELECT … FROM` a series 0..n-1 named `i`.
    fn series(&self, n: u64) -> (String, String) {
        if self.is_pg() {
            (
                String::new(),
                format!("generate_series(0::bigint, {n} - 1) AS s(i)"),
            )
        } else {
            (
                format!(
                    "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {n} - 1) "
                ),
                "s".to_string(),
            )
        }
    }
}

/// Timings of the three questions on one backend.
struct Measured {
    label: String,
    load: Duration,
    area_api: Vec<Duration>,
    area_store: Vec<Duration>,
    world: Vec<Duration>,
    world_store: Vec<Duration>,
    world_bytes: usize,
    world_areas: usize,
    world_present: i64,
}

pub async fn headcount(
    postgres: Option<String>,
    people: u64,
    legs: u64,
    phones: u64,
    agencies: usize,
    samples: usize,
) -> anyhow::Result<()> {
    let mut runs = vec![measure(None, people, legs, phones, agencies, samples).await?];
    if let Some(url) = postgres {
        runs.push(measure(Some(&url), people, legs, phones, agencies, samples).await?);
    }
    println!("## Who is where: headcounts\n");
    println!(
        "{people} personnel of {agencies} agencies stationed over the real areas (weighted {FIELD_WEIGHT}:1 toward {} field countries), {legs} travel legs over a year (out and back), {phones} fresh phone locations; {samples} headcounts of areas with people at moments over the year.\n",
        FIELD.len()
    );
    println!("| backend | load | one area, API p50 | p99 | one area, store (SQL) p50 | p99 | API / store (p50) | every area, API p50 | max | every area, store p50 | answer | areas | present |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &runs {
        let mut api = r.area_api.clone();
        api.sort();
        let mut st = r.area_store.clone();
        st.sort();
        let mut w = r.world.clone();
        w.sort();
        let mut ws = r.world_store.clone();
        ws.sort();
        let ratio =
            percentile(&api, 0.5).as_secs_f64() / percentile(&st, 0.5).as_secs_f64().max(1e-9);
        println!(
            "| {} | {:.0} s | {} | {} | {} | {} | {:.2} | {} | {} | {} | {:.1} MB | {} | {} |",
            r.label,
            r.load.as_secs_f64(),
            ms(percentile(&api, 0.5)),
            ms(percentile(&api, 0.99)),
            ms(percentile(&st, 0.5)),
            ms(percentile(&st, 0.99)),
            ratio,
            ms(percentile(&w, 0.5)),
            ms(*w.last().unwrap_or(&Duration::ZERO)),
            ms(percentile(&ws, 0.5)),
            r.world_bytes as f64 / 1e6,
            r.world_areas,
            r.world_present
        );
    }
    if runs.len() == 2 {
        let p50 = |v: &[Duration]| {
            let mut v = v.to_vec();
            v.sort();
            percentile(&v, 0.5).as_secs_f64()
        };
        println!(
            "\nPostgreSQL / SQLite (p50): one area through the API {:.2}, one area in the store {:.2}, every area {:.2}.",
            p50(&runs[1].area_api) / p50(&runs[0].area_api).max(1e-9),
            p50(&runs[1].area_store) / p50(&runs[0].area_store).max(1e-9),
            p50(&runs[1].world) / p50(&runs[0].world).max(1e-9),
        );
    }
    println!(
        "\nEvery moment is a past one spread over the year (one area) or up to 240 days back (every area): no answer is prepared for \"now\"."
    );
    println!("\nTargets: one area p99 under 20 ms on SQLite; every area under 1 s.");
    Ok(())
}

async fn measure(
    postgres: Option<&str>,
    people: u64,
    legs: u64,
    phones: u64,
    agencies: usize,
    samples: usize,
) -> anyhow::Result<Measured> {
    let (store, label, raw) = fresh(postgres).await?;
    eprintln!("{label}: loading the geography …");
    let srv = start(store.clone()).await?;
    let (_, token) = token_for(store.as_ref(), "bench.sa", Role::SecurityAdviser, "global").await?;
    let ctx = AuditContext::system("warden bench");
    let t_load = Instant::now();

    // Agencies through the store; their ids numbered in a side table.
    raw.exec("CREATE TABLE bench_agencies (n INTEGER PRIMARY KEY, id TEXT NOT NULL)")
        .await?;
    let mut values = vec![];
    for n in 0..agencies {
        let a = store
            .create_agency(
                &NewAgency {
                    code: format!("AG{n:02}"),
                    name: format!("Bench agency {n}"),
                },
                &ctx,
            )
            .await?;
        values.push(format!("({n}, '{}')", a.id));
    }
    raw.exec(&format!(
        "INSERT INTO bench_agencies VALUES {}",
        values.join(",")
    ))
    .await?;

    // The areas, weighted: a pick list the generator indexes by hash.
    let codes: Vec<String> = {
        let geo = srv.state.geo();
        let mut c: Vec<String> = geo
            .index
            .shapes()
            .iter()
            .map(|s| s.code.clone())
            .filter(|c| AreaCode::parse(c).is_ok())
            .collect();
        c.sort();
        c
    };
    let mut pick = vec![];
    for c in &codes {
        let w = if FIELD.contains(&&c[..2]) {
            FIELD_WEIGHT
        } else {
            1
        };
        for _ in 0..w {
            pick.push(c.clone());
        }
    }
    // Shuffle deterministically so that consecutive hashes spread.
    let l = pick.len() as u64;
    let mut shuffled = vec![String::new(); pick.len()];
    for (i, c) in pick.into_iter().enumerate() {
        let j = ((i as u64).wrapping_mul(2_654_435_761) % l) as usize;
        let mut k = j;
        while !shuffled[k].is_empty() {
            k = (k + 1) % shuffled.len();
        }
        shuffled[k] = c;
    }
    raw.exec("CREATE TABLE bench_pick (n INTEGER PRIMARY KEY, code TEXT NOT NULL)")
        .await?;
    for (b, chunk) in shuffled.chunks(1000).enumerate() {
        let v: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(i, c)| format!("({}, '{c}')", b * 1000 + i))
            .collect();
        raw.exec(&format!("INSERT INTO bench_pick VALUES {}", v.join(",")))
            .await?;
    }
    eprintln!(
        "{} areas, {} weighted picks; loading {people} people …",
        codes.len(),
        l
    );

    // Multipliers that spread consecutive numbers over every pick: each
    // coprime to the number of picks (a common factor would send every
    // trip to a few areas only).
    let m_home = coprime(2_654_435_761, l);
    let m_trip = coprime(40_503, l);
    let m_phone = coprime(31, l);
    let now = warden_store::now_micros();
    let year_ago = now - chrono::Duration::days(300);
    let agency_id = if raw.is_pg() { "a.id::uuid" } else { "a.id" };
    let person = |e: &str| raw.uuid(e, '4');
    let trip = |e: &str| raw.uuid(e, '9');
    let (with, from) = raw.series(people);
    let now_t = raw.time(now, "0");
    raw.exec(&format!(
        "{with}INSERT INTO users (id, username, display_name, email, agency_id, password_hash, created_at) \
         SELECT {}, 'bp' || i, 'Person ' || i, '', {agency_id}, 'not-used', {now_t} \
         FROM {from} JOIN bench_agencies a ON a.n = i % {agencies}",
        person("i")
    ))
    .await?;
    let (with, from) = raw.series(people);
    raw.exec(&format!(
        "{with}INSERT INTO profiles (user_id, agency_id, personnel_id, category, duty_station, digest, updated_at) \
         SELECT {}, {agency_id}, 'P' || i, \
                CASE i % 10 WHEN 0 THEN 'international_staff' WHEN 1 THEN 'consultant' WHEN 2 THEN 'dependant' \
                            WHEN 3 THEN 'contractor' ELSE 'national_staff' END, \
                p.code, 'bench', {} \
         FROM {from} JOIN bench_agencies a ON a.n = i % {agencies} \
         JOIN bench_pick p ON p.n = (i * {m_home}) % {l}",
        person("i"),
        raw.time(year_ago, "0")
    ))
    .await?;
    eprintln!(
        "people in {:.0} s; loading {legs} legs …",
        t_load.elapsed().as_secs_f64()
    );

    // Trips of two legs: out to a weighted area, back to the duty station
    // 2-20 days later; departures spread over the year.
    let trips = legs.div_ceil(2);
    let span = 365 * 86_400u64;
    let (with, from) = raw.series(trips);
    raw.exec(&format!(
        "{with}INSERT INTO travel_requests (id, traveller_id, submitted_by, purpose, created_at, updated_at) \
         SELECT {}, {p}, {p}, 'official', {now_t}, {now_t} FROM {from}",
        trip("i"),
        p = person(&format!("((i * 7919) % {people})"))
    ))
    .await?;
    let depart = format!("(i * {span}) / {trips}");
    let back = format!("((i * {span}) / {trips} + 10800 + (2 + i % 19) * 86400)");
    let (with, from) = raw.series(trips);
    raw.exec(&format!(
        "{with}INSERT INTO legs (request_id, seq, origin, destination, area_code, depart, arrive, kind, status) \
         SELECT {}, 1, 'home', p.code, p.code, {}, {}, 'notification', 'acknowledged' \
         FROM {from} JOIN bench_pick p ON p.n = (i * {m_trip} + 17) % {l}",
        trip("i"),
        raw.time(year_ago, &depart),
        raw.time(year_ago, &format!("{depart} + 10800")),
    ))
    .await?;
    let (with, from) = raw.series(legs / 2);
    let duty = format!(
        "(SELECT duty_station FROM profiles WHERE user_id = {})",
        person(&format!("((i * 7919) % {people})"))
    );
    raw.exec(&format!(
        "{with}INSERT INTO legs (request_id, seq, origin, destination, area_code, depart, arrive, kind, status) \
         SELECT {}, 2, 'mission', 'home', {duty}, {}, {}, 'notification', 'acknowledged' FROM {from}",
        trip("i"),
        raw.time(year_ago, &back),
        raw.time(year_ago, &format!("{back} + 10800")),
    ))
    .await?;
    eprintln!(
        "legs in {:.0} s; loading {phones} phones …",
        t_load.elapsed().as_secs_f64()
    );

    // Phone locations of the last three days (a third older than the
    // freshness limit): mostly at the duty station, a fifth elsewhere.
    let (with, from) = raw.series(phones);
    let user = person(&format!("((i * 104729) % {people})"));
    let device = if raw.is_pg() {
        "gen_random_uuid()".to_string()
    } else {
        person("i")
    };
    raw.exec(&format!(
        "{with}INSERT INTO last_locations (user_id, device_id, area_code, since, reported_at) \
         SELECT {user}, {device}, \
                CASE WHEN i % 5 = 0 THEN p.code ELSE (SELECT duty_station FROM profiles WHERE user_id = {user}) END, \
                {}, {} \
         FROM {from} JOIN bench_pick p ON p.n = (i * {m_phone} + 5) % {l} \
         ON CONFLICT (user_id) DO NOTHING",
        raw.time(now - chrono::Duration::hours(72), "((i * 7) % 71) * 3600"),
        raw.time(now - chrono::Duration::hours(72), "((i * 7) % 71) * 3600 + (i % 3) * 1800"),
    ))
    .await?;
    // Statistics (and on PostgreSQL the visibility map that index-only scans
    // use), as autovacuum leaves them after a bulk load.
    raw.exec(if raw.is_pg() {
        "VACUUM ANALYZE"
    } else {
        "ANALYZE"
    })
    .await?;
    let load = t_load.elapsed();
    eprintln!("loaded in {:.0} s; measuring …", load.as_secs_f64());

    // One area at a moment: areas with people (weighted picks), moments over
    // the year.
    let client = reqwest::Client::new();
    let mut area_api = vec![];
    let mut area_store = vec![];
    let mut slowest = vec![];
    for k in 0..samples as u64 {
        let code = &shuffled[((k * 7_777_777 + 3) % l) as usize];
        let at = year_ago + chrono::Duration::seconds(((k * 104_729) % span) as i64);
        let url = format!(
            "{}/api/v1/areas/{code}/headcount?at={}",
            srv.base,
            at.format("%Y-%m-%dT%H:%M:%SZ")
        );
        let t = Instant::now();
        let r = client.get(&url).bearer_auth(&token).send().await?;
        anyhow::ensure!(r.status().is_success(), "{url}: {}", r.status());
        r.bytes().await?;
        area_api.push(t.elapsed());
        let area = AreaCode::parse(code)?;
        let t = Instant::now();
        let found = store.presence_candidates(&area, at).await?;
        area_store.push(t.elapsed());
        slowest.push((
            *area_api.last().unwrap_or(&Duration::ZERO),
            code,
            at,
            found.len(),
        ));
    }
    // The slowest samples, to see what the tail is made of.
    slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
    for (d, code, at, n) in slowest.iter().take(8) {
        eprintln!(
            "slow: {code} at {at}: {} through the API, {n} candidates",
            ms(*d)
        );
    }
    // Every area at once, at a few moments.
    let mut world = vec![];
    let mut world_store = vec![];
    let mut world_bytes = 0;
    let (mut world_areas, mut world_present) = (0, 0);
    for k in 0..5i64 {
        let at = now - chrono::Duration::days(60 * k);
        let url = format!(
            "{}/api/v1/headcount?at={}",
            srv.base,
            at.format("%Y-%m-%dT%H:%M:%SZ")
        );
        let t = Instant::now();
        let r = client.get(&url).bearer_auth(&token).send().await?;
        anyhow::ensure!(r.status().is_success(), "{url}: {}", r.status());
        let body = r.bytes().await?;
        world.push(t.elapsed());
        let t = Instant::now();
        store
            .presence_counts(at, warden_domain::presence::PresenceRules::default())
            .await?;
        world_store.push(t.elapsed());
        world_bytes = body.len();
        let v: serde_json::Value = serde_json::from_slice(&body)?;
        if k == 0 {
            world_areas = v["areas"].as_array().map_or(0, |a| a.len());
            world_present = v["present"].as_i64().unwrap_or(0);
        }
    }
    raw.discard().await?;
    Ok(Measured {
        label,
        load,
        area_api,
        area_store,
        world,
        world_store,
        world_bytes,
        world_areas,
        world_present,
    })
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The first odd number from `m` on that has no factor in common with `n`.
fn coprime(m: u64, n: u64) -> u64 {
    let mut m = m | 1;
    while gcd(m, n) != 1 {
        m += 2;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipliers_reach_every_pick() {
        // 9,392 picks = 16 × 587 share the factor 587 with 40,503: every trip
        // would go to 16 areas.
        let m = coprime(40_503, 9_392);
        assert_eq!(gcd(m, 9_392), 1);
        let reached: std::collections::BTreeSet<u64> =
            (0..9_392u64).map(|i| (i * m + 17) % 9_392).collect();
        assert_eq!(reached.len(), 9_392);
        assert_eq!(coprime(31, 9_392), 31);
    }
}
