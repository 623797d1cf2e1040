//! `warden bench lookup`: point → area lookup speed of the in-memory index
//! (`warden_geo::AreaIndex` over the built-in admin-1 areas) compared with PostGIS.
//!
//! PostGIS is optional. To compare on Debian 12 with PostgreSQL 15:
//!
//! ```sh
//! apt-get update && apt-get install -y postgresql-15-postgis-3
//! ```
//!
//! (a running server sees the extension without a restart). With a PostgreSQL URL the bench
//! creates a fresh schema `bench_lookup_<random>`, runs `CREATE EXTENSION IF NOT EXISTS
//! postgis`, loads the same polygons (GeoJSON → `ST_GeomFromGeoJSON`, SRID 4326) into a table
//! with a GiST index, `ANALYZE`s it, times the same points one query at a time over a single
//! connection and in batches (`unnest` of point arrays + `LATERAL` `ST_Contains`), and drops
//! the schema again.
//!
//! Crate dependencies: `anyhow`, `sqlx` (features `runtime-tokio`, `postgres`; runtime
//! queries only, no macros), `tokio`, `warden-geo`.

use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection, Row};
use warden_geo::{builtin_areas, to_geojson_geometry, AreaIndex, AreaShape};

/// Points per batched PostGIS query.
const BATCH: usize = 5_000;
/// Areas per INSERT while loading.
const LOAD_CHUNK: usize = 250;

/// Result of `warden bench lookup`.
#[derive(Debug, Clone, PartialEq)]
pub struct LookupReport {
    pub areas: usize,
    pub points: usize,
    /// Points that fall inside some area (in-memory index).
    pub points_in_area: usize,
    pub index_build_ms: f64,
    pub rtree_lookups_per_sec: f64,
    pub rtree_ns_per_lookup: f64,
    /// One `SELECT ... WHERE ST_Contains(...) LIMIT 1` per point over one connection.
    pub postgis_lookups_per_sec: Option<f64>,
    pub postgis_ns_per_lookup: Option<f64>,
    /// `unnest` of point arrays joined with `ST_Contains`, `postgis_batch_size` points per query.
    pub postgis_batch_lookups_per_sec: Option<f64>,
    pub postgis_batch_ns_per_lookup: Option<f64>,
    pub postgis_batch_size: Option<usize>,
    pub postgis_load_ms: Option<f64>,
    pub postgis_version: Option<String>,
    /// Share of points where PostGIS (one by one) and the in-memory index give the same area
    /// (both "no area" counts as the same).
    pub agreement: Option<f64>,
    /// Same for the batched PostGIS query.
    pub batch_agreement: Option<f64>,
}

struct XorShift(u64);

