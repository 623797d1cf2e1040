//! Travel authorisations from agencies' ERP systems (JSON and CSV), and
//! travellers' profiles from legacy systems: parsing and checking shared by the
//! API and the `warden import` commands.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::trips::{build_legs_with, LegInput, Resolver};
use std::collections::HashMap;
use uuid::Uuid;
use warden_domain::people::{Certificate, EmergencyContact, PersonnelCategory};
use warden_domain::trip::TripPurpose;
use warden_domain::{AreaCode, CountryCode};
use warden_store::{ProfileInput, TravelAuthorisation};

/// A TA as an ERP sends it.
#[derive(Debug, Clone, Default)]
pub struct TaInput {
    pub ta_number: String,
    /// The traveller's personnel id in the agency.
    pub traveller: String,
    /// official (default), entitlement or personal
    pub purpose: Option<String>,
    /// The TA's status in the ERP; `cancelled` cancels the trip.
    pub status: Option<String>,
    pub legs: Vec<LegInput>,
}

/// Prefix an error's field (`legs[0].to` → `[3].legs[0].to`).
pub fn at_field(prefix: &str, mut e: ApiError) -> ApiError {
    if let Some(f) = &e.field {
        let f = format!("{prefix}{}{f}", if f.starts_with('[') { "" } else { "." });
        e.detail = format!("{f}: {}", e.message());
        e.field = Some(f);
    }
    e
}

fn is_cancelled(status: Option<&str>) -> ApiResult<bool> {
    match status.map(|s| s.trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(s) if s.is_empty() => Ok(false),
        Some(s) if s == "cancelled" || s == "canceled" => Ok(true),
        Some(s) if ["approved", "issued", "pending", "submitted", "completed", "amended"]
            .contains(&s.as_str()) =>
        {
            Ok(false)
        }
        Some(s) => Err(ApiError::invalid(
            "status",
            format!("`{s}` is not a TA status; expected approved, issued, pending, submitted, completed, amended or cancelled"),
        )),
    }
}

/// Check and resolve TAs; one result per input (errors name fields of that TA).
pub async fn build_tas(
    state: &AppState,
    places: &mut Resolver,
    agency: Uuid,
    input: &[TaInput],
) -> ApiResult<Vec<ApiResult<TravelAuthorisation>>> {
    let ids: Vec<String> = input
        .iter()
        .map(|t| t.traveller.trim().to_string())
        .collect();
    let users: HashMap<String, Uuid> = state.store.profile_users(agency, &ids).await?;
    let mut out = Vec::with_capacity(input.len());
    for t in input {
        out.push(build_one(state, places, &users, t).await);
    }
    Ok(out)
}

async fn build_one(
    state: &AppState,
    places: &mut Resolver,
    users: &HashMap<String, Uuid>,
    t: &TaInput,
) -> ApiResult<TravelAuthorisation> {
    let ta_number = t.ta_number.trim();
    if ta_number.is_empty() {
        return Err(ApiError::invalid("ta_number", "give the TA number"));
    }
    if ta_number.chars().count() > 64 {
        return Err(ApiError::invalid("ta_number", "at most 64 characters"));
    }
    let traveller = t.traveller.trim();
    let Some(user) = users.get(traveller) else {
        return Err(ApiError::invalid(
            "traveller",
            format!("no traveller with personnel id `{traveller}` in this agency: import the profiles first"),
        ));
    };
    let purpose = match t.purpose.as_deref().map(str::trim) {
        None | Some("") => TripPurpose::Official,
        Some(p) => TripPurpose::parse(p)?,
    };
    let cancelled = is_cancelled(t.status.as_deref())?;
    let legs = build_legs_with(state, places, &t.legs).await?;
    Ok(TravelAuthorisation {
        ta_number: ta_number.to_string(),
        traveller: *user,
        purpose,
        cancelled,
        legs,
    })
}

