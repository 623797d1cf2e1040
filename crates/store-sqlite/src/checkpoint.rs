//! The checkpointer: copies committed pages from the WAL into the database
//! file, on a connection of its own, at most [`INTERVAL`] after they were
//! committed.
//!
//! SQLite's automatic checkpoint runs inside the commit of whichever write
//! crosses its threshold, so that write waits for it: a first ERP load of a
//! million TAs waited some 10 s in its commit for the copy of 1.8 GB.
//! A write is durable once its WAL frames are synced (`synchronous=FULL`);
//! the copy need not hold anyone up. The writer's automatic checkpoint is
//! therefore off (`wal_autocheckpoint = 0`) and this task runs a `PASSIVE`
//! checkpoint, which neither waits for nor blocks readers and the writer.
//! The WAL file is cut back to `journal_size_limit` when it is next
//! rewound.

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, Row};
use std::time::Duration;

/// How long committed pages wait at most before they are copied.
pub(crate) const INTERVAL: Duration = Duration::from_millis(500);

/// The task stops when this (the store's) is dropped, or by [`Checkpointer::stop`].
pub(crate) struct Checkpointer {
    _alive: tokio::sync::mpsc::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Checkpointer {
    /// Opens the checkpointer's connection and starts its task.
    pub(crate) async fn start(options: SqliteConnectOptions) -> crate::Result<Checkpointer> {
        let mut conn = options.connect().await.map_err(crate::be)?;
        let (alive, mut stop) = tokio::sync::mpsc::channel::<()>(1);
        let task = tokio::spawn(async move {
            let mut last = (0, 0);
            loop {
                tokio::select! {
                    // Only closes: nothing is ever sent.
                    _ = stop.recv() => break,
                    _ = tokio::time::sleep(INTERVAL) => {}
                }
                match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .fetch_one(&mut conn)
                    .await
                {
                    Ok(r) => {
                        let now: (i64, i64) = (r.get(1), r.get(2));
                        if now != last {
                            tracing::debug!(frames = now.0, copied = now.1, "checkpoint");
                            last = now;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "checkpoint failed"),
                }
            }
            let _ = conn.close().await;
        });
        Ok(Checkpointer {
            _alive: alive,
            task,
        })
    }

    /// Stops the task and waits until its connection is closed.
    pub(crate) async fn stop(self) {
        let Checkpointer { _alive, task } = self;
        drop(_alive);
        let _ = task.await;
    }
}
