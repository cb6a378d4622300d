//! The storage seam: where a room's seq is assigned, its history kept and
//! its idempotency keys remembered. Local membership and fan-out stay in
//! [`super::rooms`]; everything that must survive the process, or be shared
//! with other nodes, goes through a [`Store`].
//!
//! The one rule every implementation keeps: for one room, assigning the
//! seq, appending the message and handing it to the local fan-out is one
//! atomic step. An engine calls [`Fanout::committed`] for a room's messages
//! in seq order and only once the message is as durable as its Ack, so the
//! publisher's Ack and every member's Message follow the engine's order.
//!
//! Publishing is submit-then-complete: [`Store::publish`] never blocks the
//! session's task; the engine answers through the request's [`Reply`] (the
//! Ack travels with the committed message; a refusal is an `Error`).
//! `join` and `delete` return a future the session awaits.
//!
//! Implementations: [`memory::MemoryStore`] (today's rooms with clock-based
//! seqs) and, with the `storage` feature, [`file::FileStore`] (redb, one
//! storage thread, group commit). A cluster engine is a third: its seq
//! comes from a script run by the shared engine, and its committed messages
//! come back over pub/sub to be handed to [`Fanout::committed`] in order.

pub(crate) mod clock;
#[cfg(feature = "storage")]
mod commit;
pub(crate) mod disk;
#[cfg(feature = "storage")]
pub(crate) mod file;
pub(crate) mod memory;
mod reply;
#[cfg(feature = "storage")]
mod tables;

use std::future::Future;
use std::pin::Pin;

use async_tungstenite::tungstenite::Bytes;

use super::outbox::Outbox;
use crate::protocol::{server_to_vec, Body, RoomName, ServerFrame};

pub(crate) use reply::Reply;

/// Requests waiting for the file store's thread; beyond it, `Unavailable`.
/// (Here, not in `file`, so the memory bound has it without the feature.)
pub(crate) const QUEUE: usize = 1024;
/// Most requests one commit carries.
pub(crate) const MAX_GROUP: usize = 1024;
/// redb's page cache. Small: the working set is each room's tail.
pub(crate) const CACHE_BYTES: usize = 2 * 1024 * 1024;

/// Why a store could not carry out a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreError {
    /// Storage is failing or its queue is full: the request was not
    /// carried out (nothing half-done); `Unavailable` on the wire.
    /// (Memory storage never fails: built without file storage or
    /// clusters, only the sessions' answer to it remains.)
    #[cfg_attr(not(any(feature = "storage", feature = "cluster")), allow(dead_code))]
    Unavailable,
    /// The memory store holds `max_total_rooms` rooms, all with members.
    RoomsFull,
    /// A delete of a seq the room does not retain.
    NotFound,
}

/// A message to publish.
#[derive(Debug)]
pub(crate) struct Publish {
    pub(crate) room: RoomName,
    /// The publisher's token `sub` (or the device name).
    pub(crate) from: String,
    pub(crate) body: Body,
    /// `PublishOnce`'s key: a key already accepted from `from` in `room`
    /// answers with the first publish's seq and publishes nothing.
    pub(crate) key: Option<u64>,
    /// Who hears the seq (Ack) or the refusal.
    pub(crate) reply: Reply,
}

/// A member joining a room.
#[derive(Debug)]
pub(crate) struct Join {
    pub(crate) room: RoomName,
    pub(crate) member: Outbox,
    /// Replay retained messages with seq > since.
    pub(crate) since: Option<u64>,
    /// Queue `Joined` first (a session); the host's subscription has none.
    pub(crate) announce: bool,
}

/// An admin's delete of one retained message.
#[derive(Debug)]
pub(crate) struct Delete {
    pub(crate) room: RoomName,
    pub(crate) seq: u64,
    /// The deleting admin, told with `Deleted` even when not a member.
    pub(crate) by: Outbox,
}

/// Where a room stands: the seqs it retains, `first..=last`; retaining
/// nothing, `first` is the seq its next message gets and `last = first - 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct View {
    pub(crate) first: u64,
    pub(crate) last: u64,
}

/// A future the session awaits.
pub(crate) type Pending = Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send>>;

/// A completed answer, for engines that decide at once.
pub(crate) fn ready(result: Result<(), StoreError>) -> Pending {
    Box::pin(std::future::ready(result))
}

