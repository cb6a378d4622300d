//! Who hears how a publish ended. A closure, so the stores need not know
//! whether a session (Ack / Error frames), the host (a channel) or a test
//! is waiting.

use super::super::outbox::Outbox;
use super::StoreError;

/// The answer to one publish: called once, with the seq the message got
/// (or the key's first publish got) or why nothing was published; and
/// the publishing session's queue, if a session published, so the fan-out
/// can hold it while a member's queue drains ([`Outbox::hold`]).
pub(crate) struct Reply(
    Box<dyn FnOnce(Result<u64, StoreError>) + Send>,
    Option<Outbox>,
);

impl Reply {
    /// A reply that calls `f`.
    pub(crate) fn new(f: impl FnOnce(Result<u64, StoreError>) + Send + 'static) -> Self {
        Self(Box::new(f), None)
    }

    /// A reply that calls `f`, for a publish from the session of `by`.
    pub(crate) fn from_session(
        by: Outbox,
        f: impl FnOnce(Result<u64, StoreError>) + Send + 'static,
    ) -> Self {
        Self(Box::new(f), Some(by))
    }

    /// The publishing session's queue, if a session published.
    pub(crate) fn publisher(&self) -> Option<&Outbox> {
        self.1.as_ref()
    }

    /// A reply nobody waits for.
    #[cfg(any(test, feature = "cluster"))]
    pub(crate) fn none() -> Self {
        Self::new(|_| {})
    }

    /// The message is committed with `seq`.
    pub(crate) fn ack(self, seq: u64) {
        (self.0)(Ok(seq));
    }

    /// Nothing was published.
    pub(crate) fn fail(self, error: StoreError) {
        (self.0)(Err(error));
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reply")
    }
}
