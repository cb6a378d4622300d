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
//! fields. The queue allocates only for frames actually waiting, and gives
//! its block back once it has drained. Pushes are checked against the
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

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Wake, Waker};
use std::time::Instant;

use async_tungstenite::tungstenite::Bytes;
use smol::future::poll_once;

pub(crate) use super::backlog::Backlog;

use crate::protocol::{server_to_vec, Close, ServerFrame};

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

/// Nothing is waiting (`try_recv`), or the queue's session is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Empty;

/// What the session task takes from its mailbox, close requests first.
#[derive(Debug)]
pub(crate) enum Mail {
    Close(Close),
    /// A publish of this session's reached a pressed queue: it must wait
    /// for [`Inbox::backlog_cleared`] before reading more from its peer.
    Held,
    /// Frames are waiting (left in the queue for [`Frames::try_recv`]: the
    /// session's task keeps none of them across a wait).
    Frames,
}

#[derive(Debug)]
struct Mailbox {
    capacity: usize,
    backlog: Arc<Backlog>,
    /// Presence events queued and not yet written ([`Outbox::push_notice`]).
    notices: AtomicUsize,
    state: Mutex<State>,
}

/// A queued presence event's share of the room's one encoding; dropping
/// it (once the frame is written, or never queued) uncounts it.
struct Notice {
    frame: Bytes,
    mailbox: Arc<Mailbox>,
}

impl AsRef<[u8]> for Notice {
    fn as_ref(&self) -> &[u8] {
        &self.frame
    }
}

impl Drop for Notice {
    fn drop(&mut self) {
        self.mailbox.notices.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Debug, Default)]
struct State {
    frames: VecDeque<Queued>,
    /// The session's task waits on something other than this queue (a
    /// write its peer is not taking, a store request): a full queue is
    /// then its own, and nobody is held for it.
    away: bool,
    /// Past its high-water mark with its task not away: counted in the
    /// backlog until taken below it.
    pressed: bool,
    /// A publish of this session's reached a pressed queue: it reads no
    /// more from its peer until the backlog is clear ([`Inbox::take_hold`]).
    held: bool,
    /// The first close code requested by someone else (eviction, an
    /// administrator, shutdown); later ones are dropped.
    close: Option<Close>,
    /// The task waiting for mail, woken by the next push or close.
    waker: Option<Waker>,
    /// The receiving side was dropped: pushes are dropped too.
    gone: bool,
    /// The peer's side (polled with this mailbox as its waker) answered
    /// `Pending` and has not woken since (`session/interest.rs`).
    peer_quiet: bool,
}

impl Mailbox {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Frames waiting past which a member that is not away presses back.
    fn high_water(&self) -> usize {
        self.capacity.div_ceil(2)
    }

    /// Frames counted against the limit (presence events wait beside it).
    fn waiting(&self, state: &State) -> usize {
        state
            .frames
            .len()
            .saturating_sub(self.notices.load(Ordering::Relaxed))
    }

    /// Takes the next frame; a queue taken below its mark is no longer
    /// pressed.
    fn take(&self, state: &mut State) -> Option<Queued> {
        let frame = state.take_frame();
        if state.pressed && self.waiting(state) < self.high_water() {
            state.release(&self.backlog);
        }
        frame
    }
}

impl State {
    /// Registers `waker` unless it is the one already stored.
    fn wait(&mut self, waker: &Waker) {
        if !self.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            self.waker = Some(waker.clone());
        }
    }

    fn take_frame(&mut self) -> Option<Queued> {
        let frame = self.frames.pop_front();
        if self.frames.is_empty() {
            // Drained: give the block back, so an idle session holds none
            // (the next push allocates 4 slots again, once per batch).
            self.frames = VecDeque::new();
        }
        frame
    }

    /// No longer pressed: uncounted from `backlog`.
    fn release(&mut self, backlog: &Backlog) {
        if std::mem::take(&mut self.pressed) {
            backlog.unpress();
        }
    }
}

