//! TRIP benchmarks: submissions over HTTP, the ERP import, and re-evaluation
//! of future legs with their travellers' notifications.

use crate::bench::{ms, percentile, start, token_for};
use crate::db;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use warden_domain::people::PersonnelCategory;
use warden_domain::trip::{ProcessingMode, TripPurpose};
use warden_domain::{
    AreaCode, AssessmentAction, AssessmentStatus, Role, SecurityLevel, ThreatCategory,
};
use warden_server::config::Config;
use warden_server::state::AppState;
use warden_store::{
    AuditContext, AuditQuery, NewAgency, NewAssessment, NewLeg, ProfileInput, Store,
    TravelAuthorisation,
};

/// Destinations of generated trips: airports in places the UN works.
const AIRPORTS: [&str; 20] = [
    "KBL", "BKO", "NBO", "JUB", "MGQ", "ADD", "DSS", "ABJ", "KRT", "BGW", "DAM", "BEY", "AMM",
    "ISB", "KTM", "DAC", "RGN", "PAP", "BOG", "FIH",
];

fn rate(n: u64, d: Duration) -> String {
    format!("{:.0}", n as f64 / d.as_secs_f64())
}

pub async fn submit(
    postgres: Option<String>,
    seconds: u64,
    concurrency: usize,
) -> anyhow::Result<()> {
    let (store, label, raw) = crate::bench_db::fresh(postgres.as_deref()).await?;
    let srv = start(store.clone()).await?;
    let mut tokens = vec![];
    for i in 0..concurrency.max(1) {
        tokens.push(
            token_for(
                store.as_ref(),
                &format!("bench.t{i}"),
                Role::Traveller,
                "global",
            )
            .await?
            .1,
        );
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let ok = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = vec![];
    for (w, token) in tokens.into_iter().enumerate() {
        let (http, base, ok) = (http.clone(), srv.base.clone(), ok.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = vec![];
            let mut i = 0u64;
            while Instant::now() < until {
                i += 1;
                let to = AIRPORTS[(w + i as usize) % AIRPORTS.len()];
                let d0 = chrono::Utc::now() + chrono::Duration::days(10 + (i % 300) as i64);
                let f = |d: chrono::DateTime<chrono::Utc>| d.format("%Y-%m-%dT%H:%M:%SZ").to_string();
                let body = serde_json::json!({"purpose": "official", "legs": [
                    {"from": "GVA", "to": to, "depart": f(d0), "arrive": f(d0 + chrono::Duration::hours(9)), "flight": "ET 308"},
                    {"from": to, "to": "GVA", "depart": f(d0 + chrono::Duration::days(5)), "arrive": f(d0 + chrono::Duration::days(5) + chrono::Duration::hours(9))}]});
                let t0 = Instant::now();
                let r = http
                    .post(format!("{base}/api/v1/travel-requests"))
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await?;
                if r.status() != reqwest::StatusCode::CREATED {
                    anyhow::bail!("submission refused: {} {}", r.status(), r.text().await?);
                }
                lat.push(t0.elapsed());
                ok.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(lat)
        }));
    }
    let mut lat = vec![];
    for t in tasks {
        lat.extend(t.await??);
    }
    let elapsed = started.elapsed();
    lat.sort();
    let n = ok.load(Ordering::Relaxed);
    // Every acknowledged trip is in the database (each one wrote its audit entry in its transaction).
    let stored = store
        .list_audit(&AuditQuery {
            action_prefix: Some("trip.submit".into()),
            ..Default::default()
        })
        .await?
        .total as u64;
    anyhow::ensure!(stored == n, "{n} acknowledged but {stored} stored");
    println!("### TRIP submissions (`warden bench submit --seconds {seconds} --concurrency {concurrency}{}`)\n",
        if postgres.is_some() { " --postgres URL" } else { "" });
    println!("Store: {label}. Each request: 2 legs (GVA → an airport, resolved to its area; and back), one transaction, acknowledged only after commit. Load generator in the same process, on the same cores.\n");
    println!(
        "| requests | seconds | requests/s | p50 | p99 | stored |\n|---:|---:|---:|---:|---:|---:|"
    );
    println!(
        "| {n} | {:.1} | {} | {} | {} | {stored} |",
        elapsed.as_secs_f64(),
        rate(n, elapsed),
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99))
    );
    drop(srv);
    raw.discard().await?;
    Ok(())
}

async fn bench_state(
    postgres: Option<&str>,
) -> anyhow::Result<(AppState, String, crate::bench_db::Raw)> {
    let (store, label, raw) = crate::bench_db::fresh(postgres).await?;
    db::load_geography(store.as_ref(), true).await?;
    Ok((AppState::new(store, Config::default()).await?, label, raw))
}

