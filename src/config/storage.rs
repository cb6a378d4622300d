//! `[storage]`: where rooms keep their seq, history and keys.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Invalid;

/// Which storage holds the rooms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum StorageKind {
    /// A redb file: acked messages survive restarts and crashes.
    File,
    /// This process's memory: lost on restart (seqs still never repeat).
    Memory,
}

/// `[storage]`. Absent from a [`Config`](super::Config) an embedding
/// builds: memory. `palisade serve` fills in a file next to its config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct StorageConfig {
    /// `"file"` (default) or `"memory"`.
    #[serde(default = "default_kind")]
    pub kind: StorageKind,
    /// The file, relative to the config file. Default `palisade.db`.
    #[serde(default = "default_path")]
    pub path: PathBuf,
    /// fsync each commit, so an acked message survives power loss; false
    /// survives the process being killed, not the machine losing power.
    /// Default true.
    #[serde(default = "default_sync")]
    pub sync: bool,
    /// Milliseconds the storage thread gathers publishes before a commit,
    /// trading Ack latency for fewer writes. Default 0: a commit takes
    /// whatever arrived while the previous one ran.
    #[serde(default)]
    pub commit_window_ms: u16,
    /// Rooms the file keeps (each with `limits.history` messages); past it
    /// the room published to longest ago is dropped (its last seq stays as
    /// a floor). Bounds the file's size. Default 1024.
    #[serde(default = "default_max_rooms")]
    pub max_rooms: u32,
}

/// The longest `commit_window_ms`.
pub const MAX_COMMIT_WINDOW_MS: u16 = 1000;

fn default_kind() -> StorageKind {
    StorageKind::File
}

fn default_path() -> PathBuf {
    PathBuf::from("palisade.db")
}

fn default_sync() -> bool {
    true
}

fn default_max_rooms() -> u32 {
    1024
}

impl StorageConfig {
    /// The file storage `palisade serve` uses when `[storage]` is absent:
    /// `palisade.db` in `dir` (the config file's folder).
    pub fn file_in(dir: &Path) -> Self {
        Self {
            kind: StorageKind::File,
            path: dir.join(default_path()),
            sync: default_sync(),
            commit_window_ms: 0,
            max_rooms: default_max_rooms(),
        }
    }

    /// Memory storage: rooms live in this process only.
    pub fn memory() -> Self {
        Self {
            kind: StorageKind::Memory,
            ..Self::file_in(Path::new("."))
        }
    }

    /// Checks the keys.
    ///
    /// # Errors
    /// The key and the rule it breaks.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.kind == StorageKind::File {
            if !cfg!(feature = "storage") {
                return Err(Invalid::field(
                    "storage.kind",
                    "= \"file\" needs palisade built with the `storage` feature",
                ));
            }
            if self.path.as_os_str().is_empty() {
                return Err(Invalid::field("storage.path", "must name a file"));
            }
        }
        if self.commit_window_ms > MAX_COMMIT_WINDOW_MS {
            return Err(Invalid::field(
                "storage.commit_window_ms",
                format!("must be at most {MAX_COMMIT_WINDOW_MS}"),
            ));
        }
        if self.max_rooms == 0 {
            return Err(Invalid::field("storage.max_rooms", "must be at least 1"));
        }
        Ok(())
    }
}
