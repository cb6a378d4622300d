//! Writing a session's queue to its peer: frames go out in batches, and a
//! write the peer is not reading ends at the session's deadlines (expiry,
//! idle, `write_timeout_s`) or a close request, whichever comes first.

use std::time::{Duration, Instant};

use async_tungstenite::tungstenite::{Bytes, Error as WsError, Message};
use async_tungstenite::WebSocketStream;
use std::future::poll_fn;
use std::task::{Context, Poll};

use futures_util::SinkExt;
use smol::future::{poll_once, FutureExt};
use smol::io::{AsyncRead, AsyncWrite};
use smol::Timer;

use super::super::metered::{binary_frame_len, Metered};
use super::super::outbox::{Inbox, Queued};
use super::close::{end_for_error, End};
use crate::metrics::Metrics;
use crate::protocol::Close;

/// Most frames written before one flush; bounds how long a burst delays
/// reads.
pub(crate) const WRITE_BATCH: usize = 32;
/// Bytes after which a batch stops taking frames. tungstenite buffers the
/// batch (`write_buffer_size`) and the flush hands it to rustls in one go:
/// one TLS record and one write(2) for many small frames, instead of one
/// each. A batch therefore holds at most this plus one frame (`memory.rs`):
/// [`Batch`] counts the first frame too.
pub(crate) const WRITE_BATCH_BYTES: usize = 16 * 1024;

/// What a batch has taken so far.
#[derive(Debug, Default)]
struct Batch {
    frames: usize,
    bytes: usize,
}

impl Batch {
    /// Whether another frame may join: while under both limits, so the
    /// batch ends at most one frame past `WRITE_BATCH_BYTES`.
    fn has_room(&self) -> bool {
        self.frames < WRITE_BATCH && self.bytes < WRITE_BATCH_BYTES
    }

    fn add(&mut self, bytes: usize) {
        self.frames += 1;
        self.bytes += bytes;
    }
}

/// Feeds one queued frame, counting it (and remembering when its
/// `Message` was published, for the latency histogram).
fn feed_queued<S>(
    ws: &mut WebSocketStream<Metered<S>>,
    q: Queued,
    metrics: &Metrics,
    published: &mut Published,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    metrics.frame_out(&q.bytes);
    if let Some(at) = q.published {
        let _ = published.push(at);
    }
    // Straight into the batch (`Metered::push_binary`); tungstenite's own
    // frames reach it whole too, so the two never interleave.
    ws.get_mut().push_binary(&q.bytes);
}

/// A deadline that ends the session, and the close it ends with.
#[derive(Debug, Clone, Copy)]
pub(super) struct Deadline {
    pub(super) at: Instant,
    pub(super) close: Close,
}

/// What bounds one write: the session's end (expiry or idle), the stall
/// limit (`write_timeout_s`) and a shutdown's grace.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bounds {
    pub(super) grace: Duration,
    pub(super) stall: Duration,
    pub(super) end: Deadline,
}

/// How a write that did not finish at once ended.
enum Stop {
    Written(Result<(), WsError>),
    Requested(Close),
    Due(Close),
}

/// How the first poll of a batch's write went. A write that finishes at
/// once (the usual case: the socket has room) costs no timer and no
/// allocation. One that waits is raced ([`write_slow`]) against, in this
/// order, the session's end and the stall limit (whichever is earlier:
/// 4001/4010, or 4009 for a write stalled `write_timeout_s`), then a close
/// request; a shutdown's 1001 lets the write finish first, within `grace`
/// and the session's end.
pub(super) enum Now {
    /// Written; `Some` when the session ends for the write's error.
    Done(Option<End>),
    /// The peer is not taking it: the published times of the frames still
    /// in flight, for the latency histogram once they are written.
    Waiting(Box<Published>),
}

/// A write that does not finish within its turn: the rest of a batch, or
/// a ping.
pub(super) enum Slow {
    Waiting(Box<Published>),
    Ping,
}

