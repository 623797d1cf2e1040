//! Roll calls: an accountability event over areas, its people, and its
//! board (`warden_domain::rollcall` decides each person's place).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use warden_domain::people::PersonnelCategory;
use warden_domain::rollcall::{RollCallState, Tally};
use warden_domain::AreaCode;

/// A roll call and how many people it asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollCall {
    pub id: Uuid,
    /// In the order given.
    pub areas: Vec<AreaCode>,
    pub message: String,
    pub state: RollCallState,
    pub started_by: Uuid,
    pub started_by_name: String,
    pub started_at: DateTime<Utc>,
    pub closed_by: Option<Uuid>,
    pub closed_at: Option<DateTime<Utc>>,
    /// People asked.
    pub people: i64,
    /// Of them, texted (a phone and no enrolled device).
    pub sms_recipients: i64,
}

/// One person on the board.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollCallPerson {
    pub user: Uuid,
    pub name: String,
    /// The profile's agency, else the user's.
    pub agency: Option<Uuid>,
    pub agency_code: Option<String>,
    pub category: Option<PersonnelCategory>,
    pub status: Tally,
    /// The deciding answer's channel (`web`, `api`, `sms`) and time.
    pub channel: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollCallBoard {
    pub roll_call: RollCall,
    /// Ordered by name.
    pub people: Vec<RollCallPerson>,
}

/// The in-app notification (subject, body) asking one person.
pub fn roll_call_ask(area_names: &[String], message: &str) -> (String, String) {
    let places = area_names.join(", ");
    let subject = format!("Roll call for {places}: are you safe?");
    let mut body = String::new();
    if !message.trim().is_empty() {
        body.push_str(message.trim());
        body.push_str("\n\n");
    }
    body.push_str(&format!(
        "A roll call has been started for {places}. Please tell us now whether you and your dependants are safe: answer \"I am safe\" or \"I need help\" in the eTA."
    ));
    (subject, body)
}

/// The text message asking one person without a smartphone.
pub fn roll_call_sms(area_names: &[String], message: &str) -> String {
    let mut s = format!("ROLL CALL {}. ", area_names.join(", "));
    let m = message.trim();
    if !m.is_empty() {
        s.push_str(m);
        if !m.ends_with('.') {
            s.push('.');
        }
        s.push(' ');
    }
    s.push_str("Reply 1 if you are safe, 2 if you need help.");
    s
}

/// Places on the board from each person's answers and the roll call's window.
pub fn board_people(
    rc: &RollCall,
    people: Vec<(
        RollCallPerson,
        Vec<(warden_domain::rollcall::Answer, String)>,
    )>,
) -> Vec<RollCallPerson> {
    people
        .into_iter()
        .map(|(mut p, answers)| {
            let plain: Vec<_> = answers.iter().map(|(a, _)| a.clone()).collect();
            let (status, i) = warden_domain::rollcall::tally(&plain, rc.started_at, rc.closed_at);
            p.status = status;
            if let Some(i) = i {
                p.channel = Some(answers[i].1.clone());
                p.answered_at = Some(answers[i].0.at);
            }
            p
        })
        .collect()
}
