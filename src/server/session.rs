//! One WebSocket session's task: reads frames, writes its queue, and
//! closes with the code PROTOCOL.md section 5 names.
//!
//! A single task owns the stream. It waits for whichever comes first: a
//! close request (eviction, shutdown, an administrator), a queued frame, a
//! frame from the peer, or token expiry. Writes are raced against close
//! requests, so a peer that stops reading cannot pin the task: its queue
//! fills, a publisher's `try_send` fails, and the close request wins.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::protocol::CloseFrame;
use async_tungstenite::tungstenite::{Error as WsError, Message};
use async_tungstenite::WebSocketStream;
use futures_util::{SinkExt, StreamExt};
use smol::future::FutureExt;
use smol::io::{AsyncRead, AsyncWrite};
use smol::Timer;

use super::dispatch::{After, Session};
use super::metered::{is_budget_error, Metered};
use super::outbox::{outbox, Inbox, Queued};
use super::ratelimit::TokenBucket;
use super::registry::{Permit, SessionInfo};
use super::writer::{drain, grace, write_batch};
use super::Shared;
use crate::auth::Identity;
use crate::protocol::{close, decode_client};

/// How long to wait for the peer's close reply (and to let our close frame
/// reach it) before dropping the connection.
const CLOSE_LINGER: Duration = Duration::from_secs(2);

enum Event {
    CloseRequested(u16),
    Outbound(Queued),
    Inbound(Option<Result<Message, WsError>>),
    Timer(Due),
}

/// What a session's next deadline is for.
#[derive(Clone, Copy)]
enum Due {
    /// The token expires (4001).
    Expiry,
    /// Half the idle time passed: send a ping.
    Ping,
    /// The whole idle time passed without a frame or pong (4010).
    Idle,
}

