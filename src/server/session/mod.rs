//! One WebSocket session's task: reads frames, writes its queue, and
//! closes with the code PROTOCOL.md section 5 names.
//!
//! A single task owns the stream. It waits for whichever comes first: a
//! close request (eviction, shutdown, an administrator), a queued frame, a
//! frame from the peer, or token expiry. A write that does not finish at
//! once is raced against close requests and the session's deadlines, so a
//! peer that stops reading cannot pin the task: its queue fills and the
//! eviction wins, or its token expires (4001), or the write makes no
//! progress for `write_timeout_s` (4009), whichever comes first.
//!
//! The files, in the order a session uses them: this task loop; [`step`],
//! the race it waits on and what the event that wins means; [`clock`], its
//! deadlines; [`state`], what each frame does to the session's state;
//! [`writer`], its queue to the socket; [`close`], how it ends.

mod clock;
mod close;
mod interest;
mod state;
mod step;
mod writer;

use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use async_tungstenite::tungstenite::Message;
use async_tungstenite::WebSocketStream;
use futures_util::StreamExt;
use smol::io::{AsyncRead, AsyncWrite};
use smol::Timer;

use self::clock::{expiry_instant, grace_of, Clock};
use self::close::{answer_peer, finish, End};
use self::interest::poll_peer;
use self::state::{After, SessionState};
use self::step::{inbound_or_write, next_event, Event, Step};
use self::writer::{drain, write_now, write_slow, Bounds, Now, Slow};
use super::metered::Metered;
use super::outbox::{outbox_in, Inbox, Mail};
use super::ratelimit::TokenBucket;
use super::registry::{Permit, SessionInfo};
use super::shared::Shared;
use crate::auth::Identity;
use crate::protocol::{decode_client, Close};

pub(crate) use self::writer::WRITE_BATCH_BYTES;

/// Most inbound frames handled in one turn of the task before it yields.
/// Handling a burst of publishes in one turn lets every member's writer
/// find several frames queued when it runs, so they go out in one TLS
/// record and one `write` (one each per delivery otherwise: 5.5 of the
/// 10 µs a delivery cost). The budget does not decide whether members'
/// queues overflow: a member's queue past its high-water mark holds the
/// publisher before its next frame, whatever the budget (`outbox/mod.rs`).
pub(crate) const READ_BATCH: usize = 16;
// The loop counts it in a u8.
const _: () = assert!(READ_BATCH <= u8::MAX as usize);

