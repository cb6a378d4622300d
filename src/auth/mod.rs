//! Bearer tokens (PROTOCOL.md section 3): PASETO `v4.public`, Ed25519.
//!
//! # Layout
//! - [`keys`]: PASERK keys (the server holds public keys only).
//! - `keyfile.rs`: reading and writing them ([`write_keypair`], …).
//! - [`pattern`]: the `rooms` claim and which rooms it allows.
//! - [`time`]: RFC 3339, parsed strictly and without panics.

mod keyfile;
pub mod keys;
pub mod pattern;
pub mod time;

pub use keyfile::{
    load_public_key_file, load_secret_key_file, write_keypair, KeyFileError, KeyFileProblem,
    PUBLIC_KEY_FILE, SECRET_KEY_FILE,
};
pub use keys::{KeyError, PublicKey, SecretKey};
pub use pattern::{PatternError, RoomPattern, RoomPatterns, MAX_PATTERNS};
