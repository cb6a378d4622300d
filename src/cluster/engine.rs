//! The engine: one node's view of the rooms that live in Redis.
//!
//! A publish is one Lua script (publish.lua): the PublishOnce check, the
//! room's next seq, the append to the capped stream and the PUBLISH to
//! every node happen atomically, or not at all. Members receive the
//! Message only through the room's channel ([`super::subscriber`]), in
//! seq order on every node; the publisher's `Ack` is queued before its own
//! Message whichever of the script's answer and the channel's copy comes
//! first (see [`Acks`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use async_tungstenite::tungstenite::Bytes;
use redis::Value;

use super::keys::Keys;
use super::link::{Link, Unavailable};
use super::scripts::Scripts;
use super::wire::{message_frame, Entry, Tail, Token};
use super::Local;
use crate::protocol::{Body, RoomName};
use crate::server::lock::lock;
use crate::server::outbox::Outbox;

/// How long Redis keeps a room nobody publishes to (its seq then
/// continues from the clock-derived base). Bounds Redis' memory.
pub(crate) const ROOM_IDLE_TTL_S: u64 = 30 * 24 * 60 * 60;

/// What `Joined` says: the room retains `first..=last`; retaining nothing,
/// `first` is the next seq and `last = first - 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) first: u64,
    pub(crate) last: u64,
}

/// One message to publish (see [`Inner::publish_batch`]).
pub(crate) struct Publishing<'a> {
    pub(crate) room: &'a RoomName,
    pub(crate) from: &'a str,
    pub(crate) sent_at_ms: u64,
    pub(crate) body: &'a Body,
    /// The publisher's sub and PublishOnce key.
    pub(crate) once: Option<(&'a str, u64)>,
    /// Queues the Ack (before the Message) or the refusal.
    pub(crate) ack: Option<AckFn>,
}

/// A publish that Redis accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Published {
    pub(crate) seq: u64,
    /// A PublishOnce key seen before: nothing was published now.
    pub(crate) repeated: bool,
}

/// The publisher's answer: the seq (it queues `Ack`) or `Unavailable`.
pub(crate) type AckFn = Box<dyn FnOnce(Result<u64, Unavailable>) + Send>;

enum Pending {
    Waiting(AckFn),
    Acked(u64),
}

/// Receipts waiting for their seq. Whoever learns the seq first (the
/// script's answer or the channel's Message) calls the receipt, under this
/// lock, before the Message can reach any member: so `Ack` precedes it.
#[derive(Default)]
pub(crate) struct Acks(Mutex<HashMap<Token, Pending>>);

impl Acks {
    /// Called on delivery of `token`'s Message with `seq`.
    pub(crate) fn delivered(&self, token: Token, seq: u64) {
        let mut pending = lock(&self.0);
        if let Some(Pending::Waiting(_)) = pending.get(&token) {
            if let Some(Pending::Waiting(ack)) = pending.insert(token, Pending::Acked(seq)) {
                ack(Ok(seq));
            }
        }
    }

    /// Called with the script's answer: the seq, or whether the Message
    /// was delivered (and acked) already, which confirms the publish.
    fn answered(&self, token: Token, answer: Result<u64, Unavailable>) -> Result<u64, Unavailable> {
        let mut pending = lock(&self.0);
        match (pending.remove(&token), answer) {
            (Some(Pending::Acked(seq)), _) => Ok(seq),
            (Some(Pending::Waiting(ack)), answer) => {
                ack(answer);
                answer
            }
            (None, answer) => answer,
        }
    }
}

/// A room this node has members in: subscribed, and delivered up to
/// `delivered` (contiguously, every seq the stream could give).
#[derive(Debug, Default)]
pub(crate) struct Watch {
    /// Joins under way (the room stays watched while any is, even before
    /// the local fan-out counts the member).
    pub(crate) joining: usize,
    pub(crate) delivered: Option<u64>,
    /// The stream may hold seqs after `delivered` that the channel did
    /// not bring (a reconnect, or a gap whose repair failed): caught up
    /// after every (re)subscription and every ping interval until done.
    pub(crate) behind: bool,
}

