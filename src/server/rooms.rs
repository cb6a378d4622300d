//! Rooms on this node: who is a member, and the fan-out of what the store
//! committed into each member's queue. Seqs, history and keys are the
//! store's ([`super::store`]); this table only holds rooms with members.
//!
//! Locking: the table lock guards which rooms exist; each room has its own
//! lock so fan-out in one room does not stall another. Every push into a
//! room's members' queues happens under that room's lock, and the store
//! calls in seq order, which is what gives every member the same order and
//! the publisher its Ack before its Message.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_tungstenite::tungstenite::Bytes;

use super::lock::lock;
use super::outbox::{Backlog, Outbox};
use super::store::{Fanout, Join, Reply, View};
use crate::protocol::{server_to_vec, RoomName, ServerFrame};

/// The members of one room, by session (or host subscription) id.
type Members = HashMap<u64, Outbox>;

/// Every room with a local member.
#[derive(Debug, Default)]
pub(crate) struct Rooms {
    table: Mutex<HashMap<RoomName, Arc<Mutex<Members>>>>,
    /// The members' queues pressed now, which hold their publishers.
    backlog: Arc<Backlog>,
}

impl Rooms {
    /// The backlog every session's queue on this node is counted in.
    pub(crate) fn backlog(&self) -> &Arc<Backlog> {
        &self.backlog
    }

    /// Rooms with at least one member here.
    pub(crate) fn len(&self) -> usize {
        lock(&self.table).len()
    }

    fn find(&self, name: &RoomName) -> Option<Arc<Mutex<Members>>> {
        lock(&self.table).get(name).cloned()
    }

    /// Removes a member; the room goes with its last member.
    pub(crate) fn leave(&self, name: &RoomName, session: u64) {
        let mut table = lock(&self.table);
        let empty = table.get(name).is_some_and(|room| {
            let mut members = lock(room);
            members.remove(&session);
            members.is_empty()
        });
        if empty {
            table.remove(name);
        }
    }

    /// Queues `frame` to every member of `name` but `except` (presence
    /// events: never to the session that caused them), as notices of
    /// which each member may hold `slack`; returns how many.
    pub(crate) fn to_others(
        &self,
        name: &RoomName,
        frame: &Bytes,
        except: u64,
        slack: usize,
    ) -> usize {
        let Some(room) = self.find(name) else {
            return 0;
        };
        let members = lock(&room);
        let mut told = 0;
        for (_, member) in members.iter().filter(|(id, _)| **id != except) {
            if member.push_notice(frame, slack).is_err() {
                member.evict();
            }
            told += 1;
        }
        told
    }

    /// Queues `frame` to every member of `name`; `published` marks a
    /// `Message` for the delivery latency histogram. Returns whether a
    /// member's queue is pressed (see [`super::outbox`]).
    fn broadcast(members: &Members, frame: &Bytes, published: Option<Instant>) -> bool {
        let mut pressed = false;
        for member in members.values() {
            match member.deliver(frame.clone(), published) {
                Ok(p) => pressed |= p,
                Err(_) => member.evict(),
            }
        }
        pressed
    }
}

impl Fanout for Rooms {
    fn committed(&self, name: &RoomName, seq: u64, frame: &Bytes, reply: Reply) {
        let Some(room) = self.find(name) else {
            // Nobody here is in the room (a host publish): the Ack only.
            return reply.ack(seq);
        };
        let members = lock(&room);
        let by = reply.publisher().cloned();
        reply.ack(seq);
        if Self::broadcast(&members, frame, Some(Instant::now())) {
            if let Some(by) = by {
                by.hold();
            }
        }
    }

    fn deleted(&self, name: &RoomName, seq: u64, by: &Outbox) {
        let frame = Bytes::from(server_to_vec(&ServerFrame::Deleted {
            room: name.clone(),
            seq,
        }));
        let room = self.find(name);
        let members = room.as_ref().map(|r| lock(r));
        if let Some(members) = &members {
            // A delete is rare and its sender waits for nothing: not held.
            let _ = Self::broadcast(members, &frame, None);
        }
        if !members.is_some_and(|m| m.contains_key(&by.session())) {
            by.push_or_evict(frame, None);
        }
    }

    /// `Joined` and the replay go out under the room lock together with
    /// the membership, so no live message slips between them.
    fn joined(&self, join: &Join, view: View, replay: &[Bytes]) {
        let mut table = lock(&self.table);
        let room = Arc::clone(table.entry(join.room.clone()).or_default());
        let mut members = lock(&room);
        drop(table);
        if join.announce {
            join.member.send_or_evict(&ServerFrame::Joined {
                room: join.room.clone(),
                first_seq: view.first,
                last_seq: view.last,
            });
        }
        for frame in replay {
            join.member.push_replay(frame.clone());
        }
        members.insert(join.member.session(), join.member.clone());
    }

    fn is_watched(&self, name: &RoomName) -> bool {
        lock(&self.table).contains_key(name)
    }
}

#[cfg(test)]
mod tests;
