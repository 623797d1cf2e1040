//! Travel authorisations from agencies' ERP systems, and travellers' profiles.

use crate::api::{Body, Path, Query};
use crate::auth::{ApiUser, Authed};
use crate::erp::{at_field, build_tas, TaInput};
use crate::error::{ApiError, ApiResult, Problem};
use crate::service;
use crate::state::AppState;
use crate::trips::{LegInput, Resolver};
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use warden_domain::role::has_role;
use warden_domain::Role;

/// At most this many TAs per request.
pub const MAX_BATCH: usize = 1000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaLeg {
    /// Area code, IATA airport code or city.
    pub from: String,
    pub to: String,
    /// RFC 3339, or local `YYYY-MM-DDTHH:MM` at `from`.
    pub depart: String,
    /// RFC 3339, or local `YYYY-MM-DDTHH:MM` at `to`.
    pub arrive: String,
    /// Flight number or airline designator.
    #[serde(default)]
    pub flight: Option<String>,
}

/// A travel authorisation as the ERP knows it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaBody {
    /// The ERP's TA number: sending it again updates the same trip.
    pub ta_number: String,
    /// The traveller's personnel id in the agency (as in the imported profiles).
    pub traveller: String,
    /// official (default), entitlement or personal
    #[serde(default)]
    pub purpose: Option<String>,
    /// The TA's status in the ERP: approved, issued, pending, submitted,
    /// completed, amended, or cancelled (cancels the trip).
    #[serde(default)]
    pub status: Option<String>,
    pub legs: Vec<TaLeg>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AgencyParam {
    /// Agency code (administrators; a focal point's own agency by default).
    pub agency: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaResultDto {
    pub ta_number: String,
    /// The travel request the TA created or updated.
    pub request: Uuid,
    /// created, updated, unchanged or cancelled
    pub outcome: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaResponse {
    pub results: Vec<TaResultDto>,
}

/// The agency whose ERP `who` speaks for.
pub async fn erp_agency(state: &AppState, who: &Authed, code: Option<&str>) -> ApiResult<Uuid> {
    let admin = service::is_admin(who);
    let focal: Vec<Option<Uuid>> = who
        .user
        .grants
        .iter()
        .filter(|g| g.role == Role::AgencyFocalPoint)
        .map(|g| g.agency.or(who.user.agency))
        .collect();
    if !admin && focal.is_empty() {
        return Err(ApiError::forbidden(
            "only an agency focal point (or an administrator) sends travel authorisations",
        ));
    }
    let agency = match code.map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) => {
            state
                .store
                .get_agency_by_code(c)
                .await?
                .ok_or_else(|| ApiError::invalid("agency", format!("there is no agency {c}")))?
                .id
        }
        None => match focal.iter().flatten().next() {
            Some(a) => *a,
            None => return Err(ApiError::invalid("agency", "give the agency code")),
        },
    };
    if !admin && !focal.contains(&Some(agency)) {
        return Err(ApiError::forbidden("you speak only for your own agency"));
    }
    Ok(agency)
}

