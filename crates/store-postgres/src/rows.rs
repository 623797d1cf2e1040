//! Decoding rows into records, and the small conversions around them.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{Decode, Postgres, Row, Type};
use uuid::Uuid;
use warden_domain::{
    AreaCode, AssessmentStatus, CountryCode, Role, RoleGrant, Scope, SecurityLevel,
};
use warden_store::*;

/// The agency of a grant without one. SQLite uses the empty string; here the
/// column is a uuid, so the nil UUID plays that part and keeps the primary
/// key NOT NULL.
pub(crate) const NO_AGENCY: Uuid = Uuid::nil();

/// Maps a driver error to a store error: unique violations are conflicts,
/// foreign key violations invalid references, everything else a backend
/// failure. Callers refine the conflict message where they know the cause.
pub(crate) fn be(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(d) = &e {
        if d.is_unique_violation() {
            return StoreError::Conflict(d.message().to_string());
        }
        if d.is_foreign_key_violation() {
            return StoreError::Invalid {
                field: "reference".into(),
                message: d.message().to_string(),
            };
        }
    }
    StoreError::Backend(e.to_string())
}

/// A column of a row, with a decoding failure reported as a backend error
/// rather than a panic.
pub(crate) fn col<'r, T>(r: &'r PgRow, name: &str) -> Result<T>
where
    T: Decode<'r, Postgres> + Type<Postgres>,
{
    r.try_get(name)
        .map_err(|e| StoreError::Backend(format!("column {name}: {e}")))
}

/// A JSON (jsonb) column decoded into `T`.
pub(crate) fn json_col<T: serde::de::DeserializeOwned>(r: &PgRow, name: &str) -> Result<T> {
    Ok(col::<Json<T>>(r, name)?.0)
}

/// A nullable JSON column.
pub(crate) fn opt_json_col<T: serde::de::DeserializeOwned>(
    r: &PgRow,
    name: &str,
) -> Result<Option<T>> {
    Ok(col::<Option<Json<T>>>(r, name)?.map(|j| j.0))
}

pub(crate) fn level(n: Option<i16>) -> Result<Option<SecurityLevel>> {
    n.map(|n| SecurityLevel::new(n as i64).map_err(|e| StoreError::Backend(e.to_string())))
        .transpose()
}

pub(crate) fn required_level(n: i16) -> Result<SecurityLevel> {
    SecurityLevel::new(n as i64).map_err(|e| StoreError::Backend(e.to_string()))
}

pub(crate) fn level_db(l: SecurityLevel) -> i16 {
    l.get() as i16
}

pub(crate) fn status(s: &str) -> Result<AssessmentStatus> {
    AssessmentStatus::parse(s).ok_or_else(|| StoreError::Backend(format!("bad status {s}")))
}

pub(crate) fn area_code(s: &str) -> Result<AreaCode> {
    AreaCode::parse(s).map_err(|e| StoreError::Backend(e.to_string()))
}

pub(crate) fn country_code(s: &str) -> Result<CountryCode> {
    CountryCode::parse(s).map_err(|e| StoreError::Backend(e.to_string()))
}

pub(crate) const AREA_COLS: &str =
    "code, iso_3166_2, country, name, names, kind, subtype, label_lon, label_lat, members, level, level_since, level_assessment";

