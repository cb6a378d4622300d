//! The engine's face to the server: [`Engine`] (one node's connection to
//! the cluster) and [`Local`] (how it hands deliveries to local members).

use std::sync::{Arc, Weak};

use async_tungstenite::tungstenite::Bytes;

use super::config::{redacted, ClusterConfig};
use super::engine::{joined_window, replay, Inner, Watch};
pub(crate) use super::engine::{AckFn, Published, Publishing, Window};
use super::keys::Keys;
use super::link::Link;
pub(crate) use super::link::Unavailable;
pub(crate) use super::presence::Change;
#[cfg(test)]
use crate::protocol::Body;
use crate::protocol::RoomName;
use crate::server::lock::lock;
use crate::server::outbox::Outbox;

/// How the engine hands what arrives from Redis to this node's members.
/// Calls for one room come one at a time, Messages in seq order.
pub(crate) trait Local: Send + Sync + 'static {
    /// An encoded `Message` frame for the room's local members.
    fn message(&self, room: &RoomName, seq: u64, frame: Bytes);
    /// An admin (on any node) deleted `seq`; `by` is that admin when it
    /// is on this node, told even if not a member.
    fn deleted(&self, room: &RoomName, seq: u64, by: Option<Outbox>);
    /// A user's first session joined (`arrived`) or last one left,
    /// anywhere in the cluster; `except` is the local session that
    /// caused it, which is not told.
    fn member(&self, room: &RoomName, arrived: bool, user: &str, except: Option<u64>);
    /// Whether any local member is in `room`; rooms without one are
    /// unsubscribed (checked every few seconds).
    fn is_watched(&self, room: &RoomName) -> bool;
}

/// Tries of a join's read before it gives up (each retry means
/// messages arrived while it read; see [`Engine::join`]).
const JOIN_TRIES: usize = 4;

/// One node's connection to the cluster. Dropping it stops its tasks.
pub(crate) struct Engine {
    inner: Arc<Inner>,
    _tasks: [smol::Task<()>; 2],
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("node", &self.inner.node)
            .field("link", &self.inner.link)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Starts the node's tasks; connecting happens in the background
    /// (Redis down at start-up is an outage like any other).
    ///
    /// # Errors
    /// A line naming the key or file that cannot be used (never the
    /// password).
    pub(crate) fn start(
        config: &ClusterConfig,
        history: u16,
        local: Weak<dyn Local>,
    ) -> Result<Self, String> {
        let shown = redacted(&config.redis);
        let mut client = redis::Client::open(config.redis.as_str())
            .map_err(|e| format!("cluster.redis {shown}: cannot be used ({:?})", e.kind()))?;
        if let Some(password) = config.file_password()? {
            let info = client.get_connection_info().clone();
            let settings = info.redis_settings().clone().set_password(password);
            client = redis::Client::open(info.set_redis_settings(settings))
                .map_err(|e| format!("cluster.redis {shown}: cannot be used ({:?})", e.kind()))?;
        }
        let inner = Arc::new(Inner::new(
            Link::new(client, shown),
            Keys::new(&config.prefix),
            config.node.clone(),
            history,
            local,
        ));
        let tasks = [
            smol::spawn(super::subscriber::run(Arc::clone(&inner))),
            smol::spawn(super::presence::run(Arc::clone(&inner))),
        ];
        Ok(Self {
            inner,
            _tasks: tasks,
        })
    }

    /// Rooms this node is subscribed to (has members in).
    pub(crate) fn watched(&self) -> usize {
        lock(&self.inner.watches).len()
    }

    /// Both connections to Redis work.
    pub(crate) fn is_up(&self) -> bool {
        self.inner.link.health.is_up()
    }

    /// Makes a local member of `room`: subscribes to its channel if it
    /// is the first, reads the window (and the entries after `since`),
    /// then calls `add` with them under the room's delivery lock, so
    /// the member gets the replay and then every later Message, none
    /// twice, none missing. On `Err` nothing was added.
    ///
    /// # Errors
    /// [`Unavailable`] when Redis does not answer.
    pub(crate) async fn join(
        &self,
        room: &RoomName,
        since: Option<u64>,
        add: impl FnOnce(Window, Vec<(u64, Bytes)>),
    ) -> Result<(), Unavailable> {
        let watch = {
            let mut watches = lock(&self.inner.watches);
            let watch = watches.entry(room.clone()).or_default();
            lock(watch).joining += 1;
            Arc::clone(watch)
        };
        let joined = self.join_watched(room, &watch, since, add).await;
        lock(&watch).joining -= 1;
        joined
    }

