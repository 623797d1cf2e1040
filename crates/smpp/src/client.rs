//! An SMPP 3.4 ESME over tokio: bind, windowed submit_sm with retries on
//! throttling, delivery receipts and mobile-originated messages as a
//! channel, enquire_link both ways, unbind.
//!
//! One reader task owns the socket's read half: it matches responses to
//! their requests by sequence number, answers the SMSC's enquire_link,
//! deliver_sm and unbind itself, and answers anything it cannot read with
//! generic_nack. One writer task owns the write half and writes the frames
//! queued by everyone else, flushing when the queue runs dry.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::sync::{mpsc, oneshot, watch, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

use crate::pdu::{
    self, command, esm_class, status, Bind, Body, DecodeError, EncodeError, Header, Pdu, Sm, SmResp,
};
use crate::receipt::{DeliveryReceipt, ReceiptError};
use crate::text::{self, Concat, TextError};

/// How to bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindMode {
    /// Submit only.
    Transmitter,
    /// Receive only (receipts and replies); `submit` is refused.
    Receiver,
    /// Both over one connection.
    Transceiver,
}

/// The session's settings. [`BindConfig::new`] fills in the defaults.
#[derive(Debug, Clone)]
pub struct BindConfig {
    pub system_id: String,
    pub password: String,
    pub system_type: String,
    pub mode: BindMode,
    /// The most submit_sm awaiting their submit_sm_resp at once (≥ 1).
    pub window: usize,
    /// How often to send enquire_link; `Duration::ZERO` for never.
    pub enquire_link_interval: Duration,
    /// How long to wait for any response (and for the TCP connection).
    pub response_timeout: Duration,
    /// The first pause after ESME_RTHROTTLED or ESME_RMSGQFUL; it doubles
    /// at each further refusal of the same submit_sm, up to two seconds.
    pub throttle_backoff: Duration,
    /// How many times one submit_sm is retried after such a refusal.
    pub throttle_retries: u32,
    /// Size of the [`Client::incoming`] channel. When it is full (or no
    /// longer read) deliver_sm is answered ESME_RX_T_APPN, so that the
    /// SMSC delivers it again later rather than it being lost here.
    pub incoming_capacity: usize,
}

impl BindConfig {
    /// A transceiver with window 10, enquire_link every 30 s, responses
    /// within 10 s, throttling retried 20 times from 100 ms.
    pub fn new(system_id: &str, password: &str) -> Self {
        BindConfig {
            system_id: system_id.to_owned(),
            password: password.to_owned(),
            system_type: String::new(),
            mode: BindMode::Transceiver,
            window: 10,
            enquire_link_interval: Duration::from_secs(30),
            response_timeout: Duration::from_secs(10),
            throttle_backoff: Duration::from_millis(100),
            throttle_retries: 20,
            incoming_capacity: 4096,
        }
    }
}

/// One text to one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitRequest {
    /// A phone number (`+` and digits for international format) or an
    /// alphanumeric sender name.
    pub source: String,
    /// A phone number, `+` and digits for international format.
    pub destination: String,
    pub text: String,
    /// Ask for a delivery receipt (final state, success or failure).
    pub registered_delivery: bool,
}

