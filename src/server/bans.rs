//! Auth-failure bans: `auth_failures_before_ban` 401s from one address
//! within `ban_seconds` ban it for `ban_seconds`.
//!
//! The table has a fixed capacity, so a flood of addresses cannot grow it:
//! when it is full, the entry whose window started longest ago is dropped,
//! preferring addresses that are not banned.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Addresses the table tracks at once.
pub(crate) const BAN_TABLE_CAPACITY: usize = 4096;

/// Bytes one entry costs, for the memory bound (key, value, hash overhead).
pub(crate) const BAN_ENTRY_BYTES: usize = 64;

use super::lock::lock;
use super::shared::Shared;
use crate::auth::TokenError;
use crate::quoted::Quoted;

/// A refused `Reauth` of session `id` (whose `sub` is `user`): counted as
/// [`auth_failed`] counts a 401, against the session's address.
pub(crate) fn reauth_failed(shared: &Shared, id: u64, user: &str, e: TokenError) {
    if let Some(peer) = shared.sessions.peer(id) {
        auth_failed(shared, peer, Phase::Reauth, Some(user), e);
    }
}

/// Where a token was refused, for [`auth_failed`]'s log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The upgrade's token: answered 401.
    Handshake,
    /// A `Reauth`: answered `Error{TokenRejected}`.
    Reauth,
}

/// A refused token, at the handshake or on `Reauth`: both count alike
/// towards the address's ban and the `auth-failure-burst` alert, and both
/// log the precise reason at info (the peer is told only
/// [`TokenError::public_reason`]). `user` is the session's `sub` on
/// `Reauth`, unknown at the handshake.
pub(crate) fn auth_failed(
    shared: &Shared,
    peer: IpAddr,
    phase: Phase,
    user: Option<&str>,
    e: TokenError,
) {
    let phase_name = match phase {
        Phase::Handshake => "handshake",
        Phase::Reauth => "reauth",
    };
    log::info!(
        "auth-failure peer={peer} phase={phase_name} user={} reason={}",
        Quoted(user.unwrap_or("")),
        Quoted(e.reason())
    );
    shared.alerts.auth_failure(peer);
    if shared.bans.record_failure(peer, Instant::now()) == Recorded::Banned {
        shared.metrics.ban_issued();
        log::warn!(
            "alert=ban-issued peer={peer} failures={} ban_seconds={}",
            shared.limits.auth_failures_before_ban,
            shared.limits.ban_seconds
        );
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u16,
    window_start: Instant,
    banned_until: Option<Instant>,
}

/// What recording a failure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recorded {
    /// Counted; not banned (yet).
    Counted,
    /// This failure banned the address (log the alert once, here).
    Banned,
}

/// The ban table.
#[derive(Debug)]
pub(crate) struct Bans {
    entries: Mutex<HashMap<IpAddr, Entry>>,
    threshold: u16,
    window: Duration,
    capacity: usize,
}

impl Bans {
    pub(crate) fn new(threshold: u16, seconds: u32) -> Self {
        Self::with_capacity(threshold, seconds, BAN_TABLE_CAPACITY)
    }

    fn with_capacity(threshold: u16, seconds: u32, capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            threshold,
            window: Duration::from_secs(u64::from(seconds)),
            capacity,
        }
    }

    /// Whether `ip` is banned at `now`.
    pub(crate) fn is_banned(&self, ip: IpAddr, now: Instant) -> bool {
        lock(&self.entries)
            .get(&ip)
            .and_then(|e| e.banned_until)
            .is_some_and(|until| now < until)
    }

    /// How many addresses are banned at `now`.
    pub(crate) fn active(&self, now: Instant) -> usize {
        lock(&self.entries)
            .values()
            .filter(|e| e.banned_until.is_some_and(|until| now < until))
            .count()
    }

    /// Counts a 401 from `ip`.
    pub(crate) fn record_failure(&self, ip: IpAddr, now: Instant) -> Recorded {
        let mut entries = lock(&self.entries);
        if !entries.contains_key(&ip) && entries.len() >= self.capacity {
            evict_one(&mut entries, now);
        }
        let entry = entries.entry(ip).or_insert(Entry {
            failures: 0,
            window_start: now,
            banned_until: None,
        });
        if entry.banned_until.is_some_and(|until| now < until) {
            return Recorded::Counted;
        }
        if now.saturating_duration_since(entry.window_start) >= self.window {
            *entry = Entry {
                failures: 0,
                window_start: now,
                banned_until: None,
            };
        }
        entry.failures = entry.failures.saturating_add(1);
        if entry.failures >= self.threshold {
            entry.banned_until = Some(now + self.window);
            Recorded::Banned
        } else {
            Recorded::Counted
        }
    }
}

/// Drops expired entries if any, else the oldest unbanned, else the oldest.
fn evict_one(entries: &mut HashMap<IpAddr, Entry>, now: Instant) {
    let victim = entries
        .iter()
        .min_by_key(|(_, e)| {
            let banned = e.banned_until.is_some_and(|until| now < until);
            (banned, e.window_start)
        })
        .map(|(ip, _)| *ip);
    if let Some(ip) = victim {
        entries.remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u32) -> IpAddr {
        IpAddr::from(n.to_be_bytes())
    }

    #[test]
    fn threshold_within_window_bans_for_the_window() {
        let bans = Bans::new(3, 10);
        let t0 = Instant::now();
        assert_eq!(bans.record_failure(ip(1), t0), Recorded::Counted);
        assert_eq!(bans.record_failure(ip(1), t0), Recorded::Counted);
        assert!(!bans.is_banned(ip(1), t0));
        assert_eq!(bans.record_failure(ip(1), t0), Recorded::Banned);
        assert!(bans.is_banned(ip(1), t0 + Duration::from_secs(9)));
        assert!(!bans.is_banned(ip(1), t0 + Duration::from_secs(10)));
        assert_eq!(bans.active(t0), 1);
    }

    #[test]
    fn failures_outside_the_window_start_over() {
        let bans = Bans::new(2, 10);
        let t0 = Instant::now();
        bans.record_failure(ip(1), t0);
        assert_eq!(
            bans.record_failure(ip(1), t0 + Duration::from_secs(11)),
            Recorded::Counted
        );
        assert!(!bans.is_banned(ip(1), t0 + Duration::from_secs(11)));
    }

    #[test]
    fn the_table_never_grows_past_capacity_and_keeps_bans() {
        let bans = Bans::with_capacity(1, 60, 8);
        let t0 = Instant::now();
        assert_eq!(bans.record_failure(ip(0), t0), Recorded::Banned);
        for n in 1..1000 {
            let t = t0 + Duration::from_millis(u64::from(n));
            bans.record_failure(ip(n), t);
            assert!(lock(&bans.entries).len() <= 8);
        }
        // Every entry is a ban (threshold 1); the oldest bans went first,
        // but a flood cannot push the table past its capacity.
        assert_eq!(bans.active(t0 + Duration::from_secs(1)), 8);
    }
}
