//! Reading the peer only when it may have sent something.
//!
//! The session's race is built anew every turn, and async-io tries a read
//! before it waits, so every turn (most of them a fan-out batch) cost a
//! `recv` answered `EAGAIN`: one syscall per wake beside the batch's one
//! `writev`. [`poll_peer`] polls the peer with the session's mailbox as
//! its waker, which notes the wake before passing it on to the task
//! (`outbox/mailbox.rs`), and skips the poll while the peer's last answer was
//! `Pending` and nothing woke it since. That is the futures contract (poll
//! again only once woken), kept across turns. The note lives in the
//! mailbox, which every session already has: an allocation of its own
//! cost 64 bytes per session.

use std::task::{Context, Poll};

use crate::server::outbox::Inbox;

/// Runs `poll` (the peer's side) with the mailbox's waker, unless it
/// answered `Pending` last time and has not been woken since.
pub(super) fn poll_peer<T>(
    inbox: &Inbox,
    cx: &mut Context<'_>,
    poll: impl FnOnce(&mut Context<'_>) -> Poll<T>,
) -> Poll<T> {
    if !inbox.peer_turn(cx.waker()) {
        return Poll::Pending;
    }
    // Made per poll (one reference count), so the task keeps none; it is
    // the same waker every time, so the peer's side keeps the one it has.
    let waker = inbox.peer_waker();
    let answer = poll(&mut Context::from_waker(&waker));
    if answer.is_ready() {
        inbox.peer_answered();
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::outbox::outbox;
    use std::cell::{Cell, RefCell};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    /// Counts the wakes that reach the task.
    struct Task(AtomicUsize);

    impl Wake for Task {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn polls_again_only_once_woken_or_after_an_answer() {
        let (_outbox, inbox) = outbox(1, 8);
        let task = Arc::new(Task(AtomicUsize::new(0)));
        let task_waker = Waker::from(Arc::clone(&task));
        let mut cx = Context::from_waker(&task_waker);
        let polls = Cell::new(0);
        let saved = RefCell::new(None::<Waker>);
        let pending = |cx: &mut Context<'_>| {
            polls.set(polls.get() + 1);
            *saved.borrow_mut() = Some(cx.waker().clone());
            Poll::<()>::Pending
        };
        let wake = || saved.borrow_mut().take().unwrap().wake();
        assert!(poll_peer(&inbox, &mut cx, pending).is_pending());
        assert!(poll_peer(&inbox, &mut cx, pending).is_pending());
        assert_eq!(polls.get(), 1);
        // The peer's side wakes: the task is woken, and polls it again.
        wake();
        assert_eq!(task.0.load(Ordering::SeqCst), 1);
        assert!(poll_peer(&inbox, &mut cx, pending).is_pending());
        assert_eq!(polls.get(), 2);
        // After a Ready answer it is polled every time.
        wake();
        assert!(poll_peer(&inbox, &mut cx, |_| Poll::Ready(())).is_ready());
        assert!(poll_peer(&inbox, &mut cx, pending).is_pending());
        assert_eq!(polls.get(), 3);
    }

    #[test]
    fn a_wake_during_the_poll_is_kept() {
        let (_outbox, inbox) = outbox(1, 8);
        let mut cx = Context::from_waker(Waker::noop());
        let polls = Cell::new(0);
        let woken_at_once = |cx: &mut Context<'_>| {
            polls.set(polls.get() + 1);
            cx.waker().wake_by_ref();
            Poll::<()>::Pending
        };
        assert!(poll_peer(&inbox, &mut cx, woken_at_once).is_pending());
        assert!(poll_peer(&inbox, &mut cx, woken_at_once).is_pending());
        assert_eq!(polls.get(), 2);
    }
}
