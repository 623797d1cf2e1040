//! SMSC delivery receipts: the de-facto standard text of SMPP 3.4 Appendix B
//! carried in a deliver_sm whose esm_class says "delivery receipt",
//!
//! `id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text: ...`
//!
//! together with the receipted_message_id and message_state TLVs, which are
//! preferred when present (SMSCs often print the id in the text in another
//! base than the one they returned in submit_sm_resp).

use chrono::{NaiveDate, NaiveDateTime};

use crate::pdu::{MessageState, Sm};
use crate::text;

/// The final (or intermediate) state a receipt reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReceiptStat {
    Delivered,
    Expired,
    Deleted,
    Undeliverable,
    Accepted,
    Unknown,
    Rejected,
    Enroute,
}

impl ReceiptStat {
    /// The seven-letter form of the specification (`DELIVRD`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptStat::Delivered => "DELIVRD",
            ReceiptStat::Expired => "EXPIRED",
            ReceiptStat::Deleted => "DELETED",
            ReceiptStat::Undeliverable => "UNDELIV",
            ReceiptStat::Accepted => "ACCEPTD",
            ReceiptStat::Unknown => "UNKNOWN",
            ReceiptStat::Rejected => "REJECTD",
            ReceiptStat::Enroute => "ENROUTE",
        }
    }

    /// Reads the seven-letter form and the long forms some SMSCs print
    /// (`DELIVERED`, `UNDELIVERABLE`, …), in any case.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_uppercase().as_str() {
            "DELIVRD" | "DELIVERED" => ReceiptStat::Delivered,
            "EXPIRED" => ReceiptStat::Expired,
            "DELETED" => ReceiptStat::Deleted,
            "UNDELIV" | "UNDELIVERABLE" => ReceiptStat::Undeliverable,
            "ACCEPTD" | "ACCEPTED" => ReceiptStat::Accepted,
            "UNKNOWN" => ReceiptStat::Unknown,
            "REJECTD" | "REJECTED" => ReceiptStat::Rejected,
            "ENROUTE" => ReceiptStat::Enroute,
            _ => return None,
        })
    }

    pub fn from_message_state(state: MessageState) -> Self {
        match state {
            MessageState::Enroute => ReceiptStat::Enroute,
            MessageState::Delivered => ReceiptStat::Delivered,
            MessageState::Expired => ReceiptStat::Expired,
            MessageState::Deleted => ReceiptStat::Deleted,
            MessageState::Undeliverable => ReceiptStat::Undeliverable,
            MessageState::Accepted => ReceiptStat::Accepted,
            MessageState::Unknown => ReceiptStat::Unknown,
            MessageState::Rejected => ReceiptStat::Rejected,
        }
    }

    /// True for the states after which nothing more will happen.
    pub fn is_final(self) -> bool {
        !matches!(self, ReceiptStat::Enroute | ReceiptStat::Accepted)
    }
}

/// A parsed delivery receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReceipt {
    /// The message id as submit_sm_resp returned it (from the
    /// receipted_message_id TLV when present, else from `id:`).
    pub id: String,
    pub stat: ReceiptStat,
    /// `err:` as written (network-specific, often three digits); empty if
    /// absent.
    pub err: String,
    /// `sub:`, messages submitted.
    pub sub: Option<u32>,
    /// `dlvrd:`, messages delivered.
    pub dlvrd: Option<u32>,
    /// `submit date:` (YYMMDDhhmm, or with seconds), taken as 20YY.
    pub submit_date: Option<NaiveDateTime>,
    /// `done date:`.
    pub done_date: Option<NaiveDateTime>,
    /// `text:`, the first characters of the message, as the SMSC wrote them.
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    #[error("delivery receipt without a message id")]
    MissingId,
    #[error("delivery receipt without a stat")]
    MissingStat,
    #[error("delivery receipt with an unknown stat {0:?}")]
    UnknownStat(String),
    #[error("delivery receipt: {field} is not a number: {value:?}")]
    BadNumber { field: &'static str, value: String },
}

