//! The node's pub/sub connection: subscribed to the channel of every room
//! with a local member, delivering each room's Messages in seq order.
//!
//! One task reads the connection, so deliveries happen one at a time. A
//! Message whose seq is more than one above the room's last delivered is
//! a gap (a lost pub/sub message, or messages published while the
//! connection was down): the missing entries are read from the stream and
//! delivered first. A seq at or below the last delivered is a duplicate
//! and dropped. After a reconnect every room is resubscribed and caught
//! up from its stream.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::PubSubSink;
use smol::future::FutureExt;
use smol::stream::StreamExt;

use super::engine::Inner;
use super::link::{within, Path, Unavailable, DEADLINE};
use super::wire::Event;
use crate::protocol::RoomName;
use crate::server::lock::lock;

/// How often the idle connection is checked with a PING.
const PING_EVERY: Duration = Duration::from_secs(5);
/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Which channels the connection is subscribed to; the async lock orders
/// SUBSCRIBE and UNSUBSCRIBE commands, and each acts on the current state
/// of the watch table, so the last one wins.
#[derive(Default)]
pub(crate) struct Subscriptions {
    state: smol::lock::Mutex<(Option<PubSubSink>, HashSet<RoomName>)>,
}

impl Inner {
    /// Subscribes to `room`'s channel unless already subscribed.
    /// While the connection is being made (at start-up, after a loss)
    /// this waits for it, up to the deadline.
    pub(crate) async fn subscribe(&self, room: &RoomName) -> Result<(), Unavailable> {
        let waiting_since = std::time::Instant::now();
        let mut state = loop {
            let state = self.subscriptions.state.lock().await;
            if state.0.is_some() {
                break state;
            }
            drop(state);
            if waiting_since.elapsed() >= DEADLINE {
                return Err(Unavailable);
            }
            smol::Timer::after(Duration::from_millis(25)).await;
        };
        let (sink, rooms) = &mut *state;
        if rooms.contains(room) {
            return Ok(());
        }
        let sink = sink.as_mut().ok_or(Unavailable)?;
        match within(sink.subscribe(self.keys.channel(room))).await {
            Ok(()) => {
                rooms.insert(room.clone());
                Ok(())
            }
            Err(e) => {
                log::warn!(
                    "cluster: subscribing room={room} failed: {}",
                    e.map_or_else(|| "no answer in time".to_owned(), |e| e.to_string())
                );
                Err(Unavailable)
            }
        }
    }

    /// Unsubscribes from `room`'s channel if no local member is left.
    pub(crate) async fn unsubscribe(&self, room: &RoomName) {
        let mut state = self.subscriptions.state.lock().await;
        let (sink, rooms) = &mut *state;
        if self.watch_of(room).is_some() || !rooms.remove(room) {
            return;
        }
        if let Some(sink) = sink.as_mut() {
            // On failure the connection is failing too; it is remade
            // without this channel.
            let _ = within(sink.unsubscribe(self.keys.channel(room))).await;
        }
    }

    fn on_payload(&self, channel: &str, payload: &[u8]) -> Option<(RoomName, u64, u64)> {
        let room = self.keys.room_of(channel)?;
        let Some(event) = Event::parse(payload) else {
            log::warn!("cluster: dropped a malformed payload on room={room}");
            return None;
        };
        let watch = self.watch_of(&room)?;
        let mut watch = lock(&watch);
        match event {
            Event::Message { seq, token, tail } => match watch.delivered {
                Some(d) if seq > d + 1 => return Some((room, d, seq)),
                _ => self.deliver(&room, &mut watch, seq, token, tail),
            },
            Event::Deleted { seq, token } => {
                let by = lock(&self.deletes).remove(&token);
                if let Some(local) = self.local.upgrade() {
                    local.deleted(&room, seq, by);
                }
            }
            Event::Member {
                arrived,
                origin,
                session,
                user,
            } => {
                if let Some(local) = self.local.upgrade() {
                    let except = (origin == self.instance).then_some(session);
                    local.member(&room, arrived, user, except);
                }
            }
        }
        None
    }

    /// Delivers what the stream holds after the room's last delivered seq
    /// (and before `before`, when given). When Redis does not answer, the
    /// room is marked behind and caught up later.
    async fn repair(
        &self,
        room: &RoomName,
        after: u64,
        before: Option<u64>,
    ) -> Result<(), Unavailable> {
        let missing = self.range(room, after, before).await;
        let Some(watch) = self.watch_of(room) else {
            return Ok(());
        };
        let mut watch = lock(&watch);
        match missing {
            Ok(missing) => {
                for entry in &missing {
                    self.deliver(room, &mut watch, entry.seq, entry.token, &entry.tail);
                }
                if before.is_none() {
                    watch.behind = false;
                }
                Ok(())
            }
            Err(Unavailable) => {
                watch.behind = true;
                Err(Unavailable)
            }
        }
    }

