//! Rooms: membership, per-room sequence numbers, retained history and
//! fan-out. This is where a published message is given its seq and copied
//! (by reference count) into every member's queue.
//!
//! Locking: the table lock guards which rooms exist; each room has its own
//! lock so fan-out in one room does not stall another. Joins and leaves
//! hold the table lock, then the room lock (a room is only removed under
//! the table lock, when it has neither members nor retained messages).
//! Publish and delete take the table lock just long enough to find the
//! room. Every push into members' queues for a room happens under that
//! room's lock, which is what gives every member the same seq order.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_tungstenite::tungstenite::Bytes;

use super::lock::lock;
use super::outbox::Outbox;
use crate::clock::unix_now_ms;
use crate::protocol::{server_to_vec, Body, RoomName, ServerFrame};

/// Why a join was refused by the room table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ServerRoomsFull;

/// Why a delete found nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotRetained;

#[derive(Debug)]
struct Room {
    /// The seq the next message gets; starts at 1.
    next_seq: u64,
    /// Encoded `Message` frames, oldest first, at most `history`.
    retained: VecDeque<(u64, Bytes)>,
    members: HashMap<u64, Outbox>,
    last_active: Instant,
}

impl Room {
    fn new() -> Self {
        Self {
            next_seq: 1,
            retained: VecDeque::new(),
            members: HashMap::new(),
            last_active: Instant::now(),
        }
    }

    fn is_unused(&self) -> bool {
        self.members.is_empty() && self.retained.is_empty()
    }

    /// Queues `frame` to every member; `published` marks a `Message` for
    /// the delivery latency histogram.
    fn broadcast(&self, frame: &Bytes, published: Option<Instant>) {
        for member in self.members.values() {
            member.push_or_evict(frame.clone(), published);
        }
    }
}

/// Every room the server holds.
#[derive(Debug)]
pub(crate) struct Rooms {
    table: Mutex<HashMap<RoomName, Arc<Mutex<Room>>>>,
    history: usize,
    max_rooms: usize,
}

impl Rooms {
    /// A table of at most `max_rooms` rooms each retaining `history` messages.
    pub(crate) fn new(history: usize, max_rooms: usize) -> Self {
        Self {
            table: Mutex::new(HashMap::new()),
            history,
            max_rooms,
        }
    }

    /// How many rooms exist.
    pub(crate) fn len(&self) -> usize {
        lock(&self.table).len()
    }

    fn find(&self, name: &RoomName) -> Option<Arc<Mutex<Room>>> {
        lock(&self.table).get(name).cloned()
    }

    /// Adds `member` to `name`, queuing `Joined` and then, with
    /// `since: Some(n)`, every retained message with seq > n. Both happen
    /// under the room lock, so no live message slips between the replay and
    /// membership, and none is sent twice.
    pub(crate) fn join(
        &self,
        name: &RoomName,
        member: &Outbox,
        since: Option<u64>,
    ) -> Result<(), ServerRoomsFull> {
        self.add_member(name, member, since, true)
    }

    /// Adds the host's subscription: like [`Rooms::join`] without `Joined`.
    pub(crate) fn subscribe(
        &self,
        name: &RoomName,
        member: &Outbox,
    ) -> Result<(), ServerRoomsFull> {
        self.add_member(name, member, None, false)
    }

    fn add_member(
        &self,
        name: &RoomName,
        member: &Outbox,
        since: Option<u64>,
        announce: bool,
    ) -> Result<(), ServerRoomsFull> {
        let mut table = lock(&self.table);
        let room = self.entry(&mut table, name)?;
        let mut room = lock(&room);
        if announce {
            let (first_seq, last_seq) = match (room.retained.front(), room.retained.back()) {
                (Some((first, _)), Some((last, _))) => (*first, *last),
                _ => (0, 0),
            };
            member.send_or_evict(&ServerFrame::Joined {
                room: name.clone(),
                first_seq,
                last_seq,
            });
        }
        if let Some(since) = since {
            for (_, frame) in room.retained.iter().filter(|(seq, _)| *seq > since) {
                member.push_replay(frame.clone());
            }
        }
        room.members.insert(member.session(), member.clone());
        room.last_active = Instant::now();
        Ok(())
    }

