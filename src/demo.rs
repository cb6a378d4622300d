//! `palisade demo`: everything a newcomer needs in one folder, made once
//! and reused: a development CA and localhost certificate, token keys, a
//! config, and fresh tokens to connect with.

use std::fmt::{self, Write as _};
use std::io;
use std::path::{Path, PathBuf};

use crate::auth::{self, TokenRequest};
use crate::certgen;
use crate::config::Config;
use crate::protocol::Role;

/// The audience demo tokens carry (and the CLI's default `--aud`).
pub const AUDIENCE: &str = "palisade";

/// How long demo tokens live, in seconds.
const DEMO_TTL: u64 = 8 * 3600;

/// A prepared demo: its config and the tokens to show.
#[derive(Debug)]
pub struct Demo {
    /// The server configuration written to `palisade.toml`.
    pub config: Config,
    /// The folder holding everything.
    pub dir: PathBuf,
    /// A token for `admin` (role admin, every room).
    pub admin_token: String,
    /// A token for `alice` (role member, every room).
    pub member_token: String,
    /// The host name the instructions use (`localhost` or `--host`).
    pub name: String,
}

/// Where the demo is reached: `localhost` only, or also as `host` from
/// other machines (`palisade demo --host NAME_OR_IP`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reach {
    /// The port to listen on.
    pub port: u16,
    /// A DNS name or IP address other machines use; `None` listens on
    /// 127.0.0.1 only.
    pub host: Option<String>,
}

impl Reach {
    /// Only this machine, on `port`.
    pub fn local(port: u16) -> Self {
        Self { port, host: None }
    }

    /// The name the instructions use in URLs (an IPv6 address in brackets).
    fn name(&self) -> String {
        match self.host.as_deref() {
            None => "localhost".to_owned(),
            Some(h) if h.contains(':') => format!("[{h}]"),
            Some(h) => h.to_owned(),
        }
    }

    /// The names the certificate must carry.
    fn subject_alt_names(&self) -> Vec<String> {
        let mut names = certgen::LeafOptions::default().subject_alt_names;
        if let Some(host) = self.host.as_ref().filter(|h| !names.contains(h)) {
            names.push(host.clone());
        }
        names
    }
}

/// The demo's ban: gentler than the default (10 failures, 300 s), so a
/// newcomer trying out bad tokens is locked out for a minute, not five.
pub const DEMO_BAN_SECONDS: u32 = 60;

fn config_text(reach: &Reach) -> String {
    let port = reach.port;
    let (listen, origins) = match &reach.host {
        None => (
            format!("127.0.0.1:{port}"),
            format!("\"https://localhost:{port}\""),
        ),
        // Every interface, since other machines connect; the page's
        // origin is either name. IPv6 literals go in brackets.
        Some(host) => {
            let host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host.clone()
            };
            (
                format!("0.0.0.0:{port}"),
                format!("\"https://localhost:{port}\", \"https://{host}:{port}\""),
            )
        }
    };
    format!(
        r#"# palisade demo configuration (written by `palisade demo`).
listen = "{listen}"
allowed_origins = [{origins}]

# Gentler than the default ban (300 s), for trying things out.
[limits]
ban_seconds = {DEMO_BAN_SECONDS}

[tls]
cert = "server.pem"
key = "server.key"

[auth]
public_keys = ["token.public"]
audience = "{AUDIENCE}"
"#
    )
}

/// Why the demo folder could not be prepared; displayed as one line naming
/// the file and the problem.
#[derive(Debug)]
#[non_exhaustive]
pub enum DemoError {
    /// The folder could not be created.
    CreateDir(PathBuf, io::Error),
    /// The development certificates could not be written.
    Pki(io::Error),
    /// The token keys could not be written or read.
    Key(auth::KeyFileError),
    /// A file (`palisade.toml`, the certificate names) could not be written.
    WriteConfig(PathBuf, io::Error),
    /// An old certificate could not be removed to make one for a new host.
    Replace(PathBuf, io::Error),
    /// No certificate could be made for the `--host` named.
    Certificate(String, rcgen::Error),
    /// `palisade.toml` did not load.
    Config(crate::config::ConfigError),
    /// A demo token could not be minted.
    Mint(auth::MintError),
}

