//! One typed configuration: defaults, then an optional TOML file, then `SOLO_*`
//! environment variables, then command-line flags (applied by the binary).
//!
//! Every field below is also an environment variable: the field name in upper
//! case with the `SOLO_` prefix (`addr` → `SOLO_ADDR`). README.md lists them all.

use std::fmt;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A secret value: shown as `[redacted]` in `Debug` output and logs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Error)]
#[error("invalid configuration: {0}")]
pub struct SettingsError(String);

/// Solo's configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Settings {
    /// `SOLO_ADDR`: address the server listens on.
    pub addr: String,
    /// `SOLO_REUSE_PORT`: listen with `SO_REUSEPORT`, so several `solo serve`
    /// processes on one machine share the address and the kernel spreads new
    /// connections across them (cluster mode: a process holds at most as many
    /// connections as it may open files).
    pub reuse_port: bool,
    /// `SOLO_DATA_DIR`: directory for the embedded database and generated secrets.
    pub data_dir: PathBuf,
    /// `SOLO_DATABASE_URL`: `sqlite://…` or `postgres://…`; default a SQLite file in the data directory.
    pub database_url: Option<String>,
    /// `SOLO_BUS_URL`: `redis://…` to run as one node of a cluster (events reach every
    /// node through Redis); default: the in-process bus of a single node.
    pub bus_url: Option<String>,
    /// `SOLO_CLUSTER_NAME`: the cluster this node belongs to (nodes sharing a Redis
    /// and a database must agree on it).
    pub cluster_name: String,
    /// `SOLO_PRESENCE_TTL_SECS` (cluster mode): how long a node's presence entries
    /// outlive its last refresh (it refreshes every third of this), so the longest
    /// a killed node's users stay listed as online.
    pub presence_ttl_secs: u64,
    /// `SOLO_DB_MAX_CONNECTIONS`: pooled database connections.
    pub db_max_connections: u32,
    /// `SOLO_PUBLIC_URL`: the URL clients reach this server at (e.g. behind a proxy);
    /// default: derived from each request's `Host` header.
    pub public_url: Option<String>,
    /// `SOLO_MAX_BODY_BYTES`: largest accepted request body.
    pub max_body_bytes: usize,
    /// `SOLO_SESSION_TTL_SECS`: lifetime of a web session.
    pub session_ttl_secs: u64,
    /// `SOLO_COOKIE_SECURE`: mark cookies `Secure`. Unset: `Secure` whenever the browser
    /// reached Solo over TLS, that is when `SOLO_PUBLIC_URL` is `https://…`, or when a
    /// trusted proxy (`SOLO_TRUST_FORWARDED_FOR`) says `X-Forwarded-Proto: https`.
    /// `true`/`false` force it either way.
    pub cookie_secure: Option<bool>,
    /// `SOLO_TOKEN_SECRET`: HS256 key of connection tokens; generated and stored in the
    /// database on first start when unset. Must be the same on every node of a cluster.
    pub token_secret: Option<Secret>,
    /// `SOLO_SERVER_API_KEY`: the key backends send (`X-API-Key: KEY` or
    /// `Authorization: apikey KEY`) to the Centrifugo-compatible server API at
    /// `/centrifugo/api/{method}` (publish, broadcast, disconnect, …). It may
    /// publish to every channel and act on every connection: an admin
    /// credential. Unset (the default): the server API is off and answers 404.
    pub server_api_key: Option<Secret>,
    /// `SOLO_CONNECTION_TOKEN_TTL_SECS`: lifetime of a realtime connection token.
    pub connection_token_ttl_secs: u64,
    /// `SOLO_HEARTBEAT_INTERVAL_SECS`: how often workstations are expected to heartbeat.
    pub heartbeat_interval_secs: u64,
    /// `SOLO_DEGRADED_AFTER_MISSED`: missed heartbeats before a workstation is `degraded`.
    pub degraded_after_missed: u64,
    /// `SOLO_OFFLINE_AFTER_MISSED`: missed heartbeats before a workstation is `offline`.
    pub offline_after_missed: u64,
    /// `SOLO_SWEEP_INTERVAL_MS`: how often the presence sweeper looks for silent workstations.
    pub sweep_interval_ms: u64,
    /// `SOLO_HISTORY_MAX_PUBLICATIONS`: publications kept per channel for recovery.
    pub history_max_publications: u64,
    /// `SOLO_HISTORY_MAX_AGE_SECS`: age past which channel history is dropped.
    pub history_max_age_secs: u64,
    /// `SOLO_EVENTS_MAX_AGE_DAYS`: age past which published events leave the
    /// audit log. Fractions are allowed (`0.01` is 14.4 minutes: the soak uses them).
    pub events_max_age_days: f64,
    /// `SOLO_HEARTBEAT_EVENTS_MAX_AGE_SECS`: age past which workstation heartbeat
    /// events leave the audit log, sooner than other events: at one heartbeat per
    /// workstation every 10 s they would be most of the log, and they record no
    /// change (status changes are events of their own, kept `events_max_age_days`).
    pub heartbeat_events_max_age_secs: u64,
    /// `SOLO_NOTIFICATIONS_READ_MAX_AGE_DAYS`: notifications read longer ago than
    /// this leave the inbox (unread ones are never removed). Fractions are allowed.
    pub notifications_read_max_age_days: f64,
    /// `SOLO_RETENTION_INTERVAL_SECS`: how often the retention task runs; each run
    /// trims in bounded batches until nothing past its limits is left.
    pub retention_interval_secs: u64,
    /// `SOLO_DISPATCH_BATCH`: events the dispatcher publishes per round.
    pub dispatch_batch: i64,
    /// `SOLO_DISPATCH_MAX_BACKOFF_MS`: longest wait between retries of a failing publish.
    pub dispatch_max_backoff_ms: u64,
    /// `SOLO_RECOVERY_MAX_PUBLICATIONS`: most publications a resubscribe may recover at once;
    /// a client further behind gets `recovered: false` and reloads.
    pub recovery_max_publications: u64,
    /// `SOLO_RECOVERY_CACHE_BYTES`: memory for the latest publications of each
    /// channel (up to `recovery_max_publications` each), so reconnecting clients
    /// recover without reading the database; channels published least recently
    /// are dropped first. 0 turns it off.
    pub recovery_cache_bytes: usize,
    /// `SOLO_WS_MAX_MESSAGE_BYTES`: largest WebSocket message accepted (larger: close 1009).
    pub ws_max_message_bytes: usize,
    /// `SOLO_WS_QUEUE_CAPACITY`: frames a connection may have waiting for its
    /// socket before it is closed as a slow consumer (3008).
    pub ws_queue_capacity: usize,
    /// `SOLO_WS_COMMANDS_PER_SEC`: commands one realtime connection may send per second
    /// (bursts of twice that); beyond it commands get error 111, and a client that keeps
    /// going is closed with 3013.
    pub ws_commands_per_sec: u32,
    /// `SOLO_WS_MAX_CONNECTIONS_PER_USER`: realtime connections one user may hold on one
    /// node; the next is closed with 3504.
    pub ws_max_connections_per_user: usize,
    /// `SOLO_ALLOWED_ORIGINS`: comma-separated origins (`https://solo.example.com`) whose
    /// browser pages may open the WebSocket, besides the server's own origin; `*` allows
    /// any. Clients that send no `Origin` (CLI, SDKs) are not affected.
    pub allowed_origins: String,
    /// `SOLO_INTEGRATION_NAMESPACES`: comma-separated namespaces of integrators'
    /// own channels (`chat` for `chat:lobby`). The server API publishes into
    /// them; a client subscribes only with a subscription token (HS256 with
    /// `SOLO_TOKEN_SECRET`, claims `sub`, `channel`, `exp`). Empty (the default):
    /// only the product's channels exist.
    pub integration_namespaces: String,
    /// `SOLO_API_REQUESTS_PER_SEC`: API requests per second per token or session (bursts
    /// of twice that); beyond it: 429 with `Retry-After`.
    pub api_requests_per_sec: u32,
    /// `SOLO_AUTH_FAILURES_PER_MINUTE`: failed sign-ins and bad tokens per source address
    /// per minute; beyond it every authentication attempt from there gets 429 until the
    /// minute is over.
    pub auth_failures_per_minute: u32,
    /// `SOLO_TRUST_FORWARDED_FOR`: take the source address from the last `X-Forwarded-For`
    /// hop (set only behind a proxy that sets it).
    pub trust_forwarded_for: bool,
    /// `SOLO_HTTP_HEADER_TIMEOUT_SECS`: time a connection may take to send a request's
    /// headers, and the longest an idle keep-alive connection stays open; past it the
    /// connection is closed (slow or silent clients cannot hold sockets).
    pub http_header_timeout_secs: u64,
    /// `SOLO_PING_INTERVAL_SECS`: server ping interval on realtime connections.
    pub ping_interval_secs: u64,
    /// `SOLO_PONG_TIMEOUT_SECS`: time to answer a ping before close 3012.
    pub pong_timeout_secs: u64,
    /// `SOLO_CONNECT_TIMEOUT_SECS`: time to send `connect` after opening before close 3502.
    pub connect_timeout_secs: u64,
    /// `SOLO_REFRESH_GRACE_SECS`: time past token expiry to `refresh` before close 3005.
    pub refresh_grace_secs: u64,
    /// `SOLO_WRITE_COALESCE_MS`: publications to a channel of 100 or more
    /// subscribers that follow such a fan-out within this many milliseconds
    /// wait for the window's end and reach each subscriber in one write with
    /// the others of the window (0 turns it off). A publication after a quiet
    /// spell, or to a smaller channel, is written at once; under a steady
    /// stream this caps writes per subscriber at one per window, for at most
    /// this much delay.
    pub write_coalesce_ms: u64,
    /// `SOLO_REVALIDATE_INTERVAL_MS`: how often revocations (tokens, sessions, memberships) are looked for.
    pub revalidate_interval_ms: u64,
    /// `SOLO_PAT_CACHE_TTL_MS`: how long a verified personal access token (and,
    /// on realtime connects, a token's credential and a user's membership) is
    /// trusted without reading the database again (0: always read). Revocations
    /// clear the cache: at once on the node that revoked, within
    /// `SOLO_REVALIDATE_INTERVAL_MS` on the others.
    pub pat_cache_ttl_ms: u64,
    /// `SOLO_POLL_INTERVAL_SECS`: how often polling clients should come back (`X-Poll-Interval`).
    pub poll_interval_secs: u64,
    /// `SOLO_DEFAULT_QUIET_HOURS`: quiet hours of users who set none: `off`, or
    /// `HH:MM-HH:MM ZONE` (e.g. `22:00-07:00 Europe/Paris`); urgent notifications pass.
    pub default_quiet_hours: String,
    /// `SOLO_DEMO`: seed a demo workspace and simulate workstations (`solo serve --demo`).
    pub demo: bool,
    /// `SOLO_LOG`: log filter (`info`, `solo_server=debug,info`, …).
    pub log: String,
    /// `SOLO_LOG_FORMAT`: `text` or `json`.
    pub log_format: String,
    /// `SOLO_OTLP_ENDPOINT`: an OpenTelemetry collector's OTLP/HTTP base URL
    /// (e.g. `http://127.0.0.1:4318`); when set, spans of requests, store
    /// transactions, dispatcher publishes and realtime deliveries go to
    /// `{it}/v1/traces`, each in its event's trace. Unset: no spans leave.
    pub otlp_endpoint: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:7070".to_owned(),
            data_dir: PathBuf::from(".solo"),
            database_url: None,
            bus_url: None,
            cluster_name: "solo".to_owned(),
            reuse_port: false,
            presence_ttl_secs: 30,
            db_max_connections: 8,
            public_url: None,
            max_body_bytes: 1024 * 1024,
            session_ttl_secs: 7 * 24 * 3600,
            cookie_secure: None,
            token_secret: None,
            server_api_key: None,
            connection_token_ttl_secs: 600,
            heartbeat_interval_secs: 10,
            degraded_after_missed: 2,
            offline_after_missed: 3,
            sweep_interval_ms: 1000,
            history_max_publications: 1000,
            history_max_age_secs: 24 * 3600,
            events_max_age_days: 30.0,
            heartbeat_events_max_age_secs: 24 * 3600,
            notifications_read_max_age_days: 90.0,
            retention_interval_secs: 60,
            dispatch_batch: 256,
            dispatch_max_backoff_ms: 30_000,
            recovery_max_publications: 300,
            recovery_cache_bytes: 32 * 1024 * 1024,
            ws_max_message_bytes: 64 * 1024,
            ws_queue_capacity: 1024,
            ws_commands_per_sec: 100,
            ws_max_connections_per_user: 100,
            allowed_origins: String::new(),
            integration_namespaces: String::new(),
            api_requests_per_sec: 50,
            auth_failures_per_minute: 20,
            trust_forwarded_for: false,
            http_header_timeout_secs: 10,
            ping_interval_secs: 25,
            pong_timeout_secs: 10,
            connect_timeout_secs: 10,
            refresh_grace_secs: 25,
            write_coalesce_ms: 5,
            revalidate_interval_ms: 1000,
            pat_cache_ttl_ms: 5000,
            poll_interval_secs: 15,
            default_quiet_hours: "off".to_owned(),
            demo: false,
            log: "info".to_owned(),
            log_format: "text".to_owned(),
            otlp_endpoint: None,
        }
    }
}

