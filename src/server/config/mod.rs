//! Settings: defaults from Leptos.toml (compiled in), overridden by
//! `TRAVOIQ_*` environment variables. Independent of the working directory.

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;

pub use super::store::dynamo::items::WriterFormat;

pub mod site;
pub mod sso;

const DEFAULTS: &str = include_str!("../../../Leptos.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    Memory,
    Dynamodb,
}

/// The three tables the monitor reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableNames {
    pub contact: String,
    pub customer: String,
    pub agent: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Settings {
    pub store: StoreKind,
    pub simulator: bool,
    pub simulator_pace: f64,
    pub simulator_call_every_secs: f64,
    pub retain_calls: usize,
    pub heartbeat_secs: u64,
    pub session_recheck_secs: u64,
    /// Where audit events go: `stdout`, `off`, or a file (appended to).
    pub audit_log: String,
    pub ws_send_timeout_secs: u64,
    /// Bytes each live socket reads into (the socket library's default is
    /// 128 KiB per connection).
    pub socket_read_buffer_bytes: usize,
    /// Bytes of frames a socket gathers before writing them out (a new
    /// viewer's backlog goes in batches of this size; 0: a write a frame).
    pub socket_write_buffer_bytes: usize,
    pub max_sockets_per_client: usize,
    pub allowed_origins: String,
    /// Proxies whose `X-Forwarded-For` / `Forwarded` name the client.
    pub trusted_proxies: String,
    /// The `Host` names users reach this server by (comma-separated).
    pub allowed_hosts: String,
    /// Requests a signed-in user may make a minute (in bursts of as many).
    pub requests_per_minute: u32,
    pub feed_linger_secs: u64,
    /// Where `/metrics` is served, on a listener of its own ("" = nowhere).
    #[serde(default)]
    pub metrics_addr: String,
    /// The bearer token a scrape of `/metrics` must carry ("" = none; then
    /// `metrics_addr` must be a loopback address).
    #[serde(default)]
    pub metrics_token: String,
    pub dev_api: bool,
    /// The developer API's token; empty: a random one, printed at start.
    pub dev_api_token: String,
    pub table_prefix: String,
    pub contact_table: String,
    pub customer_table: String,
    pub agent_table: String,
    pub dynamodb_poll_ms: u64,
    pub latest_poll_secs: u64,
    pub dynamodb_timeout_ms: u64,
    pub call_idle_end_secs: u64,
    /// `KINESIS_STREAM_PREFIX`, as the original app named it: each call's
    /// audio stream is this prefix plus its contact id.
    #[serde(default)]
    pub kinesis_stream_prefix: Option<String>,
    /// On the DynamoDB backend the simulator writes only when this names an
    /// upstream format (`connect-rt` or `kvs-ms`): never by accident.
    #[serde(default)]
    pub simulator_format: Option<WriterFormat>,
    /// A DynamoDB endpoint for this server only ("" = aws-config's own:
    /// AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL, or AWS).
    #[serde(default)]
    pub dynamodb_endpoint: String,
    /// A DynamoDB Streams endpoint for this server only ("" = the standard
    /// variables, or a local DynamoDB endpoint; see the README).
    #[serde(default)]
    pub dynamodb_streams_endpoint: String,
    pub stream_poll_ms: u64,
    pub dynamodb_full_read_secs: u64,
    pub partial_timeout_secs: u64,
    pub stream_describe_secs: u64,

    // Sign-in and access.
    pub accounts_file: String,
    pub accounts_table: String,
    pub sessions_table: String,
    /// Shared links' records on DynamoDB (absent in older files: the
    /// default name).
    #[serde(default)]
    pub links_table: String,
    /// Alert rules on the embedded store.
    pub rules_file: String,
    /// Alert rules and raised alerts on DynamoDB ("" = the default names).
    #[serde(default)]
    pub rules_table: String,
    #[serde(default)]
    pub alerts_table: String,
    pub demo_users: Switch,
    /// `TRAVOIQ_DEMO_PASSWORD`: the demo accounts' password ("" = random).
    #[serde(default)]
    pub demo_password: String,
    pub session_idle_mins: u64,
    pub session_max_hours: u64,
    pub secure_cookies: Switch,
    pub agent_attribute: String,
    pub mask_phone_for: String,
    /// The attributes the masked roles see (comma-separated).
    pub masked_roles_see: String,
    pub secret: String,
    pub share_link_mins: u64,
    pub sign_in_per_account: u32,
    pub sign_in_per_address: u32,
    /// Single sign-on with OpenID Connect (`oidc_*`); off unless an issuer
    /// is set.
    #[serde(flatten)]
    pub sso: sso::SsoSettings,
}

