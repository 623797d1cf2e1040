//! An SMPP 3.4 client for sending SMS through an operator's or aggregator's
//! SMSC and receiving delivery receipts and replies: Warden uses it to
//! reach staff without smartphones ("Reply 1 if you are safe, 2 if you need
//! help").
//!
//! - [`pdu`]: the PDUs an ESME needs, encoded and decoded without panics;
//! - [`text`]: GSM/UCS-2 coding and segmentation with concatenation UDH;
//! - [`receipt`]: delivery receipts (text and TLVs);
//! - [`client`]: the tokio session (bind, windowed submit, incoming
//!   channel, enquire_link, unbind);
//! - [`bench`]: a throughput measurement against a real SMSC.
//!
//! It depends on no other Warden crate.

pub mod bench;
pub mod client;
pub mod pdu;
pub mod receipt;
#[cfg(feature = "testing")]
pub mod testing;
pub mod text;

pub use client::{BindConfig, BindMode, Client, Error, Incoming, SubmitRequest};
pub use receipt::{DeliveryReceipt, ReceiptStat};
