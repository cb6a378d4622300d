//! Configuration: one TOML file, or a [`Config`] built in code by a host
//! application. Every limit lives in [`LimitsConfig`] with its default and
//! the reason for it.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

mod storage;
pub use storage::{StorageConfig, StorageKind, MAX_COMMIT_WINDOW_MS};
mod presence;
pub use presence::PresenceConfig;

/// The whole server configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The one TLS port, e.g. `0.0.0.0:8443`. Default `127.0.0.1:8443`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Origins allowed to open a WebSocket, compared byte for byte
    /// (`https://chat.example:8443`). Empty: any request carrying an
    /// `Origin` is refused; native clients send none.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// The `from` of messages the host application publishes through its
    /// [`Handle`](crate::server::Handle). Default `device`.
    #[serde(default = "default_device_name")]
    pub device_name: String,
    /// Certificate and key.
    pub tls: TlsConfig,
    /// Token verification.
    pub auth: AuthConfig,
    /// Resource limits.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// `[metrics]`: the Prometheus listener; absent means none.
    #[serde(default)]
    pub metrics: Option<MetricsConfig>,
    /// `[cluster]`: share rooms with other nodes through Redis; absent
    /// means a single node.
    #[serde(default)]
    pub cluster: Option<crate::cluster::config::ClusterConfig>,
    /// `[storage]`; absent means memory (see [`Config::storage_or_file`]).
    #[serde(default)]
    pub storage: Option<StorageConfig>,
    /// `[presence]`: which rooms send join and leave events.
    #[serde(default)]
    pub presence: PresenceConfig,
}

/// `[metrics]`: a plain-HTTP listener answering `GET /metrics`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct MetricsConfig {
    /// Where to listen. Default `127.0.0.1:9464`: metrics reveal traffic
    /// patterns, so they stay on loopback unless moved on purpose.
    #[serde(default = "default_metrics_listen")]
    pub listen: SocketAddr,
}

fn default_metrics_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9464))
}

/// `[tls]`: the server's certificate chain and private key, PEM files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TlsConfig {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key: PKCS#8, SEC1 or PKCS#1.
    pub key: PathBuf,
    /// CA certificates (PEM) a client certificate must chain to; set, every
    /// connection needs one (mutual TLS). Default: none asked for.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
    /// Revoked client certificates (PEM `X509 CRL`); needs `client_ca`.
    #[serde(default)]
    pub crl: Option<PathBuf>,
    /// Also require the client certificate's CN or a DNS name to equal the
    /// token's `sub` (403 otherwise); needs `client_ca`. Default false.
    #[serde(default)]
    pub require_cert_subject_match: bool,
}

/// `[auth]`: who may mint tokens and for whom.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AuthConfig {
    /// Files each holding one `k4.public.…` PASERK key. Several keys at once
    /// allow rotation.
    pub public_keys: Vec<PathBuf>,
    /// The `aud` every token must carry.
    pub audience: String,
    /// The `iss` every token must carry, when set.
    #[serde(default)]
    pub issuer: Option<String>,
    /// The longest lifetime a token may have, in seconds: `exp - iat`, or
    /// `exp - now` for a token without `iat`; longer ones are refused (401
    /// "token lifetime too long"). Default: no limit, because only the
    /// issuer knows how long its tokens should live (an appliance may be
    /// given a year-long token on purpose), and a default limit would lock
    /// out working deployments on upgrade. Set it to bound what a leaked
    /// token is worth, e.g. `86400`.
    #[serde(default)]
    pub max_token_lifetime_s: Option<u64>,
}