async fn profiles(store: &dyn Store, agency: uuid::Uuid, n: usize) -> anyhow::Result<()> {
    let ctx = AuditContext::system("warden bench");
    let rows: Vec<ProfileInput> = (0..n)
        .map(|i| ProfileInput {
            agency,
            personnel_id: format!("P{i:07}"),
            display_name: format!("Traveller {i}"),
            email: format!("p{i}@bench.invalid"),
            category: PersonnelCategory::InternationalStaff,
            nationality: None,
            phone: String::new(),
            duty_station: None,
            emergency_contacts: vec![],
            certificates: vec![],
        })
        .collect();
    for chunk in rows.chunks(1000) {
        store.import_profiles(chunk, &ctx).await?;
    }
    Ok(())
}

pub async fn erp(
    postgres: Option<String>,
    tas: usize,
    batch: usize,
    load: crate::import::Load,
) -> anyhow::Result<()> {
    let (state, label, raw) = bench_state(postgres.as_deref()).await?;
    let store = state.store.clone();
    let agency = store
        .create_agency(
            &NewAgency {
                code: "BENCH".into(),
                name: "Bench agency".into(),
            },
            &AuditContext::system("bench"),
        )
        .await?;
    let travellers = (tas / 50).max(1);
    profiles(store.as_ref(), agency.id, travellers).await?;
    // The ERP export: one row per leg, a TA's rows together.
    let dir = std::env::temp_dir().join(format!(
        "warden-bench-erp-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("tas.csv");
    let mut rows = 0u64;
    {
        use std::io::Write;
        let mut w = std::io::BufWriter::new(std::fs::File::create(&file)?);
        writeln!(
            w,
            "ta_number,traveller,status,purpose,from,to,depart,arrive,flight"
        )?;
        let base = chrono::Utc::now().date_naive() + chrono::Days::new(30);
        for i in 0..tas {
            let to = AIRPORTS[i % AIRPORTS.len()];
            let day = base + chrono::Days::new((i % 330) as u64);
            let status = if i % 97 == 0 { "cancelled" } else { "approved" };
            let t = format!("P{:07}", i % travellers);
            writeln!(
                w,
                "TA{i:08},{t},{status},official,GVA,{to},{day}T08:00,{day}T20:00,ET 308"
            )?;
            rows += 1;
            if i % 2 == 0 {
                let back = day + chrono::Days::new(6);
                writeln!(
                    w,
                    "TA{i:08},{t},{status},official,{to},GVA,{back}T09:00,{back}T18:00,ET 309"
                )?;
                rows += 1;
            }
        }
    }
    let size = std::fs::metadata(&file)?.len();
    println!(
        "### ERP import (`warden bench erp --tas {tas} --batch {batch} --load {}{}`)\n",
        clap::ValueEnum::to_possible_value(&load)
            .map_or(String::new(), |v| v.get_name().to_string()),
        if postgres.is_some() {
            " --postgres URL"
        } else {
            ""
        }
    );
    println!("Store: {label}. File: {tas} travel authorisations in {rows} rows (one per leg, local times at IATA airports, {:.0} MB), {travellers} travellers; batches of {batch} TAs per transaction where the load goes by batches.\n",
        size as f64 / 1e6);
    println!("| run | transactions | seconds | rows/s | TAs/s | created | updated | unchanged | cancelled | rejected |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for run in ["first", "re-run"] {
        let t0 = Instant::now();
        let r =
            crate::import::travel_authorisations(&state, "BENCH", &file, batch, load, true).await?;
        let d = t0.elapsed();
        anyhow::ensure!(
            r.errors.is_empty(),
            "rejected rows: {:?}",
            &r.errors[..r.errors.len().min(5)]
        );
        println!(
            "| {run} | {} | {:.1} | {} | {} | {} | {} | {} | {} | {} |",
            if r.load == Some(warden_store::TaLoadMode::Whole) {
                "whole"
            } else {
                "per batch"
            },
            d.as_secs_f64(),
            rate(r.rows, d),
            rate(tas as u64, d),
            r.counts.created,
            r.counts.updated,
            r.counts.unchanged,
            r.cancelled,
            r.errors.len()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    raw.discard().await?;
    Ok(())
}

pub async fn reevaluate(postgres: Option<String>, legs: usize) -> anyhow::Result<()> {
    let (state, label, raw) = bench_state(postgres.as_deref()).await?;
    let store = state.store.clone();
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
    let travellers = (legs / 5).max(1);
    profiles(store.as_ref(), agency.id, travellers).await?;
    let ids: Vec<String> = (0..travellers).map(|i| format!("P{i:07}")).collect();
    let users = store.profile_users(agency.id, &ids).await?;
    let (erp_user, _) = token_for(
        store.as_ref(),
        "bench.erp",
        Role::AgencyFocalPoint,
        "global",
    )
    .await?;
    let (dof, _) = token_for(store.as_ref(), "bench.do", Role::DesignatedOfficial, "AF").await?;
    let (sa, _) = token_for(store.as_ref(), "bench.sa", Role::SecurityAdviser, "AF").await?;
    let (desk, _) = token_for(store.as_ref(), "bench.desk", Role::RegionalDesk, "AF").await?;
    let (smt, _) = token_for(store.as_ref(), "bench.smt", Role::SmtMember, "AF").await?;
    let kab = AreaCode::parse("AF-KAB")?;
    let now = chrono::Utc::now();
    let t_setup = Instant::now();
    let all: Vec<TravelAuthorisation> = (0..legs)
        .map(|i| {
            let d = now + chrono::Duration::hours(24 + (i % 5000) as i64);
            TravelAuthorisation {
                ta_number: format!("TA{i:08}"),
                traveller: users[&ids[i % travellers]],
                purpose: TripPurpose::Official,
                cancelled: false,
                legs: vec![NewLeg {
                    origin: "Geneva (GVA)".into(),
                    destination: "Kabul (KBL)".into(),
                    area: kab.clone(),
                    depart: d,
                    arrive: d + chrono::Duration::hours(10),
                    depart_tz: None,
                    arrive_tz: None,
                    carrier: None,
                }],
            }
        })
        .collect();
    for chunk in all.chunks(2000) {
        store
            .apply_travel_authorisations(agency.id, erp_user, chunk, &ctx)
            .await?;
    }
    // PostgreSQL: statistics as a live database has them (autovacuum
    // analyses a table long before 100,000 legs are there); without them the
    // re-evaluation is planned for a handful of rows (nested loops, several
    // times slower). SQLite keeps no statistics unless asked.
    if raw.is_pg() {
        raw.exec("ANALYZE").await?;
    }
    let setup = t_setup.elapsed();
    println!(
        "### Re-evaluation (`warden bench reevaluate --legs {legs}{}`)\n",
        if postgres.is_some() {
            " --postgres URL"
        } else {
            ""
        }
    );
    println!("Store: {label}. {legs} future legs into AF-KAB ({legs} trips of {travellers} travellers; set up in {:.1} s). Each change is one transaction that updates the legs and writes one in-app notification per trip (each also queued for e-mail) before it commits.\n", setup.as_secs_f64());
    println!(
        "| change | legs re-evaluated | travellers' notifications | time |\n|---|---:|---:|---:|"
    );

    let detail = |action: &'static str| {
        let store = store.clone();
        async move {
            let a = store
                .list_audit(&AuditQuery {
                    action_prefix: Some(action.into()),
                    ..Default::default()
                })
                .await?;
            let d: serde_json::Value = serde_json::from_str(&a.items[0].detail)?;
            anyhow::Ok(d)
        }
    };
    let t0 = Instant::now();
    let n = store
        .set_processing_mode(
            &kab,
            ProcessingMode::Manual,
            dof,
            "bench: SMT decision",
            &ctx,
        )
        .await?;
    let d = t0.elapsed();
    let told = detail("area.processing_mode").await?["travellers_notified"]
        .as_u64()
        .unwrap_or(0);
    anyhow::ensure!(
        n as usize == legs && told as usize == legs,
        "re-evaluated {n}, told {told}"
    );
    println!("| automatic → manual | {n} | {told} | {} |", ms(d));

    // A level change: every traveller with a future leg there is told.
    let ratings = ThreatCategory::ALL
        .iter()
        .map(|c| (c.as_str().to_string(), 4))
        .collect();
    let a = store
        .create_assessment(
            &NewAssessment {
                area: kab.clone(),
                author: sa,
                proposed_level: SecurityLevel::new(4)?,
                ratings,
                narrative: "bench".into(),
                advisory_text: "bench".into(),
                measures: vec![],
                mitigation_text: String::new(),
            },
            &ctx,
        )
        .await?;
    let step = |action, to, actor, smt_consulted| warden_store::AssessmentTransition {
        id: a.id,
        action,
        to,
        actor,
        reason: "bench".into(),
        smt_consulted,
        revision: None,
    };
    store
        .apply_assessment_action(
            &step(
                AssessmentAction::Validate,
                AssessmentStatus::Validated,
                desk,
                vec![],
            ),
            AssessmentStatus::Submitted,
            &ctx,
        )
        .await?;
    let t0 = Instant::now();
    store
        .apply_assessment_action(
            &step(
                AssessmentAction::Approve,
                AssessmentStatus::Approved,
                dof,
                vec![smt],
            ),
            AssessmentStatus::Validated,
            &ctx,
        )
        .await?;
    let d = t0.elapsed();
    let told = detail("assessment.").await?["travellers_notified"]
        .as_u64()
        .unwrap_or(0);
    anyhow::ensure!(told as usize == legs, "told {told}");
    println!("| level change (approval) | — | {told} | {} |", ms(d));
    let t0 = Instant::now();
    let n = store
        .set_processing_mode(&kab, ProcessingMode::Automatic, dof, "bench: eased", &ctx)
        .await?;
    let d = t0.elapsed();
    println!("| manual → automatic | {n} | {n} | {} |", ms(d));
    raw.discard().await?;
    Ok(())
}
