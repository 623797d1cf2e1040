//! The text of notifications, shared by both stores (which write them in the
//! transaction of the change they report). Each function returns
//! (subject, body).

use crate::LegDecision;
use warden_domain::trip::{ClearanceDecision, ProcessingMode};
use warden_domain::AreaCode;

/// To the traveller, on a decision on their leg.
pub fn decision(d: &LegDecision, area_name: &str) -> (String, String) {
    let said = if d.comment.is_empty() {
        String::new()
    } else {
        format!(" The reviewer wrote: {}", d.comment)
    };
    let n = d.seq;
    match d.decision {
        ClearanceDecision::Grant => (
            format!("Security clearance granted: {area_name}"),
            format!("Leg {n} of your trip, into {area_name}, is cleared.{said}"),
        ),
        ClearanceDecision::Deny => (
            format!("Security clearance denied: {area_name}"),
            format!("Leg {n} of your trip, into {area_name}, is not cleared. Do not travel.{said}"),
        ),
        ClearanceDecision::Return => (
            format!("More information needed: {area_name}"),
            format!(
                "Leg {n} of your trip, into {area_name}, was returned to you for more information; answer it to resubmit.{said}"
            ),
        ),
    }
}

/// To a traveller whose legs into an area a mode change re-evaluated.
pub fn reevaluated(area: &AreaCode, area_name: &str, mode: ProcessingMode) -> (String, String) {
    match mode {
        ProcessingMode::Manual => (
            format!("Security clearance now needed: {area_name}"),
            format!(
                "The Designated Official switched {area_name} ({area}) to manual processing. \
                 Your travel into it now needs a security clearance; it is pending with the area's security advisers."
            ),
        ),
        ProcessingMode::Automatic => (
            format!("Travel notification acknowledged: {area_name}"),
            format!(
                "The Designated Official switched {area_name} ({area}) to automatic processing. \
                 Your pending clearance request for it became a travel notification and is acknowledged."
            ),
        ),
    }
}

/// To the area's security advisers, when a mode change made clearance requests.
pub fn clearances_added(area: &AreaCode, trips: u64) -> (String, String) {
    (
        format!("{trips} trip(s) now need clearance"),
        format!(
            "{trips} trip(s) into {area} became clearance requests when the area was switched to manual processing."
        ),
    )
}

/// To travellers with future legs into an area whose level changed.
pub fn level_changed(area: &str, area_name: &str, old: Option<i64>, new: i64) -> (String, String) {
    let body = match old {
        Some(o) => format!(
            "The security level of {area_name} ({area}) changed from {o} to {new}. Read the travel advisory before you travel, and follow its measures."
        ),
        None => format!(
            "{area_name} ({area}) now has security level {new}. Read the travel advisory before you travel, and follow its measures."
        ),
    };
    (format!("Security level {new} in {area_name}"), body)
}

/// To the area's security advisers, when a traveller answered a returned leg.
pub fn answered(area: &AreaCode, request: uuid::Uuid, seq: i32, answer: &str) -> (String, String) {
    (
        format!("A traveller answered a returned clearance request for {area}"),
        format!(
            "Leg {seq} of trip {request} is pending again with the traveller's answer: {answer}"
        ),
    )
}

/// To a person whose phone has entered an area: where they are and its advisory.
pub fn area_entered(area_name: &str, level: Option<i64>, advisory: &str) -> (String, String) {
    let level = match level.and_then(|l| warden_domain::SecurityLevel::new(l).ok()) {
        Some(l) => format!("Security level {} ({}).", l.get(), l.name()),
        None => "No security level is set.".to_string(),
    };
    let advisory = advisory.trim();
    (
        format!("You are in {area_name}"),
        if advisory.is_empty() {
            format!("{level} Follow the advice of the security advisers in country.")
        } else {
            format!("{level} {advisory}")
        },
    )
}

/// To everyone in an area, when an alert is issued for it.
pub fn geo_alert(
    headline: &str,
    area_name: &str,
    severity: warden_domain::eta::AlertSeverity,
    instruction: &str,
) -> (String, String) {
    (
        headline.to_string(),
        format!(
            "{} alert for {area_name}. {}",
            severity.cap(),
            instruction.trim()
        ),
    )
}

/// The text message of a geo-alert for people without a smartphone: short,
/// with how to answer.
pub fn geo_alert_sms(
    headline: &str,
    area_name: &str,
    severity: warden_domain::eta::AlertSeverity,
    instruction: &str,
) -> String {
    format!(
        "{} alert, {area_name}: {headline}. {} Reply 1 if you are safe, 2 if you need help.",
        severity.cap(),
        instruction.trim()
    )
}
