//! PROTOCOL.md section 4 over real TLS: Welcome, join/leave, publish,
//! ordering, history and resume, delete, and every ErrorCode.

mod common;

use common::*;
use palisade::protocol::{Body, ClientFrame, ErrorCode, Limits, Role, ServerFrame};

fn text(s: &str) -> Body {
    Body::Text(s.to_owned())
}

#[test]
fn welcome_carries_identity_and_limits() {
    let server = TestServer::start_with(|c| {
        c.limits.max_body = 1000;
        c.limits.max_rooms = 5;
        c.limits.publish_per_sec = 7;
        c.limits.history = 9;
    });
    let token = server.token("alice", Role::Admin, &["*"], 600);
    let expected_exp = now() + 600;
    within(async {
        let (_c, welcome) = server.connect(&token).await;
        match welcome {
            ServerFrame::Welcome {
                session,
                user,
                role,
                expires_at,
                limits,
            } => {
                assert_ne!(session, 0);
                assert_eq!(user, "alice");
                assert_eq!(role, Role::Admin);
                assert!(
                    expires_at.abs_diff(expected_exp) <= 1,
                    "{expires_at} vs {expected_exp}"
                );
                assert_eq!(
                    limits,
                    Limits {
                        max_body: 1000,
                        max_rooms: 5,
                        publish_per_sec: 7,
                        history: 9
                    }
                );
            }
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn publish_acks_before_the_publishers_own_message_and_fans_out() {
    let server = TestServer::start();
    within(async {
        let (mut alice, _) = server.connect(&server.member("alice")).await;
        let (mut bob, _) = server.connect(&server.member("bob")).await;
        assert_eq!(
            join(&mut alice, "lobby", None).await,
            // A new room with storage: its first Message will be seq 1.
            ServerFrame::Joined {
                room: room("lobby"),
                first_seq: 1,
                last_seq: 0
            }
        );
        join(&mut bob, "lobby", None).await;
        publish(&mut alice, 41, "lobby", text("hello <b>")).await;
        assert_eq!(frame(&mut alice).await, ServerFrame::Ack { id: 41, seq: 1 });
        for client in [&mut alice, &mut bob] {
            match frame(client).await {
                ServerFrame::Message {
                    room: r,
                    seq,
                    from,
                    body,
                    sent_at_ms,
                } => {
                    assert_eq!(
                        (r, seq, from.as_str(), body),
                        (room("lobby"), 1, "alice", text("hello <b>"))
                    );
                    assert!(sent_at_ms > 1_600_000_000_000);
                }
                other => panic!("{other:?}"),
            }
        }
    });
}

#[test]
fn every_member_sees_every_message_in_seq_order_without_duplicates() {
    const EACH: u32 = 40;
    let server = TestServer::start_with(|c| {
        c.limits.publish_per_sec = 1000;
        c.limits.outbound_queue = 256;
    });
    within(async {
        let mut clients = Vec::new();
        for name in ["a", "b", "c"] {
            let (mut c, _) = server.connect(&server.member(name)).await;
            join(&mut c, "race", None).await;
            clients.push(c);
        }
        // Two publishers interleave; the third only listens.
        for i in 0..EACH {
            publish(&mut clients[0], i, "race", text("a")).await;
            publish(&mut clients[1], i, "race", text("b")).await;
        }
        for c in &mut clients {
            let mut seqs = Vec::new();
            while seqs.len() < (2 * EACH) as usize {
                match frame(c).await {
                    ServerFrame::Message { seq, .. } => seqs.push(seq),
                    ServerFrame::Ack { .. } => {}
                    other => panic!("{other:?}"),
                }
            }
            assert_eq!(seqs, (1..=u64::from(2 * EACH)).collect::<Vec<_>>());
        }
    });
}

#[test]
fn history_is_bounded_and_join_since_replays_after_joined() {
    let server = TestServer::start_with(|c| {
        c.limits.history = 4;
        c.limits.publish_per_sec = 100;
    });
    within(async {
        let (mut alice, _) = server.connect(&server.member("alice")).await;
        join(&mut alice, "log", None).await;
        for i in 1..=6 {
            publish(&mut alice, i, "log", text(&format!("m{i}"))).await;
            frame(&mut alice).await; // Ack
            frame(&mut alice).await; // Message
        }
        let (mut bob, _) = server.connect(&server.member("bob")).await;
        assert_eq!(
            join(&mut bob, "log", Some(4)).await,
            ServerFrame::Joined {
                room: room("log"),
                first_seq: 3,
                last_seq: 6
            }
        );
        for expected in [5, 6] {
            match frame(&mut bob).await {
                ServerFrame::Message { seq, body, .. } => {
                    assert_eq!(seq, expected);
                    assert_eq!(body, text(&format!("m{expected}")));
                }
                other => panic!("{other:?}"),
            }
        }
        // Live messages follow the replay with the next seq.
        publish(&mut alice, 7, "log", text("live")).await;
        assert!(matches!(
            frame(&mut bob).await,
            ServerFrame::Message { seq: 7, .. }
        ));
        // Without since: no replay.
        let (mut carol, _) = server.connect(&server.member("carol")).await;
        assert_eq!(
            join(&mut carol, "log", None).await,
            ServerFrame::Joined {
                room: room("log"),
                first_seq: 4,
                last_seq: 7
            }
        );
        publish(&mut alice, 8, "log", text("next")).await;
        assert!(matches!(
            frame(&mut carol).await,
            ServerFrame::Message { seq: 8, .. }
        ));
    });
}

#[test]
fn leave_stops_delivery() {
    let server = TestServer::start();
    within(async {
        let (mut alice, _) = server.connect(&server.member("alice")).await;
        let (mut bob, _) = server.connect(&server.member("bob")).await;
        join(&mut alice, "r", None).await;
        join(&mut bob, "r", None).await;
        join(&mut bob, "other", None).await;
        bob.send(&ClientFrame::Leave { room: room("r") })
            .await
            .unwrap();
        assert_eq!(frame(&mut bob).await, ServerFrame::Left { room: room("r") });
        publish(&mut alice, 1, "r", text("gone")).await;
        publish(&mut alice, 2, "other", text("here")).await;
        // alice is not in "other": NotJoined (at once, perhaps before the
        // Ack and Message of "r", which wait for the commit), and bob only
        // sees nothing of "r".
        let answers = [
            frame(&mut alice).await,
            frame(&mut alice).await,
            frame(&mut alice).await,
        ];
        assert!(
            answers
                .iter()
                .any(|f| matches!(f, ServerFrame::Error { .. })
                    && error_code(f) == (Some(2), ErrorCode::NotJoined)),
            "{answers:?}"
        );
        bob.send(&ClientFrame::Leave { room: room("r") })
            .await
            .unwrap();
        assert_eq!(next_error(&mut bob).await, (None, ErrorCode::NotJoined));
    });
}

#[test]
fn forbidden_by_rooms_claim_and_by_role() {
    let server = TestServer::start();
    within(async {
        let (mut member, _) = server
            .connect(&server.token("m", Role::Member, &["team-*", "lobby"], 600))
            .await;
        assert_eq!(
            error_code(&join(&mut member, "secret", None).await),
            (None, ErrorCode::Forbidden)
        );
        assert_eq!(
            error_code(&join(&mut member, "team", None).await),
            (None, ErrorCode::Forbidden)
        );
        assert!(matches!(
            join(&mut member, "team-a", None).await,
            ServerFrame::Joined { .. }
        ));
        assert!(matches!(
            join(&mut member, "lobby", None).await,
            ServerFrame::Joined { .. }
        ));
        // Publishing to a room outside the claim is Forbidden even unjoined.
        publish(&mut member, 3, "secret", text("x")).await;
        assert_eq!(
            next_error(&mut member).await,
            (Some(3), ErrorCode::Forbidden)
        );
        member
            .send(&ClientFrame::Delete {
                id: 4,
                room: room("lobby"),
                seq: 1,
            })
            .await
            .unwrap();
        assert_eq!(
            next_error(&mut member).await,
            (Some(4), ErrorCode::Forbidden)
        );

        let (mut observer, _) = server
            .connect(&server.token("o", Role::Observer, &["*"], 600))
            .await;
        assert!(matches!(
            join(&mut observer, "lobby", None).await,
            ServerFrame::Joined { .. }
        ));
        publish(&mut observer, 5, "lobby", text("x")).await;
        assert_eq!(
            next_error(&mut observer).await,
            (Some(5), ErrorCode::Forbidden)
        );
    });
}

#[test]
fn bad_bodies_are_bad_request() {
    let server = TestServer::start_with(|c| {
        c.limits.max_body = 100;
        c.limits.max_message_bytes = 1000;
        c.limits.publish_per_sec = 100;
    });
    within(async {
        let (mut alice, _) = server.connect(&server.member("alice")).await;
        join(&mut alice, "r", None).await;
        let bodies = [
            text(""),
            text("bell\u{7}"),
            text("escape\u{1b}[31m"),
            text(&"x".repeat(101)),
            Body::Sealed(vec![0; 101]),
        ];
        for (id, body) in (1..).zip(bodies) {
            publish(&mut alice, id, "r", body).await;
            assert_eq!(
                next_error(&mut alice).await,
                (Some(id), ErrorCode::BadRequest)
            );
        }
        // Exactly max_body is fine, tabs and newlines too.
        publish(&mut alice, 9, "r", text(&format!("{}\t\n", "x".repeat(98)))).await;
        assert_eq!(frame(&mut alice).await, ServerFrame::Ack { id: 9, seq: 1 });
        join(&mut alice, "r", None).await;
    });
}

#[test]
fn already_joined_is_bad_request() {
    let server = TestServer::start();
    within(async {
        let (mut alice, _) = server.connect(&server.member("alice")).await;
        join(&mut alice, "r", None).await;
        assert_eq!(
            error_code(&join(&mut alice, "r", None).await),
            (None, ErrorCode::BadRequest)
        );
    });
}

#[test]
fn publish_rate_is_limited() {
    let server = TestServer::start_with(|c| c.limits.publish_per_sec = 1);
    within(async {
        let (mut alice, _) = server.connect(&server.member("alice")).await;
        join(&mut alice, "r", None).await;
        publish(&mut alice, 1, "r", text("one")).await;
        publish(&mut alice, 2, "r", text("two")).await;
        // The refusal is immediate; the Ack waits for the commit, so the
        // two may come in either order (matched by id).
        let mut answers = Vec::new();
        while answers.len() < 3 {
            answers.push(frame(&mut alice).await);
        }
        let ack = answers
            .iter()
            .position(|f| *f == ServerFrame::Ack { id: 1, seq: 1 });
        let message = answers
            .iter()
            .position(|f| matches!(f, ServerFrame::Message { seq: 1, .. }));
        assert!(ack.is_some() && ack < message, "{answers:?}");
        assert!(
            answers
                .iter()
                .any(|f| matches!(f, ServerFrame::Error { .. })
                    && error_code(f) == (Some(2), ErrorCode::RateLimited)),
            "{answers:?}"
        );
    });
}

#[test]
fn too_many_rooms() {
    let server = TestServer::start_with(|c| c.limits.max_rooms = 2);
    within(async {
        let (mut alice, _) = server.connect(&server.member("alice")).await;
        join(&mut alice, "a", None).await;
        join(&mut alice, "b", None).await;
        assert_eq!(
            error_code(&join(&mut alice, "c", None).await),
            (None, ErrorCode::TooManyRooms)
        );
        alice
            .send(&ClientFrame::Leave { room: room("a") })
            .await
            .unwrap();
        frame(&mut alice).await;
        assert!(matches!(
            join(&mut alice, "c", None).await,
            ServerFrame::Joined { .. }
        ));
    });
}

#[test]
fn admin_delete_broadcasts_and_unknown_seq_is_not_found() {
    let server = TestServer::start();
    within(async {
        let (mut admin, _) = server
            .connect(&server.token("root", Role::Admin, &["*"], 600))
            .await;
        let (mut bob, _) = server.connect(&server.member("bob")).await;
        join(&mut admin, "r", None).await;
        join(&mut bob, "r", None).await;
        publish(&mut bob, 1, "r", text("oops")).await;
        frame(&mut bob).await; // Ack
        frame(&mut bob).await; // Message
        frame(&mut admin).await; // Message
        admin
            .send(&ClientFrame::Delete {
                id: 2,
                room: room("r"),
                seq: 1,
            })
            .await
            .unwrap();
        let deleted = ServerFrame::Deleted {
            room: room("r"),
            seq: 1,
        };
        assert_eq!(frame(&mut admin).await, deleted);
        assert_eq!(frame(&mut bob).await, deleted);
        admin
            .send(&ClientFrame::Delete {
                id: 3,
                room: room("r"),
                seq: 1,
            })
            .await
            .unwrap();
        assert_eq!(next_error(&mut admin).await, (Some(3), ErrorCode::NotFound));
        // A deleted message is not replayed; retaining nothing, the room
        // says where its next seq is.
        let (mut carol, _) = server.connect(&server.member("carol")).await;
        assert_eq!(
            join(&mut carol, "r", Some(0)).await,
            ServerFrame::Joined {
                room: room("r"),
                first_seq: 2,
                last_seq: 1
            }
        );
    });
}

#[test]
fn a_replay_longer_than_the_queue_does_not_evict_the_joiner() {
    let server = TestServer::start_with(|c| {
        c.limits.history = 8;
        c.limits.outbound_queue = 4;
        c.limits.publish_per_sec = 100;
    });
    within(async {
        let (mut alice, _) = server.connect(&server.member("alice")).await;
        join(&mut alice, "log", None).await;
        for id in 1..=8 {
            publish(&mut alice, id, "log", text("m")).await;
            frame(&mut alice).await; // Ack
            frame(&mut alice).await; // Message
        }
        let (mut bob, _) = server.connect(&server.member("bob")).await;
        assert_eq!(
            join(&mut bob, "log", Some(0)).await,
            ServerFrame::Joined {
                room: room("log"),
                first_seq: 1,
                last_seq: 8
            }
        );
        for expected in 1..=8 {
            assert!(
                matches!(frame(&mut bob).await, ServerFrame::Message { seq, .. } if seq == expected)
            );
        }
        // Still served afterwards.
        publish(&mut alice, 9, "log", text("live")).await;
        assert!(matches!(
            frame(&mut bob).await,
            ServerFrame::Message { seq: 9, .. }
        ));
    });
}
