//! The JSON API under `/api/v1`, documented by the OpenAPI 3.1 document at
//! `/api/openapi.json`.

pub mod admin;
pub mod advisories;
pub mod airlines;
pub mod areas;
pub mod assessments;
pub mod erp;
pub mod eta;
pub mod notifications;
pub mod partners;
pub mod places;
pub mod presence;
pub mod presence_world;
pub mod rollcall;
pub mod session;
pub mod trips;

use crate::error::{ApiError, Code};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use axum::routing::{delete, get, post, put};
use axum::Router;
use serde::de::DeserializeOwned;
use utoipa::OpenApi;

/// Path parameters; a value that does not parse is a 422 problem naming it.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> axum::extract::FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e| ApiError::invalid("path", e.body_text()))
    }
}

/// Query parameters; a value that does not parse is a 422 problem naming it.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> axum::extract::FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| ApiError::invalid("query", e.body_text()))
    }
}

/// A JSON request body. Wrong content type, unreadable JSON, a wrong type in a
/// field, or a body over the size limit each give a problem document naming
/// the field, before any handler runs.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mime = ct.split(';').next().unwrap_or("").trim();
        if !(mime == "application/json" || mime.ends_with("+json")) {
            return Err(ApiError::new(
                Code::UnsupportedMediaType,
                format!(
                    "send JSON with Content-Type: application/json (got {:?})",
                    ct
                ),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    Code::PayloadTooLarge,
                    "the request body is larger than this service accepts",
                )
            } else {
                ApiError::new(Code::MalformedBody, e.body_text())
            }
        })?;
        parse_json(&bytes).map(Body)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::new(
                Code::MalformedBody,
                format!("the body is not valid JSON: {inner}"),
            )
        } else if path == "." {
            ApiError::invalid("body", inner.to_string())
        } else {
            ApiError::invalid(path, inner.to_string())
        }
    })
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Warden API",
        description = "Security levels, travel advisories and assessments of the Security Level System. Errors are RFC 9457 problem documents (application/problem+json).",
        license(name = "AGPL-3.0-or-later")
    ),
    paths(
        session::create_token, session::me,
        areas::list_countries, areas::list_areas, areas::get_area, areas::area_history, areas::area_geometry,
        areas::map_geojson, areas::lookup, areas::create_area, areas::import_areas,
        advisories::get_advisory, advisories::get_advisory_cap, advisories::country_feed, advisories::global_feed,
        advisories::update_advisory_area,
        assessments::list, assessments::create, assessments::get_one, assessments::act,
        admin::list_measures, admin::create_measure, admin::list_users, admin::create_user, admin::list_audit, admin::verify_audit,
        trips::set_mode, trips::get_mode, trips::create_request, trips::get_request, trips::decide, trips::queue,
        trips::answer, erp::post_tas, erp::get_profile, notifications::list, notifications::mark_read,
        airlines::current, airlines::month, airlines::publish,
        places::search,
        eta::enrol, eta::list_devices, eta::revoke_device, eta::post_locations, eta::owntracks, eta::my_location,
        eta::authorise_tracking, eta::list_tracking, eta::end_tracking, eta::positions,
        eta::get_undertaking, eta::accept_undertaking, eta::create_freeze, eta::lift_freeze, eta::list_freezes,
        eta::my_data, eta::delete_my_data, eta::issue_alert, eta::list_alerts, eta::get_alert, eta::get_alert_cap,
        eta::post_wellbeing, eta::get_wellbeing, eta::get_my_profile, eta::put_my_profile,
        presence::headcount,
        presence_world::world_headcount,
        presence_world::zone_headcount,
        presence_world::headcount_csv,
        rollcall::start, rollcall::list, rollcall::board, rollcall::close, rollcall::events,
        partners::create, partners::list, partners::revoke, partners::post_headcounts, partners::cap_feed, partners::cap_message,
        crate::health,
    ),
    components(schemas(crate::error::Problem, crate::error::FieldError)),
    modifiers(&SecurityAddon),
    tags(
        (name = "areas", description = "SLS areas and their security levels"),
        (name = "advisories", description = "Travel advisories (JSON, CAP 1.2, Atom)"),
        (name = "assessments", description = "Security threat assessments: submit, validate, approve"),
        (name = "session", description = "Authentication"),
        (name = "admin", description = "Users, measures catalogue, audit log"),
        (name = "trips", description = "TRIP: processing modes, travel notifications and security clearances"),
        (name = "eta", description = "eTA: devices, locations (area only unless tracking is authorised), tracking, freezes, geo-alerts"),
        (name = "presence", description = "Who is where: headcount of an area, of every area at once or of a drawn zone at a moment, by agency and personnel category; an area's people as CSV"),
        (name = "rollcall", description = "Roll call: are you safe? Accountability of everyone present in areas, by agency"),
        (name = "partners", description = "Exchange with other agencies' systems: the partner registry, partner headcount reports (the exchange format), CAP 1.2 to partners (pull feed; pushes)"),
    )
)]
pub struct ApiDoc;

