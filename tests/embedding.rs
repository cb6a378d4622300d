//! The library API a host application (appliance firmware) uses: the
//! device as a participant, subscriptions, the authorization hook, session
//! control, and several servers in one process.

mod common;

use std::sync::Arc;

use common::*;
use palisade::auth::Identity;
use palisade::protocol::{close, Body, ClientFrame, ErrorCode, Role, RoomName, ServerFrame};
use palisade::server::{Authorize, HostEvent, PublishError};

fn text(s: &str) -> Body {
    Body::Text(s.to_owned())
}

#[test]
fn host_publish_reaches_members_with_seq_from_and_history() {
    let server = TestServer::start_with(|c| c.device_name = "thermostat".into());
    within(async {
        // Published before anyone joined: retained for later joiners.
        assert_eq!(
            server
                .handle
                .publish(&room("telemetry"), text("21.5"))
                .await,
            Ok(1)
        );
        let (mut alice, _) = server.connect(&server.member("alice")).await;
        alice
            .send(&ClientFrame::Join {
                room: room("telemetry"),
                since: Some(0),
            })
            .await
            .unwrap();
        assert_eq!(
            frame(&mut alice).await,
            ServerFrame::Joined {
                room: room("telemetry"),
                first_seq: 1,
                last_seq: 1
            }
        );
        match frame(&mut alice).await {
            ServerFrame::Message {
                seq: 1, from, body, ..
            } => {
                assert_eq!((from.as_str(), body), ("thermostat", text("21.5")));
            }
            other => panic!("{other:?}"),
        }
        // Live, interleaved with a client's publish: one seq order.
        publish_text(&mut alice, 1, "telemetry", "hi").await;
        assert_eq!(frame(&mut alice).await, ServerFrame::Ack { id: 1, seq: 2 });
        frame(&mut alice).await;
        assert_eq!(
            server
                .handle
                .publish(&room("telemetry"), text("21.6"))
                .await,
            Ok(3)
        );
        assert!(matches!(
            frame(&mut alice).await,
            ServerFrame::Message { seq: 3, .. }
        ));
        // The host's publishes follow the same body rules.
        assert_eq!(
            server.handle.publish(&room("telemetry"), text("")).await,
            Err(PublishError::Body(palisade::protocol::BodyError::Empty))
        );
    });
}

#[test]
fn host_subscription_receives_client_messages_and_deletes() {
    let server = TestServer::start();
    within(async {
        let sub = server.handle.subscribe(&room("control"), 16).await.unwrap();
        let (mut admin, _) = server
            .connect(&server.token("root", Role::Admin, &["*"], 600))
            .await;
        join(&mut admin, "control", None).await;
        publish_text(&mut admin, 1, "control", "set 20").await;
        match bounded(sub.recv()).await {
            Some(HostEvent::Message {
                seq: 1, from, body, ..
            }) => {
                assert_eq!((from.as_str(), body), ("root", text("set 20")));
            }
            other => panic!("{other:?}"),
        }
        admin
            .send(&ClientFrame::Delete {
                id: 2,
                room: room("control"),
                seq: 1,
            })
            .await
            .unwrap();
        assert_eq!(
            bounded(sub.recv()).await,
            Some(HostEvent::Deleted { seq: 1 })
        );
        // Dropping the subscription leaves the room.
        drop(sub);
        admin
            .send(&ClientFrame::Leave {
                room: room("control"),
            })
            .await
            .unwrap();
        while server.handle.rooms() != 0 {
            smol::Timer::after(std::time::Duration::from_millis(10)).await;
        }
    });
}