/// `[limits]`: what one peer, and all of them together, may consume.
///
/// The defaults suit a Raspberry Pi serving a few hundred sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct LimitsConfig {
    /// Largest WebSocket message (and frame), in bytes; larger closes with
    /// 1009. Default 8192: a full `max_body` publish plus its header.
    pub max_message_bytes: u32,
    /// Largest message body, in bytes. Default 4096.
    pub max_body: u32,
    /// Rooms one session may be in at once. Default 16.
    pub max_rooms: u16,
    /// Publishes per second per session, also the burst. Default 10.
    pub publish_per_sec: u16,
    /// Messages each room retains for `Join{since}`. Default 32.
    pub history: u16,
    /// Rooms the server holds at once (with members or retained
    /// messages); bounds `rooms × history × max_body`. Default 256.
    pub max_total_rooms: u32,
    /// Distinct rooms one user (token `sub`) may be in at once, across all
    /// their sessions; more is `TooManyRooms`. Default 64: four sessions'
    /// worth of `max_rooms` (phone, laptop, a bot...), and a quarter of
    /// `max_total_rooms`, so one token cannot take the room table from
    /// everyone else (at or above `max_total_rooms` it protects nothing,
    /// and `check-config` and `serve` say so).
    pub max_rooms_per_user: u32,
    /// Frames waiting to be written to one session; a session whose queue
    /// is full is closed with 4009. Default 32.
    pub outbound_queue: u16,
    /// Seconds from TCP accept to `101 Switching Protocols`. Default 10.
    pub handshake_timeout_s: u16,
    /// Seconds a session may stay silent. The server pings after half of
    /// it; no frame and no pong for all of it closes with 4010. Default 60.
    pub idle_timeout_s: u16,
    /// Connections at once, counted from TCP accept (so half-open
    /// handshakes count); more are refused with 503. Default 512.
    pub max_connections: u32,
    /// Connections at once from one IP address; more are refused with 429.
    /// Default 32.
    pub max_connections_per_ip: u32,
    /// 401s from one address within `ban_seconds` that get it banned for
    /// `ban_seconds` (429). Default 10.
    pub auth_failures_before_ban: u16,
    /// The ban window and the ban's length, in seconds. Default 300.
    pub ban_seconds: u32,
    /// Inbound WebSocket messages (pings and pongs included) per second per
    /// session, also the burst; beyond it the session closes with 1008.
    /// Default 50.
    pub frames_per_sec: u16,
    /// `Error` answers a session may provoke in a burst (refilled at one a
    /// second) before it is closed with 1008. Default 20.
    pub violations_before_close: u16,
    /// Refuse to start when the computed worst-case memory exceeds this
    /// many MiB. Default: no budget (the bound is still printed).
    pub memory_budget_mb: Option<u32>,
    /// Seconds a session's write may wait for its peer to read (one batch:
    /// at most 16 KiB plus a frame) before the session is closed with 4009,
    /// even when its queue is not full. Default 10: a link that cannot
    /// carry 2 KiB/s is stalled, not slow, and the session's deadlines
    /// (expiry, idle) must not wait behind it.
    pub write_timeout_s: u16,
    /// Seconds a shutdown waits for sessions to write their queues and
    /// close with 1001 before the server stops anyway. Default 10.
    pub shutdown_timeout_s: u16,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_message_bytes: 8192,
            max_body: 4096,
            max_rooms: 16,
            publish_per_sec: 10,
            history: 32,
            max_total_rooms: 256,
            max_rooms_per_user: 64,
            outbound_queue: 32,
            handshake_timeout_s: 10,
            idle_timeout_s: 60,
            max_connections: 512,
            max_connections_per_ip: 32,
            auth_failures_before_ban: 10,
            ban_seconds: 300,
            frames_per_sec: 50,
            violations_before_close: 20,
            memory_budget_mb: None,
            write_timeout_s: 10,
            shutdown_timeout_s: 10,
        }
    }
}

/// Bytes a `Publish` frame needs besides its body: variant, id, room name
/// and the length prefixes. Used to check `max_message_bytes` can carry a
/// full body.
const PUBLISH_OVERHEAD: u32 = 1 + 5 + 1 + 32 + 1 + 5;

