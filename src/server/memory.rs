//! The worst-case memory of a full server, computed from the limits.
//!
//! Every term is a bound the code enforces, so a server that starts within
//! `memory_budget_mb` stays within it whatever its peers do. The formula is
//! documented in docs/LIMITS.md; keep the two in step.

use std::fmt;

use super::bans::{BAN_ENTRY_BYTES, BAN_TABLE_CAPACITY};
use super::connection::{READ_SLACK, TLS_SEND_BUFFER, WS_READ_BUFFER};
use super::metrics_http::{SCRAPERS, SCRAPE_BYTES};
use super::presence::MAX_MEMBERS_FRAME;
use super::session::WRITE_BATCH_BYTES;
use crate::config::{LimitsConfig, PresenceConfig};

/// rustls connection state besides the outgoing buffer: the incoming record
/// buffer (one 16 KiB record plus header), decrypted plaintext not yet read
/// (rustls caps it at 16 KiB), keys and handshake state.
pub(crate) const TLS_STATE_BYTES: u64 = 40 * 1024;
/// The connection task, its futures and timers, the session struct.
pub(crate) const TASK_BYTES: u64 = 4 * 1024;
/// A queued frame's bookkeeping: the `Bytes` handle and publish `Instant`
/// (48 bytes), channel slot and allocation header, besides its payload.
const FRAME_OVERHEAD: u64 = 96;
/// A `Message` frame's header bytes besides the body (variant, room, seq,
/// sender up to 64 bytes, timestamp, length prefixes).
const MESSAGE_HEADER: u64 = 128;
/// One live-session table entry and one room membership.
const SESSION_ENTRY: u64 = 256;
/// What one room membership adds to presence and the per-user room
/// quota: a (user, session count) of 80 bytes in a B-tree node that may
/// be under half full (176), and the quota's room entry plus its user's
/// entry (48 + 140).
pub(crate) const PRESENCE_ENTRY: u64 = 384;
/// What a room with members costs presence besides its entries: one
/// B-tree leaf node (11 entries of 80 bytes) and its table slot.
pub(crate) const PRESENCE_ROOM: u64 = 1024;
/// One queued presence event: its channel slot and `Bytes` handle (as
/// any frame), the share that counts it (48, with its allocation
/// header), and the encoded frame (at most 99 bytes), counted as if not
/// shared.
pub(crate) const NOTICE_BYTES: u64 = FRAME_OVERHEAD + 64 + 128;

/// The computed bound, term by term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBound {
    /// Bytes one connection can hold at most.
    pub per_connection: u64,
    /// `max_connections × per_connection`.
    pub connections: u64,
    /// Bytes one room can hold at most (its retained messages).
    pub per_room: u64,
    /// `max_total_rooms × per_room`.
    pub rooms: u64,
    /// The ban table and the metrics listener's scrapes.
    pub tables: u64,
}