impl Settings {
    /// Defaults, then `file` (TOML) if given, then `SOLO_*` environment variables.
    /// The binary applies its flags on top.
    pub fn load(file: Option<&Path>) -> Result<Self, SettingsError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(SettingsError(format!("config file {} does not exist", file.display())));
            }
            figment = figment.merge(Toml::file(file));
        }
        // `SOLO_CONFIG` names the file and is not a setting; `SOLO_TEST_*` belong to the test suites.
        figment = figment.merge(Env::prefixed("SOLO_").filter(|k| k != "config" && !k.as_str().starts_with("test_")));
        let settings: Settings = figment.extract().map_err(|e| SettingsError(e.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.degraded_after_missed == 0 || self.offline_after_missed <= self.degraded_after_missed {
            return Err(SettingsError(
                "offline_after_missed must be greater than degraded_after_missed, which must be at least 1".into(),
            ));
        }
        if self.heartbeat_interval_secs == 0 {
            return Err(SettingsError("heartbeat_interval_secs must be at least 1".into()));
        }
        if let Some(endpoint) = &self.otlp_endpoint {
            if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                return Err(SettingsError(format!(
                    "otlp_endpoint must be an http:// or https:// URL, not `{endpoint}`"
                )));
            }
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return Err(SettingsError(format!("log_format must be `text` or `json`, not `{}`", self.log_format)));
        }
        self.parsed_default_quiet_hours()?;
        if self.max_body_bytes < 1024 {
            return Err(SettingsError("max_body_bytes must be at least 1024".into()));
        }
        if self.ws_commands_per_sec == 0 || self.api_requests_per_sec == 0 || self.auth_failures_per_minute == 0 {
            return Err(SettingsError("rate limits must be at least 1".into()));
        }
        if self.ws_max_connections_per_user == 0 {
            return Err(SettingsError("ws_max_connections_per_user must be at least 1".into()));
        }
        if self.http_header_timeout_secs == 0 {
            return Err(SettingsError("http_header_timeout_secs must be at least 1".into()));
        }
        if self.server_api_key.as_ref().is_some_and(|key| key.expose().len() < 16) {
            return Err(SettingsError("server_api_key must be at least 16 characters".into()));
        }
        for namespace in self.integration_namespace_list() {
            if solo_domain::Channel::integration(&format!("{namespace}:x")).is_err() || namespace.contains(':') {
                return Err(SettingsError(format!(
                    "integration_namespaces: `{namespace}` is a product namespace or not letters, digits and `_-.@=`"
                )));
            }
        }
        let ages = [
            ("events_max_age_days", self.events_max_age_days),
            ("notifications_read_max_age_days", self.notifications_read_max_age_days),
        ];
        for (name, days) in ages {
            if !(days.is_finite() && days > 0.0) {
                return Err(SettingsError(format!("{name} must be a positive number of days, not {days}")));
            }
        }
        if self.retention_interval_secs == 0 {
            return Err(SettingsError("retention_interval_secs must be at least 1".into()));
        }
        if self.presence_ttl_secs < 2 {
            return Err(SettingsError("presence_ttl_secs must be at least 2".into()));
        }
        Ok(())
    }

    /// The configured integration namespaces.
    pub fn integration_namespace_list(&self) -> Vec<String> {
        self.integration_namespaces.split(',').map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned).collect()
    }

    /// The default quiet hours, parsed.
    pub fn parsed_default_quiet_hours(&self) -> Result<solo_domain::QuietHours, SettingsError> {
        parse_quiet_hours(&self.default_quiet_hours).map_err(SettingsError)
    }

    /// The database URL in force: the configured one, or the embedded SQLite file.
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("solo.db").display()),
        }
    }
}

