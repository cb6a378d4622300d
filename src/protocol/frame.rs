//! The frames of PROTOCOL.md section 4, as Rust types.
//!
//! Variant order is the wire contract: postcard encodes the variant index,
//! so a new variant may only ever be appended at the end.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

use super::{RoomName, UserList, UserName};

/// A frame sent by a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum ClientFrame {
    /// Variant 0: Join a room; with `since: Some(n)` the server replays retained
    /// messages with `seq > n` right after `Joined`.
    Join {
        /// The room to join.
        room: RoomName,
        /// Replay retained messages after this seq.
        since: Option<u64>,
    },
    /// Variant 1: Leave a room.
    Leave {
        /// The room to leave.
        room: RoomName,
    },
    /// Variant 2: Publish into a joined room.
    Publish {
        /// The client's correlation number, echoed in `Ack` or `Error`.
        id: u32,
        /// The room to publish into.
        room: RoomName,
        /// What to publish.
        body: Body,
    },
    /// Variant 3: Admins only: remove a retained message.
    Delete {
        /// The client's correlation number, echoed in `Error`.
        id: u32,
        /// The room holding the message.
        room: RoomName,
        /// The message's sequence number.
        seq: u64,
    },
    /// Variant 4: Replace the session's token before it expires.
    Reauth {
        /// The new PASETO token.
        token: String,
    },
    /// Variant 5: Ask who is in a joined room; answered with `Members`
    /// (`NotJoined` when the session is not in the room).
    Presence {
        /// The room.
        room: RoomName,
    },
    /// Variant 6: Publish at most once per `key`: within one room and one
    /// `sub`, a key the server already accepted is answered with `Ack` and
    /// the first publish's seq, and nothing is published again (section 4).
    PublishOnce {
        /// The client's correlation number, echoed in `Ack` or `Error`.
        id: u32,
        /// The idempotency key, chosen by the client; it wins over the body.
        key: u64,
        /// The room to publish into.
        room: RoomName,
        /// What to publish.
        body: Body,
    },
}

/// A message body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Body {
    /// Variant 0: UTF-8 text of 1 or more bytes; no control characters but `\n`, `\t`.
    Text(String),
    /// Variant 1: An end-to-end sealed payload (PROTOCOL.md section 6), opaque here.
    Sealed(#[serde(with = "super::bytes")] Vec<u8>),
}

/// Why a body breaks the rules that need context ([`Body::validate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyError {
    /// The body has no bytes.
    Empty,
    /// The body is larger than the server's `max_body`.
    TooLarge {
        /// The body's size in bytes.
        size: usize,
        /// The largest allowed.
        max: usize,
    },
    /// Text with a control character other than `\n` and `\t`.
    ControlCharacter,
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("body is empty"),
            Self::TooLarge { size, max } => {
                write!(f, "body is {size} bytes, at most {max} allowed")
            }
            Self::ControlCharacter => f.write_str("text contains a control character"),
        }
    }
}

impl Body {
    /// The body's size in bytes, as counted against `limits.max_body`.
    pub fn len(&self) -> usize {
        match self {
            Self::Text(t) => t.len(),
            Self::Sealed(b) => b.len(),
        }
    }

    /// Whether the body has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks the rules a body must meet to be published.
    ///
    /// # Errors
    /// Empty bodies, bodies over `max_body` bytes and text with control
    /// characters other than `\n` and `\t`.
    pub fn validate(&self, max_body: usize) -> Result<(), BodyError> {
        let size = self.len();
        if size == 0 {
            return Err(BodyError::Empty);
        }
        if size > max_body {
            return Err(BodyError::TooLarge {
                size,
                max: max_body,
            });
        }
        if let Self::Text(t) = self {
            if t.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
                return Err(BodyError::ControlCharacter);
            }
        }
        Ok(())
    }
}