impl MemoryBound {
    /// The bound for `limits` with `[presence]` as given (presence events
    /// may wait beside each session's queue).
    pub fn new(limits: &LimitsConfig, presence: &PresenceConfig) -> Self {
        let notices = if presence.events.is_empty() {
            0
        } else {
            u64::from(presence.events_max_members)
        };
        let message = u64::from(limits.max_message_bytes);
        let frame = u64::from(limits.max_body) + MESSAGE_HEADER;
        let members = MAX_MEMBERS_FRAME as u64;
        let per_connection = TLS_STATE_BYTES
            + TLS_SEND_BUFFER as u64
            + WS_READ_BUFFER
            // A frame being read plus the message being assembled, and the
            // bytes a peer may send past them (`Metered`).
            + 2 * message
            + READ_SLACK as u64
            // One write batch inside tungstenite, ending in the largest frame.
            + WRITE_BATCH_BYTES as u64 + frame.max(members)
            // The outbound queue, assuming every frame in it is distinct.
            // (plus a `Join{since}` replay, which may exceed it by `history`).
            + (u64::from(limits.outbound_queue) + u64::from(limits.history)) * (frame + FRAME_OVERHEAD)
            // At most one `Members` answer queued (the session refuses a
            // second until the first is written).
            + members + FRAME_OVERHEAD
            + TASK_BYTES
            + SESSION_ENTRY * (1 + u64::from(limits.max_rooms))
            + PRESENCE_ENTRY * u64::from(limits.max_rooms)
            // Presence events waiting beside the queue (`push_notice`).
            + notices * NOTICE_BYTES;
        let per_room = u64::from(limits.history) * (frame + FRAME_OVERHEAD) + 512 + PRESENCE_ROOM;
        let tables =
            (BAN_TABLE_CAPACITY * BAN_ENTRY_BYTES) as u64 + u64::from(SCRAPERS) * SCRAPE_BYTES;
        Self {
            per_connection,
            connections: u64::from(limits.max_connections) * per_connection,
            per_room,
            rooms: u64::from(limits.max_total_rooms) * per_room,
            tables,
        }
    }

    /// The whole bound, in bytes.
    pub fn total(&self) -> u64 {
        self.connections + self.rooms + self.tables
    }

    /// The whole bound in MiB, rounded up.
    pub fn total_mib(&self) -> u64 {
        self.total().div_ceil(1024 * 1024)
    }
}

fn kib(bytes: u64) -> f64 {
    bytes as f64 / 1024.0
}

impl fmt::Display for MemoryBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "worst-case memory {} MiB = connections {:.1} MiB ({:.1} KiB each) + rooms {:.1} MiB ({:.1} KiB each) + tables {:.1} MiB",
            self.total_mib(),
            kib(self.connections) / 1024.0,
            kib(self.per_connection),
            kib(self.rooms) / 1024.0,
            kib(self.per_room),
            kib(self.tables) / 1024.0,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_grows_with_each_limit() {
        let base = LimitsConfig::default();
        let presence = PresenceConfig::default();
        let b = MemoryBound::new(&base, &presence);
        assert_eq!(b.total(), b.connections + b.rooms + b.tables);
        let more = |f: &dyn Fn(&mut LimitsConfig)| {
            let mut l = base;
            f(&mut l);
            MemoryBound::new(&l, &presence).total()
        };
        assert!(more(&|l| l.max_connections *= 2) > b.total());
        assert!(more(&|l| l.outbound_queue *= 2) > b.total());
        assert!(more(&|l| l.history *= 2) > b.total());
        assert!(more(&|l| l.max_total_rooms *= 2) > b.total());
        assert!(more(&|l| l.max_message_bytes *= 2) > b.total());
        assert!(more(&|l| l.max_body /= 2) < b.total());
        let quiet = PresenceConfig {
            events: Vec::new(),
            ..PresenceConfig::default()
        };
        let louder = PresenceConfig {
            events_max_members: 200,
            ..PresenceConfig::default()
        };
        assert!(MemoryBound::new(&base, &quiet).total() < b.total());
        assert!(MemoryBound::new(&base, &louder).total() > b.total());
    }

    #[test]
    fn presence_entries_fit_their_constants() {
        use crate::protocol::{RoomName, UserName};
        let entry = std::mem::size_of::<(UserName, u32)>() as u64;
        assert!(entry <= 80, "{entry}");
        assert!(11 * entry <= PRESENCE_ROOM);
        let room_slot = std::mem::size_of::<(RoomName, u32)>() as u64;
        assert!(room_slot <= 48, "{room_slot}");
    }

    #[test]
    fn defaults_fit_a_small_host() {
        // 227 MiB before presence; its events waiting beside the queues
        // (100 per session), one Members answer and its entries add 31.
        let b = MemoryBound::new(&LimitsConfig::default(), &PresenceConfig::default());
        assert!(b.total_mib() < 288, "{b}");
    }
}
