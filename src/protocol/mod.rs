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

// Peer-controlled bytes pass through here: no panicking shortcuts.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)
)]

mod bytes;
mod codec;
#[doc(hidden)]
pub mod examples;
mod frame;
mod name;
mod room;
mod user;

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

/// WebSocket close codes (PROTOCOL.md section 5).
pub mod close {
    /// Normal close.
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down.
    pub const GOING_AWAY: u16 = 1001;
    /// A text message was received.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// A binary message that is not exactly one valid frame.
    pub const INVALID_FRAME: u16 = 1007;
    /// Repeated policy violations.
    pub const POLICY: u16 = 1008;
    /// A message larger than the server's maximum.
    pub const TOO_BIG: u16 = 1009;
    /// Internal error.
    pub const INTERNAL: u16 = 1011;
    /// The token expired and was not renewed.
    pub const TOKEN_EXPIRED: u16 = 4001;
    /// Removed by an administrator or banned.
    pub const REMOVED: u16 = 4003;
    /// Too slow: the outbound queue stayed full.
    pub const TOO_SLOW: u16 = 4009;
    /// Idle timeout.
    pub const IDLE: u16 = 4010;
}