/// A setting that is on, off, or decided by the rest of the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Switch {
    Auto,
    On,
    Off,
}

/// The two tables that hold accounts and sessions on DynamoDB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthTables {
    pub accounts: String,
    pub sessions: String,
    pub links: String,
}

impl Settings {
    /// Loads the compiled-in defaults and applies `TRAVOIQ_*` overrides from
    /// the process environment.
    pub fn load() -> Result<Self, ConfigError> {
        let mut settings = Self::load_from(Environment::with_prefix("TRAVOIQ").try_parsing(false))?;
        if let Ok(prefix) = std::env::var("KINESIS_STREAM_PREFIX") {
            settings.kinesis_stream_prefix = Some(prefix).filter(|p| !p.trim().is_empty());
        }
        Ok(settings)
    }

    /// The extra origins allowed to open sockets.
    /// The trusted proxies: addresses or CIDR ranges.
    pub fn trusted_proxies(&self) -> Vec<ipnet::IpNet> {
        self.trusted_proxies
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .filter_map(|p| {
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .ok()
            })
            .collect()
    }

    pub fn allowed_origins(&self) -> Vec<String> {
        self.allowed_origins
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_string())
            .filter(|o| !o.is_empty())
            .collect()
    }

    /// Table names: each explicit name, or the prefix plus the original app's name.
    pub fn table_names(&self) -> TableNames {
        let pick = |explicit: &str, suffix: &str| {
            if explicit.trim().is_empty() {
                format!("{}{suffix}", self.table_prefix)
            } else {
                explicit.trim().to_string()
            }
        };
        TableNames {
            contact: pick(&self.contact_table, "contactDetails"),
            customer: pick(&self.customer_table, "contactTranscriptSegments"),
            agent: pick(&self.agent_table, "contactTranscriptSegmentsToCustomer"),
        }
    }

    /// The DynamoDB endpoints set for this server (None: not set).
    pub fn endpoints(&self) -> (Option<&str>, Option<&str>) {
        fn set(e: &str) -> Option<&str> {
            Some(e.trim()).filter(|e| !e.is_empty())
        }
        (
            set(&self.dynamodb_endpoint),
            set(&self.dynamodb_streams_endpoint),
        )
    }

    /// Where `/metrics` is served, if anywhere (checked by `validate`).
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics_addr.trim().parse().ok()
    }

    /// The token a scrape must carry, if one is set.
    pub fn metrics_token(&self) -> Option<&str> {
        Some(self.metrics_token.trim()).filter(|t| !t.is_empty())
    }

    /// Where accounts and sessions live on DynamoDB.
    pub fn auth_tables(&self) -> AuthTables {
        let pick = |explicit: &str, suffix: &str| {
            if explicit.trim().is_empty() {
                format!("{}{suffix}", self.table_prefix)
            } else {
                explicit.trim().to_string()
            }
        };
        AuthTables {
            accounts: pick(&self.accounts_table, "monitorAccounts"),
            sessions: pick(&self.sessions_table, "monitorSessions"),
            links: pick(&self.links_table, "monitorLinks"),
        }
    }

    /// Where alert rules and raised alerts live on DynamoDB.
    pub fn alert_tables(&self) -> (String, String) {
        let pick = |explicit: &str, suffix: &str| match explicit.trim() {
            "" => format!("{}{suffix}", self.table_prefix),
            named => named.to_string(),
        };
        (
            pick(&self.rules_table, "monitorRules"),
            pick(&self.alerts_table, "monitorAlerts"),
        )
    }

    /// Whether the demo accounts are made at start.
    pub fn demo_users_enabled(&self) -> bool {
        match self.demo_users {
            Switch::On => true,
            Switch::Off => false,
            Switch::Auto => self.store == StoreKind::Memory,
        }
    }

    /// The attributes the masked roles see: the configured ones and the
    /// agent attribute.
    pub fn masked_roles_see(&self) -> Vec<String> {
        self.masked_roles_see
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .chain(std::iter::once(self.agent_attribute.clone()))
            .collect()
    }

    /// Roles that see phone numbers masked.
    pub fn masked_roles(&self) -> Vec<crate::model::Role> {
        self.mask_phone_for
            .split(',')
            .filter_map(|r| crate::model::Role::parse(r.trim()))
            .collect()
    }

    /// Loads with overrides from the given key/value pairs instead of the
    /// environment (for tests).
    pub fn load_with(overrides: &[(&str, &str)]) -> Result<Self, ConfigError> {
        let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
        for (key, value) in overrides {
            builder = builder.set_override(*key, *value)?;
        }
        Self::validate(builder.build()?.try_deserialize()?)
    }

    fn load_from(env: Environment) -> Result<Self, ConfigError> {
        let settings: Settings = Config::builder()
            .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
            .add_source(env)
            .build()?
            .try_deserialize()?;
        Self::validate(settings)
    }

    fn validate(s: Settings) -> Result<Self, ConfigError> {
        if !(0.0..=1000.0).contains(&s.simulator_pace) || s.simulator_pace == 0.0 {
            return Err(ConfigError::Invalid(format!(
                "simulator_pace must be above 0 and at most 1000, not {}",
                s.simulator_pace
            )));
        }
        if s.simulator_call_every_secs.is_nan() || s.simulator_call_every_secs < 1.0 {
            return Err(ConfigError::Invalid(format!(
                "simulator_call_every_secs must be at least 1, not {}",
                s.simulator_call_every_secs
            )));
        }
        if s.retain_calls == 0 {
            return Err(ConfigError::Invalid(
                "retain_calls must be at least 1".into(),
            ));
        }
        if s.dynamodb_poll_ms < 50 || s.dynamodb_timeout_ms < 100 || s.latest_poll_secs == 0 {
            return Err(ConfigError::Invalid(
                "dynamodb_poll_ms must be at least 50, dynamodb_timeout_ms at least 100, latest_poll_secs at least 1".into(),
            ));
        }
        if s.dynamodb_full_read_secs == 0 || s.partial_timeout_secs == 0 {
            return Err(ConfigError::Invalid(
                "dynamodb_full_read_secs and partial_timeout_secs must be at least 1".into(),
            ));
        }
        if s.stream_poll_ms < 200 || s.stream_describe_secs == 0 {
            return Err(ConfigError::Invalid(
                "stream_poll_ms must be at least 200 (DynamoDB Streams allows five reads a second per shard), stream_describe_secs at least 1".into(),
            ));
        }
        if s.session_idle_mins == 0 || s.session_max_hours == 0 || s.share_link_mins == 0 {
            return Err(ConfigError::Invalid(
                "session_idle_mins, session_max_hours and share_link_mins must be at least 1"
                    .into(),
            ));
        }
        if s.sign_in_per_account == 0 || s.sign_in_per_address == 0 {
            return Err(ConfigError::Invalid(
                "sign_in_per_account and sign_in_per_address must be at least 1".into(),
            ));
        }
        if s.agent_attribute.trim().is_empty() {
            return Err(ConfigError::Invalid(
                "agent_attribute must name an attribute".into(),
            ));
        }
        for role in s.mask_phone_for.split(',').map(str::trim) {
            if !role.is_empty() && crate::model::Role::parse(role).is_none() {
                return Err(ConfigError::Invalid(format!(
                    "mask_phone_for: {role:?} is not a role (supervisor, agent, admin)"
                )));
            }
        }
        let secret = s.secret.trim();
        if !secret.is_empty() && secret.len() < 32 {
            return Err(ConfigError::Invalid(
                "secret must be at least 32 characters".into(),
            ));
        }
        for proxy in s.trusted_proxies.split(',').map(str::trim) {
            if !proxy.is_empty()
                && proxy.parse::<ipnet::IpNet>().is_err()
                && proxy.parse::<std::net::IpAddr>().is_err()
            {
                return Err(ConfigError::Invalid(format!(
                    "trusted_proxies: {proxy:?} is not an address or a CIDR range"
                )));
            }
        }
        s.sso.parsed()?;
        if s.heartbeat_secs == 0 || s.session_recheck_secs == 0 {
            return Err(ConfigError::Invalid(
                "heartbeat_secs and session_recheck_secs must be at least 1".into(),
            ));
        }
        let metrics_addr = s.metrics_addr.trim();
        if !metrics_addr.is_empty() {
            let addr: std::net::SocketAddr = metrics_addr.parse().map_err(|_| {
                ConfigError::Invalid(format!(
                    "metrics_addr: {metrics_addr:?} is not an address and port, e.g. 127.0.0.1:9464"
                ))
            })?;
            if !addr.ip().is_loopback() && s.metrics_token().is_none() {
                return Err(ConfigError::Invalid(format!(
                    "metrics_addr {addr} is not a loopback address: set metrics_token too, so /metrics is not open to anyone who can reach it"
                )));
            }
        }
        if s.metrics_token().is_some_and(|t| t.len() < 16) {
            return Err(ConfigError::Invalid(
                "metrics_token must be at least 16 characters".into(),
            ));
        }
        if s.socket_read_buffer_bytes < 256 {
            return Err(ConfigError::Invalid(
                "socket_read_buffer_bytes must be at least 256".into(),
            ));
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_in_defaults_load() {
        let s = Settings::load_with(&[]).unwrap();
        assert_eq!(s.store, StoreKind::Memory);
        assert!(s.simulator);
        assert!(!s.dev_api);
        assert_eq!(s.simulator_pace, 1.0);
    }

    #[test]
    fn overrides_accept_on_off_and_numbers() {
        let s = Settings::load_with(&[
            ("simulator", "off"),
            ("dev_api", "on"),
            ("simulator_pace", "4"),
        ])
        .unwrap();
        assert!(!s.simulator);
        assert!(s.dev_api);
        assert_eq!(s.simulator_pace, 4.0);
    }

    #[test]
    fn table_names_follow_the_prefix_unless_named() {
        let s = Settings::load_with(&[]).unwrap();
        assert_eq!(
            s.table_names(),
            TableNames {
                contact: "travoiq-recording-contactDetails".into(),
                customer: "travoiq-recording-contactTranscriptSegments".into(),
                agent: "travoiq-recording-contactTranscriptSegmentsToCustomer".into(),
            }
        );
        let s = Settings::load_with(&[
            ("table_prefix", "stage-travoiq-recording-"),
            ("agent_table", "agent-words"),
        ])
        .unwrap();
        let t = s.table_names();
        assert_eq!(t.contact, "stage-travoiq-recording-contactDetails");
        assert_eq!(t.agent, "agent-words");
        let s =
            Settings::load_with(&[("store", "dynamodb"), ("simulator_format", "kvs-ms")]).unwrap();
        assert_eq!(s.store, StoreKind::Dynamodb);
        assert_eq!(s.simulator_format, Some(WriterFormat::KvsMs));
        assert!(Settings::load_with(&[("simulator_format", "csv")]).is_err());
    }

    #[test]
    fn nonsense_is_refused_with_a_reason() {
        let err = Settings::load_with(&[("simulator_pace", "0")]).unwrap_err();
        assert!(err.to_string().contains("simulator_pace"), "{err}");
        assert!(Settings::load_with(&[("store", "postgres")]).is_err());
        let err = Settings::load_with(&[("socket_read_buffer_bytes", "16")]).unwrap_err();
        assert!(
            err.to_string().contains("socket_read_buffer_bytes"),
            "{err}"
        );
        assert!(Settings::load_with(&[("simulator", "maybe")]).is_err());
    }

    #[test]
    fn metrics_are_off_by_default_and_never_open_to_the_network() {
        let s = Settings::load_with(&[]).unwrap();
        assert_eq!(s.metrics_addr(), None);
        let s = Settings::load_with(&[("metrics_addr", "127.0.0.1:9464")]).unwrap();
        assert_eq!(s.metrics_addr(), Some("127.0.0.1:9464".parse().unwrap()));
        let err = Settings::load_with(&[("metrics_addr", "0.0.0.0:9464")]).unwrap_err();
        assert!(err.to_string().contains("metrics_token"), "{err}");
        let s = Settings::load_with(&[
            ("metrics_addr", "0.0.0.0:9464"),
            ("metrics_token", "a-scrape-token-of-32-characters!"),
        ])
        .unwrap();
        assert_eq!(s.metrics_token(), Some("a-scrape-token-of-32-characters!"));
        assert!(Settings::load_with(&[("metrics_addr", "somewhere")]).is_err());
        assert!(Settings::load_with(&[("metrics_token", "short")]).is_err());
    }
}
