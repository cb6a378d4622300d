//! Why a server could not start or reload.

use std::fmt;

use crate::config::ConfigError;

use super::memory::MemoryBound;
use crate::{auth, tls};

/// Why a server could not be built from its configuration. The message is
/// one line naming the file and the problem.
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration itself breaks a rule.
    Config(crate::config::Invalid),
    /// The certificate or key cannot be used.
    Tls(tls::TlsError),
    /// A token public key file cannot be used.
    Key(auth::KeyFileError),
    /// The storage file cannot be used (one line naming it).
    Storage(String),
    /// The computed worst-case memory exceeds `limits.memory_budget_mb`.
    OverBudget {
        /// The computed bound.
        bound: MemoryBound,
        /// The budget, in MiB.
        budget_mb: u32,
    },
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(e) => write!(f, "config: {e}"),
            Self::Tls(e) => e.fmt(f),
            Self::Key(e) => e.fmt(f),
            Self::Storage(e) => f.write_str(e),
            Self::OverBudget { bound, budget_mb } => write!(
                f,
                "limits: {bound}, over memory_budget_mb = {budget_mb}; lower max_connections, outbound_queue, history or max_body"
            ),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Config(e) => Some(e),
            Self::Tls(e) => Some(e),
            Self::Key(e) => Some(e),
            Self::Storage(_) | Self::OverBudget { .. } => None,
        }
    }
}

/// Why [`Server::reload_file`](super::Server::reload_file) kept the old
/// material.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReloadError {
    /// The file did not load as a configuration.
    Config(ConfigError),
    /// The configuration loaded, but a file it names cannot be used.
    Start(StartError),
}

impl fmt::Display for ReloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(e) => e.fmt(f),
            Self::Start(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ReloadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Config(e) => Some(e),
            Self::Start(e) => Some(e),
        }
    }
}
