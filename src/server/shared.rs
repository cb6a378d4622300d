//! The state every connection of one server shares, and the one lock
//! helper its tables use.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64};
use std::sync::{Arc, OnceLock};

use async_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::authorize::Authorize;
use super::{alerts, bans, material, registry, rooms, store};
use crate::auth::{Identity, TokenError};
use crate::config::LimitsConfig;
use crate::metrics::Metrics;

/// State shared by every connection of one server. No globals: two servers
/// in one process share nothing.
pub(crate) struct Shared {
    pub(crate) limits: LimitsConfig,
    /// Certificate, keys and origins; swapped by [`Server::reload`](super::Server::reload).
    pub(crate) material: material::Current,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) alerts: alerts::Alerts,
    /// Set when shutdown starts: `/healthz` answers 503.
    pub(crate) draining: AtomicBool,
    pub(crate) ws_config: WebSocketConfig,
    /// This node's members and fan-out; the store hands it what it commits.
    pub(crate) rooms: Arc<rooms::Rooms>,
    /// Seqs, history, keys: memory or the storage file.
    pub(crate) store: Box<dyn store::Store>,
    pub(crate) sessions: registry::Sessions,
    pub(crate) connections: Arc<registry::Connections>,
    pub(crate) bans: bans::Bans,
    /// The `from` of the host's own messages.
    pub(crate) device_name: String,
    /// The same, as the host's name in presence.
    pub(crate) device_user: crate::protocol::UserName,
    pub(crate) presence: super::presence::Presence,
    pub(crate) quota: super::quota::RoomQuota,
    pub(crate) authorizer: OnceLock<Arc<dyn Authorize>>,
    /// The id of the next host subscription (per server: nothing global).
    pub(crate) next_host_id: AtomicU64,
    /// Handshakes under way only to answer 503/429 (or `/healthz`) at the
    /// cap; beyond `REFUSAL_SLOTS` such connections are dropped before TLS.
    pub(crate) refusing: AtomicU32,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("limits", &self.limits)
            .field("connections", &self.connections.open())
            .field("rooms", &self.rooms.len())
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn verify_token(&self, token: &str) -> Result<Identity, TokenError> {
        self.material()
            .verifier
            .verify(token, crate::clock::unix_now())
    }
}

impl Shared {
    /// What [`material::reload`] acts on.
    pub(crate) fn reload_targets(&self) -> material::Reload<'_> {
        material::Reload {
            current: &self.material,
            metrics: &self.metrics,
            sessions: &self.sessions,
            running: &self.limits,
        }
    }

    /// Closes session `id` (4001 "key revoked") if `key_id`, the key that
    /// verified its current token, is no longer configured. Called after
    /// the registry records the key: a token verified against the old
    /// material just before a reload's swap is recorded after the reload's
    /// sweep, and only a check made after recording can catch it.
    pub(crate) fn check_key(&self, id: u64, key_id: &str) {
        if !self.material.has_key(key_id) {
            self.sessions.close(id, crate::protocol::Close::KeyRevoked);
        }
    }

    /// The material for a new connection.
    pub(crate) fn material(&self) -> Arc<material::Material> {
        self.material.get()
    }
}