/// How the session ended.
pub(super) enum End {
    /// We close with this code.
    Close(u16, &'static str),
    /// The peer closed (with its code, if any) or vanished.
    Peer(Option<u16>),
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn expiry_instant(expires_at: u64) -> Instant {
    Instant::now() + Duration::from_secs(expires_at.saturating_sub(unix_now()))
}

/// Runs a session from `Welcome` to close.
pub(crate) async fn run<S>(
    mut ws: WebSocketStream<Metered<S>>,
    shared: Arc<Shared>,
    identity: Identity,
    peer: SocketAddr,
    permit: Permit,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let started = Instant::now();
    let capacity = usize::from(shared.limits.outbound_queue);
    let (id, outbox, inbox) = shared.sessions.register(
        |id| SessionInfo {
            id,
            user: identity.user.clone(),
            role: identity.role,
            rooms: Vec::new(),
            peer,
            since: SystemTime::now(),
        },
        |id| outbox(id, capacity),
    );
    log::info!(
        "conn peer={} outcome=accepted session={id:016x} user={} role={}",
        peer.ip(),
        crate::quoted::Quoted(&identity.user),
        identity.role
    );
    let mut session = Session::new(id, identity, outbox, Arc::clone(&shared));
    session.welcome();

    let end = serve(&mut ws, &mut session, &inbox).await;
    session.leave_all();
    shared.sessions.remove(id);
    let code = match end {
        End::Close(code, reason) => {
            if code == close::GOING_AWAY {
                // Shutdown: what was queued before it is still delivered.
                drain(&mut ws, &inbox, &shared.metrics, grace(&shared)).await;
            }
            finish(&mut ws, code, reason).await;
            Some(code)
        }
        End::Peer(code) => {
            // tungstenite queued the reply to the peer's close; send it.
            let _ = ws
                .flush()
                .or(async {
                    Timer::after(CLOSE_LINGER).await;
                    Ok(())
                })
                .await;
            code
        }
    };
    drop(permit);
    shared.session_closed(code, matches!(end, End::Close(..)));
    log::info!(
        "session end peer={} session={id:016x} user={} code={} by={} duration={:.1}s",
        peer.ip(),
        crate::quoted::Quoted(&session.identity.user),
        code.map_or_else(|| "none".to_owned(), |c| c.to_string()),
        if matches!(end, End::Close(..)) {
            "server"
        } else {
            "peer"
        },
        started.elapsed().as_secs_f64()
    );
}

/// Deadlines of one session: token expiry and the idle clock.
struct Clock {
    expiry: Instant,
    idle: Duration,
    last_seen: Instant,
    pinged: bool,
}

impl Clock {
    fn next(&self) -> (Instant, Due) {
        let idle_at = self.last_seen + self.idle;
        let ping_at = self.last_seen + self.idle / 2;
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
}

async fn serve<S>(ws: &mut WebSocketStream<Metered<S>>, session: &mut Session, inbox: &Inbox) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let limits = session.limits();
    let mut clock = Clock {
        expiry: expiry_instant(session.identity.expires_at),
        idle: Duration::from_secs(u64::from(limits.idle_timeout_s)),
        last_seen: Instant::now(),
        pinged: false,
    };
    let mut frame_budget =
        TokenBucket::new(limits.frames_per_sec, limits.frames_per_sec, Instant::now());
    let (first_at, _) = clock.next();
    let mut timer = Timer::at(first_at);
    let mut armed = first_at;
    loop {
        let (at, due) = clock.next();
        if at != armed {
            timer.set_at(at);
            armed = at;
        }
        let event =
            async { Event::CloseRequested(inbox.control.recv().await.unwrap_or(close::INTERNAL)) }
                .or(async {
                    match inbox.frames.recv().await {
                        Ok(frame) => Event::Outbound(frame),
                        Err(_) => Event::CloseRequested(close::INTERNAL),
                    }
                })
                .or(async { Event::Inbound(ws.next().await) })
                .or(async {
                    (&mut timer).await;
                    Event::Timer(due)
                })
                .await;
        let message = match event {
            Event::CloseRequested(code) => return End::Close(code, reason_for(code)),
            Event::Timer(Due::Expiry) => return End::Close(close::TOKEN_EXPIRED, "token expired"),
            Event::Timer(Due::Idle) => return End::Close(close::IDLE, "idle timeout"),
            Event::Timer(Due::Ping) => {
                clock.pinged = true;
                if let Some(end) = write_batch(ws, None, inbox, session).await {
                    return end;
                }
                continue;
            }
            Event::Outbound(first) => {
                if let Some(code) = write_batch(ws, Some(first), inbox, session).await {
                    return code;
                }
                continue;
            }
            Event::Inbound(None) => return End::Peer(None),
            Event::Inbound(Some(Err(e))) => return end_for_error(&e),
            Event::Inbound(Some(Ok(message))) => message,
        };
        ws.get_ref().seen(&message);
        clock.last_seen = Instant::now();
        clock.pinged = false;
        if !frame_budget.try_take(clock.last_seen) {
            return End::Close(close::POLICY, "too many frames");
        }
        match message {
            Message::Binary(bytes) => match decode_client(&bytes) {
                Ok(frame) => {
                    session.metrics().frame_in(&frame);
                    if session.handle(frame) == After::Renewed {
                        clock.expiry = expiry_instant(session.identity.expires_at);
                    }
                }
                Err(e) => {
                    log::debug!("session={:016x} bad frame: {e}", session.id);
                    return End::Close(close::INVALID_FRAME, "invalid frame");
                }
            },
            Message::Text(_) => {
                return End::Close(close::UNSUPPORTED_DATA, "text messages are not accepted")
            }
            Message::Close(frame) => return End::Peer(frame.map(|f| u16::from(f.code))),
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
        // A peer with many frames already buffered would otherwise keep
        // this task busy until its buffer is empty, and members' writers
        // (on the same executor thread) would not run: their queues would
        // fill and honest readers be evicted. Yield after every frame.
        smol::future::yield_now().await;
    }
}

pub(super) fn end_for_error(e: &WsError) -> End {
    match e {
        WsError::Io(io) if is_budget_error(io) => {
            End::Close(close::POLICY, "too many bytes without a message")
        }
        WsError::Capacity(_) => End::Close(close::TOO_BIG, "message too big"),
        WsError::Protocol(_) => End::Close(1002, "protocol error"),
        WsError::Utf8(_) => End::Close(close::INVALID_FRAME, "invalid utf-8"),
        _ => End::Peer(None),
    }
}

pub(super) fn reason_for(code: u16) -> &'static str {
    match code {
        close::TOO_SLOW => "too slow",
        close::GOING_AWAY => "server shutting down",
        close::REMOVED => "removed",
        close::POLICY => "policy violation",
        _ => "",
    }
}

/// Sends our close frame, then waits briefly for the peer's reply so the
/// close frame is not lost to a TCP reset from unread data.
async fn finish<S>(ws: &mut WebSocketStream<S>, code: u16, reason: &'static str)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    };
    let linger = async {
        let _ = ws.close(Some(frame)).await;
        while let Some(Ok(_)) = ws.next().await {}
    };
    linger
        .or(async {
            Timer::after(CLOSE_LINGER).await;
        })
        .await;
}
