//! The receiving side of one session's queue, owned by its task: the next
//! mail (close request, hold, frames), the frames themselves, and the
//! marks the task leaves on its mailbox (away, the peer's turn).

use std::future::{poll_fn, Future};
use std::sync::Arc;
use std::task::{Poll, Waker};

use smol::future::poll_once;

use super::mailbox::Mailbox;
use super::queue::Queue;
use super::Queued;
use crate::protocol::Close;

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

/// The receiving side, owned by the session's task: its frames and its
/// close requests, two views of one mailbox.
#[derive(Debug)]
pub(crate) struct Inbox {
    pub(crate) frames: Frames,
    pub(crate) control: Control,
}

/// The frames queued for the session.
#[derive(Debug)]
pub(crate) struct Frames(pub(super) Arc<Mailbox>);

/// The close requested for the session, if any.
#[derive(Debug)]
pub(crate) struct Control(pub(super) Arc<Mailbox>);

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

    /// Takes the frames already waiting, oldest first, under one lock: at
    /// most `N`, and none after the one `more` answers `false` for. A
    /// batch's writer takes its frames this way (one lock per batch, not
    /// per frame) and learns their sizes before it writes any.
    pub(crate) fn take_batch<const N: usize>(
        &self,
        mut more: impl FnMut(&Queued) -> bool,
    ) -> heapless::Vec<Queued, N> {
        let mut batch = heapless::Vec::new();
        let mut state = self.0.state();
        while !batch.is_full() {
            let Some(frame) = self.0.take(&mut state) else {
                break;
            };
            let go_on = more(&frame);
            // Not full: checked above, so the push cannot fail.
            let _ = batch.push(frame);
            if !go_on {
                break;
            }
        }
        batch
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
        state.frames = Queue::default();
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
