//! A stream wrapper that bounds the bytes a peer may send between two
//! complete WebSocket messages.
//!
//! tungstenite assembles fragments and answers control frames by itself,
//! so a peer sending endless empty continuation frames would make it loop
//! without ever yielding a message for the session to count. Counting raw
//! bytes below it closes that gap: the session resets the count at every
//! message, and a peer that sends more than a whole message's worth of
//! bytes without completing one gets an error (closed with 1008). Pings and
//! pongs do not start the count again; see [`Metered::seen`].
//!
//! It also collects a write batch: tungstenite hands every frame down at
//! once (its own buffer is off), frames collect here up to
//! [`WRITE_BATCH_BYTES`], and the flush hands them to rustls in one write
//! (one TLS record and one `write(2)` for many small frames), then gives
//! the buffer back, so an idle session holds none.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use async_tungstenite::tungstenite::Message;
use smol::io::{AsyncRead, AsyncWrite};

use super::session::WRITE_BATCH_BYTES;
use crate::metrics::Metrics;

/// The marker inside the `io::Error` a [`Metered`] stream returns.
#[derive(Debug)]
pub(crate) struct BudgetExceeded;

impl std::fmt::Display for BudgetExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("too many bytes without a complete message")
    }
}

impl std::error::Error for BudgetExceeded {}

/// Whether a WebSocket error came from a [`Metered`] budget.
pub(crate) fn is_budget_error(e: &io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.is::<BudgetExceeded>())
}

/// Counts bytes read since the last complete data message (and every
/// byte both ways into the server's metrics).
#[derive(Debug)]
pub(crate) struct Metered<S> {
    inner: S,
    since_message: AtomicUsize,
    budget: usize,
    metrics: Arc<Metrics>,
    /// The write batch: bytes not yet handed to `inner`, from `sent` on.
    out: Vec<u8>,
    sent: usize,
}

impl<S> Metered<S> {
    pub(crate) fn new(inner: S, budget: usize, metrics: Arc<Metrics>) -> Self {
        Self {
            inner,
            since_message: AtomicUsize::new(0),
            budget,
            metrics,
            out: Vec::new(),
            sent: 0,
        }
    }

    /// A message arrived. Only a complete data message starts the count
    /// again: a ping or pong takes back just its own bytes (so a peer that
    /// only answers pings never runs out), and anything else counts on, so
    /// interleaving pings cannot keep an endless fragmented message alive.
    pub(crate) fn seen(&self, message: &Message) {
        match message {
            Message::Binary(_) | Message::Text(_) => self.message_seen(),
            Message::Ping(p) | Message::Pong(p) => self.control_seen(p.len()),
            Message::Close(_) | Message::Frame(_) => {}
        }
    }

    /// A complete data message arrived: the count starts again.
    fn message_seen(&self) {
        self.since_message.store(0, Ordering::Relaxed);
    }

    /// A control frame with `payload` bytes arrived: it is forgiven its own
    /// wire size (2 header bytes, 4 mask bytes, the payload, which is at
    /// most 125 bytes so its length fits the header), never more.
    fn control_seen(&self, payload: usize) {
        let own = CONTROL_HEADER + payload;
        let _ = self
            .since_message
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(own))
            });
    }
}

/// A client's control frame header: 2 bytes and the 4-byte mask.
const CONTROL_HEADER: usize = 6;

impl<S: AsyncRead + Unpin> AsyncRead for Metered<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if self.since_message.load(Ordering::Relaxed) > self.budget {
            return Poll::Ready(Err(io::Error::other(BudgetExceeded)));
        }
        let read = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(n)) = read {
            self.since_message.fetch_add(n, Ordering::Relaxed);
            self.metrics.bytes_in(n);
        }
        read
    }
}

/// The bytes [`Metered::push_binary`] appends for a payload of `len`
/// bytes: the header (2, 4 or 10 bytes, by the length's size) and the
/// payload.
pub(crate) fn binary_frame_len(len: usize) -> usize {
    let header = if len <= 125 {
        2
    } else if u16::try_from(len).is_ok() {
        4
    } else {
        10
    };
    header + len
}

impl<S> Metered<S> {
    /// Makes room for `bytes` more in the batch at once (a batch's frames,
    /// each counted with [`binary_frame_len`]), so pushing them does not
    /// grow the buffer one doubling and one copy at a time. The writer
    /// never asks for more than a batch holds (`WRITE_BATCH_BYTES` plus one
    /// frame).
    pub(crate) fn reserve_batch(&mut self, bytes: usize) {
        self.out.reserve_exact(bytes);
    }

