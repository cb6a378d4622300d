//! A token bucket: `rate` tokens a second, holding at most `burst`.

use std::time::{Duration, Instant};

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
        // Credit only the whole milliseconds converted into tokens: the
        // remainder stays in `last`, so calls less than 1 ms apart still
        // add up to a refill (setting `last = now` dropped it every time).
        let elapsed = now.saturating_duration_since(self.last);
        let ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        self.last += Duration::from_millis(ms);
        let refill = ms.saturating_mul(self.rate);
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
    fn wait(&self) -> Duration {
        let missing = 1000u64.saturating_sub(self.milli_tokens);
        Duration::from_millis(missing.div_ceil(self.rate.max(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn calls_under_a_millisecond_apart_still_refill() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10, 1, t0);
        assert!(b.try_take(t0));
        // Every 0.9 ms for 1 s: a 10/s bucket grants 10 more.
        let step = Duration::from_micros(900);
        let granted = (1..=1112).filter(|i| b.try_take(t0 + step * *i)).count();
        assert_eq!(granted, 10);
    }
}
