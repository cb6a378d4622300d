//! The attack suite: one test per attack, each over real TLS with an honest
//! client alongside that must still be served, each asserting the exact
//! status or close code. Limits are set small so every attack is cheap and
//! bounded in time; nothing here asserts on timing.

mod common;

use std::time::Duration;

use async_tungstenite::tungstenite::Message;
use common::*;
use palisade::client::ClientError;
use palisade::config::StorageConfig;
use palisade::protocol::{client_to_vec, close, Body, ClientFrame, ErrorCode, ServerFrame};
use smol::io::{AsyncReadExt, AsyncWriteExt};

const OP_CONTINUATION: u8 = 0;
const OP_BINARY: u8 = 2;
const OP_PING: u8 = 9;

fn publish_bytes(id: u32, room_name: &str, body: &str) -> Vec<u8> {
    client_to_vec(&ClientFrame::Publish {
        id,
        room: room(room_name),
        body: Body::Text(body.to_owned()),
    })
}

/// Reads until EOF or error; true if the server never sent an HTTP answer.
async fn dropped_without_answer<S: smol::io::AsyncRead + Unpin>(stream: &mut S) -> bool {
    let mut out = Vec::new();
    let _ = bounded(stream.read_to_end(&mut out)).await;
    !out.starts_with(b"HTTP/")
}

#[test]
fn slowloris_tls_handshake_is_dropped_at_the_deadline() {
    let server = TestServer::start_with(|c| c.limits.handshake_timeout_s = 1);
    within(async {
        let mut honest = Honest::join(&server, "honest").await;
        // A ClientHello that never completes: the record header and a byte.
        let mut tcp = tcp_from([127, 0, 0, 2], server.addr).await.unwrap();
        tcp.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
            .await
            .unwrap();
        honest.still_served().await;
        assert!(dropped_without_answer(&mut tcp).await);
        honest.still_served().await;
    });
}

#[test]
fn slowloris_http_head_is_dropped_at_the_deadline() {
    let server = TestServer::start_with(|c| c.limits.handshake_timeout_s = 1);
    within(async {
        let mut honest = Honest::join(&server, "honest").await;
        let mut tls = server.tls_from([127, 0, 0, 2]).await;
        // One byte at a time, never finishing the head.
        let head = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";
        let mut dropped = false;
        for byte in head.iter().cycle().take(200) {
            if tls.write_all(&[*byte]).await.is_err() || tls.flush().await.is_err() {
                dropped = true;
                break;
            }
            smol::Timer::after(Duration::from_millis(50)).await;
        }
        assert!(dropped || dropped_without_answer(&mut tls).await);
        honest.still_served().await;
    });
}

#[test]
fn connection_flood_past_the_per_ip_cap_gets_429() {
    let server = TestServer::start_with(|c| c.limits.max_connections_per_ip = 4);
    within(async {
        let mut honest = Honest::join(&server, "honest").await;
        // Half-open handshakes count: four idle TCP connections fill the cap.
        let mut idle = Vec::new();
        for _ in 0..4 {
            idle.push(tcp_from([127, 0, 0, 2], server.addr).await.unwrap());
        }
        while server.handle.connections() < 5 {
            smol::Timer::after(Duration::from_millis(10)).await;
        }
        let mut tls = server.tls_from([127, 0, 0, 2]).await;
        tls.write_all(upgrade_head("/ws", &["Sec-WebSocket-Protocol: palisade.v1"]).as_bytes())
            .await
            .unwrap();
        let mut out = Vec::new();
        let _ = bounded(tls.read_to_end(&mut out)).await;
        assert_eq!(status_of(&String::from_utf8_lossy(&out)), 429);
        honest.still_served().await;
        // Another address is not affected.
        Honest::join(&server, "other").await.still_served().await;
    });
}

