//! TRIP: processing modes of areas, travel requests, clearance decisions and
//! the reviewers' queue.

use crate::api::areas::check_public;
use crate::api::erp::{certificates_dto, CertificateDto};
use crate::api::{Body, PageOf, Paging};
use crate::api::{Path, Query};
use crate::auth::ApiUser;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;
use crate::trips::{self, LegInput, Reviewers};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use warden_store::{ClearanceQuery, Leg, ProcessingModeChange, QueuedLeg, TravelRequest};

// ---------------------------------------------------------------------------
// processing modes
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModeRequest {
    /// `automatic` (travel notifications, acknowledged at once) or `manual`
    /// (security clearances decided by a security professional).
    pub mode: String,
    /// Why the mode is set (e.g. the SMT decision); required.
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModeChangeDto {
    pub area: String,
    /// automatic or manual
    pub mode: String,
    /// The Designated Official who set it.
    pub set_by: Uuid,
    pub set_by_name: String,
    pub reason: String,
    pub at: DateTime<Utc>,
    /// On a change: how many future legs into the area were re-evaluated
    /// (notifications that became clearance requests, or the reverse).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reevaluated_legs: Option<u64>,
}

impl From<ProcessingModeChange> for ModeChangeDto {
    fn from(c: ProcessingModeChange) -> Self {
        ModeChangeDto {
            area: c.area.to_string(),
            mode: c.mode.as_str().into(),
            set_by: c.set_by,
            set_by_name: c.set_by_name,
            reason: c.reason,
            at: c.at,
            reevaluated_legs: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModeDto {
    pub area: String,
    pub area_name: String,
    /// The current mode (automatic until the DO sets one).
    pub mode: String,
    /// Every change, newest first.
    pub history: Vec<ModeChangeDto>,
}

/// Set how an area processes travel into it (the Designated Official of the area).
#[utoipa::path(put, path = "/api/v1/areas/{code}/processing-mode", tag = "trips", security(("bearer" = [])),
    params(("code" = String, Path, description = "Area code, e.g. AF-KAB")), request_body = ModeRequest,
    responses((status = 200, body = ModeChangeDto), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn set_mode(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Path(code): Path<String>,
    Body(r): Body<ModeRequest>,
) -> ApiResult<Json<ModeChangeDto>> {
    let (latest, reevaluated) = trips::set_mode(&state, &who, &code, &r.mode, &r.reason).await?;
    let mut dto = ModeChangeDto::from(latest);
    dto.reevaluated_legs = Some(reevaluated);
    Ok(Json(dto))
}

/// An area's processing mode and its history.
#[utoipa::path(get, path = "/api/v1/areas/{code}/processing-mode", tag = "trips",
    params(("code" = String, Path, description = "Area code, e.g. AF-KAB")),
    responses((status = 200, body = ModeDto), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_mode(
    State(state): State<AppState>,
    who: Option<ApiUser>,
    Path(code): Path<String>,
) -> ApiResult<Json<ModeDto>> {
    check_public(&state, &who)?;
    let area = trips::load_area(&state, &code).await?;
    let mode = state.store.processing_mode(&area.code).await?;
    let history = state.store.processing_mode_history(&area.code).await?;
    Ok(Json(ModeDto {
        area: area.code.to_string(),
        area_name: area.name,
        mode: mode.as_str().into(),
        history: history.into_iter().map(ModeChangeDto::from).collect(),
    }))
}

// ---------------------------------------------------------------------------
// travel requests
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LegRequest {
    /// Where the leg starts: an area code (AF-KAB), an IATA airport code (KBL) or a city ("Juba, SS").
    pub from: String,
    /// Where the leg goes: an area code, an IATA airport code or a city.
    pub to: String,
    /// RFC 3339 with an offset, or local `YYYY-MM-DDTHH:MM` in the time zone of `from`.
    pub depart: String,
    /// RFC 3339 with an offset, or local `YYYY-MM-DDTHH:MM` in the time zone of `to`.
    pub arrive: String,
    /// Flight number (`ET 308`) or airline designator (`ET`) when the leg is
    /// flown; checked against the approved-airline list.
    #[serde(default)]
    pub flight: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TravelRequestBody {
    /// official, entitlement or personal
    pub purpose: String,
    /// Travel authorisation number from the agency's ERP.
    pub ta_number: Option<String>,
    /// The itinerary, in order (1-50 legs).
    pub legs: Vec<LegRequest>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LegDto {
    /// 1-based position in the itinerary.
    pub seq: i32,
    /// The origin as resolved.
    pub from: String,
    /// The destination as resolved.
    pub to: String,
    /// The SLS area the leg enters.
    pub area: String,
    pub area_name: String,
    pub country: String,
    /// notification (automatic area) or clearance (manual area)
    pub mode: String,
    /// acknowledged, pending, granted, denied, returned, cancelled
    pub status: String,
    /// Security advisers covering the area (display names).
    pub reviewers: Vec<String>,
    pub depart: DateTime<Utc>,
    pub arrive: DateTime<Utc>,
    /// IANA zone the departure was given in, when local.
    pub depart_tz: Option<String>,
    pub arrive_tz: Option<String>,
    pub decided_by: Option<Uuid>,
    pub decided_by_name: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    /// Grounds of a denial.
    pub grounds: Vec<String>,
    /// The reviewer's comment (the question, for a leg returned for more information).
    pub comment: String,
    /// Airline designator of the flight, if given.
    pub airline: Option<String>,
    /// False when the airline is missing from the approved-airline list in
    /// force (shown to traveller and reviewer); absent when no airline or no list.
    pub airline_approved: Option<bool>,
    /// The traveller's answer to a return.
    pub answer: String,
    pub answered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TravelRequestDto {
    pub id: Uuid,
    pub traveller: Uuid,
    pub traveller_name: String,
    pub submitted_by: Uuid,
    /// official, entitlement or personal
    pub purpose: String,
    pub ta_number: Option<String>,
    /// cleared, pending, returned, denied, cancelled (follows from the legs)
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub legs: Vec<LegDto>,
    /// The traveller's security training certificates, for the reviewers
    /// (a missing one is never on its own a ground to deny).
    pub certificates: Vec<CertificateDto>,
    /// Warnings for traveller and reviewer, e.g. `airline_not_approved:2` (leg 2).
    pub flags: Vec<String>,
}

async fn leg_dto(
    state: &AppState,
    rv: &mut Reviewers,
    airlines: &Option<std::sync::Arc<warden_store::AirlineList>>,
    l: Leg,
) -> ApiResult<LegDto> {
    let reviewers = rv.for_area(state, &l.area, &l.country).await?;
    let airline_approved = airlines
        .as_ref()
        .and_then(|list| list.approves(l.carrier.as_ref()));
    Ok(LegDto {
        seq: l.seq,
        from: l.origin,
        to: l.destination,
        area: l.area.to_string(),
        area_name: l.area_name,
        country: l.country.to_string(),
        mode: l.kind.as_str().into(),
        status: l.status.as_str().into(),
        reviewers,
        depart: l.depart,
        arrive: l.arrive,
        depart_tz: l.depart_tz,
        arrive_tz: l.arrive_tz,
        decided_by: l.decided_by,
        decided_by_name: l.decided_by_name,
        decided_at: l.decided_at,
        grounds: l.grounds.iter().map(|g| g.as_str().to_string()).collect(),
        comment: l.comment,
        airline: l.carrier.map(|c| c.to_string()),
        airline_approved,
        answer: l.answer,
        answered_at: l.answered_at,
    })
}

async fn request_dto(state: &AppState, t: TravelRequest) -> ApiResult<TravelRequestDto> {
    let mut rv = Reviewers::default();
    let airlines = state.trip_cache.airlines(state).await?;
    let mut legs = Vec::with_capacity(t.legs.len());
    for l in t.legs {
        legs.push(leg_dto(state, &mut rv, &airlines, l).await?);
    }
    let flags = legs
        .iter()
        .filter(|l| l.airline_approved == Some(false))
        .map(|l| format!("airline_not_approved:{}", l.seq))
        .collect();
    let certificates = state
        .store
        .get_profile(t.traveller)
        .await?
        .map(|p| certificates_dto(&p.certificates))
        .unwrap_or_default();
    Ok(TravelRequestDto {
        id: t.id,
        traveller: t.traveller,
        traveller_name: t.traveller_name,
        submitted_by: t.submitted_by,
        purpose: t.purpose.as_str().into(),
        ta_number: t.ta_number,
        status: t.status.as_str().into(),
        created_at: t.created_at,
        updated_at: t.updated_at,
        legs,
        certificates,
        flags,
    })
}

/// Record a trip (for yourself). Each leg is answered at once: a notification
/// (acknowledged) in an automatic area, a clearance request (pending) in a manual one.
#[utoipa::path(post, path = "/api/v1/travel-requests", tag = "trips", security(("bearer" = [])), request_body = TravelRequestBody,
    responses((status = 201, body = TravelRequestDto), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create_request(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Body(r): Body<TravelRequestBody>,
) -> ApiResult<(StatusCode, Json<TravelRequestDto>)> {
    let legs: Vec<LegInput> = r
        .legs
        .into_iter()
        .map(|l| LegInput {
            from: l.from,
            to: l.to,
            depart: l.depart,
            arrive: l.arrive,
            flight: l.flight,
        })
        .collect();
    let new = trips::build_request(&state, &who, &r.purpose, r.ta_number.as_deref(), &legs).await?;
    let t = state
        .store
        .create_travel_request(&new, &who.audit())
        .await?;
    Ok((StatusCode::CREATED, Json(request_dto(&state, t).await?)))
}

/// One travel request: its traveller, the reviewers of its areas, administrators.
#[utoipa::path(get, path = "/api/v1/travel-requests/{id}", tag = "trips", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = TravelRequestDto), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_request(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<TravelRequestDto>> {
    let t = trips::load_visible(&state, &who, id).await?;
    Ok(Json(request_dto(&state, t).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// grant, deny or return (for more information)
    pub decision: String,
    /// Required to deny or return; shown to the traveller.
    #[serde(default)]
    pub comment: String,
    /// For a denial: security_situation, programme_criticality, capacity,
    /// incomplete_information, missing_training_certificate, other (not that one alone).
    #[serde(default)]
    pub grounds: Vec<String>,
}

/// Decide a clearance request (a security adviser or the DO covering the leg's area).
/// The first decision stands: a leg already decided is a 409.
#[utoipa::path(post, path = "/api/v1/travel-requests/{id}/legs/{n}/decision", tag = "trips", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("n" = i32, Path, description = "Leg number, from 1")), request_body = DecisionRequest,
    responses((status = 200, body = TravelRequestDto), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn decide(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Path((id, n)): Path<(Uuid, i32)>,
    Body(r): Body<DecisionRequest>,
) -> ApiResult<Json<TravelRequestDto>> {
    let t = trips::decide(&state, &who, id, n, &r.decision, &r.comment, &r.grounds).await?;
    Ok(Json(request_dto(&state, t).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    /// The information the reviewer asked for.
    pub answer: String,
}

/// The traveller answers a leg returned for more information; the leg is
/// resubmitted (pending again, or acknowledged if the area is now automatic).
#[utoipa::path(post, path = "/api/v1/travel-requests/{id}/legs/{n}/answer", tag = "trips", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("n" = i32, Path, description = "Leg number, from 1")), request_body = AnswerRequest,
    responses((status = 200, body = TravelRequestDto), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn answer(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Path((id, n)): Path<(Uuid, i32)>,
    Body(r): Body<AnswerRequest>,
) -> ApiResult<Json<TravelRequestDto>> {
    let t = trips::answer(&state, &who, id, n, &r.answer).await?;
    Ok(Json(request_dto(&state, t).await?))
}

// ---------------------------------------------------------------------------
// the reviewers' queue
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
pub struct QueueFilter {
    /// Country (required unless your roles are global).
    pub country: Option<String>,
    /// Only this area.
    pub area: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueuedLegDto {
    pub request: Uuid,
    pub traveller_name: String,
    /// official, entitlement or personal
    pub purpose: String,
    pub submitted_at: DateTime<Utc>,
    pub leg: LegDto,
}

/// Pending clearance requests for the caller to decide (security advisers and
/// Designated Officials), oldest departure first.
#[utoipa::path(get, path = "/api/v1/clearances", tag = "trips", security(("bearer" = [])), params(QueueFilter, Paging),
    responses((status = 200, body = PageOf<QueuedLegDto>), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn queue(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Query(f): Query<QueueFilter>,
    Query(p): Query<Paging>,
) -> ApiResult<Json<PageOf<QueuedLegDto>>> {
    let (country, area) = trips::queue_scope(&who, f.country.as_deref(), f.area.as_deref())?;
    let page = state
        .store
        .clearance_queue(&ClearanceQuery {
            country,
            area,
            page: p.request(),
        })
        .await?;
    let mut rv = Reviewers::default();
    let airlines = state.trip_cache.airlines(&state).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for q in page.items {
        let QueuedLeg {
            request,
            traveller_name,
            purpose,
            leg,
            submitted_at,
        } = q;
        items.push(QueuedLegDto {
            request,
            traveller_name,
            purpose: purpose.as_str().into(),
            submitted_at,
            leg: leg_dto(&state, &mut rv, &airlines, leg).await?,
        });
    }
    Ok(Json(PageOf {
        items,
        total: page.total,
        limit: page.limit,
        offset: page.offset,
    }))
}
