//! TRIP: processing modes of areas, travel requests, clearance decisions and
//! the reviewers' queue.

use crate::api::areas::{check_public, parse_code};
use crate::api::{Body, PageOf, Paging};
use crate::api::{Path, Query};
use crate::auth::{ApiUser, Authed};
use crate::error::{ApiError, ApiResult, Problem};
use crate::service;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use warden_domain::role::{has_role_for_area, has_role_for_country};
use warden_domain::trip::{
    check_decision, check_itinerary, ClearanceDecision, DenialGround, LegTimes, ProcessingMode,
    TripPurpose,
};
use warden_domain::{AreaCode, CountryCode, Role, Scope};
use warden_store::{
    ClearanceQuery, Leg, LegDecision, NewLeg, NewTravelRequest, ProcessingModeChange, QueuedLeg,
    TravelRequest,
};

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

async fn load_area(state: &AppState, code: &str) -> ApiResult<warden_store::Area> {
    let code = parse_code(code)?;
    state
        .store
        .get_area(&code)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("area {code}")))
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
    let area = load_area(&state, &code).await?;
    if !has_role_for_area(
        &who.user.grants,
        Role::DesignatedOfficial,
        &area.code,
        &area.country,
    ) {
        return Err(ApiError::forbidden(format!(
            "only the Designated Official for {} sets its processing mode",
            area.code
        )));
    }
    let mode = ProcessingMode::parse(&r.mode)?;
    let reason = r.reason.trim();
    if reason.is_empty() {
        return Err(ApiError::invalid(
            "reason",
            "say why the mode is set (e.g. the SMT decision)",
        ));
    }
    if reason.chars().count() > 2000 {
        return Err(ApiError::invalid("reason", "at most 2000 characters"));
    }
    let reevaluated = state
        .store
        .set_processing_mode(&area.code, mode, who.user.id, reason, &who.audit())
        .await?;
    let latest = state
        .store
        .processing_mode_history(&area.code)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::internal("processing mode set but no history recorded"))?;
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
    let area = load_area(&state, &code).await?;
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
    pub comment: String,
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
}

/// Security advisers per country, fetched once per response.
#[derive(Default)]
struct Reviewers(HashMap<CountryCode, Vec<warden_store::User>>);

impl Reviewers {
    async fn for_area(
        &mut self,
        state: &AppState,
        area: &AreaCode,
        country: &CountryCode,
    ) -> ApiResult<Vec<String>> {
        if !self.0.contains_key(country) {
            let users = state
                .store
                .users_with_role(Role::SecurityAdviser, country)
                .await?;
            self.0.insert(country.clone(), users);
        }
        Ok(self.0[country]
            .iter()
            .filter(|u| !u.disabled)
            .filter(|u| has_role_for_area(&u.grants, Role::SecurityAdviser, area, country))
            .map(|u| u.display_name.clone())
            .collect())
    }
}

async fn leg_dto(state: &AppState, rv: &mut Reviewers, l: Leg) -> ApiResult<LegDto> {
    let reviewers = rv.for_area(state, &l.area, &l.country).await?;
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
    })
}

async fn request_dto(state: &AppState, t: TravelRequest) -> ApiResult<TravelRequestDto> {
    let mut rv = Reviewers::default();
    let mut legs = Vec::with_capacity(t.legs.len());
    for l in t.legs {
        legs.push(leg_dto(state, &mut rv, l).await?);
    }
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
    })
}

/// A place of an itinerary, resolved.
struct Place {
    label: String,
    /// The SLS area it lies in, if any.
    area: Option<AreaCode>,
    /// Its IANA zone (none for an area code).
    tz: Option<chrono_tz::Tz>,
}

async fn resolve(state: &AppState, text: &str, field: &str) -> ApiResult<Place> {
    let t = text.trim();
    if t.is_empty() {
        return Err(ApiError::invalid(
            field,
            "give an area code (AF-KAB), an airport code (KBL) or a city (\"Juba, SS\")",
        ));
    }
    let as_code = AreaCode::parse(t).ok();
    if let Some(code) = &as_code {
        if let Some(a) = state.store.get_area(code).await? {
            return Ok(Place {
                label: format!("{} ({})", a.name, a.code),
                area: Some(a.code),
                tz: None,
            });
        }
    }
    let m = match warden_geo::resolve_place(t) {
        Ok(m) => m,
        Err(warden_geo::PlaceError::Ambiguous { candidates, .. }) => {
            return Err(ApiError::invalid(
                field,
                format!(
                    "{t:?} is ambiguous; did you mean one of: {}? Add a country code (\"{t}, CC\") or use an airport code",
                    candidates.join("; ")
                ),
            ))
        }
        Err(_) if as_code.is_some() => {
            return Err(ApiError::invalid(
                field,
                format!("there is no area {t} (nor an airport or city of that name)"),
            ))
        }
        Err(e) => return Err(ApiError::invalid(field, e.to_string())),
    };
    let (lon, lat) = m.lon_lat();
    let area = state
        .geo()
        .index
        .lookup(lon, lat)
        .and_then(|c| AreaCode::parse(c).ok());
    let tz = m.tz().parse::<chrono_tz::Tz>().ok();
    Ok(Place {
        label: m.label(),
        area,
        tz,
    })
}

