//! `warden bench …`: the measurements recorded in BENCHMARKS.md. Each runs
//! the real service on a loopback port against a fresh database.

use crate::db;
use clap::Subcommand;
use std::sync::Arc;
use std::time::{Duration, Instant};
use warden_domain::{CountryCode, Role, RoleGrant, Scope, ThreatCategory};
use warden_server::config::Config;
use warden_server::state::AppState;
use warden_store::{AuditContext, NewUser, Session, SessionKind, Store};

#[derive(Subcommand)]
pub enum Bench {
    /// Point → area lookups: the in-process index versus PostGIS ST_Contains.
    Lookup {
        /// PostgreSQL URL with PostGIS, for the comparison.
        #[arg(long)]
        postgres: Option<String>,
        #[arg(long, default_value_t = 200_000)]
        points: usize,
    },
    /// Approval of a level → the new level visible in GET /api/v1/advisories: latency over HTTP.
    Approval {
        /// Run against this PostgreSQL URL (a fresh schema) instead of a temporary SQLite file.
        #[arg(long)]
        postgres: Option<String>,
        #[arg(long, default_value_t = 200)]
        iterations: usize,
    },
    /// The world map: server time and bytes of the dashboard page and its map data.
    Map {
        #[arg(long, default_value_t = 50)]
        iterations: usize,
    },
    /// TRIP submissions through POST /api/v1/travel-requests: sustained requests/s.
    Submit {
        #[arg(long)]
        postgres: Option<String>,
        /// How long to keep submitting, in seconds.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Requests in flight at once.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
    },
    /// `warden import travel-authorisations` of a generated ERP file: first run and re-run.
    Erp {
        #[arg(long)]
        postgres: Option<String>,
        /// Travel authorisations in the file (one or two legs each).
        #[arg(long, default_value_t = 1_000_000)]
        tas: usize,
        /// Travel authorisations per transaction (as `warden import
        /// travel-authorisations --batch`).
        #[arg(long, default_value_t = crate::import::TA_BATCH)]
        batch: usize,
        /// As `warden import travel-authorisations --load`.
        #[arg(long, value_enum, default_value_t = crate::import::Load::Auto)]
        load: crate::import::Load,
    },
    /// A mode change and a level change on an area with many future legs:
    /// time until every leg is re-evaluated and every traveller notified.
    Reevaluate {
        #[arg(long)]
        postgres: Option<String>,
        #[arg(long, default_value_t = 100_000)]
        legs: usize,
    },
    /// eTA location reports through POST /api/v1/locations: sustained reports/s.
    Ingest {
        #[arg(long)]
        postgres: Option<String>,
        #[arg(long, default_value_t = 15)]
        seconds: u64,
        /// Enrolled phones reporting.
        #[arg(long, default_value_t = 2000)]
        devices: usize,
        /// Reports per request (one device's).
        #[arg(long, default_value_t = 20)]
        batch: usize,
        /// Requests in flight at once.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Authorise tracking everywhere, so that every report is also kept as a position.
        #[arg(long)]
        tracking: bool,
    },
    /// The 96-hour purge of many expired positions, with ingest latency while it runs.
    Purge {
        #[arg(long)]
        postgres: Option<String>,
        #[arg(long, default_value_t = 10_000_000)]
        positions: u64,
        /// Positions per purge step (one short transaction each).
        #[arg(long, default_value_t = warden_server::eta::PURGE_CHUNK)]
        chunk: i64,
    },
    /// A roll call of everyone in an area: asking them all, their answers, the board.
    Rollcall {
        #[arg(long)]
        postgres: Option<String>,
        #[arg(long, default_value_t = 20_000)]
        people: usize,
    },
    /// Bulk SMS through the service's SMPP gateway to a local SMSC (npm `smpp`).
    Sms {
        /// People stationed in the area without a smartphone.
        #[arg(long, default_value_t = 20_000)]
        people: usize,
        /// The SMSC's window: submit_sm awaiting an answer at once.
        #[arg(long, default_value_t = 10)]
        window: usize,
    },
    /// Who is where: headcount of one area at a moment over HTTP (p50, p99),
    /// the same from the store, and every area at once, over a generated
    /// population bulk-loaded with SQL.
    Headcount {
        /// Also run on this PostgreSQL URL (a fresh schema, dropped after).
        #[arg(long)]
        postgres: Option<String>,
        #[arg(long, default_value_t = 200_000)]
        people: u64,
        /// Travel legs over the year (two per trip).
        #[arg(long, default_value_t = 2_000_000)]
        legs: u64,
        /// Phone locations of the last three days.
        #[arg(long, default_value_t = 50_000)]
        phones: u64,
        #[arg(long, default_value_t = 40)]
        agencies: usize,
        /// Headcounts of one area measured.
        #[arg(long, default_value_t = 1000)]
        samples: usize,
    },
    /// A geo-alert and a level change in an area with many phones: time until all are notified.
    Fanout {
        #[arg(long)]
        postgres: Option<String>,
        #[arg(long, default_value_t = 50_000)]
        devices: usize,
    },
}

