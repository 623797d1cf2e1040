//! SMPP 3.4 protocol data units: the 16-octet header, the bodies of the
//! commands an ESME needs (bind, submit_sm, deliver_sm, enquire_link,
//! unbind, their responses, generic_nack), C-octet strings with the
//! specification's maximum lengths, and TLVs kept raw.
//!
//! [`Pdu::decode`] never panics: a truncated body, a command_length that
//! disagrees with the bytes, a C-octet string without its NUL, a TLV running
//! past the end are all returned as [`DecodeError`].

use std::fmt;

/// command_id values (SMPP 3.4 §5.1.2.1). A response is its request with
/// [`command::RESPONSE`] set.
pub mod command {
    pub const GENERIC_NACK: u32 = 0x8000_0000;
    pub const BIND_RECEIVER: u32 = 0x0000_0001;
    pub const BIND_RECEIVER_RESP: u32 = 0x8000_0001;
    pub const BIND_TRANSMITTER: u32 = 0x0000_0002;
    pub const BIND_TRANSMITTER_RESP: u32 = 0x8000_0002;
    pub const SUBMIT_SM: u32 = 0x0000_0004;
    pub const SUBMIT_SM_RESP: u32 = 0x8000_0004;
    pub const DELIVER_SM: u32 = 0x0000_0005;
    pub const DELIVER_SM_RESP: u32 = 0x8000_0005;
    pub const UNBIND: u32 = 0x0000_0006;
    pub const UNBIND_RESP: u32 = 0x8000_0006;
    pub const BIND_TRANSCEIVER: u32 = 0x0000_0009;
    pub const BIND_TRANSCEIVER_RESP: u32 = 0x8000_0009;
    pub const ENQUIRE_LINK: u32 = 0x0000_0015;
    pub const ENQUIRE_LINK_RESP: u32 = 0x8000_0015;
    /// The bit that marks a response.
    pub const RESPONSE: u32 = 0x8000_0000;
}

/// command_status values (SMPP 3.4 §5.1.3) that this crate names.
pub mod status {
    pub const ESME_ROK: u32 = 0x0000_0000;
    pub const ESME_RINVMSGLEN: u32 = 0x0000_0001;
    pub const ESME_RINVCMDLEN: u32 = 0x0000_0002;
    pub const ESME_RINVCMDID: u32 = 0x0000_0003;
    pub const ESME_RINVBNDSTS: u32 = 0x0000_0004;
    pub const ESME_RALYBND: u32 = 0x0000_0005;
    pub const ESME_RSYSERR: u32 = 0x0000_0008;
    pub const ESME_RINVSRCADR: u32 = 0x0000_000A;
    pub const ESME_RINVDSTADR: u32 = 0x0000_000B;
    pub const ESME_RINVMSGID: u32 = 0x0000_000C;
    pub const ESME_RBINDFAIL: u32 = 0x0000_000D;
    pub const ESME_RINVPASWD: u32 = 0x0000_000E;
    pub const ESME_RINVSYSID: u32 = 0x0000_000F;
    pub const ESME_RMSGQFUL: u32 = 0x0000_0014;
    pub const ESME_RINVESMCLASS: u32 = 0x0000_0043;
    pub const ESME_RSUBMITFAIL: u32 = 0x0000_0045;
    pub const ESME_RTHROTTLED: u32 = 0x0000_0058;
    pub const ESME_RX_T_APPN: u32 = 0x0000_0064;
    pub const ESME_RX_P_APPN: u32 = 0x0000_0065;
    pub const ESME_RX_R_APPN: u32 = 0x0000_0066;
    pub const ESME_RUNKNOWNERR: u32 = 0x0000_00FF;

    /// The specification's name of a status, if this crate knows it.
    pub fn name(status: u32) -> Option<&'static str> {
        Some(match status {
            ESME_ROK => "ESME_ROK",
            ESME_RINVMSGLEN => "ESME_RINVMSGLEN",
            ESME_RINVCMDLEN => "ESME_RINVCMDLEN",
            ESME_RINVCMDID => "ESME_RINVCMDID",
            ESME_RINVBNDSTS => "ESME_RINVBNDSTS",
            ESME_RALYBND => "ESME_RALYBND",
            ESME_RSYSERR => "ESME_RSYSERR",
            ESME_RINVSRCADR => "ESME_RINVSRCADR",
            ESME_RINVDSTADR => "ESME_RINVDSTADR",
            ESME_RINVMSGID => "ESME_RINVMSGID",
            ESME_RBINDFAIL => "ESME_RBINDFAIL",
            ESME_RINVPASWD => "ESME_RINVPASWD",
            ESME_RINVSYSID => "ESME_RINVSYSID",
            ESME_RMSGQFUL => "ESME_RMSGQFUL",
            ESME_RINVESMCLASS => "ESME_RINVESMCLASS",
            ESME_RSUBMITFAIL => "ESME_RSUBMITFAIL",
            ESME_RTHROTTLED => "ESME_RTHROTTLED",
            ESME_RX_T_APPN => "ESME_RX_T_APPN",
            ESME_RX_P_APPN => "ESME_RX_P_APPN",
            ESME_RX_R_APPN => "ESME_RX_R_APPN",
            ESME_RUNKNOWNERR => "ESME_RUNKNOWNERR",
            _ => return None,
        })
    }

    /// `ESME_RTHROTTLED (0x00000058)`, or the bare number when unnamed.
    pub fn describe(status: u32) -> String {
        match name(status) {
            Some(name) => format!("{name} (0x{status:08X})"),
            None => format!("0x{status:08X}"),
        }
    }
}