/// Writes what [`Slow`] names, boxed by the caller: an idle session's task
/// reserves no room for it.
pub(super) async fn write_slow<S>(
    ws: &mut WebSocketStream<Metered<S>>,
    slow: Slow,
    inbox: &Inbox,
    metrics: &Metrics,
    bounds: Bounds,
) -> Option<End>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match slow {
        Slow::Waiting(published) => {
            let flush = std::pin::pin!(poll_fn(|cx| ws.poll_flush_unpin(cx)));
            let end = wait_away(flush, inbox, bounds).await;
            if end.is_none() {
                record_delivered(metrics, &published);
            }
            end
        }
        Slow::Ping => write_ping(ws, inbox, bounds).await,
    }
}

/// When each frame of a batch was published (a `Message`'s).
pub(super) type Published = heapless::Vec<Instant, WRITE_BATCH>;

/// Feeds what is queued (up to a batch) and polls the flush once, all
/// within the task's current poll. `Done(None)` when nothing was queued
/// after all (a close request took the queue's place).
pub(super) fn write_now<S>(
    ws: &mut WebSocketStream<Metered<S>>,
    inbox: &Inbox,
    metrics: &Metrics,
    cx: &mut Context<'_>,
) -> Now
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut batch = Batch::default();
    let frames: heapless::Vec<Queued, WRITE_BATCH> = inbox.frames.take_batch(|q| {
        batch.add(q.bytes.len());
        batch.has_room()
    });
    if frames.is_empty() {
        return Now::Done(None);
    }
    // The batch's buffer sized once for all of it, not grown per frame.
    let bytes = frames.iter().map(|q| binary_frame_len(q.bytes.len())).sum();
    ws.get_mut().reserve_batch(bytes);
    let mut published = Published::new();
    for q in frames {
        feed_queued(ws, q, metrics, &mut published);
    }
    match ws.poll_flush_unpin(cx) {
        Poll::Ready(Ok(())) => {
            record_delivered(metrics, &published);
            Now::Done(None)
        }
        Poll::Ready(Err(e)) => Now::Done(Some(end_for_error(&e))),
        Poll::Pending => Now::Waiting(Box::new(published)),
    }
}

fn record_delivered(metrics: &Metrics, published: &Published) {
    metrics.delivered_all(Instant::now(), published);
}

/// Sends a ping (the idle clock's half-time).
async fn write_ping<S>(
    ws: &mut WebSocketStream<Metered<S>>,
    inbox: &Inbox,
    bounds: Bounds,
) -> Option<End>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut write = std::pin::pin!(async {
        ws.feed(Message::Ping(Bytes::new())).await?;
        ws.flush().await
    });
    if let Some(done) = poll_once(&mut write).await {
        return done.err().map(|e| end_for_error(&e));
    }
    wait_away(write, inbox, bounds).await
}

/// Waits for a write the peer is not taking: the task is away from its
/// queue until it does, so no publisher is held for it (`outbox/mod.rs`).
async fn wait_away(
    write: std::pin::Pin<&mut impl std::future::Future<Output = Result<(), WsError>>>,
    inbox: &Inbox,
    bounds: Bounds,
) -> Option<End> {
    inbox.frames.set_away(true);
    let end = wait_for_write(write, inbox, bounds).await;
    inbox.frames.set_away(false);
    end
}

/// The rest of a write that did not finish at once (see [`write_now`]).
async fn wait_for_write(
    mut write: std::pin::Pin<&mut impl std::future::Future<Output = Result<(), WsError>>>,
    inbox: &Inbox,
    bounds: Bounds,
) -> Option<End> {
    let stalled = Deadline {
        at: Instant::now() + bounds.stall,
        close: Close::WriteStalled,
    };
    let due = if bounds.end.at <= stalled.at {
        bounds.end
    } else {
        stalled
    };
    let stop = async {
        Timer::at(due.at).await;
        Stop::Due(due.close)
    }
    .or(async { Stop::Requested(inbox.control.recv().await) })
    .or(async { Stop::Written((&mut write).await) })
    .await;
    match stop {
        Stop::Written(Ok(())) => None,
        Stop::Written(Err(e)) => Some(end_for_error(&e)),
        Stop::Requested(Close::GoingAway) => {
            let until = (Instant::now() + bounds.grace).min(bounds.end.at);
            let _ = write
                .or(async {
                    Timer::at(until).await;
                    Ok(())
                })
                .await;
            Some(End::Close(Close::GoingAway))
        }
        Stop::Requested(close) | Stop::Due(close) => Some(End::Close(close)),
    }
}

