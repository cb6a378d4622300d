//! One TCP connection from accept to `101 Switching Protocols`: TLS, the
//! request head, routing, the handshake checks and the token, all inside
//! one deadline (`limits.handshake_timeout_s`).

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_tungstenite::tungstenite::protocol::{Role as WsRole, WebSocketConfig};
use async_tungstenite::WebSocketStream;
use futures_rustls::server::TlsStream;
use smol::future::FutureExt;
use smol::io::AsyncWriteExt;
use smol::net::TcpStream;
use smol::Timer;

use super::bans::Phase;
use super::metered::Metered;
use super::registry::{NoPermit, Permit};
use super::session::{self, WRITE_BATCH_BYTES};
use super::shared::Shared;
use super::socket::Socket;
use crate::config::LimitsConfig;
use crate::handshake::{self, Route};
use crate::http;
use crate::metrics::Outcome;
use crate::quoted::Quoted;
use crate::tls::x509;

type Tls = TlsStream<Socket>;
type Ws = WebSocketStream<Metered<Tls>>;

/// Bytes beyond two whole messages a peer may send before completing one:
/// one read buffer of the next message plus frame headers.
pub(crate) const READ_SLACK: usize = 8 * 1024;

/// tungstenite's read buffer (`WebSocketConfig::read_buffer_size`): what it
/// reserves for reading, grown to a frame's size only while one arrives.
/// Small, since it is held by every idle session; rustls below it already
/// reads in 4 KiB chunks, so a larger one saves no system calls. It is also
/// the most tungstenite reads at once (from rustls' plaintext, in memory):
/// a 1 KiB frame takes 9 such reads at 128 bytes, 5 at 256.
pub(crate) const WS_READ_BUFFER: u64 = 128;

/// rustls buffers at most this much outgoing TLS data per connection; past
/// it, writes wait (and the session's queue, not rustls, absorbs bursts).
pub(crate) const TLS_SEND_BUFFER: usize = 16 * 1024;

/// Why a handshake ended without a session (each is logged once).
#[derive(Debug)]
enum Failure {
    Timeout,
    Tls(io::Error),
    Head(http::HeadError),
    Write(io::Error),
}

/// Serves one accepted connection. `permit` is the connection's slot, or
/// the cap it hit: such a connection still gets TLS and an answer (`/healthz`
/// stays reachable at the cap), but never a session.
///
/// A plain `fn` returning an `async move` block, so the task keeps its
/// arguments once (an `async fn` keeps a dead copy of each, the TCP stream
/// included, for the session's life).
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn keeps its arguments twice in every task (see above)"
)]
pub(crate) fn serve(
    shared: Arc<Shared>,
    tcp: TcpStream,
    peer: SocketAddr,
    permit: Result<Permit, NoPermit>,
) -> impl std::future::Future<Output = ()> {
    async move {
        let _ = tcp.set_nodelay(true);
        let deadline = Duration::from_secs(u64::from(shared.limits.handshake_timeout_s));
        // Boxed, so its state (TLS accept, the request head) is freed when it
        // ends instead of staying reserved in this task for the session's life.
        let handshake = Box::pin(handshake(
            &shared,
            tcp,
            peer,
            permit.as_ref().err().copied(),
        ));
        let result = handshake
            .or(async {
                Timer::after(deadline).await;
                Err(Failure::Timeout)
            })
            .await;
        match result {
            Ok(Some((ws, identity))) => {
                if let Ok(permit) = permit {
                    shared.metrics.connection(Outcome::Accepted);
                    // A task of its own: this one (the handshake's deadline,
                    // its result, this task's arguments: about 500 bytes)
                    // ends here instead of staying under every session.
                    smol::spawn(session::run(ws, shared, identity, peer, permit)).detach();
                }
            }
            Ok(None) => {}
            Err(Failure::Timeout) => {
                shared.metrics.connection(Outcome::Timeout);
                log::info!("conn peer={} outcome=timeout phase=handshake", peer.ip());
            }
            Err(Failure::Tls(e)) => {
                shared.metrics.connection(Outcome::TlsFailed);
                log::info!("conn peer={} outcome=tls-failed reason={e}", peer.ip());
            }
            Err(Failure::Head(e)) => {
                shared.metrics.connection(Outcome::BadRequest);
                log::info!("conn peer={} outcome=bad-request reason={e}", peer.ip());
            }
            Err(Failure::Write(e)) => {
                log::debug!("conn peer={} outcome=write-failed reason={e}", peer.ip());
            }
        }
    }
}

