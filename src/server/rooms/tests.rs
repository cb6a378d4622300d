use super::*;
use crate::protocol::decode_server;
use crate::server::outbox::{outbox, Inbox};

fn room(s: &str) -> RoomName {
    RoomName::new(s).unwrap()
}

fn drain(inbox: &Inbox) -> Vec<ServerFrame> {
    std::iter::from_fn(|| inbox.frames.try_recv().ok())
        .map(|q| decode_server(&q.bytes).unwrap())
        .collect()
}

fn text(s: &str) -> Body {
    Body::Text(s.to_owned())
}

#[test]
fn ack_precedes_message_and_seq_counts_from_one() {
    let rooms = Rooms::new(4, 8);
    let (a, a_in) = outbox(1, 16);
    rooms.join(&room("r"), &a, None).unwrap();
    assert_eq!(
        rooms.publish(&room("r"), "alice", text("x"), Some((&a, 9))),
        Some(1)
    );
    let frames = drain(&a_in);
    assert!(matches!(
        frames[0],
        ServerFrame::Joined {
            first_seq: 0,
            last_seq: 0,
            ..
        }
    ));
    assert_eq!(frames[1], ServerFrame::Ack { id: 9, seq: 1 });
    assert!(matches!(&frames[2], ServerFrame::Message { seq: 1, from, .. } if from == "alice"));
}

#[test]
fn history_is_bounded_and_replayed_after_since() {
    let rooms = Rooms::new(3, 8);
    let (a, _a_in) = outbox(1, 64);
    rooms.join(&room("r"), &a, None).unwrap();
    for i in 0..5 {
        rooms.publish(&room("r"), "alice", text(&i.to_string()), None);
    }
    let (b, b_in) = outbox(2, 64);
    rooms.join(&room("r"), &b, Some(3)).unwrap();
    let frames = drain(&b_in);
    assert_eq!(
        frames[0],
        ServerFrame::Joined {
            room: room("r"),
            first_seq: 3,
            last_seq: 5
        }
    );
    let seqs: Vec<u64> = frames[1..]
        .iter()
        .map(|f| match f {
            ServerFrame::Message { seq, .. } => *seq,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(seqs, [4, 5]);
}

#[test]
fn full_queue_evicts_only_the_slow_member() {
    let rooms = Rooms::new(0, 8);
    let (fast, fast_in) = outbox(1, 64);
    let (slow, slow_in) = outbox(2, 2);
    rooms.join(&room("r"), &fast, None).unwrap();
    rooms.join(&room("r"), &slow, None).unwrap();
    for _ in 0..10 {
        rooms.publish(&room("r"), "a", text("x"), None);
    }
    assert_eq!(drain(&fast_in).len(), 11);
    assert_eq!(
        slow_in.control.try_recv(),
        Ok(crate::protocol::Close::TooSlow)
    );
}

#[test]
fn delete_and_not_found() {
    let rooms = Rooms::new(4, 8);
    let (a, a_in) = outbox(1, 64);
    rooms.join(&room("r"), &a, None).unwrap();
    rooms.publish(&room("r"), "a", text("x"), None);
    assert_eq!(rooms.delete(&room("r"), 1, &a), Ok(()));
    assert_eq!(rooms.delete(&room("r"), 1, &a), Err(NotRetained));
    assert_eq!(
        drain(&a_in).last(),
        Some(&ServerFrame::Deleted {
            room: room("r"),
            seq: 1
        })
    );
}

#[test]
fn table_is_bounded_and_evicts_memberless_rooms_first() {
    let rooms = Rooms::new(4, 2);
    let (a, _a_in) = outbox(1, 64);
    rooms.join(&room("one"), &a, None).unwrap();
    rooms.join(&room("two"), &a, None).unwrap();
    assert_eq!(rooms.join(&room("three"), &a, None), Err(ServerRoomsFull));
    rooms.publish(&room("two"), "a", text("x"), None);
    rooms.leave(&room("two"), 1);
    assert_eq!(rooms.len(), 2, "a room with history stays");
    rooms.join(&room("three"), &a, None).unwrap();
    assert_eq!(rooms.len(), 2);
    rooms.leave(&room("one"), 1);
    assert_eq!(rooms.len(), 1, "an empty room goes");
}
