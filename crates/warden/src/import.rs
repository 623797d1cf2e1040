//! `warden import profiles` and `warden import travel-authorisations`: CSV
//! files from legacy systems and ERPs (formats in docs/import-formats.md).
//! Rows are checked one by one; a bad row is reported with its line number and
//! the valid rows are still imported. Re-running the same file changes nothing.

use crate::db::progress;
use anyhow::Context;
use std::collections::HashSet;
use std::path::Path;
use uuid::Uuid;
use warden_server::erp::{build_profile, build_tas, ProfileRow, TaInput};
use warden_server::error::ApiError;
use warden_server::state::AppState;
use warden_server::trips::{LegInput, Resolver};
use warden_store::{AuditContext, ImportCounts, TaLoad, TaLoadMode, TaOutcome};

/// A rejected row.
#[derive(Debug, Clone)]
pub struct RowError {
    pub line: u64,
    pub field: String,
    pub message: String,
}

impl RowError {
    fn of(line: u64, e: &ApiError) -> RowError {
        RowError {
            line,
            field: e.field.clone().unwrap_or_default(),
            message: e.message().to_string(),
        }
    }
}

/// How `warden import travel-authorisations` writes (`--load`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Load {
    /// One transaction for the whole file when it has at least as many rows
    /// as the database has legs (a first load, or one that at least doubles
    /// the trips); otherwise one per batch.
    Auto,
    /// The whole file committed at its end (one transaction on SQLite; on
    /// PostgreSQL one per lane of travellers, committed one after the
    /// other): the fastest for large files, but other writes wait until it
    /// ends, and nothing of it is kept if it fails before the commit.
    Whole,
    /// One transaction per batch (`--batch`): other writes go between
    /// batches, and the batches written are kept if a later one fails.
    Batches,
}

#[derive(Debug, Default)]
pub struct Report {
    pub counts: ImportCounts,
    /// How the file was written (travel authorisations only).
    pub load: Option<TaLoadMode>,
    /// TAs cancelled (travel authorisations only).
    pub cancelled: u64,
    pub rows: u64,
    pub errors: Vec<RowError>,
}

impl Report {
    pub fn print(&self, what: &str) {
        println!(
            "{} rows read{}: {} {what} created, {} updated, {} unchanged{}, {} rejected",
            self.rows,
            match self.load {
                Some(TaLoadMode::Whole) => " (the whole file, committed at its end)",
                Some(TaLoadMode::Batches) => " (a transaction per batch)",
                None => "",
            },
            self.counts.created,
            self.counts.updated,
            self.counts.unchanged,
            if self.cancelled > 0 {
                format!(", {} cancelled", self.cancelled)
            } else {
                String::new()
            },
            self.errors.len()
        );
        for e in self.errors.iter().take(200) {
            println!("  line {}: {}: {}", e.line, e.field, e.message);
        }
        if self.errors.len() > 200 {
            println!("  … and {} more", self.errors.len() - 200);
        }
    }
}

fn reader(file: &Path) -> anyhow::Result<(csv::Reader<std::fs::File>, u64)> {
    let f = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let len = f.metadata()?.len();
    let r = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(f);
    Ok((r, len))
}

/// Column positions by header name; `required` must all be present.
fn columns(
    headers: &csv::StringRecord,
    required: &[&str],
    optional: &[&str],
) -> anyhow::Result<Vec<Option<usize>>> {
    let find = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|c| find(c).is_none())
        .collect();
    if !missing.is_empty() {
        anyhow::bail!(
            "the header line lacks the column(s) {}; expected {}",
            missing.join(", "),
            required
                .iter()
                .chain(optional)
                .copied()
                .collect::<Vec<_>>()
                .join(",")
        );
    }
    Ok(required.iter().chain(optional).map(|c| find(c)).collect())
}

fn cell(rec: &csv::StringRecord, col: Option<usize>) -> String {
    col.and_then(|i| rec.get(i)).unwrap_or("").to_string()
}