    /// Appends a whole binary WebSocket frame carrying `payload` to the
    /// batch: FIN and opcode 2, the length (7, 16 or 64 bits) and the
    /// payload, unmasked as a server's frames are (RFC 6455 section 5.2).
    /// The session writes its queued frames this way rather than through
    /// tungstenite, whose buffer would keep its largest frame's capacity
    /// (about 2 KiB per session after 1 KiB messages) and copy each frame
    /// once more; tungstenite still writes its own frames (ping, pong,
    /// close) here, each whole, so frames never interleave.
    pub(crate) fn push_binary(&mut self, payload: &[u8]) {
        let len = payload.len();
        let mut header = [0x82u8, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let used = if let Ok(short @ 0..=125) = u8::try_from(len) {
            header[1] = short;
            2
        } else if let Ok(medium) = u16::try_from(len) {
            header[1] = 126;
            header[2..4].copy_from_slice(&medium.to_be_bytes());
            4
        } else {
            header[1] = 127;
            header[2..10].copy_from_slice(&(len as u64).to_be_bytes());
            10
        };
        // Room for the whole frame first: one allocation for a batch's
        // first frame, not one for its header and another for its payload.
        self.reserve(used + len);
        self.out.extend_from_slice(&header[..used]);
        self.out.extend_from_slice(payload);
    }

    /// Appends bytes to the batch (the next flush sends them), growing its
    /// buffer to at most `WRITE_BATCH_BYTES` or what it must hold,
    /// whichever is more (the memory bound's "16 KiB + frame"), never to
    /// double that.
    pub(crate) fn append(&mut self, bytes: &[u8]) {
        self.reserve(bytes.len());
        self.out.extend_from_slice(bytes);
    }

    /// Grows the batch's buffer for `more` bytes, as [`Metered::append`]
    /// says.
    fn reserve(&mut self, more: usize) {
        let needed = self.out.len() + more;
        if needed > self.out.capacity() {
            let grown = (2 * self.out.capacity()).clamp(needed, WRITE_BATCH_BYTES.max(needed));
            self.out.reserve_exact(grown - self.out.len());
        }
    }
}

impl<S: AsyncWrite + Unpin> Metered<S> {
    /// Hands the whole batch to `inner`, then gives the buffer back.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.out.len() {
            let n = match Pin::new(&mut self.inner).poll_write(cx, &self.out[self.sent..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            self.sent += n;
            self.metrics.bytes_out(n);
        }
        self.out = Vec::new();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Metered<S> {
    /// Takes all of `buf` into the batch; a full batch is sent first.
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.out.len() >= WRITE_BATCH_BYTES {
            if let Err(e) = std::task::ready!(self.poll_send(cx)) {
                return Poll::Ready(Err(e));
            }
        }
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Err(e) = std::task::ready!(self.poll_send(cx)) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Err(e) = std::task::ready!(self.poll_send(cx)) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smol::io::AsyncReadExt;

    #[test]
    fn reading_past_the_budget_fails_until_a_message_is_seen() {
        smol::block_on(async {
            let data = vec![0u8; 100];
            let mut m = Metered::new(smol::io::Cursor::new(data), 10, Arc::default());
            let mut buf = [0u8; 8];
            assert_eq!(m.read(&mut buf).await.unwrap(), 8);
            assert_eq!(m.read(&mut buf).await.unwrap(), 8);
            let e = m.read(&mut buf).await.unwrap_err();
            assert!(is_budget_error(&e));
            // A pong forgives its own 6 bytes (16 - 6 = 10, at the budget)...
            m.seen(&Message::Pong(Vec::new().into()));
            assert_eq!(m.read(&mut buf).await.unwrap(), 8);
            // ...but does not start the count again.
            assert!(is_budget_error(&m.read(&mut buf).await.unwrap_err()));
            m.seen(&Message::Binary(vec![1].into()));
            assert_eq!(m.read(&mut buf).await.unwrap(), 8);
        });
    }

    #[test]
    fn writes_collect_until_the_flush_which_gives_the_buffer_back() {
        use smol::io::AsyncWriteExt;
        smol::block_on(async {
            let mut m = Metered::new(Vec::<u8>::new(), 10, Arc::default());
            m.write_all(b"one ").await.unwrap();
            m.write_all(b"two").await.unwrap();
            assert!(m.inner.is_empty());
            m.flush().await.unwrap();
            assert_eq!(m.inner, b"one two");
            assert_eq!(m.out.capacity(), 0);
            // A full batch goes down before more is taken.
            let big = vec![7u8; WRITE_BATCH_BYTES];
            m.write_all(&big).await.unwrap();
            m.write_all(b"!").await.unwrap();
            assert_eq!(m.inner.len(), 7 + WRITE_BATCH_BYTES);
            assert_eq!(m.out, b"!");
        });
    }

    #[test]
    fn binary_frames_carry_each_length_form() {
        let mut m = Metered::new(Vec::<u8>::new(), 10, Arc::default());
        m.push_binary(b"hi");
        assert_eq!(m.out, [0x82, 2, b'h', b'i']);
        for (len, header) in [
            (125, vec![0x82, 125]),
            (126, vec![0x82, 126, 0, 126]),
            (65535, vec![0x82, 126, 0xff, 0xff]),
            (65536, vec![0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]),
        ] {
            m.out.clear();
            m.push_binary(&vec![7; len]);
            assert_eq!(m.out[..header.len()], header[..], "{len}");
            assert_eq!(m.out.len(), header.len() + len);
            assert_eq!(binary_frame_len(len), m.out.len(), "{len}");
        }
        // A batch reserved for its frames is not grown while they are
        // pushed.
        m.out = Vec::new();
        m.reserve_batch(binary_frame_len(0) + binary_frame_len(200));
        let room = m.out.capacity();
        m.push_binary(b"");
        m.push_binary(&[1; 200]);
        assert_eq!((m.out.len(), m.out.capacity()), (206, room));
        // tungstenite reads back what was written.
        use async_tungstenite::tungstenite::protocol::{Role, WebSocket};
        let mut frames = Vec::new();
        m.out.clear();
        m.push_binary(b"one");
        m.push_binary(&[9; 300]);
        frames.extend_from_slice(&m.out);
        let mut client =
            WebSocket::from_raw_socket(std::io::Cursor::new(frames), Role::Client, None);
        assert_eq!(
            client.read().unwrap(),
            Message::Binary(b"one".to_vec().into())
        );
        assert_eq!(client.read().unwrap(), Message::Binary(vec![9; 300].into()));
    }
}