impl LimitsConfig {
    /// Checks the limits against each other.
    ///
    /// # Errors
    /// The field and the rule it breaks.
    pub fn validate(&self) -> Result<(), Invalid> {
        let nonzero: [(&str, u64); 17] = [
            ("shutdown_timeout_s", self.shutdown_timeout_s.into()),
            ("write_timeout_s", self.write_timeout_s.into()),
            ("max_message_bytes", self.max_message_bytes.into()),
            ("max_body", self.max_body.into()),
            ("max_rooms", self.max_rooms.into()),
            ("publish_per_sec", self.publish_per_sec.into()),
            ("max_total_rooms", self.max_total_rooms.into()),
            ("max_rooms_per_user", self.max_rooms_per_user.into()),
            ("outbound_queue", self.outbound_queue.into()),
            ("handshake_timeout_s", self.handshake_timeout_s.into()),
            ("max_connections", self.max_connections.into()),
            ("max_connections_per_ip", self.max_connections_per_ip.into()),
            ("idle_timeout_s", self.idle_timeout_s.into()),
            (
                "auth_failures_before_ban",
                self.auth_failures_before_ban.into(),
            ),
            ("ban_seconds", self.ban_seconds.into()),
            ("frames_per_sec", self.frames_per_sec.into()),
            (
                "violations_before_close",
                self.violations_before_close.into(),
            ),
        ];
        if let Some((name, _)) = nonzero.iter().find(|(_, v)| *v == 0) {
            return Err(Invalid::field(
                format!("limits.{name}"),
                "must be at least 1",
            ));
        }
        let most = crate::protocol::MAX_ROOMS_PER_SESSION;
        if usize::from(self.max_rooms) > most {
            return Err(Invalid::field(
                "limits.max_rooms",
                format!("must be at most {most}"),
            ));
        }
        if u32::from(self.max_rooms) > self.max_rooms_per_user {
            return Err(Invalid::field(
                "limits.max_rooms_per_user",
                format!(
                    "({}) must be at least max_rooms ({})",
                    self.max_rooms_per_user, self.max_rooms
                ),
            ));
        }
        let needed = self.max_body.saturating_add(PUBLISH_OVERHEAD);
        if self.max_message_bytes < needed {
            return Err(Invalid::field(
                "limits.max_message_bytes",
                format!(
                    "({}) must be at least max_body + {PUBLISH_OVERHEAD} ({needed}) so a full body fits",
                    self.max_message_bytes
                ),
            ));
        }
        Ok(())
    }

    /// Limits that make another unreachable, one sentence each naming
    /// both keys (`serve` logs them, `check-config` prints them).
    pub fn incoherences(&self) -> Vec<String> {
        crate::startup::incoherent_limits(self)
    }

    /// The limits announced to clients in `Welcome`.
    pub fn announced(&self) -> crate::protocol::Limits {
        crate::protocol::Limits {
            max_body: self.max_body,
            max_rooms: self.max_rooms,
            publish_per_sec: self.publish_per_sec,
            history: self.history,
        }
    }
}

fn default_device_name() -> String {
    "device".to_owned()
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8443))
}

/// What is wrong with a configuration's text or values; displayed as one
/// line naming the key and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Invalid {
    /// TOML syntax, an unknown key or a wrong type: toml's message, on one
    /// line.
    Toml(String),
    /// A key breaks a rule.
    Field {
        /// The key, e.g. `limits.max_rooms`.
        field: String,
        /// The rule it breaks, e.g. `must be at least 1`.
        problem: String,
    },
    /// An `allowed_origins` entry that is not an origin.
    Origin(String),
}

impl Invalid {
    /// From a section's "`key` `rule`" line (`cluster.node must be ...`).
    fn from_rule(line: String) -> Self {
        match line.split_once(' ') {
            Some((field, problem)) => Self::field(field, problem),
            None => Self::field(line, "is not valid"),
        }
    }

    fn field(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Field {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Toml(message) => f.write_str(message),
            Self::Field { field, problem } => write!(f, "{field} {problem}"),
            Self::Origin(bad) => write!(
                f,
                "allowed_origins: {bad:?} is not an origin like \"https://host:port\""
            ),
        }
    }
}

impl std::error::Error for Invalid {}

/// A configuration file that cannot be used; the message names the file
/// and the problem on one line.
#[derive(Debug)]
pub struct ConfigError {
    file: PathBuf,
    problem: Problem,
}