#[test]
fn a_lagging_host_subscription_reports_its_loss_without_stalling_clients() {
    let server = TestServer::start_with(|c| {
        c.limits.publish_per_sec = 1000;
        c.limits.frames_per_sec = 1000;
    });
    within(async {
        let sub = server.handle.subscribe(&room("busy"), 4).await.unwrap();
        let (mut alice, _) = server.connect(&server.member("alice")).await;
        join(&mut alice, "busy", None).await;
        for id in 0..20 {
            publish_text(&mut alice, id, "busy", "x").await;
            assert!(matches!(frame(&mut alice).await, ServerFrame::Ack { .. }));
            assert!(matches!(
                frame(&mut alice).await,
                ServerFrame::Message { .. }
            ));
        }
        // The storage thread fans each message out to alice and to the
        // host in turn, so alice may hold the last copy before the host's
        // miss is counted: a join answered by that thread after the last
        // fan-out makes the count final.
        join(&mut alice, "settled", None).await;
        // The host never read: it gets the 4 it had room for after being
        // told about the 16 it missed.
        assert_eq!(
            bounded(sub.recv()).await,
            Some(HostEvent::Lagged { missed: 16 })
        );
        for seq in 1..=4 {
            assert!(
                matches!(bounded(sub.recv()).await, Some(HostEvent::Message { seq: s, .. }) if s == seq)
            );
        }
        assert_eq!(
            server.handle.sessions().len(),
            1,
            "the client was not evicted"
        );
    });
}

/// Only admins may publish into `control`, and nobody may join `vault`.
struct Policy;

impl Authorize for Policy {
    fn may_join(&self, _who: &Identity, room: &RoomName) -> bool {
        room.as_str() != "vault"
    }
    fn may_publish(&self, who: &Identity, room: &RoomName, _body: &Body) -> bool {
        room.as_str() != "control" || who.role == Role::Admin
    }
}

#[test]
fn the_authorization_hook_refuses_with_forbidden() {
    let server = TestServer::start();
    assert!(server.server.set_authorizer(Arc::new(Policy)).is_ok());
    assert!(
        server.server.set_authorizer(Arc::new(Policy)).is_err(),
        "only one hook"
    );
    within(async {
        let (mut member, _) = server.connect(&server.member("alice")).await;
        member
            .send(&ClientFrame::Join {
                room: room("vault"),
                since: None,
            })
            .await
            .unwrap();
        assert_eq!(next_error(&mut member).await, (None, ErrorCode::Forbidden));
        join(&mut member, "control", None).await;
        publish_text(&mut member, 7, "control", "set 99").await;
        assert_eq!(
            next_error(&mut member).await,
            (Some(7), ErrorCode::Forbidden)
        );
        let (mut admin, _) = server
            .connect(&server.token("root", Role::Admin, &["*"], 600))
            .await;
        join(&mut admin, "control", None).await;
        publish_text(&mut admin, 8, "control", "set 20").await;
        assert_eq!(frame(&mut admin).await, ServerFrame::Ack { id: 8, seq: 1 });
    });
}

#[test]
fn the_host_lists_sessions_and_closes_one_with_4003() {
    let server = TestServer::start();
    within(async {
        let (mut alice, welcome) = server.connect(&server.member("alice")).await;
        let ServerFrame::Welcome { session, .. } = welcome else {
            unreachable!()
        };
        join(&mut alice, "lobby", None).await;
        let listed = server.handle.sessions();
        assert_eq!(listed.len(), 1);
        let info = &listed[0];
        assert_eq!(
            (info.id, info.user.as_str(), info.role),
            (session, "alice", Role::Member)
        );
        assert_eq!(info.rooms, vec![room("lobby")]);
        assert!(info.peer.ip().is_loopback());
        assert!(server.handle.close_session(session));
        assert_eq!(close_code(&mut alice).await, close::REMOVED);
    });
}

