//! Helpers for the tests that run the `palisade` binary itself.

use std::path::{Path, PathBuf};
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

/// The error line of a run that must have been refused: exit status 2
/// (the CLI's "bad input"), with stderr shown when it was not.
pub fn refused(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    error_line(out)
}

/// `palisade keygen --out dir`, which must succeed.
pub fn keygen(dir: &Path) {
    let out = bin().args(["keygen", "--out"]).arg(dir).output().unwrap();
    assert!(out.status.success(), "keygen: {}", text(&out.stderr));
}
