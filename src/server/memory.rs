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
/// The session's task, its futures and timers, the session struct, the
/// boxed write state while a batch is written, tungstenite's buffer for a
/// control frame (at most 131 bytes). An idle session's task is about
/// 800 bytes (heaptrack, BENCHMARKS.md).
pub(crate) const TASK_BYTES: u64 = 4 * 1024;
/// A queued frame's bookkeeping: the `Bytes` handle and publish `Instant`
/// (48 bytes), its queue slot and allocation header, besides its payload.
const FRAME_OVERHEAD: u64 = 96;
/// A `Message` frame's header bytes besides the body (variant, room, seq,
/// sender up to 64 bytes, timestamp, length prefixes).
const MESSAGE_HEADER: u64 = 128;
/// One live-session table entry (boxed, 191 bytes with its share of the
/// table's slots at 2,000 sessions) and one room membership.
const SESSION_ENTRY: u64 = 256;
/// A `PublishOnce` key remembered by memory storage: the sender (up to 64
/// bytes) twice (the key map and the window slot), the key, the seq and
/// the map entry.
const KEY_ENTRY: u64 = 256;
/// One request waiting for the storage thread besides its body: the
/// sender, room, reply closure and channel slot.
const REQUEST_OVERHEAD: u64 = 256;
/// Copies of a message the storage thread holds while committing it: the
/// frame, redb's dirty leaf page, the page it copies on write.
const COMMIT_COPIES: u64 = 3;
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
/// A room's own entry in the room table (name, lock, member map) besides
/// its retained messages.
const ROOM_ENTRY: u64 = 512;

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
    /// File storage: redb's cache, the storage thread's queue, the group
    /// being committed and a join's replay. Zero with memory storage,
    /// whose rooms are the `rooms` term.
    pub storage: u64,
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
            // One write batch, collected in `Metered`, ending in the largest
            // frame (tungstenite's own buffer only ever holds a control
            // frame, in TASK_BYTES).
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
        let per_room = u64::from(limits.history) * (frame + FRAME_OVERHEAD + KEY_ENTRY)
            + ROOM_ENTRY
            + PRESENCE_ROOM;
        let tables =
            (BAN_TABLE_CAPACITY * BAN_ENTRY_BYTES) as u64 + u64::from(SCRAPERS) * SCRAPE_BYTES;
        Self {
            per_connection,
            connections: u64::from(limits.max_connections) * per_connection,
            per_room,
            rooms: u64::from(limits.max_total_rooms) * per_room,
            tables,
            storage: 0,
        }
    }

    /// The bound for `config`, its storage included: with file storage no
    /// room history is held in memory (it is in the file), but the storage
    /// thread's buffers are, and the rooms with members here are not capped
    /// by `max_total_rooms`: each membership may be a room of its own, with
    /// its room-table entry and presence map.
    pub fn for_config(config: &crate::config::Config) -> Self {
        let mut bound = Self::new(&config.limits, &config.presence);
        let file = config
            .storage
            .as_ref()
            .is_some_and(|s| s.kind == crate::config::StorageKind::File);
        #[cfg(feature = "cluster")]
        let cluster = config.cluster.is_some();
        #[cfg(not(feature = "cluster"))]
        let cluster = false;
        if file || cluster {
            // The rooms' history is elsewhere, and each membership may be
            // a room of its own here (not capped by `max_total_rooms`).
            bound.per_connection +=
                (ROOM_ENTRY + PRESENCE_ROOM) * u64::from(config.limits.max_rooms);
            bound.connections = u64::from(config.limits.max_connections) * bound.per_connection;
            bound.per_room = 0;
            bound.rooms = 0;
        }
        let frame = u64::from(config.limits.max_body) + MESSAGE_HEADER;
        if cluster {
            // Rooms live in Redis: the engine's watch and presence entry
            // per membership, the publishes and presence changes waiting.
            #[cfg(feature = "cluster")]
            {
                use crate::cluster::presence_state::{MEMBERSHIP_BYTES, OP_BYTES, PRESENCE_QUEUE};
                bound.per_connection += MEMBERSHIP_BYTES * u64::from(config.limits.max_rooms);
                bound.connections = u64::from(config.limits.max_connections) * bound.per_connection;
                let waiting =
                    crate::cluster::store::PUBLISH_QUEUE + crate::cluster::store::MAX_BATCH;
                bound.storage =
                    waiting as u64 * (frame + REQUEST_OVERHEAD) + PRESENCE_QUEUE as u64 * OP_BYTES;
            }
        } else if file {
            bound.storage = super::store::CACHE_BYTES as u64
                + super::store::QUEUE as u64 * (frame + REQUEST_OVERHEAD)
                + super::store::MAX_GROUP as u64 * COMMIT_COPIES * frame
                + u64::from(config.limits.history) * (frame + FRAME_OVERHEAD);
        }
        bound
    }

    /// The whole bound, in bytes.
    pub fn total(&self) -> u64 {
        self.connections + self.rooms + self.tables + self.storage
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
            "worst-case memory {} MiB = connections {:.1} MiB ({:.1} KiB each) + rooms {:.1} MiB ({:.1} KiB each) + tables {:.1} MiB + storage {:.1} MiB",
            self.total_mib(),
            kib(self.connections) / 1024.0,
            kib(self.per_connection),
            kib(self.rooms) / 1024.0,
            kib(self.per_room),
            kib(self.tables) / 1024.0,
            kib(self.storage) / 1024.0,
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
    fn file_storage_counts_a_room_per_membership_instead_of_the_table() {
        use crate::config::{Config, StorageConfig};
        let file = |max_rooms: u16| {
            let limits = LimitsConfig {
                max_rooms,
                ..LimitsConfig::default()
            };
            let config = Config::new("s.pem", "s.key", ["t.public"], "a")
                .with_limits(limits)
                .with_storage(StorageConfig::file_in(std::path::Path::new(".")));
            MemoryBound::for_config(&config)
        };
        let (b, more) = (file(8), file(16));
        assert_eq!((b.rooms, b.per_room), (0, 0));
        assert_eq!(
            more.per_connection - b.per_connection,
            8 * (SESSION_ENTRY + PRESENCE_ENTRY + ROOM_ENTRY + PRESENCE_ROOM)
        );
        assert!(b.storage > 0);
    }

    #[cfg(feature = "cluster")]
    #[test]
    fn a_cluster_node_counts_the_engine_per_membership_and_its_queues() {
        use crate::cluster::config::ClusterConfig;
        use crate::cluster::presence_state::{MEMBERSHIP_BYTES, OP_BYTES, PRESENCE_QUEUE};
        use crate::config::{Config, StorageConfig};
        let file = Config::new("s.pem", "s.key", ["t.public"], "a")
            .with_storage(StorageConfig::file_in(std::path::Path::new(".")));
        let mut cluster = file.clone();
        cluster.cluster = Some(ClusterConfig {
            redis: "redis://127.0.0.1:6379/0".into(),
            node: "n".into(),
            prefix: "p".into(),
            password_file: None,
        });
        let (file, cluster) = (
            MemoryBound::for_config(&file),
            MemoryBound::for_config(&cluster),
        );
        assert_eq!((cluster.rooms, cluster.per_room), (0, 0));
        let max_rooms = u64::from(LimitsConfig::default().max_rooms);
        assert_eq!(
            cluster.per_connection - file.per_connection,
            MEMBERSHIP_BYTES * max_rooms
        );
        let frame = u64::from(LimitsConfig::default().max_body) + MESSAGE_HEADER;
        assert_eq!(
            cluster.storage,
            (1024 + 64) * (frame + REQUEST_OVERHEAD) + PRESENCE_QUEUE as u64 * OP_BYTES
        );
    }

    #[test]
    fn defaults_fit_a_small_host() {
        // 227 MiB before presence; its events waiting beside the queues
        // (100 per session), one Members answer and its entries add 31.
        let b = MemoryBound::new(&LimitsConfig::default(), &PresenceConfig::default());
        assert!(b.total_mib() < 288, "{b}");
    }
}
