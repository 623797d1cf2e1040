//! The `warden` command: runs the service and administers it.

mod bench;
mod bench_db;
mod bench_eta;
mod bench_lookup;
mod bench_presence;
mod bench_trip;
mod db;
mod demo;
mod import;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use warden_server::config::Config;
use warden_store::AuditContext;

#[derive(Parser)]
#[command(
    name = "warden",
    version,
    about = "Security levels, travel advisories and assessments for a network of agencies"
)]
struct Cli {
    /// Configuration file (TOML). WARDEN_* environment variables override it.
    #[arg(long, short, global = true, env = "WARDEN_CONFIG")]
    config: Option<PathBuf>,
    /// Database URL: sqlite://FILE (default) or postgres://… (overrides the configuration).
    #[arg(long, global = true)]
    database: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service.
    Serve {
        /// Address to listen on, e.g. 0.0.0.0:8080.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Build the demo data set (real geography, demo people and levels) and run the service on it.
    Demo {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Demo database file.
        #[arg(long, default_value = "warden-demo.db")]
        file: PathBuf,
        /// Start again from an empty database.
        #[arg(long)]
        reset: bool,
        /// Build the data set and exit without serving.
        #[arg(long)]
        no_serve: bool,
    },
    /// Apply database migrations.
    Migrate,
    /// Import data.
    #[command(subcommand)]
    Import(Import),
    /// Manage users.
    #[command(subcommand)]
    User(UserCmd),
    /// Manage partner systems (other agencies' systems exchanging headcounts and CAP).
    #[command(subcommand)]
    Partner(PartnerCmd),
    /// Print the effective configuration.
    Config,
    /// Print the current one-time code of a user (for demos and tests; needs database access).
    TotpCode { username: String },
    /// Purge location data older than the retention period (default 96 hours)
    /// that no investigation has frozen. The service also does it by itself
    /// every `purge_interval_minutes`.
    Purge {
        /// Keep this many hours instead of `location_retention_hours`.
        #[arg(long)]
        retention_hours: Option<i64>,
    },
    /// Measure performance; results are printed as Markdown for BENCHMARKS.md.
    #[command(subcommand)]
    Bench(bench::Bench),
}

#[derive(Subcommand)]
enum Import {
    /// Custom SLS areas from a GeoJSON FeatureCollection (properties `code` and `name`).
    Areas { file: PathBuf },
    /// The shipped countries and admin-1 areas (done automatically on an empty database).
    Geography,
    /// Travellers' profiles from a legacy system (CSV; docs/import-formats.md).
    /// Idempotent: the same file twice creates nothing new.
    Profiles {
        file: PathBuf,
        /// The agency the people belong to, e.g. WFP.
        #[arg(long)]
        agency: String,
    },
    /// Travel authorisations from an agency's ERP (CSV, one row per leg;
    /// docs/import-formats.md). Idempotent by TA number; cancelled TAs cancel trips.
    TravelAuthorisations {
        file: PathBuf,
        /// The agency whose ERP exported the file.
        #[arg(long)]
        agency: String,
        /// Travel authorisations written per transaction (20000 unless
        /// given; implies `--load batches`). Larger batches load faster
        /// (each transaction rewrites every index page it touches) but hold
        /// the database's one writer longer, so other writes wait for each
        /// batch.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        batch: Option<u32>,
        /// One transaction for the whole file, or one per batch; `auto`
        /// takes the whole file at once when it has at least as many rows
        /// as the database has legs (a first load).
        #[arg(long, value_enum, default_value_t = import::Load::Auto)]
        load: import::Load,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Create a user. The password is read from WARDEN_NEW_PASSWORD or asked for.
    Add {
        username: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
        /// Agency code, e.g. UNDP.
        #[arg(long)]
        agency: Option<String>,
        /// ROLE@SCOPE, repeatable: e.g. designated_official@AF, security_adviser@AF-KAB, administrator@global.
        #[arg(long = "role")]
        roles: Vec<String>,
        #[arg(long, default_value = "en")]
        locale: String,
    },
}

#[derive(Subcommand)]
enum PartnerCmd {
    /// Register a partner system; prints its token once (only a digest is stored).
    Add {
        /// Short code used in its URLs, e.g. iom-scaan.
        code: String,
        /// The agency whose figures it may report, e.g. IOM.
        #[arg(long)]
        agency: String,
        #[arg(long)]
        name: String,
        /// Where CAP messages are pushed (http://…); without it the partner pulls its feed.
        #[arg(long)]
        push_url: Option<String>,
    },
    /// List the partner systems.
    List,
    /// Revoke a partner's token; pushes not yet made to it are cancelled.
    Revoke { code: String },
}

fn init_tracing(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WARDEN_LOG")
        .unwrap_or_else(|_| "info,sqlx=warn,tower_http=warn".into());
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cfg.log_format == "json" {
        b.json().init();
    } else {
        b.init();
    }
}

async fn state_for(cfg: &Config) -> anyhow::Result<warden_server::state::AppState> {
    let store = db::open(&cfg.database_url)
        .await
        .with_context(|| format!("opening {}", cfg.database_url))?;
    if store.area_count().await? == 0 {
        tracing::info!("empty database: loading the shipped geography");
        db::load_geography(store.as_ref(), false).await?;
    }
    warden_server::state::AppState::new(store, cfg.clone()).await
}

async fn serve(cfg: Config) -> anyhow::Result<()> {
    let state = state_for(&cfg).await?;
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    tracing::info!(url = %format!("http://{}", listener.local_addr()?), database = state.store.backend(), "Warden is serving");
    match warden_server::mailer::MailerConfig::from_config(&cfg) {
        Some(m) => {
            tracing::info!(host = %m.host, port = m.port, "e-mailing notifications");
            let mailer = warden_server::mailer::Mailer::new(state.store.clone(), m)?;
            tokio::spawn(mailer.run());
        }
        None => tracing::info!("smtp_host not set: notifications are in-app only"),
    }
    match warden_server::sms::SmsConfig::from_config(&cfg) {
        Some(c) => {
            tracing::info!(smsc = %c.address, "sending SMS over SMPP");
            tokio::spawn(warden_server::sms::SmsGateway::new(state.store.clone(), c).run());
        }
        None => tracing::info!("smpp_address not set: no SMS"),
    }
    warden_server::eta::spawn_purger(state.clone());
    match warden_server::partners::PushConfig::from_config(&cfg) {
        Some(c) => {
            tokio::spawn(warden_server::partners::PushWorker::new(state.clone(), c)?.run());
        }
        None => tracing::info!("partner_push_poll_seconds is 0: no CAP pushes to partners"),
    }
    warden_server::serve(state, listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

fn main() -> std::process::ExitCode {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let outcome = rt.block_on(async {
        let outcome = run(Cli::parse()).await;
        db::close_all().await;
        outcome
    });
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The chain of causes, without a backtrace: these are user-facing errors.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut cfg = Config::load(cli.config.as_deref(), std::env::vars())?;
    if let Some(db) = &cli.database {
        cfg.database_url = db.clone();
    }
    // Commands other than the service log only when asked (WARDEN_LOG), so
    // that their own output stays readable.
    if std::env::var_os("WARDEN_LOG").is_some()
        && matches!(cli.command, Command::Import(_) | Command::Bench(_))
    {
        init_tracing(&cfg);
    }
    match cli.command {
        Command::Config => {
            print!("{}", cfg.to_toml());
            Ok(())
        }
        Command::Serve { listen } => {
            if let Some(l) = listen {
                cfg.listen = l.parse().context("--listen")?;
                cfg.base_url = format!("http://{}", cfg.listen);
            }
            init_tracing(&cfg);
            serve(cfg).await
        }
        Command::Demo {
            listen,
            file,
            reset,
            no_serve,
        } => {
            init_tracing(&cfg);
            if reset {
                for ext in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{ext}", file.display()));
                }
            }
            cfg.database_url = format!("sqlite://{}", file.display());
            cfg.listen = listen.parse().context("--listen")?;
            cfg.base_url = format!("http://{}", cfg.listen);
            let store = db::open(&cfg.database_url).await?;
            let fresh = store
                .list_users(&warden_store::PageRequest::default())
                .await?
                .total
                == 0;
            if fresh {
                eprintln!("Building the demo data set in {} …", file.display());
                let n = db::load_geography(store.as_ref(), false).await?;
                eprintln!(
                    "  {n} areas of {} countries loaded",
                    store.list_countries().await?.len()
                );
                let logins = demo::seed(store.clone()).await?;
                println!("\nDemo logins (password for all: {})", demo::DEMO_PASSWORD);
                for l in &logins {
                    match &l.totp_secret {
                        Some(s) => println!("  {:<26} {:<44} TOTP key {}", l.username, l.role, s),
                        None => println!("  {:<26} {}", l.username, l.role),
                    }
                }
                println!("Add a TOTP key to an authenticator app, or print the current code with:\n  cargo run --release -- totp-code USERNAME --database sqlite://{}", file.display());
            } else {
                println!("Using the existing demo database {} (pass --reset to rebuild it). Password for all demo users: {}", file.display(), demo::DEMO_PASSWORD);
                println!("Current codes: cargo run --release -- totp-code USERNAME --database sqlite://{}", file.display());
            }
            if no_serve {
                return Ok(());
            }
            // The service opens its own.
            store.close().await;
            println!("\nWarden demo: open http://{}/", cfg.listen);
            serve(cfg).await
        }
        Command::Migrate => {
            db::open(&cfg.database_url).await?;
            println!("migrations applied to {}", cfg.database_url);
            Ok(())
        }
        Command::Import(Import::Geography) => {
            let store = db::open(&cfg.database_url).await?;
            let n = db::load_geography(store.as_ref(), false).await?;
            println!("{n} areas imported");
            Ok(())
        }
        Command::Import(Import::Profiles { file, agency }) => {
            let state = state_for(&cfg).await?;
            let r = import::profiles(&state, &agency, &file, false).await?;
            r.print("profiles");
            if !r.errors.is_empty() {
                anyhow::bail!(
                    "{} row(s) rejected (listed above); the others were imported",
                    r.errors.len()
                );
            }
            Ok(())
        }
        Command::Import(Import::TravelAuthorisations {
            file,
            agency,
            batch,
            load,
        }) => {
            let load = match (batch, load) {
                (Some(_), import::Load::Whole) => {
                    anyhow::bail!("--batch sets the size of each transaction of --load batches; --load whole commits the whole file at its end")
                }
                (Some(_), _) => import::Load::Batches,
                (None, l) => l,
            };
            let batch = batch.map_or(import::TA_BATCH, |b| b as usize);
            let state = state_for(&cfg).await?;
            let t = std::time::Instant::now();
            let r =
                import::travel_authorisations(&state, &agency, &file, batch, load, false).await?;
            r.print("trips");
            println!(
                "{:.1} s, {:.0} rows/s",
                t.elapsed().as_secs_f64(),
                r.rows as f64 / t.elapsed().as_secs_f64()
            );
            if !r.errors.is_empty() {
                anyhow::bail!(
                    "{} row(s) rejected (listed above); the others were imported",
                    r.errors.len()
                );
            }
            Ok(())
        }
        Command::Import(Import::Areas { file }) => {
            let state = state_for(&cfg).await?;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let areas = match warden_server::api::areas::features_to_areas(&state, &text).await {
                Ok(a) => a,
                Err(e) => anyhow::bail!("{}: {}", file.display(), e.detail),
            };
            let n = state
                .store
                .upsert_areas(&areas, &AuditContext::system("warden import areas"))
                .await?;
            println!(
                "{n} areas imported: {}",
                areas
                    .iter()
                    .map(|a| a.code.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Ok(())
        }
        Command::User(UserCmd::Add {
            username,
            name,
            email,
            agency,
            roles,
            locale,
        }) => {
            let state = state_for(&cfg).await?;
            let password = match std::env::var("WARDEN_NEW_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    eprint!("Password for {username}: ");
                    let mut p = String::new();
                    std::io::stdin().read_line(&mut p)?;
                    p.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            let mut grants = vec![];
            for r in &roles {
                let (role, scope) = r
                    .split_once('@')
                    .with_context(|| format!("--role {r}: expected ROLE@SCOPE"))?;
                grants.push(warden_server::api::admin::GrantRequest {
                    role: role.into(),
                    scope: scope.into(),
                    agency: None,
                });
            }
            let req = warden_server::api::admin::UserRequest {
                username,
                display_name: name,
                email,
                password,
                agency,
                grants,
                locale,
            };
            match warden_server::api::admin::create_user_checked(
                &state,
                &req,
                &AuditContext::system("warden user add"),
            )
            .await
            {
                Ok(u) => {
                    println!("created {} ({})", u.username, u.id);
                    if u.needs_two_factor() {
                        println!("their roles require two-factor authentication: they set it up at first sign-in");
                    }
                    Ok(())
                }
                Err(e) => anyhow::bail!("{}", e.detail),
            }
        }
        Command::Partner(cmd) => partner_command(&cfg, cmd).await,
        Command::TotpCode { username } => {
            let store = db::open(&cfg.database_url).await?;
            let u = store
                .get_user_by_username(&username)
                .await?
                .with_context(|| format!("no user {username}"))?;
            let secret = u
                .totp_secret
                .with_context(|| format!("{username} has no TOTP key"))?;
            let secret = warden_auth::TotpSecret::from_base32(&secret)?;
            let now = chrono::Utc::now().timestamp();
            println!(
                "{}",
                warden_auth::totp_code(
                    secret.as_bytes(),
                    warden_auth::TotpAlgorithm::Sha1,
                    now,
                    30,
                    6
                )
            );
            Ok(())
        }
        Command::Purge { retention_hours } => {
            let store = db::open(&cfg.database_url).await?;
            let hours = retention_hours.unwrap_or(cfg.location_retention_hours);
            anyhow::ensure!(hours >= 1, "--retention-hours must be at least 1");
            let pb = indicatif::ProgressBar::new_spinner();
            pb.set_message("purging expired location data");
            let t = warden_server::eta::purge(
                store.as_ref(),
                hours,
                warden_store::now_micros(),
                warden_server::eta::PURGE_CHUNK,
                |t| {
                    pb.set_message(format!(
                        "{} positions, {} last locations purged",
                        t.positions, t.last_locations
                    ))
                },
            )
            .await?;
            pb.finish_and_clear();
            println!(
                "purged {} positions and {} last locations recorded more than {hours} hours ago (frozen data kept)",
                t.positions, t.last_locations
            );
            Ok(())
        }
        Command::Bench(b) => bench::run(b, &cfg).await,
    }
}

async fn partner_command(cfg: &Config, cmd: PartnerCmd) -> anyhow::Result<()> {
    let state = state_for(cfg).await?;
    match cmd {
        PartnerCmd::Add {
            code,
            agency,
            name,
            push_url,
        } => {
            let req = warden_server::api::partners::NewPartnerRequest {
                code,
                name,
                agency,
                push_url,
            };
            let created = warden_server::api::partners::register(
                &state,
                req,
                &AuditContext::system("warden partner add"),
            )
            .await
            .map_err(|e| match &e.field {
                Some(f) => anyhow::anyhow!("{f}: {}", e.detail),
                None => anyhow::anyhow!("{}", e.detail),
            })?;
            let p = &created.partner;
            println!(
                "registered partner {} ({}) reporting for {}",
                p.code, p.name, p.agency_code
            );
            if let Some(u) = &p.push_url {
                println!("CAP messages will be pushed to {u}");
            }
            println!("token (shown once; give it to the partner system):");
            println!("{}", created.token);
            Ok(())
        }
        PartnerCmd::List => {
            for p in state.store.list_partners().await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    p.code,
                    p.agency_code,
                    p.name,
                    p.push_url.as_deref().unwrap_or("-"),
                    match p.revoked_at {
                        Some(t) => format!("revoked {}", t.to_rfc3339()),
                        None => "active".to_string(),
                    }
                );
            }
            Ok(())
        }
        PartnerCmd::Revoke { code } => {
            let p = state
                .store
                .revoke_partner(&code, &AuditContext::system("warden partner revoke"))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("revoked partner {}", p.code);
            Ok(())
        }
    }
}
