//! The signed-in user's notifications (also e-mailed when the user has an address).

use crate::api::{Body, PageOf, Paging, Query};
use crate::auth::ApiUser;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use warden_store::now_micros;

#[derive(Debug, Deserialize, IntoParams)]
pub struct NotificationFilter {
    /// Only unread ones.
    #[serde(default)]
    pub unread: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationDto {
    pub id: Uuid,
    /// leg_reevaluated, level_changed, leg_decided, leg_answered, clearances_added
    pub kind: String,
    pub subject: String,
    pub body: String,
    /// Path of the page it is about.
    pub link: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
    /// pending, sending, sent, failed, none
    pub email: String,
}

impl From<warden_store::Notification> for NotificationDto {
    fn from(n: warden_store::Notification) -> Self {
        NotificationDto {
            id: n.id,
            kind: n.kind,
            subject: n.subject,
            body: n.body,
            link: n.link,
            created_at: n.created_at,
            read_at: n.read_at,
            email: n.email_state,
        }
    }
}

/// Your notifications, newest first.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "trips", security(("bearer" = [])), params(NotificationFilter, Paging),
    responses((status = 200, body = PageOf<NotificationDto>), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Query(f): Query<NotificationFilter>,
    Query(p): Query<Paging>,
) -> ApiResult<Json<PageOf<NotificationDto>>> {
    let page = state
        .store
        .list_notifications(who.user.id, f.unread, &p.request())
        .await?;
    Ok(Json(PageOf {
        items: page.items.into_iter().map(Into::into).collect(),
        total: page.total,
        limit: page.limit,
        offset: page.offset,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadRequest {
    /// Which to mark read; empty or absent marks all.
    #[serde(default)]
    pub ids: Vec<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadResponse {
    pub marked: u64,
}

/// Mark your notifications read.
#[utoipa::path(post, path = "/api/v1/notifications/read", tag = "trips", security(("bearer" = [])), request_body = ReadRequest,
    responses((status = 200, body = ReadResponse), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn mark_read(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Body(r): Body<ReadRequest>,
) -> ApiResult<Json<ReadResponse>> {
    let marked = state
        .store
        .mark_notifications_read(who.user.id, &r.ids, now_micros())
        .await?;
    Ok(Json(ReadResponse { marked }))
}
