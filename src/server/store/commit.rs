//! The storage thread: group commit, then hand-off in commit order.
//!
//! It takes the first waiting request, gathers whatever else is waiting
//! (and, with a `commit_window`, what arrives within it), writes every
//! publish and delete in one transaction and commits it. Only after the
//! commit returns does it call the fan-out, request by request in arrival
//! order, so a room's messages reach it in seq order and never before they
//! are in the file. Joins are answered after that, from the committed file.
//!
//! A failing commit answers every request of its group `Unavailable`:
//! nothing was handed to anyone, and the transaction left no trace. The
//! database is then reopened (at most once a second) before the next use.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_tungstenite::tungstenite::Bytes;
use redb::{Database, Durability, ReadableTableMetadata};

use super::file::Opener;
use super::tables::{self, DbError, DbResult, Published, Retention, Tables};
use super::{Delete, Fanout, Join, Publish, Reply, StoreError, MAX_GROUP};

/// How a join or delete is answered.
pub(super) type Answer = smol::channel::Sender<Result<(), StoreError>>;

/// One request for the storage thread.
#[derive(Debug)]
pub(super) enum Request {
    Publish(Publish),
    Delete(Delete, Answer),
    Join(Join, Answer),
}

impl Request {
    /// Answers with `error`; nothing was done.
    pub(super) fn fail(self, error: StoreError) {
        match self {
            Self::Publish(p) => p.reply.fail(error),
            Self::Delete(_, answer) | Self::Join(_, answer) => {
                let _ = answer.try_send(Err(error));
            }
        }
    }
}

/// A write carried out in the transaction, to hand over once committed.
enum Done {
    Published(Submitted, Published),
    Deleted(Delete, Answer, bool),
}

/// A publish whose body went into the transaction.
struct Submitted {
    room: crate::protocol::RoomName,
    reply: Reply,
}

impl Done {
    fn fail(self) {
        match self {
            Self::Published(p, _) => p.reply.fail(StoreError::Unavailable),
            Self::Deleted(_, answer, _) => {
                let _ = answer.try_send(Err(StoreError::Unavailable));
            }
        }
    }
}

/// Least time between attempts to reopen a failed database.
const REOPEN_EVERY: Duration = Duration::from_secs(1);

pub(super) struct Writer {
    opener: Opener,
    db: Option<Database>,
    last_open: Instant,
    keep: Retention,
    window: Duration,
    fanout: Arc<dyn Fanout>,
    rooms: Arc<AtomicUsize>,
}

impl Writer {
    pub(super) fn new(
        opener: Opener,
        db: Database,
        keep: Retention,
        window: Duration,
        fanout: Arc<dyn Fanout>,
        rooms: Arc<AtomicUsize>,
    ) -> Self {
        Self {
            opener,
            db: Some(db),
            last_open: Instant::now(),
            keep,
            window,
            fanout,
            rooms,
        }
    }

    /// Serves requests until every sender is gone.
    pub(super) fn run(mut self, requests: &Receiver<Request>) {
        while let Ok(first) = requests.recv() {
            let group = self.gather(first, requests);
            self.apply(group);
        }
    }