async fn agency_id(state: &AppState, code: &str) -> anyhow::Result<Uuid> {
    Ok(state
        .store
        .get_agency_by_code(code)
        .await?
        .with_context(|| format!("there is no agency {code}"))?
        .id)
}

/// Profiles per transaction.
const PROFILE_BATCH: usize = 1000;

pub async fn profiles(
    state: &AppState,
    agency: &str,
    file: &Path,
    quiet: bool,
) -> anyhow::Result<Report> {
    let agency = agency_id(state, agency).await?;
    let (mut rdr, len) = reader(file)?;
    let cols = columns(
        rdr.headers()?,
        &["personnel_id", "name", "category"],
        &[
            "email",
            "nationality",
            "phone",
            "duty_station",
            "emergency_contacts",
            "certificates",
        ],
    )?;
    let pb = progress(len, "profiles");
    if quiet {
        pb.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let ctx = AuditContext::system("warden import profiles");
    let mut report = Report::default();
    let mut batch = vec![];
    let mut seen: HashSet<String> = HashSet::new();
    let mut rec = csv::StringRecord::new();
    loop {
        let more = match rdr.read_record(&mut rec) {
            Ok(m) => m,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                report.errors.push(RowError {
                    line,
                    field: "row".into(),
                    message: e.to_string(),
                });
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    break;
                }
                continue;
            }
        };
        if more {
            report.rows += 1;
            let line = rec.position().map_or(0, |p| p.line());
            pb.set_position(rec.position().map_or(0, |p| p.byte()));
            let row = ProfileRow {
                personnel_id: cell(&rec, cols[0]),
                name: cell(&rec, cols[1]),
                category: cell(&rec, cols[2]),
                email: cell(&rec, cols[3]),
                nationality: cell(&rec, cols[4]),
                phone: cell(&rec, cols[5]),
                duty_station: cell(&rec, cols[6]),
                emergency_contacts: cell(&rec, cols[7]),
                certificates: cell(&rec, cols[8]),
            };
            match build_profile(state, agency, &row).await {
                Ok(p) if !seen.insert(p.personnel_id.clone()) => report.errors.push(RowError {
                    line,
                    field: "personnel_id".into(),
                    message: format!("{} appears on an earlier line", p.personnel_id),
                }),
                Ok(p) => batch.push(p),
                Err(e) => report.errors.push(RowError::of(line, &e)),
            }
        }
        if batch.len() >= PROFILE_BATCH || (!more && !batch.is_empty()) {
            let c = state.store.import_profiles(&batch, &ctx).await?;
            report.counts.add(c);
            batch.clear();
        }
        if !more {
            break;
        }
    }
    pb.finish_and_clear();
    Ok(report)
}

/// TAs per transaction, unless the caller asks for another size.
pub const TA_BATCH: usize = 20_000;

/// One TA being read: its rows are consecutive in the file.
struct Pending {
    line: u64,
    input: TaInput,
    error: Option<RowError>,
}

/// No row of a TA file is shorter: its required cells include two times
/// of at least 16 characters, three more cells and five commas.
const MIN_ROW_BYTES: u64 = 40;

/// Lines in a file, read in large blocks (a million-row export in well
/// under a second).
fn count_lines(file: &Path) -> anyhow::Result<u64> {
    use std::io::Read;
    let mut f =
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            return Ok(n);
        }
        n += buf[..k].iter().filter(|&&b| b == b'\n').count() as u64;
    }
}

