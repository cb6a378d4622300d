//! A token bucket: `rate` tokens a second, holding at most `burst`.

use std::time::Instant;

/// Allows `rate` events a second on average and `burst` at once.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    /// Tokens scaled by 1000 so refill needs no floating point.
    milli_tokens: u64,
    rate: u64,
    burst_milli: u64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub(crate) fn new(rate: u16, burst: u16, now: Instant) -> Self {
        let burst_milli = u64::from(burst) * 1000;
        Self {
            milli_tokens: burst_milli,
            rate: u64::from(rate),
            burst_milli,
            last: now,
        }
    }

    /// Takes one token if there is one.
    pub(crate) fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = now;
        let refill = u64::try_from(elapsed.as_millis())
            .unwrap_or(u64::MAX)
            .saturating_mul(self.rate);
        self.milli_tokens = self
            .milli_tokens
            .saturating_add(refill)
            .min(self.burst_milli);
        if self.milli_tokens >= 1000 {
            self.milli_tokens -= 1000;
            true
        } else {
            false
        }
    }

    /// How long until the next token is available (zero when one is).
    #[cfg(test)]
    fn wait(&self) -> std::time::Duration {
        let missing = 1000u64.saturating_sub(self.milli_tokens);
        std::time::Duration::from_millis(missing.div_ceil(self.rate.max(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_steady_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10, 10, t0);
        assert_eq!((0..15).filter(|_| b.try_take(t0)).count(), 10);
        assert_eq!(b.wait(), Duration::from_millis(100));
        assert!(!b.try_take(t0 + Duration::from_millis(99)));
        assert!(b.try_take(t0 + Duration::from_millis(100)));
        // A long pause refills to the burst, not beyond.
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..15).filter(|_| b.try_take(later)).count(), 10);
    }
}
