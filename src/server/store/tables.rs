//! The file store's schema and what one request does to it, inside the
//! storage thread's transaction. Every change to a room (its seq, its
//! message, its key, the messages and keys leaving the window) is written
//! in the same transaction, so a crash keeps all of it or none.

use async_tungstenite::tungstenite::Bytes;
use redb::{ReadableTable, ReadableTableMetadata, Table, TableDefinition, WriteTransaction};

use super::{message_frame, now_ms, View};
use crate::protocol::{Body, RoomName};

/// room → (next seq, last publish in Unix ms).
pub(super) const ROOMS: TableDefinition<'static, &'static str, (u64, u64)> =
    TableDefinition::new("rooms");
/// (room, seq) → the encoded `Message` frame.
pub(super) const MESSAGES: TableDefinition<'static, (&'static str, u64), &'static [u8]> =
    TableDefinition::new("messages");
/// (room, sub, key) → seq: `PublishOnce` keys in their room's window.
pub(super) const KEYS: TableDefinition<'static, (&'static str, &'static str, u64), u64> =
    TableDefinition::new("keys");
/// (room, seq) → (sub, key): which key a seq came from, to forget it with
/// the seq (a deleted message's key stays until then).
pub(super) const KEY_OF: TableDefinition<'static, (&'static str, u64), (&'static str, u64)> =
    TableDefinition::new("key_of");
/// "format" → 1; "floor" → the last seq of any room dropped from the file.
pub(super) const META: TableDefinition<'static, &'static str, u64> =
    TableDefinition::new("palisade");

/// A redb error, boxed (redb's own is large to move around).
#[derive(Debug)]
pub(super) struct DbError(Box<redb::Error>);

impl<E: Into<redb::Error>> From<E> for DbError {
    fn from(e: E) -> Self {
        Self(Box::new(e.into()))
    }
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// What the file store's steps return.
pub(super) type DbResult<T> = Result<T, DbError>;

/// The schema version this code writes.
pub(super) const FORMAT: u64 = 1;

/// The tables of one write transaction.
pub(super) struct Tables<'t> {
    rooms: Table<'t, &'static str, (u64, u64)>,
    messages: Table<'t, (&'static str, u64), &'static [u8]>,
    keys: Table<'t, (&'static str, &'static str, u64), u64>,
    key_of: Table<'t, (&'static str, u64), (&'static str, u64)>,
    meta: Table<'t, &'static str, u64>,
}

/// How a publish ended inside the transaction.
pub(super) enum Published {
    /// Committed with this seq and frame (once the transaction is).
    New(u64, Bytes),
    /// Its key was accepted before, with this seq.
    Duplicate(u64),
}

/// Limits the file enforces.
#[derive(Debug, Clone, Copy)]
pub(super) struct Retention {
    /// Seqs remembered per room.
    pub(super) history: u64,
    /// Rooms kept in the file.
    pub(super) max_rooms: u64,
}

impl<'t> Tables<'t> {
    pub(super) fn open(txn: &'t WriteTransaction) -> DbResult<Self> {
        Ok(Self {
            rooms: txn.open_table(ROOMS)?,
            messages: txn.open_table(MESSAGES)?,
            keys: txn.open_table(KEYS)?,
            key_of: txn.open_table(KEY_OF)?,
            meta: txn.open_table(META)?,
        })
    }

    /// Gives the message the room's next seq and stores it with its key,
    /// forgetting what leaves the window.
    pub(super) fn publish(
        &mut self,
        keep: Retention,
        room: &RoomName,
        from: &str,
        body: Body,
        key: Option<u64>,
    ) -> DbResult<Published> {
        let name = room.as_str();
        if let Some(key) = key {
            if let Some(seq) = self.keys.get((name, from, key))? {
                return Ok(Published::Duplicate(seq.value()));
            }
        }
        let known = self.rooms.get(name)?.map(|g| g.value().0);
        let seq = match known {
            Some(next) => next,
            None => self.new_room(keep)?,
        };
        let frame = message_frame(room, seq, from, body);
        if keep.history > 0 {
            self.messages.insert((name, seq), frame.as_ref())?;
            if let Some(key) = key {
                self.keys.insert((name, from, key), seq)?;
                self.key_of.insert((name, seq), (from, key))?;
            }
        }
        if let Some(cut) = (seq + 1).checked_sub(keep.history + 1) {
            self.forget(name, ..=cut)?;
        }
        self.rooms.insert(name, (seq + 1, now_ms()))?;
        Ok(Published::New(seq, frame))
    }

