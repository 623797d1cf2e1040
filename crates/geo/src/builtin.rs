//! Built-in geography derived from Natural Earth (see `data/geo/PROVENANCE.md`).

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::OnceLock;

use geo::{Coord, LineString, MultiPolygon, Polygon};
use serde::Deserialize;

use crate::index::{AreaIndex, AreaShape};

static ADMIN1_GZ: &[u8] = include_bytes!("../../../data/geo/admin1.json.gz");
static COUNTRIES_GZ: &[u8] = include_bytes!("../../../data/geo/countries.json.gz");

/// Languages of the localized names (besides English, `en`).
pub const NAME_LANGUAGES: [&str; 5] = ["fr", "ar", "es", "ru", "zh"];

/// A built-in admin-1 area (state, province, region, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltinArea {
    /// Unique code: the ISO 3166-2 code when Natural Earth gives a proper, unique one,
    /// else `{country}-X{ne_id}`.
    pub code: String,
    pub iso_3166_2: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// English name.
    pub name: String,
    /// Language code → name, for `en` and those of `fr`, `ar`, `es`, `ru`, `zh` that exist.
    pub names: BTreeMap<String, String>,
    /// Kind of subdivision in English (`Province`, `Region`, ...).
    pub kind: Option<String>,
    /// Label point (lon, lat).
    pub label: (f64, f64),
    pub geometry: MultiPolygon<f64>,
}

/// A country that has built-in areas.
#[derive(Debug, Clone, PartialEq)]
pub struct Country {
    pub alpha2: String,
    pub alpha3: String,
    /// English name.
    pub name: String,
    /// Language code → name (`en`, `fr`, `ar`, `es`, `ru`, `zh` when available).
    pub names: BTreeMap<String, String>,
    /// Continent.
    pub region: Option<String>,
}

#[derive(Deserialize)]
struct RawAdmin1 {
    areas: Vec<RawArea>,
}

#[derive(Deserialize)]
struct RawArea {
    code: String,
    iso_3166_2: Option<String>,
    country: String,
    name: String,
    name_fr: Option<String>,
    name_ar: Option<String>,
    name_es: Option<String>,
    name_ru: Option<String>,
    name_zh: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    longitude: f64,
    latitude: f64,
    geometry: RawGeometry,
}

#[derive(Deserialize)]
struct RawGeometry {
    coordinates: Vec<Vec<Vec<[f64; 2]>>>,
}

#[derive(Deserialize)]
struct RawCountries {
    countries: Vec<RawCountry>,
}

#[derive(Deserialize)]
struct RawCountry {
    alpha2: String,
    alpha3: String,
    name: String,
    #[serde(default)]
    names: BTreeMap<String, String>,
    region: Option<String>,
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() * 4);
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("embedded geography data is a valid gzip stream");
    out
}

fn to_multipolygon(raw: Vec<Vec<Vec<[f64; 2]>>>) -> MultiPolygon<f64> {
    let ring = |r: Vec<[f64; 2]>| LineString(r.into_iter().map(|[x, y]| Coord { x, y }).collect());
    MultiPolygon(
        raw.into_iter()
            .map(|mut rings| {
                let ext = ring(rings.remove(0));
                Polygon::new(ext, rings.into_iter().map(ring).collect())
            })
            .collect(),
    )
}

/// All built-in admin-1 areas (decoded from the embedded `data/geo/admin1.json.gz`), sorted by code.
pub fn builtin_areas() -> Vec<BuiltinArea> {
    let raw: RawAdmin1 =
        serde_json::from_slice(&gunzip(ADMIN1_GZ)).expect("embedded admin1.json.gz is valid");
    raw.areas
        .into_iter()
        .map(|a| {
            let mut names = BTreeMap::new();
            names.insert("en".to_string(), a.name.clone());
            for (lang, v) in [
                ("fr", a.name_fr),
                ("ar", a.name_ar),
                ("es", a.name_es),
                ("ru", a.name_ru),
                ("zh", a.name_zh),
            ] {
                if let Some(v) = v {
                    names.insert(lang.to_string(), v);
                }
            }
            BuiltinArea {
                code: a.code,
                iso_3166_2: a.iso_3166_2,
                country: a.country,
                name: a.name,
                names,
                kind: a.kind,
                label: (a.longitude, a.latitude),
                geometry: to_multipolygon(a.geometry.coordinates),
            }
        })
        .collect()
}

/// All countries with built-in areas, sorted by alpha-2 code.
pub fn builtin_countries() -> Vec<Country> {
    let raw: RawCountries =
        serde_json::from_slice(&gunzip(COUNTRIES_GZ)).expect("embedded countries.json.gz is valid");
    raw.countries
        .into_iter()
        .map(|c| {
            let mut names = c.names;
            names
                .entry("en".to_string())
                .or_insert_with(|| c.name.clone());
            Country {
                alpha2: c.alpha2,
                alpha3: c.alpha3,
                name: c.name,
                names,
                region: c.region,
            }
        })
        .collect()
}

/// Built-in areas as index shapes with the given priority.
pub fn builtin_shapes(priority: i32) -> Vec<AreaShape> {
    builtin_areas()
        .into_iter()
        .map(|a| AreaShape {
            code: a.code,
            priority,
            geometry: a.geometry,
        })
        .collect()
}

/// A process-wide index of the built-in areas (priority 0), built on first use.
pub fn builtin_index() -> &'static AreaIndex {
    static INDEX: OnceLock<AreaIndex> = OnceLock::new();
    INDEX.get_or_init(|| AreaIndex::new(builtin_shapes(0)))
}
