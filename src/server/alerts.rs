//! Rate-gated alert lines: each `alert=` that could fire once per
//! connection (auth failures, refusals at the cap, evictions) is logged at
//! most once per window, when its count in that window reaches a threshold,
//! so an attack shows up as one line a minute rather than a flood.

use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The window every gate counts in.
pub(crate) const WINDOW: Duration = Duration::from_secs(60);
/// 401s in a window, server-wide, that raise `alert=auth-failure-burst`.
pub(crate) const AUTH_FAILURE_BURST: u32 = 20;
/// Evictions (4009) in a window that raise `alert=evictions`.
pub(crate) const EVICTION_BURST: u32 = 10;

/// Counts events in fixed windows; says when to log.
#[derive(Debug)]
struct Gate {
    threshold: u32,
    state: Mutex<(Instant, u32)>,
}

impl Gate {
    fn new(threshold: u32) -> Self {
        Self {
            threshold,
            state: Mutex::new((Instant::now(), 0)),
        }
    }

    /// Counts one event; true exactly when the window's count reaches the
    /// threshold.
    fn hit(&self, now: Instant) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if now.duration_since(state.0) >= WINDOW {
            *state = (now, 0);
        }
        state.1 = state.1.saturating_add(1);
        state.1 == self.threshold
    }
}

/// The server's alert gates.
#[derive(Debug)]
pub(crate) struct Alerts {
    auth_failures: Gate,
    cap: Gate,
    evictions: Gate,
}

impl Default for Alerts {
    fn default() -> Self {
        Self {
            auth_failures: Gate::new(AUTH_FAILURE_BURST),
            cap: Gate::new(1),
            evictions: Gate::new(EVICTION_BURST),
        }
    }
}

impl Alerts {
    /// A token was refused with 401.
    pub(crate) fn auth_failure(&self, peer: IpAddr) {
        if self.auth_failures.hit(Instant::now()) {
            log::warn!(
                "alert=auth-failure-burst failures={AUTH_FAILURE_BURST} window_s={} last_peer={peer}",
                WINDOW.as_secs()
            );
        }
    }

    /// A connection found a cap reached (`reason`: server-full, ip-full, banned).
    pub(crate) fn cap_reached(&self, reason: &str, peer: IpAddr) {
        if self.cap.hit(Instant::now()) {
            log::warn!(
                "alert=connection-cap-reached reason={reason} peer={peer} (logged once per {}s)",
                WINDOW.as_secs()
            );
        }
    }

    /// A slow consumer was closed with 4009.
    pub(crate) fn eviction(&self) {
        if self.evictions.hit(Instant::now()) {
            log::warn!(
                "alert=evictions count={EVICTION_BURST} window_s={}; members are not reading fast enough (outbound_queue)",
                WINDOW.as_secs()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gate_fires_once_per_window_at_its_threshold() {
        let g = Gate::new(3);
        let t = Instant::now();
        assert!(!g.hit(t));
        assert!(!g.hit(t));
        assert!(g.hit(t));
        assert!(!g.hit(t));
        let later = t + WINDOW;
        assert!(!g.hit(later));
        assert!(!g.hit(later));
        assert!(g.hit(later));
    }
}
