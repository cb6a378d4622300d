//! Why a server could not start or reload.

use std::fmt;

use super::memory::MemoryBound;
use crate::{auth, tls};

/// Why a server could not be built from its configuration. The message is
/// one line naming the file and the problem.
#[derive(Debug)]
pub enum StartError {
    /// The configuration itself breaks a rule.
    Config(String),
    /// The certificate or key cannot be used.
    Tls(tls::TlsError),
    /// A token public key file cannot be used.
    Key(auth::KeyFileError),
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
            Self::OverBudget { bound, budget_mb } => write!(
                f,
                "limits: {bound}, over memory_budget_mb = {budget_mb}; lower max_connections, outbound_queue, history or max_body"
            ),
        }
    }
}

impl std::error::Error for StartError {}
