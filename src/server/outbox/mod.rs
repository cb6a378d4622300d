//! A session's outbound queue: the only way frames reach a peer.
//!
//! Publishers never wait on a reader: [`Outbox::push`] never blocks, and a
//! full queue is the signal to evict the session with 4009 (smol's
//! chat-server example and mini-redis do the same). The push only reports
//! [`Evicted`]; the caller (rooms, the session's own state) carries it out
//! with [`Outbox::evict`], so every eviction is visible where it happens.
//!
//! One small mailbox per session (a mutex over a queue, the first close
//! request and the session task's waker) carries both frames and close
//! requests. Two `async-channel`s did the same at about 1.5 KiB per idle
//! session (cache padding and event-listener nodes); this costs its
//! fields. A lone frame waits inline in the mailbox; the queue allocates a
//! block only while more than one waits, and gives it back once it has
//! drained ([`queue`]). Pushes are checked against the
//! limit under the lock, so the queue never exceeds `outbound_queue`
//! (replays aside, see [`Outbox::push_replay`]).
//!
//! A full queue must mean a slow peer, not a busy server. With several
//! executor threads on shared cores, a member's task can sit woken in one
//! thread's run queue for a whole time slice (milliseconds) while the other
//! thread keeps fanning publishes into its queue; measured: 4009 for every
//! member of an 8-publisher burst at `SMOL_THREADS=2`. So a queue past its
//! high-water mark (half the limit) whose task is not *away* (waiting on a
//! write its peer does not take, or on the store) is *pressed*, counted in
//! the server's [`Backlog`]. A publisher whose publish reached a pressed
//! queue is held: it reads nothing more from its peer until no queue is
//! pressed (each is taken below its mark, or its task goes away, closes or
//! ends). Its TCP window then slows its client, as it should when the
//! server, not a reader, is the bottleneck. A peer that does not read still
//! fills its queue: its write waits, its task is away, nobody is held for
//! it, and the push that finds its queue full evicts it (4009). Between a
//! queue's mark and its limit there is room for half the limit of
//! publishers bursting at once (each reads on only after a held push).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_tungstenite::tungstenite::Bytes;

pub(crate) use super::backlog::Backlog;
pub(crate) use inbox::{Control, Frames, Inbox, Mail};
// Only tests name it; the crate meets it as `Frames::try_recv`'s error.
#[cfg(test)]
pub(crate) use inbox::Empty;

use crate::protocol::{server_to_vec, Close, ServerFrame};
use mailbox::{Mailbox, Notice};

mod inbox;
mod mailbox;
mod queue;

/// The sending side of one session's queue; cheap to clone into rooms.
#[derive(Debug, Clone)]
pub(crate) struct Outbox {
    session: u64,
    mailbox: Arc<Mailbox>,
    /// Host subscriptions are never evicted: a full queue counts the frames
    /// they missed here instead.
    missed: Option<Arc<AtomicU64>>,
}

/// One queued frame. `published` is when a `Message` was accepted, so the
/// session can measure delivery latency when it writes the frame.
#[derive(Debug)]
pub(crate) struct Queued {
    pub(crate) bytes: Bytes,
    pub(crate) published: Option<Instant>,
}

/// A push found the queue full: the frame was not queued, and the member
/// must be evicted ([`Outbox::evict`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a full queue means the member must be evicted"]
pub(crate) struct Evicted;

/// Makes a session's queue holding at most `capacity` frames, on a
/// backlog of its own (see [`outbox_in`]).
pub(crate) fn outbox(session: u64, capacity: usize) -> (Outbox, Inbox) {
    outbox_in(session, capacity, &Arc::default())
}

/// Makes a session's queue holding at most `capacity` frames, counted in
/// the server's `backlog` when pressed.
pub(crate) fn outbox_in(session: u64, capacity: usize, backlog: &Arc<Backlog>) -> (Outbox, Inbox) {
    let mailbox = Arc::new(Mailbox {
        capacity: capacity.max(1),
        backlog: Arc::clone(backlog),
        notices: AtomicUsize::new(0),
        state: Mutex::default(),
    });
    (
        Outbox {
            session,
            mailbox: Arc::clone(&mailbox),
            missed: None,
        },
        Inbox {
            frames: Frames(Arc::clone(&mailbox)),
            control: Control(mailbox),
        },
    )
}

/// Makes a host subscription's queue: like a session's, but a full queue
/// counts missed frames in `missed` instead of evicting (and never
/// presses: nobody is held for a host's reader).
pub(crate) fn host_outbox(id: u64, capacity: usize, missed: Arc<AtomicU64>) -> (Outbox, Inbox) {
    let (mut outbox, inbox) = outbox(id, capacity);
    outbox.missed = Some(missed);
    (outbox, inbox)
}

impl Outbox {
    /// The session this queue belongs to.
    pub(crate) fn session(&self) -> u64 {
        self.session
    }

    /// Queues an encoded frame, or reports a full queue. A session that
    /// is gone drops the frame silently: it is ending anyway.
    pub(crate) fn push(&self, frame: Bytes) -> Result<(), Evicted> {
        self.push_published(frame, None)
    }

