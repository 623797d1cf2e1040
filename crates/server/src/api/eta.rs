//! eTA: devices, location reports (our own batch format and the OwnTracks
//! HTTP mode), tracking authorisations and their oversight, precise positions
//! for authorised roles, freezes, the person's own data, geo-alerts (JSON and
//! CAP 1.2) and "I am safe / I need help".

use crate::api::{Body, PageOf, Paging, Path, Query};
use crate::auth::{ApiUser, Authed};
use crate::error::{ApiError, ApiResult, Code, Problem};
use crate::eta::{self as service, DeviceCaller};
use crate::state::AppState;
use crate::trips::load_area;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use warden_domain::eta::{self, AlertSeverity, FreezeRequest, LocationReport, Wellbeing};
use warden_domain::Role;
use warden_store::{
    Device, Freeze, FreezeQuery, GeoAlert, NewFreeze, NewGeoAlert, NewWellbeing, Position,
    TrackingAuthorisation, TrackingQuery, WellbeingReport,
};

fn now() -> DateTime<Utc> {
    warden_store::now_micros()
}

// ---------------------------------------------------------------------------
// devices
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    /// A name the person recognises, e.g. "Work phone".
    pub name: String,
    /// `web` (our mobile web app) or `owntracks`.
    #[serde(default = "default_platform")]
    pub platform: String,
    /// The current TOTP code: a device is enrolled only after two-factor
    /// authentication.
    pub totp: String,
}

