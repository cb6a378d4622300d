//! A fan-out that records what a store hands it, for the stores' tests.

use std::collections::HashSet;
use std::sync::Mutex;

use async_tungstenite::tungstenite::Bytes;

use super::{Fanout, Join, Publish, Reply, Store, StoreError, View};
use crate::protocol::{decode_server, Body, RoomName, ServerFrame};
use crate::server::lock::lock;
use crate::server::outbox::{outbox, Inbox, Outbox};

/// What the store handed over, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    Committed {
        room: String,
        seq: u64,
        text: String,
    },
    Deleted {
        room: String,
        seq: u64,
    },
    Joined {
        room: String,
        view: View,
        replay: Vec<u64>,
    },
}

#[derive(Debug, Default)]
pub(crate) struct Recorder {
    pub(crate) events: Mutex<Vec<Event>>,
    pub(crate) watched: Mutex<HashSet<RoomName>>,
}

fn seq_and_text(frame: &Bytes) -> (u64, String) {
    match decode_server(frame) {
        Ok(ServerFrame::Message {
            seq,
            body: Body::Text(text),
            ..
        }) => (seq, text),
        other => panic!("not a text Message: {other:?}"),
    }
}

impl Recorder {
    pub(crate) fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *lock(&self.events))
    }
}

impl Fanout for Recorder {
    fn committed(&self, room: &RoomName, seq: u64, frame: &Bytes, reply: Reply) {
        let (framed, text) = seq_and_text(frame);
        assert_eq!(framed, seq);
        lock(&self.events).push(Event::Committed {
            room: room.to_string(),
            seq,
            text,
        });
        // After recording, so a test that has its answer sees the event.
        reply.ack(seq);
    }

    fn deleted(&self, room: &RoomName, seq: u64, _by: &Outbox) {
        lock(&self.events).push(Event::Deleted {
            room: room.to_string(),
            seq,
        });
    }

    fn joined(&self, join: &Join, view: View, replay: &[Bytes]) {
        lock(&self.events).push(Event::Joined {
            room: join.room.to_string(),
            view,
            replay: replay.iter().map(|f| seq_and_text(f).0).collect(),
        });
    }

    fn is_watched(&self, room: &RoomName) -> bool {
        lock(&self.watched).contains(room)
    }
}

pub(crate) fn room(name: &str) -> RoomName {
    RoomName::new(name).unwrap()
}

/// Publishes and waits for the answer.
pub(crate) fn publish(
    store: &dyn Store,
    name: &str,
    from: &str,
    text: &str,
    key: Option<u64>,
) -> Result<u64, StoreError> {
    let (tx, rx) = smol::channel::bounded(1);
    store.publish(Publish {
        room: room(name),
        from: from.to_owned(),
        body: Body::Text(text.to_owned()),
        key,
        reply: Reply::new(move |r| {
            let _ = tx.try_send(r);
        }),
    });
    smol::block_on(rx.recv()).expect("the store answers every publish")
}

/// A member's queue for joins and deletes.
pub(crate) fn member() -> (Outbox, Inbox) {
    outbox(7, 64)
}

/// Joins and waits.
pub(crate) fn join(store: &dyn Store, name: &str, since: Option<u64>) -> Result<(), StoreError> {
    let (member, _inbox) = member();
    smol::block_on(store.join(Join {
        room: room(name),
        member,
        since,
        announce: true,
    }))
}

/// Deletes and waits.
pub(crate) fn delete(store: &dyn Store, name: &str, seq: u64) -> Result<(), StoreError> {
    let (by, _inbox) = member();
    smol::block_on(store.delete(super::Delete {
        room: room(name),
        seq,
        by,
    }))
}
