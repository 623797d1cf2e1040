//! eTA benchmarks: location ingest through the HTTP batch endpoint, the purge
//! of expired positions while ingest goes on, and the fan-out of an alert and
//! of a level change to every phone in an area.

use crate::bench::{ms, percentile, start, token_for};
use crate::bench_db::fresh;
use crate::db;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use warden_domain::eta::TrackingRequest;
use warden_domain::people::PersonnelCategory;
use warden_domain::{AreaCode, Role, ThreatCategory};
use warden_store::{
    AuditContext, AuditQuery, NewAgency, NewDevice, NewTracking, ProfileInput, Store,
};

/// `n` people of one agency (one import), returned in personnel-id order.
pub(crate) async fn people(
    store: &dyn Store,
    n: usize,
) -> anyhow::Result<(uuid::Uuid, Vec<uuid::Uuid>)> {
    let ctx = AuditContext::system("warden bench");
    let agency = store
        .create_agency(
            &NewAgency {
                code: "BENCH".into(),
                name: "Bench agency".into(),
            },
            &ctx,
        )
        .await?;
    let ids: Vec<String> = (0..n).map(|i| format!("P{i:07}")).collect();
    let pb = db::progress(n as u64, "people");
    for chunk in ids.chunks(2000) {
        let rows: Vec<ProfileInput> = chunk
            .iter()
            .map(|id| ProfileInput {
                agency: agency.id,
                personnel_id: id.clone(),
                display_name: format!("Person {id}"),
                email: String::new(),
                category: PersonnelCategory::NationalStaff,
                nationality: None,
                phone: String::new(),
                duty_station: None,
                emergency_contacts: vec![],
                certificates: vec![],
            })
            .collect();
        store.import_profiles(&rows, &ctx).await?;
        pb.inc(chunk.len() as u64);
    }
    pb.finish_and_clear();
    let mut users = Vec::with_capacity(n);
    for chunk in ids.chunks(5000) {
        let map = store.profile_users(agency.id, chunk).await?;
        for id in chunk {
            users.push(map[id]);
        }
    }
    Ok((agency.id, users))
}

