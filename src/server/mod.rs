//! The server: the accept loop, and every method of [`Server`] (each
//! delegates to the module that does the work).
//!
//! The path of a message, file by file, one direction: [`connection`]
//! takes a TCP stream through TLS, the request head and the handshake
//! checks to `101`; [`session`] runs the session's task: it reads
//! WebSocket messages, decodes them ([`crate::protocol::decode_client`]),
//! and hands each to the session's state, which checks it against the
//! session's identity and acts on it; [`rooms`] gives a message its seq and
//! fans it out into each member's [`outbox`], from which each member's
//! session task writes it. [`shared`] is what they all read; nothing below
//! imports this file.

mod alerts;
mod authorize;
mod backlog;
mod bans;
mod connection;
mod error;
mod host;
pub(crate) mod lock;
mod material;
mod membership;
mod memory;
mod metered;
mod metrics_http;
pub(crate) mod outbox;
pub(crate) mod presence;
mod quota;
mod ratelimit;
mod registry;
mod rooms;
mod session;
mod shared;
mod socket;
pub(crate) mod store;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use smol::future::FutureExt;
use smol::net::TcpListener;

use crate::config::Config;
use crate::metrics::{Metrics, Snapshot};
use shared::Shared;

pub use crate::protocol::MAX_ROOMS_PER_SESSION;
pub use authorize::Authorize;
pub use error::{ReloadError, StartError};
pub use host::{Handle, HostEvent, PresenceUnavailable, PublishError, RoomMembers, Subscription};
pub use memory::MemoryBound;
pub use metrics_http::CONTENT_TYPE as METRICS_CONTENT_TYPE;
pub use registry::SessionInfo;
pub use store::disk::DiskBound;

/// How often `run` checks the certificate's expiry (`alert=cert-expiring`).
const EXPIRY_CHECK: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

/// Connections past a cap that still get a TLS answer at once.
const REFUSAL_SLOTS: u32 = 16;

/// A configured server, ready to [`run`](Server::run).
#[derive(Debug, Clone)]
pub struct Server {
    shared: Arc<Shared>,
}

/// Validates `config` and checks its memory bound against the budget.
fn check_budget(config: &Config) -> Result<MemoryBound, StartError> {
    config.validate().map_err(StartError::Config)?;
    let bound = MemoryBound::for_config(config);
    if let Some(budget_mb) = config.limits.memory_budget_mb {
        if bound.total_mib() > u64::from(budget_mb) {
            return Err(StartError::OverBudget { bound, budget_mb });
        }
    }
    Ok(bound)
}

impl Server {
    /// Loads the certificate, key and token keys the configuration names.
    ///
    /// # Errors
    /// [`StartError`] naming the file and the problem.
    pub fn new(config: &Config) -> Result<Self, StartError> {
        let bound = check_budget(config)?;
        log::info!("limits: {bound}");
        let material = material::Material::load(config)?;
        let limits = config.limits;
        let metrics = Arc::new(Metrics::default());
        let mut presence = presence::Presence::local(&config.presence, Arc::clone(&metrics))
            .map_err(StartError::Config)?;
        let device_user = crate::protocol::UserName::new(&config.device_name).map_err(|e| {
            StartError::Config(crate::config::Invalid::Field {
                field: "device_name".into(),
                problem: e.to_string(),
            })
        })?;
        // Last: opening the file takes its lock, so everything that can
        // refuse the config has refused it first.
        let rooms = Arc::new(rooms::Rooms::default());
        let fanout: Arc<dyn store::Fanout> = rooms.clone();
        let store = store::open(config, fanout).map_err(StartError::Storage)?;
        if let Some(engine) = store.presence_engine() {
            presence.use_engine(engine);
        }
        let shared = Arc::new(Shared {
            limits,
            material: material::Current::new(material, config),
            metrics,
            alerts: alerts::Alerts::default(),
            draining: AtomicBool::new(false),
            ws_config: connection::ws_config(&limits),
            rooms,
            store,
            sessions: registry::Sessions::default(),
            connections: Arc::new(registry::Connections::new(
                limits.max_connections,
                limits.max_connections_per_ip,
            )),
            bans: bans::Bans::new(limits.auth_failures_before_ban, limits.ban_seconds),
            device_name: config.device_name.clone(),
            device_user,
            presence,
            quota: quota::RoomQuota::new(limits.max_rooms_per_user),
            authorizer: std::sync::OnceLock::new(),
            next_host_id: std::sync::atomic::AtomicU64::new(host::FIRST_HOST_ID),
            refusing: AtomicU32::new(0),
        });
        // Presence events another node's engine decided on (a cluster):
        // routed to the members here like this node's own.
        let weak = Arc::downgrade(&shared);
        shared
            .store
            .on_member(Box::new(move |room, change, user, except| {
                if let Some(shared) = weak.upgrade() {
                    let who = presence::Member {
                        room,
                        session: except,
                        user,
                    };
                    shared.presence.heard(change, who, shared.rooms.as_ref());
                }
            }));
        Ok(Self { shared })
    }

