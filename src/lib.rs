//! palisade: a small, secure WebSocket messaging server.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

extern crate alloc;

#[cfg(feature = "server")]
pub mod auth;
pub mod protocol;
