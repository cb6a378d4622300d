//! The worst-case memory of a full server, computed from the limits.
//!
//! Every term is a bound the code enforces, so a server that starts within
//! `memory_budget_mb` stays within it whatever its peers do. The formula is
//! documented in docs/LIMITS.md; keep the two in step.

use std::fmt;

use super::bans::{BAN_ENTRY_BYTES, BAN_TABLE_CAPACITY};
use super::connection::{READ_SLACK, TLS_SEND_BUFFER, WS_READ_BUFFER};
use super::metrics_http::{SCRAPERS, SCRAPE_BYTES};
use super::session::WRITE_BATCH_BYTES;
use crate::config::LimitsConfig;

/// rustls connection state besides the outgoing buffer: the incoming record
/// buffer (one 16 KiB record plus header), decrypted plaintext not yet read
/// (rustls caps it at 16 KiB), keys and handshake state.
pub(crate) const TLS_STATE_BYTES: u64 = 40 * 1024;
/// The connection task, its futures and timers, the session struct, the
/// boxed write state while a batch is written, tungstenite's buffer for a
/// control frame (at most 131 bytes).
pub(crate) const TASK_BYTES: u64 = 4 * 1024;
/// A queued frame's bookkeeping: the `Bytes` handle and publish `Instant`
/// (48 bytes), its queue slot and allocation header, besides its payload.
const FRAME_OVERHEAD: u64 = 96;
/// A `Message` frame's header bytes besides the body (variant, room, seq,
/// sender up to 64 bytes, timestamp, length prefixes).
const MESSAGE_HEADER: u64 = 128;
/// One live-session table entry and one room membership.
const SESSION_ENTRY: u64 = 256;

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
    /// The bound for `limits`.
    pub fn new(limits: &LimitsConfig) -> Self {
        let message = u64::from(limits.max_message_bytes);
        let frame = u64::from(limits.max_body) + MESSAGE_HEADER;
        let per_connection = TLS_STATE_BYTES
            + TLS_SEND_BUFFER as u64
            + WS_READ_BUFFER
            // A frame being read plus the message being assembled, and the
            // bytes a peer may send past them (`Metered`).
            + 2 * message
            + READ_SLACK as u64
            // One write batch, collected in `Metered` (tungstenite's own
            // buffer only ever holds a control frame, in TASK_BYTES).
            + WRITE_BATCH_BYTES as u64 + frame
            // The outbound queue, assuming every frame in it is distinct.
            // (plus a `Join{since}` replay, which may exceed it by `history`).
            + (u64::from(limits.outbound_queue) + u64::from(limits.history)) * (frame + FRAME_OVERHEAD)
            + TASK_BYTES
            + SESSION_ENTRY * (1 + u64::from(limits.max_rooms));
        let per_room = u64::from(limits.history) * (frame + FRAME_OVERHEAD) + 512;
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
        let b = MemoryBound::new(&base);
        assert_eq!(b.total(), b.connections + b.rooms + b.tables);
        let more = |f: &dyn Fn(&mut LimitsConfig)| {
            let mut l = base;
            f(&mut l);
            MemoryBound::new(&l).total()
        };
        assert!(more(&|l| l.max_connections *= 2) > b.total());
        assert!(more(&|l| l.outbound_queue *= 2) > b.total());
        assert!(more(&|l| l.history *= 2) > b.total());
        assert!(more(&|l| l.max_total_rooms *= 2) > b.total());
        assert!(more(&|l| l.max_message_bytes *= 2) > b.total());
        assert!(more(&|l| l.max_body /= 2) < b.total());
    }

    #[test]
    fn defaults_fit_a_small_host() {
        let b = MemoryBound::new(&LimitsConfig::default());
        assert!(b.total_mib() < 256, "{b}");
    }
}