/// A profile row as a legacy system exports it (see docs/import-formats.md).
#[derive(Debug, Clone, Default)]
pub struct ProfileRow {
    pub personnel_id: String,
    pub name: String,
    pub email: String,
    pub category: String,
    pub nationality: String,
    pub phone: String,
    pub duty_station: String,
    /// `name|relation|phone|email`, several separated by `;`.
    pub emergency_contacts: String,
    /// `NAME:completed[:expires]` dates as YYYY-MM-DD, several separated by `;`.
    pub certificates: String,
}

fn parse_date(s: &str, field: &str) -> ApiResult<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| ApiError::invalid(field, format!("`{}` is not a date (YYYY-MM-DD)", s.trim())))
}

/// Check one profile row.
pub async fn build_profile(
    state: &AppState,
    agency: Uuid,
    r: &ProfileRow,
) -> ApiResult<ProfileInput> {
    let personnel_id = r.personnel_id.trim();
    if personnel_id.is_empty() || personnel_id.chars().count() > 64 {
        return Err(ApiError::invalid(
            "personnel_id",
            "give the personnel id (at most 64 characters)",
        ));
    }
    if personnel_id.contains(['/', ' ']) {
        return Err(ApiError::invalid("personnel_id", "no spaces or slashes"));
    }
    let name = r.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid(
            "name",
            "give the name (at most 200 characters)",
        ));
    }
    let email = r.email.trim();
    if !email.is_empty() && (!email.contains('@') || email.contains(' ') || email.len() > 254) {
        return Err(ApiError::invalid(
            "email",
            format!("`{email}` is not an e-mail address"),
        ));
    }
    let category = PersonnelCategory::parse(&r.category)?;
    let nationality = match r.nationality.trim() {
        "" => None,
        c => Some(CountryCode::parse(c).map_err(|_| {
            ApiError::invalid(
                "nationality",
                format!("`{c}` is not an ISO 3166 country code"),
            )
        })?),
    };
    let duty_station = match r.duty_station.trim() {
        "" => None,
        c => {
            let code = AreaCode::parse(c).map_err(|_| {
                ApiError::invalid("duty_station", format!("`{c}` is not an area code"))
            })?;
            if state.geo().index.get(code.as_str()).is_none()
                && state.store.get_area(&code).await?.is_none()
            {
                return Err(ApiError::invalid(
                    "duty_station",
                    format!("there is no area {code}"),
                ));
            }
            Some(code)
        }
    };
    let mut emergency_contacts = vec![];
    for (i, c) in r
        .emergency_contacts
        .split(';')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .enumerate()
    {
        let parts: Vec<&str> = c.split('|').map(str::trim).collect();
        if parts[0].is_empty() || parts.len() > 4 {
            return Err(ApiError::invalid(
                format!("emergency_contacts[{i}]"),
                "write name|relation|phone|email (relation, phone and e-mail may be empty)",
            ));
        }
        emergency_contacts.push(EmergencyContact {
            name: parts[0].into(),
            relation: parts.get(1).unwrap_or(&"").to_string(),
            phone: parts.get(2).unwrap_or(&"").to_string(),
            email: parts.get(3).unwrap_or(&"").to_string(),
        });
    }
    let mut certificates = vec![];
    for (i, c) in r
        .certificates
        .split(';')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .enumerate()
    {
        let f = format!("certificates[{i}]");
        let parts: Vec<&str> = c.split(':').map(str::trim).collect();
        if parts.len() < 2 || parts.len() > 3 || parts[0].is_empty() {
            return Err(ApiError::invalid(
                f,
                "write NAME:YYYY-MM-DD[:YYYY-MM-DD] (completed, expires)",
            ));
        }
        let completed_on = parse_date(parts[1], &f)?;
        let expires_on = parts.get(2).map(|d| parse_date(d, &f)).transpose()?;
        if expires_on.is_some_and(|e| e < completed_on) {
            return Err(ApiError::invalid(f, "expires before it was completed"));
        }
        certificates.push(Certificate {
            name: parts[0].into(),
            completed_on,
            expires_on,
        });
    }
    Ok(ProfileInput {
        agency,
        personnel_id: personnel_id.to_string(),
        display_name: name.to_string(),
        email: email.to_string(),
        category,
        nationality,
        phone: r.phone.trim().to_string(),
        duty_station,
        emergency_contacts,
        certificates,
    })
}
