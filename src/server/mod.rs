//! The server: the accept loop and the state every connection shares.
//!
//! The path of a message, file by file: [`connection`] takes a TCP stream
//! through TLS, the request head and the handshake checks to `101`;
//! [`session`] reads WebSocket messages and decodes them
//! ([`crate::protocol::decode_client`]); [`dispatch`] checks each frame
//! against the session's identity and acts on it; [`rooms`] gives a message
//! its seq and fans it out into each member's [`outbox`], from which each
//! member's session task writes it.

mod alerts;
mod bans;
mod connection;
mod dispatch;
mod host;
mod material;
mod memory;
mod metered;
mod metrics_http;
mod ops;
pub(crate) mod outbox;
mod ratelimit;
mod registry;
mod rooms;
mod session;
#[allow(dead_code)] // wired in with the session refactor
pub(crate) mod store;
mod writer;

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use smol::future::FutureExt;
use smol::net::TcpListener;

use crate::auth::{self, Identity, TokenError};
use crate::config::{Config, LimitsConfig};
use crate::metrics::Metrics;
use crate::tls;

pub use dispatch::MAX_ROOMS_PER_SESSION;
pub use host::{Authorize, Handle, HostEvent, PublishError, Subscription};
pub use memory::MemoryBound;
pub use metrics_http::CONTENT_TYPE as METRICS_CONTENT_TYPE;
pub use registry::SessionInfo;
pub use store::disk::DiskBound;

/// Why a server could not be built from its configuration. The message is
/// one line naming the file and the problem.
#[derive(Debug)]
pub enum StartError {
    /// The configuration itself breaks a rule.
    Config(String),
    /// The certificate or key cannot be used.
    Tls(tls::TlsError),
    /// A token public key file cannot be used.
    Key(auth::KeyFileError),
    /// The computed worst-case memory exceeds `limits.memory_budget_mb`.
    OverBudget {
        /// The computed bound.
        bound: MemoryBound,
        /// The budget, in MiB.
        budget_mb: u32,
    },
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(e) => write!(f, "config: {e}"),
            Self::Tls(e) => e.fmt(f),
            Self::Key(e) => e.fmt(f),
            Self::OverBudget { bound, budget_mb } => write!(
                f,
                "limits: {bound}, over memory_budget_mb = {budget_mb}; lower max_connections, outbound_queue, history or max_body"
            ),
        }
    }
}

impl std::error::Error for StartError {}

/// State shared by every connection of one server. No globals: two servers
/// in one process share nothing.
pub(crate) struct Shared {
    pub(crate) limits: LimitsConfig,
    /// Certificate, keys and origins; swapped by [`Server::reload`].
    material: material::Current,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) alerts: alerts::Alerts,
    /// Set when shutdown starts: `/healthz` answers 503.
    pub(crate) draining: AtomicBool,
    pub(crate) ws_config: WebSocketConfig,
    pub(crate) rooms: rooms::Rooms,
    pub(crate) sessions: registry::Sessions,
    pub(crate) connections: Arc<registry::Connections>,
    pub(crate) bans: bans::Bans,
    /// The `from` of the host's own messages.
    pub(crate) device_name: String,
    pub(crate) authorizer: std::sync::OnceLock<Arc<dyn Authorize>>,
    /// The id of the next host subscription (per server: nothing global).
    pub(crate) next_host_id: std::sync::atomic::AtomicU64,
    /// Handshakes under way only to answer 503/429 (or `/healthz`) at the
    /// cap; beyond `REFUSAL_SLOTS` such connections are dropped before TLS.
    refusing: AtomicU32,
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

/// How often `run` checks the certificate's expiry (`alert=cert-expiring`).
const EXPIRY_CHECK: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

/// Locks a mutex, carrying on if a thread panicked while holding it: every
/// mutation of the server's tables is a single insert or remove, so the data
/// stays sound, and one bad task must not take the whole server down.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Connections past a cap that still get a TLS answer at once.
const REFUSAL_SLOTS: u32 = 16;

impl Shared {
    pub(crate) fn verify_token(&self, token: &str) -> Result<Identity, TokenError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.material().verifier.verify(token, now)
    }
}

/// A configured server, ready to [`run`](Server::run).
#[derive(Debug, Clone)]
pub struct Server {
    shared: Arc<Shared>,
}

/// Validates `config` and checks its memory bound against the budget.
fn check_budget(config: &Config) -> Result<MemoryBound, StartError> {
    config.validate().map_err(StartError::Config)?;
    let bound = MemoryBound::new(&config.limits);
    if let Some(budget_mb) = config.limits.memory_budget_mb {
        if bound.total_mib() > u64::from(budget_mb) {
            return Err(StartError::OverBudget { bound, budget_mb });
        }
    }
    Ok(bound)
}

/// The WebSocket layer's buffers, sized for small hosts: tungstenite's
/// defaults (128 KiB read buffer, 64 MiB messages) would cost more per idle
/// session than everything else together.
fn ws_config(limits: &LimitsConfig) -> WebSocketConfig {
    let max = limits.max_message_bytes as usize;
    let largest_frame = limits.max_body as usize + 256;
    let mut c = WebSocketConfig::default();
    c.read_buffer_size = memory::WS_READ_BUFFER as usize;
    // Frames collect here until the batch's flush (see WRITE_BATCH_BYTES).
    c.write_buffer_size = writer::WRITE_BATCH_BYTES + largest_frame;
    // Our queue is the backpressure; this only bounds one write batch.
    c.max_write_buffer_size = writer::WRITE_BATCH_BYTES + 2 * largest_frame;
    c.max_message_size = Some(max);
    c.max_frame_size = Some(max);
    c
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
        Ok(Self {
            shared: Arc::new(Shared {
                limits,
                material: material::Current::new(material, config),
                metrics: Arc::new(Metrics::default()),
                alerts: alerts::Alerts::default(),
                draining: AtomicBool::new(false),
                ws_config: ws_config(&limits),
                rooms: rooms::Rooms::new(
                    usize::from(limits.history),
                    limits.max_total_rooms as usize,
                ),
                sessions: registry::Sessions::default(),
                connections: Arc::new(registry::Connections::new(
                    limits.max_connections,
                    limits.max_connections_per_ip,
                )),
                bans: bans::Bans::new(limits.auth_failures_before_ban, limits.ban_seconds),
                device_name: config.device_name.clone(),
                authorizer: std::sync::OnceLock::new(),
                next_host_id: std::sync::atomic::AtomicU64::new(host::FIRST_HOST_ID),
                refusing: AtomicU32::new(0),
            }),
        })
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
            .close_all(crate::protocol::close::GOING_AWAY);
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
}