pub(crate) struct Inner {
    pub(crate) link: Link,
    pub(crate) keys: Keys,
    pub(crate) scripts: Scripts,
    /// Random per process: tells this process's publishes and presence
    /// entries from those of a node that restarted under the same name.
    pub(crate) instance: u64,
    pub(crate) node: String,
    pub(crate) history: u16,
    pub(crate) local: Weak<dyn Local>,
    pub(crate) watches: Mutex<HashMap<RoomName, Arc<Mutex<Watch>>>>,
    pub(crate) acks: Acks,
    /// Deletes under way: the deleting admin, told with the room's
    /// members when the channel brings the Deleted.
    pub(crate) deletes: Mutex<HashMap<Token, Outbox>>,
    next_token: AtomicU64,
    pub(crate) subscriptions: super::subscriber::Subscriptions,
    pub(crate) presence: super::presence::Entries,
}

impl Inner {
    pub(crate) fn new(
        link: Link,
        keys: Keys,
        node: String,
        history: u16,
        local: Weak<dyn Local>,
    ) -> Self {
        Self {
            link,
            keys,
            scripts: Scripts::new(),
            instance: instance_id(),
            node,
            history,
            local,
            watches: Mutex::new(HashMap::new()),
            acks: Acks::default(),
            deletes: Mutex::new(HashMap::new()),
            next_token: AtomicU64::new(1),
            subscriptions: super::subscriber::Subscriptions::default(),
            presence: super::presence::Entries::default(),
        }
    }

    /// Publishes a batch through one call of publish.lua, in order (one
    /// round trip however many). Each answer goes to its `ack` (before
    /// the Message reaches anyone) and is returned in the same order.
    pub(crate) async fn publish_batch(
        &self,
        batch: Vec<Publishing<'_>>,
    ) -> Vec<Result<Published, Unavailable>> {
        let mut call = self.scripts.publish.prepare_invoke();
        call.arg(self.history).arg(ROOM_IDLE_TTL_S);
        let mut tokens = Vec::with_capacity(batch.len());
        for p in batch {
            let token = self.token();
            if let Some(ack) = p.ack {
                lock(&self.acks.0).insert(token, Pending::Waiting(ack));
            }
            let field = p
                .once
                .map_or_else(String::new, |(sub, key)| Keys::once_field(sub, key));
            call.key(self.keys.meta(p.room))
                .key(self.keys.stream(p.room))
                .key(self.keys.once(p.room))
                .key(self.keys.once_order(p.room))
                .arg(&token.0[..])
                .arg(Tail::encode(p.from, p.sent_at_ms, p.body))
                .arg(field)
                .arg(self.keys.channel(p.room));
            tokens.push(token);
        }
        let answers = self
            .link
            .run("a publish", |mut c| async move {
                call.invoke_async::<Vec<(u64, u8)>>(&mut c).await
            })
            .await;
        tokens
            .into_iter()
            .enumerate()
            .map(|(i, token)| {
                let answer = match &answers {
                    Ok(all) => all.get(i).copied().ok_or(Unavailable),
                    Err(Unavailable) => Err(Unavailable),
                };
                let repeated = matches!(answer, Ok((_, 1)));
                let seq = self.acks.answered(token, answer.map(|(seq, _)| seq))?;
                Ok(Published { seq, repeated })
            })
            .collect()
    }

    /// The room's window and, with `since`, the retained entries after it.
    pub(crate) async fn window(
        &self,
        room: &RoomName,
        since: Option<u64>,
    ) -> Result<(Window, u64, Vec<Entry>), Unavailable> {
        let mut call = self.scripts.window.prepare_invoke();
        call.key(self.keys.meta(room))
            .key(self.keys.stream(room))
            .arg(since.map_or_else(String::new, |s| s.to_string()))
            .arg(ROOM_IDLE_TTL_S);
        let value = self
            .link
            .run("a join", |mut c| async move {
                call.invoke_async::<Value>(&mut c).await
            })
            .await?;
        parse_window(&value).ok_or_else(|| {
            log::warn!("cluster: redis answered a join with something unexpected");
            Unavailable
        })
    }

    /// Entries with `after < seq < before` (`before: None`: to the end).
    pub(crate) async fn range(
        &self,
        room: &RoomName,
        after: u64,
        before: Option<u64>,
    ) -> Result<Vec<Entry>, Unavailable> {
        let stream = self.keys.stream(room);
        let end = before.map_or_else(|| "+".to_owned(), |b| format!("({b}-0"));
        let value = self
            .link
            .run("a repair read", |mut c| async move {
                redis::cmd("XRANGE")
                    .arg(stream)
                    .arg(format!("({after}-0"))
                    .arg(end)
                    .query_async::<Value>(&mut c)
                    .await
            })
            .await?;
        entries(&value).ok_or(Unavailable)
    }