    fn gather(&self, first: Request, requests: &Receiver<Request>) -> Vec<Request> {
        let mut group = vec![first];
        let until = Instant::now() + self.window;
        while group.len() < MAX_GROUP {
            let wait = until.saturating_duration_since(Instant::now());
            match requests.recv_timeout(wait) {
                Ok(r) => group.push(r),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        group
    }

    /// The database, reopened if an earlier failure closed it.
    fn database(&mut self) -> Option<&Database> {
        if self.db.is_none() && self.last_open.elapsed() >= REOPEN_EVERY {
            self.last_open = Instant::now();
            match self.opener.open() {
                Ok((db, rooms)) => {
                    log::warn!(
                        "storage: {} reopened; publishing again",
                        self.opener.path.display()
                    );
                    self.rooms.store(rooms, Ordering::Relaxed);
                    self.db = Some(db);
                }
                // Said once by `alert=storage-failed`; each retry is detail.
                Err(e) => log::debug!("{e}"),
            }
        }
        self.db.as_ref()
    }

    fn failed(&mut self, e: &DbError) {
        log::error!(
            "alert=storage-failed file={} error={e}; publishes answer Unavailable until it works again",
            self.opener.path.display()
        );
        // redb refuses further writes after a failed commit: reopen later.
        self.db = None;
        self.last_open = Instant::now();
    }

    fn apply(&mut self, group: Vec<Request>) {
        let (joins, writes): (Vec<Request>, Vec<Request>) = group
            .into_iter()
            .partition(|r| matches!(r, Request::Join(..)));
        if !writes.is_empty() {
            self.write(writes);
        }
        for join in joins {
            if let Request::Join(join, answer) = join {
                let result = self.join(&join);
                let _ = answer.try_send(result);
            }
        }
    }

    fn write(&mut self, writes: Vec<Request>) {
        let keep = self.keep;
        let Some(db) = self.database() else {
            return writes
                .into_iter()
                .for_each(|r| r.fail(StoreError::Unavailable));
        };
        let mut done = Vec::with_capacity(writes.len());
        let mut rest = writes.into_iter();
        match transact(db, keep, &mut rest, &mut done) {
            Ok(rooms) => {
                self.rooms.store(rooms, Ordering::Relaxed);
                for d in done {
                    self.hand_over(d);
                }
            }
            Err(e) => {
                self.failed(&e);
                done.into_iter().for_each(Done::fail);
                rest.for_each(|r| r.fail(StoreError::Unavailable));
            }
        }
    }

    fn hand_over(&self, done: Done) {
        match done {
            Done::Published(p, Published::New(seq, frame)) => {
                self.fanout.committed(&p.room, seq, &frame, p.reply);
            }
            Done::Published(p, Published::Duplicate(seq)) => p.reply.ack(seq),
            Done::Deleted(d, answer, found) => {
                if found {
                    self.fanout.deleted(&d.room, d.seq, &d.by);
                }
                let _ = answer.try_send(if found {
                    Ok(())
                } else {
                    Err(StoreError::NotFound)
                });
            }
        }
    }

    fn join(&mut self, join: &Join) -> Result<(), StoreError> {
        let db = self.database().ok_or(StoreError::Unavailable)?;
        let read = db
            .begin_read()
            .map_err(DbError::from)
            .and_then(|txn| tables::view(&txn, &join.room, join.since));
        match read {
            Ok((view, replay)) => {
                let replay: Vec<Bytes> = replay;
                self.fanout.joined(join, view, &replay);
                Ok(())
            }
            Err(e) => {
                self.failed(&e);
                Err(StoreError::Unavailable)
            }
        }
    }
}

/// Writes `writes` in one transaction and commits it; returns the rooms
/// in the file. On error, what is in `done` and what is left in `writes`
/// is not committed.
fn transact(
    db: &Database,
    keep: Retention,
    writes: &mut impl Iterator<Item = Request>,
    done: &mut Vec<Done>,
) -> DbResult<usize> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate);
    let rooms = {
        let mut t = Tables::open(&txn)?;
        for request in writes.by_ref() {
            match request {
                Request::Publish(p) => {
                    let step = t.publish(keep, &p.room, &p.from, p.body, p.key);
                    let p0 = Submitted {
                        room: p.room,
                        reply: p.reply,
                    };
                    match step {
                        Ok(published) => done.push(Done::Published(p0, published)),
                        Err(e) => {
                            p0.reply.fail(StoreError::Unavailable);
                            return Err(e);
                        }
                    }
                }
                Request::Delete(d, answer) => match t.delete(&d.room, d.seq) {
                    Ok(found) => done.push(Done::Deleted(d, answer, found)),
                    Err(e) => {
                        let _ = answer.try_send(Err(StoreError::Unavailable));
                        return Err(e);
                    }
                },
                Request::Join(..) => request.fail(StoreError::Unavailable),
            }
        }
        drop(t);
        txn.open_table(tables::ROOMS)?.len()?
    };
    txn.commit()?;
    Ok(usize::try_from(rooms).unwrap_or(usize::MAX))
}
