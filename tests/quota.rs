//! Rooms per user (issue 15, finding 1), over real TLS: one token with a
//! prefix claim and 16 sessions of 16 rooms each used to take every slot
//! of `max_total_rooms` (256), evicting an honest user's retained room on
//! the way, after which every honest `Join` of a new room got
//! `TooManyRooms`. `max_rooms_per_user` stops it at the user's share.

mod common;

use common::*;
use palisade::client::Client;
use palisade::protocol::{Body, ClientFrame, ErrorCode, Role, ServerFrame};

const SESSIONS: usize = 16;
const ROOMS_EACH: usize = 16;

fn code_of(f: &ServerFrame) -> Option<ErrorCode> {
    match f {
        ServerFrame::Error { code, .. } => Some(*code),
        _ => None,
    }
}

#[test]
fn one_user_cannot_take_the_room_table_from_the_others() {
    let server = TestServer::start_with(|c| {
        c.limits.max_total_rooms = 256;
        c.limits.max_rooms = 16;
        c.limits.max_rooms_per_user = 64;
    });
    within(async {
        // An honest user leaves a message in a room, then goes.
        let (mut eve, _) = server.connect(&server.member("eve")).await;
        join(&mut eve, "honest", None).await;
        eve.send(&ClientFrame::Publish {
            id: 1,
            room: room("honest"),
            body: Body::Text("still here?".into()),
        })
        .await
        .unwrap();
        assert!(matches!(
            frame(&mut eve).await,
            ServerFrame::Ack { seq: 1, .. }
        ));
        assert!(matches!(frame(&mut eve).await, ServerFrame::Message { .. }));
        eve.close().await.unwrap();
    });
    // The attacker: one observer token for atk-*, 16 sessions, 16 rooms each.
    let token = server.token("attacker", Role::Observer, &["atk-*"], 600);
    let mut attackers: Vec<Client> = Vec::new();
    let (mut accepted, mut refused) = (0, 0);
    for s in 0..SESSIONS {
        let (mut client, _) = within(server.connect(&token));
        for r in 0..ROOMS_EACH {
            let answer = within(join(&mut client, &format!("atk-{s}-{r}"), None));
            match (&answer, code_of(&answer)) {
                (ServerFrame::Joined { .. }, _) => accepted += 1,
                (_, Some(ErrorCode::TooManyRooms)) => refused += 1,
                other => panic!("{other:?}"),
            }
        }
        attackers.push(client);
    }
    assert_eq!((accepted, refused), (64, 256 - 64));
    within(async {
        // The honest room kept its history, and honest joins still work.
        let (mut eve, _) = server.connect(&server.member("eve")).await;
        assert_eq!(
            join(&mut eve, "honest", Some(0)).await,
            ServerFrame::Joined {
                room: room("honest"),
                first_seq: 1,
                last_seq: 1
            }
        );
        assert!(matches!(
            frame(&mut eve).await,
            ServerFrame::Message { seq: 1, .. }
        ));
        assert!(matches!(
            join(&mut eve, "fresh", None).await,
            ServerFrame::Joined { .. }
        ));
        // The attacker's own room count is what is full, not the server.
        let (mut one_more, _) = server.connect(&token).await;
        let answer = join(&mut one_more, "atk-extra", None).await;
        match answer {
            ServerFrame::Error { code, detail, .. } => {
                assert_eq!(code, ErrorCode::TooManyRooms);
                assert!(detail.contains("max_rooms_per_user"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
        // A room the attacker already holds costs another session nothing.
        assert!(matches!(
            join(&mut one_more, "atk-0-0", None).await,
            ServerFrame::Joined { .. }
        ));
    });
}

#[test]
fn a_user_leaving_rooms_gets_its_quota_back() {
    let server = TestServer::start_with(|c| {
        c.limits.max_rooms = 2;
        c.limits.max_rooms_per_user = 2;
    });
    within(async {
        let (mut a1, _) = server.connect(&server.member("ann")).await;
        let (mut a2, _) = server.connect(&server.member("ann")).await;
        join(&mut a1, "one", None).await;
        join(&mut a2, "two", None).await;
        let refused = join(&mut a2, "three", None).await;
        assert_eq!(code_of(&refused), Some(ErrorCode::TooManyRooms));
        // Leaving gives a room back...
        a2.send(&ClientFrame::Leave { room: room("two") })
            .await
            .unwrap();
        assert!(matches!(frame(&mut a2).await, ServerFrame::Left { .. }));
        assert!(matches!(
            join(&mut a2, "three", None).await,
            ServerFrame::Joined { .. }
        ));
        // ...and so does a session that ends (once the server saw it go).
        a1.close().await.unwrap();
        while server.handle.sessions().len() != 1 {
            smol::Timer::after(std::time::Duration::from_millis(10)).await;
        }
        assert!(matches!(
            join(&mut a2, "four", None).await,
            ServerFrame::Joined { .. }
        ));
    });
}

#[test]
fn a_join_the_store_refuses_leaves_no_quota_behind() {
    // Memory storage: a full table of rooms with members refuses the join
    // after the quota was taken; the quota must be given back.
    let server = TestServer::start_with(|c| {
        c.storage = None;
        c.limits.max_total_rooms = 2;
        c.limits.max_rooms = 2;
        c.limits.max_rooms_per_user = 2;
    });
    within(async {
        let (mut ann, _) = server.connect(&server.member("ann")).await;
        let (mut bob, _) = server.connect(&server.member("bob")).await;
        join(&mut ann, "a", None).await;
        join(&mut bob, "b", None).await;
        match join(&mut ann, "c", None).await {
            ServerFrame::Error { code, detail, .. } => {
                assert_eq!(code, ErrorCode::TooManyRooms);
                assert!(detail.contains("maximum of rooms"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
        // Bob's room becomes memberless, so the table has a slot to give.
        bob.send(&ClientFrame::Leave { room: room("b") })
            .await
            .unwrap();
        assert!(matches!(frame(&mut bob).await, ServerFrame::Left { .. }));
        // Ann is in one room: "c" was not counted against her.
        assert!(matches!(
            join(&mut ann, "d", None).await,
            ServerFrame::Joined { .. }
        ));
    });
}
