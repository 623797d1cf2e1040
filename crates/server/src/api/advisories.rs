use crate::api::areas::{check_public, parse_code, AreaDto};
use crate::api::Body;
use crate::api::{Path, Query};
use crate::auth::ApiUser;
use crate::error::{ApiError, ApiResult, Problem};
use crate::publishing;
use crate::service;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use warden_domain::assessment::{check_text, NARRATIVE_MAX};
use warden_domain::CountryCode;
use warden_store::{Advisory, AdvisoryAreaUpdate};

#[derive(Debug, Serialize, ToSchema)]
pub struct MeasureDto {
    pub id: Uuid,
    pub code: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub country: Option<String>,
}

impl From<warden_store::Measure> for MeasureDto {
    fn from(m: warden_store::Measure) -> Self {
        MeasureDto {
            id: m.id,
            code: m.code,
            title: m.title,
            description: m.description,
            category: m.category,
            country: m.country.map(|c| c.to_string()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdvisoryAreaDto {
    pub area: AreaDto,
    /// Narrative on the threat.
    pub threat: String,
    /// Narrative on mitigation (relocation, restrictions…).
    pub mitigation: String,
    pub measures: Vec<MeasureDto>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdvisoryDto {
    pub country: String,
    pub country_name: String,
    /// Increases with every change; 0 while nothing has been decided.
    pub version: i64,
    pub updated_at: Option<DateTime<Utc>>,
    /// Highest level in the country.
    pub highest_level: Option<u8>,
    pub areas: Vec<AdvisoryAreaDto>,
    /// Links to the same advisory in other formats.
    pub cap_url: String,
    pub atom_url: String,
}

pub fn advisory_dto(a: Advisory) -> AdvisoryDto {
    let cc = a.country.alpha2.to_string();
    AdvisoryDto {
        cap_url: format!("/api/v1/advisories/{cc}/cap"),
        atom_url: format!("/api/v1/advisories/{cc}/feed.atom"),
        highest_level: a
            .areas
            .iter()
            .filter_map(|e| e.area.level)
            .max()
            .map(|l| l.get()),
        country: cc,
        country_name: a.country.name,
        version: a.version,
        updated_at: a.updated_at,
        areas: a
            .areas
            .into_iter()
            .map(|e| AdvisoryAreaDto {
                area: e.area.into(),
                threat: e.text,
                mitigation: e.mitigation_text,
                measures: e.measures.into_iter().map(MeasureDto::from).collect(),
                updated_at: e.updated_at,
            })
            .collect(),
    }
}

pub async fn load_advisory(state: &AppState, country: &str) -> ApiResult<Advisory> {
    let cc = CountryCode::parse(country)?;
    state
        .store
        .get_advisory(&cc)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("country {cc}")))
}

/// The travel advisory of a country, area by area.
#[utoipa::path(get, path = "/api/v1/advisories/{country}", tag = "advisories", params(("country" = String, Path, description = "ISO 3166-1 alpha-2")),
    responses((status = 200, body = AdvisoryDto), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_advisory(
    State(state): State<AppState>,
    who: Option<ApiUser>,
    Path(country): Path<String>,
) -> ApiResult<Json<AdvisoryDto>> {
    check_public(&state, &who)?;
    Ok(Json(advisory_dto(load_advisory(&state, &country).await?)))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct CapQuery {
    /// A specific change (version) of the advisory; by default the current advisory.
    pub version: Option<i64>,
}

/// The advisory as a CAP 1.2 alert. Without `version`, the current state of the
/// country (one `<info>` per area with a level); with `version`, the alert for that change.
#[utoipa::path(get, path = "/api/v1/advisories/{country}/cap", tag = "advisories", params(("country" = String, Path), CapQuery),
    responses((status = 200, description = "CAP 1.2 alert", content_type = "application/cap+xml"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_advisory_cap(
    State(state): State<AppState>,
    who: Option<ApiUser>,
    Path(country): Path<String>,
    Query(q): Query<CapQuery>,
) -> ApiResult<impl IntoResponse> {
    check_public(&state, &who)?;
    let adv = load_advisory(&state, &country).await?;
    let alert = match q.version {
        None => publishing::advisory_alert(&state, &adv),
        Some(v) => {
            let changes = state
                .store
                .advisory_changes(Some(&adv.country.alpha2), 10_000)
                .await?;
            let ch = changes
                .into_iter()
                .find(|c| c.version == v)
                .ok_or_else(|| ApiError::not_found(format!("version {v} of the advisory")))?;
            let entry = adv
                .areas
                .iter()
                .find(|e| e.area.code == ch.area)
                .ok_or_else(|| ApiError::internal("change of unknown area"))?;
            publishing::change_alert(&state, &ch, &entry.area, &entry.text)
        }
    };
    let xml = warden_publish::to_xml(&alert).map_err(ApiError::internal)?;
    Ok((
        [(header::CONTENT_TYPE, "application/cap+xml; charset=utf-8")],
        xml,
    ))
}

async fn atom(
    state: &AppState,
    cc: Option<CountryCode>,
    title: String,
    path: String,
) -> ApiResult<impl IntoResponse> {
    let changes = state.store.advisory_changes(cc.as_ref(), 100).await?;
    let xml = warden_publish::atom_xml(&publishing::feed(state, title, &path, &changes));
    Ok((
        [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
        xml,
    ))
}

/// Recent changes of a country's advisory (Atom).
#[utoipa::path(get, path = "/api/v1/advisories/{country}/feed.atom", tag = "advisories", params(("country" = String, Path)),
    responses((status = 200, description = "Atom feed", content_type = "application/atom+xml")))]
pub async fn country_feed(
    State(state): State<AppState>,
    who: Option<ApiUser>,
    Path(country): Path<String>,
) -> ApiResult<impl IntoResponse> {
    check_public(&state, &who)?;
    let adv = load_advisory(&state, &country).await?;
    let cc = adv.country.alpha2.clone();
    atom(
        &state,
        Some(cc.clone()),
        format!("Travel advisory: {}", adv.country.name),
        format!("/api/v1/advisories/{cc}/feed.atom"),
    )
    .await
}

/// Recent changes of all advisories (Atom).
#[utoipa::path(get, path = "/api/v1/advisories/feed.atom", tag = "advisories",
    responses((status = 200, description = "Atom feed", content_type = "application/atom+xml")))]
pub async fn global_feed(
    State(state): State<AppState>,
    who: Option<ApiUser>,
) -> ApiResult<impl IntoResponse> {
    check_public(&state, &who)?;
    atom(
        &state,
        None,
        "Travel advisories: all changes".into(),
        "/api/v1/advisories/feed.atom".into(),
    )
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvisoryAreaRequest {
    pub threat: String,
    #[serde(default)]
    pub mitigation: String,
    /// Measure ids from the catalogue.
    #[serde(default)]
    pub measures: Vec<Uuid>,
}

/// Edit the advisory text and measures of an area (its security adviser or Designated Official).
#[utoipa::path(put, path = "/api/v1/advisories/{country}/areas/{code}", tag = "advisories", security(("bearer" = [])),
    params(("country" = String, Path), ("code" = String, Path)), request_body = AdvisoryAreaRequest,
    responses((status = 204), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn update_advisory_area(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Path((country, code)): Path<(String, String)>,
    Body(r): Body<AdvisoryAreaRequest>,
) -> ApiResult<StatusCode> {
    let cc = CountryCode::parse(&country)?;
    let code = parse_code(&code)?;
    if code.country() != cc {
        return Err(ApiError::invalid("code", format!("{code} is not in {cc}")));
    }
    if !service::can_edit_advisory(&who, &code, &cc) {
        return Err(ApiError::forbidden(format!(
            "only the security adviser or Designated Official for {code} may edit its advisory"
        )));
    }
    check_text("threat", &r.threat, false, NARRATIVE_MAX)?;
    check_text("mitigation", &r.mitigation, false, NARRATIVE_MAX)?;
    state
        .store
        .update_advisory_area(
            &AdvisoryAreaUpdate {
                area: code,
                text: r.threat.trim().into(),
                mitigation_text: r.mitigation.trim().into(),
                measures: r.measures,
            },
            &who.audit(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