/// Points inside real areas of countries where the network works: each
/// area's label point (the shipped geography's), resolved back through the
/// service's index so that every point used is known to fall in its area.
fn field_points(state: &warden_server::state::AppState) -> Vec<(f64, f64, AreaCode)> {
    let countries = ["AF", "ML", "SS", "SO", "SD", "YE", "CD", "NG", "SY", "HT"];
    let geo = state.geo();
    warden_geo::builtin_areas()
        .into_iter()
        .filter(|a| countries.contains(&a.country.as_str()))
        .filter_map(|a| {
            let (lon, lat) = a.label;
            let code = geo.index.lookup(lon, lat)?;
            Some((lat, lon, AreaCode::parse(code).ok()?))
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
pub async fn ingest(
    postgres: Option<String>,
    seconds: u64,
    devices: usize,
    batch: usize,
    concurrency: usize,
    tracking: bool,
) -> anyhow::Result<()> {
    let (store, label, raw) = fresh(postgres.as_deref()).await?;
    let srv = start(store.clone()).await?;
    let points = field_points(&srv.state);
    anyhow::ensure!(!points.is_empty(), "no field points");
    let (_, users) = people(store.as_ref(), devices).await?;
    let ctx = AuditContext::system("warden bench");
    let pb = db::progress(devices as u64, "devices");
    let mut tokens = Vec::with_capacity(devices);
    for u in &users {
        let token = warden_auth::random_token();
        store
            .create_device(
                &NewDevice {
                    user: *u,
                    name: "bench phone".into(),
                    platform: "web".into(),
                    token_digest: warden_auth::token_digest(&token),
                },
                &ctx,
            )
            .await?;
        tokens.push(token);
        pb.inc(1);
    }
    pb.finish_and_clear();
    if tracking {
        let (dof, _) = token_for(
            store.as_ref(),
            "bench.do",
            Role::DesignatedOfficial,
            "global",
        )
        .await?;
        let mut areas: Vec<&AreaCode> = points.iter().map(|p| &p.2).collect();
        areas.sort();
        areas.dedup();
        let now = warden_store::now_micros();
        for a in areas {
            store
                .authorise_tracking(
                    &NewTracking {
                        request: TrackingRequest {
                            area: a.clone(),
                            // The generated reports are dated from an hour ago on.
                            starts_at: now - chrono::Duration::hours(2),
                            ends_at: now + chrono::Duration::hours(2),
                            reason: "Benchmark: crisis tracking everywhere".into(),
                        },
                        authorised_by: dof,
                    },
                    &ctx,
                )
                .await?;
        }
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let reports = Arc::new(AtomicU64::new(0));
    let kept = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tokens = Arc::new(tokens);
    let points = Arc::new(points);
    let mut tasks = vec![];
    for w in 0..concurrency {
        let (http, base, reports, kept, tokens, points) = (
            http.clone(),
            srv.base.clone(),
            reports.clone(),
            kept.clone(),
            tokens.clone(),
            points.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = vec![];
            // The last time acknowledged for each device of this worker.
            let mut last: Vec<(usize, i64)> = vec![];
            let mut d = w;
            let mut round = 0i64;
            let t0 = chrono::Utc::now().timestamp() - 3600;
            while Instant::now() < until {
                if d >= tokens.len() {
                    d = w;
                    round += 1;
                }
                let (lat0, lon0, _) = &points[d % points.len()];
                let base_t = t0 + round * batch as i64;
                let body = serde_json::json!({"reports": (0..batch).map(|k| serde_json::json!({
                    "lat": lat0 + ((k % 7) as f64) * 1e-4, "lon": lon0 + ((k % 5) as f64) * 1e-4,
                    "acc": 12, "tst": base_t + k as i64})).collect::<Vec<_>>()});
                let t = Instant::now();
                let r = http
                    .post(format!("{base}/api/v1/locations"))
                    .bearer_auth(&tokens[d])
                    .json(&body)
                    .send()
                    .await?;
                if !r.status().is_success() {
                    anyhow::bail!("ingest refused: {} {}", r.status(), r.text().await?);
                }
                let v: serde_json::Value = r.json().await?;
                lat.push(t.elapsed());
                reports.fetch_add(v["accepted"].as_u64().unwrap_or(0), Ordering::Relaxed);
                kept.fetch_add(v["positions_kept"].as_u64().unwrap_or(0), Ordering::Relaxed);
                last.push((d, base_t + batch as i64 - 1));
                d += concurrency;
            }
            anyhow::Ok((lat, last))
        }));
    }
    let mut lat = vec![];
    let mut last = std::collections::HashMap::new();
    for t in tasks {
        let (l, acked) = t.await??;
        lat.extend(l);
        for (d, tst) in acked {
            last.insert(d, tst);
        }
    }
    let elapsed = started.elapsed();
    lat.sort();
    let n = reports.load(Ordering::Relaxed);
    // Durability: every device's stored place is its last acknowledged report.
    let mut checked = 0;
    for (d, tst) in &last {
        let l = store
            .last_location(users[*d])
            .await?
            .ok_or_else(|| anyhow::anyhow!("device {d}: acknowledged but not stored"))?;
        anyhow::ensure!(
            l.reported_at.timestamp() == *tst,
            "device {d}: last acknowledged {tst}, stored {}",
            l.reported_at.timestamp()
        );
        checked += 1;
    }
    let positions = raw.count("SELECT COUNT(*) FROM positions").await?;
    anyhow::ensure!(
        !tracking || positions as u64 == n,
        "tracking everywhere, but {positions} of {n} reports kept as positions"
    );
    anyhow::ensure!(
        positions as u64 == kept.load(Ordering::Relaxed),
        "{} positions acknowledged as kept, {positions} stored",
        kept.load(Ordering::Relaxed)
    );
    println!(
        "### eTA location ingest (`warden bench ingest --seconds {seconds} --devices {devices} --batch {batch} --concurrency {concurrency}{}{}`)\n",
        if tracking { " --tracking" } else { "" },
        if postgres.is_some() { " --postgres URL" } else { "" }
    );
    println!(
        "Store: {label}. `POST /api/v1/locations` with {batch} reports of one device per request, {concurrency} requests in flight, {devices} devices spread over {} areas of 10 countries; every report resolved to its area on arrival. {}. Load generator in the same process, on the same 2 cores.\n",
        points.len(),
        if tracking {
            "Tracking authorised in every area: every report is also kept as a precise position"
        } else {
            "No tracking: only each person's area is kept"
        }
    );
    println!("| requests | reports | seconds | reports/s | requests/s | p50 | p99 | positions stored | devices checked durable |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {n} | {:.1} | {:.0} | {:.0} | {} | {} | {positions} | {checked} |",
        lat.len(),
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        lat.len() as f64 / elapsed.as_secs_f64(),
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99))
    );
    drop(srv);
    raw.discard().await?;
    Ok(())
}