impl XorShift {
    fn next_f64(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Deterministic test points (same generator and seed as `crates/geo/benches/lookup.rs`):
/// 70 % jittered by up to ±0.5° around area label points, 30 % uniform over
/// lon [-180, 180] × lat [-60, 75] (mostly ocean).
pub fn bench_points(labels: &[(f64, f64)], n: usize) -> Vec<(f64, f64)> {
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    (0..n)
        .map(|_| {
            if rng.next_f64() < 0.7 && !labels.is_empty() {
                let (lon, lat) =
                    labels[(rng.next_f64() * labels.len() as f64) as usize % labels.len()];
                (
                    (lon + (rng.next_f64() - 0.5)).clamp(-180.0, 180.0),
                    (lat + (rng.next_f64() - 0.5)).clamp(-90.0, 90.0),
                )
            } else {
                (
                    rng.next_f64() * 360.0 - 180.0,
                    rng.next_f64() * 135.0 - 60.0,
                )
            }
        })
        .collect()
}

fn per_sec(n: usize, d: Duration) -> (f64, f64) {
    let secs = d.as_secs_f64().max(1e-12);
    (n as f64 / secs, secs * 1e9 / n.max(1) as f64)
}

struct InMemory {
    areas: usize,
    build: Duration,
    rate: (f64, f64),
    results: Vec<Option<String>>,
    /// code, GeoJSON geometry text, planar area
    rows: Vec<(String, String, f64)>,
    pts: Vec<(f64, f64)>,
}

fn in_memory(points: usize) -> InMemory {
    let areas = builtin_areas();
    let labels: Vec<(f64, f64)> = areas.iter().map(|a| a.label).collect();
    let pts = bench_points(&labels, points);
    let rows: Vec<(String, String, f64)> = areas
        .iter()
        .map(|a| {
            use warden_geo::geo::Area;
            (
                a.code.clone(),
                to_geojson_geometry(&a.geometry).to_string(),
                a.geometry.unsigned_area(),
            )
        })
        .collect();
    let t = Instant::now();
    let index = AreaIndex::new(
        areas
            .into_iter()
            .map(|a| AreaShape {
                code: a.code,
                priority: 0,
                geometry: a.geometry,
            })
            .collect(),
    );
    let build = t.elapsed();

    // warm-up, then time whole passes until at least ~0.3 s have been measured
    let mut results: Vec<Option<String>> = pts
        .iter()
        .map(|&(x, y)| index.lookup(x, y).map(str::to_owned))
        .collect();
    let mut done = 0usize;
    let mut elapsed = Duration::ZERO;
    while done == 0 || elapsed < Duration::from_millis(300) {
        let t = Instant::now();
        let mut found = 0usize;
        for &(x, y) in &pts {
            if std::hint::black_box(index.lookup(std::hint::black_box(x), std::hint::black_box(y)))
                .is_some()
            {
                found += 1;
            }
        }
        elapsed += t.elapsed();
        done += pts.len();
        std::hint::black_box(found);
        if pts.is_empty() {
            break;
        }
    }
    results.shrink_to_fit();
    InMemory {
        areas: index.len(),
        build,
        rate: per_sec(done, elapsed),
        results,
        rows,
        pts,
    }
}

/// Run the comparison with `points` deterministic points; PostGIS only when `postgres_url` is given.
pub async fn run(postgres_url: Option<&str>, points: usize) -> anyhow::Result<LookupReport> {
    let mem = tokio::task::spawn_blocking(move || in_memory(points)).await?;
    let mut report = LookupReport {
        areas: mem.areas,
        points,
        points_in_area: mem.results.iter().filter(|r| r.is_some()).count(),
        index_build_ms: mem.build.as_secs_f64() * 1e3,
        rtree_lookups_per_sec: mem.rate.0,
        rtree_ns_per_lookup: mem.rate.1,
        postgis_lookups_per_sec: None,
        postgis_ns_per_lookup: None,
        postgis_batch_lookups_per_sec: None,
        postgis_batch_ns_per_lookup: None,
        postgis_batch_size: None,
        postgis_load_ms: None,
        postgis_version: None,
        agreement: None,
        batch_agreement: None,
    };
    if let Some(url) = postgres_url {
        let mut conn = PgConnection::connect(url).await?;
        let schema = format!("bench_lookup_{:016x}", random_u64());
        let outcome = postgis(
            &mut conn,
            &schema,
            &mem.rows,
            &mem.pts,
            &mem.results,
            &mut report,
        )
        .await;
        let dropped = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .execute(&mut conn)
            .await;
        outcome?;
        dropped?;
        conn.close().await?;
    }
    Ok(report)
}

fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    h.finish()
}

fn share_equal(a: &[Option<String>], b: &[Option<String>]) -> f64 {
    if a.is_empty() {
        return 1.0;
    }
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
}

async fn postgis(
    conn: &mut PgConnection,
    schema: &str,
    rows: &[(String, String, f64)],
    pts: &[(f64, f64)],
    expected: &[Option<String>],
    report: &mut LookupReport,
) -> anyhow::Result<()> {
    sqlx::query("CREATE EXTENSION IF NOT EXISTS postgis").execute(&mut *conn).await.map_err(|e| {
        anyhow::anyhow!(
            "CREATE EXTENSION postgis failed ({e}); install it with `apt-get install -y postgresql-15-postgis-3`"
        )
    })?;
    let version: String = sqlx::query("SELECT postgis_lib_version()")
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    report.postgis_version = Some(version);

    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut *conn)
        .await?;
    let table = format!("{schema}.areas");
    sqlx::query(&format!(
        "CREATE TABLE {table} (code text PRIMARY KEY, priority integer NOT NULL DEFAULT 0, \
         area double precision NOT NULL, geom geometry(MultiPolygon, 4326) NOT NULL)"
    ))
    .execute(&mut *conn)
    .await?;

