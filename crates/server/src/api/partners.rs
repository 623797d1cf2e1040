//! Exchange with other agencies' systems (issue 5 item 4; 2019 report ¶84
//! and footnote 14, IOM's SCAAN): a registry of partner systems kept by
//! administrators; each partner, with its own bearer token, reports its
//! agency's headcounts per area (the exchange format below) and reads the
//! CAP 1.2 messages published to partners (advisory changes, roll calls),
//! which are also pushed to its URL when it has one.

use crate::api::{parse_json, Body, Path, Query};
use crate::auth::{client_ip, ApiUser};
use crate::error::{ApiError, ApiResult, Code, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use warden_domain::people::PersonnelCategory;
use warden_domain::AreaCode;
use warden_store::{
    AuditContext, CapMessage, CapSubject, Partner, PartnerHeadcount, PartnerHeadcountInput,
    PartnerReportOutcome, PartnerRollCallFigures,
};

/// How far in the future a report's `as_of` may be (clock skew).
pub const MAX_SKEW_MINUTES: i64 = 5;
/// Reports in one submission.
pub const MAX_REPORTS: usize = 1000;
/// Largest figure accepted for one area.
pub const MAX_PEOPLE: i64 = 10_000_000;
const MAX_REFERENCE_CHARS: usize = 200;
/// Prefix of partner tokens (to tell them from session tokens in logs).
pub const TOKEN_PREFIX: &str = "wpt_";

// ---------------------------------------------------------------------------
// Registry (administrators)
// ---------------------------------------------------------------------------

/// A partner system to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPartnerRequest {
    /// Short identifier used in URLs: 2-32 characters, lower-case letters,
    /// digits, `-` and `_`, e.g. `iom-scaan`.
    pub code: String,
    /// Name of the system, e.g. `IOM SCAAN`.
    pub name: String,
    /// Code of the agency whose figures the partner may report, e.g. `IOM`.
    pub agency: String,
    /// Where CAP messages are POSTed (`http://…`); none: the partner pulls
    /// its feed only.
    #[serde(default)]
    pub push_url: Option<String>,
}

/// A registered partner system.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerDto {
    pub code: String,
    pub name: String,
    pub agency: Uuid,
    pub agency_code: String,
    pub push_url: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When its token was revoked (it then reports nothing and receives nothing).
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<Partner> for PartnerDto {
    fn from(p: Partner) -> Self {
        PartnerDto {
            code: p.code,
            name: p.name,
            agency: p.agency,
            agency_code: p.agency_code,
            push_url: p.push_url,
            created_at: p.created_at,
            revoked_at: p.revoked_at,
        }
    }
}

/// A partner just registered, with its token: shown once, stored only as a
/// SHA-256 digest.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedPartner {
    pub partner: PartnerDto,
    /// The partner's bearer token (`Authorization: Bearer …`). Not shown again.
    pub token: String,
}

fn admin(who: &crate::auth::Authed) -> ApiResult<()> {
    if crate::service::is_admin(who) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "the partner registry needs the administrator role",
        ))
    }
}

fn check_code(code: &str) -> ApiResult<()> {
    let ok = (2..=32).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "code",
            format!("`{code}` is not a partner code: 2-32 lower-case letters, digits, `-` or `_`"),
        ))
    }
}

/// A push URL: absolute `http://` with a host. (This build speaks plain
/// HTTP to partners; put HTTPS endpoints behind a local TLS proxy.)
pub fn check_push_url(url: &str) -> ApiResult<String> {
    let url = url.trim();
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| ApiError::invalid("push_url", format!("`{url}` is not a URL: {e}")))?;
    if parsed.scheme() != "http" {
        return Err(ApiError::invalid(
            "push_url",
            format!(
                "`{url}`: only http:// push URLs are supported (put an HTTPS endpoint behind a TLS-terminating proxy)"
            ),
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(ApiError::invalid(
            "push_url",
            format!("`{url}` has no host"),
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ApiError::invalid(
            "push_url",
            "credentials in the URL are not accepted",
        ));
    }
    Ok(url.to_string())
}

/// Registers a partner: validates, makes a token, stores its digest.
/// Shared by the API and the `warden partner add` command.
pub async fn register(
    state: &AppState,
    req: NewPartnerRequest,
    audit: &AuditContext,
) -> ApiResult<CreatedPartner> {
    let code = req.code.trim().to_string();
    check_code(&code)?;
    let name = req.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid("name", "give a name of 1-200 characters"));
    }
    let agency = state
        .store
        .get_agency_by_code(req.agency.trim())
        .await?
        .ok_or_else(|| ApiError::invalid("agency", format!("no agency {}", req.agency.trim())))?;
    let push_url = match req.push_url.as_deref() {
        None => None,
        Some(u) if u.trim().is_empty() => None,
        Some(u) => Some(check_push_url(u)?),
    };
    let token = format!("{TOKEN_PREFIX}{}", warden_auth::random_token());
    let p = state
        .store
        .create_partner(
            &warden_store::NewPartner {
                code,
                name,
                agency: agency.id,
                push_url,
                token_digest: warden_auth::token_digest(&token),
            },
            audit,
        )
        .await?;
    Ok(CreatedPartner {
        partner: p.into(),
        token,
    })
}