    /// The first seq of a room the file has no state for, making space
    /// by dropping the room published to longest ago when it is full.
    fn new_room(&mut self, keep: Retention) -> DbResult<u64> {
        if self.rooms.len()? >= keep.max_rooms {
            let mut oldest: Option<(u64, u64, String)> = None;
            for entry in self.rooms.iter()? {
                let (name, value) = entry?;
                let (next, at) = value.value();
                if oldest.as_ref().is_none_or(|(t, _, _)| at < *t) {
                    oldest = Some((at, next, name.value().to_owned()));
                }
            }
            if let Some((_, next, victim)) = oldest {
                log::info!("room={victim} dropped from the storage file to make space");
                self.forget(&victim, ..)?;
                self.rooms.remove(victim.as_str())?;
                let floor = floor(&self.meta)?.max(next - 1);
                self.meta.insert("floor", floor)?;
            }
        }
        Ok(floor(&self.meta)? + 1)
    }

    /// Removes the messages and keys of `room`'s seqs in `seqs`.
    fn forget(&mut self, room: &str, seqs: impl std::ops::RangeBounds<u64>) -> DbResult<()> {
        use std::ops::Bound;
        let lo = match seqs.start_bound() {
            Bound::Included(s) => *s,
            Bound::Excluded(s) => s + 1,
            Bound::Unbounded => 0,
        };
        let hi = match seqs.end_bound() {
            Bound::Included(s) => *s,
            Bound::Excluded(s) => s.saturating_sub(1),
            Bound::Unbounded => u64::MAX,
        };
        self.messages
            .retain_in((room, lo)..=(room, hi), |_, _| false)?;
        let mut keys: Vec<(String, u64)> = Vec::new();
        for entry in self
            .key_of
            .extract_from_if((room, lo)..=(room, hi), |_, _| true)?
        {
            let (_, value) = entry?;
            let (sub, key) = value.value();
            keys.push((sub.to_owned(), key));
        }
        for (sub, key) in keys {
            self.keys.remove((room, sub.as_str(), key))?;
        }
        Ok(())
    }

    /// Removes retained message `seq`; false when it is not retained.
    pub(super) fn delete(&mut self, room: &RoomName, seq: u64) -> DbResult<bool> {
        Ok(self.messages.remove((room.as_str(), seq))?.is_some())
    }
}

fn floor(meta: &impl ReadableTable<&'static str, u64>) -> DbResult<u64> {
    Ok(meta.get("floor")?.map_or(0, |g| g.value()))
}

/// Where `room` stands and its retained frames with seq > `since`.
pub(super) fn view(
    txn: &redb::ReadTransaction,
    room: &RoomName,
    since: Option<u64>,
) -> DbResult<(View, Vec<Bytes>)> {
    let name = room.as_str();
    let messages = txn.open_table(MESSAGES)?;
    let mut all = messages.range((name, 0)..=(name, u64::MAX))?;
    let first = match all.next() {
        Some(entry) => Some(entry?.0.value().1),
        None => None,
    };
    let last = match all.next_back() {
        Some(entry) => Some(entry?.0.value().1),
        None => first,
    };
    let view = match (first, last) {
        (Some(first), Some(last)) => View { first, last },
        _ => {
            let next = match txn.open_table(ROOMS)?.get(name)? {
                Some(g) => g.value().0,
                None => floor(&txn.open_table(META)?)? + 1,
            };
            View {
                first: next,
                last: next - 1,
            }
        }
    };
    let mut replay = Vec::new();
    if let Some(since) = since {
        for entry in messages.range((name, since.saturating_add(1))..=(name, u64::MAX))? {
            replay.push(Bytes::copy_from_slice(entry?.1.value()));
        }
    }
    Ok((view, replay))
}