/// Writes everything still queued (shutdown), until `until`.
pub(super) async fn drain<S>(
    ws: &mut WebSocketStream<Metered<S>>,
    inbox: &Inbox,
    metrics: &Metrics,
    until: Instant,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let write = async {
        while let Ok(q) = inbox.frames.try_recv() {
            let mut published = Published::new();
            feed_queued(ws, q, metrics, &mut published);
            record_delivered(metrics, &published);
        }
        ws.flush().await
    };
    let _ = write
        .or(async {
            Timer::at(until).await;
            Ok(())
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::outbox::outbox;
    use async_tungstenite::tungstenite::protocol::Role;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Poll};

    /// A peer that never reads: every write waits, and nothing ever wakes
    /// it (as a socket whose buffer never drains below the wake-up mark).
    struct Stalled;

    impl AsyncRead for Stalled {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut [u8],
        ) -> Poll<std::io::Result<usize>> {
            Poll::Pending
        }
    }

    impl AsyncWrite for Stalled {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            Poll::Pending
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Pending
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Pending
        }
    }

    /// Writes one frame to a stalled peer with `bounds` (and a close
    /// request first, if any); how the write ended.
    fn stalled_write(bounds: Bounds, requested: Option<Close>) -> Option<Close> {
        smol::block_on(async {
            let stalled = Metered::new(Stalled, 1024, Arc::default());
            let mut ws = WebSocketStream::from_raw_socket(stalled, Role::Server, None).await;
            let (out, inbox) = outbox(1, 8);
            if let Some(close) = requested {
                out.close(close);
            }
            out.push(Bytes::from_static(b"frame")).unwrap();
            let metrics = Metrics::default();
            // As the session's turn does: one poll, then the slow path.
            let now = poll_fn(|cx| Poll::Ready(write_now(&mut ws, &inbox, &metrics, cx))).await;
            let slow = match now {
                Now::Done(_) => return None,
                Now::Waiting(published) => Slow::Waiting(published),
            };
            match write_slow(&mut ws, slow, &inbox, &metrics, bounds).await {
                Some(End::Close(close)) => Some(close),
                _ => None,
            }
        })
    }

    fn bounds(end_in: Duration, stall: Duration) -> Bounds {
        Bounds {
            grace: Duration::from_secs(3600),
            stall,
            end: Deadline {
                at: Instant::now() + end_in,
                close: Close::TokenExpired,
            },
        }
    }

    const SHORT: Duration = Duration::from_millis(20);
    const LONG: Duration = Duration::from_secs(3600);

    #[test]
    fn a_stalled_write_ends_at_the_sessions_deadline() {
        assert_eq!(
            stalled_write(bounds(SHORT, LONG), None),
            Some(Close::TokenExpired)
        );
    }

    #[test]
    fn a_write_stalled_past_write_timeout_ends_with_4009() {
        let end = stalled_write(bounds(LONG, SHORT), None);
        assert_eq!(end, Some(Close::WriteStalled));
        assert_eq!(Close::WriteStalled.code(), 4009);
    }

    #[test]
    fn a_close_request_ends_a_stalled_write() {
        assert_eq!(
            stalled_write(bounds(LONG, LONG), Some(Close::Removed)),
            Some(Close::Removed)
        );
        // A shutdown waits for the write, within its grace and the
        // session's end.
        assert_eq!(
            stalled_write(bounds(SHORT, LONG), Some(Close::GoingAway)),
            Some(Close::GoingAway)
        );
    }

    #[test]
    fn the_first_frame_counts_towards_the_batch_bytes() {
        // A first frame of the whole budget leaves no room: the batch is
        // that one frame, within WRITE_BATCH_BYTES plus one frame.
        let mut batch = Batch::default();
        batch.add(WRITE_BATCH_BYTES);
        assert!(!batch.has_room());
        let mut batch = Batch::default();
        batch.add(WRITE_BATCH_BYTES - 1);
        assert!(batch.has_room());
        batch.add(4096);
        assert!(!batch.has_room());
    }

    #[test]
    fn a_batch_takes_at_most_write_batch_frames() {
        let mut batch = Batch::default();
        batch.add(0);
        let mut taken = 1;
        while batch.has_room() {
            batch.add(1);
            taken += 1;
        }
        assert_eq!(taken, WRITE_BATCH);
    }
}
