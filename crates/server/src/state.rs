use crate::config::Config;
use crate::metrics::Metrics;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use warden_auth::RateLimiter;
use warden_domain::{AreaCode, CountryCode};
use warden_geo::{AreaIndex, AreaShape};
use warden_store::{AreaKind, PageRequest, Store};

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
    pub geo: Arc<RwLock<Arc<GeoCache>>>,
    pub limiter: Arc<RateLimiter>,
    pub metrics: Arc<Metrics>,
    /// Devices recently seen, by token digest (eTA ingest).
    pub devices: Arc<crate::eta::DeviceCache>,
    /// API sessions recently seen, by token digest.
    pub sessions: Arc<crate::auth::SessionCache>,
    /// The approved-airline list in force and the reviewers per country (TRIP answers).
    pub trip_cache: Arc<crate::trips::TripCache>,
}

/// Area geometry prepared for lookups and maps, rebuilt when areas change.
pub struct GeoCache {
    pub index: AreaIndex,
    /// Simplified GeoJSON geometry text per area, for the country map.
    pub detail: HashMap<AreaCode, String>,
    /// More strongly simplified geometry, for the world map.
    pub coarse: HashMap<AreaCode, String>,
}

pub const DETAIL_TOLERANCE: f64 = 0.01;
pub const COARSE_TOLERANCE: f64 = 0.15;
/// On the world map, islands smaller than this (square degrees, about 250 km²
/// at the equator) are left out, except an area's largest polygon.
pub const MIN_WORLD_POLYGON: f64 = 0.02;

fn drop_specks(mp: &geo::MultiPolygon<f64>, min_area: f64) -> geo::MultiPolygon<f64> {
    use geo::Area;
    let largest = mp.0.iter().map(|p| p.unsigned_area()).fold(0.0, f64::max);
    geo::MultiPolygon(
        mp.0.iter()
            .filter(|p| {
                let a = p.unsigned_area();
                a >= min_area || a == largest
            })
            .cloned()
            .collect(),
    )
}

impl GeoCache {
    pub async fn load(store: &dyn Store) -> anyhow::Result<GeoCache> {
        let t0 = std::time::Instant::now();
        let rows = store.area_geometries(None).await?;
        let read = t0.elapsed();
        tokio::task::spawn_blocking(move || {
            let mut shapes = Vec::with_capacity(rows.len());
            let mut detail = HashMap::with_capacity(rows.len());
            let mut coarse = HashMap::with_capacity(rows.len());
            for r in rows {
                let mp = crate::state::parse_geometry(&r.geometry).map_err(|e| {
                    anyhow::anyhow!("stored geometry of {} is invalid: {e}", r.code)
                })?;
                detail.insert(r.code.clone(), display_geometry(&mp, DETAIL_TOLERANCE, 1e3));
                coarse.insert(
                    r.code.clone(),
                    display_geometry(&drop_specks(&mp, MIN_WORLD_POLYGON), COARSE_TOLERANCE, 1e2),
                );
                shapes.push(AreaShape {
                    code: r.code.to_string(),
                    priority: if r.kind == AreaKind::Custom { 1 } else { 0 },
                    geometry: mp,
                });
            }
            let prepared = t0.elapsed();
            let index = AreaIndex::new(shapes);
            tracing::info!(
                areas = detail.len(),
                read_ms = read.as_millis() as u64,
                prepared_ms = prepared.as_millis() as u64,
                total_ms = t0.elapsed().as_millis() as u64,
                "geometry cache built"
            );
            Ok(GeoCache {
                index,
                detail,
                coarse,
            })
        })
        .await?
    }
}

impl AppState {
    pub async fn new(store: Arc<dyn Store>, config: Config) -> anyhow::Result<AppState> {
        let geo = GeoCache::load(store.as_ref()).await?;
        let limiter = RateLimiter::new(
            config.login_max_failures as usize,
            std::time::Duration::from_secs(config.login_window_minutes * 60),
        );
        Ok(AppState {
            store,
            config: Arc::new(config),
            geo: Arc::new(RwLock::new(Arc::new(geo))),
            limiter: Arc::new(limiter),
            metrics: Arc::new(Metrics::new()),
            devices: Arc::new(crate::eta::DeviceCache::default()),
            sessions: Arc::new(crate::auth::SessionCache::default()),
            trip_cache: Arc::new(crate::trips::TripCache::default()),
        })
    }

    pub fn geo(&self) -> Arc<GeoCache> {
        self.geo.read().expect("geo lock").clone()
    }

    pub async fn reload_geo(&self) -> anyhow::Result<()> {
        let g = GeoCache::load(self.store.as_ref()).await?;
        *self.geo.write().expect("geo lock") = Arc::new(g);
        Ok(())
    }

    /// All areas (of a country), every page.
    pub async fn all_areas(
        &self,
        country: Option<&CountryCode>,
    ) -> Result<Vec<warden_store::Area>, warden_store::StoreError> {
        let mut out = vec![];
        let mut offset = 0;
        loop {
            let page = self
                .store
                .list_areas(&warden_store::AreaQuery {
                    country: country.cloned(),
                    page: PageRequest {
                        limit: PageRequest::MAX_LIMIT,
                        offset,
                    },
                    ..Default::default()
                })
                .await?;
            let n = page.items.len() as i64;
            out.extend(page.items);
            offset += n;
            if n == 0 || offset >= page.total {
                return Ok(out);
            }
        }
    }
}

/// Reads a stored GeoJSON Polygon or MultiPolygon (validated when it was stored).
pub fn parse_geometry(text: &str) -> Result<geo::MultiPolygon<f64>, warden_geo::GeoError> {
    let mut feats = warden_geo::parse_geojson(text)?;
    Ok(feats
        .pop()
        .map(|f| f.geometry)
        .unwrap_or_else(|| geo::MultiPolygon(vec![])))
}

/// Simplified GeoJSON for maps, coordinates rounded to `scale` (1e2 = 0.01°).
fn display_geometry(mp: &geo::MultiPolygon<f64>, tolerance: f64, scale: f64) -> String {
    fn round(v: &mut serde_json::Value, scale: f64) {
        match v {
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| round(x, scale)),
            serde_json::Value::Number(n) => {
                if let Some(f) = n.as_f64() {
                    if let Some(r) = serde_json::Number::from_f64((f * scale).round() / scale) {
                        *n = r;
                    }
                }
            }
            serde_json::Value::Object(o) => o.values_mut().for_each(|x| round(x, scale)),
            _ => {}
        }
    }
    // Douglas-Peucker is enough for drawing; the stored shapes stay exact for lookups.
    use geo::Simplify;
    let mut polys: Vec<geo::Polygon<f64>> =
        mp.0.iter()
            .map(|p| p.simplify(&tolerance))
            .filter(|p| p.exterior().0.len() >= 4)
            .collect();
    if polys.is_empty() {
        polys = warden_geo::simplify_for_display(mp, tolerance).0;
    }
    let mut v = warden_geo::to_geojson_geometry(&geo::MultiPolygon(polys));
    round(&mut v, scale);
    v.to_string()
}
