//! Warden's HTTP service: the JSON API (`/api/v1`), the server-rendered web
//! interface, embedded static assets, `/healthz` and `/metrics`.

pub mod api;
pub mod auth;
pub mod config;
pub mod erp;
pub mod error;
pub mod eta;
pub mod i18n;
pub mod mailer;
pub mod metrics;
pub mod partners;
pub mod publishing;
pub mod service;
pub mod sms;
pub mod state;
pub mod trips;
pub mod web;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use state::AppState;
use utoipa::ToSchema;

/// Files under `assets/`, compiled into the binary so the service works offline.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/app.js"),
    ),
    (
        "map.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/map.js"),
    ),
    (
        "presence.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/presence.js"),
    ),
    (
        "presence.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/presence.css"),
    ),
    (
        "eta.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/eta.js"),
    ),
    (
        "eta-icon.svg",
        "image/svg+xml",
        include_bytes!("../assets/eta-icon.svg"),
    ),
    (
        "eta-icon-192.png",
        "image/png",
        include_bytes!("../assets/eta-icon-192.png"),
    ),
    (
        "eta-icon-512.png",
        "image/png",
        include_bytes!("../assets/eta-icon-512.png"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../assets/favicon.svg"),
    ),
    (
        "logo.svg",
        "image/svg+xml",
        include_bytes!("../assets/logo.svg"),
    ),
    (
        "vendor/leaflet/leaflet.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/vendor/leaflet/leaflet.js"),
    ),
    (
        "vendor/leaflet/leaflet.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/vendor/leaflet/leaflet.css"),
    ),
    (
        "vendor/leaflet/images/layers.png",
        "image/png",
        include_bytes!("../assets/vendor/leaflet/images/layers.png"),
    ),
    (
        "vendor/leaflet/images/layers-2x.png",
        "image/png",
        include_bytes!("../assets/vendor/leaflet/images/layers-2x.png"),
    ),
    (
        "vendor/leaflet/images/marker-icon.png",
        "image/png",
        include_bytes!("../assets/vendor/leaflet/images/marker-icon.png"),
    ),
    (
        "vendor/leaflet/images/marker-icon-2x.png",
        "image/png",
        include_bytes!("../assets/vendor/leaflet/images/marker-icon-2x.png"),
    ),
    (
        "vendor/leaflet/images/marker-shadow.png",
        "image/png",
        include_bytes!("../assets/vendor/leaflet/images/marker-shadow.png"),
    ),
];

async fn asset(Path(path): Path<String>) -> impl IntoResponse {
    match ASSETS.iter().find(|(p, _, _)| *p == path) {
        Some((_, ct, bytes)) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, *ct),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub database: String,
    pub areas: i64,
    pub version: String,
}

/// Liveness and readiness: the database answers.
#[utoipa::path(get, path = "/healthz", tag = "areas", responses((status = 200, body = Health), (status = 503, body = crate::error::Problem)))]
pub async fn health(State(state): State<AppState>) -> Result<Json<Health>, error::ApiError> {
    state.store.ping().await.map_err(|e| {
        error::ApiError::new(error::Code::Internal, format!("database unavailable: {e}"))
    })?;
    Ok(Json(Health {
        status: "ok".into(),
        database: state.store.backend().into(),
        areas: state.store.area_count().await?,
        version: env!("CARGO_PKG_VERSION").into(),
    }))
}

async fn metrics_text(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        api::openapi_json(),
    )
}

async fn security_headers(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'"),
    );
    resp
}

/// The whole application.
pub fn app(state: AppState) -> Router {
    let metrics = state.metrics.clone();
    Router::new()
        .nest("/api/v1", api::router())
        .route("/api/openapi.json", get(openapi))
        .route("/healthz", get(health))
        .route("/metrics", get(metrics_text))
        .route("/assets/{*path}", get(asset))
        .merge(web::router())
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(axum::middleware::from_fn(security_headers))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            metrics::track,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    Ok(())
}