pub async fn travel_authorisations(
    state: &AppState,
    agency_code: &str,
    file: &Path,
    batch_size: usize,
    load: Load,
    quiet: bool,
) -> anyhow::Result<Report> {
    anyhow::ensure!(batch_size > 0, "the batch size must be at least 1");
    let agency = agency_id(state, agency_code).await?;
    let actor = system_actor(state).await?;
    let mode = match load {
        Load::Whole => TaLoadMode::Whole,
        Load::Batches => TaLoadMode::Batches,
        Load::Auto => {
            let stored = state.store.legs_stored().await?;
            // Lines are counted only when the file's size leaves it open.
            let size = std::fs::metadata(file)
                .with_context(|| format!("cannot open {}", file.display()))?
                .len();
            if size / MIN_ROW_BYTES < stored {
                TaLoadMode::Batches
            } else if count_lines(file)?.saturating_sub(1) >= stored {
                TaLoadMode::Whole
            } else {
                TaLoadMode::Batches
            }
        }
    };
    // A whole load is applied in batches too, so that reading overlaps
    // with writing and memory stays bounded.
    let batch_size = if mode == TaLoadMode::Whole {
        TA_BATCH
    } else {
        batch_size
    };
    let (mut rdr, len) = reader(file)?;
    let cols = columns(
        rdr.headers()?,
        &["ta_number", "traveller", "from", "to", "depart", "arrive"],
        &["status", "purpose", "flight"],
    )?;
    let pb = progress(len, "travel authorisations");
    if quiet {
        pb.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let ctx = AuditContext::system(&format!(
        "warden import travel-authorisations ({agency_code})"
    ));
    let mut report = Report {
        load: Some(mode),
        ..Report::default()
    };
    let mut writer = Writer {
        load: Some(state.store.begin_ta_load(agency, actor, mode, &ctx).await?),
        in_flight: None,
    };
    let mut places = Resolver::default();
    let mut done: HashSet<String> = HashSet::new();
    let mut batch: Vec<Pending> = Vec::with_capacity(batch_size.min(TA_BATCH));
    let mut cur: Option<Pending> = None;
    let mut rec = csv::StringRecord::new();
    loop {
        let more = match rdr.read_record(&mut rec) {
            Ok(m) => m,
            Err(e) => {
                report.errors.push(RowError {
                    line: e.position().map_or(0, |p| p.line()),
                    field: "row".into(),
                    message: e.to_string(),
                });
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    break;
                }
                continue;
            }
        };
        if more {
            report.rows += 1;
            let line = rec.position().map_or(0, |p| p.line());
            if report.rows.is_multiple_of(4096) {
                pb.set_position(rec.position().map_or(0, |p| p.byte()));
            }
            let ta_number = cell(&rec, cols[0]);
            let leg = LegInput {
                from: cell(&rec, cols[2]),
                to: cell(&rec, cols[3]),
                depart: cell(&rec, cols[4]),
                arrive: cell(&rec, cols[5]),
                flight: Some(cell(&rec, cols[8])).filter(|f| !f.is_empty()),
            };
            match &mut cur {
                Some(p) if p.input.ta_number == ta_number => {
                    if p.input.legs.len() >= 50 && p.error.is_none() {
                        p.error = Some(RowError {
                            line,
                            field: "ta_number".into(),
                            message: "a TA has at most 50 legs".into(),
                        });
                    }
                    p.input.legs.push(leg);
                    continue;
                }
                _ => {}
            }
            if let Some(p) = cur.take() {
                batch.push(p);
            }
            let error = (!done.insert(ta_number.clone())).then(|| RowError {
                line,
                field: "ta_number".into(),
                message: format!(
                    "TA {ta_number} appeared on earlier lines: a TA's rows must be consecutive"
                ),
            });
            cur = Some(Pending {
                line,
                input: TaInput {
                    ta_number,
                    traveller: cell(&rec, cols[1]),
                    status: Some(cell(&rec, cols[6])),
                    purpose: Some(cell(&rec, cols[7])),
                    legs: vec![leg],
                },
                error,
            });
        } else if let Some(p) = cur.take() {
            batch.push(p);
        }
        if batch.len() >= batch_size || (!more && !batch.is_empty()) {
            flush(
                state,
                &mut places,
                agency,
                &mut batch,
                &mut report,
                &mut writer,
            )
            .await?;
        }
        if !more {
            break;
        }
    }
    writer.settle(&mut report).await?;
    if mode == TaLoadMode::Whole {
        pb.set_message("writing stays and indexes");
    }
    if let Some(load) = writer.load.take() {
        load.finish().await?;
    }
    pb.finish_and_clear();
    report.errors.sort_by_key(|e| e.line);
    state
        .store
        .append_audit(
            &ctx,
            "travel_authorisations.import",
            &format!("agency:{agency}"),
            serde_json::json!({"file": file.display().to_string(), "rows": report.rows,
                "load": if mode == TaLoadMode::Whole { "whole" } else { "batches" },
                "created": report.counts.created, "updated": report.counts.updated,
                "unchanged": report.counts.unchanged, "cancelled": report.cancelled,
                "rejected": report.errors.len()}),
        )
        .await?;
    Ok(report)
}