    async fn join_watched(
        &self,
        room: &RoomName,
        watch: &std::sync::Mutex<Watch>,
        since: Option<u64>,
        add: impl FnOnce(Window, Vec<(u64, Bytes)>),
    ) -> Result<(), Unavailable> {
        self.inner.subscribe(room).await?;
        for _ in 0..JOIN_TRIES {
            let (window, issued, entries) = self.inner.window(room, since).await?;
            let mut watch = lock(watch);
            let delivered = *watch.delivered.get_or_insert(issued);
            // Delivered beyond what was read: with a replay to give,
            // read again so nothing in between is missed.
            if delivered > issued && since.is_some() {
                continue;
            }
            let replayed = since.map_or_else(Vec::new, |s| replay(room, &entries, s, delivered));
            add(joined_window(window, delivered), replayed);
            return Ok(());
        }
        Err(Unavailable)
    }

    /// Publishes `body` from `from` alone (the tests' way; the store
    /// batches); `once` is (sub, key) of a
    /// PublishOnce; `ack` queues the Ack, always before the
    /// publisher's own Message.
    ///
    /// # Errors
    /// [`Unavailable`]: not published, or not confirmed (a PublishOnce
    /// retry with the same key settles which).
    #[cfg(test)]
    pub(crate) async fn publish(
        &self,
        room: &RoomName,
        from: &str,
        sent_at_ms: u64,
        body: &Body,
        once: Option<(&str, u64)>,
        ack: Option<AckFn>,
    ) -> Result<Published, Unavailable> {
        let one = Publishing {
            room,
            from,
            sent_at_ms,
            body,
            once,
            ack,
        };
        let mut answers = self.inner.publish_batch(vec![one]).await;
        answers.pop().unwrap_or(Err(Unavailable))
    }

    /// Publishes several in order with one round trip (what each answer
    /// means: `publish`, the one-message form the tests use).
    pub(crate) async fn publish_batch(
        &self,
        batch: Vec<Publishing<'_>>,
    ) -> Vec<Result<Published, Unavailable>> {
        self.inner.publish_batch(batch).await
    }

    /// Removes retained `seq` and tells every node's members and `by`;
    /// `Ok(false)` when the room does not retain it.
    ///
    /// # Errors
    /// [`Unavailable`] when Redis does not answer.
    pub(crate) async fn delete(
        &self,
        room: &RoomName,
        seq: u64,
        by: Outbox,
    ) -> Result<bool, Unavailable> {
        self.inner.delete(room, seq, by).await
    }

    /// Counts `session` of `user` in `room`'s presence (remembered for
    /// the refresh, then written).
    ///
    /// # Errors
    /// [`Unavailable`]; the entry is still written by the next refresh.
    #[cfg(test)]
    pub(crate) async fn presence_join(
        &self,
        room: &RoomName,
        session: u64,
        user: &str,
        events_max: u32,
    ) -> Result<Change, Unavailable> {
        self.inner.remember(room, session, user, events_max);
        self.inner.count_in(room, session, user, events_max).await
    }

    /// Stops counting `session` (a session never remembered: nothing).
    ///
    /// # Errors
    /// [`Unavailable`]; the entry then expires by itself.
    #[cfg(test)]
    pub(crate) async fn presence_leave(
        &self,
        room: &RoomName,
        session: u64,
        user: &str,
    ) -> Result<Change, Unavailable> {
        let Some(events_max) = self.inner.forget(room, session) else {
            return Ok(Change {
                first_or_last: false,
                total: 0,
            });
        };
        self.inner.count_out(room, session, user, events_max).await
    }

    /// The engine's presence calls, for the presence state's Redis engine.
    pub(crate) fn presence(&self) -> &Inner {
        &self.inner
    }

    /// Who is in `room` on every node: the exact count and the first
    /// 256 names in byte order.
    ///
    /// # Errors
    /// [`Unavailable`] when Redis does not answer.
    pub(crate) async fn members(
        &self,
        room: &RoomName,
        events_max: u32,
    ) -> Result<(u32, Vec<String>), Unavailable> {
        self.inner.members(room, events_max).await
    }
}