impl fmt::Display for DemoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CreateDir(dir, e) => write!(f, "{}: cannot create: {e}", dir.display()),
            Self::Pki(e) => e.fmt(f),
            Self::Key(e) => e.fmt(f),
            Self::WriteConfig(file, e) => write!(f, "{}: cannot write: {e}", file.display()),
            Self::Replace(file, e) => write!(f, "{}: cannot replace: {e}", file.display()),
            Self::Certificate(host, e) => write!(f, "--host {host}: {e}"),
            Self::Config(e) => e.fmt(f),
            Self::Mint(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for DemoError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::CreateDir(_, e)
            | Self::Pki(e)
            | Self::WriteConfig(_, e)
            | Self::Replace(_, e) => Some(e),
            Self::Certificate(_, e) => Some(e),
            Self::Key(e) => Some(e),
            Self::Config(e) => Some(e),
            Self::Mint(e) => Some(e),
        }
    }
}

/// Creates (or reuses) the demo folder and mints tokens.
///
/// # Errors
/// [`DemoError`] naming the file that could not be written or read.
pub fn prepare(dir: &Path, port: u16) -> Result<Demo, DemoError> {
    prepare_for(dir, &Reach::local(port))
}

/// The file recording the names the demo certificate was made for.
const NAMES_FILE: &str = "certificate-names.txt";

/// Like [`prepare`], for a demo reached as `reach` says. The certificate
/// is made again (with a new CA) when it does not name the host asked for.
///
/// # Errors
/// As [`prepare`].
pub fn prepare_for(dir: &Path, reach: &Reach) -> Result<Demo, DemoError> {
    std::fs::create_dir_all(dir).map_err(|e| DemoError::CreateDir(dir.to_path_buf(), e))?;
    let names = reach.subject_alt_names().join("\n");
    let names_path = dir.join(NAMES_FILE);
    let paths = certgen::DevPkiPaths::in_dir(dir);
    let recorded = std::fs::read_to_string(&names_path).ok();
    let default_names = Reach::local(0).subject_alt_names().join("\n");
    if recorded.as_deref().unwrap_or(&default_names) != names && paths.cert.exists() {
        for file in [&paths.ca_cert, &paths.cert, &paths.key] {
            std::fs::remove_file(file).map_err(|e| DemoError::Replace(file.clone(), e))?;
        }
    }
    if !paths.cert.exists() {
        let leaf = certgen::LeafOptions {
            subject_alt_names: reach.subject_alt_names(),
            ..certgen::LeafOptions::default()
        };
        certgen::DevPki::generate_with(&leaf)
            .map_err(|e| DemoError::Certificate(reach.name(), e))?
            .write_to(dir)
            .map_err(DemoError::Pki)?;
    } else {
        certgen::write_dev_pki(dir).map_err(DemoError::Pki)?;
    }
    std::fs::write(&names_path, &names)
        .map_err(|e| DemoError::WriteConfig(names_path.clone(), e))?;
    let secret_path = dir.join("token.secret");
    if !secret_path.exists() {
        auth::write_keypair(dir).map_err(DemoError::Key)?;
    }
    let secret = auth::load_secret_key_file(&secret_path).map_err(DemoError::Key)?;
    let config_path = dir.join("palisade.toml");
    // The port may change between runs; the config is always rewritten.
    std::fs::write(&config_path, config_text(reach))
        .map_err(|e| DemoError::WriteConfig(config_path.clone(), e))?;
    let config = Config::from_file(&config_path).map_err(DemoError::Config)?;
    let now = crate::clock::unix_now();
    let mint = |sub: &str, role: Role| {
        let request = TokenRequest::new(sub, role, ["*"], DEMO_TTL, AUDIENCE);
        auth::mint(&secret, &request, now).map_err(DemoError::Mint)
    };
    Ok(Demo {
        admin_token: mint("admin", Role::Admin)?,
        member_token: mint("alice", Role::Member)?,
        config,
        dir: dir.to_path_buf(),
        name: reach.name(),
    })
}

