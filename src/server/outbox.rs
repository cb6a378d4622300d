//! A session's outbound queue: the only way frames reach a peer.
//!
//! Publishers never wait on a reader: [`Outbox::push`] never blocks, and a
//! full queue is the signal to evict the session with 4009 (smol's
//! chat-server example and mini-redis do the same). The push only reports
//! [`Evicted`]; the caller (rooms, the session's own state) carries it out
//! with [`Outbox::evict`], so every eviction is visible where it happens.
//!
//! The channel itself is unbounded and the limit is checked on its length:
//! a bounded channel reserves every slot up front (about 40 bytes each, for
//! every idle session), while this one allocates only for frames actually
//! waiting. Two publishers racing past the check can overshoot the limit by
//! one frame each, which the memory bound allows for.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use async_tungstenite::tungstenite::Bytes;
use smol::channel::{Receiver, Sender};

use crate::protocol::{server_to_vec, Close, ServerFrame};

/// The sending side of one session's queue; cheap to clone into rooms.
#[derive(Debug, Clone)]
pub(crate) struct Outbox {
    session: u64,
    frames: Sender<Queued>,
    capacity: usize,
    control: Sender<Close>,
    /// Host subscriptions are never evicted: a full queue counts the frames
    /// they missed here instead.
    missed: Option<Arc<AtomicU64>>,
    /// Presence events queued and not yet written ([`Outbox::push_notice`]).
    notices: Arc<AtomicUsize>,
}

/// A queued presence event's share of the room's one encoding; dropping
/// it (once the frame is written, or never queued) uncounts it.
struct Notice {
    frame: Bytes,
    queued: Arc<AtomicUsize>,
}

impl AsRef<[u8]> for Notice {
    fn as_ref(&self) -> &[u8] {
        &self.frame
    }
}

impl Drop for Notice {
    fn drop(&mut self) {
        self.queued.fetch_sub(1, Ordering::Relaxed);
    }
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

/// The receiving side, owned by the session's task.
#[derive(Debug)]
pub(crate) struct Inbox {
    pub(crate) frames: Receiver<Queued>,
    /// The first close code requested by someone else (eviction, an
    /// administrator, shutdown); later ones are dropped.
    pub(crate) control: Receiver<Close>,
}

/// Makes a session's queue holding at most `capacity` frames.
pub(crate) fn outbox(session: u64, capacity: usize) -> (Outbox, Inbox) {
    let (frames_tx, frames_rx) = smol::channel::unbounded();
    let (control_tx, control_rx) = smol::channel::bounded(1);
    (
        Outbox {
            session,
            frames: frames_tx,
            capacity: capacity.max(1),
            control: control_tx,
            missed: None,
            notices: Arc::new(AtomicUsize::new(0)),
        },
        Inbox {
            frames: frames_rx,
            control: control_rx,
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
        // Presence events wait beside the limit (see `push_notice`).
        let waiting = self.frames.len();
        if waiting.saturating_sub(self.notices.load(Ordering::Relaxed)) >= self.capacity {
            return Err(Evicted);
        }
        let _ = self.frames.try_send(Queued { bytes, published });
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
        if self.notices.load(Ordering::Relaxed) >= slack {
            return Err(Evicted);
        }
        self.notices.fetch_add(1, Ordering::Relaxed);
        let notice = Notice {
            frame: frame.clone(),
            queued: Arc::clone(&self.notices),
        };
        let _ = self.frames.try_send(Queued {
            bytes: Bytes::from_owner(notice),
            published: None,
        });
        Ok(())
    }

    /// Queues a retained message replayed by `Join{since}`, past the
    /// queue's limit if need be: the replay is bounded by `history` and is
    /// what the joiner asked for, so it must not get the joiner evicted
    /// (with `history >= outbound_queue` it otherwise would, every time).
    /// The memory bound counts `history` more frames per session for it.
    pub(crate) fn push_replay(&self, bytes: Bytes) {
        let _ = self.frames.try_send(Queued {
            bytes,
            published: None,
        });
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
        let _ = self.control.try_send(code);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
