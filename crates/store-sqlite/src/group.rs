//! The group-commit writer. Travel submissions and location batches arrive
//! from many requests at once; the writer takes every job waiting, writes
//! each under its own savepoint (one that fails changes nothing and fails
//! alone), commits once (one fsync for all), then answers them all. No job is
//! answered before the commit.

use crate::be;
use sqlx::{Sqlite, SqlitePool, Transaction};
use uuid::Uuid;
use warden_store::{
    AuditContext, IngestOutcome, LocationBatch, NewTravelRequest, Result, StoreError, TravelRequest,
};

/// Jobs committed in one transaction at most.
const GROUP_COMMIT_MAX: usize = 256;
/// Rounds of yielding to requests about to hand in a job before a group is
/// written (each round only while the previous one brought more).
const LINGER_ROUNDS: usize = 4;

pub(crate) enum Work {
    Submit(NewTravelRequest, AuditContext),
    Locations(LocationBatch),
}

pub(crate) enum Done {
    Submitted(Box<TravelRequest>),
    Ingested(IngestOutcome),
}

struct Job {
    work: Work,
    reply: tokio::sync::oneshot::Sender<Result<Done>>,
}

#[derive(Clone)]
pub(crate) struct GroupCommit {
    jobs: tokio::sync::mpsc::Sender<Job>,
}

fn stopped() -> StoreError {
    StoreError::Backend("the group-commit writer has stopped".into())
}

impl GroupCommit {
    pub(crate) fn start(writer: SqlitePool) -> GroupCommit {
        let (jobs, rx) = tokio::sync::mpsc::channel(4096);
        tokio::spawn(run(writer, rx));
        GroupCommit { jobs }
    }

    /// Hands a job to the writer and waits until it is committed (or failed).
    pub(crate) async fn run(&self, work: Work) -> Result<Done> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Job { work, reply })
            .await
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }
}

async fn write(tx: &mut Transaction<'_, Sqlite>, work: &Work) -> Result<Done> {
    match work {
        Work::Submit(request, audit) => {
            let id = Uuid::now_v7();
            let t = crate::trip::insert_request_tx(tx, request, audit, id).await?;
            Ok(Done::Submitted(Box::new(t)))
        }
        Work::Locations(batch) => crate::eta::ingest_tx(tx, batch).await.map(Done::Ingested),
    }
}

async fn run(writer: SqlitePool, mut jobs: tokio::sync::mpsc::Receiver<Job>) {
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        // Take every job waiting; then let the requests already on their way
        // hand theirs in (a yield, no timer), while that still brings more.
        for round in 0..LINGER_ROUNDS {
            let before = batch.len();
            while batch.len() < GROUP_COMMIT_MAX {
                match jobs.try_recv() {
                    Ok(j) => batch.push(j),
                    Err(_) => break,
                }
            }
            if (round > 0 && batch.len() == before) || batch.len() >= GROUP_COMMIT_MAX {
                break;
            }
            tokio::task::yield_now().await;
        }
        let mut tx = match writer.begin_with("BEGIN IMMEDIATE").await {
            Ok(tx) => tx,
            Err(e) => {
                let e = be(e);
                for j in batch {
                    let _ = j.reply.send(Err(e.clone()));
                }
                continue;
            }
        };
        // Location batches together, set-wise, under one savepoint; after a
        // database error there, each alone like the other jobs.
        let mut results: Vec<Option<Result<Done>>> = (0..batch.len()).map(|_| None).collect();
        let locations: Vec<(usize, &LocationBatch)> = batch
            .iter()
            .enumerate()
            .filter_map(|(i, j)| match &j.work {
                Work::Locations(b) => Some((i, b)),
                _ => None,
            })
            .collect();
        if locations.len() > 1 {
            let batches: Vec<&LocationBatch> = locations.iter().map(|(_, b)| *b).collect();
            let together = async {
                sqlx::query("SAVEPOINT locations")
                    .execute(&mut *tx)
                    .await
                    .map_err(be)?;
                match crate::eta::ingest_group_tx(&mut tx, &batches).await {
                    Ok(outs) => {
                        sqlx::query("RELEASE locations")
                            .execute(&mut *tx)
                            .await
                            .map_err(be)?;
                        Ok(Some(outs))
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "location batches written one by one");
                        sqlx::query("ROLLBACK TO locations")
                            .execute(&mut *tx)
                            .await
                            .map_err(be)?;
                        sqlx::query("RELEASE locations")
                            .execute(&mut *tx)
                            .await
                            .map_err(be)?;
                        Ok::<_, StoreError>(None)
                    }
                }
            }
            .await;
            if let Ok(Some(outs)) = together {
                for ((i, _), out) in locations.iter().zip(outs) {
                    results[*i] = Some(out.map(Done::Ingested));
                }
            }
        }
        // Travel submissions likewise, set-wise under one savepoint.
        let submissions: Vec<(usize, (&NewTravelRequest, &AuditContext, Uuid))> = batch
            .iter()
            .enumerate()
            .filter_map(|(i, j)| match &j.work {
                Work::Submit(r, a) => Some((i, (r, a, Uuid::now_v7()))),
                _ => None,
            })
            .collect();
        if submissions.len() > 1 {
            let jobs: Vec<_> = submissions.iter().map(|(_, j)| *j).collect();
            let together = async {
                sqlx::query("SAVEPOINT submissions")
                    .execute(&mut *tx)
                    .await
                    .map_err(be)?;
                match crate::trip::insert_requests_tx(&mut tx, &jobs).await {
                    Ok(trips) => {
                        sqlx::query("RELEASE submissions")
                            .execute(&mut *tx)
                            .await
                            .map_err(be)?;
                        Ok(Some(trips))
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "travel submissions written one by one");
                        sqlx::query("ROLLBACK TO submissions")
                            .execute(&mut *tx)
                            .await
                            .map_err(be)?;
                        sqlx::query("RELEASE submissions")
                            .execute(&mut *tx)
                            .await
                            .map_err(be)?;
                        Ok::<_, StoreError>(None)
                    }
                }
            }
            .await;
            if let Ok(Some(trips)) = together {
                for ((i, _), t) in submissions.iter().zip(trips) {
                    results[*i] = Some(Ok(Done::Submitted(Box::new(t))));
                }
            }
        }
        for (j, slot) in batch.iter().zip(results.iter_mut()) {
            if slot.is_some() {
                continue;
            }
            let r = async {
                sqlx::query("SAVEPOINT job")
                    .execute(&mut *tx)
                    .await
                    .map_err(be)?;
                let r = write(&mut tx, &j.work).await;
                if r.is_err() {
                    sqlx::query("ROLLBACK TO job")
                        .execute(&mut *tx)
                        .await
                        .map_err(be)?;
                }
                sqlx::query("RELEASE job")
                    .execute(&mut *tx)
                    .await
                    .map_err(be)?;
                r
            }
            .await;
            *slot = Some(r);
        }
        let committed = tx.commit().await.map_err(be);
        for (j, r) in batch.into_iter().zip(results) {
            let r = r.unwrap_or_else(|| Err(StoreError::Backend("job not written".into())));
            let _ = j.reply.send(match &committed {
                Ok(()) => r,
                Err(e) => Err(e.clone()),
            });
        }
    }
}
