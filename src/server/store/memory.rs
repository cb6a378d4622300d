//! Memory storage: rooms live in this process only (an embedding that
//! configures no storage, or `kind = "memory"`). A room without earlier
//! state starts at the clock-derived base, and a room dropped from the
//! table leaves its last seq behind as a floor, so no seq is issued twice
//! in one run and (by the clock) none after a restart either.
//!
//! Locking: the table lock guards which rooms exist; each room has its own
//! lock, held while its seq is assigned, its message retained and handed
//! to the fan-out: that is the atomic step the seam requires. Order:
//! table, then room, then the fan-out's own locks; never the other way.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_tungstenite::tungstenite::Bytes;

use super::clock::Clock;
use super::{
    message_frame, ready, Delete, Fanout, Join, Pending, Publish, Store, StoreError, View,
};
use crate::protocol::RoomName;
use crate::server::lock::lock;

/// One of a room's last `history` seqs.
#[derive(Debug)]
struct Slot {
    seq: u64,
    /// The `Message` frame; `None` once deleted (the key stays remembered).
    frame: Option<Bytes>,
    /// The `(sub, key)` of the `PublishOnce` that produced it.
    key: Option<(String, u64)>,
}

#[derive(Debug)]
struct RoomLog {
    next_seq: u64,
    /// The last `history` seqs issued, oldest first.
    window: VecDeque<Slot>,
    /// `(sub, key)` → seq, for every keyed slot in `window`.
    keys: HashMap<(String, u64), u64>,
    last_active: Instant,
    /// Dropped from the table: a request that found it must look again.
    dropped: bool,
}

impl RoomLog {
    fn new(next_seq: u64) -> Self {
        Self {
            next_seq,
            window: VecDeque::new(),
            keys: HashMap::new(),
            last_active: Instant::now(),
            dropped: false,
        }
    }

    fn retained(&self) -> impl DoubleEndedIterator<Item = (u64, &Bytes)> {
        self.window
            .iter()
            .filter_map(|s| s.frame.as_ref().map(|f| (s.seq, f)))
    }

    fn view(&self) -> View {
        match (self.retained().next(), self.retained().next_back()) {
            (Some((first, _)), Some((last, _))) => View { first, last },
            _ => View {
                first: self.next_seq,
                last: self.next_seq - 1,
            },
        }
    }

    /// Records `seq` in the window, forgetting the seq that leaves it.
    fn remember(&mut self, slot: Slot, history: usize) {
        if history == 0 {
            return;
        }
        if self.window.len() >= history {
            if let Some(old) = self.window.pop_front() {
                if let Some(key) = old.key {
                    self.keys.remove(&key);
                }
            }
        }
        if let Some(key) = &slot.key {
            self.keys.insert(key.clone(), slot.seq);
        }
        self.window.push_back(slot);
    }
}

#[derive(Debug)]
struct Table {
    rooms: HashMap<RoomName, Arc<Mutex<RoomLog>>>,
    /// The highest seq a dropped room issued.
    floor: u64,
}

/// Rooms in memory, at most `max_rooms`, each remembering `history` seqs.
pub(crate) struct MemoryStore {
    table: Mutex<Table>,
    history: usize,
    max_rooms: usize,
    clock: Clock,
    fanout: Arc<dyn Fanout>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("rooms", &self.rooms_held())
            .finish_non_exhaustive()
    }
}

/// How often a request retries a room dropped under it.
const RETRIES: usize = 3;

impl MemoryStore {
    /// A store handing committed messages to `fanout`. Waits for the next
    /// clock tick (see [`Clock::start`]).
    pub(crate) fn new(history: usize, max_rooms: usize, fanout: Arc<dyn Fanout>) -> Self {
        Self {
            table: Mutex::new(Table {
                rooms: HashMap::new(),
                floor: 0,
            }),
            history,
            max_rooms,
            clock: Clock::start(),
            fanout,
        }
    }

