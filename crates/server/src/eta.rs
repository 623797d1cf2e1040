//! The eTA operations shared by the API, the pages and the CLI: device
//! authentication, resolving reports to areas, the rules for who may see
//! positions, the purge, the person's own contact details, and tracking
//! (authorised and ended by the DO, overseen by the security roles).

use crate::auth::Authed;
use crate::error::{ApiError, ApiResult, Code};
use crate::state::AppState;
use crate::trips::load_area;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use uuid::Uuid;
use warden_domain::eta::{self, LocationReport, TrackingRequest};
use warden_domain::people::EmergencyContact;
use warden_domain::role::has_role_for_country;
use warden_domain::{CountryCode, Role, RoleGrant, Scope};
use warden_store::{
    AdvisoryArea, Area, Device, LocationBatch, NewTracking, Page, PageRequest, Profile,
    ResolvedReport, Store, StoreError, TrackingAuthorisation, TrackingQuery, User,
};

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
        let digest = warden_auth::token_digest(&token);
        let found = match state.devices.get(&digest) {
            Some(hit) => Some(hit),
            None => {
                let found = state.store.device_by_token(&digest).await?;
                if let Some((d, u)) = &found {
                    state.devices.put(digest, d.clone(), u.clone());
                }
                found
            }
        };
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

/// Devices and their people by token digest, for a minute: a phone reports
/// often, and reading its device and user each time would cost more than
/// storing the report. Safe because the store refuses, in the ingest
/// transaction itself, a batch of a device revoked meanwhile; a revocation
/// through this service also drops the entry at once.
#[derive(Default)]
pub struct DeviceCache {
    map: std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, Device, User)>>,
}

impl DeviceCache {
    const TTL: std::time::Duration = std::time::Duration::from_secs(60);
    const MAX: usize = 250_000;

    pub fn get(&self, digest: &str) -> Option<(Device, User)> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(digest)
            .filter(|(at, ..)| at.elapsed() < Self::TTL)
            .map(|(_, d, u)| (d.clone(), u.clone()))
    }

    pub fn put(&self, digest: String, d: Device, u: User) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= Self::MAX {
            map.retain(|_, (at, ..)| at.elapsed() < Self::TTL);
            if map.len() >= Self::MAX {
                map.clear();
            }
        }
        map.insert(digest, (std::time::Instant::now(), d, u));
    }

    pub fn forget_device(&self, device: uuid::Uuid) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, (_, d, _)| d.id != device);
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

/// What a back-end user must do before any access to location data (2019
/// report ¶75): accept the current undertaking; None once they have.
pub async fn undertaking_missing(state: &AppState, user: Uuid) -> ApiResult<Option<String>> {
    Ok(match state.store.undertaking(user).await? {
        Some(u) if u.version == eta::UNDERTAKING_VERSION => None,
        _ => Some(format!(
            "accept the undertaking on the use of location data first (GET /api/v1/undertaking, then POST it with version {})",
            eta::UNDERTAKING_VERSION
        )),
    })
}

/// Refuses (403) a back-end user who has not accepted the current
/// undertaking.
pub async fn require_undertaking(state: &AppState, who: &Authed) -> ApiResult<()> {
    match undertaking_missing(state, who.user.id).await? {
        None => Ok(()),
        Some(m) => Err(ApiError::new(Code::Forbidden, m)),
    }
}

/// The undertaking's text (version `UNDERTAKING_VERSION`).
pub const UNDERTAKING_TEXT: &str = "I will use the location data of personnel only to protect their safety and \
security, for the purpose and area for which access was authorised; I will not copy, share or keep it beyond \
that purpose; I understand that every access is recorded and that misuse will be dealt with under the rules \
of my own organisation.";