/// The waker the session polls its peer's side with: it notes the wake
/// (`peer_quiet`) and passes it on to the task, as a push does. Kept here,
/// not in an allocation of its own (64 bytes per session).
impl Wake for Mailbox {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let waker = {
            let mut state = self.state();
            state.peer_quiet = false;
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The receiving side, owned by the session's task: its frames and its
/// close requests, two views of one mailbox.
#[derive(Debug)]
pub(crate) struct Inbox {
    pub(crate) frames: Frames,
    pub(crate) control: Control,
}

/// The frames queued for the session.
#[derive(Debug)]
pub(crate) struct Frames(Arc<Mailbox>);

/// The close requested for the session, if any.
#[derive(Debug)]
pub(crate) struct Control(Arc<Mailbox>);

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

impl Inbox {
    /// The next mail: a close request, then a hold, before frames. The
    /// hold is learnt under the same lock as the frames, so a turn of the
    /// session's task locks its mailbox once to learn both.
    pub(crate) async fn next(&self) -> Mail {
        let mailbox = &*self.frames.0;
        poll_fn(|cx| {
            let mut state = mailbox.state();
            if let Some(close) = state.close {
                return Poll::Ready(Mail::Close(close));
            }
            if std::mem::take(&mut state.held) {
                return Poll::Ready(Mail::Held);
            }
            if !state.frames.is_empty() {
                return Poll::Ready(Mail::Frames);
            }
            state.wait(cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Runs `work` (a store request) with the task marked away from its
    /// queue while it waits, so nobody is held for this session meanwhile.
    pub(crate) async fn away_while<F: Future>(&self, work: F) -> F::Output {
        let mut work = std::pin::pin!(work);
        if let Some(done) = poll_once(&mut work).await {
            return done;
        }
        self.frames.set_away(true);
        let done = work.await;
        self.frames.set_away(false);
        done
    }

    /// Whether a publish of this session's reached a pressed queue since
    /// the last call (what [`Inbox::next`] reports as [`Mail::Held`]).
    #[cfg(test)]
    pub(crate) fn take_hold(&self) -> bool {
        std::mem::take(&mut self.frames.0.state().held)
    }

    /// Until no queue of the server is pressed.
    pub(crate) async fn backlog_cleared(&self) {
        self.frames.0.backlog.cleared().await;
    }

    /// The waker to poll the peer's side with (see [`Inbox::peer_turn`]).
    pub(crate) fn peer_waker(&self) -> Waker {
        Waker::from(Arc::clone(&self.frames.0))
    }

    /// Whether the peer's side is to be polled now: not when it answered
    /// `Pending` and has not woken since. Registers `task` to be woken by
    /// the peer, and marks the peer quiet until it wakes or answers again
    /// ([`Inbox::peer_answered`]), so a wake during the poll is kept.
    pub(crate) fn peer_turn(&self, task: &Waker) -> bool {
        let mut state = self.frames.0.state();
        state.wait(task);
        !std::mem::replace(&mut state.peer_quiet, true)
    }

    /// The peer's side answered `Ready`: more may be buffered above the
    /// socket, so it is polled again next time.
    pub(crate) fn peer_answered(&self) {
        self.frames.0.state().peer_quiet = false;
    }
}

impl Frames {
    /// A frame already waiting.
    pub(crate) fn try_recv(&self) -> Result<Queued, Empty> {
        let mut state = self.0.state();
        self.0.take(&mut state).ok_or(Empty)
    }

    /// Marks the session's task as waiting on something other than this
    /// queue (`true`: a write its peer does not take, a store request) or
    /// back at it (`false`). Going away unpresses its queue.
    pub(crate) fn set_away(&self, away: bool) {
        let mut state = self.0.state();
        state.away = away;
        if away {
            state.release(&self.0.backlog);
        }
    }

    /// Waits for the next frame; `Err` once a close was requested.
    pub(crate) async fn recv(&self) -> Result<Queued, Empty> {
        let mailbox = &*self.0;
        poll_fn(|cx| {
            let mut state = mailbox.state();
            if state.close.is_some() {
                return Poll::Ready(Err(Empty));
            }
            if let Some(frame) = mailbox.take(&mut state) {
                return Poll::Ready(Ok(frame));
            }
            state.wait(cx.waker());
            Poll::Pending
        })
        .await
    }
}

impl Drop for Frames {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.gone = true;
        state.frames = VecDeque::new();
        state.waker = None;
        state.release(&self.0.backlog);
    }
}

impl Control {
    /// The close request, if one was made.
    #[cfg(test)]
    pub(crate) fn try_recv(&self) -> Result<Close, Empty> {
        self.0.state().close.ok_or(Empty)
    }

    /// Waits for a close request.
    pub(crate) async fn recv(&self) -> Close {
        poll_fn(|cx| {
            let mut state = self.0.state();
            match state.close {
                Some(close) => Poll::Ready(close),
                None => {
                    state.wait(cx.waker());
                    Poll::Pending
                }
            }
        })
        .await
    }
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
#[path = "outbox_tests.rs"]
mod tests;
