//! The SMS gateway: sends the SMS outbox over SMPP 3.4 (as a transceiver,
//! within the SMSC's window), records delivery receipts, and turns replies
//! ("1" = I am safe, "2" = I need help) into answers of the person whose
//! phone number sent them. The outbox is written in the transaction of what
//! it announces, so a crash loses no message; the gateway reconnects by
//! itself.

use crate::config::Config;
use std::sync::Arc;
use std::time::Duration;
use warden_domain::eta::Wellbeing;
use warden_smpp::{BindConfig, Client, Incoming, SubmitRequest};
use warden_store::{AuditContext, NewWellbeing, Store};

#[derive(Debug, Clone)]
pub struct SmsConfig {
    /// `host:port` of the SMSC.
    pub address: String,
    pub system_id: String,
    pub password: String,
    /// The sender shown on phones (a number or a short name).
    pub source: String,
    /// Messages awaiting the SMSC's answer at once (its advertised window).
    pub window: usize,
    /// How often the outbox is checked when idle.
    pub poll: Duration,
}

impl SmsConfig {
    /// None when `smpp_address` is empty (no SMS).
    pub fn from_config(cfg: &Config) -> Option<SmsConfig> {
        (!cfg.smpp_address.is_empty()).then(|| SmsConfig {
            address: cfg.smpp_address.clone(),
            system_id: cfg.smpp_system_id.clone(),
            password: cfg.smpp_password.clone(),
            source: cfg.smpp_source.clone(),
            window: cfg.smpp_window.max(1) as usize,
            poll: Duration::from_secs(cfg.smtp_poll_seconds.max(1)),
        })
    }
}

pub struct SmsGateway {
    store: Arc<dyn Store>,
    cfg: SmsConfig,
}

impl SmsGateway {
    pub fn new(store: Arc<dyn Store>, cfg: SmsConfig) -> SmsGateway {
        SmsGateway { store, cfg }
    }

    /// Runs for ever: connect, send and listen until the session ends, wait,
    /// connect again.
    pub async fn run(self) {
        let mut wait = Duration::from_secs(1);
        loop {
            match self.session().await {
                Ok(()) => wait = Duration::from_secs(1),
                Err(e) => {
                    tracing::warn!(error = %e, smsc = %self.cfg.address, "SMS gateway: session ended; reconnecting");
                }
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(60));
        }
    }

    async fn session(&self) -> anyhow::Result<()> {
        let client = Arc::new(
            Client::connect(
                self.cfg.address.as_str(),
                BindConfig {
                    window: self.cfg.window,
                    ..BindConfig::new(&self.cfg.system_id, &self.cfg.password)
                },
            )
            .await?,
        );
        tracing::info!(smsc = %self.cfg.address, "SMS gateway bound");
        if let Some(mut incoming) = client.incoming() {
            let store = self.store.clone();
            tokio::spawn(async move {
                while let Some(m) = incoming.recv().await {
                    if let Err(e) = handle_incoming(store.as_ref(), m).await {
                        tracing::warn!(error = %e, "SMS gateway: incoming message not recorded");
                    }
                }
            });
        }
        while !client.is_closed() {
            let now = warden_store::now_micros();
            let due = self
                .store
                .claim_sms((self.cfg.window * 10) as i64, now)
                .await?;
            if due.is_empty() {
                tokio::time::sleep(self.cfg.poll.min(Duration::from_secs(1))).await;
                continue;
            }
            let mut sends = tokio::task::JoinSet::new();
            for m in due {
                let (client, store, source) =
                    (client.clone(), self.store.clone(), self.cfg.source.clone());
                sends.spawn(async move {
                    let r = client
                        .submit(&SubmitRequest {
                            source,
                            destination: m.phone.clone(),
                            text: m.body.clone(),
                            registered_delivery: true,
                        })
                        .await
                        .map_err(|e| e.to_string());
                    if let Err(e) = &r {
                        tracing::warn!(sms = %m.id, error = %e, "SMS not accepted by the SMSC");
                    }
                    store.finish_sms(m.id, r, warden_store::now_micros()).await
                });
            }
            while let Some(done) = sends.join_next().await {
                done??;
            }
        }
        anyhow::bail!("the SMSC closed the session")
    }
}

/// A receipt updates its message; a reply from a known phone number is
/// that person's answer to "are you safe?".
pub async fn handle_incoming(store: &dyn Store, m: Incoming) -> anyhow::Result<()> {
    match m {
        Incoming::Receipt(r) => {
            if !store
                .sms_receipt(&r.id, r.stat.as_str(), warden_store::now_micros())
                .await?
            {
                tracing::debug!(id = %r.id, "receipt for an unknown message");
            }
        }
        Incoming::Message { source, text, .. } => {
            let Ok(status) = Wellbeing::parse(text.trim()) else {
                tracing::info!(from = %source, "SMS reply that is neither 1 nor 2; ignored");
                return Ok(());
            };
            let Some(user) = store.user_by_phone(&source).await? else {
                tracing::info!(from = %source, "SMS reply from an unknown number; ignored");
                return Ok(());
            };
            store
                .record_wellbeing(
                    &NewWellbeing {
                        user: user.id,
                        status,
                        dependants: vec![],
                        note: String::new(),
                        channel: "sms".into(),
                    },
                    &AuditContext::system("sms"),
                )
                .await?;
        }
        Incoming::BadReceipt { source, error, .. } => {
            tracing::warn!(from = %source, error = %error, "unreadable delivery receipt");
        }
    }
    Ok(())
}