/// Positions per purge step at most (on SQLite fewer, as the step time
/// target allows).
pub const PURGE_CHUNK: i64 = 5_000;
/// How long one purge step should take; the step size adapts to it.
const STEP_TARGET: std::time::Duration = std::time::Duration::from_millis(8);
const MIN_CHUNK: i64 = 50;

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
    // On SQLite (one writer) steps are sized to take about STEP_TARGET each,
    // whatever the size of the tables, so that a report waits at most that
    // long behind one. PostgreSQL writes concurrently: steps of `chunk`.
    let adaptive = store.backend() == "sqlite";
    let max_chunk = chunk.max(1);
    let mut chunk = max_chunk;
    loop {
        let t = std::time::Instant::now();
        let c = store.purge_locations(cutoff, after, chunk).await?;
        let took = t.elapsed();
        if adaptive && took > STEP_TARGET {
            chunk = (chunk * 3 / 4).max(MIN_CHUNK);
        } else if adaptive && took < STEP_TARGET / 2 {
            chunk = (chunk * 5 / 4 + 1).min(max_chunk);
        }
        totals.positions += c.positions;
        totals.last_locations += c.last_locations;
        totals.steps += 1;
        progress(&totals);
        match c.next {
            Some(n) => after = Some(n),
            None => break,
        }
        // Let the writers waiting behind this step through before the next.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
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
                PURGE_CHUNK,
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

// ---------------------------------------------------------------------------
// the person's own contact details (personal TRIP data corrected in the eTA)
// ---------------------------------------------------------------------------

/// Most emergency contacts a person keeps.
pub const MAX_CONTACTS: usize = 5;

/// `+` and 7 to 15 digits, after dropping spaces, dashes, dots and
/// brackets (a leading `00` counts as `+`). None when it is not a number.
pub fn normalise_phone(raw: &str) -> Option<String> {
    let kept: String = raw
        .chars()
        .filter(|c| !(c.is_whitespace() || matches!(c, '-' | '.' | '(' | ')' | '/' | '\u{2011}')))
        .collect();
    let digits = kept.strip_prefix('+').or_else(|| kept.strip_prefix("00"))?;
    let ok = (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    ok.then(|| format!("+{digits}"))
}

fn plausible_email(e: &str) -> bool {
    let Some((local, domain)) = e.split_once('@') else {
        return false;
    };
    e.len() <= 254
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
}

const PHONE_FORMAT: &str =
    "write the number in international form: + and 7 to 15 digits, e.g. +93 700 123 456";

/// Checks and tidies a person's own phone and emergency contacts: the phone
/// empty or `+` and 7-15 digits (stored without spaces); each contact with a
/// name and a phone or an e-mail. Errors name the field
/// (`emergency_contacts[1].phone`).
pub fn check_own_contacts(
    phone: &str,
    contacts: &[EmergencyContact],
) -> ApiResult<(String, Vec<EmergencyContact>)> {
    let phone = match phone.trim() {
        "" => String::new(),
        p => normalise_phone(p).ok_or_else(|| ApiError::invalid("phone", PHONE_FORMAT))?,
    };
    if contacts.len() > MAX_CONTACTS {
        return Err(ApiError::invalid(
            "emergency_contacts",
            format!("at most {MAX_CONTACTS} emergency contacts"),
        ));
    }
    let mut out = Vec::with_capacity(contacts.len());
    for (i, c) in contacts.iter().enumerate() {
        let f = |name: &str| format!("emergency_contacts[{i}].{name}");
        let name = c.name.trim();
        if name.is_empty() {
            return Err(ApiError::invalid(f("name"), "give the contact's name"));
        }
        if name.chars().count() > 100 {
            return Err(ApiError::invalid(f("name"), "at most 100 characters"));
        }
        let relation = c.relation.trim();
        if relation.chars().count() > 60 {
            return Err(ApiError::invalid(f("relation"), "at most 60 characters"));
        }
        let phone = match c.phone.trim() {
            "" => String::new(),
            p => normalise_phone(p).ok_or_else(|| ApiError::invalid(f("phone"), PHONE_FORMAT))?,
        };
        let email = c.email.trim();
        if !email.is_empty() && !plausible_email(email) {
            return Err(ApiError::invalid(
                f("email"),
                "not an e-mail address (name@example.org)",
            ));
        }
        if phone.is_empty() && email.is_empty() {
            return Err(ApiError::invalid(
                f("phone"),
                "give a phone number or an e-mail address to reach this contact",
            ));
        }
        out.push(EmergencyContact {
            name: name.to_string(),
            relation: relation.to_string(),
            phone,
            email: email.to_string(),
        });
    }
    Ok((phone, out))
}

/// Saves the person's own phone and emergency contacts after checking them.
pub async fn update_own_contacts(
    state: &AppState,
    who: &Authed,
    phone: &str,
    contacts: &[EmergencyContact],
) -> ApiResult<Profile> {
    let (phone, contacts) = check_own_contacts(phone, contacts)?;
    state
        .store
        .update_own_contacts(who.user.id, &phone, &contacts, &who.audit())
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => ApiError::not_found(
                "your profile (your agency has not recorded one: ask its security focal point)",
            ),
            other => other.into(),
        })
}