struct SecurityAddon;
impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        // A device token: `Bearer <token>`, or HTTP Basic (user name, token) as OwnTracks sends it.
        c.add_security_scheme(
            "device",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
        // A partner system's own token (`warden partner add`, `POST /api/v1/partners`).
        c.add_security_scheme(
            "partner",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The OpenAPI document as served.
pub fn openapi_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("openapi serialises")
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/token", post(session::create_token))
        .route("/me", get(session::me))
        .route("/countries", get(areas::list_countries))
        .route("/areas", get(areas::list_areas).post(areas::create_area))
        .route("/areas/import", post(areas::import_areas))
        .route("/areas/{code}", get(areas::get_area))
        .route("/areas/{code}/history", get(areas::area_history))
        .route("/areas/{code}/geometry", get(areas::area_geometry))
        .route("/map/areas.geojson", get(areas::map_geojson))
        .route("/lookup", get(areas::lookup))
        .route("/advisories/feed.atom", get(advisories::global_feed))
        .route("/advisories/{country}", get(advisories::get_advisory))
        .route(
            "/advisories/{country}/cap",
            get(advisories::get_advisory_cap),
        )
        .route(
            "/advisories/{country}/feed.atom",
            get(advisories::country_feed),
        )
        .route(
            "/advisories/{country}/areas/{code}",
            put(advisories::update_advisory_area),
        )
        .route(
            "/assessments",
            get(assessments::list).post(assessments::create),
        )
        .route("/assessments/{id}", get(assessments::get_one))
        .route("/assessments/{id}/actions", post(assessments::act))
        .route(
            "/measures",
            get(admin::list_measures).post(admin::create_measure),
        )
        .route("/users", get(admin::list_users).post(admin::create_user))
        .route("/audit", get(admin::list_audit))
        .route("/audit/verify", get(admin::verify_audit))
        .route(
            "/areas/{code}/processing-mode",
            get(trips::get_mode).put(trips::set_mode),
        )
        .route("/travel-requests", post(trips::create_request))
        .route("/travel-requests/{id}", get(trips::get_request))
        .route(
            "/travel-requests/{id}/legs/{n}/decision",
            post(trips::decide),
        )
        .route("/clearances", get(trips::queue))
        .route("/travel-requests/{id}/legs/{n}/answer", post(trips::answer))
        .route("/travel-authorisations", post(erp::post_tas))
        .route("/profiles/{user}", get(erp::get_profile))
        .route("/notifications", get(notifications::list))
        .route("/notifications/read", post(notifications::mark_read))
        .route("/airlines", get(airlines::current))
        .route(
            "/airlines/{month}",
            get(airlines::month).put(airlines::publish),
        )
        .route("/places", get(places::search))
        .route("/devices", get(eta::list_devices).post(eta::enrol))
        .route("/devices/{id}", delete(eta::revoke_device))
        .route("/locations", post(eta::post_locations))
        .route("/owntracks", post(eta::owntracks))
        .route("/me/location", get(eta::my_location))
        .route(
            "/me/location-data",
            get(eta::my_data).delete(eta::delete_my_data),
        )
        .route(
            "/me/wellbeing",
            get(eta::get_wellbeing).post(eta::post_wellbeing),
        )
        .route(
            "/me/profile",
            get(eta::get_my_profile).put(eta::put_my_profile),
        )
        .route(
            "/tracking",
            get(eta::list_tracking).post(eta::authorise_tracking),
        )
        .route("/tracking/{id}/end", post(eta::end_tracking))
        .route("/areas/{code}/positions", get(eta::positions))
        .route("/areas/{code}/alerts", post(eta::issue_alert))
        .route("/areas/{code}/headcount", get(presence::headcount))
        .route(
            "/areas/{code}/headcount.csv",
            get(presence_world::headcount_csv),
        )
        .route("/headcount", get(presence_world::world_headcount))
        .route("/headcount/polygon", post(presence_world::zone_headcount))
        .route("/roll-calls", get(rollcall::list).post(rollcall::start))
        .route("/roll-calls/{id}", get(rollcall::board))
        .route("/roll-calls/{id}/close", post(rollcall::close))
        .route("/roll-calls/{id}/events", get(rollcall::events))
        .route("/partners", get(partners::list).post(partners::create))
        .route("/partners/{partner}", delete(partners::revoke))
        .route(
            "/partners/{partner}/headcounts",
            post(partners::post_headcounts),
        )
        .route("/partners/{partner}/cap", get(partners::cap_feed))
        .route("/partners/{partner}/cap/{id}", get(partners::cap_message))
        .route(
            "/undertaking",
            get(eta::get_undertaking).post(eta::accept_undertaking),
        )
        .route("/freezes", get(eta::list_freezes).post(eta::create_freeze))
        .route("/freezes/{id}/lift", post(eta::lift_freeze))
        .route("/alerts", get(eta::list_alerts))
        .route("/alerts/{id}", get(eta::get_alert))
        .route("/alerts/{id}/cap", get(eta::get_alert_cap))
        .fallback(|| async { ApiError::new(Code::NotFound, "no such API route") })
}

/// `limit`/`offset` query parameters.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct Paging {
    /// At most this many items (1-1000, default 100).
    pub limit: Option<i64>,
    /// Skip this many items.
    pub offset: Option<i64>,
}

impl Paging {
    pub fn request(&self) -> warden_store::PageRequest {
        warden_store::PageRequest::new(self.limit, self.offset)
    }
}

/// A page of results.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PageOf<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

impl<T> PageOf<T> {
    pub fn map<U>(p: warden_store::Page<U>, f: impl FnMut(U) -> T) -> PageOf<T> {
        PageOf {
            items: p.items.into_iter().map(f).collect(),
            total: p.total,
            limit: p.limit,
            offset: p.offset,
        }
    }
}
