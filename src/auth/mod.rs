//! Bearer tokens (PROTOCOL.md section 3): PASETO `v4.public`, Ed25519.
//!
//! # Layout
//! - [`keys`]: PASERK keys (the server holds public keys only).
//! - `keyfile.rs`: reading and writing them ([`write_keypair`], …).
//! - [`Verifier`] (in `verify.rs`): token string to [`Identity`], or a
//!   [`TokenError`] whose [`reason`](TokenError::reason) goes into the log
//!   and the 401 body.
//! - `claims.rs`: the claim rules, checked by hand so each has its own reason.
//! - [`pattern`]: the `rooms` claim and which rooms it allows.
//! - [`time`]: RFC 3339, parsed strictly and without panics.
//! - [`mint()`]: the minting side, for the CLI and tests.
//!
//! We use pasetors for the PASETO and PASERK encodings and the signature,
//! but not its `std` claims layer: that one pulls in regex and demands
//! claims (`iat`, `nbf`) that other libraries' tokens may lack.

// Peer-controlled bytes pass through here: no panicking shortcuts.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)
)]

mod claims;
mod keyfile;
pub mod keys;
mod mint;
pub mod pattern;
pub mod time;
mod verify;

pub use claims::{Identity, MAX_IAT_SKEW_SECS, MAX_SUB_LEN};
pub use keyfile::{
    load_public_key_file, load_secret_key_file, write_keypair, KeyFileError, KeyFileProblem,
    PUBLIC_KEY_FILE, SECRET_KEY_FILE,
};
pub use keys::{KeyError, PublicKey, SecretKey};
pub use mint::{mint, MintError, TokenRequest};
pub use pattern::{PatternError, RoomPattern, RoomPatterns, MAX_PATTERNS};
pub use verify::{TokenError, Verifier, MAX_TOKEN_LEN};