async fn handshake(
    shared: &Shared,
    tcp: TcpStream,
    peer: SocketAddr,
    no_permit: Option<NoPermit>,
) -> Result<Option<(Box<Ws>, crate::auth::Identity)>, Failure> {
    // Read once: a reload during this handshake does not change it.
    let material = shared.material();
    let tcp = Socket::from(tcp);
    let mut tls = material.tls.accept(tcp).await.map_err(Failure::Tls)?;
    tls.get_mut().1.set_buffer_limit(Some(TLS_SEND_BUFFER));
    let (head, leftover) = match http::read_head(&mut tls).await {
        Ok(read) => read,
        Err(e) => {
            // A head we cannot parse still gets a status, not silence
            // (unless the peer is gone).
            if let Some(status) = e.status() {
                respond(&mut tls, http::refusal(status, "malformed request head")).await?;
            }
            return Err(Failure::Head(e));
        }
    };
    let route = handshake::route(&head, &material.allowed_origins);
    // The Origin, when the request had one: a 403 for it then names what
    // an operator would add to `allowed_origins`.
    let origin = head
        .header("origin")
        .map(|o| format!(" origin={}", Quoted(o)))
        .unwrap_or_default();
    let refuse = |status: u16, reason: &str| {
        shared.metrics.connection(Outcome::Refused(status));
        log::info!(
            "conn peer={} outcome=refused status={status} reason={reason} path={}{origin}",
            peer.ip(),
            Quoted(head.path())
        );
        http::refusal(status, reason)
    };
    let upgrade = match route {
        // Monitoring keeps working at the caps: /healthz is answered before
        // the capacity refusal; everything else, the page included, gets it.
        Route::Health => {
            shared.metrics.connection(Outcome::Http);
            respond(&mut tls, health(shared)).await?;
            return Ok(None);
        }
        // Check 1 of section 2 (capacity and bans); 2 to 4 ran in `route`.
        _ if no_permit.is_some() => {
            let answer = match no_permit {
                Some(NoPermit::IpFull) => refuse(429, "too many connections from this address"),
                Some(NoPermit::Banned) => refuse(
                    429,
                    &format!(
                        "address banned after repeated refused tokens; a ban lasts {} s (limits.ban_seconds)",
                        shared.limits.ban_seconds
                    ),
                ),
                _ => refuse(503, "server at its connection limit"),
            };
            respond(&mut tls, answer).await?;
            return Ok(None);
        }
        Route::Page(asset) => {
            shared.metrics.connection(Outcome::Http);
            let body = http::asset(asset.content_type, asset.body, crate::web::CACHE_CONTROL);
            respond(&mut tls, body).await?;
            return Ok(None);
        }
        Route::Refused(r) => {
            respond(&mut tls, refuse(r.status, r.reason)).await?;
            return Ok(None);
        }
        Route::Upgrade(upgrade) => upgrade,
    };
    // Check 5: the token.
    let identity = match shared.verify_token(&upgrade.token) {
        Ok(identity) => identity,
        Err(e) => {
            // Counted before answering: a peer that saw its 401 also sees
            // the ban it caused.
            super::bans::auth_failed(shared, peer.ip(), Phase::Handshake, None, e);
            respond(&mut tls, refuse(401, e.public_reason())).await?;
            return Ok(None);
        }
    };
    // Check 6: the client certificate names the token's subject.
    if material.subject_match && !cert_names(&tls, &identity.user) {
        let answer = refuse(403, SUBJECT_MISMATCH);
        respond(&mut tls, answer).await?;
        return Ok(None);
    }
    let budget = 2 * shared.limits.max_message_bytes as usize + READ_SLACK;
    let mut metered = Metered::new(tls, budget, std::sync::Arc::clone(&shared.metrics));
    // The 101 waits in the session's first batch and goes out with its
    // `Welcome`: one TLS record and one write for both, not two.
    metered.append(&http::switching_protocols(&upgrade.accept));
    let ws = WebSocketStream::from_partially_read(
        metered,
        leftover,
        WsRole::Server,
        Some(shared.ws_config),
    )
    .await;
    // Boxed: the session holds the stream once, behind a pointer, whatever
    // copies of its handle the task's futures keep.
    Ok(Some((Box::new(ws), identity)))
}

/// Writes a whole HTTP answer and closes the TLS stream (close_notify).
async fn respond(tls: &mut Tls, bytes: Vec<u8>) -> Result<(), Failure> {
    tls.write_all(&bytes).await.map_err(Failure::Write)?;
    tls.flush().await.map_err(Failure::Write)?;
    let _ = tls.close().await;
    Ok(())
}

/// The 403 reason when `require_cert_subject_match` fails.
const SUBJECT_MISMATCH: &str = "client certificate does not match token subject";

/// `/healthz`: 200 `ok`, or 503 `draining` once shutdown has started (only
/// connections already in their handshake can still ask).
fn health(shared: &Shared) -> Vec<u8> {
    let text = "text/plain; charset=utf-8";
    if shared.draining.load(Ordering::Acquire) {
        http::response(503, text, b"draining\n", &[])
    } else {
        http::response(200, text, b"ok", &[])
    }
}

/// Whether the client certificate's CN or a DNS name equals `user` (the
/// token's `sub`). rustls has already verified the chain; without a
/// certificate (or one this walk cannot read) the answer is no.
fn cert_names(tls: &Tls, user: &str) -> bool {
    tls.get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|leaf| x509::parse(leaf).ok())
        .is_some_and(|info| info.names_subject(user))
}

/// The WebSocket layer's buffers, sized for small hosts: tungstenite's
/// defaults (128 KiB read buffer, 64 MiB messages) would cost more per idle
/// session than everything else together.
pub(crate) fn ws_config(limits: &LimitsConfig) -> WebSocketConfig {
    let max = limits.max_message_bytes as usize;
    // A `Members` answer may be larger than any message.
    let largest_frame = (limits.max_body as usize + 256).max(super::presence::MAX_MEMBERS_FRAME);
    let mut c = WebSocketConfig::default();
    c.read_buffer_size = WS_READ_BUFFER as usize;
    // Every frame goes straight down to `Metered`, which collects the batch
    // until its flush (see WRITE_BATCH_BYTES) and then gives its buffer
    // back: tungstenite's own write buffer would keep its capacity after
    // every flush (28–55 KiB per session after traffic).
    c.write_buffer_size = 0;
    // Our queue is the backpressure; this only bounds a frame in flight.
    c.max_write_buffer_size = WRITE_BATCH_BYTES + 2 * largest_frame;
    c.max_message_size = Some(max);
    c.max_frame_size = Some(max);
    c
}