/// `AREA_COLS` qualified with a table alias.
pub(crate) fn area_cols_of(alias: &str) -> String {
    AREA_COLS
        .split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn area_row(r: &PgRow) -> Result<Area> {
    Ok(Area {
        code: area_code(&col::<String>(r, "code")?)?,
        iso_3166_2: col(r, "iso_3166_2")?,
        country: country_code(&col::<String>(r, "country")?)?,
        name: col(r, "name")?,
        names: json_col(r, "names")?,
        kind: AreaKind::parse(&col::<String>(r, "kind")?),
        subtype: col(r, "subtype")?,
        label_lon: col(r, "label_lon")?,
        label_lat: col(r, "label_lat")?,
        members: json_col(r, "members")?,
        level: level(col(r, "level")?)?,
        level_since: col(r, "level_since")?,
        level_assessment: col(r, "level_assessment")?,
    })
}

pub(crate) fn country_row(r: &PgRow) -> Result<Country> {
    Ok(Country {
        alpha2: country_code(&col::<String>(r, "alpha2")?)?,
        alpha3: col(r, "alpha3")?,
        name: col(r, "name")?,
        names: json_col(r, "names")?,
        region: col(r, "region")?,
    })
}

pub(crate) const ASSESSMENT_FROM: &str =
    "FROM assessments a JOIN areas ar ON ar.code = a.area_code JOIN users u ON u.id = a.author_id";

pub(crate) const ASSESSMENT_SELECT: &str = "SELECT a.id, a.area_code, ar.name AS area_name, ar.country AS country, a.author_id, \
     u.display_name AS author_name, a.proposed_level, a.previous_level, a.ratings, a.narrative, a.advisory_text, \
     a.measures, a.mitigation_text, a.status, a.created_at, a.updated_at \
     FROM assessments a JOIN areas ar ON ar.code = a.area_code JOIN users u ON u.id = a.author_id";

pub(crate) fn assessment_row(r: &PgRow) -> Result<Assessment> {
    Ok(Assessment {
        id: col(r, "id")?,
        area: area_code(&col::<String>(r, "area_code")?)?,
        area_name: col(r, "area_name")?,
        country: country_code(&col::<String>(r, "country")?)?,
        author: col(r, "author_id")?,
        author_name: col(r, "author_name")?,
        proposed_level: required_level(col(r, "proposed_level")?)?,
        previous_level: level(col(r, "previous_level")?)?,
        ratings: json_col(r, "ratings")?,
        narrative: col(r, "narrative")?,
        advisory_text: col(r, "advisory_text")?,
        measures: json_col(r, "measures")?,
        mitigation_text: col(r, "mitigation_text")?,
        status: status(&col::<String>(r, "status")?)?,
        created_at: col(r, "created_at")?,
        updated_at: col(r, "updated_at")?,
    })
}

pub(crate) fn event_row(r: &PgRow) -> Result<AssessmentEvent> {
    Ok(AssessmentEvent {
        seq: col(r, "seq")?,
        action: col(r, "action")?,
        actor: col(r, "actor_id")?,
        actor_name: col(r, "actor_name")?,
        from_status: col::<Option<String>>(r, "from_status")?
            .as_deref()
            .map(status)
            .transpose()?,
        to_status: status(&col::<String>(r, "to_status")?)?,
        reason: col(r, "reason")?,
        smt_consulted: json_col(r, "smt_consulted")?,
        at: col(r, "at")?,
    })
}

pub(crate) const USER_COLS: &str =
    "id, username, display_name, email, agency_id, password_hash, totp_secret, \
     totp_enabled, disabled, locale, created_at";

pub(crate) fn user_row(r: &PgRow, grants: Vec<RoleGrant>) -> Result<User> {
    Ok(User {
        id: col(r, "id")?,
        username: col(r, "username")?,
        display_name: col(r, "display_name")?,
        email: col(r, "email")?,
        agency: col(r, "agency_id")?,
        password_hash: col(r, "password_hash")?,
        totp_secret: col(r, "totp_secret")?,
        totp_enabled: col(r, "totp_enabled")?,
        disabled: col(r, "disabled")?,
        locale: col(r, "locale")?,
        grants,
        created_at: col(r, "created_at")?,
    })
}

pub(crate) fn grant_row(r: &PgRow) -> Result<RoleGrant> {
    let agency: Uuid = col(r, "agency_id")?;
    Ok(RoleGrant {
        role: Role::parse(&col::<String>(r, "role")?)
            .map_err(|e| StoreError::Backend(e.to_string()))?,
        scope: Scope::parse(&col::<String>(r, "scope")?)
            .map_err(|e| StoreError::Backend(e.to_string()))?,
        agency: if agency == NO_AGENCY {
            None
        } else {
            Some(agency)
        },
    })
}

pub(crate) fn session_row(r: &PgRow) -> Result<Session> {
    Ok(Session {
        digest: col(r, "digest")?,
        user_id: col(r, "user_id")?,
        kind: if col::<String>(r, "kind")? == "api" {
            SessionKind::Api
        } else {
            SessionKind::Web
        },
        two_factor: col(r, "two_factor")?,
        created_at: col(r, "created_at")?,
        expires_at: col(r, "expires_at")?,
        ip: col(r, "ip")?,
    })
}

pub(crate) fn measure_row(r: &PgRow) -> Result<Measure> {
    Ok(Measure {
        id: col(r, "id")?,
        code: col(r, "code")?,
        title: col(r, "title")?,
        description: col(r, "description")?,
        category: col(r, "category")?,
        country: col::<Option<String>>(r, "country")?
            .as_deref()
            .map(country_code)
            .transpose()?,
    })
}

pub(crate) fn level_change_row(r: &PgRow, area: &AreaCode) -> Result<LevelChange> {
    Ok(LevelChange {
        id: col(r, "id")?,
        area: area.clone(),
        old_level: level(col(r, "old_level")?)?,
        new_level: required_level(col(r, "new_level")?)?,
        assessment: col(r, "assessment_id")?,
        approved_by: col(r, "approved_by")?,
        approved_by_name: col(r, "approver")?,
        reason: col(r, "reason")?,
        at: col(r, "at")?,
    })
}

pub(crate) fn advisory_change_row(r: &PgRow) -> Result<AdvisoryChange> {
    Ok(AdvisoryChange {
        id: col(r, "id")?,
        country: country_code(&col::<String>(r, "country")?)?,
        area: area_code(&col::<String>(r, "area_code")?)?,
        area_name: col(r, "area_name")?,
        version: col(r, "version")?,
        kind: col(r, "kind")?,
        old_level: level(col(r, "old_level")?)?,
        new_level: level(col(r, "new_level")?)?,
        summary: col(r, "summary")?,
        at: col(r, "at")?,
    })
}

pub(crate) fn audit_row(r: &PgRow) -> Result<AuditEntry> {
    Ok(AuditEntry {
        seq: col(r, "seq")?,
        at: col::<DateTime<Utc>>(r, "at")?,
        actor: col(r, "actor_id")?,
        actor_name: col(r, "actor_name")?,
        ip: col(r, "ip")?,
        action: col(r, "action")?,
        target: col(r, "target")?,
        detail: col(r, "detail")?,
        prev_hash: col(r, "prev_hash")?,
        hash: col(r, "hash")?,
    })
}

/// How a level reads in an advisory change summary, e.g. `4 (Substantial)`.
pub(crate) fn level_phrase(l: Option<i16>) -> String {
    match l.and_then(|l| SecurityLevel::new(l as i64).ok()) {
        Some(l) => format!("{} ({})", l.get(), l.name()),
        None => "none".into(),
    }
}
