//! A connection's TCP socket, held as small as async-io allows.
//!
//! smol's `TcpStream` keeps, beside its `Arc<Async<TcpStream>>`, one cached
//! readiness future per direction (120 bytes inline), and waiting through
//! those futures registers a slot in the socket's waker slab, which stays
//! allocated. Every session holds its socket for its whole life inside the
//! TLS stream and always has a read pending, so [`Socket`] reads and writes
//! through `&Async<TcpStream>` instead: the same non-blocking calls, waiting
//! on async-io's one stored waker per direction (the connection's single
//! task is the only one waiting), in 8 bytes.

use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use smol::io::{AsyncRead, AsyncWrite};
use smol::net::TcpStream;
use smol::Async;

/// One accepted TCP connection.
#[derive(Debug)]
pub(crate) struct Socket(Arc<Async<std::net::TcpStream>>);

impl From<TcpStream> for Socket {
    fn from(tcp: TcpStream) -> Self {
        Self(tcp.into())
    }
}

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.0).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.0).poll_flush(cx)
    }

    /// Shuts the sending side down, as smol's `TcpStream` does.
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.0.get_ref().shutdown(Shutdown::Write))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smol::io::{AsyncReadExt, AsyncWriteExt};
    use smol::net::TcpListener;

    #[test]
    fn bytes_go_both_ways_and_close_ends_the_peers_reads() {
        smol::block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let (client, accepted) =
                smol::future::zip(TcpStream::connect(addr), listener.accept()).await;
            let mut client = client.unwrap();
            let mut socket = Socket::from(accepted.unwrap().0);
            socket.write_all(b"hello").await.unwrap();
            socket.flush().await.unwrap();
            let mut got = [0u8; 5];
            client.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"hello");
            client.write_all(b"back").await.unwrap();
            let mut got = [0u8; 4];
            socket.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"back");
            socket.close().await.unwrap();
            let mut rest = Vec::new();
            assert_eq!(client.read_to_end(&mut rest).await.unwrap(), 0);
        });
    }
}
