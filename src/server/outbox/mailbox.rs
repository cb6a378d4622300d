//! The mailbox one session's queue is made of: the lock-protected state
//! its sending side ([`Outbox`](super::Outbox)) and receiving side
//! ([`Inbox`](super::Inbox)) share, and the waker the peer is polled with.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Wake, Waker};

use async_tungstenite::tungstenite::Bytes;

use super::queue::Queue;
use super::{Backlog, Queued};
use crate::protocol::Close;

#[derive(Debug)]
pub(super) struct Mailbox {
    pub(super) capacity: usize,
    pub(super) backlog: Arc<Backlog>,
    /// Presence events queued and not yet written
    /// ([`Outbox::push_notice`](super::Outbox::push_notice)).
    pub(super) notices: AtomicUsize,
    pub(super) state: Mutex<State>,
}

/// A queued presence event's share of the room's one encoding; dropping
/// it (once the frame is written, or never queued) uncounts it.
pub(super) struct Notice {
    pub(super) frame: Bytes,
    pub(super) mailbox: Arc<Mailbox>,
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
pub(super) struct State {
    pub(super) frames: Queue,
    /// The session's task waits on something other than this queue (a
    /// write its peer is not taking, a store request): a full queue is
    /// then its own, and nobody is held for it.
    pub(super) away: bool,
    /// Past its high-water mark with its task not away: counted in the
    /// backlog until taken below it.
    pub(super) pressed: bool,
    /// A publish of this session's reached a pressed queue: it reads no
    /// more from its peer until the backlog is clear (reported once as
    /// [`Mail::Held`](super::Mail::Held) by [`Inbox::next`](super::Inbox::next)).
    pub(super) held: bool,
    /// The first close code requested by someone else (eviction, an
    /// administrator, shutdown); later ones are dropped.
    pub(super) close: Option<Close>,
    /// The task waiting for mail, woken by the next push or close.
    pub(super) waker: Option<Waker>,
    /// The receiving side was dropped: pushes are dropped too.
    pub(super) gone: bool,
    /// The peer's side (polled with this mailbox as its waker) answered
    /// `Pending` and has not woken since (`session/interest.rs`).
    pub(super) peer_quiet: bool,
}

impl Mailbox {
    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Frames waiting past which a member that is not away presses back.
    pub(super) fn high_water(&self) -> usize {
        self.capacity.div_ceil(2)
    }

    /// Frames counted against the limit (presence events wait beside it).
    pub(super) fn waiting(&self, state: &State) -> usize {
        state
            .frames
            .len()
            .saturating_sub(self.notices.load(Ordering::Relaxed))
    }

    /// Takes the next frame; a queue taken below its mark is no longer
    /// pressed.
    pub(super) fn take(&self, state: &mut State) -> Option<Queued> {
        let frame = state.frames.pop_front();
        if state.pressed && self.waiting(state) < self.high_water() {
            state.release(&self.backlog);
        }
        frame
    }
}

impl State {
    /// Registers `waker` unless it is the one already stored.
    pub(super) fn wait(&mut self, waker: &Waker) {
        if !self.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            self.waker = Some(waker.clone());
        }
    }

    /// No longer pressed: uncounted from `backlog`.
    pub(super) fn release(&mut self, backlog: &Backlog) {
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
