//! Publishing so that a retry lands once (PROTOCOL.md section 4,
//! `PublishOnce`): every message gets a random 64-bit key, kept with the
//! message until its `Ack`, and sent again with the same key after a
//! reconnect or an `Error{Unavailable}`. The server answers a key it has
//! already accepted with the first publish's `Ack` and publishes nothing,
//! so a message whose Ack was lost with the connection is not doubled.
//!
//! [`Outbox`] is state only; the caller sends the frames it returns.

use std::collections::BTreeMap;
use std::fmt;

use ring::rand::{SecureRandom, SystemRandom};

use crate::protocol::{Body, ClientFrame, ErrorCode, RoomName};

/// How many publishes may wait for their Ack at once. A client that goes
/// past it is sending into a connection that does not answer.
pub const MAX_UNACKED: usize = 1024;

/// A publish not yet acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unacked {
    /// The idempotency key, the same on every attempt.
    pub key: u64,
    /// Where it goes.
    pub room: RoomName,
    /// What it says (sealed bodies stay the same bytes on every attempt).
    pub body: Body,
    /// Refused with `Unavailable`: to be sent again.
    stalled: bool,
}

/// Why a publish could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutboxError {
    /// [`MAX_UNACKED`] publishes already wait for their Ack.
    Full,
    /// The system's random source failed, so there is no safe key.
    NoRandom,
}

impl fmt::Display for OutboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full => write!(
                f,
                "{MAX_UNACKED} messages already wait for the server's receipt"
            ),
            Self::NoRandom => f.write_str("the system's random source failed"),
        }
    }
}

impl std::error::Error for OutboxError {}

/// What an `Error` with a publish's id meant.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The server refused it for good (forbidden, too large, ...): dropped.
    Dropped(Unacked),
    /// The server could not confirm it (`Unavailable`): kept, and sent
    /// again with the same key by [`Outbox::stalled`] or [`Outbox::resend`].
    Kept(RoomName),
    /// Not a publish of ours (a Delete, or an id already answered).
    Unknown,
}

/// The publishes of one user awaiting their Ack, across connections.
#[derive(Debug)]
pub struct Outbox {
    next_id: u32,
    waiting: BTreeMap<u32, Unacked>,
    random: SystemRandom,
}

impl Default for Outbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Outbox {
    /// Nothing waiting.
    pub fn new() -> Self {
        Self {
            next_id: 0,
            waiting: BTreeMap::new(),
            random: SystemRandom::new(),
        }
    }

    /// A correlation id not in use by a waiting publish (nor 0). Other
    /// requests (Delete) may take ids from here too.
    pub fn id(&mut self) -> u32 {
        loop {
            self.next_id = self.next_id.wrapping_add(1);
            if self.next_id != 0 && !self.waiting.contains_key(&self.next_id) {
                return self.next_id;
            }
        }
    }

    /// Queues `body` for `room` under a fresh random key; returns the
    /// `PublishOnce` to send now.
    ///
    /// # Errors
    /// [`OutboxError::Full`] or [`OutboxError::NoRandom`]; nothing queued.
    pub fn publish(&mut self, room: RoomName, body: Body) -> Result<ClientFrame, OutboxError> {
        if self.waiting.len() >= MAX_UNACKED {
            return Err(OutboxError::Full);
        }
        let mut bytes = [0u8; 8];
        self.random
            .fill(&mut bytes)
            .map_err(|_| OutboxError::NoRandom)?;
        let key = u64::from_le_bytes(bytes);
        let id = self.id();
        let unacked = Unacked {
            key,
            room,
            body,
            stalled: false,
        };
        let frame = Self::frame(id, &unacked);
        self.waiting.insert(id, unacked);
        Ok(frame)
    }

    /// The `Ack` for `id` came: the publish is done. Returns it, or `None`
    /// for an id that is not a waiting publish.
    pub fn acked(&mut self, id: u32) -> Option<Unacked> {
        self.waiting.remove(&id)
    }

    /// An `Error` with `id` and `code` came.
    pub fn refused(&mut self, id: u32, code: ErrorCode) -> Refusal {
        match self.waiting.get_mut(&id) {
            None => Refusal::Unknown,
            Some(unacked) if code == ErrorCode::Unavailable => {
                unacked.stalled = true;
                Refusal::Kept(unacked.room.clone())
            }
            Some(_) => self
                .waiting
                .remove(&id)
                .map_or(Refusal::Unknown, Refusal::Dropped),
        }
    }

    /// The publishes refused with `Unavailable` since the last call, to
    /// send again now (same ids, same keys).
    pub fn stalled(&mut self) -> Vec<ClientFrame> {
        self.waiting
            .iter_mut()
            .filter_map(|(id, u)| std::mem::take(&mut u.stalled).then(|| Self::frame(*id, u)))
            .collect()
    }

    /// Every waiting publish, for a new connection (after its Joins), in
    /// the order they were first sent.
    pub fn resend(&mut self) -> Vec<ClientFrame> {
        let mut all: Vec<(u32, &mut Unacked)> =
            self.waiting.iter_mut().map(|(id, u)| (*id, u)).collect();
        // Ids grow with each publish; after a wrap the newest are smallest.
        all.sort_by_key(|(id, _)| id.wrapping_sub(self.next_id).wrapping_sub(1));
        all.into_iter()
            .map(|(id, u)| {
                u.stalled = false;
                Self::frame(id, u)
            })
            .collect()
    }

    /// How many publishes wait for their Ack.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether none does.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    fn frame(id: u32, u: &Unacked) -> ClientFrame {
        ClientFrame::PublishOnce {
            id,
            key: u.key,
            room: u.room.clone(),
            body: u.body.clone(),
        }
    }
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
mod tests;
