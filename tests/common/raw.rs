#![allow(dead_code)]
//! Hand-driven peers for the attack tests: other source addresses, raw
//! WebSocket frames, and an honest client that must stay served.

use std::net::SocketAddr;

use futures_rustls::TlsConnector;
use palisade::client::Client;
use palisade::protocol::ServerFrame;
use rustls::pki_types::ServerName;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::TcpStream;

use super::{bounded, frame, room, upgrade_head, TestServer};

/// A TCP connection to `addr` from the loopback source address `source`
/// (127.0.0.x), so tests can act as several peers.
pub async fn tcp_from(source: [u8; 4], addr: SocketAddr) -> std::io::Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.bind(&SocketAddr::from((source, 0)).into())?;
    let std_stream = smol::unblock(move || {
        socket.connect(&addr.into())?;
        Ok::<_, std::io::Error>(std::net::TcpStream::from(socket))
    })
    .await?;
    TcpStream::try_from(std_stream)
}

pub type ClientTls = futures_rustls::client::TlsStream<TcpStream>;

/// A hand-driven WebSocket over TLS, for attacks a real client library
/// would not send: raw frames, floods, lying length prefixes.
pub struct RawWs {
    tls: ClientTls,
    buf: Vec<u8>,
}

impl TestServer {
    pub async fn tls_from(&self, source: [u8; 4]) -> ClientTls {
        let tcp = tcp_from(source, self.addr).await.unwrap();
        self.tls_over(tcp).await
    }

    /// TLS over a TCP connection the test made itself (with its own
    /// socket options).
    pub async fn tls_over(&self, tcp: TcpStream) -> ClientTls {
        TlsConnector::from(self.tls.clone())
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap()
    }

    /// Upgrades with `token` and returns the raw WebSocket after the 101.
    pub async fn raw_ws(&self, token: &str) -> RawWs {
        let tls = self.tls_from([127, 0, 0, 1]).await;
        self.raw_ws_over(tls, token).await
    }

    /// [`TestServer::raw_ws`] over a TLS stream the test made.
    pub async fn raw_ws_over(&self, mut tls: ClientTls, token: &str) -> RawWs {
        let auth = format!("Authorization: Bearer {token}");
        let head = upgrade_head("/ws", &["Sec-WebSocket-Protocol: palisade.v1", &auth]);
        tls.write_all(head.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let end = loop {
            let n = bounded(tls.read(&mut chunk)).await.unwrap();
            assert!(
                n > 0,
                "closed before 101: {:?}",
                String::from_utf8_lossy(&buf)
            );
            buf.extend_from_slice(&chunk[..n]);
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
        };
        assert!(
            buf.starts_with(b"HTTP/1.1 101 "),
            "{:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.drain(..end);
        RawWs { tls, buf }
    }
}

impl RawWs {
    /// Writes bytes as they are.
    pub async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.tls.write_all(bytes).await?;
        self.tls.flush().await
    }

    /// Encodes one masked client frame.
    pub fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [0x12u8, 0x34, 0x56, 0x78];
        let mut out = vec![(u8::from(fin) << 7) | opcode];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= 0xffff => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    /// Sends one frame; errors are returned (the server may have closed).
    pub async fn send(&mut self, fin: bool, opcode: u8, payload: &[u8]) -> std::io::Result<()> {
        self.write(&Self::frame(fin, opcode, payload)).await
    }

    async fn fill(&mut self, want: usize) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        while self.buf.len() < want {
            match bounded(self.tls.read(&mut chunk)).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
        true
    }

    /// The next server frame as (opcode, payload), or None at EOF.
    pub async fn read_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        if !self.fill(2).await {
            return None;
        }
        let opcode = self.buf[0] & 0x0f;
        let (len, header) = match self.buf[1] & 0x7f {
            126 => {
                if !self.fill(4).await {
                    return None;
                }
                (
                    usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]])),
                    4,
                )
            }
            127 => {
                if !self.fill(10).await {
                    return None;
                }
                let mut b = [0u8; 8];
                b.copy_from_slice(&self.buf[2..10]);
                (u64::from_be_bytes(b) as usize, 10)
            }
            n => (usize::from(n), 2),
        };
        if !self.fill(header + len).await {
            return None;
        }
        let payload = self.buf[header..header + len].to_vec();
        self.buf.drain(..header + len);
        Some((opcode, payload))
    }

    /// Reads until the server's close frame and returns its code.
    pub async fn close_code(&mut self) -> u16 {
        self.close_frame().await.0
    }

    /// Reads until the server's close frame and returns its code and reason.
    pub async fn close_frame(&mut self) -> (u16, String) {
        while let Some((opcode, payload)) = self.read_frame().await {
            if opcode == 8 {
                assert!(payload.len() >= 2, "close frame without a code");
                let reason = String::from_utf8_lossy(&payload[2..]).into_owned();
                return (u16::from_be_bytes([payload[0], payload[1]]), reason);
            }
        }
        panic!("connection ended without a close frame");
    }
}

/// An honest client that stays connected during an attack and proves it is
/// still served: it publishes and receives its own message.
pub struct Honest {
    pub client: Client,
    next: u32,
}

impl Honest {
    pub async fn join(server: &TestServer, name: &str) -> Self {
        let (mut client, _) = server.connect(&server.member(name)).await;
        client
            .send(&palisade::protocol::ClientFrame::Join {
                room: room("honest"),
                since: None,
            })
            .await
            .unwrap();
        assert!(matches!(
            frame(&mut client).await,
            ServerFrame::Joined { .. }
        ));
        Self { client, next: 0 }
    }

    /// Publishes and waits for its Ack and Message, skipping others' messages.
    pub async fn still_served(&mut self) {
        self.next += 1;
        let id = self.next;
        let body = palisade::protocol::Body::Text(format!("still here {id}"));
        self.client
            .send(&palisade::protocol::ClientFrame::Publish {
                id,
                room: room("honest"),
                body: body.clone(),
            })
            .await
            .unwrap();
        let mut acked = false;
        loop {
            match frame(&mut self.client).await {
                ServerFrame::Ack { id: got, .. } if got == id => acked = true,
                ServerFrame::Message { body: got, .. } if got == body => {
                    assert!(acked, "Message before Ack");
                    return;
                }
                ServerFrame::Message { .. } => {}
                other => panic!("honest client got {other:?}"),
            }
        }
    }
}