pub async fn purge(postgres: Option<String>, positions: u64, chunk: i64) -> anyhow::Result<()> {
    let (store, label, raw) = fresh(postgres.as_deref()).await?;
    let srv = start(store.clone()).await?;
    let points = field_points(&srv.state);
    let people_n = 10_000usize;
    let (_, users) = people(store.as_ref(), people_n).await?;
    let ctx = AuditContext::system("warden bench");
    let (dof, _) = token_for(
        store.as_ref(),
        "bench.do",
        Role::DesignatedOfficial,
        "global",
    )
    .await?;
    let (inv, _) = token_for(store.as_ref(), "bench.inv", Role::Investigator, "global").await?;
    let now = warden_store::now_micros();
    let kab = AreaCode::parse("AF-KAB")?;
    let auth = store
        .authorise_tracking(
            &NewTracking {
                request: TrackingRequest {
                    area: kab.clone(),
                    starts_at: now - chrono::Duration::hours(240),
                    ends_at: now - chrono::Duration::hours(1),
                    reason: "Benchmark: a past crisis".into(),
                },
                authorised_by: dof,
            },
            &ctx,
        )
        .await?;
    // Devices of the people whose positions are loaded, and of the live
    // reporters (the first 2,000 people), through the store.
    let pb = db::progress(people_n as u64, "devices");
    let mut tokens = vec![];
    for u in &users {
        let token = warden_auth::random_token();
        store
            .create_device(
                &NewDevice {
                    user: *u,
                    name: "bench phone".into(),
                    platform: "web".into(),
                    token_digest: warden_auth::token_digest(&token),
                },
                &ctx,
            )
            .await?;
        tokens.push(token);
        pb.inc(1);
    }
    pb.finish_and_clear();
    // Expired positions, spread over 100-196 hours ago, loaded in bulk.
    let t_load = Instant::now();
    eprintln!("loading {positions} expired positions …");
    raw.exec("CREATE TABLE bench_people (n INTEGER PRIMARY KEY, user_id TEXT NOT NULL, device_id TEXT NOT NULL)")
        .await?;
    raw.exec(&format!(
        "INSERT INTO bench_people (n, user_id, device_id) SELECT row_number() OVER (ORDER BY d.user_id) - 1, {}, {} FROM devices d",
        if raw.is_pg() { "d.user_id::text" } else { "d.user_id" },
        if raw.is_pg() { "d.id::text" } else { "d.id" }
    ))
    .await?;
    let oldest = now - chrono::Duration::hours(196);
    let span = 96 * 3600;
    if raw.is_pg() {
        raw.exec(&format!(
            "INSERT INTO positions (user_id, device_id, tracking_id, area_code, lat, lon, accuracy_m, recorded_at, received_at) \
             SELECT p.user_id::uuid, p.device_id::uuid, '{}'::uuid, 'AF-KAB', 34.5 + (g % 100) * 0.0001, 69.1 + (g % 77) * 0.0001, 10, \
                    '{}'::timestamptz + ((g::bigint * {span}) / {positions}) * interval '1 second', '{}'::timestamptz \
             FROM generate_series(0, {} - 1) g JOIN bench_people p ON p.n = g % {people_n}",
            auth.id,
            oldest.to_rfc3339(),
            now.to_rfc3339(),
            positions
        ))
        .await?;
    } else {
        let base = oldest.format("%Y-%m-%d %H:%M:%S").to_string();
        raw.exec(&format!(
            "WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < {} - 1) \
             INSERT INTO positions (user_id, device_id, tracking_id, area_code, lat, lon, accuracy_m, recorded_at, received_at) \
             SELECT p.user_id, p.device_id, '{}', 'AF-KAB', 34.5 + (i % 100) * 0.0001, 69.1 + (i % 77) * 0.0001, 10, \
                    strftime('%Y-%m-%dT%H:%M:%S', '{base}', '+' || ((i * {span}) / {positions}) || ' seconds') || '.000000Z', '{}' \
             FROM g JOIN bench_people p ON p.n = g.i % {people_n}",
            positions,
            auth.id,
            now.format("%Y-%m-%dT%H:%M:%S%.6fZ")
        ))
        .await?;
    }
    raw.exec("DROP TABLE bench_people").await?;
    eprintln!("loaded in {:.0} s", t_load.elapsed().as_secs_f64());
    // 1% of the people are under investigation: their first 24 h are frozen.
    for u in users.iter().take(people_n / 100) {
        store
            .create_freeze(
                &warden_store::NewFreeze {
                    request: warden_domain::eta::FreezeRequest {
                        person: *u,
                        from: oldest,
                        to: oldest + chrono::Duration::hours(24),
                        case_reference: "BENCH-1".into(),
                        reason: "Benchmark investigation".into(),
                    },
                    created_by: inv,
                },
                &ctx,
            )
            .await?;
    }
    let frozen_sql =
        "SELECT COUNT(*) FROM positions p WHERE EXISTS (SELECT 1 FROM location_freezes f \
         WHERE f.user_id = p.user_id AND p.recorded_at >= f.from_at AND p.recorded_at <= f.to_at)";
    let frozen_before = raw.count(frozen_sql).await?;

    // Live ingest during the purge: 8 reporters, one report each per request
    // (a phone's usual case), in areas without tracking.
    let stop = Arc::new(AtomicBool::new(false));
    let purging = Arc::new(AtomicBool::new(false));
    let http = reqwest::Client::new();
    let mut tasks = vec![];
    let reporters = 8;
    for w in 0..reporters {
        let (http, base, stop, purging, tokens, points) = (
            http.clone(),
            srv.base.clone(),
            stop.clone(),
            purging.clone(),
            tokens.clone(),
            points.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let (mut before, mut during) = (vec![], vec![]);
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let d = (w + i * reporters) % 2000;
                let (lat, lon, _) = &points[(d + 1) % points.len()];
                let body = serde_json::json!({"reports": [{"lat": lat, "lon": lon, "acc": 10, "tst": chrono::Utc::now().timestamp()}]});
                let in_purge = purging.load(Ordering::Relaxed);
                let t = Instant::now();
                let r = http
                    .post(format!("{base}/api/v1/locations"))
                    .bearer_auth(&tokens[d])
                    .json(&body)
                    .send()
                    .await?;
                anyhow::ensure!(r.status().is_success(), "ingest refused: {}", r.status());
                let _ = r.bytes().await?;
                if in_purge {
                    during.push(t.elapsed());
                } else {
                    before.push(t.elapsed());
                }
                i += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            anyhow::Ok((before, during))
        }));
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    purging.store(true, Ordering::Relaxed);
    let t0 = Instant::now();
    let totals = warden_server::eta::purge(
        store.as_ref(),
        96,
        warden_store::now_micros(),
        chunk,
        |_| {},
    )
    .await?;
    let took = t0.elapsed();
    stop.store(true, Ordering::Relaxed);
    let (mut before, mut during) = (vec![], vec![]);
    for t in tasks {
        let (b, d) = t.await??;
        before.extend(b);
        during.extend(d);
    }
    before.sort();
    during.sort();
    let left = raw.count("SELECT COUNT(*) FROM positions").await?;
    let frozen_left = raw.count(frozen_sql).await?;
    anyhow::ensure!(
        left == frozen_left,
        "{left} positions left, {frozen_left} of them frozen: expired unfrozen data survived"
    );
    anyhow::ensure!(
        frozen_left == frozen_before,
        "{frozen_before} frozen positions before the purge, {frozen_left} after"
    );
    println!(
        "### eTA purge of expired positions (`warden bench purge --positions {positions} --chunk {chunk}{}`)\n",
        if postgres.is_some() { " --postgres URL" } else { "" }
    );
    println!("Store: {label}. {positions} positions of {people_n} people recorded 100-196 hours ago (bulk-loaded; indexes on time, person and area), 1% of the people frozen for their first 24 hours; purged with the 96-hour rule in steps of at most {chunk} positions sized to take about 8 ms each while 8 phones keep reporting (one report per request, about 2 ms apart each), in the same process on the same 2 cores.\n");
    println!("| positions purged | frozen kept | purge time | positions/s | steps |\n|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {frozen_left} | {:.1} s | {:.0} | {} |\n",
        totals.positions,
        took.as_secs_f64(),
        totals.positions as f64 / took.as_secs_f64(),
        totals.steps
    );
    println!("| ingest latency | requests | p50 | p99 | max |\n|---|---:|---:|---:|---:|");
    for (name, v) in [
        ("before the purge (5 s)", &before),
        ("during the purge", &during),
    ] {
        println!(
            "| {name} | {} | {} | {} | {} |",
            v.len(),
            ms(percentile(v, 0.5)),
            ms(percentile(v, 0.99)),
            ms(v.last().copied().unwrap_or_default())
        );
    }
    drop(srv);
    raw.discard().await?;
    Ok(())
}

