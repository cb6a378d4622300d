//! PROTOCOL.md section 5 and session lifetime over real TLS: every close
//! code this server sends, token expiry, Reauth.

mod common;

use async_tungstenite::tungstenite::Message;
use common::*;
use palisade::protocol::{close, ClientFrame, ErrorCode, Role, ServerFrame};

#[test]
fn text_message_closes_1003() {
    let server = TestServer::start();
    within(async {
        let (mut c, _) = server.connect(&server.member("alice")).await;
        c.send_raw(Message::Text("hello".into())).await.unwrap();
        assert_eq!(close_code(&mut c).await, close::UNSUPPORTED_DATA);
    });
}

/// A client's close with 1000 is answered with 1000.
#[test]
fn a_normal_close_is_answered_with_1000() {
    let server = TestServer::start();
    within(async {
        let mut raw = server.raw_ws(&server.member("alice")).await;
        let payload = close::NORMAL.to_be_bytes();
        raw.send(true, 8, &payload).await.unwrap();
        assert_eq!(raw.close_code().await, close::NORMAL);
    });
}

/// A frame with a reserved opcode is a WebSocket protocol error: 1002.
#[test]
fn a_reserved_opcode_closes_1002() {
    let server = TestServer::start();
    within(async {
        let mut raw = server.raw_ws(&server.member("alice")).await;
        raw.send(true, 0x3, b"x").await.unwrap();
        assert_eq!(raw.close_code().await, close::PROTOCOL_ERROR);
    });
}

#[test]
fn invalid_frames_close_1007() {
    let server = TestServer::start();
    let token = server.member("alice");
    let bad: [&[u8]; 5] = [
        b"",              // empty message
        b"\x09",          // unknown variant
        b"\x01\x01A",     // Leave with an invalid room name
        b"\x01\x01a\x00", // trailing byte
        b"\x00\x05lob",   // truncated
    ];
    within(async {
        for bytes in bad {
            let (mut c, _) = server.connect(&token).await;
            c.send_raw(Message::Binary(bytes.to_vec().into()))
                .await
                .unwrap();
            assert_eq!(close_code(&mut c).await, close::INVALID_FRAME, "{bytes:?}");
        }
    });
}

#[test]
fn oversized_message_closes_1009() {
    let server = TestServer::start_with(|c| {
        c.limits.max_message_bytes = 2048;
        c.limits.max_body = 1024;
    });
    within(async {
        let (mut c, _) = server.connect(&server.member("alice")).await;
        c.send_raw(Message::Binary(vec![0u8; 2049].into()))
            .await
            .unwrap();
        assert_eq!(close_code(&mut c).await, close::TOO_BIG);
        // Exactly the limit is read (and is not a valid frame: 1007).
        let (mut c, _) = server.connect(&server.member("alice")).await;
        c.send_raw(Message::Binary(vec![0u8; 2048].into()))
            .await
            .unwrap();
        assert_eq!(close_code(&mut c).await, close::INVALID_FRAME);
    });
}

#[test]
fn a_bad_session_does_not_disturb_others() {
    let server = TestServer::start();
    within(async {
        let (mut good, _) = server.connect(&server.member("good")).await;
        let (mut bad, _) = server.connect(&server.member("bad")).await;
        join(&mut good, "r", None).await;
        bad.send_raw(Message::Text("x".into())).await.unwrap();
        assert_eq!(close_code(&mut bad).await, close::UNSUPPORTED_DATA);
        publish_text(&mut good, 1, "r", "ok").await;
        assert_eq!(frame(&mut good).await, ServerFrame::Ack { id: 1, seq: 1 });
    });
}

#[test]
fn client_close_is_answered_and_the_session_removed() {
    let server = TestServer::start();
    within(async {
        let (c, _) = server.connect(&server.member("alice")).await;
        assert_eq!(server.handle.sessions().len(), 1);
        c.close().await.unwrap();
        while !server.handle.sessions().is_empty() {
            smol::Timer::after(std::time::Duration::from_millis(20)).await;
        }
        while server.handle.connections() != 0 {
            smol::Timer::after(std::time::Duration::from_millis(20)).await;
        }
    });
}

#[test]
fn token_expiry_closes_4001() {
    let server = TestServer::start();
    // Expires within three seconds; the server closes at exp.
    let token = server.expiring_token("alice");
    within(async {
        let (mut c, _) = server.connect(&token).await;
        assert_eq!(close_code(&mut c).await, close::TOKEN_EXPIRED);
    });
}

#[test]
fn reauth_renews_the_same_session() {
    let server = TestServer::start();
    let short = server.expiring_token("alice");
    let long = server.token("alice", Role::Admin, &["*"], 3600);
    within(async {
        let (mut c, welcome) = server.connect(&short).await;
        let ServerFrame::Welcome { session, .. } = welcome else {
            unreachable!()
        };
        c.send(&ClientFrame::Reauth { token: long }).await.unwrap();
        match frame(&mut c).await {
            ServerFrame::Welcome {
                session: again,
                user,
                role,
                expires_at,
                ..
            } => {
                assert_eq!(again, session);
                assert_eq!(user, "alice");
                assert_eq!(role, Role::Admin);
                assert!(expires_at >= now() + 3500);
            }
            other => panic!("{other:?}"),
        }
        // Past the first token's expiry the session is still served.
        smol::Timer::after(std::time::Duration::from_secs(EXPIRING_TTL + 1)).await;
        join_ok(&mut c, "r").await;
    });
}