/// Register a partner system (administrators). The answer carries its
/// token, once.
#[utoipa::path(post, path = "/api/v1/partners", tag = "partners", security(("bearer" = [])),
    request_body = NewPartnerRequest,
    responses((status = 201, body = CreatedPartner),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Body(body): Body<NewPartnerRequest>,
) -> ApiResult<(StatusCode, Json<CreatedPartner>)> {
    admin(&who)?;
    let created = register(&state, body, &who.audit()).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The partner systems, revoked ones too (administrators).
#[utoipa::path(get, path = "/api/v1/partners", tag = "partners", security(("bearer" = [])),
    responses((status = 200, body = Vec<PartnerDto>),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
) -> ApiResult<Json<Vec<PartnerDto>>> {
    admin(&who)?;
    Ok(Json(
        state
            .store
            .list_partners()
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// Revoke a partner (administrators): its token stops working at once and
/// pushes not yet made to it are cancelled; the figures it sent stay. A
/// second revocation is 409.
#[utoipa::path(delete, path = "/api/v1/partners/{partner}", tag = "partners", security(("bearer" = [])),
    params(("partner" = String, Path, description = "Partner code")),
    responses((status = 200, body = PartnerDto),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn revoke(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Path(code): Path<String>,
) -> ApiResult<Json<PartnerDto>> {
    admin(&who)?;
    Ok(Json(
        state
            .store
            .revoke_partner(&code, &who.audit())
            .await?
            .into(),
    ))
}

// ---------------------------------------------------------------------------
// Partner authentication
// ---------------------------------------------------------------------------

/// The partner calling `/partners/{code}/…`: its own token, not revoked.
/// No token, an unknown one (a user's session is not a partner token) or a
/// revoked one is 401; another partner's token is 403.
pub struct PartnerCaller {
    pub partner: Partner,
    pub ip: Option<String>,
}

impl PartnerCaller {
    pub fn audit(&self) -> AuditContext {
        AuditContext {
            actor: None,
            actor_name: format!("partner:{}", self.partner.code),
            ip: self.ip.clone(),
            at: warden_store::now_micros(),
        }
    }
}

impl axum::extract::FromRequestParts<AppState> for PartnerCaller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let unauth = |m: &str| {
            let mut e = ApiError::new(Code::Unauthenticated, m.to_string());
            e.field = None;
            e
        };
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauth("send the partner's token: Authorization: Bearer <token>"))?;
        let partner = state
            .store
            .partner_by_token(&warden_auth::token_digest(token))
            .await?
            .ok_or_else(|| unauth("this is not a partner token"))?;
        if partner.revoked_at.is_some() {
            return Err(unauth("this partner's token has been revoked"));
        }
        // Under the nested `/api/v1` router the path arrives without it.
        let path = parts.uri.path();
        let code = path
            .strip_prefix("/api/v1")
            .unwrap_or(path)
            .strip_prefix("/partners/")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or("");
        let code = percent_encoding::percent_decode_str(code).decode_utf8_lossy();
        if code != partner.code {
            return Err(ApiError::forbidden(format!(
                "this token belongs to partner {}, not {code}",
                partner.code
            )));
        }
        Ok(PartnerCaller {
            partner,
            ip: client_ip(parts),
        })
    }
}

// ---------------------------------------------------------------------------
// The headcount exchange format
// ---------------------------------------------------------------------------

/// People by personnel category. Categories not given count as unknown
/// (their people may be in `total` only); the sum may not exceed `total`.
#[derive(Debug, Default, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryCounts {
    /// International staff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub international_staff: Option<i64>,
    /// National staff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub national_staff: Option<i64>,
    /// Consultants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consultant: Option<i64>,
    /// Contractors and other non-staff personnel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contractor: Option<i64>,
    /// Eligible dependants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependant: Option<i64>,
    /// Anyone else counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other: Option<i64>,
}

impl CategoryCounts {
    fn pairs(&self) -> [(PersonnelCategory, Option<i64>); 6] {
        [
            (
                PersonnelCategory::InternationalStaff,
                self.international_staff,
            ),
            (PersonnelCategory::NationalStaff, self.national_staff),
            (PersonnelCategory::Consultant, self.consultant),
            (PersonnelCategory::Contractor, self.contractor),
            (PersonnelCategory::Dependant, self.dependant),
            (PersonnelCategory::Other, self.other),
        ]
    }

    fn from_map(m: &BTreeMap<String, i64>) -> CategoryCounts {
        let g = |c: PersonnelCategory| m.get(c.as_str()).copied();
        CategoryCounts {
            international_staff: g(PersonnelCategory::InternationalStaff),
            national_staff: g(PersonnelCategory::NationalStaff),
            consultant: g(PersonnelCategory::Consultant),
            contractor: g(PersonnelCategory::Contractor),
            dependant: g(PersonnelCategory::Dependant),
            other: g(PersonnelCategory::Other),
        }
    }
}

/// The partner's own roll-call ("are you safe?") figures for the area at
/// `as_of`; their sum may not exceed `total`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollCallFigures {
    /// People who said they are safe.
    pub accounted: i64,
    /// People who asked for help (or for whom someone did).
    pub needs_help: i64,
    /// People asked who have not answered.
    pub no_answer: i64,
}

