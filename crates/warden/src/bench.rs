//! `warden bench …`: the measurements recorded in BENCHMARKS.md.

use clap::Subcommand;
use warden_server::config::Config;

#[derive(Subcommand)]
pub enum Bench {
    /// Point → area lookups: R-tree in process versus PostGIS ST_Contains.
    Lookup {
        /// PostgreSQL URL with PostGIS, for the comparison.
        #[arg(long)]
        postgres: Option<String>,
        #[arg(long, default_value_t = 200_000)]
        points: usize,
    },
}

pub async fn run(b: Bench, _cfg: &Config) -> anyhow::Result<()> {
    match b {
        Bench::Lookup { postgres, points } => {
            let r = crate::bench_lookup::run(postgres.as_deref(), points).await?;
            println!("{}", crate::bench_lookup::render_markdown(&r));
            Ok(())
        }
    }
}