/// TLV tags this crate reads or writes.
pub mod tag {
    pub const RECEIPTED_MESSAGE_ID: u16 = 0x001E;
    pub const SC_INTERFACE_VERSION: u16 = 0x0210;
    pub const MESSAGE_PAYLOAD: u16 = 0x0424;
    pub const MESSAGE_STATE: u16 = 0x0427;
}

/// Maximum sizes of the C-octet strings, NUL included (SMPP 3.4 §4).
pub mod max {
    pub const SYSTEM_ID: usize = 16;
    pub const PASSWORD: usize = 9;
    pub const SYSTEM_TYPE: usize = 13;
    pub const ADDRESS_RANGE: usize = 41;
    pub const SERVICE_TYPE: usize = 6;
    pub const ADDR: usize = 21;
    pub const TIME: usize = 17;
    pub const MESSAGE_ID: usize = 65;
    /// short_message, in octets (sm_length is one octet, 0..=254).
    pub const SHORT_MESSAGE: usize = 254;
}

/// The header's size.
pub const HEADER_LEN: usize = 16;
/// The largest command_length this crate accepts (a guard against a peer
/// announcing gigabytes).
pub const MAX_COMMAND_LENGTH: u32 = 64 * 1024;
/// interface_version sent in binds: SMPP 3.4.
pub const INTERFACE_VERSION: u8 = 0x34;

/// esm_class bits used here.
pub mod esm_class {
    /// Message type "SMSC delivery receipt" (bits 5..2 = 0001).
    pub const DELIVERY_RECEIPT: u8 = 0x04;
    /// The mask of the message-type bits.
    pub const TYPE_MASK: u8 = 0x3C;
    /// GSM feature: UDH indicator.
    pub const UDHI: u8 = 0x40;
}

/// A TLV as received: tag and value (its length is the value's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlv {
    pub tag: u16,
    pub value: Vec<u8>,
}

impl Tlv {
    pub fn new(tag: u16, value: impl Into<Vec<u8>>) -> Self {
        Tlv {
            tag,
            value: value.into(),
        }
    }
}

/// message_state values (SMPP 3.4 §5.2.28).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageState {
    Enroute = 1,
    Delivered = 2,
    Expired = 3,
    Deleted = 4,
    Undeliverable = 5,
    Accepted = 6,
    Unknown = 7,
    Rejected = 8,
}

impl MessageState {
    pub fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            1 => MessageState::Enroute,
            2 => MessageState::Delivered,
            3 => MessageState::Expired,
            4 => MessageState::Deleted,
            5 => MessageState::Undeliverable,
            6 => MessageState::Accepted,
            7 => MessageState::Unknown,
            8 => MessageState::Rejected,
            _ => return None,
        })
    }
}

/// The body of bind_transmitter, bind_receiver and bind_transceiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub system_id: String,
    pub password: String,
    pub system_type: String,
    pub interface_version: u8,
    pub addr_ton: u8,
    pub addr_npi: u8,
    pub address_range: String,
}

impl Bind {
    pub fn new(system_id: &str, password: &str, system_type: &str) -> Self {
        Bind {
            system_id: system_id.to_owned(),
            password: password.to_owned(),
            system_type: system_type.to_owned(),
            interface_version: INTERFACE_VERSION,
            addr_ton: 0,
            addr_npi: 0,
            address_range: String::new(),
        }
    }
}

/// The body of the three bind responses. An SMSC refusing a bind may leave
/// the body out; it then decodes with an empty system_id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BindResp {
    pub system_id: String,
    pub tlvs: Vec<Tlv>,
}

/// The body of submit_sm and deliver_sm, which share their layout.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sm {
    pub service_type: String,
    pub source_addr_ton: u8,
    pub source_addr_npi: u8,
    pub source_addr: String,
    pub dest_addr_ton: u8,
    pub dest_addr_npi: u8,
    pub destination_addr: String,
    pub esm_class: u8,
    pub protocol_id: u8,
    pub priority_flag: u8,
    pub schedule_delivery_time: String,
    pub validity_period: String,
    pub registered_delivery: u8,
    pub replace_if_present_flag: u8,
    pub data_coding: u8,
    pub sm_default_msg_id: u8,
    /// The octets of short_message (sm_length is its length).
    pub short_message: Vec<u8>,
    pub tlvs: Vec<Tlv>,
}

impl Sm {
    /// The first TLV with this tag.
    pub fn tlv(&self, tag: u16) -> Option<&Tlv> {
        self.tlvs.iter().find(|t| t.tag == tag)
    }

    /// receipted_message_id (0x001E), a C-octet string; `None` if absent,
    /// empty or not terminated.
    pub fn receipted_message_id(&self) -> Option<String> {
        let value = &self.tlv(tag::RECEIPTED_MESSAGE_ID)?.value;
        let end = value.iter().position(|&b| b == 0)?;
        (end > 0).then(|| latin1(&value[..end]))
    }

    /// message_state (0x0427), one octet; `None` if absent or malformed.
    pub fn message_state(&self) -> Option<MessageState> {
        match self.tlv(tag::MESSAGE_STATE)?.value.as_slice() {
            [state] => MessageState::from_u8(*state),
            _ => None,
        }
    }

    /// The user data: short_message, or the message_payload TLV when
    /// short_message is empty.
    pub fn payload(&self) -> &[u8] {
        if self.short_message.is_empty() {
            if let Some(tlv) = self.tlv(tag::MESSAGE_PAYLOAD) {
                return &tlv.value;
            }
        }
        &self.short_message
    }
}

/// The body of submit_sm_resp and deliver_sm_resp. The body may be absent
/// when command_status is non-zero; it then decodes with an empty id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SmResp {
    pub message_id: String,
    pub tlvs: Vec<Tlv>,
}