impl Demo {
    /// What to print for the newcomer, once the server listens on `port`.
    pub fn instructions(&self) -> String {
        let port = self.config.listen.port();
        let name = &self.name;
        let ca = self.dir.join("ca.pem");
        let mut s = String::new();
        let _ = writeln!(
            s,
            "palisade demo: listening on wss://{name}:{port}/ws ({})",
            self.config.listen
        );
        let _ = writeln!(
            s,
            "  folder: {} (CA, certificate, keys, config)",
            self.dir.display()
        );
        let _ = writeln!(s, "  admin token (admin, 8 h):\n    {}", self.admin_token);
        let _ = writeln!(s, "  member token (alice, 8 h):\n    {}", self.member_token);
        let _ = writeln!(
            s,
            "Install the CA {} in the browser (or system) of every machine that connects,",
            ca.display()
        );
        let _ = writeln!(s, "or accept the browser's warning. Then open:");
        let _ = writeln!(s, "  https://{name}:{port}/#token={}", self.member_token);
        let _ = writeln!(s, "Connect a terminal client in another shell:");
        let _ = writeln!(
            s,
            "  cargo run --example chat -- --url wss://{name}:{port}/ws --ca {} --token {} --room lobby",
            ca.display(),
            self.member_token
        );
        let _ = writeln!(
            s,
            "Check health:  curl --cacert {} https://{name}:{port}/healthz",
            ca.display()
        );
        let _ = write!(s, "Stop with Ctrl-C.");
        s
    }
}

/// `palisade demo --cluster`: the demo's two nodes sharing rooms through
/// the local Redis at `redis_url`, the second on the next port.
#[cfg(feature = "cluster")]
pub fn cluster_nodes(demo: &Demo, redis_url: &str) -> [Config; 2] {
    let node = |name: &str, port_offset: u16| {
        let mut config = demo.config.clone();
        config
            .listen
            .set_port(demo.config.listen.port() + port_offset);
        config.allowed_origins = (0..2)
            .map(|i| format!("https://{}:{}", demo.name, demo.config.listen.port() + i))
            .collect();
        config.cluster = Some(crate::cluster::config::ClusterConfig {
            redis: redis_url.to_owned(),
            node: name.to_owned(),
            prefix: "palisade-demo".to_owned(),
            password_file: None,
        });
        config
    };
    [node("demo-a", 0), node("demo-b", 1)]
}

#[cfg(feature = "cluster")]
impl Demo {
    /// What `palisade demo --cluster` prints: the usual instructions, and
    /// how to watch a message cross from one node to the other.
    pub fn cluster_instructions(&self, redis_url: &str) -> String {
        let (a, b) = (self.config.listen.port(), self.config.listen.port() + 1);
        let ca = self.dir.join("ca.pem");
        format!(
            "{}\n\npalisade demo --cluster: a second node on wss://{name}:{b}/ws, \
             both sharing rooms through redis-server at {redis_url}.\n\
             Open https://{name}:{a}/#token={t} and https://{name}:{b}/#token={t} side by side,\n\
             join the same room in both and publish: each message crosses nodes with one seq order.\n\
             Or two terminal clients:\n  \
             cargo run --example chat -- --url wss://{name}:{a}/ws --ca {ca} --token {t} --room lobby\n  \
             cargo run --example chat -- --url wss://{name}:{b}/ws --ca {ca} --token {t} --room lobby",
            self.instructions(),
            name = self.name,
            t = self.member_token,
            ca = ca.display(),
        )
    }
}