pub async fn fanout(postgres: Option<String>, devices: usize) -> anyhow::Result<()> {
    let (store, label, raw) = fresh(postgres.as_deref()).await?;
    let srv = start(store.clone()).await?;
    let (agency, _) = people(store.as_ref(), devices).await?;
    // Every one of them has a phone whose last report is in Kabul (bulk).
    let now = warden_store::now_micros();
    if raw.is_pg() {
        raw.exec(&format!(
            "INSERT INTO devices (id, user_id, name, platform, token_digest, created_at, last_seen_at) \
             SELECT gen_random_uuid(), id, 'phone', 'web', 'bench-' || id::text, now(), now() FROM users WHERE agency_id = '{agency}'"
        ))
        .await?;
        raw.exec(
            "INSERT INTO last_locations (user_id, device_id, area_code, since, reported_at) \
             SELECT user_id, id, 'AF-KAB', now(), now() FROM devices",
        )
        .await?;
    } else {
        let at = now.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
        raw.exec(&format!(
            "INSERT INTO devices (id, user_id, name, platform, token_digest, created_at, last_seen_at) \
             SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-a' || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))), \
                    id, 'phone', 'web', 'bench-' || id, '{at}', '{at}' FROM users WHERE agency_id = '{agency}'"
        ))
        .await?;
        raw.exec(&format!(
            "INSERT INTO last_locations (user_id, device_id, area_code, since, reported_at) \
             SELECT user_id, id, 'AF-KAB', '{at}', '{at}' FROM devices"
        ))
        .await?;
    }
    let s = store.as_ref();
    let (_, sa) = token_for(s, "bench.sa", Role::SecurityAdviser, "AF").await?;
    let (_, desk) = token_for(s, "bench.desk", Role::RegionalDesk, "AF").await?;
    let (_, dof) = token_for(s, "bench.do", Role::DesignatedOfficial, "AF").await?;
    let (smt, _) = token_for(s, "bench.smt", Role::SmtMember, "AF").await?;
    let http = reqwest::Client::new();
    let mut rows = vec![];
    for i in 0..3 {
        // A geo-alert: the response comes after the commit of every notification.
        let t0 = Instant::now();
        let a: serde_json::Value = http
            .post(format!("{}/api/v1/areas/AF-KAB/alerts", srv.base))
            .bearer_auth(&sa)
            .json(&serde_json::json!({"headline": format!("Bench alert {i}"), "instruction": "Stay indoors", "severity": "severe"}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let took = t0.elapsed();
        anyhow::ensure!(
            a["recipients"] == devices as u64,
            "alert reached {} of {devices}",
            a["recipients"]
        );
        rows.push((
            "geo-alert (`POST /api/v1/areas/AF-KAB/alerts`)",
            took,
            devices as u64,
        ));
    }
    let ratings: serde_json::Map<String, serde_json::Value> = ThreatCategory::ALL
        .iter()
        .map(|c| (c.as_str().to_string(), 3.into()))
        .collect();
    for (i, level) in [4, 5, 3].into_iter().enumerate() {
        let a: serde_json::Value = http
            .post(format!("{}/api/v1/assessments", srv.base))
            .bearer_auth(&sa)
            .json(&serde_json::json!({"area": "AF-KAB", "level": level, "ratings": ratings, "narrative": "bench", "advisory_text": format!("bench {i}")}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let id = a["id"].as_str().expect("id").to_string();
        http.post(format!("{}/api/v1/assessments/{id}/actions", srv.base))
            .bearer_auth(&desk)
            .json(&serde_json::json!({"action": "validate"}))
            .send()
            .await?
            .error_for_status()?;
        let t0 = Instant::now();
        http.post(format!("{}/api/v1/assessments/{id}/actions", srv.base))
            .bearer_auth(&dof)
            .json(&serde_json::json!({"action": "approve", "reason": "bench", "smt_consulted": [smt]}))
            .send()
            .await?
            .error_for_status()?;
        let took = t0.elapsed();
        let audit = store
            .list_audit(&AuditQuery {
                action_prefix: Some("assessment.approve".into()),
                ..Default::default()
            })
            .await?;
        let detail: serde_json::Value = serde_json::from_str(&audit.items[0].detail)?;
        let told = detail["phones_notified"].as_u64().unwrap_or(0);
        anyhow::ensure!(
            told == devices as u64,
            "level change reached {told} of {devices}"
        );
        rows.push(("level change (approval `POST …/actions`)", took, told));
    }
    let stored = raw
        .count(
            "SELECT COUNT(*) FROM notifications WHERE kind IN ('eta.alert', 'eta.level_changed')",
        )
        .await?;
    anyhow::ensure!(
        stored as usize == 6 * devices,
        "{stored} notifications stored"
    );
    println!(
        "### eTA fan-out (`warden bench fanout --devices {devices}{}`)\n",
        if postgres.is_some() {
            " --postgres URL"
        } else {
            ""
        }
    );
    println!("Store: {label}. {devices} people whose phones last reported Kabul (AF-KAB). Time from the request to its answer, which comes after the commit of one notification per phone (the phones' next poll of `GET /api/v1/notifications` shows it); {stored} notifications stored in all.\n");
    println!("| event | phones notified | time |\n|---|---:|---:|");
    for (name, took, n) in rows {
        println!("| {name} | {n} | {} |", ms(took));
    }
    drop(srv);
    raw.discard().await?;
    Ok(())
}

/// Bulk SMS end to end: an alert for an area where `people` are stationed
/// without a smartphone, sent by the service's SMS gateway through a real
/// SMSC (the npm package `smpp`, started here) at its window.
pub async fn sms(people_n: usize, window: usize) -> anyhow::Result<()> {
    let smsc = warden_smpp::testing::Smsc::start(&["--quiet"]);
    let (store, label, raw) = fresh(None).await?;
    db::load_geography(store.as_ref(), true).await?;
    let ctx = AuditContext::system("warden bench");
    let agency = store
        .create_agency(
            &NewAgency {
                code: "BENCH".into(),
                name: "Bench agency".into(),
            },
            &ctx,
        )
        .await?;
    let kab = AreaCode::parse("AF-KAB")?;
    let rows: Vec<ProfileInput> = (0..people_n)
        .map(|i| ProfileInput {
            agency: agency.id,
            personnel_id: format!("G{i:07}"),
            display_name: format!("Guard {i}"),
            email: String::new(),
            category: PersonnelCategory::NationalStaff,
            nationality: None,
            phone: format!("+2547{i:08}"),
            duty_station: Some(kab.clone()),
            emergency_contacts: vec![],
            certificates: vec![],
        })
        .collect();
    for chunk in rows.chunks(2000) {
        store.import_profiles(chunk, &ctx).await?;
    }
    let (sa, _) = token_for(store.as_ref(), "bench.sa", Role::SecurityAdviser, "AF").await?;
    let gateway = tokio::spawn(
        warden_server::sms::SmsGateway::new(
            store.clone(),
            warden_server::sms::SmsConfig {
                address: smsc.addr(),
                system_id: "warden".into(),
                password: "secret".into(),
                source: "Warden".into(),
                window,
                poll: Duration::from_millis(50),
            },
        )
        .run(),
    );
    let t0 = Instant::now();
    let alert = store
        .issue_alert(
            &warden_store::NewGeoAlert {
                area: kab,
                headline: "Clashes near the airport road".into(),
                description: String::new(),
                instruction: "Stay where you are".into(),
                severity: warden_domain::eta::AlertSeverity::Extreme,
                expires_at: warden_store::now_micros() + chrono::Duration::hours(6),
                issued_by: sa,
            },
            warden_store::now_micros(),
            &ctx,
        )
        .await?;
    let queued = t0.elapsed();
    anyhow::ensure!(
        alert.sms_recipients as usize == people_n,
        "{} texts queued",
        alert.sms_recipients
    );
    let pb = db::progress(people_n as u64, "texts sent");
    let (mut sent, mut delivered) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(600);
    while (sent < people_n as i64 || delivered < people_n as i64) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        sent = raw
            .count("SELECT COUNT(*) FROM sms_outbox WHERE state = 'sent'")
            .await?;
        delivered = raw
            .count("SELECT COUNT(DISTINCT p.sms_id) FROM sms_parts p JOIN sms_receipts r ON r.message_id = p.message_id WHERE r.state = 'DELIVRD'")
            .await?;
        pb.set_position(sent as u64);
    }
    pb.finish_and_clear();
    let took = t0.elapsed();
    gateway.abort();
    anyhow::ensure!(sent == people_n as i64, "{sent} of {people_n} sent");
    println!("### Bulk SMS (`warden bench sms --people {people_n} --window {window}`)\n");
    println!("Store: {label}. An extreme alert for Kabul, where {people_n} people are stationed without a smartphone: the alert's transaction queues one text each; the service's SMS gateway (SMPP 3.4 transceiver, window {window}) sends them to a local SMSC, the npm package `smpp` 0.5 under Node.js (which answers each submit_sm and sends a delivery receipt), and records every receipt. Same machine, same 2 cores.\n");
    println!("| texts | queued in the alert's transaction | all sent and receipts recorded | texts/s |\n|---:|---:|---:|---:|");
    println!(
        "| {people_n} | {} | {:.1} s | {:.0} |",
        ms(queued),
        took.as_secs_f64(),
        people_n as f64 / took.as_secs_f64()
    );
    println!("\n{delivered} delivery receipts recorded.");
    Ok(())
}

/// A roll call of everyone stationed in one area: time to ask them all (the
/// event, an in-app notification each, e-mails and texts queued, in one
/// transaction, through the API), time to take their answers, and time to
/// tally the board with every answer in.
pub async fn rollcall(postgres: Option<String>, people_n: usize) -> anyhow::Result<()> {
    let (store, label, raw) = fresh(postgres.as_deref()).await?;
    let srv = start(store.clone()).await?;
    let (agency, users) = people(store.as_ref(), people_n).await?;
    // All stationed in Kabul; half reachable by e-mail, half by SMS (no smartphone).
    raw.exec(&format!(
        "UPDATE profiles SET duty_station = 'AF-KAB', phone = CASE WHEN personnel_id LIKE '%0' OR personnel_id LIKE '%2' \
         OR personnel_id LIKE '%4' OR personnel_id LIKE '%6' OR personnel_id LIKE '%8' THEN '+2547' || substr(personnel_id, 2) ELSE '' END \
         WHERE agency_id = '{agency}'"
    ))
    .await?;
    raw.exec(&format!(
        "UPDATE users SET email = lower(username) || '@bench.invalid' WHERE agency_id = '{agency}'"
    ))
    .await?;
    let (_, dof) = token_for(store.as_ref(), "bench.do", Role::DesignatedOfficial, "AF").await?;
    let http = reqwest::Client::new();
    let t0 = Instant::now();
    let rc: serde_json::Value = http
        .post(format!("{}/api/v1/roll-calls", srv.base))
        .bearer_auth(&dof)
        .json(&serde_json::json!({"areas": ["AF-KAB"], "message": "Explosion near the compound"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let ask = t0.elapsed();
    let id = uuid::Uuid::parse_str(rc["id"].as_str().expect("id"))?;
    let asked = rc["people"].as_i64().unwrap_or(0);
    anyhow::ensure!(
        asked as usize == people_n,
        "{asked} of {people_n} asked: {rc}"
    );
    let texts = raw
        .count(&format!(
            "SELECT COUNT(*) FROM sms_outbox WHERE ref = 'rollcall:{id}'"
        ))
        .await?;
    // The answers, 32 at a time, as the phone app, the API and SMS replies record them.
    let t1 = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(32));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, u) in users.iter().enumerate() {
        let (store, sem, u) = (store.clone(), sem.clone(), *u);
        let permit = sem.acquire_owned().await?;
        tasks.spawn(async move {
            let _permit = permit;
            store
                .record_wellbeing(
                    &warden_store::NewWellbeing {
                        user: u,
                        status: if i % 50 == 0 {
                            warden_domain::eta::Wellbeing::NeedHelp
                        } else {
                            warden_domain::eta::Wellbeing::Safe
                        },
                        dependants: vec![],
                        note: String::new(),
                        channel: if i % 2 == 0 {
                            "sms".into()
                        } else {
                            "web".into()
                        },
                    },
                    &AuditContext::system("warden bench"),
                )
                .await
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    let answers = t1.elapsed();
    let t2 = Instant::now();
    let board: serde_json::Value = http
        .get(format!("{}/api/v1/roll-calls/{id}", srv.base))
        .bearer_auth(&dof)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let tally = t2.elapsed();
    let totals = &board["totals"];
    let help = people_n.div_ceil(50);
    anyhow::ensure!(
        totals["needs_help"] == help as u64 && totals["accounted"] == (people_n - help) as u64,
        "board totals {totals}"
    );
    println!(
        "### Roll call (`warden bench rollcall --people {people_n}{}`)\n",
        if postgres.is_some() {
            " --postgres URL"
        } else {
            ""
        }
    );
    println!("Store: {label}. {people_n} people stationed in Kabul (half with an e-mail address, half with a phone and no smartphone); the DO starts a roll call through the API, everyone present is asked in one transaction; then every person answers (one in fifty needs help), 32 answers at a time as the app, the API and SMS replies record them; then the board is read through the API.\n");
    println!("| people | ask all (`POST /api/v1/roll-calls`) | texts queued | answers recorded | answers/s | tally the board (`GET …/roll-calls/{{id}}`) |\n|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {people_n} | {} | {texts} | {:.1} s | {:.0} | {} |",
        ms(ask),
        answers.as_secs_f64(),
        people_n as f64 / answers.as_secs_f64(),
        ms(tally)
    );
    drop(srv);
    raw.discard().await?;
    Ok(())
}
