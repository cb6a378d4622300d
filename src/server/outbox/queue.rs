//! The frames one mailbox holds, oldest first: the oldest inline in the
//! mailbox, the rest in a block allocated only while more than one waits.
//!
//! At one frame per wake (a publish every few milliseconds into many
//! members) a queue that is always a `VecDeque` allocates its block for
//! every delivery and frees it once the frame is written. A fan-out makes
//! a thousand of those blocks at once, past glibc's per-thread cache:
//! about 600 instructions per delivery, a tenth of a wake's user-space
//! work (callgrind, BENCHMARKS.md). Here a lone frame costs no allocation;
//! the slot is 48 bytes of every session's mailbox.

use std::collections::VecDeque;

use super::Queued;

/// A FIFO of queued frames. `head` is `None` only when the queue is
/// empty, so the oldest frame is always the inline one.
#[derive(Debug, Default)]
pub(super) struct Queue {
    head: Option<Queued>,
    rest: VecDeque<Queued>,
}

impl Queue {
    pub(super) fn len(&self) -> usize {
        usize::from(self.head.is_some()) + self.rest.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    pub(super) fn push_back(&mut self, frame: Queued) {
        match self.head {
            None => self.head = Some(frame),
            Some(_) => self.rest.push_back(frame),
        }
    }

    /// Takes the oldest frame. Once the block drains it is given back, so
    /// an idle session holds none (the next burst allocates it again).
    pub(super) fn pop_front(&mut self) -> Option<Queued> {
        let frame = self.head.take();
        self.head = self.rest.pop_front();
        if self.rest.is_empty() && self.rest.capacity() > 0 {
            self.rest = VecDeque::new();
        }
        frame
    }

    /// Slots allocated beyond the inline one.
    #[cfg(test)]
    pub(super) fn capacity(&self) -> usize {
        self.rest.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_tungstenite::tungstenite::Bytes;

    fn frame(n: u8) -> Queued {
        Queued {
            bytes: Bytes::from(vec![n]),
            published: None,
        }
    }

    #[test]
    fn frames_leave_in_the_order_they_came_and_a_lone_one_allocates_nothing() {
        let mut q = Queue::default();
        q.push_back(frame(1));
        assert_eq!((q.len(), q.capacity()), (1, 0));
        q.push_back(frame(2));
        q.push_back(frame(3));
        assert_eq!(q.len(), 3);
        assert_eq!(q.pop_front().unwrap().bytes[..], [1]);
        q.push_back(frame(4));
        let rest: Vec<u8> = std::iter::from_fn(|| q.pop_front().map(|f| f.bytes[0])).collect();
        assert_eq!(rest, [2, 3, 4]);
        assert!(q.is_empty());
        assert_eq!((q.len(), q.capacity()), (0, 0));
        assert!(q.pop_front().is_none());
    }

    #[test]
    fn the_inline_slot_costs_one_frame_handle() {
        assert_eq!(
            std::mem::size_of::<Option<Queued>>(),
            std::mem::size_of::<Queued>()
        );
    }
}