// ---------------------------------------------------------------------------
// tracking: authorisation by the DO, oversight
// ---------------------------------------------------------------------------

/// Roles that oversee tracking in their countries.
pub const OVERSEERS: [Role; 5] = [
    Role::Administrator,
    Role::DesignatedOfficial,
    Role::SecurityAdviser,
    Role::RegionalDesk,
    Role::AgencyFocalPoint,
];

/// The caller oversees tracking in this country.
pub fn oversees_country(grants: &[RoleGrant], cc: &CountryCode) -> bool {
    OVERSEERS
        .into_iter()
        .any(|r| has_role_for_country(grants, r, cc))
}

/// The caller oversees tracking everywhere (an overseeing role held globally).
pub fn oversees_all(grants: &[RoleGrant]) -> bool {
    grants
        .iter()
        .any(|g| g.scope == Scope::Global && OVERSEERS.contains(&g.role))
}

/// The countries whose tracking the caller oversees; None: every country.
pub fn overseen_countries(grants: &[RoleGrant]) -> Option<Vec<CountryCode>> {
    if oversees_all(grants) {
        return None;
    }
    let mut out: Vec<CountryCode> = grants
        .iter()
        .filter(|g| OVERSEERS.contains(&g.role))
        .filter_map(|g| match &g.scope {
            Scope::Global => None,
            Scope::Country(c) => Some(c.clone()),
            Scope::Area(a) => Some(a.country()),
        })
        .collect();
    out.sort();
    out.dedup();
    Some(out)
}

/// In force at `at`, and (oversight) in force longer than the configured limit.
pub fn tracking_flags(
    state: &AppState,
    t: &TrackingAuthorisation,
    at: DateTime<Utc>,
) -> (bool, bool) {
    let active = t.active_at(at);
    (
        active,
        active && eta::tracking_overdue(t.starts_at, at, state.config.tracking_warn_days),
    )
}

/// Authorisations the caller oversees: of `country` (which they must
/// oversee) or, without one, of every country (global roles only).
pub async fn list_tracking(
    state: &AppState,
    who: &Authed,
    country: Option<&str>,
    active_at: Option<DateTime<Utc>>,
    page: &PageRequest,
) -> ApiResult<Page<TrackingAuthorisation>> {
    let country = country
        .map(|c| CountryCode::parse(c).map_err(|e| ApiError::invalid("country", e.message())))
        .transpose()?;
    match &country {
        Some(cc) if !oversees_country(&who.user.grants, cc) => {
            return Err(ApiError::forbidden(
                "you have no security role in that country",
            ))
        }
        None if !oversees_all(&who.user.grants) => {
            return Err(ApiError::invalid(
                "country",
                "name a country (only global roles see every country at once)",
            ))
        }
        _ => {}
    }
    Ok(state
        .store
        .list_tracking(
            &TrackingQuery {
                active_at,
                country,
                area: None,
            },
            page,
        )
        .await?)
}

