//! A session's deadlines: when its token expires (4001), when to ping and
//! when the idle time runs out (4010), and how long a shutdown lets it
//! write its queue.
//!
//! Apart from the task loop so the rules live in one place: which deadline
//! comes next (expiry wins a tie), and which one ends the session and so
//! bounds a write as well as a read. The loop only arms its timer at
//! [`Clock::next`] and notes when it hears from the peer. A [`Clock`] is in
//! every session's task, idle or not, so it keeps the configured idle time
//! as a `u16`, not a `Duration`.

use std::time::{Duration, Instant};

use super::writer::Deadline;
use crate::clock::unix_now;
use crate::config::LimitsConfig;
use crate::protocol::Close;

/// What a session's next deadline is for.
#[derive(Clone, Copy)]
pub(super) enum Due {
    /// The token expires (4001).
    Expiry,
    /// Half the idle time passed: send a ping.
    Ping,
    /// The whole idle time passed without a frame or pong (4010).
    Idle,
}

/// Deadlines of one session: token expiry and the idle clock.
pub(super) struct Clock {
    pub(super) expiry: Instant,
    /// `idle_timeout_s` as configured (a `Duration` is 16 bytes).
    pub(super) idle_s: u16,
    pub(super) last_seen: Instant,
    pub(super) pinged: bool,
}

impl Clock {
    fn idle(&self) -> Duration {
        Duration::from_secs(u64::from(self.idle_s))
    }

    pub(super) fn next(&self) -> (Instant, Due) {
        let idle_at = self.last_seen + self.idle();
        let ping_at = self.last_seen + self.idle() / 2;
        let (at, due) = if self.pinged {
            (idle_at, Due::Idle)
        } else {
            (ping_at, Due::Ping)
        };
        if self.expiry <= at {
            (self.expiry, Due::Expiry)
        } else {
            (at, due)
        }
    }

    /// The deadline that ends the session (expiry or idle), which bounds a
    /// write as well as a read.
    pub(super) fn end(&self) -> Deadline {
        let idle_at = self.last_seen + self.idle();
        if self.expiry <= idle_at {
            Deadline {
                at: self.expiry,
                close: Close::TokenExpired,
            }
        } else {
            Deadline {
                at: idle_at,
                close: Close::Idle,
            }
        }
    }
}

/// The instant a token's `exp` (Unix seconds) falls at; now for a token
/// already past it.
pub(super) fn expiry_instant(expires_at: u64) -> Instant {
    Instant::now() + Duration::from_secs(expires_at.saturating_sub(unix_now()))
}

/// How long a shutdown lets a session write its queue.
pub(super) fn grace_of(limits: &LimitsConfig) -> Duration {
    Duration::from_secs(u64::from(limits.shutdown_timeout_s))
}
