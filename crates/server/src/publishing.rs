//! Travel advisories in the exchange formats: CAP 1.2 alerts (one per
//! change, and one for the current state of a country) and Atom feeds.

use crate::state::AppState;
use chrono::{DateTime, FixedOffset, Utc};
use warden_domain::SecurityLevel;
use warden_publish::{
    Alert, Area as CapArea, Category, Certainty, Entry, Feed, Info, MsgType, Reference,
    ResponseType, Scope, Severity, Status, Urgency,
};
use warden_store::{Advisory, AdvisoryChange, Area};

fn fixed(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    t.fixed_offset()
}

pub fn severity(level: Option<SecurityLevel>) -> Severity {
    match level.map(|l| l.get()) {
        Some(1 | 2) => Severity::Minor,
        Some(3 | 4) => Severity::Moderate,
        Some(5) => Severity::Severe,
        Some(_) => Severity::Extreme,
        None => Severity::Unknown,
    }
}

fn cap_area(state: &AppState, a: &Area) -> CapArea {
    let polygons = state
        .geo()
        .detail
        .get(&a.code)
        .and_then(|g| crate::state::parse_geometry(g).ok())
        .map(|mp| warden_geo::cap_polygons(&mp, 200))
        .unwrap_or_default();
    let mut geocodes = vec![("WARDEN-AREA".to_string(), a.code.to_string())];
    if let Some(iso) = &a.iso_3166_2 {
        geocodes.push(("ISO3166-2".to_string(), iso.clone()));
    }
    CapArea {
        area_desc: format!("{}, {}", a.name, a.country),
        polygons,
        circles: vec![],
        geocodes,
        altitude: None,
        ceiling: None,
    }
}

fn scope(state: &AppState) -> (Scope, Option<String>) {
    if state.config.public_advisories {
        (Scope::Public, None)
    } else {
        (
            Scope::Restricted,
            Some("Personnel of participating agencies".to_string()),
        )
    }
}

fn info_for(
    state: &AppState,
    area: &Area,
    headline: String,
    description: String,
    instruction: Option<String>,
    effective: DateTime<Utc>,
) -> Info {
    Info {
        language: "en".into(),
        categories: vec![Category::Security],
        event: "Security level".into(),
        response_types: vec![ResponseType::Monitor],
        urgency: Urgency::Expected,
        severity: severity(area.level),
        certainty: Certainty::Likely,
        audience: None,
        event_codes: vec![],
        effective: Some(fixed(effective)),
        onset: None,
        expires: None,
        sender_name: Some("Warden security level system".into()),
        headline: Some(headline.chars().take(160).collect()),
        description: Some(description),
        instruction,
        web: Some(format!("{}/areas/{}", state.config.base_url, area.code)),
        contact: None,
        parameters: vec![(
            "securityLevel".into(),
            area.level
                .map(|l| l.get().to_string())
                .unwrap_or_else(|| "none".into()),
        )],
        resources: vec![],
        areas: vec![cap_area(state, area)],
    }
}

fn alert_id(state: &AppState, cc: &str, version: i64) -> String {
    format!(
        "{}.advisory.{cc}.v{version}",
        state.config.cap_sender.replace('@', ".")
    )
}

/// The whole current advisory of a country as one CAP alert: one `<info>`
/// per area that has a level.
pub fn advisory_alert(state: &AppState, adv: &Advisory) -> Alert {
    let cc = adv.country.alpha2.as_str();
    let sent = adv.updated_at.unwrap_or_else(warden_store::now_micros);
    let infos: Vec<Info> = adv
        .areas
        .iter()
        .filter(|e| e.area.level.is_some())
        .map(|e| {
            let l = e.area.level.expect("filtered");
            let mut instruction = e.mitigation_text.clone();
            for m in &e.measures {
                if !instruction.is_empty() {
                    instruction.push('\n');
                }
                instruction.push_str(&format!("- {}: {}", m.title, m.description));
            }
            info_for(
                state,
                &e.area,
                format!(
                    "{} — {}: security level {} ({})",
                    adv.country.name,
                    e.area.name,
                    l.get(),
                    l.name()
                ),
                if e.text.is_empty() {
                    format!(
                        "Security level {} ({}) applies in {}.",
                        l.get(),
                        l.name(),
                        e.area.name
                    )
                } else {
                    e.text.clone()
                },
                (!instruction.is_empty()).then_some(instruction),
                e.area.level_since.unwrap_or(sent),
            )
        })
        .collect();
    let note = infos.is_empty().then(|| {
        format!(
            "No security level has been approved yet for any area of {}.",
            adv.country.name
        )
    });
    versioned_alert(state, cc, adv.version, sent, note, infos)
}

/// Version N of a country's advisory as a CAP alert; from version 2 on it
/// is an Update referencing version N-1.
fn versioned_alert(
    state: &AppState,
    cc: &str,
    version: i64,
    sent: DateTime<Utc>,
    note: Option<String>,
    infos: Vec<Info>,
) -> Alert {
    let (scope, restriction) = scope(state);
    let references = if version > 1 {
        vec![Reference {
            sender: state.config.cap_sender.clone(),
            identifier: alert_id(state, cc, version - 1),
            sent: fixed(sent),
        }]
    } else {
        vec![]
    };
    Alert {
        identifier: alert_id(state, cc, version),
        sender: state.config.cap_sender.clone(),
        sent: fixed(sent),
        status: Status::Actual,
        msg_type: if references.is_empty() {
            MsgType::Alert
        } else {
            MsgType::Update
        },
        source: None,
        scope,
        restriction,
        addresses: None,
        codes: vec![],
        note,
        references,
        incidents: None,
        infos,
    }
}