impl DeliveryReceipt {
    /// Parses the receipt text alone. Keys are matched in any case and
    /// order; unknown keys are ignored; a date that does not parse is left
    /// out rather than refusing the receipt.
    pub fn parse_text(text: &str) -> Result<Self, ReceiptError> {
        Fields::parse(text)?.finish(None, None)
    }

    /// The receipt in a deliver_sm: its text (decoded by data_coding) with
    /// the receipted_message_id TLV preferred for the id and message_state
    /// used when the text has no stat. A receipt whose text cannot be read
    /// is still accepted when both TLVs are there.
    pub fn from_deliver_sm(sm: &Sm) -> Result<Self, ReceiptError> {
        let (_, data) = text::split_udh(sm.esm_class, sm.payload());
        let body = text::decode(sm.data_coding, data);
        let tlv_id = sm.receipted_message_id();
        let tlv_state = sm.message_state().map(ReceiptStat::from_message_state);
        match Fields::parse(&body) {
            Ok(fields) => fields.finish(tlv_id, tlv_state),
            Err(e) => match (tlv_id, tlv_state) {
                (Some(id), Some(stat)) => Ok(DeliveryReceipt {
                    id,
                    stat,
                    err: String::new(),
                    sub: None,
                    dlvrd: None,
                    submit_date: None,
                    done_date: None,
                    text: body,
                }),
                _ => Err(e),
            },
        }
    }
}

#[derive(Default)]
struct Fields {
    id: Option<String>,
    stat: Option<String>,
    err: Option<String>,
    sub: Option<u32>,
    dlvrd: Option<u32>,
    submit_date: Option<NaiveDateTime>,
    done_date: Option<NaiveDateTime>,
    text: String,
}

impl Fields {
    fn parse(input: &str) -> Result<Fields, ReceiptError> {
        let mut fields = Fields::default();
        // Everything after "text:" is the text, spaces and colons included.
        let (head, text) = match find_key(input, "text:") {
            Some(at) => (&input[..at], input[at + 5..].trim_start()),
            None => (input, ""),
        };
        fields.text = text.to_owned();
        // "submit date" and "done date" are the two keys with a space.
        let head = replace_ci(
            &replace_ci(head, "submit date:", "submit_date:"),
            "done date:",
            "done_date:",
        );
        for token in head.split_whitespace() {
            let Some((key, value)) = token.split_once(':') else {
                continue;
            };
            match key.to_ascii_lowercase().as_str() {
                "id" => fields.id = Some(value.to_owned()),
                "stat" => fields.stat = Some(value.to_owned()),
                "err" => fields.err = Some(value.to_owned()),
                "sub" => fields.sub = Some(number("sub", value)?),
                "dlvrd" => fields.dlvrd = Some(number("dlvrd", value)?),
                "submit_date" => fields.submit_date = date(value),
                "done_date" => fields.done_date = date(value),
                _ => {}
            }
        }
        Ok(fields)
    }

    fn finish(
        self,
        tlv_id: Option<String>,
        tlv_state: Option<ReceiptStat>,
    ) -> Result<DeliveryReceipt, ReceiptError> {
        let id = tlv_id
            .or(self.id.filter(|id| !id.is_empty()))
            .ok_or(ReceiptError::MissingId)?;
        let stat = match self.stat {
            Some(s) => match ReceiptStat::parse(&s) {
                Some(stat) => stat,
                None => tlv_state.ok_or(ReceiptError::UnknownStat(s))?,
            },
            None => tlv_state.ok_or(ReceiptError::MissingStat)?,
        };
        Ok(DeliveryReceipt {
            id,
            stat,
            err: self.err.unwrap_or_default(),
            sub: self.sub,
            dlvrd: self.dlvrd,
            submit_date: self.submit_date,
            done_date: self.done_date,
            text: self.text,
        })
    }
}

