//! Reading the peer only when it may have sent something.
//!
//! The session's race is built anew every turn, and async-io tries a read
//! before it waits, so every turn (most of them a fan-out batch) cost a
//! `recv` answered `EAGAIN`: one syscall per wake beside the batch's one
//! `writev`. [`Interest`] polls the peer with a waker of its own that
//! notes the wake before passing it on to the task, and skips the poll
//! while the peer's last answer was `Pending` and nothing woke it since.
//! That is the futures contract (poll again only once woken), kept
//! across turns.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use crate::server::lock::lock;

/// Whether the peer's side was woken since it last answered `Pending`.
pub(super) struct Interest {
    flag: Arc<Flag>,
    waker: Waker,
}

struct Flag {
    /// Woken (or never polled, or last answered `Ready`): poll it.
    ready: AtomicBool,
    /// The session task's waker, woken through this one.
    task: Mutex<Option<Waker>>,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.ready.store(true, Ordering::SeqCst);
        if let Some(task) = lock(&self.task).as_ref() {
            task.wake_by_ref();
        }
    }
}

impl Interest {
    pub(super) fn new() -> Self {
        let flag = Arc::new(Flag {
            ready: AtomicBool::new(true),
            task: Mutex::new(None),
        });
        let waker = Waker::from(Arc::clone(&flag));
        Self { flag, waker }
    }

    /// Runs `poll` (the peer's side) with this waker, unless it answered
    /// `Pending` last time and has not been woken since.
    pub(super) fn poll<T>(
        &self,
        cx: &mut Context<'_>,
        poll: impl FnOnce(&mut Context<'_>) -> Poll<T>,
    ) -> Poll<T> {
        {
            let mut task = lock(&self.flag.task);
            if !task.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *task = Some(cx.waker().clone());
            }
        }
        // Cleared before the poll: a wake during it sets it again.
        if !self.flag.ready.swap(false, Ordering::SeqCst) {
            return Poll::Pending;
        }
        let answer = poll(&mut Context::from_waker(&self.waker));
        if answer.is_ready() {
            // More may be buffered above the socket: poll again next time.
            self.flag.ready.store(true, Ordering::SeqCst);
        }
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn polls_again_only_once_woken_or_after_an_answer() {
        let interest = Interest::new();
        let polls = Cell::new(0);
        let saved = std::cell::RefCell::new(None::<Waker>);
        let mut cx = Context::from_waker(Waker::noop());
        let pending = |cx: &mut Context<'_>| {
            polls.set(polls.get() + 1);
            *saved.borrow_mut() = Some(cx.waker().clone());
            Poll::<()>::Pending
        };
        let wake = || saved.borrow_mut().take().unwrap().wake();
        assert!(interest.poll(&mut cx, pending).is_pending());
        assert!(interest.poll(&mut cx, pending).is_pending());
        assert_eq!(polls.get(), 1);
        // The peer's side wakes: polled again.
        wake();
        assert!(interest.poll(&mut cx, pending).is_pending());
        assert_eq!(polls.get(), 2);
        // After a Ready answer it is polled every time.
        wake();
        assert!(interest.poll(&mut cx, |_| Poll::Ready(())).is_ready());
        assert!(interest.poll(&mut cx, pending).is_pending());
        assert_eq!(polls.get(), 3);
    }
}