    /// Catches up every room marked behind (two tries each: the first
    /// may only find the command connection stale).
    async fn catch_up(&self) {
        let behind: Vec<(RoomName, u64)> = lock(&self.watches)
            .iter()
            .filter_map(|(room, w)| {
                let w = lock(w);
                w.delivered.filter(|_| w.behind).map(|d| (room.clone(), d))
            })
            .collect();
        for (room, delivered) in behind {
            if self.repair(&room, delivered, None).await.is_err() {
                let _ = self.repair(&room, delivered, None).await;
            }
        }
    }

    /// Resubscribes every watched room on a new connection, then catches
    /// each up from its stream.
    async fn resubscribe(&self, sink: PubSubSink) -> Result<(), Unavailable> {
        let rooms: Vec<RoomName> = lock(&self.watches).keys().cloned().collect();
        {
            let mut state = self.subscriptions.state.lock().await;
            *state = (Some(sink), HashSet::new());
            let (sink, subscribed) = &mut *state;
            let sink = sink.as_mut().ok_or(Unavailable)?;
            for room in rooms {
                if within(sink.subscribe(self.keys.channel(&room)))
                    .await
                    .is_err()
                {
                    return Err(Unavailable);
                }
                subscribed.insert(room);
            }
        }
        for watch in lock(&self.watches).values() {
            lock(watch).behind = true;
        }
        self.catch_up().await;
        Ok(())
    }

    /// Stops watching rooms with no local member left (and no join under
    /// way), unsubscribing from their channels.
    async fn sweep(&self) {
        let Some(local) = self.local.upgrade() else {
            return;
        };
        let idle: Vec<RoomName> = {
            let mut watches = lock(&self.watches);
            let idle: Vec<RoomName> = watches
                .iter()
                .filter(|(room, w)| lock(w).joining == 0 && !local.is_watched(room))
                .map(|(room, _)| room.clone())
                .collect();
            for room in &idle {
                watches.remove(room);
            }
            idle
        };
        for room in idle {
            self.unsubscribe(&room).await;
        }
    }

    async fn forget_connection(&self) {
        *self.subscriptions.state.lock().await = (None, HashSet::new());
        // Deletes whose Deleted the lost connection may have carried: their
        // admins are not told twice, at worst not at all.
        lock(&self.deletes).clear();
    }
}

/// The subscriber task: connects, resubscribes, reads; on any failure
/// starts again after a short backoff. Ends when the engine is dropped.
pub(crate) async fn run(inner: Arc<Inner>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match within(inner.link.client().get_async_pubsub()).await {
            Ok(pubsub) => {
                let (sink, stream) = pubsub.split();
                backoff = Duration::from_millis(100);
                match inner.resubscribe(sink.clone()).await {
                    Ok(()) => {
                        inner.link.health.set(Path::PubSub, true, &"subscribed");
                        read(&inner, sink, stream).await;
                        inner
                            .link
                            .health
                            .set(Path::PubSub, false, &"pub/sub connection lost");
                    }
                    Err(Unavailable) => {
                        inner
                            .link
                            .health
                            .set(Path::PubSub, false, &"resubscribing failed");
                    }
                }
                inner.forget_connection().await;
            }
            Err(e) => {
                let why = e.map_or_else(|| "no answer in time".to_owned(), |e| e.to_string());
                inner.link.health.set(Path::PubSub, false, &why);
            }
        }
        smol::Timer::after(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Reads until the connection fails or stops answering PINGs.
async fn read(inner: &Inner, mut sink: PubSubSink, mut stream: redis::aio::PubSubStream) {
    enum Step {
        Message(redis::Msg),
        Ping,
        Closed,
    }
    loop {
        let step = async {
            match stream.next().await {
                Some(msg) => Step::Message(msg),
                None => Step::Closed,
            }
        }
        .or(async {
            smol::Timer::after(PING_EVERY).await;
            Step::Ping
        })
        .await;
        match step {
            Step::Message(msg) => {
                let gap = inner.on_payload(msg.get_channel_name(), msg.get_payload_bytes());
                if let Some((room, after, seq)) = gap {
                    if inner.repair(&room, after, Some(seq)).await.is_ok() {
                        // Then the message itself, as if it had just
                        // arrived; a gap the stream could not fill
                        // (trimmed or deleted entries) is passed over.
                        if inner
                            .on_payload(msg.get_channel_name(), msg.get_payload_bytes())
                            .is_some()
                        {
                            force(inner, &room, msg.get_payload_bytes());
                        }
                    } else if inner.history == 0 {
                        // Nothing to catch up from later: deliver it now.
                        force(inner, &room, msg.get_payload_bytes());
                    }
                    // Otherwise it is in the stream: the catch-up brings it.
                }
            }
            Step::Ping => {
                if within(sink.ping::<redis::Value>()).await.is_err() {
                    return;
                }
                inner.catch_up().await;
                inner.sweep().await;
            }
            Step::Closed => return,
        }
    }
}

/// Delivers a Message past a gap nothing can fill.
fn force(inner: &Inner, room: &RoomName, payload: &[u8]) {
    if let (Some(Event::Message { seq, token, tail }), Some(watch)) =
        (Event::parse(payload), inner.watch_of(room))
    {
        let mut watch = lock(&watch);
        inner.deliver(room, &mut watch, seq, token, tail);
    }
}