/// Create or update trips from travel authorisations: one TA object, or an
/// array of up to 1,000. Each is matched by agency and TA number, so sending
/// the same TA again changes nothing; a changed TA updates its trip (legs whose
/// place and times did not change keep their decisions); a cancelled TA
/// cancels it. Legs into manual areas still need their own clearance. A batch
/// with any invalid TA is refused whole, naming the field (`[3].legs[0].to`).
#[utoipa::path(post, path = "/api/v1/travel-authorisations", tag = "trips", security(("bearer" = [])),
    params(AgencyParam), request_body(content = Vec<TaBody>, description = "One TA object or an array of them"),
    responses((status = 200, body = TaResponse), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn post_tas(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Query(q): Query<AgencyParam>,
    Body(v): Body<serde_json::Value>,
) -> ApiResult<Json<TaResponse>> {
    let agency = erp_agency(&state, &who, q.agency.as_deref()).await?;
    let (items, batch) = match v {
        serde_json::Value::Array(a) => (a, true),
        o @ serde_json::Value::Object(_) => (vec![o], false),
        _ => {
            return Err(ApiError::invalid(
                "body",
                "send a TA object or an array of them",
            ))
        }
    };
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(ApiError::invalid(
            "body",
            format!("send 1 to {MAX_BATCH} TAs"),
        ));
    }
    let prefix = |i: usize| {
        if batch {
            format!("[{i}]")
        } else {
            String::new()
        }
    };
    let mut inputs = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let b: TaBody = serde_json::from_value(item).map_err(|e| {
            let p = prefix(i);
            ApiError::invalid(if p.is_empty() { "body".into() } else { p }, e.to_string())
        })?;
        inputs.push(TaInput {
            ta_number: b.ta_number,
            traveller: b.traveller,
            purpose: b.purpose,
            status: b.status,
            legs: b
                .legs
                .into_iter()
                .map(|l| LegInput {
                    from: l.from,
                    to: l.to,
                    depart: l.depart,
                    arrive: l.arrive,
                    flight: l.flight,
                })
                .collect(),
        });
    }
    let built = build_tas(&state, &mut Resolver::default(), agency, &inputs).await?;
    let mut tas = Vec::with_capacity(built.len());
    for (i, r) in built.into_iter().enumerate() {
        match r {
            Ok(t) => tas.push(t),
            Err(e) if batch => return Err(at_field(&prefix(i), e)),
            Err(e) => return Err(e),
        }
    }
    let results = state
        .store
        .apply_travel_authorisations(agency, who.user.id, &tas, &who.audit())
        .await?;
    Ok(Json(TaResponse {
        results: results
            .into_iter()
            .map(|r| TaResultDto {
                ta_number: r.ta_number,
                request: r.request,
                outcome: r.outcome.as_str().into(),
            })
            .collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateDto {
    pub name: String,
    pub completed_on: NaiveDate,
    pub expires_on: Option<NaiveDate>,
    /// Valid today.
    pub valid: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContactDto {
    pub name: String,
    pub relation: String,
    pub phone: String,
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileDto {
    pub user: Uuid,
    pub username: String,
    pub name: String,
    pub email: String,
    pub agency: String,
    pub personnel_id: String,
    /// international_staff, national_staff, consultant, contractor, dependant, other
    pub category: String,
    pub nationality: Option<String>,
    pub phone: String,
    pub duty_station: Option<String>,
    pub emergency_contacts: Vec<ContactDto>,
    pub certificates: Vec<CertificateDto>,
    pub updated_at: DateTime<Utc>,
}

pub fn certificates_dto(c: &[warden_domain::people::Certificate]) -> Vec<CertificateDto> {
    let today = Utc::now().date_naive();
    c.iter()
        .map(|c| CertificateDto {
            name: c.name.clone(),
            completed_on: c.completed_on,
            expires_on: c.expires_on,
            valid: c.valid_on(today),
        })
        .collect()
}

/// A traveller's profile: the person, administrators, and their agency's focal points.
#[utoipa::path(get, path = "/api/v1/profiles/{user}", tag = "trips", security(("bearer" = [])),
    params(("user" = Uuid, Path, description = "The traveller's user id")),
    responses((status = 200, body = ProfileDto), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_profile(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Path(user): Path<Uuid>,
) -> ApiResult<Json<ProfileDto>> {
    let p = state
        .store
        .get_profile(user)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("profile {user}")))?;
    let focal_here = who.user.grants.iter().any(|g| {
        g.role == Role::AgencyFocalPoint && g.agency.or(who.user.agency) == Some(p.agency)
    });
    if !(p.user == who.user.id || has_role(&who.user.grants, Role::Administrator) || focal_here) {
        return Err(ApiError::not_found(format!("profile {user}")));
    }
    Ok(Json(profile_dto(p)))
}

pub fn profile_dto(p: warden_store::Profile) -> ProfileDto {
    ProfileDto {
        user: p.user,
        username: p.username,
        name: p.display_name,
        email: p.email,
        agency: p.agency_code,
        personnel_id: p.personnel_id,
        category: p.category.as_str().into(),
        nationality: p.nationality.map(|c| c.to_string()),
        phone: p.phone,
        duty_station: p.duty_station.map(|a| a.to_string()),
        emergency_contacts: p
            .emergency_contacts
            .into_iter()
            .map(|c| ContactDto {
                name: c.name,
                relation: c.relation,
                phone: c.phone,
                email: c.email,
            })
            .collect(),
        certificates: certificates_dto(&p.certificates),
        updated_at: p.updated_at,
    }
}
