//! PROTOCOL.md section 8 over real TLS: `Members` totals and names,
//! `MemberJoined` / `MemberLeft` on a user's first join and last leave
//! (Leave, close, eviction, expiry, a narrowing Reauth), and the rooms
//! and sizes that send none.
//!
//! "No event" is checked without waiting for one: the watcher asks
//! `Presence` after the change is complete, and its next frame must be
//! the `Members` answer (an event would have been queued before it).

mod common;

use common::*;
use palisade::client::Client;
use palisade::protocol::{close, ClientFrame, ErrorCode, Role, ServerFrame, UserName};

fn names(users: &[&str]) -> Vec<UserName> {
    users.iter().map(|u| UserName::new(u).unwrap()).collect()
}

/// Asks `Presence` and returns `(total, names)`; fails on any other frame.
async fn members(client: &mut Client, name: &str) -> (u32, Vec<UserName>) {
    client.presence(&room(name)).await.unwrap();
    match frame(client).await {
        ServerFrame::Members {
            room: r,
            total,
            users,
        } if r == room(name) => (total, users.as_slice().to_vec()),
        other => panic!("expected Members, got {other:?}"),
    }
}

async fn expect_joined(client: &mut Client, name: &str, user: &str) {
    match frame(client).await {
        ServerFrame::MemberJoined { room: r, user: u } if r == room(name) => {
            assert_eq!(u.as_str(), user);
        }
        other => panic!("expected MemberJoined of {user}, got {other:?}"),
    }
}

async fn expect_left(client: &mut Client, name: &str, user: &str) {
    match frame(client).await {
        ServerFrame::MemberLeft { room: r, user: u } if r == room(name) => {
            assert_eq!(u.as_str(), user);
        }
        other => panic!("expected MemberLeft of {user}, got {other:?}"),
    }
}

async fn joined(server: &TestServer, token: &str, name: &str) -> Client {
    let (mut client, _) = server.connect(token).await;
    let answer = join(&mut client, name, None).await;
    assert!(matches!(answer, ServerFrame::Joined { .. }), "{answer:?}");
    client
}

#[test]
fn members_counts_each_user_once_and_lists_them_in_byte_order() {
    let server = TestServer::start();
    within(async {
        let observer = server.token("Zoë", Role::Observer, &["*"], 600);
        let mut bob = joined(&server, &server.member("bob"), "lobby").await;
        let _a1 = joined(&server, &server.member("alice"), "lobby").await;
        let _a2 = joined(&server, &server.member("alice"), "lobby").await;
        let mut zoe = joined(&server, &observer, "lobby").await;
        let _other_room = joined(&server, &server.member("carol"), "elsewhere").await;
        let expected = (3, names(&["Zoë", "alice", "bob"]));
        assert_eq!(members(&mut bob, "lobby").await, expected);
        // Observers count and may ask.
        assert_eq!(members(&mut zoe, "lobby").await, expected);
        assert_eq!(
            server.handle.presence(&room("lobby")).await.unwrap().total,
            3,
            "the host sees the same count"
        );
    });
}

#[test]
fn presence_of_a_room_not_joined_is_not_joined() {
    let server = TestServer::start();
    within(async {
        let mut bob = joined(&server, &server.member("bob"), "lobby").await;
        let _alice = joined(&server, &server.member("alice"), "secret").await;
        bob.presence(&room("secret")).await.unwrap();
        assert_eq!(next_error(&mut bob).await, (None, ErrorCode::NotJoined));
    });
}

#[test]
fn the_list_stops_at_256_names_and_the_total_stays_exact() {
    const USERS: usize = 260;
    let server = TestServer::start_with(|c| {
        c.limits.max_connections = 300;
        c.limits.max_connections_per_ip = 300;
    });
    let mut clients = Vec::new();
    for i in 0..USERS {
        let token = server.member(&format!("u{i:03}"));
        clients.push(within(joined(&server, &token, "crowd")));
    }
    let (total, users) = within(members(&mut clients[0], "crowd"));
    assert_eq!(total, USERS as u32);
    let expected: Vec<String> = (0..256).map(|i| format!("u{i:03}")).collect();
    let got: Vec<&str> = users.iter().map(UserName::as_str).collect();
    assert_eq!(got, expected);
}

#[test]
fn first_join_and_last_leave_are_told_to_the_others_only() {
    let server = TestServer::start_with_presence(100, |_| {});
    within(async {
        let mut bob = joined(&server, &server.member("bob"), "lobby").await;
        let mut a1 = joined(&server, &server.member("alice"), "lobby").await;
        expect_joined(&mut bob, "lobby", "alice").await;
        // The joiner is told nothing about itself, nor about bob.
        assert_eq!(members(&mut a1, "lobby").await.0, 2);
        // A second session of alice changes nothing for the others.
        let mut a2 = joined(&server, &server.member("alice"), "lobby").await;
        assert_eq!(members(&mut bob, "lobby").await.0, 2);
        // Her first session leaves: she is still there.
        a1.send(&ClientFrame::Leave {
            room: room("lobby"),
        })
        .await
        .unwrap();
        assert!(matches!(frame(&mut a1).await, ServerFrame::Left { .. }));
        assert_eq!(members(&mut bob, "lobby").await.0, 2);
        // Her last session closes: now she left.
        assert_eq!(members(&mut a2, "lobby").await.0, 2);
        a2.close().await.unwrap();
        expect_left(&mut bob, "lobby", "alice").await;
        assert_eq!(members(&mut bob, "lobby").await, (1, names(&["bob"])));
        let metrics = server.server.metrics();
        assert_eq!(metrics.presence_events, 2);
        assert_eq!(metrics.presence_suppressed, 0);
    });
}

