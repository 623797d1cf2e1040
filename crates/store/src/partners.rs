//! Partner systems (issue 5 item 4; 2019 report ¶84 and footnote 14): other
//! agencies' systems (IOM's SCAAN and the like) that pass their agency
//! headcounts in and receive advisories and roll-call alerts as CAP 1.2.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;
use warden_domain::{AreaCode, CountryCode};

/// A partner system to register. The token itself is never stored: only
/// its SHA-256 digest.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPartner {
    /// Short identifier used in URLs (`/api/v1/partners/{code}/…`).
    pub code: String,
    pub name: String,
    /// The agency whose figures the partner may report.
    pub agency: Uuid,
    /// Where CAP messages are pushed (HTTP POST), if anywhere.
    pub push_url: Option<String>,
    pub token_digest: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Partner {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub agency: Uuid,
    pub agency_code: String,
    pub push_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Roll-call figures of a partner's own accountability exercise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerRollCallFigures {
    pub accounted: i64,
    pub needs_help: i64,
    pub no_answer: i64,
}

/// One headcount report of a partner for one area at one moment, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerHeadcountInput {
    pub area: AreaCode,
    pub as_of: DateTime<Utc>,
    pub total: i64,
    /// Personnel category (`warden_domain::people::PersonnelCategory::as_str`) → people.
    pub counts: BTreeMap<String, i64>,
    pub roll_call: Option<PartnerRollCallFigures>,
    /// The partner's own reference of the report.
    pub reference: Option<String>,
}

impl PartnerHeadcountInput {
    /// What makes two reports for the same (partner, area, as_of) the same
    /// report: every figure and the reference (canonical JSON).
    pub fn fingerprint(&self) -> String {
        serde_json::json!({
            "total": self.total,
            "counts": self.counts,
            "roll_call": self.roll_call,
            "reference": self.reference,
        })
        .to_string()
    }
}

/// What became of one report of a submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartnerReportOutcome {
    Created,
    /// The same report was received before: nothing written.
    Unchanged,
}

/// A stored partner figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartnerHeadcount {
    pub id: Uuid,
    pub partner: Uuid,
    pub partner_code: String,
    pub agency: Uuid,
    pub agency_code: String,
    pub area: AreaCode,
    pub as_of: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub total: i64,
    pub counts: BTreeMap<String, i64>,
    pub roll_call: Option<PartnerRollCallFigures>,
    pub reference: Option<String>,
}

/// What a CAP message published to partners is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CapSubject {
    /// Version `version` of the country's travel advisory (one change).
    Advisory { country: CountryCode, version: i64 },
    /// A roll call ("are you safe?") started.
    RollCall { id: Uuid },
}

impl CapSubject {
    pub fn kind(&self) -> &'static str {
        match self {
            CapSubject::Advisory { .. } => "advisory",
            CapSubject::RollCall { .. } => "rollcall",
        }
    }
}

/// A CAP message published to partners: written in the transaction of what
/// it announces; its XML is rendered from the records it names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapMessage {
    pub id: Uuid,
    pub subject: CapSubject,
    pub headline: String,
    pub created_at: DateTime<Utc>,
}

/// A push of one CAP message to one partner, claimed for sending.
#[derive(Debug, Clone, PartialEq)]
pub struct PartnerDelivery {
    pub id: Uuid,
    pub partner: Uuid,
    pub partner_code: String,
    pub url: String,
    pub message: CapMessage,
    /// This attempt's number (1 for the first).
    pub attempts: i32,
}

/// The record of one push.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub id: Uuid,
    pub message: Uuid,
    pub partner: Uuid,
    pub partner_code: String,
    /// `pending`, `sending`, `sent`, `failed` (given up) or `cancelled`
    /// (the partner was revoked first).
    pub state: String,
    pub attempts: i32,
    pub send_after: Option<DateTime<Utc>>,
    pub http_status: Option<i32>,
    pub error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// The lease on a claimed delivery, after which it may be claimed again.
pub const PARTNER_PUSH_LEASE_MINUTES: i64 = 5;
/// Attempts before a delivery is given up.
pub const PARTNER_PUSH_MAX_ATTEMPTS: i32 = 8;

/// The wait before the next attempt after `attempts` failed ones: 1, 2, 4,
/// … minutes, at most an hour.
pub fn partner_push_backoff(attempts: i32) -> chrono::Duration {
    crate::retry_backoff(i64::from(attempts)).min(chrono::Duration::hours(1))
}
