//! The wire protocol (PROTOCOL.md section 4), without any I/O.
//!
//! This module is the no_std core: frame types, their validation and the
//! postcard codec. It needs only `alloc`, so a microcontroller, the fuzz
//! targets and the browser page's test vectors all use the same code.
//!
//! - [`RoomName`] is checked while decoding: holding one means it is valid;
//!   so are the presence frames' [`UserName`] and [`UserList`].
//! - [`decode_client`] turns one WebSocket message into one [`ClientFrame`]
//!   or a [`DecodeError`] (close 1007).
//! - [`Body::validate`] checks the rules that need the server's limits.

// The no_std core names `core` and `alloc`, never `std`, so it keeps
// building without the standard library.
#![warn(
    clippy::alloc_instead_of_core,
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc
)]
// Peer-controlled bytes pass through here: no panicking shortcuts.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)
)]

mod bytes;
pub mod close;
mod codec;
#[doc(hidden)]
pub mod examples;
mod frame;
mod name;
mod room;
mod user;

pub use close::Close;
pub use codec::{
    client_to_vec, decode_client, decode_server, encode_client, encode_server, server_to_vec,
    DecodeError,
};
pub use frame::{Body, BodyError, ClientFrame, ErrorCode, Limits, Role, ServerFrame};
pub use room::{RoomName, RoomNameError, MAX_ROOM_LEN};
pub use user::{UserList, UserName, UserNameError, MAX_LISTED_USERS, MAX_USER_LEN};

/// The WebSocket subprotocol a client must offer and the server answers.
pub const SUBPROTOCOL: &str = "palisade.v1";

/// The prefix of the `Sec-WebSocket-Protocol` entry that carries a token.
pub const BEARER_PREFIX: &str = "bearer.";

/// The most rooms one session can be in; a server's `limits.max_rooms` is
/// at most this.
pub const MAX_ROOMS_PER_SESSION: usize = 64;