#[derive(Debug)]
enum Problem {
    Read(std::io::Error),
    Invalid(Invalid),
}

impl ConfigError {
    /// The file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// What is wrong with its contents; `None` when it could not be read.
    pub fn invalid(&self) -> Option<&Invalid> {
        match &self.problem {
            Problem::Invalid(invalid) => Some(invalid),
            Problem::Read(_) => None,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            Problem::Read(e) => write!(f, "{}: cannot read: {e}", self.file.display()),
            Problem::Invalid(e) => write!(f, "{}: {e}", self.file.display()),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.problem {
            Problem::Read(e) => Some(e),
            Problem::Invalid(e) => Some(e),
        }
    }
}

impl Config {
    /// A configuration built in code: the four things every server needs,
    /// everything else at its default (what a TOML file with only those
    /// keys gives). Adjust with the `with_` setters or the public fields;
    /// [`Server::new`](crate::server::Server::new) checks the result.
    pub fn new(
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
        public_keys: impl IntoIterator<Item = impl Into<PathBuf>>,
        audience: impl Into<String>,
    ) -> Self {
        Self {
            listen: default_listen(),
            allowed_origins: Vec::new(),
            device_name: default_device_name(),
            tls: TlsConfig {
                cert: cert.into(),
                key: key.into(),
                client_ca: None,
                crl: None,
                require_cert_subject_match: false,
            },
            auth: AuthConfig {
                public_keys: public_keys.into_iter().map(Into::into).collect(),
                audience: audience.into(),
                issuer: None,
                max_token_lifetime_s: None,
            },
            limits: LimitsConfig::default(),
            metrics: None,
            cluster: None,
            storage: None,
            presence: PresenceConfig::default(),
        }
    }

    /// Sets `[storage]` (without it an embedding keeps rooms in memory).
    #[must_use]
    pub fn with_storage(mut self, storage: StorageConfig) -> Self {
        self.storage = Some(storage);
        self
    }

    /// Sets `listen`.
    #[must_use]
    pub fn with_listen(mut self, listen: SocketAddr) -> Self {
        self.listen = listen;
        self
    }

    /// Sets `allowed_origins`.
    #[must_use]
    pub fn with_allowed_origins(mut self, origins: impl IntoIterator<Item = String>) -> Self {
        self.allowed_origins = origins.into_iter().collect();
        self
    }

    /// Sets `device_name`.
    #[must_use]
    pub fn with_device_name(mut self, name: impl Into<String>) -> Self {
        self.device_name = name.into();
        self
    }

    /// Sets `[limits]`.
    #[must_use]
    pub fn with_limits(mut self, limits: LimitsConfig) -> Self {
        self.limits = limits;
        self
    }

    /// Sets `tls.client_ca` (mutual TLS).
    #[must_use]
    pub fn with_client_ca(mut self, ca: impl Into<PathBuf>) -> Self {
        self.tls.client_ca = Some(ca.into());
        self
    }

    /// Sets `auth.issuer`.
    #[must_use]
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.auth.issuer = Some(issuer.into());
        self
    }

    /// Adds `[metrics]` listening on `listen`.
    #[must_use]
    pub fn with_metrics(mut self, listen: SocketAddr) -> Self {
        self.metrics = Some(MetricsConfig { listen });
        self
    }

