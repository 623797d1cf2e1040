//! Who is where: what the store hands the presence rules
//! (`warden_domain::presence`) for an area and a moment.

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use warden_domain::people::PersonnelCategory;
use warden_domain::presence::Evidence;

/// A person whom some evidence may place in the area at the moment, with all
/// their evidence; `warden_domain::presence::whereabouts` decides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PresenceCandidate {
    pub user: Uuid,
    pub name: String,
    /// The profile's agency, else the user's.
    pub agency: Option<Uuid>,
    pub agency_code: Option<String>,
    /// None for a user without a profile (e.g. a traveller never imported).
    pub category: Option<PersonnelCategory>,
    pub evidence: Evidence,
}
