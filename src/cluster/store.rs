//! The cluster engine behind the storage seam ([`Store`]): in a cluster
//! the rooms live in Redis, and this node's fan-out
//! ([`Fanout`]) gets what the engine delivers, in each room's seq order.
//!
//! Publishes go through one queue and one task per node, so a session's
//! publishes reach Redis in the order it sent them. What queued while the
//! previous call ran goes in the next one (up to [`MAX_BATCH`]): one
//! round trip for the lot, each message still its own atomic step inside
//! the script. A publish that waited in the queue longer than the
//! engine's deadline (Redis slow or gone) is answered `Unavailable`
//! without being sent, so nobody waits more than a few seconds.

use std::sync::Arc;
use std::time::Instant;

use async_tungstenite::tungstenite::Bytes;
use smol::channel::{Receiver, Sender, TrySendError};

use super::config::{redacted, ClusterConfig};
use super::link::DEADLINE;
use super::presence_state::{hear, Listener};
use super::{AckFn, Engine, Local, Publishing, Unavailable};
use crate::protocol::RoomName;
use crate::server::outbox::{outbox, Outbox};
use crate::server::store::{
    now_ms, Delete, Fanout, Join, Pending, Publish, Reply, Store, StoreError, View,
};

/// Publishes waiting for the node's publish task, at most.
pub(crate) const PUBLISH_QUEUE: usize = 1024;

/// Hands the engine's deliveries to the node's fan-out.
struct Bridge {
    fanout: Arc<dyn Fanout>,
    /// Told nothing: the `by` of a Deleted that came from another node.
    nobody: Outbox,
    /// The server's presence, for MemberJoined / MemberLeft.
    presence: Arc<Listener>,
}

impl Local for Bridge {
    fn message(&self, room: &RoomName, seq: u64, frame: Bytes) {
        // The publisher's Ack was queued already (the engine's receipts).
        self.fanout.committed(room, seq, &frame, Reply::none());
    }

    fn deleted(&self, room: &RoomName, seq: u64, by: Option<Outbox>) {
        self.fanout
            .deleted(room, seq, by.as_ref().unwrap_or(&self.nobody));
    }

    fn member(&self, room: &RoomName, arrived: bool, user: &str, except: Option<u64>) {
        hear(&self.presence, room, arrived, user, except);
    }

    fn is_watched(&self, room: &RoomName) -> bool {
        self.fanout.is_watched(room)
    }
}

/// Rooms in Redis, shared with every node of the cluster.
pub(crate) struct ClusterStore {
    engine: Arc<Engine>,
    fanout: Arc<dyn Fanout>,
    queue: Sender<(Publish, Instant)>,
    _publisher: smol::Task<()>,
    _bridge: Arc<dyn Local>,
    presence: Arc<Listener>,
}

impl std::fmt::Debug for ClusterStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterStore")
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

impl ClusterStore {
    /// Starts the engine (connecting in the background).
    ///
    /// # Errors
    /// A line naming the `[cluster]` key or file that cannot be used.
    pub(crate) fn start(
        config: &ClusterConfig,
        history: u16,
        fanout: Arc<dyn Fanout>,
    ) -> Result<Self, String> {
        let (nobody, _) = outbox(0, 1);
        let presence = Arc::new(Listener::new());
        let bridge: Arc<dyn Local> = Arc::new(Bridge {
            fanout: Arc::clone(&fanout),
            nobody,
            presence: Arc::clone(&presence),
        });
        let engine = Arc::new(Engine::start(config, history, Arc::downgrade(&bridge))?);
        let (queue, waiting) = smol::channel::bounded(PUBLISH_QUEUE);
        let publisher = smol::spawn(publish_in_order(Arc::clone(&engine), waiting));
        Ok(Self {
            engine,
            fanout,
            queue,
            _publisher: publisher,
            _bridge: bridge,
            presence,
        })
    }

    /// Whether both connections to Redis work (`palisade_cluster_up`).
    pub(crate) fn is_up(&self) -> bool {
        self.engine.is_up()
    }

