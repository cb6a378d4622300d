//! Writing a session's queue to its peer: frames go out in batches, and a
//! close request interrupts a write that the peer is not reading.

use std::time::{Duration, Instant};

use async_tungstenite::tungstenite::{Bytes, Error as WsError, Message};
use async_tungstenite::WebSocketStream;
use futures_util::SinkExt;
use smol::future::FutureExt;
use smol::io::{AsyncRead, AsyncWrite};
use smol::Timer;

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
#[derive(Debug)]
struct Batch {
    frames: usize,
    bytes: usize,
}

impl Batch {
    /// A batch that starts with a frame of `first` bytes (0 for a ping).
    fn new(first: usize) -> Self {
        Self {
            frames: 1,
            bytes: first,
        }
    }

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
async fn feed_queued<S>(
    ws: &mut WebSocketStream<S>,
    q: Queued,
    metrics: &Metrics,
    published: &mut heapless::Vec<Instant, WRITE_BATCH>,
) -> Result<(), WsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    metrics.frame_out(&q.bytes);
    if let Some(at) = q.published {
        let _ = published.push(at);
    }
    ws.feed(Message::Binary(q.bytes)).await
}

/// Writes `first` (a ping when `None`) and whatever else is queued (up to a
/// batch), then flushes; a close request during the write wins, except a
/// shutdown's 1001, which lets the write finish first (within `grace`).
pub(super) async fn write_batch<S>(
    ws: &mut WebSocketStream<S>,
    first: Option<Queued>,
    inbox: &Inbox,
    metrics: &Metrics,
    grace: Duration,
) -> Option<End>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let write = async {
        let mut published = heapless::Vec::<Instant, WRITE_BATCH>::new();
        let mut batch = Batch::new(first.as_ref().map_or(0, |q| q.bytes.len()));
        match first {
            Some(q) => feed_queued(ws, q, metrics, &mut published).await?,
            None => ws.feed(Message::Ping(Bytes::new())).await?,
        }
        while batch.has_room() {
            match inbox.frames.try_recv() {
                Ok(q) => {
                    batch.add(q.bytes.len());
                    feed_queued(ws, q, metrics, &mut published).await?;
                }
                Err(_) => break,
            }
        }
        ws.flush().await?;
        let now = Instant::now();
        for at in published {
            metrics.delivered(now.saturating_duration_since(at));
        }
        Ok(())
    };
    let mut write = std::pin::pin!(write);
    let result = async { Ok((&mut write).await) }
        .or(async { Err(inbox.control.recv().await.unwrap_or(Close::Internal)) })
        .await;
    match result {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(end_for_error(&e)),
        Err(Close::GoingAway) => {
            let _ = write
                .or(async {
                    Timer::after(grace).await;
                    Ok(())
                })
                .await;
            Some(End::Close(Close::GoingAway))
        }
        Err(close) => Some(End::Close(close)),
    }
}

/// Writes everything still queued (shutdown), within `grace`.
pub(super) async fn drain<S>(
    ws: &mut WebSocketStream<S>,
    inbox: &Inbox,
    metrics: &Metrics,
    grace: Duration,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let write = async {
        while let Ok(q) = inbox.frames.try_recv() {
            let mut published = heapless::Vec::<Instant, WRITE_BATCH>::new();
            feed_queued(ws, q, metrics, &mut published).await?;
            for at in published {
                metrics.delivered(at.elapsed());
            }
        }
        ws.flush().await
    };
    let _ = write
        .or(async {
            Timer::after(grace).await;
            Ok(())
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_frame_counts_towards_the_batch_bytes() {
        // A first frame of the whole budget leaves no room: the batch is
        // that one frame, within WRITE_BATCH_BYTES plus one frame.
        assert!(!Batch::new(WRITE_BATCH_BYTES).has_room());
        let mut batch = Batch::new(WRITE_BATCH_BYTES - 1);
        assert!(batch.has_room());
        batch.add(4096);
        assert!(!batch.has_room());
    }

    #[test]
    fn a_batch_takes_at_most_write_batch_frames() {
        let mut batch = Batch::new(0);
        let mut taken = 1;
        while batch.has_room() {
            batch.add(1);
            taken += 1;
        }
        assert_eq!(taken, WRITE_BATCH);
    }
}
