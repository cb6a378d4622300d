//! Picking up where a lost connection left off (PROTOCOL.md section 7):
//! the last seq seen in every joined room, the `Join{since}` frames a new
//! connection sends, and whether messages were lost meanwhile.
//!
//! [`Resume`] is state only (no I/O), so a client of any shape can use it:
//! send what [`Resume::join`] and [`Resume::reconnect`] return, and pass
//! every `Joined`, `Message` and `Left` through it. The rules:
//!
//! - A join the user asks for is *fresh*: what the room kept before it is
//!   history, not a loss, however old its first seq.
//! - After a reconnect every joined room is *resumed* with
//!   `since: last seen`. `Joined.first_seq > since + 1` means the room no
//!   longer keeps the messages in between: they were lost to us.
//! - A Message whose seq is more than one above the last seen means the
//!   ones in between were lost (a crash may leave such a gap, section 7);
//!   a seq at or below the last seen is a repeat and is dropped.
//! - A room whose `last_seq` is below what we saw restarted its history
//!   (a server without storage that predates section 7's clock base); we
//!   follow the room from where it now stands.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use crate::protocol::{ClientFrame, RoomName};

/// A Join sent and not answered yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Asked {
    since: Option<u64>,
    /// Sent by [`Resume::reconnect`] for a room we were in.
    resume: bool,
}

/// What a `Joined` meant.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Joined {
    /// A join the user asked for; the room keeps `first_seq..=last_seq`.
    Fresh,
    /// Resumed with nothing lost.
    Resumed,
    /// Resumed, but the room no longer keeps these seqs: they are lost.
    Lost(RangeInclusive<u64>),
    /// Resumed, but the room's seqs are below what we saw: its history
    /// restarted, and what we hold of it is stale.
    Restarted {
        /// The last seq we had seen.
        seen: u64,
        /// The room's last seq now.
        now: u64,
    },
    /// A `Joined` for no Join we sent (we track the room from here).
    Unasked,
}

/// What a `Message` meant.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Seen {
    /// The next message: show it.
    Next,
    /// Show it, but the seqs before it were never received.
    AfterGap(RangeInclusive<u64>),
    /// At or below the last seq seen (a replay overlap): drop it.
    Repeat,
    /// A room we are not in (a late message after our Leave): drop it.
    NotJoined,
}

/// Per-room resume state across connections.
#[derive(Debug, Default, Clone)]
pub struct Resume {
    /// Joined rooms and the last seq seen in each (0: none yet).
    seen: BTreeMap<RoomName, u64>,
    /// Joins sent on this connection and not yet answered.
    asked: BTreeMap<RoomName, Asked>,
}

impl Resume {
    /// Nothing joined yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A fresh join of `room` (replaying what it keeps after `since`, or
    /// live only with `None`): the frame to send. Before the first
    /// connection, the frame can be dropped: [`Resume::reconnect`] sends it.
    pub fn join(&mut self, room: RoomName, since: Option<u64>) -> ClientFrame {
        let asked = Asked {
            since,
            resume: false,
        };
        self.asked.insert(room.clone(), asked);
        ClientFrame::Join { room, since }
    }

    /// A new connection is open: the Joins to send first, one per room we
    /// were in (`since: last seen`) or had asked for and got no answer.
    pub fn reconnect(&mut self) -> Vec<ClientFrame> {
        for (room, seen) in std::mem::take(&mut self.seen) {
            let asked = Asked {
                since: Some(seen),
                resume: true,
            };
            self.asked.insert(room, asked);
        }
        self.asked
            .iter()
            .map(|(room, asked)| ClientFrame::Join {
                room: room.clone(),
                since: asked.since,
            })
            .collect()
    }

    /// The server answered a Join with `Joined`.
    pub fn joined(&mut self, room: &RoomName, first_seq: u64, last_seq: u64) -> Joined {
        let asked = self.asked.remove(room);
        let next = first_seq.max(1);
        let (seen, what) = match asked {
            None => (last_seq, Joined::Unasked),
            Some(Asked { since: None, .. }) => (last_seq, Joined::Fresh),
            Some(Asked {
                since: Some(s),
                resume,
            }) => {
                if resume && s > last_seq {
                    let restarted = Joined::Restarted {
                        seen: s,
                        now: last_seq,
                    };
                    (last_seq, restarted)
                } else if resume && next > s.saturating_add(1) {
                    (next - 1, Joined::Lost(s + 1..=next - 1))
                } else if resume {
                    (s, Joined::Resumed)
                } else {
                    // Replay starts after the later of `since` and what the
                    // room no longer keeps (not a loss), and never after
                    // the room's last seq, or new messages would be taken
                    // for repeats.
                    (s.max(next - 1).min(last_seq), Joined::Fresh)
                }
            }
        };
        self.seen.insert(room.clone(), seen);
        what
    }

    /// The server refused a Join of `room`.
    pub fn refused(&mut self, room: &RoomName) {
        self.asked.remove(room);
    }

    /// We left `room` (or the server said `Left`).
    pub fn left(&mut self, room: &RoomName) {
        self.seen.remove(room);
        self.asked.remove(room);
    }

    /// A `Message` with `seq` arrived in `room`.
    pub fn message(&mut self, room: &RoomName, seq: u64) -> Seen {
        let Some(seen) = self.seen.get_mut(room) else {
            return Seen::NotJoined;
        };
        let last = *seen;
        if seq <= last {
            return Seen::Repeat;
        }
        *seen = seq;
        match seq - last {
            1 => Seen::Next,
            _ => Seen::AfterGap(last + 1..=seq - 1),
        }
    }

    /// The last seq seen in `room`, if we are in it.
    pub fn last_seen(&self, room: &RoomName) -> Option<u64> {
        self.seen.get(room).copied()
    }

    /// Whether we are in `room` (the server said `Joined`).
    pub fn is_joined(&self, room: &RoomName) -> bool {
        self.seen.contains_key(room)
    }

    /// The rooms we are in, by name.
    pub fn rooms(&self) -> impl Iterator<Item = &RoomName> {
        self.seen.keys()
    }
}

#[cfg(test)]
#[path = "resume_tests.rs"]
mod tests;