/// A PDU's body, which also determines its command_id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    BindReceiver(Bind),
    BindReceiverResp(BindResp),
    BindTransmitter(Bind),
    BindTransmitterResp(BindResp),
    BindTransceiver(Bind),
    BindTransceiverResp(BindResp),
    SubmitSm(Box<Sm>),
    SubmitSmResp(SmResp),
    DeliverSm(Box<Sm>),
    DeliverSmResp(SmResp),
    EnquireLink,
    EnquireLinkResp,
    Unbind,
    UnbindResp,
    GenericNack,
}

impl Body {
    pub fn command_id(&self) -> u32 {
        match self {
            Body::BindReceiver(_) => command::BIND_RECEIVER,
            Body::BindReceiverResp(_) => command::BIND_RECEIVER_RESP,
            Body::BindTransmitter(_) => command::BIND_TRANSMITTER,
            Body::BindTransmitterResp(_) => command::BIND_TRANSMITTER_RESP,
            Body::BindTransceiver(_) => command::BIND_TRANSCEIVER,
            Body::BindTransceiverResp(_) => command::BIND_TRANSCEIVER_RESP,
            Body::SubmitSm(_) => command::SUBMIT_SM,
            Body::SubmitSmResp(_) => command::SUBMIT_SM_RESP,
            Body::DeliverSm(_) => command::DELIVER_SM,
            Body::DeliverSmResp(_) => command::DELIVER_SM_RESP,
            Body::EnquireLink => command::ENQUIRE_LINK,
            Body::EnquireLinkResp => command::ENQUIRE_LINK_RESP,
            Body::Unbind => command::UNBIND,
            Body::UnbindResp => command::UNBIND_RESP,
            Body::GenericNack => command::GENERIC_NACK,
        }
    }

    pub fn name(&self) -> &'static str {
        command_name(self.command_id()).unwrap_or("unknown")
    }

    pub fn is_response(&self) -> bool {
        self.command_id() & command::RESPONSE != 0
    }
}

/// The specification's name of a command_id this crate knows.
pub fn command_name(command_id: u32) -> Option<&'static str> {
    Some(match command_id {
        command::GENERIC_NACK => "generic_nack",
        command::BIND_RECEIVER => "bind_receiver",
        command::BIND_RECEIVER_RESP => "bind_receiver_resp",
        command::BIND_TRANSMITTER => "bind_transmitter",
        command::BIND_TRANSMITTER_RESP => "bind_transmitter_resp",
        command::BIND_TRANSCEIVER => "bind_transceiver",
        command::BIND_TRANSCEIVER_RESP => "bind_transceiver_resp",
        command::SUBMIT_SM => "submit_sm",
        command::SUBMIT_SM_RESP => "submit_sm_resp",
        command::DELIVER_SM => "deliver_sm",
        command::DELIVER_SM_RESP => "deliver_sm_resp",
        command::UNBIND => "unbind",
        command::UNBIND_RESP => "unbind_resp",
        command::ENQUIRE_LINK => "enquire_link",
        command::ENQUIRE_LINK_RESP => "enquire_link_resp",
        _ => return None,
    })
}

/// The four header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub command_length: u32,
    pub command_id: u32,
    pub command_status: u32,
    pub sequence_number: u32,
}

impl Header {
    /// Reads the header from the first 16 octets and checks command_length
    /// against [`HEADER_LEN`] and [`MAX_COMMAND_LENGTH`] (not against
    /// `bytes`, which may hold only the header).
    pub fn decode(bytes: &[u8]) -> Result<Header, DecodeError> {
        let Some(head) = bytes.get(..HEADER_LEN) else {
            return Err(DecodeError::ShortHeader(bytes.len()));
        };
        let word = |i: usize| u32::from_be_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
        let header = Header {
            command_length: word(0),
            command_id: word(4),
            command_status: word(8),
            sequence_number: word(12),
        };
        if (header.command_length as usize) < HEADER_LEN
            || header.command_length > MAX_COMMAND_LENGTH
        {
            return Err(DecodeError::BadCommandLength(header.command_length));
        }
        Ok(header)
    }
}

/// A whole PDU. command_length and command_id are derived when encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdu {
    pub command_status: u32,
    pub sequence_number: u32,
    pub body: Body,
}

impl Pdu {
    /// A request (or a response with status 0).
    pub fn new(sequence_number: u32, body: Body) -> Self {
        Pdu {
            command_status: status::ESME_ROK,
            sequence_number,
            body,
        }
    }

    pub fn command_id(&self) -> u32 {
        self.body.command_id()
    }

