//! E-mails notifications through an SMTP relay. The notifications table is the
//! outbox: rows are written in the same transaction as the change they report,
//! so nothing is lost if the process stops; this task claims them in batches,
//! sends, and records the outcome (failures are retried with back-off).

use lettre::message::{header::ContentType, Mailbox, Message};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::sync::Arc;
use std::time::Duration;
use warden_store::{now_micros, OutgoingEmail, Store};

#[derive(Clone, Debug)]
pub struct MailerConfig {
    pub host: String,
    pub port: u16,
    pub from: String,
    /// Prefix of links in e-mails (the service's public URL).
    pub base_url: String,
    pub poll: Duration,
}

impl MailerConfig {
    pub fn from_config(c: &crate::config::Config) -> Option<MailerConfig> {
        (!c.smtp_host.is_empty()).then(|| MailerConfig {
            host: c.smtp_host.clone(),
            port: c.smtp_port,
            from: c.smtp_from.clone(),
            base_url: c.base_url.trim_end_matches('/').to_string(),
            poll: Duration::from_secs(c.smtp_poll_seconds.max(1)),
        })
    }
}

pub struct Mailer {
    store: Arc<dyn Store>,
    cfg: MailerConfig,
    from: Mailbox,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

/// E-mails claimed per round.
const BATCH: i64 = 50;

impl Mailer {
    pub fn new(store: Arc<dyn Store>, cfg: MailerConfig) -> anyhow::Result<Mailer> {
        let from: Mailbox = cfg
            .from
            .parse()
            .map_err(|e| anyhow::anyhow!("smtp_from {:?}: {e}", cfg.from))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&cfg.host)
            .port(cfg.port)
            .timeout(Some(Duration::from_secs(20)))
            .build();
        Ok(Mailer {
            store,
            cfg,
            from,
            transport,
        })
    }

    fn message(&self, e: &OutgoingEmail) -> Result<Message, String> {
        let to: Mailbox = format!("{} <{}>", e.to_name.replace(['<', '>', '"'], ""), e.to)
            .parse()
            .or_else(|_| e.to.parse())
            .map_err(|err| format!("bad address {:?}: {err}", e.to))?;
        let link = if e.link.is_empty() {
            String::new()
        } else {
            format!("\n\n{}{}", self.cfg.base_url, e.link)
        };
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&e.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(format!(
                "{}{link}\n\n-- \nWarden security management. You receive this because you travel or review travel with your organisation.\n",
                e.body
            ))
            .map_err(|err| err.to_string())
    }

    /// Sends what is due now; returns how many e-mails were attempted.
    pub async fn send_due(&self) -> anyhow::Result<usize> {
        let batch = self.store.claim_emails(BATCH, now_micros()).await?;
        for e in &batch {
            let outcome = match self.message(e) {
                Ok(m) => self
                    .transport
                    .send(m)
                    .await
                    .map(|_| ())
                    .map_err(|err| err.to_string()),
                Err(err) => Err(err),
            };
            if let Err(err) = &outcome {
                tracing::warn!(notification = %e.id, attempt = e.attempts, "e-mail not sent: {err}");
            }
            self.store.finish_email(e.id, outcome, now_micros()).await?;
        }
        Ok(batch.len())
    }

    /// Runs until the process ends: drains the outbox, then waits `poll`.
    pub async fn run(self) {
        loop {
            match self.send_due().await {
                Ok(n) if n as i64 == BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::error!("mailer: {e:#}"),
            }
            tokio::time::sleep(self.cfg.poll).await;
        }
    }
}