    let t = Instant::now();
    let insert = format!(
        "INSERT INTO {table} (code, area, geom) \
         SELECT c, a, ST_SetSRID(ST_GeomFromGeoJSON(g), 4326) FROM unnest($1::text[], $2::text[], $3::float8[]) AS t(c, g, a)"
    );
    for chunk in rows.chunks(LOAD_CHUNK) {
        let codes: Vec<&str> = chunk.iter().map(|r| r.0.as_str()).collect();
        let geoms: Vec<&str> = chunk.iter().map(|r| r.1.as_str()).collect();
        let areas: Vec<f64> = chunk.iter().map(|r| r.2).collect();
        sqlx::query(&insert)
            .bind(codes)
            .bind(geoms)
            .bind(areas)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query(&format!("CREATE INDEX ON {table} USING gist (geom)"))
        .execute(&mut *conn)
        .await?;
    sqlx::query(&format!("ANALYZE {table}"))
        .execute(&mut *conn)
        .await?;
    report.postgis_load_ms = Some(t.elapsed().as_secs_f64() * 1e3);

    // Same tie-break as AreaIndex::lookup: highest priority, then smallest (planar) area.
    let single = format!(
        "SELECT code FROM {table} WHERE ST_Contains(geom, ST_SetSRID(ST_MakePoint($1, $2), 4326)) \
         ORDER BY priority DESC, area ASC LIMIT 1"
    );
    // warm-up (plan cache, index pages)
    for &(x, y) in pts.iter().take(200) {
        sqlx::query(&single)
            .bind(x)
            .bind(y)
            .fetch_optional(&mut *conn)
            .await?;
    }
    let t = Instant::now();
    let mut got = Vec::with_capacity(pts.len());
    for &(x, y) in pts {
        let row = sqlx::query(&single)
            .bind(x)
            .bind(y)
            .fetch_optional(&mut *conn)
            .await?;
        got.push(match row {
            Some(r) => Some(r.try_get::<String, _>(0)?),
            None => None,
        });
    }
    let (rate, ns) = per_sec(pts.len(), t.elapsed());
    report.postgis_lookups_per_sec = Some(rate);
    report.postgis_ns_per_lookup = Some(ns);
    report.agreement = Some(share_equal(expected, &got));

    let batch = format!(
        "SELECT p.i, a.code FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY AS p(lon, lat, i) \
         LEFT JOIN LATERAL (SELECT code FROM {table} \
           WHERE ST_Contains(geom, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326)) \
           ORDER BY priority DESC, area ASC LIMIT 1) a ON true \
         ORDER BY p.i"
    );
    let t = Instant::now();
    let mut got_batch: Vec<Option<String>> = Vec::with_capacity(pts.len());
    for chunk in pts.chunks(BATCH) {
        let xs: Vec<f64> = chunk.iter().map(|p| p.0).collect();
        let ys: Vec<f64> = chunk.iter().map(|p| p.1).collect();
        let rows = sqlx::query(&batch)
            .bind(xs)
            .bind(ys)
            .fetch_all(&mut *conn)
            .await?;
        anyhow::ensure!(
            rows.len() == chunk.len(),
            "batched query returned {} rows for {} points",
            rows.len(),
            chunk.len()
        );
        for r in rows {
            got_batch.push(r.try_get::<Option<String>, _>(1)?);
        }
    }
    let (rate, ns) = per_sec(pts.len(), t.elapsed());
    report.postgis_batch_lookups_per_sec = Some(rate);
    report.postgis_batch_ns_per_lookup = Some(ns);
    report.postgis_batch_size = Some(BATCH);
    report.batch_agreement = Some(share_equal(expected, &got_batch));
    Ok(())
}

fn fmt_rate(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} M/s", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1} k/s", v / 1e3)
    } else {
        format!("{v:.0} /s")
    }
}

fn fmt_ns(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} ms", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1} µs", v / 1e3)
    } else {
        format!("{v:.0} ns")
    }
}

/// Markdown summary of a [`LookupReport`].
pub fn render_markdown(r: &LookupReport) -> String {
    let mut s = String::new();
    s.push_str("## Point → area lookup\n\n");
    s.push_str(&format!(
        "{} areas (built-in Natural Earth admin-1), {} deterministic points ({} inside an area); \
         index built in {:.0} ms.\n\n",
        r.areas, r.points, r.points_in_area, r.index_build_ms
    ));
    s.push_str("| method | lookups/s | time per lookup | agreement with in-memory |\n");
    s.push_str("|---|---:|---:|---:|\n");
    s.push_str(&format!(
        "| in-memory index (0.25° grid with inside/outside/edge sub-cells, exact test on edge cells), 1 thread | {} | {} | — |\n",
        fmt_rate(r.rtree_lookups_per_sec),
        fmt_ns(r.rtree_ns_per_lookup)
    ));
    match (r.postgis_lookups_per_sec, r.postgis_ns_per_lookup) {
        (Some(rate), Some(ns)) => s.push_str(&format!(
            "| PostGIS `ST_Contains`, one query per point | {} | {} | {} |\n",
            fmt_rate(rate),
            fmt_ns(ns),
            r.agreement
                .map(|a| format!("{:.2} %", a * 100.0))
                .unwrap_or_else(|| "—".into())
        )),
        _ => s.push_str("| PostGIS | not run (no PostgreSQL URL) | | |\n"),
    }
    if let (Some(rate), Some(ns)) = (
        r.postgis_batch_lookups_per_sec,
        r.postgis_batch_ns_per_lookup,
    ) {
        s.push_str(&format!(
            "| PostGIS, batches of {} points (`unnest` + `ST_Contains`) | {} | {} | {} |\n",
            r.postgis_batch_size.unwrap_or(0),
            fmt_rate(rate),
            fmt_ns(ns),
            r.batch_agreement
                .map(|a| format!("{:.2} %", a * 100.0))
                .unwrap_or_else(|| "—".into())
        ));
    }
    if let Some(rate) = r.postgis_lookups_per_sec.filter(|v| *v > 0.0) {
        s.push_str(&format!(
            "\nIn-memory is {:.0}× faster than one PostGIS query per point",
            r.rtree_lookups_per_sec / rate
        ));
        if let Some(b) = r.postgis_batch_lookups_per_sec.filter(|v| *v > 0.0) {
            s.push_str(&format!(
                " and {:.0}× faster than batched PostGIS",
                r.rtree_lookups_per_sec / b
            ));
        }
        s.push_str(".\n");
    }
    if let (Some(v), Some(ms)) = (&r.postgis_version, r.postgis_load_ms) {
        s.push_str(&format!(
            "\nPostGIS {v}; loading the areas with a GiST index took {ms:.0} ms.\n"
        ));
    }
    s
}