    /// Reads and checks a TOML file. Relative paths inside it are taken
    /// relative to the file's folder, so a config can move with its keys.
    ///
    /// # Errors
    /// Unreadable file, TOML syntax, unknown keys, wrong types or limits
    /// that break [`LimitsConfig::validate`].
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let error = |problem| ConfigError {
            file: path.to_path_buf(),
            problem,
        };
        let text = std::fs::read_to_string(path).map_err(|e| error(Problem::Read(e)))?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        Self::from_toml(&text, base).map_err(|e| error(Problem::Invalid(e)))
    }

    /// Parses TOML text; relative paths are joined to `base`.
    ///
    /// # Errors
    /// The first problem found.
    pub fn from_toml(text: &str, base: &Path) -> Result<Self, Invalid> {
        let mut config: Config =
            toml::from_str(text).map_err(|e| Invalid::Toml(one_line(&e.to_string())))?;
        config.tls.cert = base.join(&config.tls.cert);
        config.tls.key = base.join(&config.tls.key);
        for path in [&mut config.tls.client_ca, &mut config.tls.crl]
            .into_iter()
            .flatten()
        {
            *path = base.join(&*path);
        }
        for key in &mut config.auth.public_keys {
            *key = base.join(&*key);
        }
        if let Some(cluster) = &mut config.cluster {
            cluster.resolve(base);
        }
        if let Some(storage) = &mut config.storage {
            storage.path = base.join(&storage.path);
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks the parts of a configuration that do not need files.
    ///
    /// # Errors
    /// The key and the rule it breaks.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.auth.public_keys.is_empty() {
            return Err(Invalid::field(
                "auth.public_keys",
                "must list at least one key file",
            ));
        }
        if self.tls.client_ca.is_none() && self.tls.crl.is_some() {
            return Err(Invalid::field("tls.crl", "needs tls.client_ca"));
        }
        if self.tls.client_ca.is_none() && self.tls.require_cert_subject_match {
            return Err(Invalid::field(
                "tls.require_cert_subject_match",
                "needs tls.client_ca",
            ));
        }
        let name = &self.device_name;
        if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
            return Err(Invalid::field(
                "device_name",
                "must be 1 to 64 bytes without control characters",
            ));
        }
        if self.auth.audience.is_empty() {
            return Err(Invalid::field("auth.audience", "must not be empty"));
        }
        if self.auth.max_token_lifetime_s == Some(0) {
            return Err(Invalid::field(
                "auth.max_token_lifetime_s",
                "must be at least 1 (leave it out for no limit)",
            ));
        }
        if let Some(bad) = self
            .allowed_origins
            .iter()
            .find(|o| o.is_empty() || o.ends_with('/') || !o.contains("://"))
        {
            return Err(Invalid::Origin(bad.clone()));
        }
        if let Some(cluster) = &self.cluster {
            cluster.validate().map_err(Invalid::from_rule)?;
        }
        if let Some(storage) = &self.storage {
            storage.validate()?;
        }
        self.presence.patterns()?;
        self.limits.validate()
    }

    /// A config without `[storage]` gets file storage, `palisade.db` next
    /// to `config_file`: what `palisade serve` does (an embedding that
    /// configures nothing keeps memory).
    pub fn storage_or_file(&mut self, config_file: &Path) {
        let dir = config_file.parent().unwrap_or_else(|| Path::new("."));
        self.storage
            .get_or_insert_with(|| StorageConfig::file_in(dir));
    }
}