pub async fn run(b: Bench, _cfg: &Config) -> anyhow::Result<()> {
    match b {
        Bench::Lookup { postgres, points } => {
            let r = crate::bench_lookup::run(postgres.as_deref(), points).await?;
            println!("{}", crate::bench_lookup::render_markdown(&r));
            Ok(())
        }
        Bench::Approval {
            postgres,
            iterations,
        } => approval(postgres, iterations).await,
        Bench::Map { iterations } => map(iterations).await,
        Bench::Submit {
            postgres,
            seconds,
            concurrency,
        } => crate::bench_trip::submit(postgres, seconds, concurrency).await,
        Bench::Erp {
            postgres,
            tas,
            batch,
            load,
        } => crate::bench_trip::erp(postgres, tas, batch, load).await,
        Bench::Reevaluate { postgres, legs } => crate::bench_trip::reevaluate(postgres, legs).await,
        Bench::Ingest {
            postgres,
            seconds,
            devices,
            batch,
            concurrency,
            tracking,
        } => {
            crate::bench_eta::ingest(postgres, seconds, devices, batch, concurrency, tracking).await
        }
        Bench::Purge {
            postgres,
            positions,
            chunk,
        } => crate::bench_eta::purge(postgres, positions, chunk).await,
        Bench::Fanout { postgres, devices } => crate::bench_eta::fanout(postgres, devices).await,
        Bench::Headcount {
            postgres,
            people,
            legs,
            phones,
            agencies,
            samples,
        } => {
            crate::bench_presence::headcount(postgres, people, legs, phones, agencies, samples)
                .await
        }
        Bench::Sms { people, window } => crate::bench_eta::sms(people, window).await,
        Bench::Rollcall { postgres, people } => crate::bench_eta::rollcall(postgres, people).await,
    }
}