    /// The PDU's octets, command_length first.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&self.command_id().to_be_bytes());
        out.extend_from_slice(&self.command_status.to_be_bytes());
        out.extend_from_slice(&self.sequence_number.to_be_bytes());
        let mut w = Writer {
            out: &mut out,
            command: self.body.name(),
        };
        match &self.body {
            Body::BindReceiver(b) | Body::BindTransmitter(b) | Body::BindTransceiver(b) => {
                w.cstr("system_id", &b.system_id, max::SYSTEM_ID)?;
                w.cstr("password", &b.password, max::PASSWORD)?;
                w.cstr("system_type", &b.system_type, max::SYSTEM_TYPE)?;
                w.u8(b.interface_version);
                w.u8(b.addr_ton);
                w.u8(b.addr_npi);
                w.cstr("address_range", &b.address_range, max::ADDRESS_RANGE)?;
            }
            Body::BindReceiverResp(r)
            | Body::BindTransmitterResp(r)
            | Body::BindTransceiverResp(r) => {
                w.cstr("system_id", &r.system_id, max::SYSTEM_ID)?;
                w.tlvs(&r.tlvs)?;
            }
            Body::SubmitSm(sm) | Body::DeliverSm(sm) => {
                w.cstr("service_type", &sm.service_type, max::SERVICE_TYPE)?;
                w.u8(sm.source_addr_ton);
                w.u8(sm.source_addr_npi);
                w.cstr("source_addr", &sm.source_addr, max::ADDR)?;
                w.u8(sm.dest_addr_ton);
                w.u8(sm.dest_addr_npi);
                w.cstr("destination_addr", &sm.destination_addr, max::ADDR)?;
                w.u8(sm.esm_class);
                w.u8(sm.protocol_id);
                w.u8(sm.priority_flag);
                w.cstr(
                    "schedule_delivery_time",
                    &sm.schedule_delivery_time,
                    max::TIME,
                )?;
                w.cstr("validity_period", &sm.validity_period, max::TIME)?;
                w.u8(sm.registered_delivery);
                w.u8(sm.replace_if_present_flag);
                w.u8(sm.data_coding);
                w.u8(sm.sm_default_msg_id);
                let len = sm.short_message.len();
                if len > max::SHORT_MESSAGE {
                    return Err(EncodeError::TooLong {
                        command: w.command,
                        field: "short_message",
                        len,
                        max: max::SHORT_MESSAGE,
                    });
                }
                w.u8(len as u8);
                w.out.extend_from_slice(&sm.short_message);
                w.tlvs(&sm.tlvs)?;
            }
            Body::SubmitSmResp(r) | Body::DeliverSmResp(r) => {
                w.cstr("message_id", &r.message_id, max::MESSAGE_ID)?;
                w.tlvs(&r.tlvs)?;
            }
            Body::EnquireLink
            | Body::EnquireLinkResp
            | Body::Unbind
            | Body::UnbindResp
            | Body::GenericNack => {}
        }
        let len = out.len();
        if len > MAX_COMMAND_LENGTH as usize {
            return Err(EncodeError::TooLong {
                command: self.body.name(),
                field: "PDU",
                len,
                max: MAX_COMMAND_LENGTH as usize,
            });
        }
        out[..4].copy_from_slice(&(len as u32).to_be_bytes());
        Ok(out)
    }

    /// Decodes exactly one PDU: `bytes` must be as long as its
    /// command_length says.
    pub fn decode(bytes: &[u8]) -> Result<Pdu, DecodeError> {
        let header = Header::decode(bytes)?;
        if header.command_length as usize != bytes.len() {
            return Err(DecodeError::LengthMismatch {
                declared: header.command_length,
                actual: bytes.len(),
            });
        }
        let command = command_name(header.command_id)
            .ok_or(DecodeError::UnknownCommand(header.command_id))?;
        let mut r = Reader {
            bytes: &bytes[HEADER_LEN..],
            pos: 0,
            command,
        };
        let body = match header.command_id {
            command::BIND_RECEIVER => Body::BindReceiver(r.bind()?),
            command::BIND_TRANSMITTER => Body::BindTransmitter(r.bind()?),
            command::BIND_TRANSCEIVER => Body::BindTransceiver(r.bind()?),
            command::BIND_RECEIVER_RESP => Body::BindReceiverResp(r.bind_resp()?),
            command::BIND_TRANSMITTER_RESP => Body::BindTransmitterResp(r.bind_resp()?),
            command::BIND_TRANSCEIVER_RESP => Body::BindTransceiverResp(r.bind_resp()?),
            command::SUBMIT_SM => Body::SubmitSm(Box::new(r.sm()?)),
            command::DELIVER_SM => Body::DeliverSm(Box::new(r.sm()?)),
            command::SUBMIT_SM_RESP => Body::SubmitSmResp(r.sm_resp()?),
            command::DELIVER_SM_RESP => Body::DeliverSmResp(r.sm_resp()?),
            command::ENQUIRE_LINK => Body::EnquireLink,
            command::ENQUIRE_LINK_RESP => Body::EnquireLinkResp,
            command::UNBIND => Body::Unbind,
            command::UNBIND_RESP => Body::UnbindResp,
            command::GENERIC_NACK => Body::GenericNack,
            other => return Err(DecodeError::UnknownCommand(other)),
        };
        r.finish()?;
        Ok(Pdu {
            command_status: header.command_status,
            sequence_number: header.sequence_number,
            body,
        })
    }
}

impl fmt::Display for Pdu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} seq={} status={}",
            self.body.name(),
            self.sequence_number,
            status::describe(self.command_status)
        )
    }
}

/// Why bytes are not a PDU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{0} octets are shorter than the 16-octet header")]
    ShortHeader(usize),
    #[error("command_length {0} is outside 16..={MAX_COMMAND_LENGTH}")]
    BadCommandLength(u32),
    #[error("command_length {declared} does not match the {actual} octets received")]
    LengthMismatch { declared: u32, actual: usize },
    #[error("unknown command_id 0x{0:08X}")]
    UnknownCommand(u32),
    #[error("{command}: {field} is cut short")]
    Truncated {
        command: &'static str,
        field: &'static str,
    },
    #[error("{command}: {field} has no NUL within its {max} octets")]
    Unterminated {
        command: &'static str,
        field: &'static str,
        max: usize,
    },
    #[error("{command}: TLV 0x{tag:04X} claims {len} octets, {left} are left")]
    TlvTruncated {
        command: &'static str,
        tag: u16,
        len: usize,
        left: usize,
    },
    #[error("{command}: {extra} unexpected octets after the body")]
    TrailingBytes { command: &'static str, extra: usize },
}

