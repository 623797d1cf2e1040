//! Configuration: defaults, then an optional TOML file, then `WARDEN_*`
//! environment variables (e.g. `WARDEN_LISTEN`, `WARDEN_DATABASE_URL`).

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// `sqlite://FILE` (the embedded default) or `postgres://…`.
    pub database_url: String,
    /// Public URL of this service, used in links inside feeds and CAP alerts.
    pub base_url: String,
    /// Identifier of this system as a CAP sender (no spaces or commas).
    pub cap_sender: String,
    /// Whether levels and advisories can be read without signing in.
    pub public_advisories: bool,
    /// Lifetime of a web session, in hours.
    pub session_hours: i64,
    /// Lifetime of an API token, in hours.
    pub api_token_hours: i64,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Failed logins allowed per user and address within `login_window_minutes`.
    pub login_max_failures: u32,
    pub login_window_minutes: u64,
    /// Mark cookies `Secure` (serve behind HTTPS).
    pub secure_cookies: bool,
    /// Log format: `pretty` or `json`.
    pub log_format: String,
    /// Show the cyber-threat section in advisories (2019 report ¶70: contested, off by default).
    pub advisory_cyber_section: bool,
    /// Default language of the interface (`en`, `fr`, `ar`).
    pub default_locale: String,
    /// SMTP relay for e-mail notifications (plain SMTP, e.g. the host's MTA);
    /// empty: notifications stay in the app only.
    pub smtp_host: String,
    pub smtp_port: u16,
    /// Sender of notification e-mails.
    pub smtp_from: String,
    /// How often the outbox is checked when idle, in seconds.
    pub smtp_poll_seconds: u64,
    /// eTA: hours location data is kept before the purge (2019 report ¶79).
    pub location_retention_hours: i64,
    /// eTA: how often the purge runs, in minutes (0: never; `warden purge` by hand).
    pub purge_interval_minutes: u64,
    /// eTA: tracking authorisations in force longer than this are flagged.
    pub tracking_warn_days: i64,
    /// eTA: a phone location older than this is stale (alerts skip it; the
    /// person is flagged as whereabouts unknown).
    pub location_fresh_hours: i64,
    /// Who is where: a trip whose last leg ended away from the duty station,
    /// with nothing after it, is flagged overdue this many days after arrival.
    pub presence_overdue_days: i64,
    /// Bulk SMS: `host:port` of the SMSC (SMPP 3.4); empty: no SMS.
    pub smpp_address: String,
    pub smpp_system_id: String,
    pub smpp_password: String,
    /// The sender shown on phones (a number or a short name).
    pub smpp_source: String,
    /// Messages awaiting the SMSC's answer at once (its advertised window).
    pub smpp_window: u64,
    /// Partner systems: how often the CAP push outbox is checked when idle,
    /// in seconds (0: no pushes; partners still pull their feed).
    pub partner_push_poll_seconds: u64,
    /// Partner systems: time allowed for one CAP push, in seconds.
    pub partner_push_timeout_seconds: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".parse().unwrap(),
            database_url: "sqlite://warden.db".into(),
            base_url: "http://127.0.0.1:8080".into(),
            cap_sender: "warden@localhost".into(),
            public_advisories: true,
            session_hours: 12,
            api_token_hours: 24,
            max_body_bytes: 8 * 1024 * 1024,
            login_max_failures: 5,
            login_window_minutes: 15,
            secure_cookies: false,
            log_format: "pretty".into(),
            advisory_cyber_section: false,
            default_locale: "en".into(),
            smtp_host: String::new(),
            smtp_port: 25,
            smtp_from: "Warden <warden@localhost>".into(),
            smtp_poll_seconds: 5,
            location_retention_hours: warden_domain::eta::DEFAULT_RETENTION_HOURS,
            purge_interval_minutes: 10,
            tracking_warn_days: warden_domain::eta::DEFAULT_TRACKING_WARN_DAYS,
            location_fresh_hours: 24,
            presence_overdue_days: warden_domain::presence::DEFAULT_OVERDUE_DAYS,
            smpp_address: String::new(),
            smpp_system_id: String::new(),
            smpp_password: String::new(),
            smpp_source: "Warden".into(),
            smpp_window: 10,
            partner_push_poll_seconds: 10,
            partner_push_timeout_seconds: 20,
        }
    }
}