    /// Accepts connections on `listener` until `shutdown` resolves, then
    /// drains: stops accepting, answers `/healthz` with 503 on connections
    /// still in their handshake, has every session write what is queued
    /// and close with 1001, and returns once they are gone or
    /// `limits.shutdown_timeout_s` has passed.
    ///
    /// # Errors
    /// Only errors of the listening socket itself; a failing connection is
    /// logged and does not stop the server.
    pub async fn run(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> io::Result<()> {
        let local: Option<SocketAddr> = listener.local_addr().ok();
        log::info!(
            "listening on {} (wss), max_connections={} max_message_bytes={}",
            local.map_or_else(|| "?".to_owned(), |a| a.to_string()),
            self.shared.limits.max_connections,
            self.shared.limits.max_message_bytes
        );
        let accept_loop = async {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        log::warn!("alert=accept-failed error={e}");
                        smol::Timer::after(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                };
                self.accept(tcp, peer);
            }
        };
        let expiry_checks = async {
            loop {
                self.shared.material.check_expiry();
                smol::Timer::after(EXPIRY_CHECK).await;
            }
        };
        accept_loop.or(expiry_checks).or(shutdown).await;
        drop(listener);
        self.shared.draining.store(true, Ordering::Release);
        log::info!("shutting down: draining sessions, then closing them with 1001");
        self.shared
            .sessions
            .close_all(crate::protocol::Close::GoingAway);
        // Give sessions a bounded moment to write their queues and the close.
        let grace = std::time::Duration::from_secs(self.shared.limits.shutdown_timeout_s.into());
        let drained = async {
            while !self.shared.sessions.list().is_empty() {
                smol::Timer::after(std::time::Duration::from_millis(20)).await;
            }
        };
        drained
            .or(async {
                smol::Timer::after(grace).await;
            })
            .await;
        Ok(())
    }

    fn accept(&self, tcp: smol::net::TcpStream, peer: SocketAddr) {
        let shared = Arc::clone(&self.shared);
        let permit = if shared.bans.is_banned(peer.ip(), std::time::Instant::now()) {
            Err(registry::NoPermit::Banned)
        } else {
            shared.connections.acquire(peer.ip())
        };
        if let Err(no) = permit {
            if no != registry::NoPermit::Banned {
                self.shared.alerts.cap_reached(no.label(), peer.ip());
            }
            // At a cap: answer a few (cheaply bounded) and drop the rest
            // before spending any TLS work on them.
            if shared.refusing.fetch_add(1, Ordering::AcqRel) >= REFUSAL_SLOTS {
                shared.refusing.fetch_sub(1, Ordering::AcqRel);
                shared.metrics.connection(crate::metrics::Outcome::Dropped);
                log::info!("conn peer={} outcome=dropped reason=at-capacity", peer.ip());
                return;
            }
        }
        let refusal = permit.is_err();
        smol::spawn(async move {
            connection::serve(Arc::clone(&shared), tcp, peer, permit).await;
            if refusal {
                shared.refusing.fetch_sub(1, Ordering::AcqRel);
            }
        })
        .detach();
    }

    /// A handle for the host application: publish, subscribe, sessions,
    /// counters. Cheap to clone; usable before and while the server runs.
    pub fn handle(&self) -> Handle {
        Handle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Installs the host's authorization hook; it applies to every frame
    /// from then on. Only one hook can be installed.
    ///
    /// # Errors
    /// Gives the hook back if one is installed already.
    pub fn set_authorizer(&self, hook: Arc<dyn Authorize>) -> Result<(), Arc<dyn Authorize>> {
        self.shared.authorizer.set(hook)
    }

    /// Re-reads the certificate chain and key, the client CA and CRL, the
    /// token public keys and the Origin allowlist from `config`. New
    /// connections use them; established sessions continue, except those
    /// whose current token was verified by a key `config` no longer lists:
    /// they are closed with 4001 "key revoked", and the log line says how
    /// many for which key id. Limits and listen addresses are not reloaded
    /// (restart for those).
    ///
    /// # Errors
    /// The first file that cannot be used; the old material stays in
    /// place, and `alert=reload-failed` is logged with the reason.
    pub fn reload(&self, config: &Config) -> Result<(), StartError> {
        material::reload(&self.shared.reload_targets(), config)
    }

    /// [`Server::reload`] from a configuration file (what `SIGHUP` does in
    /// the binary); a file that does not parse fails the reload the same
    /// way, with `alert=reload-failed`.
    ///
    /// # Errors
    /// [`ReloadError`], already logged.
    pub fn reload_file(&self, path: &std::path::Path) -> Result<(), ReloadError> {
        material::reload_file(&self.shared.reload_targets(), path)
    }

    /// Checks a configuration the way [`Server::new`] would (every file
    /// loaded, the memory budget), without starting anything; returns the
    /// memory bound. `palisade check-config` prints it.
    ///
    /// # Errors
    /// As [`Server::new`].
    pub fn check(config: &Config) -> Result<MemoryBound, StartError> {
        let bound = check_budget(config)?;
        material::Material::load(config)?;
        Ok(bound)
    }

    /// Every counter and gauge now, for host applications; the same values
    /// `GET /metrics` renders.
    pub fn metrics(&self) -> Snapshot {
        metrics_http::snapshot(&self.shared)
    }

    /// Serves `GET /metrics` on `listener` (plain HTTP) until the returned
    /// future is dropped. Run it next to [`Server::run`], e.g.
    /// `server.run(tls, shutdown).or(server.serve_metrics(plain))`.
    ///
    /// # Errors
    /// Never returns `Ok`; accept errors are logged and retried.
    pub async fn serve_metrics(&self, listener: TcpListener) -> io::Result<()> {
        metrics_http::serve(&self.shared, listener).await
    }
}