    /// The room called `name`, created if needed (making space by dropping
    /// the quietest room without local members when the table is full).
    fn entry(&self, name: &RoomName) -> Result<Arc<Mutex<RoomLog>>, StoreError> {
        let mut table = lock(&self.table);
        if let Some(room) = table.rooms.get(name) {
            return Ok(Arc::clone(room));
        }
        if table.rooms.len() >= self.max_rooms {
            self.drop_idle_room(&mut table)
                .ok_or(StoreError::RoomsFull)?;
        }
        let next_seq = self.clock.base_now().max(table.floor + 1);
        let room = Arc::new(Mutex::new(RoomLog::new(next_seq)));
        table.rooms.insert(name.clone(), Arc::clone(&room));
        Ok(room)
    }

    fn drop_idle_room(&self, table: &mut Table) -> Option<()> {
        let victim = table
            .rooms
            .iter()
            .filter(|(name, _)| !self.fanout.is_watched(name))
            .map(|(name, room)| (lock(room).last_active, name.clone()))
            .min_by_key(|(at, _)| *at)
            .map(|(_, name)| name)?;
        let room = table.rooms.remove(&victim)?;
        let mut room = lock(&room);
        room.dropped = true;
        table.floor = table.floor.max(room.next_seq - 1);
        log::debug!("room={victim} dropped from memory to make space");
        Some(())
    }

    /// Runs `f` on the live log of `name` (created if needed).
    fn with_room<T>(
        &self,
        name: &RoomName,
        mut f: impl FnMut(&mut RoomLog) -> T,
    ) -> Result<T, StoreError> {
        for _ in 0..RETRIES {
            let room = self.entry(name)?;
            let mut room = lock(&room);
            if !room.dropped {
                room.last_active = Instant::now();
                return Ok(f(&mut room));
            }
        }
        Err(StoreError::RoomsFull)
    }
}

impl Store for MemoryStore {
    fn publish(&self, publish: Publish) {
        let Publish {
            room: name,
            from,
            body,
            key,
            reply,
        } = publish;
        let mut reply = Some(reply);
        let mut body = Some(body);
        let done = self.with_room(&name, |room| {
            let Some(reply) = reply.take() else { return };
            let key = key.map(|k| (from.clone(), k));
            if let Some(&seq) = key.as_ref().and_then(|k| room.keys.get(k)) {
                return reply.ack(seq);
            }
            let seq = room.next_seq;
            room.next_seq += 1;
            let Some(body) = body.take() else { return };
            let frame = message_frame(&name, seq, &from, body);
            room.remember(
                Slot {
                    seq,
                    frame: Some(frame.clone()),
                    key,
                },
                self.history,
            );
            self.fanout.committed(&name, seq, &frame, reply);
        });
        if let (Err(e), Some(reply)) = (done, reply) {
            reply.fail(e);
        }
    }

    fn join(&self, join: Join) -> Pending {
        let since = join.since;
        ready(self.with_room(&join.room, |room| {
            let replay: Vec<Bytes> = match since {
                Some(since) => room
                    .retained()
                    .filter(|(seq, _)| *seq > since)
                    .map(|(_, f)| f.clone())
                    .collect(),
                None => Vec::new(),
            };
            self.fanout.joined(&join, room.view(), &replay);
        }))
    }

    fn delete(&self, delete: Delete) -> Pending {
        let Some(room) = lock(&self.table).rooms.get(&delete.room).cloned() else {
            return ready(Err(StoreError::NotFound));
        };
        let mut room = lock(&room);
        let slot = room
            .window
            .iter_mut()
            .find(|s| s.seq == delete.seq && s.frame.is_some());
        let Some(slot) = slot else {
            return ready(Err(StoreError::NotFound));
        };
        slot.frame = None;
        room.last_active = Instant::now();
        self.fanout.deleted(&delete.room, delete.seq, &delete.by);
        ready(Ok(()))
    }

    fn rooms_held(&self) -> usize {
        lock(&self.table).rooms.len()
    }
}

#[cfg(test)]
#[path = "memory_tests.rs"]
mod tests;