/// RFC 3339 with an offset, or a local time in the place's zone.
fn parse_time(
    text: &str,
    place: &Place,
    place_text: &str,
    field: &str,
) -> ApiResult<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d.with_timezone(&Utc));
    }
    let local = NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S"))
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M"))
        .map_err(|_| {
            ApiError::invalid(
                field,
                format!("`{t}` is not a time: give RFC 3339 (2026-12-01T08:30:00+04:30) or local YYYY-MM-DDTHH:MM"),
            )
        })?;
    let Some(tz) = place.tz else {
        return Err(ApiError::invalid(
            field,
            format!(
                "`{t}` has no UTC offset and {} is an area, whose local time zone is not known: add the offset (e.g. {t}+04:30), or give an airport or city",
                place_text.trim()
            ),
        ));
    };
    match tz.from_local_datetime(&local) {
        chrono::LocalResult::Single(d) => Ok(d.with_timezone(&Utc)),
        // A clock set back: the earlier of the two instants.
        chrono::LocalResult::Ambiguous(a, _) => Ok(a.with_timezone(&Utc)),
        chrono::LocalResult::None => Err(ApiError::invalid(
            field,
            format!("`{t}` does not exist in {tz} (the clocks skip it): give an offset"),
        )),
    }
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
    let purpose = TripPurpose::parse(&r.purpose)?;
    let ta_number = r
        .ta_number
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    if ta_number.as_ref().is_some_and(|s| s.chars().count() > 64) {
        return Err(ApiError::invalid("ta_number", "at most 64 characters"));
    }
    if r.legs.is_empty() {
        return Err(ApiError::invalid("legs", "a trip needs at least one leg"));
    }
    if r.legs.len() > 50 {
        return Err(ApiError::invalid("legs", "a trip has at most 50 legs"));
    }
    let mut legs = Vec::with_capacity(r.legs.len());
    let mut times = Vec::with_capacity(r.legs.len());
    for (i, l) in r.legs.iter().enumerate() {
        let from = resolve(&state, &l.from, &format!("legs[{i}].from")).await?;
        let to = resolve(&state, &l.to, &format!("legs[{i}].to")).await?;
        let Some(area) = to.area.clone() else {
            return Err(ApiError::invalid(
                format!("legs[{i}].to"),
                format!("{} lies outside every SLS area this Warden knows", to.label),
            ));
        };
        let depart = parse_time(&l.depart, &from, &l.from, &format!("legs[{i}].depart"))?;
        let arrive = parse_time(&l.arrive, &to, &l.to, &format!("legs[{i}].arrive"))?;
        times.push(LegTimes {
            area: area.clone(),
            depart,
            arrive,
        });
        legs.push(NewLeg {
            origin: from.label,
            destination: to.label,
            area,
            depart,
            arrive,
            depart_tz: from.tz.map(|z| z.name().to_string()),
            arrive_tz: to.tz.map(|z| z.name().to_string()),
        });
    }
    check_itinerary(&times)?;
    let t = state
        .store
        .create_travel_request(
            &NewTravelRequest {
                traveller: who.user.id,
                submitted_by: who.user.id,
                purpose,
                ta_number,
                legs,
            },
            &who.audit(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(request_dto(&state, t).await?)))
}

fn reviews_area(who: &Authed, area: &AreaCode, country: &CountryCode) -> bool {
    has_role_for_area(&who.user.grants, Role::SecurityAdviser, area, country)
        || has_role_for_area(&who.user.grants, Role::DesignatedOfficial, area, country)
}

async fn load_visible(state: &AppState, who: &Authed, id: Uuid) -> ApiResult<TravelRequest> {
    let t = state
        .store
        .get_travel_request(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("travel request {id}")))?;
    let visible = t.traveller == who.user.id
        || t.submitted_by == who.user.id
        || service::is_admin(who)
        || t.legs
            .iter()
            .any(|l| reviews_area(who, &l.area, &l.country));
    if !visible {
        // Do not reveal that it exists.
        return Err(ApiError::not_found(format!("travel request {id}")));
    }
    Ok(t)
}