#[test]
fn connection_flood_past_the_global_cap_gets_503_or_is_dropped() {
    let server = TestServer::start_with(|c| c.limits.max_connections = 3);
    within(async {
        let mut honest = Honest::join(&server, "honest").await;
        let mut idle = Vec::new();
        for _ in 0..2 {
            idle.push(tcp_from([127, 0, 0, 3], server.addr).await.unwrap());
        }
        while server.handle.connections() < 3 {
            smol::Timer::after(Duration::from_millis(10)).await;
        }
        // Beyond the cap: the first few get a 503, the rest are dropped
        // before any TLS work. Neither ever gets a session.
        let token = server.member("flood");
        match server.try_connect(server.connect_opts(&token)).await {
            Err(ClientError::Refused { status, .. }) => assert_eq!(status, 503),
            Err(ClientError::Io(_)) => {}
            other => panic!("{other:?}"),
        }
        let mut floods = Vec::new();
        for _ in 0..50 {
            floods.push(tcp_from([127, 0, 0, 4], server.addr).await.unwrap());
        }
        honest.still_served().await;
        drop(floods);
        drop(idle);
        // Once the flood is gone, new clients get in again.
        loop {
            match server.try_connect(server.connect_opts(&token)).await {
                Ok(_) => break,
                Err(_) => {
                    smol::Timer::after(Duration::from_millis(50)).await;
                }
            }
        }
    });
}

#[test]
fn auth_failures_get_the_address_banned_until_the_ban_expires() {
    let server = TestServer::start_with(|c| {
        c.limits.auth_failures_before_ban = 3;
        c.limits.ban_seconds = 2;
    });
    let good = server.member("attacker-later-honest");
    within(async {
        let mut honest = Honest::join(&server, "honest").await;
        let attempt = |token: String| {
            let server = &server;
            async move {
                let mut tls = server.tls_from([127, 0, 0, 5]).await;
                let auth = format!("Authorization: Bearer {token}");
                let head = upgrade_head("/ws", &["Sec-WebSocket-Protocol: palisade.v1", &auth]);
                tls.write_all(head.as_bytes()).await.unwrap();
                let mut out = vec![0u8; 1024];
                let n = bounded(tls.read(&mut out)).await.unwrap_or(0);
                status_of(&String::from_utf8_lossy(&out[..n]))
            }
        };
        for _ in 0..3 {
            assert_eq!(attempt("v4.public.forged".into()).await, 401);
        }
        assert_eq!(server.handle.banned_addresses(), 1);
        // Banned: even a valid token is refused with 429.
        assert_eq!(attempt(good.clone()).await, 429);
        honest.still_served().await;
        // After ban_seconds the address is served again.
        while server.handle.banned_addresses() > 0 {
            smol::Timer::after(Duration::from_millis(100)).await;
        }
        assert_eq!(attempt(good.clone()).await, 101);
    });
}

