//! The approved-airline list, published monthly by the security department.

use crate::api::{Body, Path};
use crate::auth::ApiUser;
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use utoipa::ToSchema;
use warden_domain::people::{parse_list_month, AirlineCode};
use warden_domain::role::has_role;
use warden_domain::{Role, Scope};
use warden_store::ApprovedAirline;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AirlineDto {
    /// IATA designator, e.g. ET
    pub code: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AirlineListDto {
    /// YYYY-MM
    pub month: String,
    pub published_by: String,
    pub published_at: DateTime<Utc>,
    pub note: String,
    pub airlines: Vec<AirlineDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AirlineMonthDto {
    pub month: String,
    pub published_by: String,
    pub published_at: DateTime<Utc>,
    pub count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AirlinesDto {
    /// The list in force (the latest published for this month or before), if any.
    pub current: Option<AirlineListDto>,
    /// Every published month, newest first.
    pub history: Vec<AirlineMonthDto>,
}

fn list_dto(l: warden_store::AirlineList) -> AirlineListDto {
    AirlineListDto {
        month: l.month.format("%Y-%m").to_string(),
        published_by: l.published_by_name,
        published_at: l.published_at,
        note: l.note,
        airlines: l
            .airlines
            .into_iter()
            .map(|a| AirlineDto {
                code: a.code.to_string(),
                name: a.name,
            })
            .collect(),
    }
}

/// The approved-airline list in force and the history of published months.
#[utoipa::path(get, path = "/api/v1/airlines", tag = "trips", security(("bearer" = [])),
    responses((status = 200, body = AirlinesDto)))]
pub async fn current(
    State(state): State<AppState>,
    ApiUser(_who): ApiUser,
) -> ApiResult<Json<AirlinesDto>> {
    let current = state.store.airline_list(None).await?.map(list_dto);
    let history = state
        .store
        .airline_lists()
        .await?
        .into_iter()
        .map(|m| AirlineMonthDto {
            month: m.month.format("%Y-%m").to_string(),
            published_by: m.published_by_name,
            published_at: m.published_at,
            count: m.count,
        })
        .collect();
    Ok(Json(AirlinesDto { current, history }))
}

/// The list published for a month.
#[utoipa::path(get, path = "/api/v1/airlines/{month}", tag = "trips", security(("bearer" = [])),
    params(("month" = String, Path, description = "YYYY-MM")),
    responses((status = 200, body = AirlineListDto), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn month(
    State(state): State<AppState>,
    ApiUser(_who): ApiUser,
    Path(month): Path<String>,
) -> ApiResult<Json<AirlineListDto>> {
    let m = parse_list_month(&month)?;
    let l = state
        .store
        .airline_list(Some(m))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("airline list for {month}")))?;
    Ok(Json(list_dto(l)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    pub airlines: Vec<AirlineDto>,
    #[serde(default)]
    pub note: String,
}

/// Publish the list for a month (administrators and the global security desk);
/// publishing a month again replaces its list. Each publication is audited.
#[utoipa::path(put, path = "/api/v1/airlines/{month}", tag = "trips", security(("bearer" = [])),
    params(("month" = String, Path, description = "YYYY-MM")), request_body = PublishRequest,
    responses((status = 200, body = AirlineListDto), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn publish(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Path(month): Path<String>,
    Body(r): Body<PublishRequest>,
) -> ApiResult<Json<AirlineListDto>> {
    let desk = who
        .user
        .grants
        .iter()
        .any(|g| g.role == Role::RegionalDesk && g.scope == Scope::Global);
    if !(desk || has_role(&who.user.grants, Role::Administrator)) {
        return Err(ApiError::forbidden(
            "the approved-airline list is published by the security department",
        ));
    }
    let m = parse_list_month(&month)?;
    if r.airlines.len() > 5000 {
        return Err(ApiError::invalid("airlines", "at most 5000 airlines"));
    }
    let mut seen = BTreeSet::new();
    let mut airlines = Vec::with_capacity(r.airlines.len());
    for (i, a) in r.airlines.iter().enumerate() {
        let code = AirlineCode::parse(&a.code)
            .map_err(|e| ApiError::invalid(format!("airlines[{i}].code"), e.message()))?;
        let name = a.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(ApiError::invalid(
                format!("airlines[{i}].name"),
                "give the airline's name (at most 200 characters)",
            ));
        }
        if !seen.insert(code.clone()) {
            return Err(ApiError::invalid(
                format!("airlines[{i}].code"),
                format!("{code} is listed twice"),
            ));
        }
        airlines.push(ApprovedAirline {
            code,
            name: name.to_string(),
        });
    }
    if r.note.chars().count() > 2000 {
        return Err(ApiError::invalid("note", "at most 2000 characters"));
    }
    let l = state
        .store
        .publish_airline_list(m, &airlines, r.note.trim(), &who.audit())
        .await?;
    state.trip_cache.forget_airlines();
    Ok(Json(list_dto(l)))
}