/// Why a PDU cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("{command}: {field} is {len} octets, at most {max} allowed")]
    TooLong {
        command: &'static str,
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{command}: {field} holds a character outside Latin-1 or a NUL")]
    BadChar {
        command: &'static str,
        field: &'static str,
    },
}

/// C-octet strings are read as Latin-1, so that every octet maps to one
/// character and nothing is lost or refused.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

struct Writer<'a> {
    out: &'a mut Vec<u8>,
    command: &'static str,
}

impl Writer<'_> {
    fn u8(&mut self, v: u8) {
        self.out.push(v);
    }

    /// `max` counts the NUL.
    fn cstr(&mut self, field: &'static str, s: &str, max: usize) -> Result<(), EncodeError> {
        let len = s.chars().count();
        if len + 1 > max {
            return Err(EncodeError::TooLong {
                command: self.command,
                field,
                len: len + 1,
                max,
            });
        }
        for c in s.chars() {
            let code = c as u32;
            if code == 0 || code > 0xFF {
                return Err(EncodeError::BadChar {
                    command: self.command,
                    field,
                });
            }
            self.out.push(code as u8);
        }
        self.out.push(0);
        Ok(())
    }

    fn tlvs(&mut self, tlvs: &[Tlv]) -> Result<(), EncodeError> {
        for tlv in tlvs {
            let len = tlv.value.len();
            if len > u16::MAX as usize {
                return Err(EncodeError::TooLong {
                    command: self.command,
                    field: "TLV value",
                    len,
                    max: u16::MAX as usize,
                });
            }
            self.out.extend_from_slice(&tlv.tag.to_be_bytes());
            self.out.extend_from_slice(&(len as u16).to_be_bytes());
            self.out.extend_from_slice(&tlv.value);
        }
        Ok(())
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    command: &'static str,
}

