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
}

fn config_text(port: u16) -> String {
    format!(
        r#"# palisade demo configuration (written by `palisade demo`).
listen = "127.0.0.1:{port}"
allowed_origins = ["https://localhost:{port}"]

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
    /// `palisade.toml` could not be written.
    WriteConfig(PathBuf, io::Error),
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
            Self::Config(e) => e.fmt(f),
            Self::Mint(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for DemoError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::CreateDir(_, e) | Self::Pki(e) | Self::WriteConfig(_, e) => Some(e),
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
    std::fs::create_dir_all(dir).map_err(|e| DemoError::CreateDir(dir.to_path_buf(), e))?;
    certgen::write_dev_pki(dir).map_err(DemoError::Pki)?;
    let secret_path = dir.join("token.secret");
    if !secret_path.exists() {
        auth::write_keypair(dir).map_err(DemoError::Key)?;
    }
    let secret = auth::load_secret_key_file(&secret_path).map_err(DemoError::Key)?;
    let config_path = dir.join("palisade.toml");
    // The port may change between runs; the config is always rewritten.
    std::fs::write(&config_path, config_text(port))
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
    })
}

impl Demo {
    /// What to print for the newcomer.
    pub fn instructions(&self) -> String {
        let port = self.config.listen.port();
        let ca = self.dir.join("ca.pem");
        let mut s = String::new();
        let _ = writeln!(s, "palisade demo: listening on wss://localhost:{port}/ws");
        let _ = writeln!(
            s,
            "  folder: {} (CA, certificate, keys, config)",
            self.dir.display()
        );
        let _ = writeln!(s, "  admin token (admin, 8 h):\n    {}", self.admin_token);
        let _ = writeln!(s, "  member token (alice, 8 h):\n    {}", self.member_token);
        let _ = writeln!(
            s,
            "Open the browser page (trust {} first, or accept the warning):",
            ca.display()
        );
        let _ = writeln!(s, "  https://localhost:{port}/#token={}", self.member_token);
        let _ = writeln!(s, "Connect a terminal client in another shell:");
        let _ = writeln!(
            s,
            "  cargo run --example chat -- --url wss://localhost:{port}/ws --ca {} --token {} --room lobby",
            ca.display(),
            self.member_token
        );
        let _ = writeln!(
            s,
            "Check health:  curl --cacert {} https://localhost:{port}/healthz",
            ca.display()
        );
        let _ = write!(s, "Stop with Ctrl-C.");
        s
    }
}