/// The Designated Official of the area authorises tracking there, for a
/// window (default start: now), with the crisis as reason.
pub async fn authorise_tracking(
    state: &AppState,
    who: &Authed,
    area: &str,
    starts_at: Option<DateTime<Utc>>,
    ends_at: DateTime<Utc>,
    reason: &str,
) -> ApiResult<TrackingAuthorisation> {
    let area = load_area(state, area).await.map_err(|e| match e.code {
        Code::NotFound | Code::InvalidInput => ApiError::invalid("area", e.message().to_string()),
        _ => e,
    })?;
    if !eta::may_authorise_tracking(&who.user.grants, &area.code, &area.country) {
        return Err(ApiError::forbidden(format!(
            "only the Designated Official for {} may authorise tracking there",
            area.code
        )));
    }
    let at = warden_store::now_micros();
    let req = TrackingRequest {
        area: area.code.clone(),
        starts_at: starts_at.unwrap_or(at),
        ends_at,
        reason: reason.trim().to_string(),
    };
    req.validate(at)?;
    Ok(state
        .store
        .authorise_tracking(
            &NewTracking {
                request: req,
                authorised_by: who.user.id,
            },
            &who.audit(),
        )
        .await?)
}

/// The Designated Official of the area ends an authorisation early.
pub async fn end_tracking(
    state: &AppState,
    who: &Authed,
    id: Uuid,
    reason: &str,
) -> ApiResult<TrackingAuthorisation> {
    let t = state
        .store
        .get_tracking(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("tracking authorisation {id}")))?;
    if !eta::may_authorise_tracking(&who.user.grants, &t.area, &t.country) {
        return Err(ApiError::forbidden(format!(
            "only the Designated Official for {} may end tracking there",
            t.area
        )));
    }
    if reason.trim().is_empty() {
        return Err(ApiError::invalid("reason", "say why tracking ends"));
    }
    Ok(state
        .store
        .end_tracking(id, who.user.id, reason.trim(), &who.audit())
        .await?)
}

/// An area and its entry in the country's travel advisory (None: nothing
/// published for it yet).
pub async fn area_with_advisory(
    state: &AppState,
    code: &warden_domain::AreaCode,
) -> ApiResult<(Area, Option<AdvisoryArea>)> {
    let area = state
        .store
        .get_area(code)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("area {code}")))?;
    let entry = state
        .store
        .get_advisory(&area.country)
        .await?
        .and_then(|a| a.areas.into_iter().find(|x| x.area.code == area.code));
    Ok((area, entry))
}

// ---------------------------------------------------------------------------
// enrolling a phone
// ---------------------------------------------------------------------------

/// Where the OwnTracks app posts (HTTP mode).
pub fn owntracks_url(state: &AppState) -> String {
    format!("{}/api/v1/owntracks", state.config.base_url)
}

/// Enrols a device for the caller after checking their current TOTP code
/// (several devices are allowed; the most recently used is the active one).
/// Returns the device and its token, which is stored only as a digest and
/// shown once.
pub async fn enrol_device(
    state: &AppState,
    who: &Authed,
    name: &str,
    platform: &str,
    totp: &str,
) -> ApiResult<(Device, String)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(ApiError::invalid(
            "name",
            "give the device a name of 1 to 80 characters",
        ));
    }
    if !["web", "owntracks"].contains(&platform) {
        return Err(ApiError::invalid("platform", "expected web or owntracks"));
    }
    if !who.user.totp_enabled {
        return Err(ApiError::new(
            Code::TwoFactorRequired,
            "set up two-factor authentication (TOTP) before enrolling a device: /account/two-factor",
        ));
    }
    crate::auth::check_totp(state, &who.user, totp).await?;
    let token = warden_auth::random_token();
    let d = state
        .store
        .create_device(
            &warden_store::NewDevice {
                user: who.user.id,
                name: name.to_string(),
                platform: platform.to_string(),
                token_digest: warden_auth::token_digest(&token),
            },
            &who.audit(),
        )
        .await?;
    Ok((d, token))
}

/// The caller holds a role that oversees tracking somewhere.
pub fn is_overseer(grants: &[RoleGrant]) -> bool {
    grants.iter().any(|g| OVERSEERS.contains(&g.role))
}