impl Reader<'_> {
    fn left(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        let v = *self.bytes.get(self.pos).ok_or(DecodeError::Truncated {
            command: self.command,
            field,
        })?;
        self.pos += 1;
        Ok(v)
    }

    fn octets(&mut self, field: &'static str, n: usize) -> Result<&[u8], DecodeError> {
        if n > self.left() {
            return Err(DecodeError::Truncated {
                command: self.command,
                field,
            });
        }
        let v = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(v)
    }

    /// A C-octet string of at most `max` octets, NUL included.
    fn cstr(&mut self, field: &'static str, max: usize) -> Result<String, DecodeError> {
        let rest = &self.bytes[self.pos..];
        let window = &rest[..rest.len().min(max)];
        match window.iter().position(|&b| b == 0) {
            Some(end) => {
                self.pos += end + 1;
                Ok(latin1(&window[..end]))
            }
            None if rest.len() < max => Err(DecodeError::Truncated {
                command: self.command,
                field,
            }),
            None => Err(DecodeError::Unterminated {
                command: self.command,
                field,
                max,
            }),
        }
    }

    fn tlvs(&mut self) -> Result<Vec<Tlv>, DecodeError> {
        let mut tlvs = Vec::new();
        while self.left() > 0 {
            if self.left() < 4 {
                return Err(DecodeError::Truncated {
                    command: self.command,
                    field: "TLV header",
                });
            }
            let b = &self.bytes[self.pos..self.pos + 4];
            let tag = u16::from_be_bytes([b[0], b[1]]);
            let len = u16::from_be_bytes([b[2], b[3]]) as usize;
            self.pos += 4;
            if len > self.left() {
                return Err(DecodeError::TlvTruncated {
                    command: self.command,
                    tag,
                    len,
                    left: self.left(),
                });
            }
            let value = self.bytes[self.pos..self.pos + len].to_vec();
            self.pos += len;
            tlvs.push(Tlv { tag, value });
        }
        Ok(tlvs)
    }

    fn finish(&self) -> Result<(), DecodeError> {
        match self.left() {
            0 => Ok(()),
            extra => Err(DecodeError::TrailingBytes {
                command: self.command,
                extra,
            }),
        }
    }

    fn bind(&mut self) -> Result<Bind, DecodeError> {
        Ok(Bind {
            system_id: self.cstr("system_id", max::SYSTEM_ID)?,
            password: self.cstr("password", max::PASSWORD)?,
            system_type: self.cstr("system_type", max::SYSTEM_TYPE)?,
            interface_version: self.u8("interface_version")?,
            addr_ton: self.u8("addr_ton")?,
            addr_npi: self.u8("addr_npi")?,
            address_range: self.cstr("address_range", max::ADDRESS_RANGE)?,
        })
    }

    /// An empty body (a refusal) decodes as an empty system_id.
    fn bind_resp(&mut self) -> Result<BindResp, DecodeError> {
        if self.left() == 0 {
            return Ok(BindResp::default());
        }
        Ok(BindResp {
            system_id: self.cstr("system_id", max::SYSTEM_ID)?,
            tlvs: self.tlvs()?,
        })
    }

    /// An empty body (an error response) decodes as an empty message_id.
    fn sm_resp(&mut self) -> Result<SmResp, DecodeError> {
        if self.left() == 0 {
            return Ok(SmResp::default());
        }
        Ok(SmResp {
            message_id: self.cstr("message_id", max::MESSAGE_ID)?,
            tlvs: self.tlvs()?,
        })
    }

    fn sm(&mut self) -> Result<Sm, DecodeError> {
        let mut sm = Sm {
            service_type: self.cstr("service_type", max::SERVICE_TYPE)?,
            source_addr_ton: self.u8("source_addr_ton")?,
            source_addr_npi: self.u8("source_addr_npi")?,
            source_addr: self.cstr("source_addr", max::ADDR)?,
            dest_addr_ton: self.u8("dest_addr_ton")?,
            dest_addr_npi: self.u8("dest_addr_npi")?,
            destination_addr: self.cstr("destination_addr", max::ADDR)?,
            esm_class: self.u8("esm_class")?,
            protocol_id: self.u8("protocol_id")?,
            priority_flag: self.u8("priority_flag")?,
            schedule_delivery_time: self.cstr("schedule_delivery_time", max::TIME)?,
            validity_period: self.cstr("validity_period", max::TIME)?,
            registered_delivery: self.u8("registered_delivery")?,
            replace_if_present_flag: self.u8("replace_if_present_flag")?,
            data_coding: self.u8("data_coding")?,
            sm_default_msg_id: self.u8("sm_default_msg_id")?,
            ..Sm::default()
        };
        let sm_length = self.u8("sm_length")? as usize;
        sm.short_message = self.octets("short_message", sm_length)?.to_vec();
        sm.tlvs = self.tlvs()?;
        Ok(sm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header by hand: length, id, status, sequence.
    fn header(len: u32, id: u32, status: u32, seq: u32) -> Vec<u8> {
        let mut v = Vec::new();
        for w in [len, id, status, seq] {
            v.extend_from_slice(&w.to_be_bytes());
        }
        v
    }

    fn bind_transmitter_bytes() -> Vec<u8> {
        // SMPP 3.4 §4.1.1: system_id, password, system_type (C-octet
        // strings), interface_version, addr_ton, addr_npi, address_range.
        let mut body = Vec::new();
        body.extend_from_slice(b"warden\0");
        body.extend_from_slice(b"secret\0");
        body.extend_from_slice(b"SMS\0");
        body.extend_from_slice(&[0x34, 0x01, 0x01]);
        body.extend_from_slice(b"\0");
        let mut v = header(16 + body.len() as u32, 0x0000_0002, 0, 1);
        v.extend_from_slice(&body);
        v
    }

    fn bind_transmitter_pdu() -> Pdu {
        Pdu::new(
            1,
            Body::BindTransmitter(Bind {
                addr_ton: 1,
                addr_npi: 1,
                ..Bind::new("warden", "secret", "SMS")
            }),
        )
    }

    #[test]
    fn bind_transmitter_matches_the_specification_layout() {
        let bytes = bind_transmitter_bytes();
        assert_eq!(bytes.len(), 16 + 7 + 7 + 4 + 3 + 1);
        assert_eq!(&bytes[..4], &[0, 0, 0, 38]);
        assert_eq!(bind_transmitter_pdu().encode().unwrap(), bytes);
        assert_eq!(Pdu::decode(&bytes).unwrap(), bind_transmitter_pdu());
    }

    #[test]
    fn bind_transceiver_resp_with_sc_interface_version() {
        let mut bytes = header(16 + 5 + 5, 0x8000_0009, 0, 7);
        bytes.extend_from_slice(b"SMSC\0");
        bytes.extend_from_slice(&[0x02, 0x10, 0x00, 0x01, 0x34]);
        let pdu = Pdu::decode(&bytes).unwrap();
        assert_eq!(
            pdu,
            Pdu::new(
                7,
                Body::BindTransceiverResp(BindResp {
                    system_id: "SMSC".into(),
                    tlvs: vec![Tlv::new(tag::SC_INTERFACE_VERSION, vec![0x34])],
                })
            )
        );
        assert_eq!(pdu.encode().unwrap(), bytes);
    }

    #[test]
    fn refused_bind_without_body() {
        // node-smpp and others send only the header with an error status.
        let bytes = header(16, 0x8000_0002, status::ESME_RBINDFAIL, 1);
        let pdu = Pdu::decode(&bytes).unwrap();
        assert_eq!(pdu.command_status, 0x0D);
        assert_eq!(pdu.body, Body::BindTransmitterResp(BindResp::default()));
    }

    fn submit_sm_bytes() -> Vec<u8> {
        // SMPP 3.4 §4.4.1, field by field.
        let mut body = Vec::new();
        body.extend_from_slice(b"\0"); // service_type
        body.extend_from_slice(&[0x05, 0x00]); // source_addr_ton, npi
        body.extend_from_slice(b"Warden\0"); // source_addr
        body.extend_from_slice(&[0x01, 0x01]); // dest_addr_ton, npi
        body.extend_from_slice(b"15550000001\0"); // destination_addr
        body.extend_from_slice(&[0x00, 0x00, 0x00]); // esm_class, protocol_id, priority_flag
        body.extend_from_slice(b"\0"); // schedule_delivery_time
        body.extend_from_slice(b"\0"); // validity_period
        body.extend_from_slice(&[0x01, 0x00, 0x00, 0x00]); // registered_delivery, replace, data_coding, sm_default_msg_id
        body.push(5); // sm_length
        body.extend_from_slice(b"Hello");
        let mut v = header(16 + body.len() as u32, 0x0000_0004, 0, 0x0102_0304);
        v.extend_from_slice(&body);
        v
    }

    fn submit_sm_pdu() -> Pdu {
        Pdu::new(
            0x0102_0304,
            Body::SubmitSm(Box::new(Sm {
                source_addr_ton: 5,
                source_addr: "Warden".into(),
                dest_addr_ton: 1,
                dest_addr_npi: 1,
                destination_addr: "15550000001".into(),
                registered_delivery: 1,
                short_message: b"Hello".to_vec(),
                ..Sm::default()
            })),
        )
    }

    #[test]
    fn submit_sm_matches_the_specification_layout() {
        let bytes = submit_sm_bytes();
        assert_eq!(submit_sm_pdu().encode().unwrap(), bytes);
        assert_eq!(Pdu::decode(&bytes).unwrap(), submit_sm_pdu());
    }

    #[test]
    fn submit_sm_resp_and_error_without_body() {
        let mut bytes = header(16 + 11, 0x8000_0004, 0, 9);
        bytes.extend_from_slice(b"0A1B2C3D4E\0");
        let pdu = Pdu::decode(&bytes).unwrap();
        assert_eq!(
            pdu.body,
            Body::SubmitSmResp(SmResp {
                message_id: "0A1B2C3D4E".into(),
                tlvs: vec![]
            })
        );
        assert_eq!(pdu.encode().unwrap(), bytes);

        let throttled = header(16, 0x8000_0004, status::ESME_RTHROTTLED, 10);
        let pdu = Pdu::decode(&throttled).unwrap();
        assert_eq!(pdu.command_status, 0x58);
        assert_eq!(pdu.body, Body::SubmitSmResp(SmResp::default()));
    }

    #[test]
    fn deliver_sm_receipt_with_tlvs() {
        let text = b"id:42 sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 stat:DELIVRD err:000 text:Hi";
        let mut body = Vec::new();
        body.extend_from_slice(b"\0");
        body.extend_from_slice(&[1, 1]);
        body.extend_from_slice(b"15550000001\0");
        body.extend_from_slice(&[5, 0]);
        body.extend_from_slice(b"Warden\0");
        body.extend_from_slice(&[0x04, 0, 0]);
        body.extend_from_slice(b"\0\0");
        body.extend_from_slice(&[0, 0, 0, 0]);
        body.push(text.len() as u8);
        body.extend_from_slice(text);
        body.extend_from_slice(&[0x00, 0x1E, 0x00, 0x03, b'4', b'2', 0]); // receipted_message_id
        body.extend_from_slice(&[0x04, 0x27, 0x00, 0x01, 0x02]); // message_state DELIVERED
        let mut bytes = header(16 + body.len() as u32, 0x0000_0005, 0, 3);
        bytes.extend_from_slice(&body);

        let pdu = Pdu::decode(&bytes).unwrap();
        let Body::DeliverSm(sm) = &pdu.body else {
            panic!("not deliver_sm: {pdu:?}")
        };
        assert_eq!(sm.esm_class, esm_class::DELIVERY_RECEIPT);
        assert_eq!(sm.source_addr, "15550000001");
        assert_eq!(sm.short_message, text);
        assert_eq!(sm.receipted_message_id().as_deref(), Some("42"));
        assert_eq!(sm.message_state(), Some(MessageState::Delivered));
        assert_eq!(sm.tlvs.len(), 2);
        assert_eq!(pdu.encode().unwrap(), bytes);
    }

    #[test]
    fn message_payload_is_the_text_when_short_message_is_empty() {
        let sm = Sm {
            tlvs: vec![Tlv::new(tag::MESSAGE_PAYLOAD, b"long text".to_vec())],
            ..Sm::default()
        };
        assert_eq!(sm.payload(), b"long text");
    }

    #[test]
    fn bodiless_commands() {
        for (body, id) in [
            (Body::EnquireLink, 0x0000_0015u32),
            (Body::EnquireLinkResp, 0x8000_0015),
            (Body::Unbind, 0x0000_0006),
            (Body::UnbindResp, 0x8000_0006),
            (Body::GenericNack, 0x8000_0000),
        ] {
            let pdu = Pdu {
                command_status: if id == 0x8000_0000 { 3 } else { 0 },
                sequence_number: 77,
                body,
            };
            let bytes = header(16, id, pdu.command_status, 77);
            assert_eq!(pdu.encode().unwrap(), bytes);
            assert_eq!(Pdu::decode(&bytes).unwrap(), pdu);
        }
    }

    #[test]
    fn round_trips() {
        let pdus = vec![
            bind_transmitter_pdu(),
            Pdu::new(2, Body::BindReceiver(Bind::new("r", "p", ""))),
            Pdu::new(3, Body::BindTransceiver(Bind::new("a", "b", "c"))),
            Pdu::new(4, Body::BindReceiverResp(BindResp::default())),
            submit_sm_pdu(),
            Pdu::new(
                5,
                Body::DeliverSm(Box::new(Sm {
                    service_type: "CMT".into(),
                    esm_class: 0x40,
                    data_coding: 8,
                    schedule_delivery_time: "240101120000000+".into(),
                    validity_period: "000001000000000R".into(),
                    short_message: vec![0; 254],
                    tlvs: vec![Tlv::new(0x1234, vec![]), Tlv::new(0xFFFF, vec![9; 300])],
                    ..Sm::default()
                })),
            ),
            Pdu::new(6, Body::DeliverSmResp(SmResp::default())),
            Pdu {
                command_status: 0x58,
                sequence_number: 0x7FFF_FFFF,
                body: Body::SubmitSmResp(SmResp {
                    message_id: "x".repeat(64),
                    tlvs: vec![],
                }),
            },
        ];
        for pdu in pdus {
            let bytes = pdu.encode().unwrap();
            assert_eq!(Pdu::decode(&bytes).unwrap(), pdu, "{pdu}");
        }
    }

    #[test]
    fn encoding_refuses_oversized_fields() {
        let long_id = Pdu::new(1, Body::BindTransmitter(Bind::new(&"a".repeat(16), "", "")));
        assert!(matches!(
            long_id.encode(),
            Err(EncodeError::TooLong {
                field: "system_id",
                ..
            })
        ));
        let long_sm = Pdu::new(
            1,
            Body::SubmitSm(Box::new(Sm {
                short_message: vec![b'a'; 255],
                ..Sm::default()
            })),
        );
        assert!(matches!(
            long_sm.encode(),
            Err(EncodeError::TooLong {
                field: "short_message",
                ..
            })
        ));
        let nul = Pdu::new(1, Body::BindTransmitter(Bind::new("a\0b", "", "")));
        assert!(matches!(nul.encode(), Err(EncodeError::BadChar { .. })));
        let arabic = Pdu::new(1, Body::BindTransmitter(Bind::new("سلام", "", "")));
        assert!(matches!(arabic.encode(), Err(EncodeError::BadChar { .. })));
    }

    #[test]
    fn malformed_input_is_an_error() {
        // Shorter than a header.
        assert_eq!(Pdu::decode(&[0, 0, 0]), Err(DecodeError::ShortHeader(3)));
        // command_length below 16 and above the limit.
        assert_eq!(
            Pdu::decode(&header(15, 0x15, 0, 1)),
            Err(DecodeError::BadCommandLength(15))
        );
        assert_eq!(
            Header::decode(&header(0xFFFF_FFFF, 0x15, 0, 1)),
            Err(DecodeError::BadCommandLength(0xFFFF_FFFF))
        );
        // command_length disagreeing with the bytes.
        let mut long = header(17, 0x15, 0, 1);
        long.push(0);
        long.push(0);
        assert_eq!(
            Pdu::decode(&long),
            Err(DecodeError::LengthMismatch {
                declared: 17,
                actual: 18
            })
        );
        // An unknown command.
        assert_eq!(
            Pdu::decode(&header(16, 0x0000_0103, 0, 1)),
            Err(DecodeError::UnknownCommand(0x103))
        );
        // A body where none belongs.
        let mut el = header(17, 0x15, 0, 1);
        el.push(0);
        assert!(matches!(
            Pdu::decode(&el),
            Err(DecodeError::TrailingBytes { extra: 1, .. })
        ));
        // A system_id without its NUL within 16 octets.
        let mut bind = header(0, 0x02, 0, 1);
        bind.extend_from_slice(&[b'a'; 20]);
        bind.extend_from_slice(b"\0\0\0\x34\0\0\0");
        let len = bind.len() as u32;
        bind[..4].copy_from_slice(&len.to_be_bytes());
        assert!(matches!(
            Pdu::decode(&bind),
            Err(DecodeError::Unterminated {
                field: "system_id",
                max: 16,
                ..
            })
        ));
        // sm_length pointing past the end.
        let mut sm = submit_sm_bytes();
        let at = sm.len() - 6;
        sm[at] = 200;
        assert!(matches!(
            Pdu::decode(&sm),
            Err(DecodeError::Truncated {
                field: "short_message",
                ..
            })
        ));
        // A TLV running past the end, and half a TLV header.
        let mut tlv = submit_sm_bytes();
        tlv.extend_from_slice(&[0x04, 0x27, 0x00, 0x05, 0x02]);
        let len = tlv.len() as u32;
        tlv[..4].copy_from_slice(&len.to_be_bytes());
        assert!(matches!(
            Pdu::decode(&tlv),
            Err(DecodeError::TlvTruncated {
                tag: 0x0427,
                len: 5,
                left: 1,
                ..
            })
        ));
        let mut half = submit_sm_bytes();
        half.extend_from_slice(&[0x04, 0x27]);
        let len = half.len() as u32;
        half[..4].copy_from_slice(&len.to_be_bytes());
        assert!(matches!(
            Pdu::decode(&half),
            Err(DecodeError::Truncated {
                field: "TLV header",
                ..
            })
        ));
    }

    #[test]
    fn every_truncation_is_an_error() {
        for bytes in [
            bind_transmitter_bytes(),
            submit_sm_bytes(),
            Pdu::new(1, Body::SubmitSmResp(SmResp::default()))
                .encode()
                .unwrap(),
        ] {
            for cut in 0..bytes.len() {
                let mut v = bytes[..cut].to_vec();
                // Truncated bytes as they are, and with command_length
                // rewritten to agree (a body cut short inside).
                assert!(Pdu::decode(&v).is_err(), "cut at {cut}");
                if cut >= HEADER_LEN {
                    v[..4].copy_from_slice(&(cut as u32).to_be_bytes());
                    let r = Pdu::decode(&v);
                    // Responses may legitimately have an empty body.
                    if cut != HEADER_LEN || bytes[4] & 0x80 == 0 {
                        assert!(r.is_err(), "cut at {cut}: {r:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn garbage_never_panics() {
        // A small xorshift generator: random flips of valid PDUs and random
        // bodies behind valid headers.
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let seeds = [bind_transmitter_bytes(), submit_sm_bytes()];
        let ids = [
            0x01,
            0x02,
            0x04,
            0x05,
            0x06,
            0x09,
            0x15,
            0x8000_0000,
            0x8000_0002,
            0x8000_0004,
            0x8000_0005,
            0x8000_0009,
        ];
        for i in 0..20_000 {
            let mut v = if i % 2 == 0 {
                seeds[(next() % 2) as usize].clone()
            } else {
                let len = 16 + (next() % 120) as usize;
                let mut v = header(len as u32, ids[(next() % ids.len() as u64) as usize], 0, 1);
                v.extend((16..len).map(|_| next() as u8));
                v
            };
            for _ in 0..(next() % 4) {
                let at = (next() % v.len() as u64) as usize;
                v[at] = next() as u8;
            }
            if let Ok(pdu) = Pdu::decode(&v) {
                // Whatever decodes encodes back to the same octets, but for
                // a response without its body, which gains an empty string.
                if v.len() > HEADER_LEN || !pdu.body.is_response() {
                    assert_eq!(pdu.encode().as_deref(), Ok(v.as_slice()));
                }
            }
        }
    }
}
