use crate::api::{Body, PageOf, Paging};
use crate::api::{Path, Query};
use crate::auth::{ApiUser, Authed};
use crate::error::{ApiError, ApiResult, Problem};
use crate::service::{self, Decision, Proposal};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use warden_domain::role::has_role;
use warden_domain::{AssessmentStatus, CountryCode, Role, Scope};
use warden_store::{Assessment, AssessmentQuery};

#[derive(Debug, Serialize, ToSchema)]
pub struct EventDto {
    pub seq: i64,
    pub action: String,
    pub actor: Uuid,
    pub actor_name: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub reason: String,
    pub smt_consulted: Vec<Uuid>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AssessmentDto {
    pub id: Uuid,
    pub area: String,
    pub area_name: String,
    pub country: String,
    pub author: Uuid,
    pub author_name: String,
    pub proposed_level: u8,
    pub previous_level: Option<u8>,
    /// Rating 1-6 per threat category.
    pub ratings: BTreeMap<String, i64>,
    pub narrative: String,
    pub advisory_text: String,
    pub mitigation_text: String,
    pub measures: Vec<Uuid>,
    /// submitted, returned, validated, approved, rejected, withdrawn, superseded
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The workflow so far (only on single-assessment reads).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventDto>,
}

impl From<Assessment> for AssessmentDto {
    fn from(a: Assessment) -> Self {
        AssessmentDto {
            id: a.id,
            area: a.area.to_string(),
            area_name: a.area_name,
            country: a.country.to_string(),
            author: a.author,
            author_name: a.author_name,
            proposed_level: a.proposed_level.get(),
            previous_level: a.previous_level.map(|l| l.get()),
            ratings: a.ratings,
            narrative: a.narrative,
            advisory_text: a.advisory_text,
            mitigation_text: a.mitigation_text,
            measures: a.measures,
            status: a.status.as_str().into(),
            created_at: a.created_at,
            updated_at: a.updated_at,
            events: vec![],
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AssessmentFilter {
    /// Country (required unless your roles are global).
    pub country: Option<String>,
    pub area: Option<String>,
    /// Comma-separated statuses, e.g. `submitted,validated`.
    pub status: Option<String>,
}

/// The country filter a caller must use: their roles decide what they see.
pub fn visible_country(
    who: &Authed,
    requested: Option<CountryCode>,
) -> ApiResult<Option<CountryCode>> {
    let global = who.user.grants.iter().any(|g| {
        g.scope == Scope::Global
            && matches!(
                g.role,
                Role::SecurityAdviser
                    | Role::RegionalDesk
                    | Role::DesignatedOfficial
                    | Role::SmtMember
                    | Role::Administrator
            )
    });
    match requested {
        Some(cc) if global || service::can_see_assessments(who, &cc) => Ok(Some(cc)),
        Some(cc) => Err(ApiError::forbidden(format!(
            "your roles do not cover assessments in {cc}"
        ))),
        None if global => Ok(None),
        None => Err(ApiError::invalid(
            "country",
            "give the country whose assessments you want (your roles are not global)",
        )),
    }
}

/// Threat assessments visible to the caller.
#[utoipa::path(get, path = "/api/v1/assessments", tag = "assessments", security(("bearer" = [])), params(AssessmentFilter, Paging),
    responses((status = 200, body = PageOf<AssessmentDto>), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Query(f): Query<AssessmentFilter>,
    Query(p): Query<Paging>,
) -> ApiResult<Json<PageOf<AssessmentDto>>> {
    let country = visible_country(
        &who,
        f.country.as_deref().map(CountryCode::parse).transpose()?,
    )?;
    let mut statuses = vec![];
    for s in f
        .status
        .iter()
        .flat_map(|s| s.split(','))
        .filter(|s| !s.is_empty())
    {
        statuses.push(
            AssessmentStatus::parse(s.trim())
                .ok_or_else(|| ApiError::invalid("status", format!("unknown status `{s}`")))?,
        );
    }
    let area = f
        .area
        .as_deref()
        .map(crate::api::areas::parse_code)
        .transpose()?;
    if let (Some(a), Some(c)) = (&area, &country) {
        if &a.country() != c {
            return Err(ApiError::invalid("area", format!("{a} is not in {c}")));
        }
    }
    let q = AssessmentQuery {
        area,
        country,
        statuses,
        page: p.request(),
    };
    Ok(Json(PageOf::map(
        state.store.list_assessments(&q).await?,
        AssessmentDto::from,
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssessmentRequest {
    /// Area code, e.g. AF-KAB.
    pub area: String,
    /// Proposed security level 1-6.
    pub level: i64,
    /// Rating 1-6 for each of armed_conflict, terrorism, crime, civil_unrest, hazards.
    pub ratings: BTreeMap<String, i64>,
    /// The threat assessment.
    pub narrative: String,
    /// Text for the travel advisory once approved.
    #[serde(default)]
    pub advisory_text: String,
    #[serde(default)]
    pub mitigation_text: String,
    /// Measure ids from the catalogue.
    #[serde(default)]
    pub measures: Vec<Uuid>,
}

impl From<AssessmentRequest> for Proposal {
    fn from(r: AssessmentRequest) -> Self {
        Proposal {
            area: r.area,
            level: r.level,
            ratings: r.ratings,
            narrative: r.narrative,
            advisory_text: r.advisory_text,
            measures: r.measures,
            mitigation_text: r.mitigation_text,
        }
    }
}

/// Submit a threat assessment with a proposed level (security advisers of the area).
#[utoipa::path(post, path = "/api/v1/assessments", tag = "assessments", security(("bearer" = [])), request_body = AssessmentRequest,
    responses((status = 201, body = AssessmentDto), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Body(r): Body<AssessmentRequest>,
) -> ApiResult<(StatusCode, Json<AssessmentDto>)> {
    let a = service::submit_assessment(&state, &who, &r.into()).await?;
    Ok((StatusCode::CREATED, Json(a.into())))
}

pub async fn load_visible(
    state: &AppState,
    who: &Authed,
    id: Uuid,
) -> ApiResult<warden_store::AssessmentDetail> {
    let d = state
        .store
        .get_assessment(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("assessment {id}")))?;
    if !service::can_see_assessments(who, &d.assessment.country)
        && !has_role(&who.user.grants, Role::Administrator)
    {
        // Do not reveal that it exists.
        return Err(ApiError::not_found(format!("assessment {id}")));
    }
    Ok(d)
}

/// One assessment with its workflow history.
#[utoipa::path(get, path = "/api/v1/assessments/{id}", tag = "assessments", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = AssessmentDto), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_one(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<AssessmentDto>> {
    let d = load_visible(&state, &who, id).await?;
    let mut dto = AssessmentDto::from(d.assessment);
    dto.events = d
        .events
        .into_iter()
        .map(|e| EventDto {
            seq: e.seq,
            action: e.action,
            actor: e.actor,
            actor_name: e.actor_name,
            from_status: e.from_status.map(|s| s.as_str().into()),
            to_status: e.to_status.as_str().into(),
            reason: e.reason,
            smt_consulted: e.smt_consulted,
            at: e.at,
        })
        .collect();
    Ok(Json(dto))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    /// validate, send_back (regional desk); approve, reject (Designated Official); resubmit, withdraw (author).
    pub action: String,
    /// Why; required to send back, reject or withdraw.
    #[serde(default)]
    pub reason: String,
    /// For approvals: the SMT members consulted (user ids).
    #[serde(default)]
    pub smt_consulted: Vec<Uuid>,
    /// For resubmissions: the revised proposal (its `area` is ignored).
    pub revision: Option<AssessmentRequest>,
}

/// Act on an assessment. Approval sets the area's level and updates the travel advisory at once.
#[utoipa::path(post, path = "/api/v1/assessments/{id}/actions", tag = "assessments", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = ActionRequest,
    responses((status = 200, body = AssessmentDto), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn act(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Path(id): Path<Uuid>,
    Body(r): Body<ActionRequest>,
) -> ApiResult<Json<AssessmentDto>> {
    load_visible(&state, &who, id).await?;
    let d = Decision {
        action: r.action,
        reason: r.reason,
        smt_consulted: r.smt_consulted,
        revision: r.revision.map(Proposal::from),
    };
    Ok(Json(
        service::act_on_assessment(&state, &who, id, &d)
            .await?
            .into(),
    ))
}
