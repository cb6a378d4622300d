//! Bearer tokens (PROTOCOL.md section 3): PASETO `v4.public`, Ed25519.
//!
//! # Layout
//! - [`pattern`]: the `rooms` claim and which rooms it allows.
//! - [`time`]: RFC 3339, parsed strictly and without panics.

pub mod pattern;
pub mod time;

pub use pattern::{PatternError, RoomPattern, RoomPatterns, MAX_PATTERNS};