    fn token(&self) -> Token {
        Token::new(
            self.instance,
            self.next_token.fetch_add(1, Ordering::Relaxed),
        )
    }

    /// Removes a retained message; `Ok(false)` if the stream has no such
    /// seq. `by` (the deleting admin) is told with the members: through
    /// the channel when this node watches the room, at once otherwise.
    pub(crate) async fn delete(
        &self,
        room: &RoomName,
        seq: u64,
        by: Outbox,
    ) -> Result<bool, Unavailable> {
        let token = self.token();
        lock(&self.deletes).insert(token, by);
        let mut call = self.scripts.delete.prepare_invoke();
        call.key(self.keys.stream(room))
            .arg(seq)
            .arg(self.keys.channel(room))
            .arg(&token.0[..]);
        let removed = self
            .link
            .run("a delete", |mut c| async move {
                call.invoke_async::<u8>(&mut c).await
            })
            .await;
        let by = if removed == Ok(1) && self.watch_of(room).is_some() {
            // Left for the channel's Deleted (or gone with it already).
            None
        } else {
            lock(&self.deletes).remove(&token)
        };
        if let (Ok(1), Some(by), Some(local)) = (removed, by, self.local.upgrade()) {
            local.deleted(room, seq, Some(by));
        }
        Ok(removed? == 1)
    }

    /// Hands `entry` to the local members if it is the next one, first
    /// calling the publisher's receipt when the publish was ours.
    pub(crate) fn deliver(
        &self,
        room: &RoomName,
        watch: &mut Watch,
        seq: u64,
        token: Token,
        tail: &[u8],
    ) {
        if watch.delivered.is_some_and(|d| seq <= d) {
            return;
        }
        watch.delivered = Some(seq);
        if token.instance() == self.instance {
            self.acks.delivered(token, seq);
        }
        if let Some(local) = self.local.upgrade() {
            local.message(room, seq, message_frame(room, seq, tail));
        }
    }

    pub(crate) fn watch_of(&self, room: &RoomName) -> Option<Arc<Mutex<Watch>>> {
        lock(&self.watches).get(room).cloned()
    }
}

fn instance_id() -> u64 {
    let mut bytes = [0; 8];
    if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).is_err() {
        // No randomness at all: fall back to the clock, unique enough for
        // telling processes apart.
        return std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
    }
    u64::from_be_bytes(bytes)
}

/// Parses window.lua's `{last seq, first id, newest id, entries}`.
fn parse_window(value: &Value) -> Option<(Window, u64, Vec<Entry>)> {
    let Value::Array(parts) = value else {
        return None;
    };
    let [Value::Int(issued), first, newest, list] = parts.as_slice() else {
        return None;
    };
    let issued = u64::try_from(*issued).ok()?;
    let id = |v: &Value| -> Option<Option<u64>> {
        let s: String = redis::from_redis_value_ref(v).ok()?;
        if s.is_empty() {
            return Some(None);
        }
        Entry::seq_of(&s).map(Some)
    };
    let window = match (id(first)?, id(newest)?) {
        (Some(first), Some(last)) => Window { first, last },
        _ => Window {
            first: issued + 1,
            last: issued,
        },
    };
    Some((window, issued, entries(list)?))
}

/// Parses an XRANGE answer; a malformed entry is skipped with a log line.
pub(crate) fn entries(value: &Value) -> Option<Vec<Entry>> {
    let Value::Array(list) = value else {
        return None;
    };
    Some(
        list.iter()
            .filter_map(|e| {
                let entry = Entry::from_value(e);
                if entry.is_none() {
                    log::warn!("cluster: skipped a malformed stream entry");
                }
                entry
            })
            .collect(),
    )
}

/// Joined's window once the node has delivered up to `delivered`.
pub(crate) fn joined_window(window: Window, delivered: u64) -> Window {
    if delivered > window.last {
        Window {
            first: window.first.min(delivered),
            last: delivered,
        }
    } else {
        window
    }
}

/// The Message frames of `entries` with `since < seq <= upto`.
pub(crate) fn replay(
    room: &RoomName,
    entries: &[Entry],
    since: u64,
    upto: u64,
) -> Vec<(u64, Bytes)> {
    entries
        .iter()
        .filter(|e| e.seq > since && e.seq <= upto)
        .map(|e| (e.seq, message_frame(room, e.seq, &e.tail)))
        .collect()
}