    /// The room called `name`, created if needed (making space by evicting
    /// the quietest memberless room when the table is full).
    fn entry(
        &self,
        table: &mut HashMap<RoomName, Arc<Mutex<Room>>>,
        name: &RoomName,
    ) -> Result<Arc<Mutex<Room>>, ServerRoomsFull> {
        if !table.contains_key(name) && table.len() >= self.max_rooms {
            evict_idle_room(table).ok_or(ServerRoomsFull)?;
        }
        Ok(Arc::clone(
            table
                .entry(name.clone())
                .or_insert_with(|| Arc::new(Mutex::new(Room::new()))),
        ))
    }

    /// Publishes as the host application, creating the room if needed so
    /// its history holds the message for later joiners.
    pub(crate) fn publish_as_host(
        &self,
        name: &RoomName,
        from: &str,
        body: Body,
    ) -> Result<u64, ServerRoomsFull> {
        // Create under the table lock, publish under the room lock; an empty
        // room created here cannot be removed before the publish retains a
        // message, because removal also happens only under the table lock
        // and only on leave.
        // A member leaving in between may remove the empty room again:
        // then create it anew (at most a few times).
        for _ in 0..3 {
            drop(self.entry(&mut lock(&self.table), name)?);
            if let Some(seq) = self.publish(name, from, body.clone(), None) {
                return Ok(seq);
            }
        }
        Err(ServerRoomsFull)
    }

    /// Removes a session from a room; the room goes when nothing is left.
    pub(crate) fn leave(&self, name: &RoomName, session: u64) {
        let mut table = lock(&self.table);
        let unused = match table.get(name) {
            Some(room) => {
                let mut room = lock(room);
                room.members.remove(&session);
                room.is_unused()
            }
            None => false,
        };
        if unused {
            table.remove(name);
        }
    }

    /// Gives a message the room's next seq, retains it, queues `Ack` to the
    /// publisher (when `ack` names one) and then the `Message` to every
    /// member. Returns the seq, or `None` if the room does not exist.
    pub(crate) fn publish(
        &self,
        name: &RoomName,
        from: &str,
        body: Body,
        ack: Option<(&Outbox, u32)>,
    ) -> Option<u64> {
        let room = self.find(name)?;
        let mut room = lock(&room);
        let seq = room.next_seq;
        room.next_seq += 1;
        let frame = Bytes::from(server_to_vec(&ServerFrame::Message {
            room: name.clone(),
            seq,
            from: from.to_owned(),
            sent_at_ms: unix_now_ms(),
            body,
        }));
        if let Some((publisher, id)) = ack {
            publisher.send_or_evict(&ServerFrame::Ack { id, seq });
        }
        room.broadcast(&frame, Some(Instant::now()));
        if self.history > 0 {
            if room.retained.len() >= self.history {
                room.retained.pop_front();
            }
            room.retained.push_back((seq, frame));
        }
        room.last_active = Instant::now();
        Some(seq)
    }

    /// Removes retained message `seq` and tells every member with
    /// `Deleted`; `also` (the deleting admin) is told too when it is not a
    /// member.
    pub(crate) fn delete(
        &self,
        name: &RoomName,
        seq: u64,
        also: &Outbox,
    ) -> Result<(), NotRetained> {
        let room = self.find(name).ok_or(NotRetained)?;
        let mut room = lock(&room);
        let at = room
            .retained
            .binary_search_by_key(&seq, |(s, _)| *s)
            .map_err(|_| NotRetained)?;
        room.retained.remove(at);
        let frame = Bytes::from(server_to_vec(&ServerFrame::Deleted {
            room: name.clone(),
            seq,
        }));
        room.broadcast(&frame, None);
        if !room.members.contains_key(&also.session()) {
            also.push_or_evict(frame, None);
        }
        room.last_active = Instant::now();
        Ok(())
    }
}

/// Makes space for a new room by dropping the memberless room that has
/// been quiet longest (its retained messages go with it).
fn evict_idle_room(table: &mut HashMap<RoomName, Arc<Mutex<Room>>>) -> Option<()> {
    let victim = table
        .iter()
        .filter_map(|(name, room)| {
            let room = lock(room);
            room.members
                .is_empty()
                .then(|| (room.last_active, name.clone()))
        })
        .min_by_key(|(at, _)| *at)
        .map(|(_, name)| name)?;
    log::debug!("room={victim} evicted to make space");
    table.remove(&victim);
    Some(())
}

#[cfg(test)]
mod tests;