#[test]
fn an_explicit_leave_and_a_narrowing_reauth_are_departures() {
    let server = TestServer::start_with_presence(100, |_| {});
    within(async {
        let mut bob = joined(&server, &server.member("bob"), "team-a").await;
        let mut alice = joined(&server, &server.member("alice"), "team-a").await;
        expect_joined(&mut bob, "team-a", "alice").await;
        alice
            .send(&ClientFrame::Leave {
                room: room("team-a"),
            })
            .await
            .unwrap();
        assert!(matches!(frame(&mut alice).await, ServerFrame::Left { .. }));
        expect_left(&mut bob, "team-a", "alice").await;
        assert_eq!(
            join(&mut alice, "team-a", None).await,
            joined_frame("team-a")
        );
        expect_joined(&mut bob, "team-a", "alice").await;
        // A new token without team-a takes her out of it.
        let narrower = server.token("alice", Role::Member, &["lobby"], 600);
        alice
            .send(&ClientFrame::Reauth { token: narrower })
            .await
            .unwrap();
        expect_left(&mut bob, "team-a", "alice").await;
    });
}

/// `Joined` for a room nothing was published to (file storage): the next
/// seq is 1, so it retains `1..=0`.
fn joined_frame(name: &str) -> ServerFrame {
    ServerFrame::Joined {
        room: room(name),
        first_seq: 1,
        last_seq: 0,
    }
}

#[test]
fn an_expired_session_is_a_departure() {
    let server = TestServer::start_with_presence(100, |_| {});
    within(async {
        let mut bob = joined(&server, &server.member("bob"), "lobby").await;
        let short = server.expiring_token("alice");
        let mut alice = joined(&server, &short, "lobby").await;
        expect_joined(&mut bob, "lobby", "alice").await;
        assert_eq!(close_code(&mut alice).await, close::TOKEN_EXPIRED);
        expect_left(&mut bob, "lobby", "alice").await;
    });
}

#[test]
fn an_evicted_session_is_a_departure() {
    use palisade::protocol::{client_to_vec, Body};
    const OP_BINARY: u8 = 2;
    let server = TestServer::start_with_presence(100, |c| {
        c.limits.outbound_queue = 4;
        c.limits.publish_per_sec = u16::MAX;
        c.limits.frames_per_sec = u16::MAX;
    });
    within(async {
        let mut bob = joined(&server, &server.member("bob"), "lobby").await;
        // slow joins and then never reads.
        let mut slow = server.raw_ws(&server.member("slow")).await;
        let join_bytes = client_to_vec(&ClientFrame::Join {
            room: room("lobby"),
            since: None,
        });
        slow.send(true, OP_BINARY, &join_bytes).await.unwrap();
        expect_joined(&mut bob, "lobby", "slow").await;
        let body = Body::Text("x".repeat(4000));
        for id in 0u32.. {
            let publish = ClientFrame::Publish {
                id,
                room: room("lobby"),
                body: body.clone(),
            };
            bob.send(&publish).await.unwrap();
            match frame(&mut bob).await {
                ServerFrame::Ack { .. } => {}
                ServerFrame::MemberLeft { user, .. } => {
                    assert_eq!(user.as_str(), "slow");
                    break;
                }
                other => panic!("{other:?}"),
            }
            match frame(&mut bob).await {
                ServerFrame::Message { .. } => {}
                ServerFrame::MemberLeft { user, .. } => {
                    assert_eq!(user.as_str(), "slow");
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(slow.close_code().await, close::TOO_SLOW);
    });
}

#[test]
fn rooms_outside_events_send_none() {
    let server = TestServer::start_with_presence(100, |c| {
        c.presence.events = vec!["team-*".to_owned()];
    });
    within(async {
        let mut bob = joined(&server, &server.member("bob"), "lobby").await;
        let alice = joined(&server, &server.member("alice"), "lobby").await;
        assert_eq!(members(&mut bob, "lobby").await.0, 2);
        alice.close().await.unwrap();
        // Only the count tells her departure.
        while members(&mut bob, "lobby").await.0 != 1 {}
        // team-* rooms do send them.
        join(&mut bob, "team-x", None).await;
        let _carol = joined(&server, &server.member("carol"), "team-x").await;
        expect_joined(&mut bob, "team-x", "carol").await;
    });
}

#[test]
fn rooms_above_events_max_members_send_none() {
    let server = TestServer::start_with_presence(2, |_| {});
    within(async {
        let mut bob = joined(&server, &server.member("bob"), "lobby").await;
        let carol = joined(&server, &server.member("carol"), "lobby").await;
        expect_joined(&mut bob, "lobby", "carol").await;
        // A third user: over the limit counting her.
        let dave = joined(&server, &server.member("dave"), "lobby").await;
        assert_eq!(members(&mut bob, "lobby").await.0, 3);
        // Leaving counts the leaver too: still three, still silent.
        dave.close().await.unwrap();
        while members(&mut bob, "lobby").await.0 != 2 {}
        // Two counting the leaver: told again.
        carol.close().await.unwrap();
        expect_left(&mut bob, "lobby", "carol").await;
        let metrics = server.server.metrics();
        assert_eq!(metrics.presence_events, 2);
        assert_eq!(metrics.presence_suppressed, 2);
    });
}

#[test]
fn presence_requests_count_against_the_frame_budget() {
    let server = TestServer::start_with(|c| c.limits.frames_per_sec = 1);
    within(async {
        let mut alice = joined(&server, &server.member("alice"), "lobby").await;
        for _ in 0..20 {
            if alice.presence(&room("lobby")).await.is_err() {
                break;
            }
        }
        assert_eq!(close_code(&mut alice).await, close::POLICY);
    });
}
