//! warden-publish: standards encoders for Warden, as pure functions.
//!
//! * [`cap`]: OASIS Common Alerting Protocol 1.2 — model, validation, writer
//!   ([`to_xml`]) and reader ([`from_xml`]). Output follows the element order
//!   of the official XSD (`schema/CAP-v1.2.xsd`).
//! * [`atom`]: Atom Syndication Format (RFC 4287) feed writer ([`atom_xml`]).

pub mod atom;
pub mod cap;
mod xml;

pub use atom::{atom_xml, Entry, Feed, ATOM_NS};
pub use cap::{
    format_cap_datetime, from_xml, to_xml, validate, Alert, Area, CapError, Category, Certainty,
    Info, MsgType, Reference, Resource, ResponseType, Scope, Severity, Status, Urgency, CAP_NS,
};