    /// [`Outbox::push`] for a `Message` accepted at `published`.
    pub(crate) fn push_published(
        &self,
        bytes: Bytes,
        published: Option<Instant>,
    ) -> Result<(), Evicted> {
        self.deliver(bytes, published).map(drop)
    }

    /// [`Outbox::push_published`] for the fan-out: `Ok(true)` when the
    /// queue is pressed (past its high-water mark, its task not away), so
    /// the publisher is to be held ([`Outbox::hold`]).
    pub(crate) fn deliver(
        &self,
        bytes: Bytes,
        published: Option<Instant>,
    ) -> Result<bool, Evicted> {
        let limit = self.mailbox.capacity;
        self.enqueue(Queued { bytes, published }, Some(limit))
    }

    /// Queues `frame` unless `limit` frames are already waiting (presence
    /// events wait beside the limit, see [`Outbox::push_notice`]); wakes the
    /// session when its queue was empty (otherwise it has been woken
    /// already and takes the frame with the others). `Ok(true)`: the queue
    /// is pressed; only counted frames press it, and never a host
    /// subscription's.
    fn enqueue(&self, frame: Queued, limit: Option<usize>) -> Result<bool, Evicted> {
        let mailbox = &*self.mailbox;
        let (waker, pressed) = {
            let mut state = mailbox.state();
            if state.gone {
                return Ok(false);
            }
            let waiting = mailbox.waiting(&state);
            if limit.is_some_and(|limit| waiting >= limit) {
                return Err(Evicted);
            }
            state.frames.push_back(frame);
            if limit.is_some()
                && self.missed.is_none()
                && !state.away
                && !state.pressed
                && waiting + 1 >= mailbox.high_water()
            {
                state.pressed = true;
                mailbox.backlog.press();
            }
            let pressed = state.pressed;
            if state.frames.len() > 1 {
                return Ok(pressed);
            }
            (state.waker.take(), pressed)
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(pressed)
    }

    /// Holds this session (a publisher): it reads nothing more from its
    /// peer until no queue is pressed (see the module docs).
    pub(crate) fn hold(&self) {
        self.mailbox.state().held = true;
    }

    /// What a full queue costs its member: a session is closed with 4009;
    /// a host subscription is never evicted, it counts the frame missed.
    pub(crate) fn evict(&self) {
        match &self.missed {
            Some(missed) => {
                missed.fetch_add(1, Ordering::Relaxed);
            }
            None => self.close(Close::TooSlow),
        }
    }

    /// Queues `frame`, evicting the member if its queue is full.
    pub(crate) fn push_or_evict(&self, frame: Bytes, published: Option<Instant>) {
        if let Err(Evicted) = self.push_published(frame, published) {
            self.evict();
        }
    }

    /// Queues a presence event (`MemberJoined` / `MemberLeft`) beside the
    /// queue's limit: at most `slack` of them wait at once, so a reconnect
    /// storm (each arrival told to every member before their tasks have
    /// had a turn to write) does not evict members who read fine. Beyond
    /// `slack` the member is too slow, as with a full queue. The memory
    /// bound counts `slack` of these per session.
    pub(crate) fn push_notice(&self, frame: &Bytes, slack: usize) -> Result<(), Evicted> {
        if self.mailbox.notices.load(Ordering::Relaxed) >= slack {
            return Err(Evicted);
        }
        self.mailbox.notices.fetch_add(1, Ordering::Relaxed);
        let notice = Notice {
            frame: frame.clone(),
            mailbox: Arc::clone(&self.mailbox),
        };
        let queued = Queued {
            bytes: Bytes::from_owner(notice),
            published: None,
        };
        self.enqueue(queued, None).map(drop)
    }

    /// Queues a retained message replayed by `Join{since}`, past the
    /// queue's limit if need be: the replay is bounded by `history` and is
    /// what the joiner asked for, so it must not get the joiner evicted
    /// (with `history >= outbound_queue` it otherwise would, every time).
    /// The memory bound counts `history` more frames per session for it.
    pub(crate) fn push_replay(&self, bytes: Bytes) {
        let frame = Queued {
            bytes,
            published: None,
        };
        let _ = self.enqueue(frame, None);
    }

    /// Encodes and queues one frame (see [`Outbox::push`]).
    pub(crate) fn send(&self, frame: &ServerFrame) -> Result<(), Evicted> {
        self.push(Bytes::from(server_to_vec(frame)))
    }

    /// [`Outbox::send`], evicting the member if its queue is full.
    pub(crate) fn send_or_evict(&self, frame: &ServerFrame) {
        if let Err(Evicted) = self.send(frame) {
            self.evict();
        }
    }

    /// Asks the session to close with `code`; the first request wins.
    /// Publishers held for its queue read on: it is leaving.
    pub(crate) fn close(&self, code: Close) {
        let waker = {
            let mut state = self.mailbox.state();
            if state.close.is_some() {
                return;
            }
            state.close = Some(code);
            state.release(&self.mailbox.backlog);
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests;
