//! Who is connected: connection permits (global and per IP, taken at
//! accept so half-open handshakes count) and the table of live sessions.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use ring::rand::{SecureRandom, SystemRandom};

use super::lock::lock;
use super::outbox::Outbox;
use crate::protocol::{Close, Role, RoomName};

/// Why a connection gets no permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoPermit {
    /// `max_connections` reached: 503.
    ServerFull,
    /// `max_connections_per_ip` reached: 429.
    IpFull,
    /// The address is banned for auth failures: 429.
    Banned,
}

impl NoPermit {
    /// The `reason=` of the cap alert.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::ServerFull => "server-full",
            Self::IpFull => "ip-full",
            Self::Banned => "banned",
        }
    }
}

#[derive(Debug, Default)]
struct Counts {
    total: u32,
    per_ip: HashMap<IpAddr, u32>,
}

/// Counts connections from accept to close.
#[derive(Debug)]
pub(crate) struct Connections {
    counts: Mutex<Counts>,
    max_total: u32,
    max_per_ip: u32,
}

/// One counted connection; dropping it gives the slot back.
#[derive(Debug)]
pub(crate) struct Permit {
    owner: Arc<Connections>,
    ip: IpAddr,
}

impl Connections {
    pub(crate) fn new(max_total: u32, max_per_ip: u32) -> Self {
        Self {
            counts: Mutex::new(Counts::default()),
            max_total,
            max_per_ip,
        }
    }

    /// Takes a slot for a connection from `ip`, or says which cap is reached.
    pub(crate) fn acquire(self: &Arc<Self>, ip: IpAddr) -> Result<Permit, NoPermit> {
        let mut counts = lock(&self.counts);
        if counts.total >= self.max_total {
            return Err(NoPermit::ServerFull);
        }
        let n = counts.per_ip.entry(ip).or_insert(0);
        if *n >= self.max_per_ip {
            return Err(NoPermit::IpFull);
        }
        *n += 1;
        counts.total += 1;
        Ok(Permit {
            owner: Arc::clone(self),
            ip,
        })
    }

    /// Connections counted now.
    pub(crate) fn open(&self) -> u32 {
        lock(&self.counts).total
    }
}

impl Permit {
    /// The address the connection came from.
    pub(crate) fn ip(&self) -> IpAddr {
        self.ip
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut counts = lock(&self.owner.counts);
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.per_ip.remove(&self.ip);
            }
        }
    }
}

/// What the server knows about a live session.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    /// The session id (as in `Welcome`).
    pub id: u64,
    /// The token's `sub`.
    pub user: String,
    /// The token's role.
    pub role: Role,
    /// The PASERK id of the key that verified its current token.
    pub key_id: Arc<str>,
    /// The rooms it is in.
    pub rooms: Vec<RoomName>,
    /// The peer's address.
    pub peer: SocketAddr,
    /// When the WebSocket opened.
    pub since: SystemTime,
}

#[derive(Debug)]
struct Entry {
    info: SessionInfo,
    outbox: Outbox,
}

/// Live sessions by id. Entries are boxed: a hash table keeps between an
/// eighth and over half of its slots empty, and an empty slot costs what
/// its value does (about 160 bytes inline, 8 boxed).
#[derive(Debug)]
pub(crate) struct Sessions {
    live: Mutex<HashMap<u64, Box<Entry>>>,
    rng: SystemRandom,
}

impl Default for Sessions {
    fn default() -> Self {
        Self {
            live: Mutex::new(HashMap::new()),
            rng: SystemRandom::new(),
        }
    }
}

impl Sessions {
    /// Picks a random id no live session has, and registers the session
    /// under it with the outbox `make` builds for that id. Ids are random
    /// so they reveal neither the session count nor the next id.
    pub(crate) fn register<T>(
        &self,
        info: impl FnOnce(u64) -> SessionInfo,
        make: impl FnOnce(u64) -> (Outbox, T),
    ) -> (u64, Outbox, T) {
        let mut live = lock(&self.live);
        let id = loop {
            let mut bytes = [0u8; 8];
            // SystemRandom only fails when the OS has no randomness at all,
            // which rustls would already have refused; fall back to the
            // clock so the session still gets an id.
            if self.rng.fill(&mut bytes).is_err() {
                bytes = clock_nanos().to_le_bytes();
            }
            let id = u64::from_le_bytes(bytes);
            if id != 0 && !live.contains_key(&id) {
                break id;
            }
        };
        let (outbox, rest) = make(id);
        live.insert(
            id,
            Box::new(Entry {
                info: info(id),
                outbox: outbox.clone(),
            }),
        );
        (id, outbox, rest)
    }

    /// Removes a session that ended.
    pub(crate) fn remove(&self, id: u64) {
        lock(&self.live).remove(&id);
    }

    /// Records the rooms a session is in.
    pub(crate) fn set_rooms(&self, id: u64, rooms: &[RoomName]) {
        if let Some(e) = lock(&self.live).get_mut(&id) {
            e.info.rooms.clear();
            e.info.rooms.extend_from_slice(rooms);
        }
    }

    /// Records a session's role and key after `Reauth`.
    pub(crate) fn set_token(&self, id: u64, role: Role, key_id: &Arc<str>) {
        if let Some(e) = lock(&self.live).get_mut(&id) {
            e.info.role = role;
            e.info.key_id = Arc::clone(key_id);
        }
    }

    /// A live session's peer address.
    pub(crate) fn peer(&self, id: u64) -> Option<IpAddr> {
        lock(&self.live).get(&id).map(|e| e.info.peer.ip())
    }

    /// A snapshot of every live session.
    pub(crate) fn list(&self) -> Vec<SessionInfo> {
        lock(&self.live).values().map(|e| e.info.clone()).collect()
    }

    /// Asks one session to close with `code`; false if it is not live.
    pub(crate) fn close(&self, id: u64, code: Close) -> bool {
        match lock(&self.live).get(&id) {
            Some(e) => {
                e.outbox.close(code);
                true
            }
            None => false,
        }
    }

    /// Asks every session to close with `code`.
    pub(crate) fn close_all(&self, code: Close) {
        for e in lock(&self.live).values() {
            e.outbox.close(code);
        }
    }

    /// Asks every session whose current token `key_id` verified to close
    /// with [`Close::KeyRevoked`]; returns how many were asked.
    pub(crate) fn revoke_key(&self, key_id: &str) -> usize {
        let live = lock(&self.live);
        let mut closed = 0;
        for e in live.values().filter(|e| &*e.info.key_id == key_id) {
            e.outbox.close(Close::KeyRevoked);
            closed += 1;
        }
        closed
    }
}

fn clock_nanos() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_count_per_ip_and_total_and_come_back_on_drop() {
        let c = Arc::new(Connections::new(3, 2));
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let p1 = c.acquire(a).unwrap();
        let _p2 = c.acquire(a).unwrap();
        assert_eq!(c.acquire(a).unwrap_err(), NoPermit::IpFull);
        let _p3 = c.acquire(b).unwrap();
        assert_eq!(c.acquire(b).unwrap_err(), NoPermit::ServerFull);
        drop(p1);
        assert_eq!(c.open(), 2);
        assert!(c.acquire(a).is_ok());
    }
}