fn default_platform() -> String {
    "web".into()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceDto {
    pub id: Uuid,
    pub name: String,
    pub platform: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The most recently used device of the person: alerts go to it.
    pub active: bool,
}

fn devices_dto(list: Vec<Device>) -> Vec<DeviceDto> {
    list.into_iter()
        .enumerate()
        .map(|(i, d)| DeviceDto {
            active: i == 0 && d.revoked_at.is_none() && d.last_seen_at.is_some(),
            id: d.id,
            name: d.name,
            platform: d.platform,
            created_at: d.created_at,
            last_seen_at: d.last_seen_at,
            revoked_at: d.revoked_at,
        })
        .collect()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OwnTracksSettings {
    /// Mode: HTTP. URL to enter in the app.
    pub url: String,
    /// Identification → Username.
    pub username: String,
    /// Identification → Password (the device token).
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnrolledDto {
    pub device: DeviceDto,
    /// The device token, shown once: send it as `Authorization: Bearer <token>`.
    pub token: String,
    pub owntracks: OwnTracksSettings,
}

/// Enrol a phone (after TOTP). Several devices are allowed; the most recently
/// used one is the active device.
#[utoipa::path(post, path = "/api/v1/devices", tag = "eta", security(("bearer" = [])), request_body = EnrolRequest,
    responses((status = 201, body = EnrolledDto), (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn enrol(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Body(r): Body<EnrolRequest>,
) -> ApiResult<(StatusCode, Json<EnrolledDto>)> {
    let (d, token) = service::enrol_device(&state, &who, &r.name, &r.platform, &r.totp).await?;
    Ok((
        StatusCode::CREATED,
        Json(EnrolledDto {
            device: devices_dto(vec![d]).remove(0),
            owntracks: OwnTracksSettings {
                url: service::owntracks_url(&state),
                username: who.user.username.clone(),
                password: token.clone(),
            },
            token,
        }),
    ))
}

/// My devices, the active one first.
#[utoipa::path(get, path = "/api/v1/devices", tag = "eta", security(("bearer" = [])),
    responses((status = 200, body = Vec<DeviceDto>), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn list_devices(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
) -> ApiResult<Json<Vec<DeviceDto>>> {
    Ok(Json(devices_dto(
        state.store.list_devices(who.user.id).await?,
    )))
}

/// Revoke one of my devices: its token stops working at once.
#[utoipa::path(delete, path = "/api/v1/devices/{id}", tag = "eta", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn revoke_device(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    state
        .store
        .revoke_device(who.user.id, id, &who.audit())
        .await?;
    state.devices.forget_device(id);
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------
// location reports
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportIn {
    pub lat: f64,
    pub lon: f64,
    /// Accuracy in metres.
    #[serde(default)]
    pub acc: Option<f64>,
    /// When the device recorded it, UNIX seconds (as OwnTracks' `tst`).
    pub tst: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationBatchIn {
    /// Up to 1,000 reports of this device.
    pub reports: Vec<ReportIn>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AreaAdvisoryDto {
    pub code: String,
    pub name: String,
    pub level: Option<u8>,
    pub advisory: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IngestDto {
    pub accepted: u32,
    /// Precise positions kept (only under a tracking authorisation).
    pub positions_kept: u32,
    /// The area the device is in now, with its advisory (null: outside every area).
    pub area: Option<AreaAdvisoryDto>,
    /// True when this batch brought the person into a new area.
    pub entered: bool,
}

fn tst(t: i64, field: &str) -> ApiResult<DateTime<Utc>> {
    Utc.timestamp_opt(t, 0)
        .single()
        .filter(|d| d.timestamp() > 946_684_800)
        .ok_or_else(|| ApiError::invalid(field, format!("not a UNIX time in seconds: {t}")))
}

async fn area_advisory(
    state: &AppState,
    code: &warden_domain::AreaCode,
) -> ApiResult<AreaAdvisoryDto> {
    let (area, entry) = service::area_with_advisory(state, code).await?;
    Ok(AreaAdvisoryDto {
        code: area.code.to_string(),
        name: area.name,
        level: area.level.map(|l| l.get()),
        advisory: entry.map(|e| e.text).unwrap_or_default(),
    })
}

/// Send location reports of this device (our mobile web app). Each is
/// resolved to its area; only the area is kept unless tracking is authorised
/// for that area and time. Nothing is acknowledged before it is durable.
#[utoipa::path(post, path = "/api/v1/locations", tag = "eta", security(("device" = [])), request_body = LocationBatchIn,
    responses((status = 200, body = IngestDto), (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn post_locations(
    State(state): State<AppState>,
    caller: DeviceCaller,
    Body(b): Body<LocationBatchIn>,
) -> ApiResult<Json<IngestDto>> {
    let mut reports = Vec::with_capacity(b.reports.len());
    for (i, r) in b.reports.iter().enumerate() {
        reports.push(LocationReport {
            lat: r.lat,
            lon: r.lon,
            accuracy_m: r.acc,
            recorded_at: tst(r.tst, &format!("reports[{i}].tst"))?,
        });
    }
    ingest(&state, &caller, &reports, "reports").await.map(Json)
}

async fn ingest(
    state: &AppState,
    caller: &DeviceCaller,
    reports: &[LocationReport],
    field: &str,
) -> ApiResult<IngestDto> {
    let batch = service::resolve_batch(state, caller, reports, field, now())?;
    let out = state
        .store
        .ingest_locations(&batch)
        .await
        .map_err(|e| match e {
            warden_store::StoreError::Conflict(m) => ApiError::new(Code::Unauthenticated, m),
            other => other.into(),
        })?;
    state.metrics.locations(out.accepted as u64);
    let area = match &out.entered {
        // Someone who just arrived gets the advisory in the answer too.
        Some(code) => Some(area_advisory(state, code).await?),
        None => out.area.as_ref().map(|c| AreaAdvisoryDto {
            code: c.to_string(),
            name: String::new(),
            level: None,
            advisory: String::new(),
        }),
    };
    Ok(IngestDto {
        accepted: out.accepted,
        positions_kept: out.positions_kept,
        area,
        entered: out.entered.is_some(),
    })
}

/// One OwnTracks message (`_type` location; other types are accepted and ignored).
#[derive(Debug, Deserialize)]
struct OwnTracksMessage {
    #[serde(rename = "_type")]
    kind: String,
    lat: Option<f64>,
    lon: Option<f64>,
    tst: Option<i64>,
    acc: Option<f64>,
}

/// OwnTracks HTTP mode: the OwnTracks app posts its JSON messages here
/// (HTTP Basic: user name and device token). Location messages are taken as
/// one report each; other message types are acknowledged and ignored. The
/// answer is a JSON array, as the app expects.
#[utoipa::path(post, path = "/api/v1/owntracks", tag = "eta", security(("device" = [])),
    request_body(content = String, description = "An OwnTracks JSON message, e.g. {\"_type\":\"location\",\"lat\":34.53,\"lon\":69.17,\"tst\":1764518400,\"acc\":12,\"tid\":\"AB\"}", content_type = "application/json"),
    responses((status = 200, description = "A JSON array (empty)", content_type = "application/json"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn owntracks(
    State(state): State<AppState>,
    caller: DeviceCaller,
    body: Bytes,
) -> ApiResult<Json<Vec<serde_json::Value>>> {
    // A zero-length payload (a friend deleted in the app) is to be ignored.
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Json(vec![]));
    }
    let value: serde_json::Value = crate::api::parse_json(&body)?;
    let messages: Vec<serde_json::Value> = match value {
        serde_json::Value::Array(a) => a,
        other => vec![other],
    };
    let mut reports = vec![];
    for (i, m) in messages.into_iter().enumerate() {
        let field = if i == 0 {
            String::new()
        } else {
            format!("[{i}].")
        };
        let m: OwnTracksMessage = serde_json::from_value(m)
            .map_err(|e| ApiError::invalid(format!("{field}_type"), e.to_string()))?;
        if m.kind != "location" {
            continue;
        }
        let (Some(lat), Some(lon), Some(t)) = (m.lat, m.lon, m.tst) else {
            return Err(ApiError::invalid(
                format!("{field}lat"),
                "a location message needs lat, lon and tst",
            ));
        };
        reports.push(LocationReport {
            lat,
            lon,
            accuracy_m: m.acc,
            recorded_at: tst(t, &format!("{field}tst"))?,
        });
    }
    if !reports.is_empty() {
        ingest(&state, &caller, &reports, "location").await?;
    }
    Ok(Json(vec![]))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyLocationDto {
    /// The area my phone last reported, with its advisory.
    pub area: Option<AreaAdvisoryDto>,
    pub since: Option<DateTime<Utc>>,
    pub reported_at: Option<DateTime<Utc>>,
    /// False when the last report is older than the service's freshness limit.
    pub fresh: bool,
}

/// Where my phone last put me (the area only) and its advisory.
#[utoipa::path(get, path = "/api/v1/me/location", tag = "eta", security(("bearer" = [])),
    responses((status = 200, body = MyLocationDto), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn my_location(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
) -> ApiResult<Json<MyLocationDto>> {
    let last = state.store.last_location(who.user.id).await?;
    let Some(last) = last else {
        return Ok(Json(MyLocationDto {
            area: None,
            since: None,
            reported_at: None,
            fresh: false,
        }));
    };
    let area = match &last.area {
        Some(c) => Some(area_advisory(&state, c).await?),
        None => None,
    };
    Ok(Json(MyLocationDto {
        area,
        since: Some(last.since),
        reported_at: Some(last.reported_at),
        fresh: now() - last.reported_at < Duration::hours(state.config.location_fresh_hours),
    }))
}

// ---------------------------------------------------------------------------
// tracking
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrackingIn {
    pub area: String,
    /// Default: now.
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    /// When tracking ends by itself (at most 30 days after the start).
    pub ends_at: DateTime<Utc>,
    /// The crisis it responds to.
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrackingDto {
    pub id: Uuid,
    pub area: String,
    pub area_name: String,
    pub country: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub reason: String,
    pub authorised_by: Uuid,
    pub authorised_by_name: String,
    pub created_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub end_reason: Option<String>,
    /// In force now.
    pub active: bool,
    /// Oversight: in force for longer than the configured limit (default 7 days).
    pub overdue: bool,
}

fn tracking_dto(state: &AppState, t: TrackingAuthorisation) -> TrackingDto {
    let (active, overdue) = service::tracking_flags(state, &t, now());
    TrackingDto {
        overdue,
        active,
        id: t.id,
        area: t.area.to_string(),
        area_name: t.area_name,
        country: t.country.to_string(),
        starts_at: t.starts_at,
        ends_at: t.ends_at,
        reason: t.reason,
        authorised_by: t.authorised_by,
        authorised_by_name: t.authorised_by_name,
        created_at: t.created_at,
        ended_at: t.ended_at,
        end_reason: t.end_reason,
    }
}

/// Authorise tracking of precise positions in an area for a time window
/// (the Designated Official of the area; crisis response only). It ends by itself.
#[utoipa::path(post, path = "/api/v1/tracking", tag = "eta", security(("bearer" = [])), request_body = TrackingIn,
    responses((status = 201, body = TrackingDto), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn authorise_tracking(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Body(r): Body<TrackingIn>,
) -> ApiResult<(StatusCode, Json<TrackingDto>)> {
    let t = service::authorise_tracking(&state, &who, &r.area, r.starts_at, r.ends_at, &r.reason)
        .await?;
    Ok((StatusCode::CREATED, Json(tracking_dto(&state, t))))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct TrackingFilter {
    /// Only authorisations in force now.
    #[serde(default)]
    pub active: bool,
    /// A country code.
    pub country: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Oversight of tracking: authorisations, newest first, each flagged
/// `overdue` when it has been in force longer than the limit. Security
/// roles see their countries; global roles may list every country at once.
#[utoipa::path(get, path = "/api/v1/tracking", tag = "eta", security(("bearer" = [])), params(TrackingFilter),
    responses((status = 200, body = PageOf<TrackingDto>), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn list_tracking(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Query(f): Query<TrackingFilter>,
) -> ApiResult<Json<PageOf<TrackingDto>>> {
    let page = Paging {
        limit: f.limit,
        offset: f.offset,
    }
    .request();
    let p = service::list_tracking(
        &state,
        &who,
        f.country.as_deref(),
        f.active.then(now),
        &page,
    )
    .await?;
    Ok(Json(PageOf::map(p, |t| tracking_dto(&state, t))))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonIn {
    pub reason: String,
}

/// End tracking early (the Designated Official of the area).
#[utoipa::path(post, path = "/api/v1/tracking/{id}/end", tag = "eta", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ReasonIn,
    responses((status = 200, body = TrackingDto), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn end_tracking(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Path(id): Path<Uuid>,
    Body(r): Body<ReasonIn>,
) -> ApiResult<Json<TrackingDto>> {
    let t = service::end_tracking(&state, &who, id, &r.reason).await?;
    Ok(Json(tracking_dto(&state, t)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PositionDto {
    pub user: Uuid,
    pub name: String,
    pub agency: Option<Uuid>,
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: Option<f64>,
    pub recorded_at: DateTime<Utc>,
}

impl From<Position> for PositionDto {
    fn from(p: Position) -> Self {
        PositionDto {
            user: p.user,
            name: p.user_name,
            agency: p.agency,
            lat: p.lat,
            lon: p.lon,
            accuracy_m: p.accuracy_m,
            recorded_at: p.recorded_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct Window {
    /// Default: 6 hours ago.
    pub from: Option<DateTime<Utc>>,
    /// Default: now.
    pub to: Option<DateTime<Utc>>,
}

/// Precise positions in an area: only while tracking is authorised there,
/// only to the area's DO and security advisers and to the focal points of the
/// people's own agency, after the undertaking; every access is audited.
#[utoipa::path(get, path = "/api/v1/areas/{code}/positions", tag = "eta", security(("bearer" = [])),
    params(("code" = String, Path), Window),
    responses((status = 200, body = Vec<PositionDto>), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn positions(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Path(code): Path<String>,
    Query(w): Query<Window>,
) -> ApiResult<Json<Vec<PositionDto>>> {
    let area = load_area(&state, &code).await?;
    if !eta::may_view_some_positions(&who.user.grants, &area.code, &area.country) {
        return Err(ApiError::forbidden(format!(
            "your roles give no access to positions in {}",
            area.code
        )));
    }
    service::require_undertaking(&state, &who).await?;
    let at = now();
    let active = state
        .store
        .list_tracking(
            &TrackingQuery {
                active_at: Some(at),
                country: None,
                area: Some(area.code.clone()),
            },
            &Default::default(),
        )
        .await?;
    if active.total == 0 {
        return Err(ApiError::new(
            Code::Conflict,
            format!(
                "tracking is not authorised in {} now: positions are visible only while the Designated Official's authorisation is in force",
                area.code
            ),
        ));
    }
    let to = w.to.unwrap_or(at);
    let from = w.from.unwrap_or(to - Duration::hours(6));
    if from >= to {
        return Err(ApiError::invalid("from", "must be before `to`"));
    }
    let grants = who.user.grants.clone();
    let (code, country) = (area.code.clone(), area.country.clone());
    let visible =
        move |agency: Option<Uuid>| eta::may_view_positions(&grants, &code, &country, agency);
    let list = state
        .store
        .positions_in_area(&area.code, from, to, &visible, &who.audit())
        .await?;
    Ok(Json(list.into_iter().map(PositionDto::from).collect()))
}

// ---------------------------------------------------------------------------
// undertaking
// ---------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct UndertakingDto {
    pub version: String,
    pub text: String,
    /// When I accepted this version (null: not yet).
    pub accepted_at: Option<DateTime<Utc>>,
}

/// The undertaking back-end users give before their first access to location data.
#[utoipa::path(get, path = "/api/v1/undertaking", tag = "eta", security(("bearer" = [])),
    responses((status = 200, body = UndertakingDto)))]
pub async fn get_undertaking(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
) -> ApiResult<Json<UndertakingDto>> {
    let u = state.store.undertaking(who.user.id).await?;
    Ok(Json(UndertakingDto {
        version: eta::UNDERTAKING_VERSION.into(),
        text: service::UNDERTAKING_TEXT.into(),
        accepted_at: u
            .filter(|u| u.version == eta::UNDERTAKING_VERSION)
            .map(|u| u.accepted_at),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptIn {
    /// The version accepted (must be the current one).
    pub version: String,
}

/// Accept the undertaking (recorded with the time, in the audit log too).
#[utoipa::path(post, path = "/api/v1/undertaking", tag = "eta", security(("bearer" = [])), request_body = AcceptIn,
    responses((status = 200, body = UndertakingDto), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn accept_undertaking(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Body(r): Body<AcceptIn>,
) -> ApiResult<Json<UndertakingDto>> {
    if r.version != eta::UNDERTAKING_VERSION {
        return Err(ApiError::invalid(
            "version",
            format!(
                "the current undertaking is version {}",
                eta::UNDERTAKING_VERSION
            ),
        ));
    }
    let u = state
        .store
        .accept_undertaking(who.user.id, &r.version, &who.audit())
        .await?;
    Ok(Json(UndertakingDto {
        version: u.version,
        text: service::UNDERTAKING_TEXT.into(),
        accepted_at: Some(u.accepted_at),
    }))
}

// ---------------------------------------------------------------------------
// freezes
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FreezeIn {
    pub person: Uuid,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub case_reference: String,
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FreezeDto {
    pub id: Uuid,
    pub person: Uuid,
    pub person_name: String,
    pub agency: Option<Uuid>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub case_reference: String,
    pub reason: String,
    pub created_by: Uuid,
    pub created_by_name: String,
    pub created_at: DateTime<Utc>,
    pub lifted_at: Option<DateTime<Utc>>,
    pub lift_reason: Option<String>,
}

impl From<Freeze> for FreezeDto {
    fn from(f: Freeze) -> Self {
        FreezeDto {
            id: f.id,
            person: f.person,
            person_name: f.person_name,
            agency: f.agency,
            from: f.from,
            to: f.to,
            case_reference: f.case_reference,
            reason: f.reason,
            created_by: f.created_by,
            created_by_name: f.created_by_name,
            created_at: f.created_at,
            lifted_at: f.lifted_at,
            lift_reason: f.lift_reason,
        }
    }
}

/// Freeze a person's location data for a period so that the purge keeps it
/// (an investigator of the person's agency, with a case reference).
#[utoipa::path(post, path = "/api/v1/freezes", tag = "eta", security(("bearer" = [])), request_body = FreezeIn,
    responses((status = 201, body = FreezeDto), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create_freeze(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Body(r): Body<FreezeIn>,
) -> ApiResult<(StatusCode, Json<FreezeDto>)> {
    let person = state
        .store
        .get_user(r.person)
        .await?
        .ok_or_else(|| ApiError::invalid("person", format!("no such person: {}", r.person)))?;
    if !eta::may_freeze(&who.user.grants, person.agency) {
        return Err(ApiError::forbidden(
            "only an investigator authorised for the person's agency may freeze location data",
        ));
    }
    let req = FreezeRequest {
        person: r.person,
        from: r.from,
        to: r.to,
        case_reference: r.case_reference.trim().to_string(),
        reason: r.reason.trim().to_string(),
    };
    req.validate()?;
    let f = state
        .store
        .create_freeze(
            &NewFreeze {
                request: req,
                created_by: who.user.id,
            },
            &who.audit(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(f.into())))
}

/// Lift a freeze: the 96-hour rule applies again to what it held.
#[utoipa::path(post, path = "/api/v1/freezes/{id}/lift", tag = "eta", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ReasonIn,
    responses((status = 200, body = FreezeDto), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn lift_freeze(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Path(id): Path<Uuid>,
    Body(r): Body<ReasonIn>,
) -> ApiResult<Json<FreezeDto>> {
    let f = state
        .store
        .get_freeze(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("freeze {id}")))?;
    if !eta::may_freeze(&who.user.grants, f.agency) {
        return Err(ApiError::forbidden(
            "only an investigator authorised for the person's agency may lift a freeze",
        ));
    }
    if r.reason.trim().is_empty() {
        return Err(ApiError::invalid("reason", "say why the freeze is lifted"));
    }
    let f = state
        .store
        .lift_freeze(id, who.user.id, r.reason.trim(), &who.audit())
        .await?;
    Ok(Json(f.into()))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct FreezeFilter {
    pub person: Option<Uuid>,
    /// Only freezes not lifted.
    #[serde(default)]
    pub active: bool,
}

/// Freezes the caller may see: investigators and agency focal points see
/// those on their agency's people (global ones see all).
#[utoipa::path(get, path = "/api/v1/freezes", tag = "eta", security(("bearer" = [])), params(FreezeFilter),
    responses((status = 200, body = Vec<FreezeDto>), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn list_freezes(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Query(f): Query<FreezeFilter>,
) -> ApiResult<Json<Vec<FreezeDto>>> {
    let sees = |g: &warden_domain::RoleGrant| {
        matches!(g.role, Role::Investigator | Role::AgencyFocalPoint)
    };
    if !who.user.grants.iter().any(sees) {
        return Err(ApiError::forbidden(
            "freezes are shown to investigators and agency focal points",
        ));
    }
    let all = state
        .store
        .list_freezes(&FreezeQuery {
            person: f.person,
            agency: None,
            active_only: f.active,
        })
        .await?;
    Ok(Json(
        all.into_iter()
            .filter(|x| eta::may_see_freezes(&who.user.grants, x.agency))
            .map(FreezeDto::from)
            .collect(),
    ))
}

// ---------------------------------------------------------------------------
// my data
// ---------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct HeldDto {
    pub last_location: Option<MyLastLocationDto>,
    pub positions: Vec<PositionDto>,
    pub freezes: Vec<FreezeDto>,
    pub devices: Vec<DeviceDto>,
    pub retention_hours: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyLastLocationDto {
    pub area: Option<String>,
    pub since: DateTime<Utc>,
    pub reported_at: DateTime<Utc>,
}

/// Everything held about my whereabouts.
#[utoipa::path(get, path = "/api/v1/me/location-data", tag = "eta", security(("bearer" = [])),
    responses((status = 200, body = HeldDto)))]
pub async fn my_data(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
) -> ApiResult<Json<HeldDto>> {
    let h = state.store.held_location_data(who.user.id).await?;
    Ok(Json(HeldDto {
        last_location: h.last_location.map(|l| MyLastLocationDto {
            area: l.area.map(|a| a.to_string()),
            since: l.since,
            reported_at: l.reported_at,
        }),
        positions: h.positions.into_iter().map(PositionDto::from).collect(),
        freezes: h.freezes.into_iter().map(FreezeDto::from).collect(),
        devices: devices_dto(h.devices),
        retention_hours: state.config.location_retention_hours,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeletionDto {
    pub positions_deleted: u64,
    /// Kept because an investigation froze them.
    pub positions_frozen: u64,
    pub last_location_deleted: bool,
}

/// Delete what is held about my whereabouts, except what a freeze keeps.
#[utoipa::path(delete, path = "/api/v1/me/location-data", tag = "eta", security(("bearer" = [])),
    responses((status = 200, body = DeletionDto)))]
pub async fn delete_my_data(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
) -> ApiResult<Json<DeletionDto>> {
    let d = state
        .store
        .delete_location_data(who.user.id, &who.audit())
        .await?;
    Ok(Json(DeletionDto {
        positions_deleted: d.positions_deleted,
        positions_frozen: d.positions_frozen,
        last_location_deleted: d.last_location_deleted,
    }))
}

// ---------------------------------------------------------------------------
// alerts
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertIn {
    /// At most 160 characters.
    pub headline: String,
    #[serde(default)]
    pub description: String,
    /// What people should do.
    pub instruction: String,
    /// extreme, severe, moderate or minor
    pub severity: String,
    /// Default: 24 hours after issue.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertDto {
    pub id: Uuid,
    pub area: String,
    pub area_name: String,
    pub country: String,
    pub headline: String,
    pub description: String,
    pub instruction: String,
    pub severity: String,
    pub issued_by_name: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// People whose phone put them in the area, notified at once.
    pub recipients: i64,
    /// People stationed in the area without a smartphone, texted (SMS).
    pub sms_recipients: i64,
    /// The alert as CAP 1.2, for partner systems.
    pub cap_url: String,
}

impl From<GeoAlert> for AlertDto {
    fn from(a: GeoAlert) -> Self {
        AlertDto {
            cap_url: format!("/api/v1/alerts/{}/cap", a.id),
            id: a.id,
            area: a.area.to_string(),
            area_name: a.area_name,
            country: a.country.to_string(),
            headline: a.headline,
            description: a.description,
            instruction: a.instruction,
            severity: a.severity.as_str().into(),
            issued_by_name: a.issued_by_name,
            issued_at: a.issued_at,
            expires_at: a.expires_at,
            recipients: a.recipients,
            sms_recipients: a.sms_recipients,
        }
    }
}

/// Issue a geo-alert for an area (its security advisers or DO): every phone
/// in the area is notified in the same transaction.
#[utoipa::path(post, path = "/api/v1/areas/{code}/alerts", tag = "eta", security(("bearer" = [])),
    params(("code" = String, Path)), request_body = AlertIn,
    responses((status = 201, body = AlertDto), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn issue_alert(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Path(code): Path<String>,
    Body(r): Body<AlertIn>,
) -> ApiResult<(StatusCode, Json<AlertDto>)> {
    let area = load_area(&state, &code).await?;
    if !eta::may_issue_alert(&who.user.grants, &area.code, &area.country) {
        return Err(ApiError::forbidden(format!(
            "only the security advisers and the Designated Official for {} may issue alerts there",
            area.code
        )));
    }
    let headline = r.headline.trim();
    if headline.is_empty() || headline.chars().count() > 160 {
        return Err(ApiError::invalid("headline", "1 to 160 characters"));
    }
    if r.instruction.trim().is_empty() {
        return Err(ApiError::invalid(
            "instruction",
            "say what people should do",
        ));
    }
    let severity = AlertSeverity::parse(&r.severity)?;
    let at = now();
    let expires_at = r.expires_at.unwrap_or(at + Duration::hours(24));
    if expires_at <= at {
        return Err(ApiError::invalid("expires_at", "must be in the future"));
    }
    let a = state
        .store
        .issue_alert(
            &NewGeoAlert {
                area: area.code.clone(),
                headline: headline.to_string(),
                description: r.description.trim().to_string(),
                instruction: r.instruction.trim().to_string(),
                severity,
                expires_at,
                issued_by: who.user.id,
            },
            at - Duration::hours(state.config.location_fresh_hours),
            &who.audit(),
        )
        .await?;
    state.metrics.alert(a.recipients as u64);
    Ok((StatusCode::CREATED, Json(a.into())))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AlertFilter {
    pub area: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Geo-alerts, newest first.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "eta", params(AlertFilter),
    responses((status = 200, body = PageOf<AlertDto>)))]
pub async fn list_alerts(
    State(state): State<AppState>,
    who: Option<ApiUser>,
    Query(f): Query<AlertFilter>,
) -> ApiResult<Json<PageOf<AlertDto>>> {
    crate::api::areas::check_public(&state, &who)?;
    let area = f
        .area
        .as_deref()
        .map(|c| {
            warden_domain::AreaCode::parse(c).map_err(|e| ApiError::invalid("area", e.message()))
        })
        .transpose()?;
    let page = Paging {
        limit: f.limit,
        offset: f.offset,
    }
    .request();
    let p = state.store.list_alerts(area.as_ref(), &page).await?;
    Ok(Json(PageOf::map(p, AlertDto::from)))
}

async fn load_alert(state: &AppState, id: Uuid) -> ApiResult<GeoAlert> {
    state
        .store
        .get_alert(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("alert {id}")))
}

/// One geo-alert.
#[utoipa::path(get, path = "/api/v1/alerts/{id}", tag = "eta", params(("id" = Uuid, Path)),
    responses((status = 200, body = AlertDto), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_alert(
    State(state): State<AppState>,
    who: Option<ApiUser>,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<AlertDto>> {
    crate::api::areas::check_public(&state, &who)?;
    Ok(Json(load_alert(&state, id).await?.into()))
}

/// One geo-alert as CAP 1.2, for partner systems.
#[utoipa::path(get, path = "/api/v1/alerts/{id}/cap", tag = "eta", params(("id" = Uuid, Path)),
    responses((status = 200, description = "CAP 1.2 alert", content_type = "application/cap+xml"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_alert_cap(
    State(state): State<AppState>,
    who: Option<ApiUser>,
    Path(id): Path<Uuid>,
) -> ApiResult<impl IntoResponse> {
    crate::api::areas::check_public(&state, &who)?;
    let a = load_alert(&state, id).await?;
    let area = state
        .store
        .get_area(&a.area)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("area {}", a.area)))?;
    let xml = warden_publish::to_xml(&crate::publishing::geo_alert(&state, &a, &area))
        .map_err(ApiError::internal)?;
    Ok((
        [(header::CONTENT_TYPE, "application/cap+xml; charset=utf-8")],
        xml,
    ))
}

// ---------------------------------------------------------------------------
// are you safe?
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DependantIn {
    pub name: String,
    /// safe or need_help
    pub status: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WellbeingIn {
    /// safe or need_help
    pub status: String,
    #[serde(default)]
    pub dependants: Vec<DependantIn>,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DependantDto {
    pub name: String,
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WellbeingDto {
    pub id: Uuid,
    pub status: String,
    pub dependants: Vec<DependantDto>,
    pub note: String,
    pub channel: String,
    /// The area my phone last reported.
    pub area: Option<String>,
    pub at: DateTime<Utc>,
}

impl From<WellbeingReport> for WellbeingDto {
    fn from(w: WellbeingReport) -> Self {
        WellbeingDto {
            id: w.id,
            status: w.status.as_str().into(),
            dependants: w
                .dependants
                .into_iter()
                .map(|d| DependantDto {
                    name: d.name,
                    status: d.status.as_str().into(),
                })
                .collect(),
            note: w.note,
            channel: w.channel,
            area: w.area.map(|a| a.to_string()),
            at: w.at,
        }
    }
}

pub async fn record_wellbeing_for(
    state: &AppState,
    who: &Authed,
    r: &WellbeingIn,
    channel: &str,
) -> ApiResult<WellbeingReport> {
    let status = Wellbeing::parse(&r.status)?;
    let mut dependants = vec![];
    for (i, d) in r.dependants.iter().enumerate() {
        let name = d.name.trim();
        if name.is_empty() {
            return Err(ApiError::invalid(
                format!("dependants[{i}].name"),
                "a name is needed",
            ));
        }
        let s = Wellbeing::parse(&d.status)
            .map_err(|e| ApiError::invalid(format!("dependants[{i}].status"), e.message()))?;
        dependants.push(warden_store::DependantStatus {
            name: name.to_string(),
            status: s,
        });
    }
    if r.note.chars().count() > 1000 {
        return Err(ApiError::invalid("note", "at most 1,000 characters"));
    }
    Ok(state
        .store
        .record_wellbeing(
            &NewWellbeing {
                user: who.user.id,
                status,
                dependants,
                note: r.note.trim().to_string(),
                channel: channel.into(),
            },
            &who.audit(),
        )
        .await?)
}

/// "I am safe" or "I need help", for me and my dependants.
#[utoipa::path(post, path = "/api/v1/me/wellbeing", tag = "eta", security(("bearer" = [])), request_body = WellbeingIn,
    responses((status = 201, body = WellbeingDto), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn post_wellbeing(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Body(r): Body<WellbeingIn>,
) -> ApiResult<(StatusCode, Json<WellbeingDto>)> {
    let w = record_wellbeing_for(&state, &who, &r, "api").await?;
    Ok((StatusCode::CREATED, Json(w.into())))
}

/// My latest answer.
#[utoipa::path(get, path = "/api/v1/me/wellbeing", tag = "eta", security(("bearer" = [])),
    responses((status = 200, body = Option<WellbeingDto>)))]
pub async fn get_wellbeing(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
) -> ApiResult<Json<Option<WellbeingDto>>> {
    Ok(Json(
        state
            .store
            .latest_wellbeing(who.user.id)
            .await?
            .map(WellbeingDto::from),
    ))
}

// ---------------------------------------------------------------------------
// my profile: the person corrects their own contact details
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactIn {
    pub name: String,
    #[serde(default)]
    pub relation: String,
    /// International form: `+` and 7 to 15 digits (spaces allowed).
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnProfileIn {
    /// My phone: `+` and 7 to 15 digits (spaces, dashes and brackets are
    /// dropped), or empty.
    pub phone: String,
    /// Up to 5; each with a name and a phone or an e-mail. Replaces the list.
    pub emergency_contacts: Vec<ContactIn>,
}

async fn own_profile(state: &AppState, who: &Authed) -> ApiResult<warden_store::Profile> {
    state.store.get_profile(who.user.id).await?.ok_or_else(|| {
        ApiError::not_found(
            "your profile (your agency has not recorded one: ask its security focal point)",
        )
    })
}

/// My traveller's profile, as my agency recorded it and as I corrected it.
#[utoipa::path(get, path = "/api/v1/me/profile", tag = "eta", security(("bearer" = [])),
    responses((status = 200, body = crate::api::erp::ProfileDto), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_my_profile(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
) -> ApiResult<Json<crate::api::erp::ProfileDto>> {
    Ok(Json(crate::api::erp::profile_dto(
        own_profile(&state, &who).await?,
    )))
}

/// Correct my phone and emergency contacts (the rest of the profile comes
/// from my agency). Recorded in the audit log.
#[utoipa::path(put, path = "/api/v1/me/profile", tag = "eta", security(("bearer" = [])), request_body = OwnProfileIn,
    responses((status = 200, body = crate::api::erp::ProfileDto), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn put_my_profile(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Body(r): Body<OwnProfileIn>,
) -> ApiResult<Json<crate::api::erp::ProfileDto>> {
    let contacts: Vec<warden_domain::people::EmergencyContact> = r
        .emergency_contacts
        .into_iter()
        .map(|c| warden_domain::people::EmergencyContact {
            name: c.name,
            relation: c.relation,
            phone: c.phone,
            email: c.email,
        })
        .collect();
    let p = service::update_own_contacts(&state, &who, &r.phone, &contacts).await?;
    Ok(Json(crate::api::erp::profile_dto(p)))
}
