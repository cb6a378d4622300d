use super::*;
use crate::protocol::{decode_server, Body};
use crate::server::outbox::{outbox, outbox_in, Empty, Inbox};
use crate::server::store::message_frame;

fn room(s: &str) -> RoomName {
    RoomName::new(s).unwrap()
}

fn drain(inbox: &Inbox) -> Vec<ServerFrame> {
    std::iter::from_fn(|| inbox.frames.try_recv().ok())
        .map(|q| decode_server(&q.bytes).unwrap())
        .collect()
}

fn join(rooms: &Rooms, name: &str, member: &Outbox, view: View, replay: &[Bytes]) {
    let join = Join {
        room: room(name),
        member: member.clone(),
        since: Some(0),
        announce: true,
    };
    rooms.joined(&join, view, replay);
}

fn frame(name: &str, seq: u64) -> Bytes {
    message_frame(&room(name), seq, "alice", Body::Text(format!("m{seq}")))
}

/// An ack that queues `Ack{id}` into `to`, as a session's does.
fn ack_to(to: &Outbox, id: u32) -> Reply {
    let to = to.clone();
    Reply::new(move |r| {
        let _ = to.send(&ServerFrame::Ack {
            id,
            seq: r.unwrap(),
        });
    })
}

#[test]
fn joined_then_replay_then_live_and_the_ack_before_the_message() {
    let rooms = Rooms::default();
    let (a, a_in) = outbox(1, 16);
    join(
        &rooms,
        "r",
        &a,
        View { first: 4, last: 5 },
        &[frame("r", 4), frame("r", 5)],
    );
    rooms.committed(&room("r"), 6, &frame("r", 6), ack_to(&a, 9));
    let frames = drain(&a_in);
    let joined = ServerFrame::Joined {
        room: room("r"),
        first_seq: 4,
        last_seq: 5,
    };
    assert_eq!(frames[0], joined);
    assert!(matches!(frames[1], ServerFrame::Message { seq: 4, .. }));
    assert!(matches!(frames[2], ServerFrame::Message { seq: 5, .. }));
    assert_eq!(frames[3], ServerFrame::Ack { id: 9, seq: 6 });
    assert!(matches!(&frames[4], ServerFrame::Message { seq: 6, from, .. } if from == "alice"));
    assert_eq!(frames.len(), 5);
}

#[test]
fn full_queue_evicts_only_the_slow_member() {
    let rooms = Rooms::default();
    let (fast, fast_in) = outbox(1, 64);
    let (slow, slow_in) = outbox(2, 2);
    let view = View { first: 1, last: 0 };
    join(&rooms, "r", &fast, view, &[]);
    join(&rooms, "r", &slow, view, &[]);
    for seq in 1..=10 {
        rooms.committed(&room("r"), seq, &frame("r", seq), Reply::none());
    }
    assert_eq!(drain(&fast_in).len(), 11);
    assert_eq!(
        slow_in.control.try_recv(),
        Ok(crate::protocol::Close::TooSlow)
    );
}

#[test]
fn deleted_reaches_members_and_a_non_member_admin_once() {
    let rooms = Rooms::default();
    let (a, a_in) = outbox(1, 64);
    let (admin, admin_in) = outbox(2, 64);
    join(&rooms, "r", &a, View { first: 1, last: 0 }, &[]);
    drain(&a_in);
    rooms.deleted(&room("r"), 1, &a);
    rooms.deleted(&room("r"), 2, &admin);
    let deleted = |seq| ServerFrame::Deleted {
        room: room("r"),
        seq,
    };
    assert_eq!(drain(&a_in), vec![deleted(1), deleted(2)]);
    assert_eq!(drain(&admin_in), vec![deleted(2)]);
    rooms.deleted(&room("gone"), 3, &admin);
    assert_eq!(
        drain(&admin_in),
        vec![ServerFrame::Deleted {
            room: room("gone"),
            seq: 3
        }]
    );
}

#[test]
fn a_room_lives_while_it_has_members() {
    let rooms = Rooms::default();
    let (a, _a_in) = outbox(1, 64);
    let (b, _b_in) = outbox(2, 64);
    let view = View { first: 1, last: 0 };
    join(&rooms, "r", &a, view, &[]);
    join(&rooms, "r", &b, view, &[]);
    assert!(rooms.is_watched(&room("r")));
    rooms.leave(&room("r"), 1);
    assert_eq!(rooms.len(), 1);
    rooms.leave(&room("r"), 2);
    assert_eq!(rooms.len(), 0);
    assert!(!rooms.is_watched(&room("r")));
    // A commit into a room nobody here is in still answers the publisher.
    let (tx, rx) = smol::channel::bounded(1);
    rooms.committed(
        &room("r"),
        7,
        &frame("r", 7),
        Reply::new(move |r| {
            let _ = tx.try_send(r);
        }),
    );
    assert_eq!(rx.try_recv(), Ok(Ok(7)));
}

#[test]
fn a_member_that_has_not_had_its_turn_holds_the_publisher_not_evicted() {
    // The member's task is ready but has not run (another executor thread
    // holds it in its run queue): its queue passes the mark, and the
    // publisher is held instead of the member being evicted later.
    let rooms = Rooms::default();
    let (member, member_in) = outbox_in(1, 4, rooms.backlog());
    let (publisher, publisher_in) = outbox_in(2, 64, rooms.backlog());
    join(&rooms, "r", &member, View { first: 1, last: 0 }, &[]);
    let _ = drain(&member_in);
    let reply = || Reply::from_session(publisher.clone(), |_| {});
    rooms.committed(&room("r"), 1, &frame("r", 1), reply());
    assert!(!publisher_in.take_hold());
    rooms.committed(&room("r"), 2, &frame("r", 2), reply());
    assert!(publisher_in.take_hold());
    assert_eq!(rooms.backlog().pressed(), 1);
    // Its turn comes: taken below the mark, the backlog clears.
    assert_eq!(drain(&member_in).len(), 2);
    assert_eq!(rooms.backlog().pressed(), 0);
    assert_eq!(member_in.control.try_recv(), Err(Empty));
}