/// Runs a session from `Welcome` to close.
///
/// A plain `fn` returning an `async move` block, not an `async fn`: an
/// `async fn` keeps its by-value arguments twice in the task for its whole
/// life (as arguments and as the locals they move into), and this future
/// is most of what every idle session's task holds. The closing steps are
/// boxed for the same reason: they would otherwise reserve their state
/// (a shutdown's drain is about 1 KiB) in every task from the start.
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn keeps its arguments twice in every task (see above)"
)]
pub(crate) fn run<S>(
    mut ws: Box<WebSocketStream<Metered<S>>>,
    shared: Arc<Shared>,
    identity: Identity,
    peer: SocketAddr,
    permit: Permit,
) -> impl Future<Output = ()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // Registered before the task first runs: nothing here waits, and the
    // task then keeps the session (identity included) once, not beside
    // the identity it was made from.
    let started = Instant::now();
    let capacity = usize::from(shared.limits.outbound_queue);
    let (id, outbox, inbox) = shared.sessions.register(
        |id| SessionInfo {
            id,
            user: identity.user.clone(),
            role: identity.role,
            key_id: Arc::clone(&identity.key_id),
            rooms: Vec::new(),
            peer,
            since: SystemTime::now(),
        },
        |id| outbox_in(id, capacity, shared.rooms.backlog()),
    );
    shared.check_key(id, &identity.key_id);
    log::info!(
        "conn peer={} outcome=accepted session={id:016x} user={} role={}",
        peer.ip(),
        crate::quoted::Quoted(&identity.user),
        identity.role
    );
    let mut made = SessionState::new(id, identity, outbox, Arc::clone(&shared));
    async move {
        let session = match &mut made {
            Ok(session) => session,
            Err(e) => {
                // Unreachable with verified tokens (their `sub` rules are the
                // user name rules); refused rather than counted wrong.
                log::error!("session={id:016x} closing: sub is not a user name: {e}");
                shared.sessions.remove(id);
                let end = End::Close(Close::Internal);
                Box::pin(finish(&mut ws, Close::Internal)).await;
                drop(permit);
                close::count(&shared, &end);
                return;
            }
        };
        session.welcome();

        let end = serve(&mut ws, &shared, session, &inbox).await;
        session.leave_all();
        shared.sessions.remove(id);
        let code = match end {
            End::Close(close) => {
                if close == Close::GoingAway {
                    // Shutdown: what was queued before it is still delivered,
                    // within the grace and never past the token's expiry.
                    let until = (Instant::now() + grace_of(&shared.limits))
                        .min(expiry_instant(session.identity.expires_at));
                    Box::pin(drain(&mut ws, &inbox, &shared.metrics, until)).await;
                }
                Box::pin(finish(&mut ws, close)).await;
                Some(close.code())
            }
            End::Peer(code) => {
                // tungstenite queued the reply to the peer's close; send it.
                Box::pin(answer_peer(&mut ws)).await;
                code
            }
        };
        // The permit holds the peer's address: `peer` itself is not kept in
        // the task (32 bytes).
        let ip = permit.ip();
        drop(permit);
        close::count(&shared, &end);
        log::info!(
            "session end peer={ip} session={id:016x} user={} code={} by={} duration={:.1}s",
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
}

async fn serve<S>(
    ws: &mut WebSocketStream<Metered<S>>,
    shared: &Shared,
    session: &mut SessionState,
    inbox: &Inbox,
) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // A reference: a copy of the limits (60 bytes) would stay in every task.
    let limits = &shared.limits;
    let metrics = &*shared.metrics;
    // A u8, beside the flags: a usize would be 8 more bytes in every task.
    let mut handled: u8 = 0;
    let mut held = false;
    let mut clock = Clock {
        expiry: expiry_instant(session.identity.expires_at),
        idle_s: limits.idle_timeout_s,
        last_seen: Instant::now(),
        pinged: false,
    };
    let mut frame_budget =
        TokenBucket::new(limits.frames_per_sec, limits.frames_per_sec, Instant::now());
    let (first_at, _) = clock.next();
    let mut timer = Timer::at(first_at);
    let mut armed = first_at;
    loop {
        // A peer with many frames already buffered would otherwise keep
        // this task busy until its buffer is empty, and members' writers
        // (on the same executor thread) would not run. Yield after a
        // budget of frames; here, not after the frame, so the frame's
        // `message` is not kept across this wait (56 bytes in every task).
        if usize::from(handled) >= READ_BATCH {
            handled = 0;
            smol::future::yield_now().await;
        }
        // A local alive across more than one wait stays reserved in every
        // idle task: `at` ends here, and the event is taken whole below.
        let due = {
            let (at, due) = clock.next();
            if at != armed {
                timer.set_at(at);
                armed = at;
            }
            due
        };
        let message = match inbound_or_write(
            next_event(
                async {
                    (&mut timer).await;
                    Event::Timer(due)
                },
                async {
                    match inbox.next().await {
                        Mail::Close(close) => Event::CloseRequested(close),
                        Mail::Held => Event::Held,
                        // The task's waker, to write within this turn
                        // (an await that keeps nothing).
                        Mail::Frames => {
                            Event::Outbound(poll_fn(|cx| Poll::Ready(cx.waker().clone())).await)
                        }
                    }
                },
                async {
                    // Held: read nothing more from the peer until no
                    // member's queue is pressed (the rest of the race goes
                    // on).
                    if held {
                        // Boxed: an idle session's race reserves no room
                        // for it.
                        Box::pin(inbox.backlog_cleared()).await;
                        Event::Released
                    } else {
                        let next = poll_fn(|cx| poll_peer(inbox, cx, |cx| ws.poll_next_unpin(cx)));
                        Event::Inbound(next.await)
                    }
                },
            )
            .await,
            &mut clock,
        ) {
            Step::End(end) => return end,
            Step::Read(message) => message,
            Step::Held => {
                held = true;
                continue;
            }
            Step::Released => {
                held = false;
                continue;
            }
            // A write that finishes at once is fed and flushed here,
            // within this turn's poll (no await, so the task keeps no
            // state for it); one that waits (and a ping) is boxed, so an
            // idle session holds no write state (1.4 KiB otherwise).
            Step::Write(waker) => {
                let slow = match waker {
                    Some(waker) => {
                        match write_now(ws, inbox, metrics, &mut Context::from_waker(&waker)) {
                            Now::Done(None) => continue,
                            Now::Done(Some(end)) => return end,
                            Now::Waiting(published) => Slow::Waiting(published),
                        }
                    }
                    None => Slow::Ping,
                };
                // Made from the limits when a write needs them, not kept in
                // every task (32 bytes).
                let bounds = Bounds {
                    grace: grace_of(limits),
                    stall: Duration::from_secs(u64::from(limits.write_timeout_s)),
                    end: clock.end(),
                };
                if let Some(end) = Box::pin(write_slow(ws, slow, inbox, metrics, bounds)).await {
                    return end;
                }
                continue;
            }
        };
        // Taken apart before anything waits, in a block that ends here: only
        // the body is kept while it is handled, not the message beside it
        // (56 bytes in every task; a local once borrowed is kept until its
        // scope ends).
        let bytes = {
            let message = message;
            ws.get_ref().seen(&message);
            clock.last_seen = Instant::now();
            clock.pinged = false;
            if !frame_budget.try_take(clock.last_seen) {
                return End::Close(Close::TooManyFrames);
            }
            match message {
                Message::Binary(bytes) => bytes,
                Message::Text(_) => return End::Close(Close::TextMessage),
                Message::Close(frame) => return End::Peer(frame.map(|f| u16::from(f.code))),
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {
                    handled += 1;
                    continue;
                }
            }
        };
        // Boxed with its decoding: what a frame does (a join may wait on
        // storage) and the decoded frame (about 200 bytes) are not reserved
        // in every idle session's task.
        let work = Box::pin(async {
            let frame = decode_client(&bytes)?;
            metrics.frame_in(&frame);
            // While the frame's work waits (on storage) the task is away
            // from its queue: nobody is held for it.
            Ok::<_, crate::protocol::DecodeError>(inbox.away_while(session.handle(frame)).await)
        });
        match work.await {
            Ok(After::Renewed) => {
                clock.expiry = expiry_instant(session.identity.expires_at);
            }
            Ok(After::Continue) => {}
            Err(e) => {
                log::debug!("session={:016x} bad frame: {e}", session.id);
                return End::Close(Close::InvalidFrame);
            }
        }
        handled += 1;
    }
}