/// One headcount report: how many of the partner's agency's people were in
/// one area at one moment. Idempotent on (partner, `area`, `as_of`): sending
/// the same report again changes nothing; a different report for the same
/// area and moment is refused (409): send it with its own `as_of`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "area": "AF-KAB",
    "as_of": "2026-11-30T12:00:00Z",
    "total": 57,
    "counts": {"international_staff": 9, "national_staff": 38, "dependant": 10},
    "roll_call": {"accounted": 50, "needs_help": 1, "no_answer": 6},
    "reference": "SCAAN-KBL-2026-11-30T12"
}))]
pub struct HeadcountReport {
    /// Warden area code (the SLS area, e.g. `AF-KAB`; `GET /api/v1/areas`).
    pub area: String,
    /// The moment the figures describe, RFC 3339 with an offset (e.g.
    /// `2026-11-30T12:00:00Z`); at most five minutes in the future.
    pub as_of: String,
    /// Everyone of the agency counted in the area (personnel and dependants).
    pub total: i64,
    /// The same people by personnel category.
    #[serde(default)]
    pub counts: CategoryCounts,
    /// The partner's own roll-call figures, if it ran one.
    #[serde(default)]
    pub roll_call: Option<RollCallFigures>,
    /// The partner's own reference of the report (at most 200 characters).
    #[serde(default)]
    pub reference: Option<String>,
}

/// Several reports at once (at most 1,000), taken whole or not at all.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reports": [
    {"area": "AF-KAB", "as_of": "2026-11-30T12:00:00Z", "total": 57,
     "counts": {"international_staff": 9, "national_staff": 38, "dependant": 10}},
    {"area": "AF-HER", "as_of": "2026-11-30T12:00:00Z", "total": 12,
     "counts": {"national_staff": 12}, "reference": "SCAAN-HER-1"}
]}))]
pub struct HeadcountBatch {
    pub reports: Vec<HeadcountReport>,
}

/// The body of `POST /api/v1/partners/{partner}/headcounts`: one report, or
/// a batch `{"reports": […]}`. Errors name the field as `reports[2].area`
/// (or `area` for a single report).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum HeadcountSubmission {
    One(HeadcountReport),
    Batch(HeadcountBatch),
}

fn parse_submission_value(v: Value) -> ApiResult<(bool, Vec<HeadcountReport>)> {
    let bytes = serde_json::to_vec(&v).map_err(ApiError::internal)?;
    if v.as_object().is_some_and(|o| o.contains_key("reports")) {
        Ok((true, parse_json::<HeadcountBatch>(&bytes)?.reports))
    } else if v.is_object() {
        Ok((false, vec![parse_json::<HeadcountReport>(&bytes)?]))
    } else {
        Err(ApiError::invalid(
            "body",
            "send one report (an object) or a batch {\"reports\": […]}",
        ))
    }
}