/// The batch being written while the next one is read: at most one, so
/// batches are applied in the order of the file. It holds the load while
/// it writes and hands it back with its outcomes.
type InFlight = tokio::task::JoinHandle<(
    Box<dyn TaLoad>,
    warden_store::Result<Vec<warden_store::TaResult>>,
)>;

/// The load being written and the batch in flight.
struct Writer {
    load: Option<Box<dyn TaLoad>>,
    in_flight: Option<InFlight>,
}

impl Writer {
    /// Waits for the batch being written, if any, and counts its outcomes.
    async fn settle(&mut self, report: &mut Report) -> anyhow::Result<()> {
        if let Some(h) = self.in_flight.take() {
            let (load, r) = h.await?;
            self.load = Some(load);
            count(report, r?);
        }
        Ok(())
    }
}

fn count(report: &mut Report, results: Vec<warden_store::TaResult>) {
    for r in results {
        match r.outcome {
            TaOutcome::Created => report.counts.created += 1,
            TaOutcome::Updated => report.counts.updated += 1,
            TaOutcome::Unchanged => report.counts.unchanged += 1,
            TaOutcome::Cancelled => report.cancelled += 1,
        }
    }
}

/// Checks and resolves a batch (rejected rows into the report), then hands it
/// to the store once the previous batch is written: reading and resolving
/// the next batch overlaps with writing this one.
async fn flush(
    state: &AppState,
    places: &mut Resolver,
    agency: Uuid,
    batch: &mut Vec<Pending>,
    report: &mut Report,
    writer: &mut Writer,
) -> anyhow::Result<()> {
    let (bad, good): (Vec<Pending>, Vec<Pending>) =
        batch.drain(..).partition(|p| p.error.is_some());
    report
        .errors
        .extend(bad.into_iter().filter_map(|p| p.error));
    let inputs: Vec<TaInput> = good.iter().map(|p| p.input.clone()).collect();
    let built = build_tas(state, places, agency, &inputs)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.detail))?;
    let mut tas = Vec::with_capacity(built.len());
    for (p, r) in good.iter().zip(built) {
        match r {
            Ok(t) => tas.push(t),
            Err(e) => {
                // Point at the row of the failing leg when the error names one.
                let leg = e
                    .field
                    .as_deref()
                    .and_then(|f| f.strip_prefix("legs["))
                    .and_then(|f| f.split(']').next())
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
                report.errors.push(RowError::of(p.line + leg, &e));
            }
        }
    }
    writer.settle(report).await?;
    if tas.is_empty() {
        return Ok(());
    }
    let mut load = writer.load.take().context("the load has ended")?;
    writer.in_flight = Some(tokio::spawn(async move {
        let r = load.apply(&tas).await;
        (load, r)
    }));
    Ok(())
}

/// The user recorded as submitting imported trips: `erp-import`, created on first use
/// (no password: it cannot log in).
async fn system_actor(state: &AppState) -> anyhow::Result<Uuid> {
    if let Some(u) = state.store.get_user_by_username("erp-import").await? {
        return Ok(u.id);
    }
    let u = state
        .store
        .create_user(
            &warden_store::NewUser {
                username: "erp-import".into(),
                display_name: "ERP import".into(),
                email: String::new(),
                agency: None,
                password_hash: String::new(),
                grants: vec![],
                locale: "en".into(),
            },
            &AuditContext::system("warden import travel-authorisations"),
        )
        .await?;
    Ok(u.id)
}
