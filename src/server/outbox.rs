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

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use std::time::Instant;

use async_tungstenite::tungstenite::Bytes;

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
    Frame(Queued),
}

#[derive(Debug)]
struct Mailbox {
    capacity: usize,
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
    /// The first close code requested by someone else (eviction, an
    /// administrator, shutdown); later ones are dropped.
    close: Option<Close>,
    /// The task waiting for mail, woken by the next push or close.
    waker: Option<Waker>,
    /// The receiving side was dropped: pushes are dropped too.
    gone: bool,
}

impl Mailbox {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
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

/// Makes a session's queue holding at most `capacity` frames.
pub(crate) fn outbox(session: u64, capacity: usize) -> (Outbox, Inbox) {
    let mailbox = Arc::new(Mailbox {
        capacity: capacity.max(1),
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
/// counts missed frames in `missed` instead of evicting.
pub(crate) fn host_outbox(id: u64, capacity: usize, missed: Arc<AtomicU64>) -> (Outbox, Inbox) {
    let (mut outbox, inbox) = outbox(id, capacity);
    outbox.missed = Some(missed);
    (outbox, inbox)
}

impl Inbox {
    /// The next mail: a close request before any frame.
    pub(crate) async fn next(&self) -> Mail {
        poll_fn(|cx| {
            let mut state = self.frames.0.state();
            if let Some(close) = state.close {
                return Poll::Ready(Mail::Close(close));
            }
            if let Some(frame) = state.take_frame() {
                return Poll::Ready(Mail::Frame(frame));
            }
            state.wait(cx.waker());
            Poll::Pending
        })
        .await
    }
}

impl Frames {
    /// A frame already waiting.
    pub(crate) fn try_recv(&self) -> Result<Queued, Empty> {
        self.0.state().take_frame().ok_or(Empty)
    }

    /// Waits for the next frame; `Err` once a close was requested.
    pub(crate) async fn recv(&self) -> Result<Queued, Empty> {
        poll_fn(|cx| {
            let mut state = self.0.state();
            if state.close.is_some() {
                return Poll::Ready(Err(Empty));
            }
            if let Some(frame) = state.take_frame() {
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
        self.enqueue(Queued { bytes, published }, Some(self.mailbox.capacity))
    }

    /// Queues `frame` unless `limit` frames are already waiting (presence
    /// events wait beside the limit, see [`Outbox::push_notice`]); wakes the
    /// session when its queue was empty (otherwise it has been woken
    /// already and takes the frame with the others).
    fn enqueue(&self, frame: Queued, limit: Option<usize>) -> Result<(), Evicted> {
        let waker = {
            let mut state = self.mailbox.state();
            if state.gone {
                return Ok(());
            }
            let notices = self.mailbox.notices.load(Ordering::Relaxed);
            let waiting = state.frames.len().saturating_sub(notices);
            if limit.is_some_and(|limit| waiting >= limit) {
                return Err(Evicted);
            }
            state.frames.push_back(frame);
            if state.frames.len() > 1 {
                return Ok(());
            }
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
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
        self.enqueue(queued, None)
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
    pub(crate) fn close(&self, code: Close) {
        let waker = {
            let mut state = self.mailbox.state();
            if state.close.is_some() {
                return;
            }
            state.close = Some(code);
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u8) -> Bytes {
        Bytes::from(vec![n])
    }

    #[test]
    fn a_full_queue_evicts_and_keeps_what_it_holds() {
        let (out, inbox) = outbox(1, 2);
        assert_eq!(out.push(frame(1)), Ok(()));
        assert_eq!(out.push(frame(2)), Ok(()));
        assert_eq!(out.push(frame(3)), Err(Evicted));
        // A replay may pass the limit.
        out.push_replay(frame(4));
        let got: Vec<u8> = std::iter::from_fn(|| inbox.frames.try_recv().ok())
            .map(|q| q.bytes[0])
            .collect();
        assert_eq!(got, [1, 2, 4]);
    }

    #[test]
    fn the_first_close_wins_and_comes_before_frames() {
        let (out, inbox) = outbox(1, 8);
        assert_eq!(out.push(frame(1)), Ok(()));
        out.close(Close::TooSlow);
        out.close(Close::GoingAway);
        assert!(matches!(
            smol::block_on(inbox.next()),
            Mail::Close(Close::TooSlow)
        ));
        assert_eq!(inbox.control.try_recv(), Ok(Close::TooSlow));
        // The frame is still there for a shutdown's drain.
        assert!(inbox.frames.try_recv().is_ok());
    }

    #[test]
    fn a_push_wakes_the_waiting_session() {
        let (out, inbox) = outbox(1, 8);
        let pusher = std::thread::spawn(move || {
            let _ = out.push(frame(7));
            out
        });
        let mail = smol::block_on(inbox.next());
        assert!(matches!(mail, Mail::Frame(q) if q.bytes[..] == [7]));
        drop(pusher.join());
    }

    #[test]
    fn a_gone_session_drops_pushes() {
        let (out, inbox) = outbox(1, 1);
        drop(inbox);
        assert_eq!(out.push(frame(1)), Ok(()));
        assert_eq!(out.push(frame(2)), Ok(()));
    }

    #[test]
    fn presence_events_wait_beside_the_limit_up_to_their_slack() {
        let (outbox, inbox) = outbox(1, 2);
        let notice = Bytes::from_static(b"joined");
        for _ in 0..3 {
            assert_eq!(outbox.push_notice(&notice, 3), Ok(()));
        }
        // The queue's own two frames still fit, and a third does not.
        assert_eq!(outbox.push(Bytes::from_static(b"m1")), Ok(()));
        assert_eq!(outbox.push(Bytes::from_static(b"m2")), Ok(()));
        assert_eq!(outbox.push(Bytes::from_static(b"m3")), Err(Evicted));
        // Writing a notice (dropping it) makes room for another.
        let first = inbox.frames.try_recv().unwrap();
        assert_eq!(&first.bytes[..], b"joined");
        drop(first);
        assert_eq!(outbox.push_notice(&notice, 3), Ok(()));
        // Past the slack the member is too slow.
        assert_eq!(outbox.push_notice(&notice, 3), Err(Evicted));
        assert!(std::mem::size_of::<Notice>() <= 48);
    }

    #[test]
    fn a_drained_burst_gives_its_block_back() {
        let (out, inbox) = outbox(1, 64);
        for n in 0..64 {
            assert_eq!(out.push(frame(n)), Ok(()));
        }
        while inbox.frames.try_recv().is_ok() {}
        assert_eq!(out.mailbox.state().frames.capacity(), 0);
    }
}
