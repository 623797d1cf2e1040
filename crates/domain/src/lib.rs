//! Warden's domain: validated types and the rules of the Security Level System.
//!
//! This crate does no I/O and knows nothing of HTTP or SQL. Every value that
//! enters the system from outside is parsed into one of these types first, so
//! that the layers above can rely on it being valid.

pub mod area;
pub mod assessment;
pub mod error;
pub mod eta;
pub mod level;
pub mod people;
pub mod presence;
pub mod role;
pub mod rollcall;
pub mod trip;

pub use area::{AreaCode, CountryCode};
pub use assessment::{AssessmentAction, AssessmentStatus, CategoryRatings, ThreatCategory};
pub use error::DomainError;
pub use level::SecurityLevel;
pub use role::{Role, RoleGrant, Scope};