#[test]
fn slow_consumer_is_evicted_with_4009_and_nobody_else_waits() {
    const COUNT: u64 = 3000;
    // Rooms in memory: this is about the queue, and 3,000 commits one
    // after another would make the test's time the disk's.
    let server = TestServer::start_with(|c| {
        c.limits.outbound_queue = 16;
        c.limits.publish_per_sec = u16::MAX;
        c.limits.frames_per_sec = u16::MAX;
        c.storage = Some(StorageConfig::memory());
    });
    let body = "x".repeat(4000);
    within(async {
        let mut honest = Honest::join(&server, "honest").await;
        // The slow member joins and then never reads.
        let mut slow = server.raw_ws(&server.member("slow")).await;
        let join_bytes = client_to_vec(&ClientFrame::Join {
            room: room("honest"),
            since: None,
        });
        slow.send(true, OP_BINARY, &join_bytes).await.unwrap();
        // Wait until the slow member is in the room before flooding it.
        loop {
            let (op, bytes) = slow.read_frame().await.unwrap();
            if op == OP_BINARY
                && matches!(
                    palisade::protocol::decode_server(&bytes),
                    Ok(ServerFrame::Joined { .. })
                )
            {
                break;
            }
        }
        let (mut publisher, _) = server.connect(&server.member("publisher")).await;
        join(&mut publisher, "honest", None).await;
        // The publisher writes without waiting; the honest member reads all.
        let reader = async {
            let mut seqs = Vec::new();
            while seqs.len() < COUNT as usize {
                match frame(&mut honest.client).await {
                    ServerFrame::Message { seq, .. } => seqs.push(seq),
                    other => panic!("{other:?}"),
                }
            }
            seqs
        };
        // The publisher reads its own Ack and Message before the next
        // publish, so only the slow member falls behind.
        let writer = async {
            for id in 0..COUNT as u32 {
                let bytes = publish_bytes(id, "honest", &body);
                publisher
                    .send_raw(Message::Binary(bytes.into()))
                    .await
                    .unwrap();
                assert!(matches!(
                    frame(&mut publisher).await,
                    ServerFrame::Ack { .. }
                ));
                assert!(matches!(
                    frame(&mut publisher).await,
                    ServerFrame::Message { .. }
                ));
            }
        };
        let (seqs, ()) = smol::future::zip(reader, writer).await;
        // Every message, in order, with no gap (memory storage starts its
        // seqs from a clock-derived base, not 1).
        let first = seqs[0];
        let gap = seqs
            .iter()
            .zip(first..)
            .position(|(&got, want)| got != want);
        assert_eq!(gap, None, "seqs from {first}: gap at index {gap:?}");
        assert_eq!(slow.close_code().await, close::TOO_SLOW);
        honest.still_served().await;
    });
}

