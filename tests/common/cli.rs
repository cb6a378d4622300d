//! Helpers for the tests that run the `palisade` binary itself.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The `palisade` binary Cargo built for these tests.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
}

/// A fresh, empty `palisade-<kind>-<pid>-<name>` in the temporary directory.
pub fn temp(kind: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("palisade-{kind}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Output bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The last line of stderr (env_logger may print before it).
pub fn error_line(out: &Output) -> String {
    text(&out.stderr)
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned()
}
