//! CAP 1.2 to partner systems (issue 5 item 4; 2019 report footnote 14):
//! rendering a published message from the records it names, and the push
//! worker. Messages and their pushes are written in the transaction of what
//! they announce (an advisory change, a roll call started); this task claims
//! due pushes with a lease, POSTs each as `application/cap+xml` to the
//! partner's URL, and records the outcome (failures retried with back-off).

use crate::error::{ApiError, ApiResult};
use crate::publishing;
use crate::state::AppState;
use std::time::Duration;
use warden_store::{now_micros, CapMessage, CapSubject, PartnerDelivery};

/// The CAP alert of a published message.
pub async fn render(state: &AppState, m: &CapMessage) -> ApiResult<warden_publish::Alert> {
    match &m.subject {
        CapSubject::Advisory { country, version } => {
            let adv = state
                .store
                .get_advisory(country)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("the advisory of {country}")))?;
            let ch = state
                .store
                .advisory_changes(Some(country), 10_000)
                .await?
                .into_iter()
                .find(|c| c.version == *version)
                .ok_or_else(|| {
                    ApiError::not_found(format!("version {version} of the advisory of {country}"))
                })?;
            let entry = adv
                .areas
                .iter()
                .find(|e| e.area.code == ch.area)
                .ok_or_else(|| ApiError::internal("change of unknown area"))?;
            Ok(publishing::change_alert(
                state,
                &ch,
                &entry.area,
                &entry.text,
            ))
        }
        CapSubject::RollCall { id } => {
            let rc = state
                .store
                .get_roll_call(*id)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("roll call {id}")))?;
            let mut areas = Vec::with_capacity(rc.areas.len());
            for code in &rc.areas {
                areas.push(
                    state
                        .store
                        .get_area(code)
                        .await?
                        .ok_or_else(|| ApiError::not_found(format!("area {code}")))?,
                );
            }
            Ok(publishing::roll_call_alert(state, &rc, &areas))
        }
    }
}

/// The CAP XML of a published message.
pub async fn render_xml(state: &AppState, m: &CapMessage) -> ApiResult<String> {
    let alert = render(state, m).await?;
    warden_publish::to_xml(&alert).map_err(ApiError::internal)
}

#[derive(Clone, Debug)]
pub struct PushConfig {
    /// How often the outbox is checked when idle.
    pub poll: Duration,
    /// Time allowed for one POST.
    pub timeout: Duration,
}

impl PushConfig {
    /// None when pushing is switched off (`partner_push_poll_seconds = 0`).
    pub fn from_config(c: &crate::config::Config) -> Option<PushConfig> {
        (c.partner_push_poll_seconds > 0).then(|| PushConfig {
            poll: Duration::from_secs(c.partner_push_poll_seconds),
            timeout: Duration::from_secs(c.partner_push_timeout_seconds.max(1)),
        })
    }
}

pub struct PushWorker {
    state: AppState,
    cfg: PushConfig,
    client: reqwest::Client,
}

/// Pushes claimed per round.
const BATCH: i64 = 20;

impl PushWorker {
    pub fn new(state: AppState, cfg: PushConfig) -> anyhow::Result<PushWorker> {
        let client = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Warden/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(PushWorker { state, cfg, client })
    }

    async fn push(&self, d: &PartnerDelivery) -> Result<u16, (Option<u16>, String)> {
        let xml = render_xml(&self.state, &d.message)
            .await
            .map_err(|e| (None, format!("cannot render the CAP message: {}", e.detail)))?;
        let resp = self
            .client
            .post(&d.url)
            .header("content-type", "application/cap+xml; charset=utf-8")
            .header("x-warden-partner", &d.partner_code)
            .header("x-warden-message", d.message.id.to_string())
            .body(xml)
            .send()
            .await
            .map_err(|e| (None, e.to_string()))?;
        let status = resp.status().as_u16();
        if resp.status().is_success() {
            Ok(status)
        } else {
            let body: String = resp
                .text()
                .await
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect();
            Err((Some(status), format!("HTTP {status}: {body}")))
        }
    }

    /// Pushes what is due at `now`; returns how many pushes were attempted.
    pub async fn deliver_due_at(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<usize> {
        let batch = self
            .state
            .store
            .claim_partner_deliveries(BATCH, now)
            .await?;
        for d in &batch {
            let outcome = self.push(d).await;
            if let Err((_, e)) = &outcome {
                tracing::warn!(partner = %d.partner_code, message = %d.message.id, attempt = d.attempts, "CAP push failed: {e}");
            }
            self.state
                .store
                .finish_partner_delivery(d.id, outcome, now_micros().max(now))
                .await?;
        }
        Ok(batch.len())
    }

    /// Pushes what is due now.
    pub async fn deliver_due(&self) -> anyhow::Result<usize> {
        self.deliver_due_at(now_micros()).await
    }

    /// Runs until the process ends: drains the outbox, then waits `poll`.
    pub async fn run(self) {
        loop {
            match self.deliver_due().await {
                Ok(n) if n as i64 == BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::error!("partner push: {e:#}"),
            }
            tokio::time::sleep(self.cfg.poll).await;
        }
    }
}