pub(crate) struct Server {
    pub(crate) base: String,
    pub(crate) state: AppState,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// A fresh store, its label, and the database to discard at the end.
pub(crate) async fn fresh_store(
    postgres: Option<&str>,
) -> anyhow::Result<(Arc<dyn Store>, String, crate::bench_db::Raw)> {
    crate::bench_db::fresh(postgres).await
}

pub(crate) async fn start(store: Arc<dyn Store>) -> anyhow::Result<Server> {
    if store.area_count().await? == 0 {
        db::load_geography(store.as_ref(), true).await?;
    }
    let state = AppState::new(store, Config::default()).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let st = state.clone();
    tokio::spawn(async move {
        let _ = warden_server::serve(st, listener, async {
            let _ = rx.await;
        })
        .await;
    });
    Ok(Server {
        base,
        state,
        _stop: tx,
    })
}

/// A user with an API session opened directly (benchmarks skip the login).
pub(crate) async fn token_for(
    store: &dyn Store,
    username: &str,
    role: Role,
    scope: &str,
) -> anyhow::Result<(uuid::Uuid, String)> {
    let ctx = AuditContext::system("warden bench");
    let u = store
        .create_user(
            &NewUser {
                username: username.into(),
                display_name: username.into(),
                email: format!("{username}@bench.invalid"),
                agency: None,
                password_hash: "not-used".into(),
                grants: vec![RoleGrant {
                    role,
                    scope: Scope::parse(scope)?,
                    agency: None,
                }],
                locale: "en".into(),
            },
            &ctx,
        )
        .await?;
    let token = warden_auth::random_token();
    let now = warden_store::now_micros();
    store
        .create_session(&Session {
            digest: warden_auth::token_digest(&token),
            user_id: u.id,
            kind: SessionKind::Api,
            two_factor: true,
            created_at: now,
            expires_at: now + chrono::Duration::hours(2),
            ip: None,
        })
        .await?;
    Ok((u.id, token))
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn approval(postgres: Option<String>, iterations: usize) -> anyhow::Result<()> {
    let (store, label, raw) = fresh_store(postgres.as_deref()).await?;
    let srv = start(store.clone()).await?;
    let s = srv.state.store.as_ref();
    let (_, sa) = token_for(s, "bench.sa", Role::SecurityAdviser, "AF").await?;
    let (_, desk) = token_for(s, "bench.desk", Role::RegionalDesk, "AF").await?;
    let (_, dof) = token_for(s, "bench.do", Role::DesignatedOfficial, "AF").await?;
    let (smt, _) = token_for(s, "bench.smt", Role::SmtMember, "AF").await?;
    let areas = srv
        .state
        .all_areas(Some(&CountryCode::parse("AF")?))
        .await?;
    let http = reqwest::Client::new();
    let ratings: serde_json::Map<String, serde_json::Value> = ThreatCategory::ALL
        .iter()
        .map(|c| (c.as_str().to_string(), 3.into()))
        .collect();
    let mut latencies = Vec::with_capacity(iterations);
    let mut approve_only = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let area = &areas[i % areas.len()];
        let level = (i % 6 + 1) as i64;
        let a: serde_json::Value = http
            .post(format!("{}/api/v1/assessments", srv.base))
            .bearer_auth(&sa)
            .json(&serde_json::json!({"area": area.code, "level": level, "ratings": ratings, "narrative": "bench", "advisory_text": format!("bench {i}")}))
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
        approve_only.push(t0.elapsed());
        // Visible at once: the first read after the approval must show it.
        let adv: serde_json::Value = http
            .get(format!("{}/api/v1/advisories/AF", srv.base))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let shown = adv["areas"]
            .as_array()
            .expect("areas")
            .iter()
            .find(|e| e["area"]["code"] == area.code.as_str())
            .expect("area in advisory");
        anyhow::ensure!(
            shown["area"]["level"] == level && shown["threat"] == format!("bench {i}"),
            "advisory not updated after approval {i}"
        );
        latencies.push(t0.elapsed());
    }
    latencies.sort();
    approve_only.sort();
    println!(
        "### Approval → advisory visible (`warden bench approval{}`)\n",
        if postgres.is_some() {
            " --postgres URL"
        } else {
            ""
        }
    );
    println!("Store: {label}; {} areas; {iterations} approvals, each followed by one GET of the country advisory that must already show the new level.\n", store.area_count().await?);
    println!("| measure | p50 | p90 | p99 | max |\n|---|---:|---:|---:|---:|");
    for (name, v) in [
        ("approve request (POST, committed)", &approve_only),
        ("approve → advisory shows the level", &latencies),
    ] {
        println!(
            "| {name} | {} | {} | {} | {} |",
            ms(percentile(v, 0.5)),
            ms(percentile(v, 0.9)),
            ms(percentile(v, 0.99)),
            ms(*v.last().expect("samples"))
        );
    }
    drop(srv);
    raw.discard().await?;
    Ok(())
}

async fn map(iterations: usize) -> anyhow::Result<()> {
    let (store, label, raw) = fresh_store(None).await?;
    db::load_geography(store.as_ref(), true).await?;
    let logins = crate::demo::seed(store.clone()).await?;
    drop(logins);
    let t_state = Instant::now();
    let srv = start(store).await?;
    let startup = t_state.elapsed();
    let http = reqwest::Client::new();
    println!("### World map (`warden bench map`)\n");
    println!("Demo data set on {label}: {} areas. Service start-up (geometry cache for lookups and maps): {}.\n", srv.state.store.area_count().await?, ms(startup));
    println!("| request | bytes | gzip bytes | p50 | p99 |\n|---|---:|---:|---:|---:|");
    for path in [
        "/",
        "/api/v1/map/areas.geojson",
        "/countries/AF",
        "/api/v1/map/areas.geojson?country=AF",
        "/assets/vendor/leaflet/leaflet.js",
    ] {
        let mut times = vec![];
        let mut bytes = 0;
        for _ in 0..iterations {
            let t0 = Instant::now();
            let body = http
                .get(format!("{}{path}", srv.base))
                .send()
                .await?
                .error_for_status()?
                .bytes()
                .await?;
            times.push(t0.elapsed());
            bytes = body.len();
        }
        let gz = http
            .get(format!("{}{path}", srv.base))
            .header("accept-encoding", "gzip")
            .send()
            .await?
            .bytes()
            .await?
            .len();
        times.sort();
        println!(
            "| `GET {path}` | {bytes} | {gz} | {} | {} |",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99))
        );
    }
    raw.discard().await?;
    Ok(())
}