/// toml's messages span several lines (with a source excerpt); keep the
/// first line and the caret-free detail so errors stay one line.
fn one_line(msg: &str) -> String {
    let mut lines = msg.lines().map(str::trim).filter(|l| !l.is_empty());
    let head = lines.next().unwrap_or("invalid TOML").to_string();
    match lines.next_back() {
        Some(last) if last != head && !last.starts_with('|') && !last.starts_with('^') => {
            format!("{head}: {last}")
        }
        _ => head,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
listen = "127.0.0.1:0"
[tls]
cert = "server.pem"
key = "server.key"
[auth]
public_keys = ["token.public"]
audience = "palisade"
"#;

    #[test]
    fn minimal_config_takes_defaults_and_resolves_paths() {
        let c = Config::from_toml(MINIMAL, Path::new("/etc/palisade")).unwrap();
        assert_eq!(c.tls.cert, Path::new("/etc/palisade/server.pem"));
        assert_eq!(
            c.auth.public_keys[0],
            Path::new("/etc/palisade/token.public")
        );
        assert_eq!(c.limits, LimitsConfig::default());
        assert!(c.allowed_origins.is_empty());
        assert_eq!(c.storage, None, "an embedding configures no storage");
    }

    #[test]
    fn storage_defaults_to_a_file_beside_the_config() {
        let text = format!("{MINIMAL}\n[storage]\n");
        let c = Config::from_toml(&text, Path::new("/etc/palisade")).unwrap();
        assert_eq!(
            c.storage,
            Some(StorageConfig::file_in(Path::new("/etc/palisade")))
        );
        let mut bare = Config::from_toml(MINIMAL, Path::new("/etc/palisade")).unwrap();
        bare.storage_or_file(Path::new("/etc/palisade/palisade.toml"));
        assert_eq!(bare.storage, c.storage);
        let text = format!("{MINIMAL}\n[storage]\nkind = \"memory\"\nsync = false\n");
        let c = Config::from_toml(&text, Path::new(".")).unwrap();
        assert_eq!(
            c.storage.map(|s| (s.kind, s.sync)),
            Some((StorageKind::Memory, false))
        );
    }

    #[test]
    fn storage_keys_are_checked_by_name() {
        let err = |extra: &str| {
            Config::from_toml(&format!("{MINIMAL}\n[storage]\n{extra}\n"), Path::new("."))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("commit_window_ms = 5000"),
            "storage.commit_window_ms must be at most 1000"
        );
        assert_eq!(err("max_rooms = 0"), "storage.max_rooms must be at least 1");
        assert!(
            err("kind = \"disk\"").contains("disk"),
            "{}",
            err("kind = \"disk\"")
        );
        assert!(err("synk = true").contains("synk"));
    }

    #[test]
    fn new_gives_what_the_minimal_file_gives() {
        let base = Path::new("/etc/palisade");
        let parsed = Config::from_toml(MINIMAL, base).unwrap();
        let built = Config::new(
            base.join("server.pem"),
            base.join("server.key"),
            [base.join("token.public")],
            "palisade",
        )
        .with_listen(parsed.listen);
        assert_eq!(format!("{built:?}"), format!("{parsed:?}"));
    }

    #[test]
    fn unknown_key_is_named() {
        let text = format!("{MINIMAL}\n[limits]\nmax_bodyy = 3\n");
        let err = Config::from_toml(&text, Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_bodyy"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn limits_are_checked_against_each_other() {
        let text = format!("{MINIMAL}\n[limits]\nmax_body = 9000\n");
        let err = Config::from_toml(&text, Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("limits.max_message_bytes"), "{err}");
        let text = format!("{MINIMAL}\n[limits]\nmax_rooms = 0\n");
        let err = Config::from_toml(&text, Path::new("."))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "limits.max_rooms must be at least 1");
        let text = format!("{MINIMAL}\n[limits]\nmax_rooms = 70000\n");
        assert!(Config::from_toml(&text, Path::new(".")).is_err());
    }

    #[test]
    fn presence_and_rooms_per_user_are_checked() {
        let err = |extra: &str| {
            Config::from_toml(&format!("{MINIMAL}\n{extra}\n"), Path::new("."))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("[presence]\nevents = [\"team-*\", \"Lobby\"]"),
            "presence.events: \"Lobby\" is not a room pattern (a room name, a prefix ending in *, or *)"
        );
        assert!(err("[presence]\nevent = []").contains("event"));
        assert_eq!(
            err("[limits]\nmax_rooms_per_user = 8"),
            "limits.max_rooms_per_user (8) must be at least max_rooms (16)"
        );
        let c = Config::from_toml(
            &format!("{MINIMAL}\n[presence]\nevents = []\nevents_max_members = 5\n"),
            Path::new("."),
        )
        .unwrap();
        assert_eq!(
            (c.presence.events.len(), c.presence.events_max_members),
            (0, 5)
        );
        assert_eq!(c.limits.max_rooms_per_user, 64);
    }

    #[test]
    fn origins_must_look_like_origins() {
        let text = MINIMAL.replace(
            "listen = \"127.0.0.1:0\"",
            "listen = \"127.0.0.1:0\"\nallowed_origins = [\"https://a.example/\"]",
        );
        let err = Config::from_toml(&text, Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("allowed_origins"), "{err}");
    }
}
