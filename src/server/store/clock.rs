//! Seqs for rooms whose earlier state is unknown (PROTOCOL.md section 7):
//! a base derived from the clock, Unix milliseconds × 2^10, so a restarted
//! server issues seqs above every seq its previous run could have issued
//! (that run would have needed over a million messages a second in one
//! room to get ahead of the clock). Below 2^53 until the year 2248, so
//! JavaScript clients keep exact integers.

use std::time::Duration;

use super::now_ms;

/// Seqs per millisecond of the base.
const PER_MS: u64 = 1 << 10;
/// The largest exact integer of a JavaScript number.
const JS_MAX: u64 = (1 << 53) - 1;

/// The first seq of a room created at `ms` (Unix milliseconds).
pub(crate) fn base(ms: u64) -> u64 {
    ms.saturating_mul(PER_MS).min(JS_MAX)
}

/// The clock as a store without earlier state may use it: never before
/// the tick the store started in, and that tick strictly after any tick a
/// previous run of the same process could have used.
#[derive(Debug)]
pub(crate) struct Clock {
    started_ms: u64,
}

impl Clock {
    /// Waits for the next millisecond to begin (a restart within the tick
    /// the previous run died in would otherwise repeat its base).
    pub(crate) fn start() -> Self {
        let seen = now_ms();
        let mut now = seen;
        while now <= seen {
            std::thread::sleep(Duration::from_micros(200));
            now = now_ms();
        }
        Self { started_ms: now }
    }

    /// The base for a room created now (a clock stepped backwards does
    /// not take it below the start).
    pub(crate) fn base_now(&self) -> u64 {
        base(now_ms().max(self.started_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_is_ms_times_1024_below_2_pow_53() {
        assert_eq!(base(1), 1024);
        assert_eq!(base(1_764_000_000_000), 1_764_000_000_000 * 1024);
        assert!(base(1_764_000_000_000) < 1 << 53);
        assert_eq!(base(u64::MAX), (1 << 53) - 1);
    }

    #[test]
    fn a_second_start_is_in_a_later_tick() {
        let first = Clock::start();
        let second = Clock::start();
        assert!(second.started_ms > first.started_ms);
        assert!(second.base_now() >= base(second.started_ms));
        assert!(base(second.started_ms) >= base(first.started_ms) + PER_MS);
    }
}