/// A frame sent by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum ServerFrame {
    /// Variant 0: Always the first frame after the upgrade, and the answer to an
    /// accepted `Reauth`.
    Welcome {
        /// The session id: random, never reused while the server runs.
        session: u64,
        /// The token's `sub`.
        user: String,
        /// The token's role.
        role: Role,
        /// When the session ends unless renewed, Unix seconds.
        expires_at: u64,
        /// The limits this session is held to.
        limits: Limits,
    },
    /// Variant 1: The room was joined; it retains `first_seq..=last_seq`.
    /// When it retains nothing, `first_seq` is the seq its next `Message`
    /// will get and `last_seq = first_seq - 1` (1 and 0 in a new room with
    /// storage), so a resuming client compares `first_seq` with `since + 1`
    /// either way.
    Joined {
        /// The room.
        room: RoomName,
        /// The oldest retained seq, or the next seq when nothing is retained.
        first_seq: u64,
        /// The newest retained seq, or `first_seq - 1` when nothing is.
        last_seq: u64,
    },
    /// Variant 2: The room was left.
    Left {
        /// The room.
        room: RoomName,
    },
    /// Variant 3: A message published into a joined room.
    Message {
        /// The room.
        room: RoomName,
        /// Per-room sequence number, never issued twice (section 7); 1 for
        /// the first message of a new room with storage.
        seq: u64,
        /// The publisher's token `sub`, stamped by the server.
        from: String,
        /// When the server accepted it, Unix milliseconds.
        sent_at_ms: u64,
        /// The body as published.
        body: Body,
    },
    /// Variant 4: The publisher's receipt, sent before its own `Message`.
    Ack {
        /// The `id` of the `Publish`.
        id: u32,
        /// The seq the message was given.
        seq: u64,
    },
    /// Variant 5: An admin removed a retained message.
    Deleted {
        /// The room.
        room: RoomName,
        /// The removed message's seq.
        seq: u64,
    },
    /// Variant 6: A request was refused; the connection stays open.
    Error {
        /// The request's `id`, when it had one.
        id: Option<u32>,
        /// What went wrong.
        code: ErrorCode,
        /// A short human-readable explanation.
        detail: String,
    },
    /// Variant 7: The answer to `Presence`.
    Members {
        /// The room.
        room: RoomName,
        /// Distinct users in the room (each joined session's `sub`, observers
        /// included, across every node of a cluster; the host's device name
        /// while it is subscribed). A user with several sessions counts once.
        total: u32,
        /// The first 256 of them in byte order; all of them when `total <= 256`.
        users: UserList,
    },
    /// Variant 8: A user's first session joined the room (sent to the other
    /// members, in the rooms the server selects for presence events).
    MemberJoined {
        /// The room.
        room: RoomName,
        /// Who arrived.
        user: UserName,
    },
    /// Variant 9: A user's last session left the room (Leave, close,
    /// eviction or expiry).
    MemberLeft {
        /// The room.
        room: RoomName,
        /// Who left.
        user: UserName,
    },
}

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Role {
    /// Variant 0: Join and read.
    Observer,
    /// Variant 1: Join, read and publish.
    Member,
    /// Variant 2: A member that may also `Delete`.
    Admin,
}

impl Role {
    /// The claim value: `observer`, `member` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Observer => "observer",
            Self::Member => "member",
            Self::Admin => "admin",
        }
    }

    /// Parses a claim value.
    pub fn from_claim(s: &str) -> Option<Self> {
        match s {
            "observer" => Some(Self::Observer),
            "member" => Some(Self::Member),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    /// Whether this role may publish.
    pub fn may_publish(self) -> bool {
        matches!(self, Self::Member | Self::Admin)
    }

    /// Whether this role may delete retained messages.
    pub fn may_delete(self) -> bool {
        matches!(self, Self::Admin)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The limits a session is held to, announced in `Welcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Limits {
    /// Largest body, in bytes.
    pub max_body: u32,
    /// Most rooms joined at once.
    pub max_rooms: u16,
    /// Publishes per second (also the burst).
    pub publish_per_sec: u16,
    /// Messages each room retains.
    pub history: u16,
}

/// Why a request was refused (`ServerFrame::Error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum ErrorCode {
    /// Variant 0: A well-formed frame that breaks a rule.
    BadRequest,
    /// Variant 1: The role or rooms claim does not allow it.
    Forbidden,
    /// Variant 2: Publish to (or Presence of) a room the session has not joined.
    NotJoined,
    /// Variant 3: Over the publish rate; the frame was dropped.
    RateLimited,
    /// Variant 4: Join beyond `limits.max_rooms`.
    TooManyRooms,
    /// Variant 5: Delete of a seq the room does not retain.
    NotFound,
    /// Variant 6: `Reauth` token invalid, or for another `sub`.
    TokenRejected,
    /// Variant 7: Storage or the cluster engine is failing: the request could
    /// not be carried out or confirmed. Retry later; a publish with
    /// `PublishOnce` and the same key, so it lands once.
    Unavailable,
}