/// The storage seam. Implementations are `Send + Sync`; none blocks the
/// calling task on I/O.
pub(crate) trait Store: Send + Sync + std::fmt::Debug {
    /// Submits a publish; the answer goes to `publish.reply`: an Ack with
    /// the seq (queued by the fan-out right before the Message), or a
    /// refusal with nothing published.
    fn publish(&self, publish: Publish);
    /// Adds `join.member` to the room's local fan-out together with
    /// `Joined` and the replay, atomically with respect to the room's
    /// committed messages (nothing missed, nothing twice).
    fn join(&self, join: Join) -> Pending;
    /// Removes a retained message, durably, then tells the members.
    fn delete(&self, delete: Delete) -> Pending;
    /// Rooms whose state the store holds in memory (for `Handle::rooms`).
    fn rooms_held(&self) -> usize;
    /// In a cluster, whether the engine (Redis) is reachable:
    /// `palisade_cluster_up`. `None` for a store of this node alone.
    fn cluster_up(&self) -> Option<bool> {
        None
    }
    /// In a cluster, the presence engine that counts on every node;
    /// `None`: presence stays in this process.
    fn presence_engine(&self) -> Option<Box<dyn super::presence::Engine>> {
        None
    }
    /// Where the presence events this store's engine delivers go (set
    /// once, when the server is built); a store of this node alone has
    /// none.
    fn on_member(&self, _hear: super::presence::Hear) {}
}

/// The local fan-out an engine hands committed work to ([`super::rooms`]
/// in the server, a recorder in tests). Called in the engine's order.
pub(crate) trait Fanout: Send + Sync + 'static {
    /// `frame` (an encoded `Message` with `seq`) is committed: answer
    /// `reply` with the seq, then queue the frame to every member.
    fn committed(&self, room: &RoomName, seq: u64, frame: &Bytes, reply: Reply);
    /// `seq` was removed: queue `Deleted` to every member and to `by`.
    fn deleted(&self, room: &RoomName, seq: u64, by: &Outbox);
    /// Adds a member: `Joined{view}` when `join.announce`, then `replay`
    /// (oldest first), then membership.
    fn joined(&self, join: &Join, view: View, replay: &[Bytes]);
    /// Whether any local member is in `room` (such rooms stay in memory).
    fn is_watched(&self, room: &RoomName) -> bool;
}

/// The store `config` asks for: memory without `[storage]`.
///
/// # Errors
/// The storage file cannot be used: one line naming it and the problem.
pub(crate) fn open(
    config: &crate::config::Config,
    fanout: std::sync::Arc<dyn Fanout>,
) -> Result<Box<dyn Store>, String> {
    use crate::config::StorageKind;
    let history = config.limits.history;
    #[cfg(feature = "cluster")]
    if let Some(cluster) = &config.cluster {
        return crate::cluster::store::ClusterStore::open(config, cluster, fanout);
    }
    match &config.storage {
        #[cfg(feature = "storage")]
        Some(s) if s.kind == StorageKind::File => {
            let options = file::FileOptions {
                path: s.path.clone(),
                sync: s.sync,
                history: history.into(),
                max_rooms: s.max_rooms.into(),
                commit_window: std::time::Duration::from_millis(s.commit_window_ms.into()),
            };
            let store = file::FileStore::open(&options, fanout).map_err(|e| e.to_string())?;
            log::info!(
                "storage: {} (sync={}, {} rooms)",
                s.path.display(),
                s.sync,
                store.rooms_held()
            );
            Ok(Box::new(store))
        }
        #[cfg(not(feature = "storage"))]
        Some(s) if s.kind == StorageKind::File => {
            Err("storage.kind = \"file\" needs palisade built with the `storage` feature".into())
        }
        _ => Ok(Box::new(memory::MemoryStore::new(
            history.into(),
            config.limits.max_total_rooms as usize,
            fanout,
        ))),
    }
}

pub(crate) use crate::clock::unix_now_ms as now_ms;

/// Encodes the `Message` frame a committed publish becomes; the stores
/// keep exactly these bytes, so a replay is what members saw live.
pub(crate) fn message_frame(room: &RoomName, seq: u64, from: &str, body: Body) -> Bytes {
    Bytes::from(server_to_vec(&ServerFrame::Message {
        room: room.clone(),
        seq,
        from: from.to_owned(),
        sent_at_ms: now_ms(),
        body,
    }))
}

#[cfg(test)]
pub(crate) mod testing;
