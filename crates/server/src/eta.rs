//! The eTA operations shared by the API, the pages and the CLI: device
//! authentication, resolving reports to areas, the rules for who may see
//! positions, and the purge.

use crate::auth::Authed;
use crate::error::{ApiError, ApiResult, Code};
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use warden_domain::eta::{self, LocationReport};
use warden_store::{Device, LocationBatch, ResolvedReport, Store, User};

/// Most reports one request may carry.
pub const MAX_BATCH: usize = 1000;

/// A device calling with its own token: `Authorization: Bearer <token>`, or
/// HTTP Basic with the user name and the token as password (as the OwnTracks
/// app sends it).
pub struct DeviceCaller {
    pub device: Device,
    pub user: User,
}

fn basic_credentials(v: &str) -> Option<(String, String)> {
    let b = v.strip_prefix("Basic ")?;
    let raw = data_encoding::BASE64.decode(b.trim().as_bytes()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

impl FromRequestParts<AppState> for DeviceCaller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let h = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ApiError::new(
                    Code::Unauthenticated,
                    "send the device token: `Authorization: Bearer <token>` or HTTP Basic with your user name and the token",
                )
            })?;
        let (token, username) = if let Some(t) = h.strip_prefix("Bearer ") {
            (t.trim().to_string(), None)
        } else if let Some((u, p)) = basic_credentials(h) {
            (p, Some(u))
        } else {
            return Err(ApiError::new(
                Code::Unauthenticated,
                "the Authorization header must be `Bearer <device token>` or HTTP Basic",
            ));
        };
        let found = state
            .store
            .device_by_token(&warden_auth::token_digest(&token))
            .await?;
        match found {
            Some((device, user)) if username.as_deref().is_none_or(|u| u == user.username) => {
                Ok(DeviceCaller { device, user })
            }
            _ => Err(ApiError::new(
                Code::Unauthenticated,
                "unknown or revoked device token (or the user name does not match it): enrol the device again",
            )),
        }
    }
}

/// Checks every report (errors name `{field}[i]`), then resolves each to the
/// area it falls in. Nothing is stored when one report is bad.
pub fn resolve_batch(
    state: &AppState,
    caller: &DeviceCaller,
    reports: &[LocationReport],
    field: &str,
    now: DateTime<Utc>,
) -> ApiResult<LocationBatch> {
    if reports.len() > MAX_BATCH {
        return Err(ApiError::invalid(
            field,
            format!(
                "at most {MAX_BATCH} reports per request (got {})",
                reports.len()
            ),
        ));
    }
    for (i, r) in reports.iter().enumerate() {
        r.validate(&format!("{field}[{i}]"), now)?;
    }
    let geo = state.geo();
    let resolved = reports
        .iter()
        .map(|r| ResolvedReport {
            report: *r,
            area: geo
                .index
                .lookup(r.lon, r.lat)
                .and_then(|c| warden_domain::AreaCode::parse(c).ok()),
        })
        .collect();
    Ok(LocationBatch {
        device: caller.device.id,
        user: caller.user.id,
        reports: resolved,
        received_at: now,
    })
}

/// A back-end user must have accepted the current undertaking before any
/// access to location data (2019 report ¶75).
pub async fn require_undertaking(state: &AppState, who: &Authed) -> ApiResult<()> {
    match state.store.undertaking(who.user.id).await? {
        Some(u) if u.version == eta::UNDERTAKING_VERSION => Ok(()),
        _ => Err(ApiError::new(
            Code::Forbidden,
            format!(
                "accept the undertaking on the use of location data first (GET /api/v1/undertaking, then POST it with version {})",
                eta::UNDERTAKING_VERSION
            ),
        )),
    }
}

/// The undertaking's text (version `UNDERTAKING_VERSION`).
pub const UNDERTAKING_TEXT: &str = "I will use the location data of personnel only to protect their safety and \
security, for the purpose and area for which access was authorised; I will not copy, share or keep it beyond \
that purpose; I understand that every access is recorded and that misuse will be dealt with under the rules \
of my own organisation.";

/// What a purge run removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PurgeTotals {
    pub positions: u64,
    pub last_locations: u64,
    pub steps: u64,
}

/// Purges everything recorded before `now - retention_hours` that no freeze
/// covers, in short steps of `chunk` positions (ingest goes on between
/// them); `progress` is told after each step. One audit entry for the run.
pub async fn purge(
    store: &dyn Store,
    retention_hours: i64,
    now: DateTime<Utc>,
    chunk: i64,
    mut progress: impl FnMut(&PurgeTotals),
) -> anyhow::Result<PurgeTotals> {
    let cutoff = eta::retention_cutoff(now, retention_hours);
    let mut totals = PurgeTotals::default();
    let mut after = None;
    loop {
        let c = store.purge_locations(cutoff, after, chunk).await?;
        totals.positions += c.positions;
        totals.last_locations += c.last_locations;
        totals.steps += 1;
        progress(&totals);
        match c.next {
            Some(n) => after = Some(n),
            None => break,
        }
        tokio::task::yield_now().await;
    }
    if totals.positions + totals.last_locations > 0 {
        store
            .append_audit(
                &warden_store::AuditContext::system("purge"),
                "location.purge",
                "locations",
                serde_json::json!({
                    "cutoff": cutoff, "retention_hours": retention_hours,
                    "positions": totals.positions, "last_locations": totals.last_locations,
                }),
            )
            .await?;
    }
    Ok(totals)
}

/// Runs the purge every `purge_interval_minutes` in the background.
pub fn spawn_purger(state: AppState) {
    let minutes = state.config.purge_interval_minutes;
    if minutes == 0 {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(minutes * 60));
        loop {
            tick.tick().await;
            match purge(
                state.store.as_ref(),
                state.config.location_retention_hours,
                warden_store::now_micros(),
                5_000,
                |_| {},
            )
            .await
            {
                Ok(t) if t.positions + t.last_locations > 0 => {
                    tracing::info!(
                        positions = t.positions,
                        last_locations = t.last_locations,
                        "location data purged"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "location purge failed; will retry"),
            }
        }
    });
}