#[test]
fn two_servers_in_one_process_share_nothing() {
    let one = TestServer::start_with(|c| c.device_name = "one".into());
    let two = TestServer::start_with(|c| c.device_name = "two".into());
    within(async {
        let (mut a, _) = one.connect(&one.member("alice")).await;
        let (mut b, _) = two.connect(&two.member("bob")).await;
        // Each server trusts only its own keys.
        match two
            .try_connect(two.connect_opts(&one.member("alice")))
            .await
        {
            Err(palisade::client::ClientError::Refused { status, .. }) => assert_eq!(status, 401),
            other => panic!("{other:?}"),
        }
        for (c, srv) in [(&mut a, &one), (&mut b, &two)] {
            join_ok(c, "same").await;
            srv.handle
                .publish(&room("same"), text("hello"))
                .await
                .unwrap();
        }
        for (c, name) in [(&mut a, "one"), (&mut b, "two")] {
            match frame(c).await {
                ServerFrame::Message { seq: 1, from, .. } => assert_eq!(from, name),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            (one.handle.sessions().len(), two.handle.sessions().len()),
            (1, 1)
        );
    });
}

#[test]
fn an_embedding_without_storage_numbers_new_rooms_from_the_clock() {
    let server = TestServer::start_with(|c| c.storage = None);
    within(async {
        let (mut alice, _) = server.connect(&server.member("alice")).await;
        let first = match join(&mut alice, "fresh", Some(0)).await {
            ServerFrame::Joined {
                first_seq,
                last_seq,
                ..
            } => {
                assert_eq!(last_seq, first_seq - 1, "retains nothing yet");
                first_seq
            }
            other => panic!("{other:?}"),
        };
        // Unix ms × 2^10: above anything a previous run issued, below 2^53.
        let now_ms = common::now() * 1000;
        assert!(first >= (now_ms - 60_000) << 10, "{first}");
        assert!(first < 1 << 53);
        let seq = server.handle.publish(&room("fresh"), text("a")).await;
        assert_eq!(seq, Ok(first));
        assert!(matches!(
            frame(&mut alice).await,
            ServerFrame::Message { seq, .. } if seq == first
        ));
    });
}

#[test]
fn the_host_counts_in_presence_only_while_subscribed_and_hears_arrivals() {
    use palisade::protocol::UserName;
    let server = TestServer::start_with_presence(100, |c| c.device_name = "thermostat".into());
    let name = |s: &str| UserName::new(s).unwrap();
    within(async {
        assert_eq!(
            server.handle.presence(&room("hall")).await.unwrap().total,
            0
        );
        let (mut alice, _) = server.connect(&server.member("alice")).await;
        join(&mut alice, "hall", None).await;
        // The host arrives: alice is told, and the host counts.
        let sub = server.handle.subscribe(&room("hall"), 16).await.unwrap();
        assert_eq!(
            frame(&mut alice).await,
            ServerFrame::MemberJoined {
                room: room("hall"),
                user: name("thermostat")
            }
        );
        let members = server.handle.presence(&room("hall")).await.unwrap();
        assert_eq!(members.total, 2);
        assert_eq!(
            members.users.as_slice(),
            [name("alice"), name("thermostat")]
        );
        // A second user arrives: the host hears it, the newcomer does not
        // hear about anyone.
        let (mut bob, _) = server.connect(&server.member("bob")).await;
        join(&mut bob, "hall", None).await;
        assert_eq!(
            bounded(sub.recv()).await,
            Some(HostEvent::MemberJoined { user: name("bob") })
        );
        bob.presence(&room("hall")).await.unwrap();
        match frame(&mut bob).await {
            ServerFrame::Members { total, users, .. } => {
                assert_eq!(total, 3);
                assert_eq!(
                    users.as_slice(),
                    [name("alice"), name("bob"), name("thermostat")]
                );
            }
            other => panic!("{other:?}"),
        }
        bob.close().await.unwrap();
        assert_eq!(
            bounded(sub.recv()).await,
            Some(HostEvent::MemberLeft { user: name("bob") })
        );
        // Dropping the subscription is the host's departure.
        drop(sub);
        match frame(&mut alice).await {
            ServerFrame::MemberJoined { user, .. } => assert_eq!(user, name("bob")),
            other => panic!("{other:?}"),
        }
        match frame(&mut alice).await {
            ServerFrame::MemberLeft { user, .. } => assert_eq!(user, name("bob")),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            frame(&mut alice).await,
            ServerFrame::MemberLeft {
                room: room("hall"),
                user: name("thermostat")
            }
        );
        assert_eq!(
            server.handle.presence(&room("hall")).await.unwrap().total,
            1
        );
    });
}