impl Config {
    /// Loads the file (if given) and applies `WARDEN_*` variables from `env`.
    pub fn load(
        file: Option<&std::path::Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Config> {
        let mut value = toml::Value::try_from(Config::default())?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            let file_value: toml::Value =
                toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            merge(&mut value, file_value);
        }
        let table = value.as_table_mut().expect("table");
        for (k, v) in env {
            let Some(key) = k.strip_prefix("WARDEN_") else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            let Some(slot) = table.get_mut(&key) else {
                // Variables that are not configuration keys (e.g. WARDEN_TEST_*) are ignored.
                continue;
            };
            *slot = match slot {
                toml::Value::Boolean(_) => {
                    toml::Value::Boolean(match v.to_ascii_lowercase().as_str() {
                        "1" | "true" | "yes" | "on" => true,
                        "0" | "false" | "no" | "off" => false,
                        _ => anyhow::bail!(
                            "WARDEN_{}: expected true or false, got {v:?}",
                            key.to_uppercase()
                        ),
                    })
                }
                toml::Value::Integer(_) => toml::Value::Integer(v.parse().map_err(|_| {
                    anyhow::anyhow!(
                        "WARDEN_{}: expected an integer, got {v:?}",
                        key.to_uppercase()
                    )
                })?),
                _ => toml::Value::String(v),
            };
        }
        let cfg: Config = value
            .try_into()
            .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
        cfg.check()?;
        Ok(cfg)
    }

    pub fn check(&self) -> anyhow::Result<()> {
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            anyhow::bail!(
                "database_url must start with sqlite: or postgres://, got {:?}",
                self.database_url
            );
        }
        if self.cap_sender.contains([' ', ',', '<', '&']) {
            anyhow::bail!("cap_sender must not contain spaces, commas, '<' or '&'");
        }
        if !self.smtp_host.is_empty() && self.smtp_from.parse::<lettre::message::Mailbox>().is_err()
        {
            anyhow::bail!("smtp_from is not an e-mail address: {:?}", self.smtp_from);
        }
        if self.location_retention_hours < 1 {
            anyhow::bail!("location_retention_hours must be at least 1");
        }
        if self.tracking_warn_days < 1 || self.location_fresh_hours < 1 {
            anyhow::bail!("tracking_warn_days and location_fresh_hours must be at least 1");
        }
        if self.presence_overdue_days < 1 {
            anyhow::bail!("presence_overdue_days must be at least 1");
        }
        if !["pretty", "json"].contains(&self.log_format.as_str()) {
            anyhow::bail!("log_format must be pretty or json");
        }
        Ok(())
    }

    /// The effective configuration as TOML, as `warden config` prints it.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("serialisable")
    }
}

fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers() {
        let dir = std::env::temp_dir().join(format!("warden-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("w.toml");
        std::fs::write(&f, "listen = \"0.0.0.0:9000\"\nsession_hours = 3\n").unwrap();
        let env = vec![
            ("WARDEN_SESSION_HOURS".to_string(), "5".to_string()),
            ("WARDEN_PUBLIC_ADVISORIES".to_string(), "off".to_string()),
            ("WARDEN_TEST_SOMETHING".to_string(), "x".to_string()),
            ("HOME".to_string(), "/root".to_string()),
        ];
        let c = Config::load(Some(&f), env).unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.session_hours, 5, "environment wins over file");
        assert!(!c.public_advisories);
        assert!(Config::load(None, vec![("WARDEN_SESSION_HOURS".into(), "many".into())]).is_err());
        std::fs::write(&f, "no_such_key = 1\n").unwrap();
        assert!(Config::load(Some(&f), vec![])
            .unwrap_err()
            .to_string()
            .contains("no_such_key"));
        assert!(c.to_toml().contains("session_hours = 5"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