/// What became of one report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportResult {
    pub area: String,
    pub as_of: DateTime<Utc>,
    /// `created`, or `unchanged` when the same report was received before.
    pub status: String,
}

/// The answer to a submission: 201 when anything was new, else 200.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeadcountReceipt {
    pub partner: String,
    pub agency_code: String,
    pub created: i64,
    pub unchanged: i64,
    /// In the order sent.
    pub results: Vec<ReportResult>,
}

fn validate(
    i: usize,
    batch: bool,
    r: &HeadcountReport,
    now: DateTime<Utc>,
) -> ApiResult<PartnerHeadcountInput> {
    let f = |name: &str| {
        if batch {
            format!("reports[{i}].{name}")
        } else {
            name.to_string()
        }
    };
    let area =
        AreaCode::parse(r.area.trim()).map_err(|e| ApiError::invalid(f("area"), e.to_string()))?;
    let as_of = DateTime::parse_from_rfc3339(r.as_of.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            ApiError::invalid(
                f("as_of"),
                format!(
                    "`{}` is not an RFC 3339 date and time with an offset (e.g. 2026-11-30T12:00:00Z): {e}",
                    r.as_of
                ),
            )
        })?;
    if as_of > now + chrono::Duration::minutes(MAX_SKEW_MINUTES) {
        return Err(ApiError::invalid(
            f("as_of"),
            format!(
                "{} is in the future (more than {MAX_SKEW_MINUTES} minutes ahead of this server's clock)",
                r.as_of
            ),
        ));
    }
    // Stored to the microsecond.
    let as_of = DateTime::from_timestamp_micros(as_of.timestamp_micros()).unwrap_or(as_of);
    let range = |field: String, n: i64| {
        if (0..=MAX_PEOPLE).contains(&n) {
            Ok(())
        } else {
            Err(ApiError::invalid(
                field,
                format!("{n} is not a number of people (0 to {MAX_PEOPLE})"),
            ))
        }
    };
    range(f("total"), r.total)?;
    let mut counts = BTreeMap::new();
    let mut sum = 0;
    for (c, n) in r.counts.pairs() {
        if let Some(n) = n {
            range(f(&format!("counts.{}", c.as_str())), n)?;
            sum += n;
            counts.insert(c.as_str().to_string(), n);
        }
    }
    if sum > r.total {
        return Err(ApiError::invalid(
            f("counts"),
            format!(
                "the categories add up to {sum}, more than the total {}",
                r.total
            ),
        ));
    }
    let roll_call = match r.roll_call {
        None => None,
        Some(rc) => {
            range(f("roll_call.accounted"), rc.accounted)?;
            range(f("roll_call.needs_help"), rc.needs_help)?;
            range(f("roll_call.no_answer"), rc.no_answer)?;
            let s = rc.accounted + rc.needs_help + rc.no_answer;
            if s > r.total {
                return Err(ApiError::invalid(
                    f("roll_call"),
                    format!(
                        "the roll-call figures add up to {s}, more than the total {}",
                        r.total
                    ),
                ));
            }
            Some(PartnerRollCallFigures {
                accounted: rc.accounted,
                needs_help: rc.needs_help,
                no_answer: rc.no_answer,
            })
        }
    };
    let reference = match r.reference.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) if s.chars().count() > MAX_REFERENCE_CHARS || s.chars().any(char::is_control) => {
            return Err(ApiError::invalid(
                f("reference"),
                format!("at most {MAX_REFERENCE_CHARS} characters, no control characters"),
            ))
        }
        Some(s) => Some(s.to_string()),
    };
    Ok(PartnerHeadcountInput {
        area,
        as_of,
        total: r.total,
        counts,
        roll_call,
        reference,
    })
}

/// A store error about `reports[i]…`, renamed for a single report.
fn name_field(e: warden_store::StoreError, batch: bool) -> ApiError {
    let strip = |f: String| {
        if batch {
            f
        } else {
            f.strip_prefix("reports[0].")
                .map(str::to_string)
                .unwrap_or(f)
        }
    };
    match e {
        warden_store::StoreError::Invalid { field, message } => {
            ApiError::invalid(strip(field), message)
        }
        warden_store::StoreError::Conflict(m) => {
            let mut err = ApiError::new(Code::Conflict, m.clone());
            if let Some((field, _)) = m.split_once(':').filter(|(f, _)| f.starts_with("reports[")) {
                err.field = Some(if batch {
                    field.to_string()
                } else {
                    "as_of".to_string()
                });
            }
            err
        }
        other => other.into(),
    }
}

