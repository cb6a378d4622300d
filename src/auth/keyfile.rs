//! Key files: one PASERK string per file, as the CLI writes them and the
//! server and CLI read them.
//!
//! Errors name the file and the problem on one line
//! (`keys/token.public: not a k4.public PASERK key`) and never the contents.

use core::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use zeroize::Zeroize;

use super::keys::{KeyError, PublicKey, SecretKey};

/// The file [`write_keypair`] puts the secret key in.
pub const SECRET_KEY_FILE: &str = "token.secret";
/// The file [`write_keypair`] puts the public key in.
pub const PUBLIC_KEY_FILE: &str = "token.public";

/// A key file is one short line; anything much longer is not a key, and
/// reading a mistyped path to a large file should not fill memory.
const MAX_KEY_FILE_BYTES: usize = 1024;

/// What went wrong with a key file.
#[derive(Debug)]
#[non_exhaustive]
pub enum KeyFileProblem {
    /// The file could not be read.
    Read(io::Error),
    /// The directory or the file could not be created or written.
    Write(io::Error),
    /// The file already exists; keys are never overwritten.
    Exists,
    /// The file is larger than any key file.
    TooLarge,
    /// The contents are not the expected key.
    Key(KeyError),
}

impl fmt::Display for KeyFileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read(e) => write!(f, "cannot read: {e}"),
            Self::Write(e) => write!(f, "cannot write: {e}"),
            Self::Exists => f.write_str("already exists; refusing to overwrite a key"),
            Self::TooLarge => write!(f, "larger than {MAX_KEY_FILE_BYTES} bytes, not a key file"),
            Self::Key(e) => fmt::Display::fmt(e, f),
        }
    }
}

/// A key file problem, naming the file: `keys/token.public: not a
/// k4.public PASERK key`.
#[derive(Debug)]
pub struct KeyFileError {
    path: PathBuf,
    problem: KeyFileProblem,
}

impl KeyFileError {
    fn new(path: &Path, problem: KeyFileProblem) -> Self {
        Self {
            path: path.to_path_buf(),
            problem,
        }
    }

    /// The file concerned.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What went wrong.
    pub fn problem(&self) -> &KeyFileProblem {
        &self.problem
    }
}

impl fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.problem)
    }
}

impl std::error::Error for KeyFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.problem {
            KeyFileProblem::Read(e) | KeyFileProblem::Write(e) => Some(e),
            KeyFileProblem::Key(e) => Some(e),
            KeyFileProblem::Exists | KeyFileProblem::TooLarge => None,
        }
    }
}

/// Reads a file holding one PASERK string, surrounding whitespace trimmed.
fn read_key_file(path: &Path) -> Result<String, KeyFileError> {
    let err = |p| KeyFileError::new(path, p);
    let file = File::open(path).map_err(|e| err(KeyFileProblem::Read(e)))?;
    // Room for the whole file up front, so reading never reallocates and
    // leaves a copy of a secret key behind in freed memory.
    let mut text = String::with_capacity(MAX_KEY_FILE_BYTES + 1);
    file.take(MAX_KEY_FILE_BYTES as u64 + 1)
        .read_to_string(&mut text)
        .map_err(|e| err(KeyFileProblem::Read(e)))?;
    if text.len() > MAX_KEY_FILE_BYTES {
        return Err(err(KeyFileProblem::TooLarge));
    }
    Ok(text)
}

/// Loads a public key from a file holding its `k4.public.…` PASERK.
///
/// # Errors
/// [`KeyFileError`] naming the file if it cannot be read or is not a key.
pub fn load_public_key_file(path: &Path) -> Result<PublicKey, KeyFileError> {
    let text = read_key_file(path)?;
    PublicKey::from_paserk(text.trim()).map_err(|e| KeyFileError::new(path, KeyFileProblem::Key(e)))
}

/// Loads a secret key from a file holding its `k4.secret.…` PASERK, and
/// warns if others may read the file.
///
/// # Errors
/// [`KeyFileError`] naming the file if it cannot be read or is not a key.
pub fn load_secret_key_file(path: &Path) -> Result<SecretKey, KeyFileError> {
    let mut text = read_key_file(path)?;
    let key = SecretKey::from_paserk(text.trim())
        .map_err(|e| KeyFileError::new(path, KeyFileProblem::Key(e)));
    // Wipe our copy of the secret (pasetors zeroes its own).
    text.zeroize();
    let key = key?;
    warn_if_shared(path);
    Ok(key)
}

#[cfg(unix)]
fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            log::warn!(
                "{}: secret key file is readable by group or others; chmod 600 it",
                path.display()
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_path: &Path) {}

/// Generates a key pair and writes `token.secret` (mode 0600) and
/// `token.public` into `dir`, creating `dir` if needed. Returns the paths
/// (secret, public).
///
/// Neither file is ever overwritten: replacing a secret key by accident
/// would lock out every token minted with it.
///
/// # Errors
/// [`KeyFileError`] naming the file that exists or could not be written.
pub fn write_keypair(dir: &Path) -> Result<(PathBuf, PathBuf), KeyFileError> {
    fs::create_dir_all(dir).map_err(|e| KeyFileError::new(dir, KeyFileProblem::Write(e)))?;
    let secret_path = dir.join(SECRET_KEY_FILE);
    let public_path = dir.join(PUBLIC_KEY_FILE);
    // Check the public file first so a refusal leaves nothing behind.
    if public_path.exists() {
        return Err(KeyFileError::new(&public_path, KeyFileProblem::Exists));
    }
    let key = SecretKey::generate()
        .map_err(|e| KeyFileError::new(&secret_path, KeyFileProblem::Key(e)))?;

    let mut secret_text = key.to_paserk();
    let wrote = write_new(&secret_path, &secret_text, 0o600);
    // Wipe our copy of the secret (pasetors zeroes its own).
    secret_text.zeroize();
    wrote?;

    let public_text = key.public_key().to_paserk();
    if let Err(e) = write_new(&public_path, &public_text, 0o644) {
        // We created the secret file a moment ago; without its public half
        // it is useless, so do not leave it for the next attempt to trip on.
        let _ = fs::remove_file(&secret_path);
        return Err(e);
    }
    Ok((secret_path, public_path))
}

/// Creates `path` (refusing if it exists) with `mode` and writes `text` and
/// a newline.
fn write_new(path: &Path, text: &str, mode: u32) -> Result<(), KeyFileError> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = opts.open(path).map_err(|e| {
        let problem = if e.kind() == io::ErrorKind::AlreadyExists {
            KeyFileProblem::Exists
        } else {
            KeyFileProblem::Write(e)
        };
        KeyFileError::new(path, problem)
    })?;
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all());
    if let Err(e) = written {
        // We created it; a half-written key file would only fail later.
        drop(file);
        let _ = fs::remove_file(path);
        return Err(KeyFileError::new(path, KeyFileProblem::Write(e)));
    }
    Ok(())
}

#[cfg(test)]
#[path = "keyfile_tests.rs"]
mod tests;
