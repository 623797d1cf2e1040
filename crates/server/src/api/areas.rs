use crate::api::{Body, PageOf, Paging};
use crate::api::{Path, Query};
use crate::auth::ApiUser;
use crate::error::{ApiError, ApiResult, Code, Problem};
use crate::service;
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use warden_domain::{AreaCode, CountryCode, SecurityLevel};
use warden_store::{Area, AreaKind, AreaQuery, NewArea};

/// Levels and advisories are readable without signing in unless the
/// configuration says otherwise.
pub fn check_public(state: &AppState, who: &Option<ApiUser>) -> ApiResult<()> {
    if state.config.public_advisories || who.is_some() {
        Ok(())
    } else {
        Err(ApiError::new(
            Code::Unauthenticated,
            "sign in to read levels and advisories",
        ))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AreaDto {
    /// ISO 3166-2 code where there is one (`AF-KAB`), else a Warden code.
    pub code: String,
    pub name: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// Security level 1-6, or null while none has been approved.
    pub level: Option<u8>,
    pub level_name: Option<String>,
    pub level_since: Option<DateTime<Utc>>,
    pub iso_3166_2: Option<String>,
    /// `admin1` (shipped geography) or `custom` (defined by an administrator).
    pub kind: String,
    pub subtype: Option<String>,
    /// Names in other languages, by language code.
    pub names: BTreeMap<String, String>,
    /// Label point `[lon, lat]`.
    pub label: [f64; 2],
    /// For custom areas made of admin-1 units.
    pub members: Vec<String>,
}

impl From<Area> for AreaDto {
    fn from(a: Area) -> Self {
        AreaDto {
            code: a.code.to_string(),
            name: a.name,
            country: a.country.to_string(),
            level: a.level.map(|l| l.get()),
            level_name: a.level.map(|l| l.name().to_string()),
            level_since: a.level_since,
            iso_3166_2: a.iso_3166_2,
            kind: a.kind.as_str().into(),
            subtype: a.subtype,
            names: a.names,
            label: [a.label_lon, a.label_lat],
            members: a.members,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CountryDto {
    pub code: String,
    pub alpha3: String,
    pub name: String,
    pub names: BTreeMap<String, String>,
    pub region: Option<String>,
    pub areas: i64,
    pub areas_with_level: i64,
    pub highest_level: Option<u8>,
}

/// Countries with their number of areas and highest approved level.
#[utoipa::path(get, path = "/api/v1/countries", tag = "areas", responses((status = 200, body = Vec<CountryDto>)))]
pub async fn list_countries(
    State(state): State<AppState>,
    who: Option<ApiUser>,
) -> ApiResult<Json<Vec<CountryDto>>> {
    check_public(&state, &who)?;
    Ok(Json(
        state
            .store
            .list_countries()
            .await?
            .into_iter()
            .map(|c| CountryDto {
                code: c.country.alpha2.to_string(),
                alpha3: c.country.alpha3,
                name: c.country.name,
                names: c.country.names,
                region: c.country.region,
                areas: c.areas,
                areas_with_level: c.areas_with_level,
                highest_level: c.highest_level.map(|l| l.get()),
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AreaFilter {
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<String>,
    /// Part of a name or code.
    pub q: Option<String>,
    /// Only areas at this level.
    pub level: Option<i64>,
}

/// Areas, filtered and paginated.
#[utoipa::path(get, path = "/api/v1/areas", tag = "areas", params(AreaFilter, Paging),
    responses((status = 200, body = PageOf<AreaDto>), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn list_areas(
    State(state): State<AppState>,
    who: Option<ApiUser>,
    Query(f): Query<AreaFilter>,
    Query(p): Query<Paging>,
) -> ApiResult<Json<PageOf<AreaDto>>> {
    check_public(&state, &who)?;
    let q = AreaQuery {
        country: f.country.as_deref().map(CountryCode::parse).transpose()?,
        search: f.q.filter(|s| !s.trim().is_empty()),
        level: f.level.map(SecurityLevel::new).transpose()?,
        page: p.request(),
    };
    Ok(Json(PageOf::map(
        state.store.list_areas(&q).await?,
        AreaDto::from,
    )))
}

pub fn parse_code(code: &str) -> ApiResult<AreaCode> {
    AreaCode::parse(code).map_err(|e| {
        ApiError::invalid(
            "code",
            e.to_string().trim_start_matches("code: ").to_string(),
        )
    })
}

async fn load_area(state: &AppState, code: &str) -> ApiResult<Area> {
    let code = parse_code(code)?;
    state
        .store
        .get_area(&code)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("area {code}")))
}

/// One area with its current level.
#[utoipa::path(get, path = "/api/v1/areas/{code}", tag = "areas", params(("code" = String, Path, description = "Area code, e.g. AF-KAB")),
    responses((status = 200, body = AreaDto), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_area(
    State(state): State<AppState>,
    who: Option<ApiUser>,
    Path(code): Path<String>,
) -> ApiResult<Json<AreaDto>> {
    check_public(&state, &who)?;
    Ok(Json(load_area(&state, &code).await?.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LevelChangeDto {
    pub old_level: Option<u8>,
    pub new_level: u8,
    pub assessment: Uuid,
    pub approved_by: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// Every approved level of the area, newest first.
#[utoipa::path(get, path = "/api/v1/areas/{code}/history", tag = "areas", params(("code" = String, Path)),
    responses((status = 200, body = Vec<LevelChangeDto>), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn area_history(
    State(state): State<AppState>,
    who: Option<ApiUser>,
    Path(code): Path<String>,
) -> ApiResult<Json<Vec<LevelChangeDto>>> {
    check_public(&state, &who)?;
    let area = load_area(&state, &code).await?;
    Ok(Json(
        state
            .store
            .level_history(&area.code)
            .await?
            .into_iter()
            .map(|c| LevelChangeDto {
                old_level: c.old_level.map(|l| l.get()),
                new_level: c.new_level.get(),
                assessment: c.assessment,
                approved_by: c.approved_by_name,
                reason: c.reason,
                at: c.at,
            })
            .collect(),
    ))
}

/// The area as a GeoJSON Feature (RFC 7946).
#[utoipa::path(get, path = "/api/v1/areas/{code}/geometry", tag = "areas", params(("code" = String, Path)),
    responses((status = 200, description = "GeoJSON Feature", content_type = "application/geo+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn area_geometry(
    State(state): State<AppState>,
    who: Option<ApiUser>,
    Path(code): Path<String>,
) -> ApiResult<impl IntoResponse> {
    check_public(&state, &who)?;
    let area = load_area(&state, &code).await?;
    let geo = state.geo();
    let geometry = geo
        .detail
        .get(&area.code)
        .cloned()
        .unwrap_or_else(|| "null".into());
    let props = serde_json::to_string(&AreaDto::from(area)).expect("json");
    let body = format!(r#"{{"type":"Feature","geometry":{geometry},"properties":{props}}}"#);
    Ok(([(header::CONTENT_TYPE, "application/geo+json")], body))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct MapQuery {
    /// Only this country's areas, at a finer resolution.
    pub country: Option<String>,
}

/// Areas coloured by level for maps: a GeoJSON FeatureCollection with properties `code`, `name`, `country`, `level`.
#[utoipa::path(get, path = "/api/v1/map/areas.geojson", tag = "areas", params(MapQuery),
    responses((status = 200, description = "GeoJSON FeatureCollection", content_type = "application/geo+json")))]
pub async fn map_geojson(
    State(state): State<AppState>,
    who: Option<ApiUser>,
    Query(q): Query<MapQuery>,
) -> ApiResult<impl IntoResponse> {
    check_public(&state, &who)?;
    let country = q.country.as_deref().map(CountryCode::parse).transpose()?;
    let areas = state.all_areas(country.as_ref()).await?;
    let geo = state.geo();
    let shapes = if country.is_some() {
        &geo.detail
    } else {
        &geo.coarse
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/geo+json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        map_collection(&areas, shapes),
    ))
}

/// Builds the FeatureCollection text directly from cached geometry strings.
pub fn map_collection(
    areas: &[Area],
    shapes: &std::collections::HashMap<AreaCode, String>,
) -> String {
    let mut out = String::with_capacity(areas.len() * 600);
    out.push_str(r#"{"type":"FeatureCollection","features":["#);
    let mut first = true;
    for a in areas {
        let Some(g) = shapes.get(&a.code) else {
            continue;
        };
        if !first {
            out.push(',');
        }
        first = false;
        let props = serde_json::json!({
            "code": a.code, "name": a.name, "country": a.country,
            "level": a.level.map(|l| l.get()), "level_label": a.level.map(|l| l.name()),
        });
        out.push_str(r#"{"type":"Feature","geometry":"#);
        out.push_str(g);
        out.push_str(r#","properties":"#);
        out.push_str(&props.to_string());
        out.push('}');
    }
    out.push_str("]}");
    out
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct LookupQuery {
    /// Latitude, -90 to 90.
    pub lat: f64,
    /// Longitude, -180 to 180.
    pub lon: f64,
}

/// The area that contains a point.
#[utoipa::path(get, path = "/api/v1/lookup", tag = "areas", params(LookupQuery),
    responses((status = 200, body = AreaDto), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn lookup(
    State(state): State<AppState>,
    who: Option<ApiUser>,
    Query(q): Query<LookupQuery>,
) -> ApiResult<Json<AreaDto>> {
    check_public(&state, &who)?;
    if !(-90.0..=90.0).contains(&q.lat) {
        return Err(ApiError::invalid(
            "lat",
            "latitude must be between -90 and 90",
        ));
    }
    if !(-180.0..=180.0).contains(&q.lon) {
        return Err(ApiError::invalid(
            "lon",
            "longitude must be between -180 and 180",
        ));
    }
    let code = state
        .geo()
        .index
        .lookup(q.lon, q.lat)
        .map(str::to_string)
        .ok_or_else(|| ApiError::not_found(format!("area containing ({}, {})", q.lat, q.lon)))?;
    Ok(Json(load_area(&state, &code).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAreaRequest {
    /// `CC-NAME`: the country code, a dash, letters/digits/dashes.
    pub code: String,
    pub name: String,
    /// A GeoJSON Polygon or MultiPolygon (RFC 7946, lon/lat). Give this or `members`.
    #[schema(value_type = Option<Object>)]
    pub geometry: Option<serde_json::Value>,
    /// Codes of admin-1 areas whose union forms this area.
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default)]
    pub names: BTreeMap<String, String>,
}

fn require_admin(who: &crate::auth::Authed) -> ApiResult<()> {
    if service::is_admin(who) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only an administrator may define areas",
        ))
    }
}

/// Validates a custom area: its code, country, and either a valid polygon or known member areas.
pub async fn build_custom_area(
    state: &AppState,
    r: &NewAreaRequest,
    field_prefix: &str,
) -> ApiResult<NewArea> {
    let f = |name: &str| format!("{field_prefix}{name}");
    let code = AreaCode::parse(&r.code).map_err(|e| {
        ApiError::invalid(
            f("code"),
            e.to_string().trim_start_matches("code: ").to_string(),
        )
    })?;
    let country = code.country();
    if state.store.get_country(&country).await?.is_none() {
        return Err(ApiError::invalid(
            f("code"),
            format!("unknown country {country}"),
        ));
    }
    if r.name.trim().is_empty() || r.name.chars().count() > 200 {
        return Err(ApiError::invalid(
            f("name"),
            "a name of 1-200 characters is required",
        ));
    }
    let mp = match (&r.geometry, r.members.is_empty()) {
        (Some(g), true) => {
            let feats = warden_geo::parse_geojson(&g.to_string()).map_err(|e| {
                ApiError::invalid(
                    format!("{}.{}", f("geometry"), e.path)
                        .trim_end_matches('.')
                        .to_string(),
                    e.to_string(),
                )
            })?;
            let mut polys = vec![];
            for feat in feats {
                polys.extend(feat.geometry.0);
            }
            geo::MultiPolygon(polys)
        }
        (None, false) => {
            let rows = state.store.area_geometries(Some(&country)).await?;
            let mut union: Option<geo::MultiPolygon<f64>> = None;
            for (i, m) in r.members.iter().enumerate() {
                let mc = AreaCode::parse(m).map_err(|_| {
                    ApiError::invalid(
                        f(&format!("members[{i}]")),
                        format!("`{m}` is not an area code"),
                    )
                })?;
                if mc.country() != country {
                    return Err(ApiError::invalid(
                        f(&format!("members[{i}]")),
                        format!("{mc} is not in {country}"),
                    ));
                }
                let Some(row) = rows.iter().find(|x| x.code == mc) else {
                    return Err(ApiError::invalid(
                        f(&format!("members[{i}]")),
                        format!("unknown area {mc}"),
                    ));
                };
                let mp = crate::state::parse_geometry(&row.geometry).map_err(ApiError::internal)?;
                union = Some(match union {
                    None => mp,
                    Some(u) => geo::BooleanOps::union(&u, &mp),
                });
            }
            union.expect("members not empty")
        }
        (Some(_), false) => {
            return Err(ApiError::invalid(
                f("members"),
                "give either a geometry or members, not both",
            ))
        }
        (None, true) => {
            return Err(ApiError::invalid(
                f("geometry"),
                "a geometry or a list of member areas is required",
            ))
        }
    };
    warden_geo::validate_multipolygon(&mp).map_err(|e| {
        ApiError::invalid(
            format!("{}.{}", f("geometry"), e.path)
                .trim_end_matches('.')
                .to_string(),
            e.to_string(),
        )
    })?;
    let label = geo::InteriorPoint::interior_point(&mp)
        .map(|p| (p.x(), p.y()))
        .unwrap_or((0.0, 0.0));
    Ok(NewArea {
        iso_3166_2: None,
        country,
        name: r.name.trim().to_string(),
        names: r.names.clone(),
        kind: AreaKind::Custom,
        subtype: Some("SLS area".into()),
        label_lon: label.0,
        label_lat: label.1,
        geometry: warden_geo::to_geojson_geometry(&mp).to_string(),
        members: r
            .members
            .iter()
            .map(|m| m.trim().to_ascii_uppercase())
            .collect(),
        code,
    })
}

/// Define a custom SLS area: a polygon or a union of admin-1 areas (administrators).
#[utoipa::path(post, path = "/api/v1/areas", tag = "areas", security(("bearer" = [])), request_body = NewAreaRequest,
    responses((status = 201, body = AreaDto), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create_area(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Body(r): Body<NewAreaRequest>,
) -> ApiResult<(axum::http::StatusCode, Json<AreaDto>)> {
    require_admin(&who)?;
    let area = build_custom_area(&state, &r, "").await?;
    if state.store.get_area(&area.code).await?.is_some() {
        return Err(ApiError::new(
            Code::Conflict,
            format!("area {} already exists", area.code),
        ));
    }
    state
        .store
        .upsert_areas(std::slice::from_ref(&area), &who.audit())
        .await?;
    state.reload_geo().await.map_err(ApiError::internal)?;
    let stored = state
        .store
        .get_area(&area.code)
        .await?
        .ok_or_else(|| ApiError::internal("area vanished"))?;
    Ok((axum::http::StatusCode::CREATED, Json(stored.into())))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResult {
    pub imported: usize,
    pub codes: Vec<String>,
}

/// Turns GeoJSON features into areas: each needs `code` and `name` properties.
pub async fn features_to_areas(state: &AppState, text: &str) -> ApiResult<Vec<NewArea>> {
    let feats = warden_geo::parse_geojson(text)?;
    if feats.is_empty() {
        return Err(ApiError::invalid(
            "features",
            "the file contains no features",
        ));
    }
    let mut out = Vec::with_capacity(feats.len());
    let mut seen = std::collections::HashSet::new();
    for feat in feats {
        let i = feat.index;
        let prop = |k: &str| {
            feat.properties
                .get(k)
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let code = prop("code").ok_or_else(|| {
            ApiError::invalid(
                format!("features[{i}].properties.code"),
                "each feature needs a `code` property (e.g. AF-SLS-CENTRAL)",
            )
        })?;
        let name = prop("name").ok_or_else(|| {
            ApiError::invalid(
                format!("features[{i}].properties.name"),
                "each feature needs a `name` property",
            )
        })?;
        if !seen.insert(code.to_ascii_uppercase()) {
            return Err(ApiError::invalid(
                format!("features[{i}].properties.code"),
                format!("code {code} appears twice in the file"),
            ));
        }
        let req = NewAreaRequest {
            code,
            name,
            geometry: Some(warden_geo::to_geojson_geometry(&feat.geometry)),
            members: vec![],
            names: BTreeMap::new(),
        };
        out.push(build_custom_area(state, &req, &format!("features[{i}].")).await?);
    }
    Ok(out)
}

/// Import custom areas from a GeoJSON FeatureCollection (administrators). All or nothing.
#[utoipa::path(post, path = "/api/v1/areas/import", tag = "areas", security(("bearer" = [])),
    request_body(content = Object, description = "GeoJSON FeatureCollection; each feature has `code` and `name` properties", content_type = "application/geo+json"),
    responses((status = 200, body = ImportResult), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn import_areas(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Body(v): Body<serde_json::Value>,
) -> ApiResult<Json<ImportResult>> {
    require_admin(&who)?;
    let areas = features_to_areas(&state, &v.to_string()).await?;
    let n = state.store.upsert_areas(&areas, &who.audit()).await?;
    state.reload_geo().await.map_err(ApiError::internal)?;
    Ok(Json(ImportResult {
        imported: n,
        codes: areas.iter().map(|a| a.code.to_string()).collect(),
    }))
}