/// Report the partner agency's headcounts: one report or a batch, each for
/// an area at a moment, with counts by personnel category and optionally
/// the partner's own roll-call figures. Authenticated with the partner's
/// own token (`Authorization: Bearer …`). Idempotent on (partner, area,
/// as_of). The figures appear as the agency's in the area's headcount and
/// on roll-call boards. The whole submission is taken or nothing of it.
#[utoipa::path(post, path = "/api/v1/partners/{partner}/headcounts", tag = "partners", security(("partner" = [])),
    params(("partner" = String, Path, description = "The calling partner's code")),
    request_body(content = HeadcountSubmission, description = "One report, or `{\"reports\": [...]}`"),
    responses((status = 201, body = HeadcountReceipt, description = "At least one report was new"),
              (status = 200, body = HeadcountReceipt, description = "Every report was received before: nothing written"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn post_headcounts(
    State(state): State<AppState>,
    caller: PartnerCaller,
    Body(body): Body<Value>,
) -> ApiResult<(StatusCode, Json<HeadcountReceipt>)> {
    let (batch, reports) = parse_submission_value(body)?;
    if batch && reports.is_empty() {
        return Err(ApiError::invalid("reports", "send at least one report"));
    }
    if reports.len() > MAX_REPORTS {
        return Err(ApiError::invalid(
            "reports",
            format!("at most {MAX_REPORTS} reports in one submission"),
        ));
    }
    let now = warden_store::now_micros();
    let mut inputs = Vec::with_capacity(reports.len());
    let mut seen = HashSet::new();
    for (i, r) in reports.iter().enumerate() {
        let input = validate(i, batch, r, now)?;
        if !seen.insert((input.area.clone(), input.as_of)) {
            return Err(ApiError::invalid(
                format!("reports[{i}]"),
                "the same area and as_of appear twice in this submission",
            ));
        }
        inputs.push(input);
    }
    let outcomes = state
        .store
        .submit_partner_headcounts(caller.partner.id, &inputs, &caller.audit())
        .await
        .map_err(|e| name_field(e, batch))?;
    let created = outcomes
        .iter()
        .filter(|o| **o == PartnerReportOutcome::Created)
        .count() as i64;
    let receipt = HeadcountReceipt {
        partner: caller.partner.code.clone(),
        agency_code: caller.partner.agency_code.clone(),
        created,
        unchanged: outcomes.len() as i64 - created,
        results: inputs
            .iter()
            .zip(&outcomes)
            .map(|(r, o)| ReportResult {
                area: r.area.to_string(),
                as_of: r.as_of,
                status: match o {
                    PartnerReportOutcome::Created => "created",
                    PartnerReportOutcome::Unchanged => "unchanged",
                }
                .to_string(),
            })
            .collect(),
    };
    let status = if created > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(receipt)))
}

// ---------------------------------------------------------------------------
// CAP to partners: the pull feed
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
pub struct FeedQuery {
    /// At most this many messages (1-200, default 50).
    pub limit: Option<i64>,
}

/// One CAP message published to partners.
#[derive(Debug, Serialize, ToSchema)]
pub struct CapFeedItem {
    pub id: Uuid,
    /// `advisory` (a change of a country's travel advisory, e.g. a level
    /// change) or `rollcall` (a roll call started: "are you safe?").
    pub kind: String,
    pub headline: String,
    pub sent: DateTime<Utc>,
    /// Where to GET the CAP 1.2 XML, with the same partner token.
    pub cap_url: String,
    /// For `advisory`: the country and the advisory's version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// For `rollcall`: the roll call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roll_call: Option<Uuid>,
}

/// The partner's CAP feed, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct CapFeed {
    pub partner: String,
    pub items: Vec<CapFeedItem>,
}

fn feed_item(code: &str, m: CapMessage) -> CapFeedItem {
    let (country, version, roll_call) = match &m.subject {
        CapSubject::Advisory { country, version } => {
            (Some(country.to_string()), Some(*version), None)
        }
        CapSubject::RollCall { id } => (None, None, Some(*id)),
    };
    CapFeedItem {
        cap_url: format!("/api/v1/partners/{code}/cap/{}", m.id),
        id: m.id,
        kind: m.subject.kind().to_string(),
        headline: m.headline,
        sent: m.created_at,
        country,
        version,
        roll_call,
    }
}

