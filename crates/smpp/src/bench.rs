//! A throughput measurement against a real SMSC, for `warden bench sms`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::ToSocketAddrs;
use tokio::task::JoinSet;

use crate::client::{BindConfig, Client, Error, SubmitRequest};

/// The destination of the measurement's messages.
pub const BENCH_DESTINATION: &str = "+15550009999";

/// Binds with `bind` (its window replaced by `window`), submits `n`
/// one-segment messages without delivery receipts, keeping the window
/// full, and unbinds. Returns the time from the first submit_sm to the
/// last submit_sm_resp and the messages per second over it. The bind and
/// unbind are not timed. Any refused message fails the measurement.
pub async fn throughput(
    addr: impl ToSocketAddrs,
    bind: BindConfig,
    n: usize,
    window: usize,
) -> Result<(Duration, f64), Error> {
    let client = Arc::new(
        Client::connect(
            addr,
            BindConfig {
                window: window.max(1),
                ..bind
            },
        )
        .await?,
    );
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = JoinSet::new();
    for _ in 0..window.max(1).min(n.max(1)) {
        let (client, next) = (client.clone(), next.clone());
        workers.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<(), Error>(());
                }
                let request = SubmitRequest {
                    source: "Warden".into(),
                    destination: BENCH_DESTINATION.into(),
                    text: format!("Warden SMS throughput test, message {i}"),
                    registered_delivery: false,
                };
                client.submit(&request).await?;
            }
        });
    }
    while let Some(joined) = workers.join_next().await {
        joined.map_err(|e| Error::Io(std::io::Error::other(e)))??;
    }
    let elapsed = started.elapsed();
    client.unbind().await?;
    let per_second = n as f64 / elapsed.as_secs_f64().max(f64::EPSILON);
    Ok((elapsed, per_second))
}