    /// The store of a server with `[cluster]`, saying at start-up where
    /// its rooms live.
    ///
    /// # Errors
    /// A line naming the `[cluster]` key or file that cannot be used.
    pub(crate) fn open(
        config: &crate::config::Config,
        cluster: &ClusterConfig,
        fanout: Arc<dyn Fanout>,
    ) -> Result<Box<dyn Store>, String> {
        let store = Self::start(cluster, config.limits.history, fanout)?;
        log::info!(
            "cluster: rooms live in Redis {} (node={}, prefix={})",
            redacted(&cluster.redis),
            cluster.node,
            cluster.prefix
        );
        if config.storage.is_some() {
            log::info!("cluster: [storage] holds no rooms in a cluster; Redis does");
        }
        Ok(Box::new(store))
    }
}

/// Publishes sent to Redis in one call, at most.
pub(crate) const MAX_BATCH: usize = 64;

async fn publish_in_order(engine: Arc<Engine>, waiting: Receiver<(Publish, Instant)>) {
    while let Ok(first) = waiting.recv().await {
        // Whatever queued up while the last call ran goes in this one.
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match waiting.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let mut fresh = Vec::with_capacity(batch.len());
        for (publish, queued_at) in batch {
            if queued_at.elapsed() >= DEADLINE {
                publish.reply.fail(StoreError::Unavailable);
            } else {
                fresh.push(publish);
            }
        }
        if fresh.is_empty() {
            continue;
        }
        let sent_at_ms = now_ms();
        let mut replies = Vec::with_capacity(fresh.len());
        let mut items = Vec::with_capacity(fresh.len());
        for p in &mut fresh {
            let reply = std::mem::replace(&mut p.reply, Reply::none());
            replies.push(reply);
        }
        for (p, reply) in fresh.iter().zip(replies) {
            let ack: AckFn = Box::new(move |answer| match answer {
                Ok(seq) => reply.ack(seq),
                Err(Unavailable) => reply.fail(StoreError::Unavailable),
            });
            items.push(Publishing {
                room: &p.room,
                from: &p.from,
                sent_at_ms,
                body: &p.body,
                once: p.key.map(|k| (p.from.as_str(), k)),
                ack: Some(ack),
            });
        }
        // The answers went to each `ack` (before the Message reaches anyone).
        let _ = engine.publish_batch(items).await;
    }
}

impl Store for ClusterStore {
    fn publish(&self, publish: Publish) {
        if let Err(TrySendError::Full((p, _)) | TrySendError::Closed((p, _))) =
            self.queue.try_send((publish, Instant::now()))
        {
            p.reply.fail(StoreError::Unavailable);
        }
    }

    fn join(&self, join: Join) -> Pending {
        let engine = Arc::clone(&self.engine);
        let fanout = Arc::clone(&self.fanout);
        Box::pin(async move {
            let room = join.room.clone();
            engine
                .join(&room, join.since, |window, replay| {
                    let frames: Vec<Bytes> = replay.into_iter().map(|(_, f)| f).collect();
                    let view = View {
                        first: window.first,
                        last: window.last,
                    };
                    fanout.joined(&join, view, &frames);
                })
                .await
                .map_err(|Unavailable| StoreError::Unavailable)
        })
    }

    fn delete(&self, delete: Delete) -> Pending {
        let engine = Arc::clone(&self.engine);
        Box::pin(async move {
            match engine.delete(&delete.room, delete.seq, delete.by).await {
                Ok(true) => Ok(()),
                Ok(false) => Err(StoreError::NotFound),
                Err(Unavailable) => Err(StoreError::Unavailable),
            }
        })
    }

    fn rooms_held(&self) -> usize {
        self.engine.watched()
    }

    fn cluster_up(&self) -> Option<bool> {
        Some(self.is_up())
    }

    fn presence_engine(&self) -> Option<Box<dyn crate::server::presence::Engine>> {
        let shared = super::presence_state::Shared::start(Arc::clone(&self.engine));
        Some(Box::new(shared))
    }

    fn on_member(&self, hear: crate::server::presence::Hear) {
        let _ = self.presence.set(hear);
    }
}