/// CAP messages published to partners (advisory changes and roll calls),
/// newest first, each with the URL of its CAP 1.2 XML. The same messages
/// are pushed to the partner's URL when it has one.
#[utoipa::path(get, path = "/api/v1/partners/{partner}/cap", tag = "partners", security(("partner" = [])),
    params(("partner" = String, Path, description = "The calling partner's code"), FeedQuery),
    responses((status = 200, body = CapFeed),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn cap_feed(
    State(state): State<AppState>,
    caller: PartnerCaller,
    Query(q): Query<FeedQuery>,
) -> ApiResult<Json<CapFeed>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("limit", "between 1 and 200"));
    }
    let code = caller.partner.code.clone();
    let items = state
        .store
        .partner_cap_messages(limit)
        .await?
        .into_iter()
        .map(|m| feed_item(&code, m))
        .collect();
    Ok(Json(CapFeed {
        partner: code,
        items,
    }))
}

/// One CAP 1.2 message published to partners, as XML.
#[utoipa::path(get, path = "/api/v1/partners/{partner}/cap/{id}", tag = "partners", security(("partner" = [])),
    params(("partner" = String, Path, description = "The calling partner's code"), ("id" = Uuid, Path, description = "Message id")),
    responses((status = 200, description = "CAP 1.2 alert", content_type = "application/cap+xml"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn cap_message(
    State(state): State<AppState>,
    _caller: PartnerCaller,
    Path((_code, id)): Path<(String, Uuid)>,
) -> ApiResult<impl IntoResponse> {
    let m = state
        .store
        .get_partner_cap_message(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("CAP message {id}")))?;
    let xml = crate::partners::render_xml(&state, &m).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/cap+xml; charset=utf-8")],
        xml,
    ))
}

// ---------------------------------------------------------------------------
// Partner figures on the headcount and the roll-call board
// ---------------------------------------------------------------------------

/// A partner's latest figure for its agency in one area.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PartnerFigure {
    pub agency: Uuid,
    pub agency_code: String,
    /// The partner system that reported it.
    pub partner: String,
    pub area: String,
    pub as_of: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub total: i64,
    pub counts: CategoryCounts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roll_call: Option<RollCallFigures>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

impl From<PartnerHeadcount> for PartnerFigure {
    fn from(h: PartnerHeadcount) -> Self {
        PartnerFigure {
            agency: h.agency,
            agency_code: h.agency_code,
            partner: h.partner_code,
            area: h.area.to_string(),
            as_of: h.as_of,
            received_at: h.received_at,
            total: h.total,
            counts: CategoryCounts::from_map(&h.counts),
            roll_call: h.roll_call.map(|r| RollCallFigures {
                accounted: r.accounted,
                needs_help: r.needs_help,
                no_answer: r.no_answer,
            }),
            reference: h.reference,
        }
    }
}

/// The latest partner figure per agency of each area, with `as_of` in
/// [from, to]; by area, then agency code.
pub async fn figures(
    state: &AppState,
    areas: &[AreaCode],
    from: Option<DateTime<Utc>>,
    to: DateTime<Utc>,
) -> ApiResult<Vec<PartnerFigure>> {
    Ok(state
        .store
        .partner_headcounts(areas, from, to)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// One agency's partner figures over a roll call's areas.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerAgencyFigures {
    pub agency: Uuid,
    pub agency_code: String,
    /// Sum of the areas' totals.
    pub total: i64,
    /// Sum of the areas' roll-call figures, over the areas that gave them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roll_call: Option<RollCallFigures>,
    /// The latest figure of each area.
    pub areas: Vec<PartnerFigure>,
}

/// Partner figures grouped by agency (by agency code).
pub fn by_agency(figs: Vec<PartnerFigure>) -> Vec<PartnerAgencyFigures> {
    let mut m: BTreeMap<(String, Uuid), PartnerAgencyFigures> = BTreeMap::new();
    for f in figs {
        let e = m
            .entry((f.agency_code.clone(), f.agency))
            .or_insert_with(|| PartnerAgencyFigures {
                agency: f.agency,
                agency_code: f.agency_code.clone(),
                total: 0,
                roll_call: None,
                areas: vec![],
            });
        e.total += f.total;
        if let Some(rc) = f.roll_call {
            let t = e.roll_call.get_or_insert(RollCallFigures {
                accounted: 0,
                needs_help: 0,
                no_answer: 0,
            });
            t.accounted += rc.accounted;
            t.needs_help += rc.needs_help;
            t.no_answer += rc.no_answer;
        }
        e.areas.push(f);
    }
    m.into_values().collect()
}