/// The byte offset of `key` (ASCII, lower case) at the start of `input` or
/// after whitespace, matched in any case.
fn find_key(input: &str, key: &str) -> Option<usize> {
    let lower = input.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find(key) {
        let at = from + found;
        if at == 0 || lower.as_bytes()[at - 1].is_ascii_whitespace() {
            return Some(at);
        }
        from = at + key.len();
    }
    None
}

/// Replaces every occurrence of the ASCII `pattern`, matched in any case.
fn replace_ci(input: &str, pattern: &str, with: &str) -> String {
    let lower = input.to_ascii_lowercase();
    let mut out = String::with_capacity(input.len());
    let mut last = 0;
    for (at, _) in lower.match_indices(pattern) {
        out.push_str(&input[last..at]);
        out.push_str(with);
        last = at + pattern.len();
    }
    out.push_str(&input[last..]);
    out
}

fn number(field: &'static str, value: &str) -> Result<u32, ReceiptError> {
    value.parse().map_err(|_| ReceiptError::BadNumber {
        field,
        value: value.to_owned(),
    })
}

/// YYMMDDhhmm or YYMMDDhhmmss, the year taken as 20YY.
fn date(value: &str) -> Option<NaiveDateTime> {
    if !(value.len() == 10 || value.len() == 12) || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let two = |i: usize| value[i..i + 2].parse::<u32>().ok();
    let second = if value.len() == 12 { two(10)? } else { 0 };
    NaiveDate::from_ymd_opt(2000 + two(0)? as i32, two(2)?, two(4)?)?.and_hms_opt(
        two(6)?,
        two(8)?,
        second,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdu::{tag, Tlv};

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<NaiveDateTime> {
        NaiveDate::from_ymd_opt(y, mo, d)?.and_hms_opt(h, mi, s)
    }

    #[test]
    fn the_specification_example() {
        let r = DeliveryReceipt::parse_text(
            "id:0123456789 sub:001 dlvrd:001 submit date:2403151230 done date:2403151231 stat:DELIVRD err:000 text:Are you safe? Reply",
        )
        .unwrap();
        assert_eq!(
            r,
            DeliveryReceipt {
                id: "0123456789".into(),
                stat: ReceiptStat::Delivered,
                err: "000".into(),
                sub: Some(1),
                dlvrd: Some(1),
                submit_date: at(2024, 3, 15, 12, 30, 0),
                done_date: at(2024, 3, 15, 12, 31, 0),
                text: "Are you safe? Reply".into(),
            }
        );
    }

    #[test]
    fn every_stat() {
        for (word, stat) in [
            ("DELIVRD", ReceiptStat::Delivered),
            ("EXPIRED", ReceiptStat::Expired),
            ("DELETED", ReceiptStat::Deleted),
            ("UNDELIV", ReceiptStat::Undeliverable),
            ("ACCEPTD", ReceiptStat::Accepted),
            ("UNKNOWN", ReceiptStat::Unknown),
            ("REJECTD", ReceiptStat::Rejected),
            ("ENROUTE", ReceiptStat::Enroute),
        ] {
            let r = DeliveryReceipt::parse_text(&format!("id:1 stat:{word} err:001")).unwrap();
            assert_eq!(r.stat, stat);
            assert_eq!(stat.as_str(), word);
            assert_eq!(r.err, "001");
        }
        assert_eq!(
            DeliveryReceipt::parse_text("id:1 stat:undeliverable")
                .unwrap()
                .stat,
            ReceiptStat::Undeliverable
        );
    }

    #[test]
    fn case_seconds_order_and_text_with_colons() {
        let r = DeliveryReceipt::parse_text(
            "ID:ab12 STAT:EXPIRED Submit Date:240315123059 DONE DATE:2403160000 Err:0B1 Text: id:9 stat:DELIVRD",
        )
        .unwrap();
        assert_eq!(r.id, "ab12");
        assert_eq!(r.stat, ReceiptStat::Expired);
        assert_eq!(r.submit_date, at(2024, 3, 15, 12, 30, 59));
        assert_eq!(r.done_date, at(2024, 3, 16, 0, 0, 0));
        assert_eq!(r.err, "0B1");
        assert_eq!(r.text, "id:9 stat:DELIVRD");
        assert_eq!(r.sub, None);
    }

    #[test]
    fn bad_receipts() {
        assert_eq!(
            DeliveryReceipt::parse_text("stat:DELIVRD"),
            Err(ReceiptError::MissingId)
        );
        assert_eq!(
            DeliveryReceipt::parse_text("id:1 err:0"),
            Err(ReceiptError::MissingStat)
        );
        assert_eq!(
            DeliveryReceipt::parse_text("id:1 stat:GONE"),
            Err(ReceiptError::UnknownStat("GONE".into()))
        );
        assert!(matches!(
            DeliveryReceipt::parse_text("id:1 sub:x stat:DELIVRD"),
            Err(ReceiptError::BadNumber { field: "sub", .. })
        ));
        // Impossible dates are left out, not fatal.
        let r = DeliveryReceipt::parse_text("id:1 submit date:2413991299 stat:DELIVRD").unwrap();
        assert_eq!(r.submit_date, None);
        assert_eq!(
            DeliveryReceipt::parse_text(""),
            Err(ReceiptError::MissingId)
        );
    }

    fn receipt_sm(text: &str, tlvs: Vec<Tlv>) -> Sm {
        Sm {
            esm_class: 0x04,
            short_message: text.as_bytes().to_vec(),
            tlvs,
            ..Sm::default()
        }
    }

    #[test]
    fn the_tlv_id_is_preferred() {
        // The text prints the id in decimal, the TLV as submit_sm_resp did.
        let sm = receipt_sm(
            "id:255 sub:001 dlvrd:001 submit date:2403151230 done date:2403151231 stat:DELIVRD err:000 text:",
            vec![
                Tlv::new(tag::RECEIPTED_MESSAGE_ID, b"FF\0".to_vec()),
                Tlv::new(tag::MESSAGE_STATE, vec![2]),
            ],
        );
        let r = DeliveryReceipt::from_deliver_sm(&sm).unwrap();
        assert_eq!(r.id, "FF");
        assert_eq!(r.stat, ReceiptStat::Delivered);
        // Without the TLV, the text's id.
        let sm = receipt_sm("id:255 stat:DELIVRD", vec![]);
        assert_eq!(DeliveryReceipt::from_deliver_sm(&sm).unwrap().id, "255");
    }

    #[test]
    fn tlvs_alone_make_a_receipt() {
        let sm = receipt_sm(
            "garbage",
            vec![
                Tlv::new(tag::RECEIPTED_MESSAGE_ID, b"X1\0".to_vec()),
                Tlv::new(tag::MESSAGE_STATE, vec![5]),
            ],
        );
        let r = DeliveryReceipt::from_deliver_sm(&sm).unwrap();
        assert_eq!((r.id.as_str(), r.stat), ("X1", ReceiptStat::Undeliverable));
        // message_state fills in a missing stat.
        let sm = receipt_sm("id:7", vec![Tlv::new(tag::MESSAGE_STATE, vec![3])]);
        assert_eq!(
            DeliveryReceipt::from_deliver_sm(&sm).unwrap().stat,
            ReceiptStat::Expired
        );
        // Without either, the text's error stands.
        let sm = receipt_sm("garbage", vec![Tlv::new(tag::MESSAGE_STATE, vec![9])]);
        assert_eq!(
            DeliveryReceipt::from_deliver_sm(&sm),
            Err(ReceiptError::MissingId)
        );
    }
}