#[test]
fn publish_flood_is_rate_limited_then_closed_with_1008() {
    let server = TestServer::start_with(|c| {
        c.limits.publish_per_sec = 5;
        c.limits.violations_before_close = 10;
        c.limits.frames_per_sec = 1000;
    });
    within(async {
        let mut honest = Honest::join(&server, "honest").await;
        let (mut flooder, _) = server.connect(&server.member("flooder")).await;
        join(&mut flooder, "honest", None).await;
        for id in 0..200 {
            if flooder
                .send(&ClientFrame::Publish {
                    id,
                    room: room("honest"),
                    body: Body::Text("spam".into()),
                })
                .await
                .is_err()
            {
                break;
            }
        }
        let mut rate_limited = 0;
        let code = loop {
            match bounded(flooder.recv()).await {
                Ok(palisade::client::Event::Frame(ServerFrame::Error {
                    code: ErrorCode::RateLimited,
                    ..
                })) => rate_limited += 1,
                Ok(palisade::client::Event::Frame(_)) => {}
                Ok(palisade::client::Event::Closed { code, .. }) => break code,
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(code, close::POLICY);
        assert!(rate_limited >= 1);
        honest.still_served().await;
    });
}

#[test]
fn ping_flood_is_closed_with_1008() {
    let server = TestServer::start_with(|c| c.limits.frames_per_sec = 20);
    within(async {
        let mut honest = Honest::join(&server, "honest").await;
        let mut raw = server.raw_ws(&server.member("pinger")).await;
        for _ in 0..500 {
            if raw.send(true, OP_PING, b"p").await.is_err() {
                break;
            }
        }
        assert_eq!(raw.close_code().await, close::POLICY);
        honest.still_served().await;
    });
}

/// `n` empty, masked, non-final continuation frames (6 bytes each).
fn empty_continuations(n: usize) -> Vec<u8> {
    RawWs::frame(false, OP_CONTINUATION, &[]).repeat(n)
}

#[test]
fn fragment_flood_of_empty_continuations_is_closed_with_1008() {
    let server = TestServer::start();
    within(async {
        let mut honest = Honest::join(&server, "honest").await;
        let mut raw = server.raw_ws(&server.member("fragments")).await;
        raw.send(false, OP_BINARY, &[0]).await.unwrap();
        let burst = empty_continuations(1000);
        for _ in 0..20 {
            if raw.write(&burst).await.is_err() {
                break;
            }
        }
        assert_eq!(raw.close_code().await, close::POLICY);
        honest.still_served().await;
    });
}

#[test]
fn oversized_and_huge_length_prefix_frames_close_1009() {
    let server = TestServer::start();
    within(async {
        let mut honest = Honest::join(&server, "honest").await;
        // A header announcing 2^62 bytes, and nothing after it: refused
        // from the header alone, nothing allocated.
        let mut raw = server.raw_ws(&server.member("liar")).await;
        let mut header = vec![0x82, 0x80 | 127];
        header.extend_from_slice(&(1u64 << 62).to_be_bytes());
        header.extend_from_slice(&[1, 2, 3, 4]);
        raw.write(&header).await.unwrap();
        assert_eq!(raw.close_code().await, close::TOO_BIG);
        // A real frame one byte over the limit.
        let mut raw = server.raw_ws(&server.member("big")).await;
        let _ = raw.send(true, OP_BINARY, &vec![0u8; 8193]).await;
        assert_eq!(raw.close_code().await, close::TOO_BIG);
        // Fragments that together exceed the limit.
        let mut raw = server.raw_ws(&server.member("pieces")).await;
        let _ = raw.send(false, OP_BINARY, &vec![0u8; 5000]).await;
        let _ = raw.send(true, OP_CONTINUATION, &vec![0u8; 5000]).await;
        assert_eq!(raw.close_code().await, close::TOO_BIG);
        honest.still_served().await;
    });
}

#[test]
fn thousands_of_joins_and_leaves_leave_no_rooms_behind() {
    let server = TestServer::start_with(|c| {
        c.limits.frames_per_sec = u16::MAX;
        c.limits.outbound_queue = 1024;
    });
    within(async {
        let mut honest = Honest::join(&server, "honest").await;
        let rooms_before = server.handle.rooms();
        let (mut churn, _) = server.connect(&server.member("churn")).await;
        for i in 0..2000u32 {
            let r = room(&format!("churn-{}", i % 300));
            churn
                .send(&ClientFrame::Join {
                    room: r.clone(),
                    since: Some(0),
                })
                .await
                .unwrap();
            churn.send(&ClientFrame::Leave { room: r }).await.unwrap();
        }
        // Session frames are handled in order, so the Left for a final
        // marker room comes after every earlier join and leave took effect.
        // The answers (about 50 KB) wait in the socket buffers meanwhile.
        let marker = room("marker");
        churn
            .send(&ClientFrame::Join {
                room: marker.clone(),
                since: None,
            })
            .await
            .unwrap();
        churn
            .send(&ClientFrame::Leave {
                room: marker.clone(),
            })
            .await
            .unwrap();
        let (mut joined, mut left) = (0, 0);
        loop {
            match frame(&mut churn).await {
                ServerFrame::Joined { .. } => joined += 1,
                ServerFrame::Left { room: r } => {
                    left += 1;
                    if r == marker {
                        break;
                    }
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!((joined, left), (2001, 2001));
        assert_eq!(server.handle.rooms(), rooms_before);
        honest.still_served().await;
    });
}

#[test]
fn pings_between_empty_continuations_do_not_reset_the_byte_budget() {
    let server = TestServer::start();
    within(async {
        let mut honest = Honest::join(&server, "honest").await;
        let mut raw = server.raw_ws(&server.member("pinger")).await;
        raw.send(false, OP_BINARY, &[0]).await.unwrap();
        // 6000 bytes of empty continuations, then a ping, over and over:
        // each burst is well under the budget (24 KiB by default), so only
        // counting across pings can close it. 40 pings stay under the
        // frame rate limit (50 per second), which must not be what fires.
        let mut burst = empty_continuations(1000);
        burst.extend_from_slice(&RawWs::frame(true, OP_PING, b""));
        for _ in 0..40 {
            if raw.write(&burst).await.is_err() {
                break;
            }
        }
        let (code, reason) = raw.close_frame().await;
        assert_eq!(code, close::POLICY);
        assert_eq!(reason, "too many bytes without a message");
        honest.still_served().await;
    });
}