/// One travel request: its traveller, the reviewers of its areas, administrators.
#[utoipa::path(get, path = "/api/v1/travel-requests/{id}", tag = "trips", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = TravelRequestDto), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_request(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<TravelRequestDto>> {
    let t = load_visible(&state, &who, id).await?;
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
    let t = state
        .store
        .get_travel_request(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("travel request {id}")))?;
    let leg = t
        .legs
        .iter()
        .find(|l| l.seq == n)
        .ok_or_else(|| ApiError::not_found(format!("leg {n} of travel request {id}")))?;
    if !reviews_area(&who, &leg.area, &leg.country) {
        return Err(ApiError::forbidden(format!(
            "only a security adviser or the Designated Official covering {} decides this leg",
            leg.area
        )));
    }
    if t.traveller == who.user.id {
        return Err(ApiError::forbidden(
            "you cannot decide a clearance for your own travel",
        ));
    }
    let decision = ClearanceDecision::parse(&r.decision)?;
    let mut grounds = Vec::with_capacity(r.grounds.len());
    for (i, g) in r.grounds.iter().enumerate() {
        grounds.push(DenialGround::parse(g).ok_or_else(|| {
            ApiError::invalid(
                format!("grounds[{i}]"),
                format!(
                    "`{g}` is not a ground; expected one of {}",
                    DenialGround::ALL.map(|g| g.as_str()).join(", ")
                ),
            )
        })?);
    }
    grounds.dedup();
    let comment = r.comment.trim().to_string();
    if comment.chars().count() > 4000 {
        return Err(ApiError::invalid("comment", "at most 4000 characters"));
    }
    let to = check_decision(leg.status, decision, &grounds, &comment)?;
    if decision != ClearanceDecision::Deny && !grounds.is_empty() {
        return Err(ApiError::invalid(
            "grounds",
            "grounds are given only with a denial",
        ));
    }
    let t = state
        .store
        .decide_leg(
            &LegDecision {
                request: id,
                seq: n,
                decision,
                grounds,
                comment,
                actor: who.user.id,
            },
            to,
            &who.audit(),
        )
        .await?;
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

const REVIEWERS: [Role; 2] = [Role::SecurityAdviser, Role::DesignatedOfficial];

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
    let grants: Vec<_> = who
        .user
        .grants
        .iter()
        .filter(|g| REVIEWERS.contains(&g.role))
        .collect();
    let global = grants.iter().any(|g| g.scope == Scope::Global);
    let country = f
        .country
        .as_deref()
        .map(|c| {
            CountryCode::parse(c).map_err(|e| {
                ApiError::invalid(
                    "country",
                    e.to_string().trim_start_matches("country: ").to_string(),
                )
            })
        })
        .transpose()?;
    let mut area = f.area.as_deref().map(parse_code).transpose()?;
    match (&country, &area) {
        (Some(c), Some(a)) if &a.country() != c => {
            return Err(ApiError::invalid("area", format!("{a} is not in {c}")))
        }
        (None, None) if !global => {
            return Err(ApiError::invalid(
                "country",
                "give the country whose clearance requests you review",
            ))
        }
        _ => {}
    }
    let country = country.or_else(|| area.as_ref().map(|a| a.country()));
    if let Some(cc) = &country {
        if !REVIEWERS
            .iter()
            .any(|r| has_role_for_country(&who.user.grants, *r, cc))
        {
            return Err(ApiError::forbidden(format!(
                "you are not a security adviser or Designated Official in {cc}"
            )));
        }
        let whole_country = grants.iter().any(|g| {
            matches!(&g.scope, Scope::Global) || matches!(&g.scope, Scope::Country(c) if c == cc)
        });
        if !whole_country {
            // Roles limited to some areas of the country.
            let mine: Vec<AreaCode> = grants
                .iter()
                .filter_map(|g| match &g.scope {
                    Scope::Area(a) if &a.country() == cc => Some(a.clone()),
                    _ => None,
                })
                .collect();
            match &area {
                Some(a) if !mine.contains(a) => {
                    return Err(ApiError::forbidden(format!("your roles do not cover {a}")))
                }
                Some(_) => {}
                None if mine.len() == 1 => area = Some(mine[0].clone()),
                None => {
                    return Err(ApiError::invalid(
                        "area",
                        "your roles cover only some areas of this country: give the area",
                    ))
                }
            }
        }
    }
    let page = state
        .store
        .clearance_queue(&ClearanceQuery {
            country,
            area,
            page: p.request(),
        })
        .await?;
    let mut rv = Reviewers::default();
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
            leg: leg_dto(&state, &mut rv, leg).await?,
        });
    }
    Ok(Json(PageOf {
        items,
        total: page.total,
        limit: page.limit,
        offset: page.offset,
    }))
}