/// What the SMSC delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A delivery receipt for a message submitted earlier.
    Receipt(DeliveryReceipt),
    /// A message from a phone (segments of a concatenated message are
    /// joined first). Numbers in international format carry their `+`.
    Message {
        source: String,
        destination: String,
        text: String,
    },
    /// A deliver_sm marked as a receipt whose receipt could not be read.
    BadReceipt {
        source: String,
        text: String,
        error: ReceiptError,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("SMPP connection: {0}")]
    Io(#[from] io::Error),
    #[error("bind refused by the SMSC: {}", status::describe(*.status))]
    BindRefused { status: u32 },
    #[error("{command} refused by the SMSC: {}", status::describe(*.status))]
    Status { command: &'static str, status: u32 },
    #[error("no response to {command} within {timeout:?}")]
    Timeout {
        command: &'static str,
        timeout: Duration,
    },
    #[error("the SMPP session is closed")]
    Closed,
    #[error("unexpected {got} in answer to {command}")]
    Unexpected {
        command: &'static str,
        got: &'static str,
    },
    #[error("undecodable response: {0}")]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error(transparent)]
    Text(#[from] TextError),
    #[error("invalid address {0:?}")]
    Address(String),
    #[error("bound as a receiver: submit_sm is not allowed")]
    NotTransmitter,
    #[error("invalid configuration: {0}")]
    Config(&'static str),
}

impl Error {
    /// The SMSC's command_status, for refusals.
    pub fn status(&self) -> Option<u32> {
        match self {
            Error::BindRefused { status } | Error::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Frames waiting to be written.
const WRITE_QUEUE: usize = 1024;
/// The longest pause between retries of a throttled submit_sm.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Parts of a concatenated incoming message older than this are given up
/// (what arrived is delivered as it is).
const CONCAT_TTL: Duration = Duration::from_secs(600);

type Reply = oneshot::Sender<Result<Pdu, Error>>;

struct Pending {
    closed: bool,
    waiting: HashMap<u32, Reply>,
}

struct Shared {
    config: BindConfig,
    frames: mpsc::Sender<Vec<u8>>,
    pending: Mutex<Pending>,
    next_sequence: AtomicU32,
    next_reference: AtomicU32,
    window: Semaphore,
    closed: watch::Sender<bool>,
    incoming: mpsc::Sender<Incoming>,
}

impl Shared {
    fn pending(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// 1..=0x7FFFFFFF, wrapping.
    fn sequence(&self) -> u32 {
        loop {
            let n = self.next_sequence.fetch_add(1, Ordering::Relaxed) & 0x7FFF_FFFF;
            if n != 0 {
                return n;
            }
        }
    }

    /// Sends a request and awaits its response (or generic_nack).
    async fn request(&self, body: Body) -> Result<Pdu, Error> {
        let name = body.name();
        let sequence = self.sequence();
        let frame = Pdu::new(sequence, body).encode()?;
        let (tx, rx) = oneshot::channel();
        {
            let mut pending = self.pending();
            if pending.closed {
                return Err(Error::Closed);
            }
            pending.waiting.insert(sequence, tx);
        }
        if self.frames.send(frame).await.is_err() {
            self.pending().waiting.remove(&sequence);
            return Err(Error::Closed);
        }
        match tokio::time::timeout(self.config.response_timeout, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Error::Closed),
            Err(_) => {
                self.pending().waiting.remove(&sequence);
                Err(Error::Timeout {
                    command: name,
                    timeout: self.config.response_timeout,
                })
            }
        }
    }

    /// Queues a response; a closed session drops it.
    async fn respond(&self, pdu: Pdu) {
        match pdu.encode() {
            Ok(frame) => {
                let _ = self.frames.send(frame).await;
            }
            Err(e) => tracing::error!(error = %e, "cannot encode {}", pdu.body.name()),
        }
    }

    /// Ends the session: fails every waiting request, stops the tasks (the
    /// writer first writes what is queued).
    fn close(&self) {
        let waiting = {
            let mut pending = self.pending();
            pending.closed = true;
            std::mem::take(&mut pending.waiting)
        };
        for (_, reply) in waiting {
            let _ = reply.send(Err(Error::Closed));
        }
        self.window.close();
        self.closed.send_replace(true);
    }

    fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    async fn submit_segment(&self, sm: Sm) -> Result<String, Error> {
        let _permit = self.window.acquire().await.map_err(|_| Error::Closed)?;
        let mut backoff = self.config.throttle_backoff;
        let mut retries = 0;
        loop {
            let response = self.request(Body::SubmitSm(Box::new(sm.clone()))).await?;
            let status = response.command_status;
            match response.body {
                Body::SubmitSmResp(SmResp { message_id, .. }) if status == status::ESME_ROK => {
                    return Ok(message_id)
                }
                Body::SubmitSmResp(_) | Body::GenericNack
                    if retryable(status) && retries < self.config.throttle_retries =>
                {
                    // The permit is kept: the window pauses with the SMSC.
                    retries += 1;
                    tracing::debug!(status = %status::describe(status), ?backoff, "submit_sm retried");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Body::SubmitSmResp(_) | Body::GenericNack => {
                    return Err(Error::Status {
                        command: "submit_sm",
                        status,
                    })
                }
                other => {
                    return Err(Error::Unexpected {
                        command: "submit_sm",
                        got: other.name(),
                    })
                }
            }
        }
    }
}

fn retryable(status: u32) -> bool {
    matches!(status, status::ESME_RTHROTTLED | status::ESME_RMSGQFUL)
}

/// A bound SMPP session. Dropping it closes the connection without unbind;
/// call [`Client::unbind`] for a clean close. Share it between tasks behind
/// an `Arc`: `submit` takes `&self`.
pub struct Client {
    shared: Arc<Shared>,
    incoming: Mutex<Option<mpsc::Receiver<Incoming>>>,
    smsc_system_id: String,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl Client {
    /// Connects, binds and checks the bind's command_status.
    pub async fn connect(addr: impl ToSocketAddrs, config: BindConfig) -> Result<Client, Error> {
        if config.window == 0 {
            return Err(Error::Config("window must be at least 1"));
        }
        if config.incoming_capacity == 0 {
            return Err(Error::Config("incoming_capacity must be at least 1"));
        }
        let timeout = config.response_timeout;
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| Error::Timeout {
                command: "connect",
                timeout,
            })??;
        stream.set_nodelay(true)?;
        let (read, write) = stream.into_split();

        let (frames_tx, frames_rx) = mpsc::channel(WRITE_QUEUE);
        let (incoming_tx, incoming_rx) = mpsc::channel(config.incoming_capacity);
        let (closed_tx, closed_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            window: Semaphore::new(config.window),
            config,
            frames: frames_tx,
            pending: Mutex::new(Pending {
                closed: false,
                waiting: HashMap::new(),
            }),
            next_sequence: AtomicU32::new(1),
            next_reference: AtomicU32::new(0),
            closed: closed_tx,
            incoming: incoming_tx,
        });
        let writer = tokio::spawn(write_loop(shared.clone(), frames_rx, write));
        tokio::spawn(read_loop(shared.clone(), read, closed_rx));

        // Dropped on any error below, which closes the session.
        let mut client = Client {
            shared: shared.clone(),
            incoming: Mutex::new(Some(incoming_rx)),
            smsc_system_id: String::new(),
            writer: Mutex::new(Some(writer)),
        };
        let c = &shared.config;
        let bind = Bind::new(&c.system_id, &c.password, &c.system_type);
        let body = match c.mode {
            BindMode::Transmitter => Body::BindTransmitter(bind),
            BindMode::Receiver => Body::BindReceiver(bind),
            BindMode::Transceiver => Body::BindTransceiver(bind),
        };
        let (name, expected) = (body.name(), body.command_id() | command::RESPONSE);
        let response = shared.request(body).await?;
        if response.command_status != status::ESME_ROK {
            return Err(Error::BindRefused {
                status: response.command_status,
            });
        }
        let got = response.body.command_id();
        client.smsc_system_id = match response.body {
            Body::BindTransmitterResp(r)
            | Body::BindReceiverResp(r)
            | Body::BindTransceiverResp(r)
                if got == expected =>
            {
                r.system_id
            }
            other => {
                return Err(Error::Unexpected {
                    command: name,
                    got: other.name(),
                })
            }
        };
        if !shared.config.enquire_link_interval.is_zero() {
            tokio::spawn(enquire_link_loop(shared.clone()));
        }
        Ok(client)
    }

    /// The system_id the SMSC gave in its bind response.
    pub fn smsc_system_id(&self) -> &str {
        &self.smsc_system_id
    }

    /// True once the connection is gone (unbound, closed by the SMSC, or
    /// an enquire_link went unanswered).
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// Submits one text, split into as many segments as it needs, and
    /// returns the SMSC's message id of each segment in order. At most
    /// `window` submit_sm (of all callers) await their response at once;
    /// ESME_RTHROTTLED and ESME_RMSGQFUL are retried after a back-off,
    /// any other non-zero status is [`Error::Status`].
    pub async fn submit(&self, request: &SubmitRequest) -> Result<Vec<String>, Error> {
        if self.shared.config.mode == BindMode::Receiver {
            return Err(Error::NotTransmitter);
        }
        let (source_addr_ton, source_addr_npi, source_addr) = address(&request.source)?;
        let (dest_addr_ton, dest_addr_npi, destination_addr) = address(&request.destination)?;
        let reference = self.shared.next_reference.fetch_add(1, Ordering::Relaxed) as u8;
        let segments = text::segments(&request.text, reference)?;
        let template = Sm {
            source_addr_ton,
            source_addr_npi,
            source_addr,
            dest_addr_ton,
            dest_addr_npi,
            destination_addr,
            registered_delivery: u8::from(request.registered_delivery),
            ..Sm::default()
        };
        let mut sms = segments.into_iter().map(|segment| Sm {
            esm_class: segment.esm_class,
            data_coding: segment.data_coding,
            short_message: segment.short_message,
            ..template.clone()
        });
        if sms.len() == 1 {
            let sm = sms.next().ok_or(Error::Closed)?;
            return Ok(vec![self.shared.submit_segment(sm).await?]);
        }
        // Segments go concurrently, each within the window.
        let mut tasks = JoinSet::new();
        let total = sms.len();
        for (i, sm) in sms.enumerate() {
            let shared = self.shared.clone();
            tasks.spawn(async move { (i, shared.submit_segment(sm).await) });
        }
        let mut ids = vec![String::new(); total];
        while let Some(joined) = tasks.join_next().await {
            let (i, result) = joined.map_err(|e| Error::Io(io::Error::other(e)))?;
            ids[i] = result?;
        }
        Ok(ids)
    }

    /// The receipts and messages the SMSC delivers. The receiver is handed
    /// out once; later calls return `None`. Until it is taken, deliveries
    /// wait in the channel; once it is full or dropped, deliver_sm is
    /// answered ESME_RX_T_APPN so that the SMSC tries again later.
    pub fn incoming(&self) -> Option<mpsc::Receiver<Incoming>> {
        self.incoming
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// Sends one enquire_link and waits for its response.
    pub async fn enquire_link(&self) -> Result<(), Error> {
        let response = self.shared.request(Body::EnquireLink).await?;
        expect(response, "enquire_link", |b| {
            matches!(b, Body::EnquireLinkResp)
        })
    }

    /// Unbinds, waits for unbind_resp, and closes the connection once the
    /// queued frames are written.
    pub async fn unbind(&self) -> Result<(), Error> {
        let result = match self.shared.request(Body::Unbind).await {
            Ok(response) => expect(response, "unbind", |b| matches!(b, Body::UnbindResp)),
            Err(e) => Err(e),
        };
        self.shared.close();
        let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(writer) = writer {
            let _ = writer.await;
        }
        result
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.shared.close();
    }
}

fn expect(response: Pdu, command: &'static str, ok: impl Fn(&Body) -> bool) -> Result<(), Error> {
    if response.command_status != status::ESME_ROK {
        return Err(Error::Status {
            command,
            status: response.command_status,
        });
    }
    if ok(&response.body) {
        Ok(())
    } else {
        Err(Error::Unexpected {
            command,
            got: response.body.name(),
        })
    }
}

/// TON and NPI from how a number is written: `+digits` is international
/// (TON 1, NPI 1 E.164), bare digits are unknown TON with NPI 1, anything
/// else is alphanumeric (TON 5, NPI 0; at most 11 characters in GSM).
fn address(s: &str) -> Result<(u8, u8, String), Error> {
    let bad = || Error::Address(s.to_owned());
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    let (ton, npi, addr) = if let Some(rest) = s.strip_prefix('+') {
        if !digits(rest) {
            return Err(bad());
        }
        (1, 1, rest)
    } else if digits(s) {
        (0, 1, s)
    } else if !s.is_empty() && s.len() <= 11 && s.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
    {
        (5, 0, s)
    } else {
        return Err(bad());
    };
    if addr.len() >= pdu::max::ADDR {
        return Err(bad());
    }
    Ok((ton, npi, addr.to_owned()))
}

/// An address as received, with `+` for the international format.
fn show_address(ton: u8, addr: &str) -> String {
    if ton == 1 && !addr.starts_with('+') && !addr.is_empty() {
        format!("+{addr}")
    } else {
        addr.to_owned()
    }
}

/// Resolves once the session is closed (or its state is gone). The guard
/// `wait_for` returns is not `Send`, so it is dropped here.
async fn until_closed(closed: &mut watch::Receiver<bool>) {
    let _ = closed.wait_for(|closed| *closed).await;
}

async fn write_loop(
    shared: Arc<Shared>,
    mut frames: mpsc::Receiver<Vec<u8>>,
    write: OwnedWriteHalf,
) {
    let mut closed = shared.closed.subscribe();
    let mut out = BufWriter::new(write);
    let result: io::Result<()> = async {
        loop {
            tokio::select! {
                frame = frames.recv() => {
                    let Some(frame) = frame else { break };
                    out.write_all(&frame).await?;
                    while let Ok(frame) = frames.try_recv() {
                        out.write_all(&frame).await?;
                    }
                    out.flush().await?;
                }
                _ = until_closed(&mut closed) => {
                    // Write what was queued before the close (an unbind_resp).
                    while let Ok(frame) = frames.try_recv() {
                        out.write_all(&frame).await?;
                    }
                    out.flush().await?;
                    break;
                }
            }
        }
        out.shutdown().await
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "SMPP write failed; closing the session");
        shared.close();
    }
}

/// Reads one frame: `Ok(None)` at a clean end of stream.
async fn read_frame(read: &mut BufReader<OwnedReadHalf>) -> io::Result<Option<Vec<u8>>> {
    let mut head = [0u8; 4];
    match read.read_exact(&mut head).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let length = u32::from_be_bytes(head);
    if (length as usize) < pdu::HEADER_LEN || length > pdu::MAX_COMMAND_LENGTH {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("command_length {length} out of range"),
        ));
    }
    let mut frame = vec![0u8; length as usize];
    frame[..4].copy_from_slice(&head);
    read.read_exact(&mut frame[4..]).await?;
    Ok(Some(frame))
}

async fn read_loop(shared: Arc<Shared>, read: OwnedReadHalf, mut closed: watch::Receiver<bool>) {
    let mut read = BufReader::new(read);
    let mut concat = Reassembly::default();
    loop {
        let frame = tokio::select! {
            frame = read_frame(&mut read) => frame,
            _ = until_closed(&mut closed) => break,
        };
        let frame = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                tracing::debug!("SMSC closed the connection");
                break;
            }
            Err(e) => {
                tracing::warn!(error = %e, "SMPP read failed");
                break;
            }
        };
        match Pdu::decode(&frame) {
            Ok(pdu) => {
                if !handle(&shared, &mut concat, pdu).await {
                    break;
                }
            }
            Err(e) => undecodable(&shared, &frame, e).await,
        }
    }
    shared.close();
}

/// Handles one PDU from the SMSC; false to end the session.
async fn handle(shared: &Shared, concat: &mut Reassembly, pdu: Pdu) -> bool {
    let sequence = pdu.sequence_number;
    if pdu.body.is_response() {
        let reply = shared.pending().waiting.remove(&sequence);
        match reply {
            Some(reply) => {
                let _ = reply.send(Ok(pdu));
            }
            None => tracing::warn!(%pdu, "response to no pending request"),
        }
        return true;
    }
    match pdu.body {
        Body::EnquireLink => {
            shared
                .respond(Pdu::new(sequence, Body::EnquireLinkResp))
                .await
        }
        Body::DeliverSm(sm) => {
            let status = match incoming(concat, &sm) {
                None => status::ESME_ROK,
                Some(message) => match shared.incoming.try_send(message) {
                    Ok(()) => status::ESME_ROK,
                    Err(e) => {
                        tracing::warn!(error = %e, "deliver_sm refused for now: incoming channel");
                        status::ESME_RX_T_APPN
                    }
                },
            };
            let response = Pdu {
                command_status: status,
                sequence_number: sequence,
                body: Body::DeliverSmResp(SmResp::default()),
            };
            shared.respond(response).await;
        }
        Body::Unbind => {
            shared.respond(Pdu::new(sequence, Body::UnbindResp)).await;
            tracing::info!("SMSC unbound");
            return false;
        }
        other => {
            // A request an ESME does not take (bind, submit_sm).
            tracing::warn!("SMSC sent {}; answered generic_nack", other.name());
            let nack = Pdu {
                command_status: status::ESME_RINVCMDID,
                sequence_number: sequence,
                body: Body::GenericNack,
            };
            shared.respond(nack).await;
        }
    }
    true
}

/// A frame with a valid header whose body did not decode.
async fn undecodable(shared: &Shared, frame: &[u8], error: DecodeError) {
    let Ok(header) = Header::decode(frame) else {
        return;
    };
    tracing::warn!(error = %error, "undecodable PDU from the SMSC");
    if header.command_id & command::RESPONSE != 0 {
        let reply = shared.pending().waiting.remove(&header.sequence_number);
        if let Some(reply) = reply {
            let _ = reply.send(Err(Error::Decode(error)));
        }
        return;
    }
    let status = match error {
        DecodeError::UnknownCommand(_) => status::ESME_RINVCMDID,
        _ => status::ESME_RINVCMDLEN,
    };
    let nack = Pdu {
        command_status: status,
        sequence_number: header.sequence_number,
        body: Body::GenericNack,
    };
    shared.respond(nack).await;
}

/// What a deliver_sm becomes; `None` for a segment still waiting for the
/// others.
fn incoming(concat: &mut Reassembly, sm: &Sm) -> Option<Incoming> {
    let source = show_address(sm.source_addr_ton, &sm.source_addr);
    let destination = show_address(sm.dest_addr_ton, &sm.destination_addr);
    if sm.esm_class & esm_class::TYPE_MASK == esm_class::DELIVERY_RECEIPT {
        return Some(match DeliveryReceipt::from_deliver_sm(sm) {
            Ok(receipt) => Incoming::Receipt(receipt),
            Err(error) => Incoming::BadReceipt {
                source,
                text: text::decode(sm.data_coding, sm.payload()),
                error,
            },
        });
    }
    let (part, data) = text::split_udh(sm.esm_class, sm.payload());
    let text = text::decode(sm.data_coding, data);
    match part {
        Some(part) if part.total > 1 => concat.add(source, destination, part, text),
        _ => Some(Incoming::Message {
            source,
            destination,
            text,
        }),
    }
}

/// Segments of concatenated incoming messages, by sender and reference.
#[derive(Default)]
struct Reassembly {
    parts: HashMap<PartsKey, (Instant, Vec<Option<String>>)>,
}

/// Source, destination, reference, total.
type PartsKey = (String, String, u16, u8);

impl Reassembly {
    fn add(
        &mut self,
        source: String,
        destination: String,
        part: Concat,
        text: String,
    ) -> Option<Incoming> {
        let now = Instant::now();
        self.parts
            .retain(|_, (started, _)| now.duration_since(*started) < CONCAT_TTL);
        let key = (source, destination, part.reference, part.total);
        let entry = self
            .parts
            .entry(key.clone())
            .or_insert_with(|| (now, vec![None; part.total as usize]));
        let slot = (part.seq as usize).checked_sub(1)?;
        *entry.1.get_mut(slot)? = Some(text);
        if entry.1.iter().any(Option::is_none) {
            return None;
        }
        let (_, parts) = self.parts.remove(&key)?;
        let (source, destination, _, _) = key;
        Some(Incoming::Message {
            source,
            destination,
            text: parts.into_iter().flatten().collect(),
        })
    }
}

async fn enquire_link_loop(shared: Arc<Shared>) {
    let mut closed = shared.closed.subscribe();
    let every = shared.config.enquire_link_interval;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = until_closed(&mut closed) => return,
        }
        match shared.request(Body::EnquireLink).await {
            Ok(_) => {}
            Err(Error::Closed) => return,
            Err(e) => {
                tracing::warn!(error = %e, "enquire_link failed; closing the session");
                shared.close();
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            address("+15550000001").unwrap(),
            (1, 1, "15550000001".into())
        );
        assert_eq!(address("0791234567").unwrap(), (0, 1, "0791234567".into()));
        assert_eq!(address("Warden").unwrap(), (5, 0, "Warden".into()));
        for bad in ["", "+", "+1 555", "A very long sender", &"1".repeat(21)] {
            assert!(address(bad).is_err(), "{bad:?}");
        }
        assert_eq!(show_address(1, "15550000001"), "+15550000001");
        assert_eq!(show_address(0, "0791234567"), "0791234567");
    }

    fn part(reference: u16, seq: u8, total: u8) -> Concat {
        Concat {
            reference,
            total,
            seq,
        }
    }

    #[test]
    fn reassembly_in_any_order() {
        let mut r = Reassembly::default();
        let (a, b) = ("+1".to_owned(), "W".to_owned());
        assert_eq!(r.add(a.clone(), b.clone(), part(7, 2, 3), "b".into()), None);
        assert_eq!(r.add(a.clone(), b.clone(), part(8, 1, 2), "x".into()), None);
        assert_eq!(r.add(a.clone(), b.clone(), part(7, 3, 3), "c".into()), None);
        assert_eq!(
            r.add(a.clone(), b.clone(), part(7, 1, 3), "a".into()),
            Some(Incoming::Message {
                source: a.clone(),
                destination: b.clone(),
                text: "abc".into()
            })
        );
        // Out-of-range sequence numbers are dropped.
        assert_eq!(r.add(a.clone(), b.clone(), part(9, 0, 2), "?".into()), None);
        assert_eq!(r.add(a, b, part(9, 3, 2), "?".into()), None);
    }

    #[test]
    fn deliver_sm_to_incoming() {
        let mut r = Reassembly::default();
        let reply = Sm {
            source_addr_ton: 1,
            source_addr: "15550000001".into(),
            destination_addr: "Warden".into(),
            dest_addr_ton: 5,
            short_message: b"1".to_vec(),
            ..Sm::default()
        };
        assert_eq!(
            incoming(&mut r, &reply),
            Some(Incoming::Message {
                source: "+15550000001".into(),
                destination: "Warden".into(),
                text: "1".into()
            })
        );
        let receipt = Sm {
            esm_class: 0x04,
            short_message: b"id:5 stat:UNDELIV err:001".to_vec(),
            ..Sm::default()
        };
        assert!(matches!(
            incoming(&mut r, &receipt),
            Some(Incoming::Receipt(DeliveryReceipt { ref id, .. })) if id == "5"
        ));
        let bad = Sm {
            esm_class: 0x04,
            short_message: b"hello".to_vec(),
            ..Sm::default()
        };
        assert!(matches!(
            incoming(&mut r, &bad),
            Some(Incoming::BadReceipt {
                error: ReceiptError::MissingId,
                ..
            })
        ));
    }
}