/// One change of an advisory as a CAP alert about the one area it concerns.
pub fn change_alert(state: &AppState, ch: &AdvisoryChange, area: &Area, text: &str) -> Alert {
    let description = if text.is_empty() {
        ch.summary.clone()
    } else {
        text.to_string()
    };
    let info = info_for(state, area, ch.summary.clone(), description, None, ch.at);
    versioned_alert(
        state,
        ch.country.as_str(),
        ch.version,
        ch.at,
        None,
        vec![info],
    )
}

pub fn feed(state: &AppState, title: String, self_path: &str, changes: &[AdvisoryChange]) -> Feed {
    let base = &state.config.base_url;
    Feed {
        id: format!("{base}{self_path}"),
        title,
        updated: fixed(
            changes
                .first()
                .map(|c| c.at)
                .unwrap_or_else(warden_store::now_micros),
        ),
        self_link: format!("{base}{self_path}"),
        alternate_link: Some(format!("{base}/")),
        author: "Warden".into(),
        entries: changes
            .iter()
            .map(|c| Entry {
                id: format!("urn:uuid:{}", c.id),
                title: c.summary.clone(),
                updated: fixed(c.at),
                published: Some(fixed(c.at)),
                link: Some(format!("{base}/advisories/{}#{}", c.country, c.area)),
                summary: Some(format!("{} (advisory version {})", c.summary, c.version)),
                content_html: None,
                categories: vec![c.kind.clone(), c.country.to_string()],
            })
            .collect(),
    }
}

/// A geo-alert as CAP 1.2: one `<info>` about its area, with the area's
/// polygons, for partner systems (IOM's SCAAN and the like).
pub fn geo_alert(state: &AppState, a: &warden_store::GeoAlert, area: &Area) -> Alert {
    let (scope, restriction) = scope(state);
    let severity = match a.severity {
        warden_domain::eta::AlertSeverity::Extreme => Severity::Extreme,
        warden_domain::eta::AlertSeverity::Severe => Severity::Severe,
        warden_domain::eta::AlertSeverity::Moderate => Severity::Moderate,
        warden_domain::eta::AlertSeverity::Minor => Severity::Minor,
    };
    let info = Info {
        language: "en".into(),
        categories: vec![Category::Security],
        event: "Security alert".into(),
        response_types: vec![ResponseType::Avoid],
        urgency: Urgency::Immediate,
        severity,
        certainty: Certainty::Observed,
        audience: Some("Personnel of participating agencies in the area".into()),
        event_codes: vec![],
        effective: Some(fixed(a.issued_at)),
        onset: None,
        expires: Some(fixed(a.expires_at)),
        sender_name: Some(format!("{} (Warden eTA)", a.issued_by_name)),
        headline: Some(a.headline.chars().take(160).collect()),
        description: (!a.description.is_empty()).then(|| a.description.clone()),
        instruction: Some(a.instruction.clone()),
        web: Some(format!("{}/alerts/{}", state.config.base_url, a.id)),
        contact: None,
        parameters: vec![],
        resources: vec![],
        areas: vec![cap_area(state, area)],
    };
    Alert {
        identifier: format!(
            "{}.alert.{}",
            state.config.cap_sender.replace('@', "."),
            a.id
        ),
        sender: state.config.cap_sender.clone(),
        sent: fixed(a.issued_at),
        status: Status::Actual,
        msg_type: MsgType::Alert,
        source: None,
        scope,
        restriction,
        addresses: None,
        codes: vec![],
        note: None,
        references: vec![],
        incidents: None,
        infos: vec![info],
    }
}

/// A roll call ("are you safe?") as CAP 1.2, for partner systems: one
/// `<info>` with an `<area>` per area of the roll call (its polygons and
/// geocodes), asking personnel there to report whether they are safe.
pub fn roll_call_alert(state: &AppState, rc: &warden_store::RollCall, areas: &[Area]) -> Alert {
    let (scope, restriction) = scope(state);
    let names: Vec<String> = areas.iter().map(|a| a.name.clone()).collect();
    let (headline, body) = warden_store::roll_call_ask(&names, &rc.message);
    let info = Info {
        language: "en".into(),
        categories: vec![Category::Security, Category::Safety],
        event: "Roll call".into(),
        response_types: vec![ResponseType::Execute],
        urgency: Urgency::Immediate,
        severity: Severity::Severe,
        certainty: Certainty::Observed,
        audience: Some("Personnel of participating agencies in the area".into()),
        event_codes: vec![("WARDEN".into(), "rollcall".into())],
        effective: Some(fixed(rc.started_at)),
        onset: None,
        expires: None,
        sender_name: Some(format!("{} (Warden roll call)", rc.started_by_name)),
        headline: Some(headline.chars().take(160).collect()),
        description: Some(body),
        instruction: Some(
            "Account for your agency's personnel and their dependants in these areas, and report your headcount to Warden.".into(),
        ),
        web: Some(format!("{}/roll-calls/{}", state.config.base_url, rc.id)),
        contact: None,
        parameters: vec![("rollCall".into(), rc.id.to_string())],
        resources: vec![],
        areas: areas.iter().map(|a| cap_area(state, a)).collect(),
    };
    Alert {
        identifier: format!(
            "{}.rollcall.{}",
            state.config.cap_sender.replace('@', "."),
            rc.id
        ),
        sender: state.config.cap_sender.clone(),
        sent: fixed(rc.started_at),
        status: Status::Actual,
        msg_type: MsgType::Alert,
        source: None,
        scope,
        restriction,
        addresses: None,
        codes: vec![],
        note: None,
        references: vec![],
        incidents: None,
        infos: vec![info],
    }
}
