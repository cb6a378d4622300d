//! palisade: a small, secure WebSocket messaging server.
//!
//! Clients join rooms and exchange messages over WSS; every connection is
//! authenticated with a PASETO v4.public token, every frame is a compact
//! postcard message checked against the sender's rights, and every resource
//! a peer can consume is bounded by configuration.
//!
//! # Layout
//! The modules follow the data path:
//!
//! - [`protocol`]: frame types and the postcard codec; pure, `no_std`.
//! - [`tls`]: certificates and keys into rustls configs (ring provider).
//! - [`http`]: the request head parser (hard caps) and HTTP answers.
//! - [`handshake`]: routing and the upgrade checks of PROTOCOL.md §2.
//! - [`auth`]: PASETO keys, token verification into an [`auth::Identity`].
//! - [`server`]: the accept loop, sessions, rooms and fan-out.
//! - [`client`]: a Rust client, used by the examples and the tests.
//! - [`seal`]: end-to-end sealed bodies (room keys from passphrases).
//! - [`config`]: the TOML configuration and every limit's default.
//! - [`metrics`]: counters for operators, Prometheus text.
//!
//! Without the default `server` feature only [`protocol`] is built, with
//! `alloc` and no `std`, for devices that speak the protocol themselves.
//! The default `cli` feature adds the binary's tooling (`certgen`, the
//! development PKI; `demo`); an embedder leaves it out. `fuzzing` exposes
//! the fuzz hooks to fuzz/ and the corpus test.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]
// The library's API is what `pub` reaches from the crate root; anything
// else is `pub(crate)`, so a reader can tell the two apart (the binary,
// tests and examples are exempt: their `pub` reaches nothing).
#![warn(unreachable_pub)]

extern crate alloc;

pub mod protocol;

#[cfg(feature = "server")]
pub mod auth;
#[cfg(feature = "cli")]
pub mod certgen;
#[cfg(feature = "server")]
pub mod client;
#[cfg(feature = "server")]
pub mod clock;
#[cfg(feature = "server")]
pub mod config;
#[cfg(feature = "cli")]
pub mod demo;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
#[cfg(feature = "server")]
pub mod handshake;
#[cfg(feature = "server")]
pub mod http;
#[cfg(feature = "server")]
pub mod metrics;
#[cfg(feature = "server")]
mod quoted;
#[cfg(feature = "server")]
pub mod seal;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "server")]
pub mod startup;
#[cfg(feature = "server")]
pub mod tls;
#[cfg(feature = "server")]
pub mod web;