/// Parses `off` or `HH:MM-HH:MM [ZONE]` (zone default UTC) into quiet hours.
pub fn parse_quiet_hours(spec: &str) -> Result<solo_domain::QuietHours, String> {
    let spec = spec.trim();
    if spec.eq_ignore_ascii_case("off") || spec.is_empty() {
        return Ok(solo_domain::QuietHours::off());
    }
    let (window, zone) = spec.split_once(' ').map_or((spec, "UTC"), |(w, z)| (w, z.trim()));
    let (start, end) =
        window.split_once('-').ok_or_else(|| format!("`{spec}`: expected `off` or `HH:MM-HH:MM ZONE`"))?;
    let quiet = solo_domain::QuietHours {
        enabled: true,
        start: start.to_owned(),
        end: end.to_owned(),
        timezone: zone.to_owned(),
        allow_urgent: true,
    };
    quiet.validate().map_err(|e| format!("`{spec}`: {e}"))?;
    Ok(quiet)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug() {
        let s = Settings {
            token_secret: Some(Secret::new("hunter2")),
            server_api_key: Some(Secret::new("correct-horse-battery")),
            ..Settings::default()
        };
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{s:?}").contains("correct-horse"));
    }

    #[test]
    fn quiet_hours_specs() {
        assert!(!parse_quiet_hours("off").expect("off").enabled);
        let q = parse_quiet_hours("22:00-07:00 Europe/Paris").expect("parse");
        assert_eq!((q.start.as_str(), q.end.as_str(), q.timezone.as_str()), ("22:00", "07:00", "Europe/Paris"));
        assert_eq!(parse_quiet_hours("21:30-06:00").expect("parse").timezone, "UTC");
        assert!(parse_quiet_hours("late").is_err());
        assert!(parse_quiet_hours("22:00-07:00 Nowhere/Land").is_err());
    }

    #[test]
    fn defaults_are_valid() {
        assert!(Settings::default().validate().is_ok());
        let bad = Settings { offline_after_missed: 2, ..Settings::default() };
        assert!(bad.validate().is_err());
    }
}
