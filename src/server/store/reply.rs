//! Who hears how a publish ended. A closure, so the stores need not know
//! whether a session (Ack / Error frames), the host (a channel) or a test
//! is waiting.

use super::StoreError;

/// The answer to one publish: called once, with the seq the message got
/// (or the key's first publish got) or why nothing was published.
pub(crate) struct Reply(Box<dyn FnOnce(Result<u64, StoreError>) + Send>);

impl Reply {
    /// A reply that calls `f`.
    pub(crate) fn new(f: impl FnOnce(Result<u64, StoreError>) + Send + 'static) -> Self {
        Self(Box::new(f))
    }

    /// A reply nobody waits for.
    #[cfg(test)]
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
