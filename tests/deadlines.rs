//! Deadlines while a write is blocked (issue 15, finding 2): a member with
//! a tiny receive window stops reading while 16 KB messages are published
//! to it. Its session's write then waits on the socket; that wait must end
//! at the token's expiry (4001) or after `write_timeout_s` (4009), even
//! though its queue never fills, and nothing published after the expiry
//! may reach it. Over real TLS; every wait is bounded, none is timed.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, UNIX_EPOCH};

use async_tungstenite::tungstenite::Message;
use common::*;
use palisade::protocol::{client_to_vec, decode_server, Body, ClientFrame, Role, ServerFrame};
use smol::net::TcpStream;

const OP_BINARY: u8 = 2;
const OP_CLOSE: u8 = 8;
const BODY: usize = 16 * 1024;
/// Enough to fill the server's socket (Linux grows its send buffer to at
/// most 4 MiB), rustls' buffer and a write batch, so the write waits.
const BEFORE: u32 = 320;

/// A TCP connection whose receive buffer is as small as Linux allows (set
/// before connecting, so the window it advertises stays small).
async fn tiny_window(addr: SocketAddr) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(1024).unwrap();
    let std_stream = smol::unblock(move || {
        socket.connect(&addr.into())?;
        Ok::<_, std::io::Error>(std::net::TcpStream::from(socket))
    })
    .await
    .unwrap();
    TcpStream::try_from(std_stream).unwrap()
}

fn server(write_timeout_s: u16) -> TestServer {
    TestServer::start_with(|c| {
        c.limits.max_body = BODY as u32;
        c.limits.max_message_bytes = 2 * BODY as u32;
        // The queue never fills: only a deadline can end the session.
        c.limits.outbound_queue = 4096;
        c.limits.publish_per_sec = u16::MAX;
        c.limits.frames_per_sec = u16::MAX;
        c.limits.write_timeout_s = write_timeout_s;
    })
}

/// Joins `slow` (over a tiny window) to room "r"; it reads nothing after.
async fn stalled_member(server: &TestServer, token: &str) -> RawWs {
    let tls = server.tls_over(tiny_window(server.addr).await).await;
    let mut slow = server.raw_ws_over(tls, token).await;
    let join = client_to_vec(&ClientFrame::Join {
        room: room("r"),
        since: None,
    });
    slow.send(true, OP_BINARY, &join).await.unwrap();
    loop {
        let (op, bytes) = slow.read_frame().await.expect("closed before Joined");
        if op == OP_BINARY && matches!(decode_server(&bytes), Ok(ServerFrame::Joined { .. })) {
            return slow;
        }
    }
}

/// Publishes `count` bodies of 16 KB into "r", each read back (Ack and the
/// publisher's own copy) before the next.
async fn publish(publisher: &mut palisade::client::Client, from: u32, count: u32) {
    for id in from..from + count {
        let bytes = client_to_vec(&ClientFrame::Publish {
            id,
            room: room("r"),
            body: Body::Text("x".repeat(BODY)),
        });
        publisher
            .send_raw(Message::Binary(bytes.into()))
            .await
            .unwrap();
        assert!(matches!(frame(publisher).await, ServerFrame::Ack { .. }));
        assert!(matches!(
            frame(publisher).await,
            ServerFrame::Message { .. }
        ));
    }
}

/// Waits (bounded) until the server has counted a close with `code`.
async fn closed_with(server: &TestServer, code: u16) {
    bounded(async {
        while server.server.metrics().closes(Some(code), true) == 0 {
            smol::Timer::after(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// Reads what the server wrote before it gave up, to the close frame or
/// the end of the connection; returns every `Message`'s `sent_at_ms`.
async fn delivered(slow: &mut RawWs) -> Vec<u64> {
    let mut sent = Vec::new();
    while let Some((op, bytes)) = slow.read_frame().await {
        if op == OP_CLOSE {
            break;
        }
        if let Ok(ServerFrame::Message { sent_at_ms, .. }) = decode_server(&bytes) {
            sent.push(sent_at_ms);
        }
    }
    sent
}

#[test]
fn a_stalled_write_ends_at_token_expiry_and_nothing_published_after_it_arrives() {
    // Writes never time out here: the expiry must end the wait.
    let server = server(3600);
    // Every step is bounded (`STEP`); the whole is longer than one step.
    smol::block_on(async {
        // Long enough to connect and publish BEFORE messages on a busy
        // machine; the session must end at it whatever the write does.
        let ttl = 8;
        let token = server.token("slow", Role::Member, &["*"], ttl);
        let exp = now() + ttl;
        let mut slow = bounded(stalled_member(&server, &token)).await;
        let (mut publisher, _) = server.connect(&server.member("publisher")).await;
        join(&mut publisher, "r", None).await;
        bounded(publish(&mut publisher, 0, BEFORE)).await;
        // Past the expiry (a bounded wait for the clock, not a sync point).
        let exp_at = UNIX_EPOCH + Duration::from_secs(exp + 1);
        let wait = exp_at
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default();
        bounded(smol::Timer::after(wait)).await;
        publish(&mut publisher, BEFORE, 3).await;
        closed_with(&server, 4001).await;
        let sent = bounded(delivered(&mut slow)).await;
        assert!(!sent.is_empty(), "the member got nothing before expiry");
        let late: Vec<_> = sent.iter().filter(|&&t| t >= exp * 1000).collect();
        assert!(late.is_empty(), "delivered after exp {exp}: {late:?}");
    });
}

#[test]
fn a_write_stalled_for_write_timeout_s_closes_4009_with_the_queue_not_full() {
    let server = server(1);
    smol::block_on(async {
        let mut slow = bounded(stalled_member(&server, &server.member("slow"))).await;
        let (mut publisher, _) = server.connect(&server.member("publisher")).await;
        join(&mut publisher, "r", None).await;
        bounded(publish(&mut publisher, 0, BEFORE)).await;
        closed_with(&server, 4009).await;
        assert_eq!(server.server.metrics().closes(Some(4001), true), 0);
        // The publisher is still served.
        publish(&mut publisher, BEFORE, 1).await;
        drop(bounded(delivered(&mut slow)).await);
    });
}
