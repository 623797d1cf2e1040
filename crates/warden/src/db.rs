//! Opening the configured store, and loading the shipped geography into it.

use indicatif::{ProgressBar, ProgressStyle};
use std::sync::{Arc, Mutex};
use warden_domain::{AreaCode, CountryCode};
use warden_store::{AreaKind, AuditContext, Country, NewArea, Store};

/// The stores this command opened, closed by [`close_all`] at its end.
static OPENED: Mutex<Vec<Arc<dyn Store>>> = Mutex::new(Vec::new());

/// Opens the store at `url` and applies pending migrations.
pub async fn open(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    let store: Arc<dyn Store> =
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Arc::new(warden_store_postgres::PgStore::connect(url).await?)
        } else {
            Arc::new(warden_store_sqlite::SqliteStore::open(url).await?)
        };
    store.migrate().await?;
    if let Ok(mut opened) = OPENED.lock() {
        opened.push(store.clone());
    }
    Ok(store)
}

/// Closes every store the command opened, each once the work in flight on
/// it is done (two minutes at most): a SQLite file is left without a WAL to
/// recover.
pub async fn close_all() {
    let stores: Vec<Arc<dyn Store>> = match OPENED.lock() {
        Ok(mut opened) => opened.drain(..).collect(),
        Err(_) => return,
    };
    for s in stores {
        let close = tokio::time::timeout(std::time::Duration::from_secs(120), s.close());
        tokio::pin!(close);
        // After a large load SQLite copies the rest of its log into the file here.
        let closed = tokio::select! {
            r = &mut close => r,
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {
                eprintln!("closing the {} database …", s.backend());
                close.await
            }
        };
        if closed.is_err() {
            eprintln!(
                "warning: the {} database did not close within 120 s",
                s.backend()
            );
        }
    }
}

pub fn progress(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{msg:>24} [{bar:40}] {pos}/{len} ({elapsed})")
            .expect("template")
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

/// Loads the shipped countries and admin-1 areas (idempotent: re-running
/// replaces names and shapes and keeps levels).
pub async fn load_geography(store: &dyn Store, quiet: bool) -> anyhow::Result<usize> {
    let countries: Vec<Country> = warden_geo::builtin_countries()
        .into_iter()
        .filter_map(|c| {
            Some(Country {
                alpha2: CountryCode::parse(&c.alpha2).ok()?,
                alpha3: c.alpha3,
                name: c.name,
                names: c.names,
                region: c.region,
            })
        })
        .collect();
    store.upsert_countries(&countries).await?;
    let known: std::collections::HashSet<String> =
        countries.iter().map(|c| c.alpha2.to_string()).collect();
    let areas: Vec<NewArea> = warden_geo::builtin_areas()
        .into_iter()
        .filter(|a| known.contains(&a.country))
        .filter_map(|a| {
            Some(NewArea {
                code: AreaCode::parse(&a.code).ok()?,
                iso_3166_2: a.iso_3166_2,
                country: CountryCode::parse(&a.country).ok()?,
                name: a.name,
                names: a.names,
                kind: AreaKind::Admin1,
                subtype: a.kind,
                label_lon: a.label.0,
                label_lat: a.label.1,
                geometry: warden_geo::to_geojson_geometry(&a.geometry).to_string(),
                members: vec![],
            })
        })
        .collect();
    let pb = if quiet {
        ProgressBar::hidden()
    } else {
        progress(areas.len() as u64, "areas")
    };
    let ctx = AuditContext::system("warden import geography");
    let mut n = 0;
    for chunk in areas.chunks(500) {
        n += store.upsert_areas(chunk, &ctx).await?;
        pb.inc(chunk.len() as u64);
    }
    pb.finish_and_clear();
    Ok(n)
}
