//! The pressed queues of one node, and the publishers held until there
//! are none: the back-pressure of [`super::outbox`] (see its docs).

use std::sync::atomic::{AtomicUsize, Ordering};

/// The server's pressed queues, and the publishers held until there are
/// none. One per node (in [`super::rooms::Rooms`]), shared by its
/// sessions' mailboxes.
#[derive(Debug, Default)]
pub(crate) struct Backlog {
    pressed: AtomicUsize,
    clear: event_listener::Event,
}

impl Backlog {
    pub(super) fn press(&self) {
        self.pressed.fetch_add(1, Ordering::SeqCst);
    }

    pub(super) fn unpress(&self) {
        if self.pressed.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.clear.notify(usize::MAX);
        }
    }

    /// Until no queue is pressed.
    pub(crate) async fn cleared(&self) {
        while self.pressed.load(Ordering::SeqCst) > 0 {
            let listener = self.clear.listen();
            if self.pressed.load(Ordering::SeqCst) == 0 {
                return;
            }
            listener.await;
        }
    }

    /// Queues pressed now.
    #[cfg(test)]
    pub(crate) fn pressed(&self) -> usize {
        self.pressed.load(Ordering::SeqCst)
    }
}