#[test]
fn reauth_for_another_user_or_a_bad_token_is_rejected_and_the_old_expiry_stands() {
    let server = TestServer::start();
    let short = server.expiring_token("alice");
    let other = server.token("mallory", Role::Admin, &["*"], 3600);
    within(async {
        let (mut c, _) = server.connect(&short).await;
        c.send(&ClientFrame::Reauth { token: other }).await.unwrap();
        assert_eq!(next_error(&mut c).await, (None, ErrorCode::TokenRejected));
        c.send(&ClientFrame::Reauth {
            token: "v4.public.nope".into(),
        })
        .await
        .unwrap();
        assert_eq!(next_error(&mut c).await, (None, ErrorCode::TokenRejected));
        assert_eq!(close_code(&mut c).await, close::TOKEN_EXPIRED);
    });
}

#[test]
fn reauth_with_narrower_rooms_leaves_the_rooms_no_longer_allowed() {
    let server = TestServer::start();
    let wide = server.token("alice", Role::Member, &["*"], 600);
    let narrow = server.token("alice", Role::Member, &["a"], 600);
    within(async {
        let (mut c, _) = server.connect(&wide).await;
        for r in ["a", "b"] {
            join_ok(&mut c, r).await;
        }
        c.send(&ClientFrame::Reauth { token: narrow })
            .await
            .unwrap();
        assert!(matches!(frame(&mut c).await, ServerFrame::Welcome { .. }));
        assert_eq!(frame(&mut c).await, ServerFrame::Left { room: room("b") });
        publish_text(&mut c, 1, "b", "x").await;
        assert_eq!(next_error(&mut c).await, (Some(1), ErrorCode::Forbidden));
    });
}

#[test]
fn host_can_remove_a_session_with_4003() {
    let server = TestServer::start();
    within(async {
        let (mut c, welcome) = server.connect(&server.member("alice")).await;
        let ServerFrame::Welcome { session, .. } = welcome else {
            unreachable!()
        };
        let listed = server.handle.sessions();
        assert_eq!(listed.len(), 1);
        assert_eq!((listed[0].id, listed[0].user.as_str()), (session, "alice"));
        assert!(server.handle.close_session(session));
        assert_eq!(close_code(&mut c).await, close::REMOVED);
        assert!(!server.handle.close_session(session ^ 1));
    });
}

#[test]
fn shutdown_closes_sessions_with_1001() {
    let mut server = TestServer::start();
    within(async {
        let (mut c, _) = server.connect(&server.member("alice")).await;
        server.stop();
        assert_eq!(close_code(&mut c).await, close::GOING_AWAY);
    });
}

#[test]
fn a_silent_peer_is_pinged_then_closed_with_4010() {
    let server = TestServer::start_with(|c| c.limits.idle_timeout_s = 2);
    within(async {
        // A raw peer that never answers pings.
        let mut raw = server.raw_ws(&server.member("silent")).await;
        let mut opcodes = Vec::new();
        let code = loop {
            let (opcode, payload) = raw.read_frame().await.expect("a frame");
            if opcode == 8 {
                break u16::from_be_bytes([payload[0], payload[1]]);
            }
            opcodes.push(opcode);
        };
        assert_eq!(code, close::IDLE);
        assert_eq!(opcodes, [2, 9], "Welcome, then one ping");
    });
}

#[test]
fn a_peer_that_answers_pings_stays_connected() {
    let server = TestServer::start_with(|c| c.limits.idle_timeout_s = 2);
    within(async {
        let (mut c, _) = server.connect(&server.member("alice")).await;
        // Reading lets the client library answer the server's pings. Wait
        // through three idle periods by asking for something at the end.
        let reader = async {
            let _ = c.recv().await;
        };
        smol::future::or(reader, async {
            smol::Timer::after(std::time::Duration::from_secs(6)).await;
        })
        .await;
        join_ok(&mut c, "r").await;
    });
}

/// Sends `Reauth{token}` and returns the `TokenRejected` detail.
async fn rejected_detail(c: &mut palisade::client::Client, token: String) -> String {
    c.send(&ClientFrame::Reauth { token }).await.unwrap();
    match frame(c).await {
        ServerFrame::Error {
            id: None,
            code: ErrorCode::TokenRejected,
            detail,
        } => detail,
        f => panic!("{f:?}"),
    }
}

#[test]
fn a_rejected_reauth_never_says_why() {
    let server = TestServer::start();
    within(async {
        let (mut c, _) = server.connect(&server.member("alice")).await;
        for token in [
            server.member("mallory"),
            server.token_unchecked("alice", 0),
            server.foreign_token("alice"),
            "v4.public.nope".into(),
        ] {
            assert_eq!(rejected_detail(&mut c, token).await, "invalid token");
        }
    });
}

#[test]
fn a_reauth_as_the_device_name_is_token_rejected() {
    // A session whose own name is free, renewing into the device's name.
    let server = TestServer::start_with(|c| c.device_name = "thermostat".into());
    within(async {
        let (mut c, _) = server.connect(&server.member("alice")).await;
        let device = server.member("thermostat");
        assert_eq!(rejected_detail(&mut c, device).await, "reserved user name");
    });
}

#[test]
fn failed_reauths_count_towards_the_ban_like_401s() {
    let server = TestServer::start_with(|c| c.limits.auth_failures_before_ban = 3);
    within(async {
        let (mut c, _) = server.connect(&server.member("alice")).await;
        for _ in 0..3 {
            rejected_detail(&mut c, "v4.public.nope".into()).await;
        }
        let head = upgrade_head("/ws", &["Sec-WebSocket-Protocol: palisade.v1"]);
        let answer = server.raw_http(&head).await;
        assert_eq!(status_of(&answer), 429, "{answer}");
        assert!(
            answer.contains("a ban lasts 300 s (limits.ban_seconds)"),
            "{answer}"
        );
    });
}
