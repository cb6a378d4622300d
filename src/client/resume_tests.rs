use super::*;

fn room(s: &str) -> RoomName {
    RoomName::new(s).unwrap()
}

fn join_frame(name: &str, since: Option<u64>) -> ClientFrame {
    ClientFrame::Join {
        room: room(name),
        since,
    }
}

#[test]
fn a_reconnect_resumes_every_room_after_its_last_seen_seq() {
    let mut r = Resume::new();
    let lobby = room("lobby");
    // Before the first connection: the join is sent by reconnect().
    r.join(lobby.clone(), Some(0));
    assert_eq!(r.reconnect(), vec![join_frame("lobby", Some(0))]);
    assert_eq!(r.joined(&lobby, 1, 2), Joined::Fresh);
    assert_eq!(r.last_seen(&lobby), Some(0));
    assert_eq!(r.message(&lobby, 1), Seen::Next);
    assert_eq!(r.message(&lobby, 2), Seen::Next);
    assert_eq!(r.message(&lobby, 2), Seen::Repeat);
    assert_eq!(r.message(&lobby, 3), Seen::Next);
    // A second room joined live, and one asked but never answered.
    let ops = room("ops");
    assert_eq!(r.join(ops.clone(), None), join_frame("ops", None));
    assert_eq!(r.joined(&ops, 5, 9), Joined::Fresh);
    assert_eq!(r.last_seen(&ops), Some(9));
    r.join(room("late"), Some(0));
    assert_eq!(
        r.reconnect(),
        vec![
            join_frame("late", Some(0)),
            join_frame("lobby", Some(3)),
            join_frame("ops", Some(9)),
        ]
    );
    assert!(!r.is_joined(&lobby), "not joined until Joined comes again");
    assert_eq!(r.joined(&lobby, 1, 5), Joined::Resumed);
    assert_eq!(r.message(&lobby, 3), Seen::Repeat);
    assert_eq!(r.message(&lobby, 4), Seen::Next);
    assert_eq!(r.joined(&ops, 12, 20), Joined::Lost(10..=11));
    // The replay starts at first_seq: no second report of the same gap.
    assert_eq!(r.message(&ops, 12), Seen::Next);
    assert_eq!(r.rooms().collect::<Vec<_>>(), vec![&lobby, &ops]);
}

#[test]
fn a_room_that_keeps_nothing_tells_a_loss_by_its_next_seq() {
    let mut r = Resume::new();
    let lobby = room("lobby");
    r.join(lobby.clone(), Some(0));
    // A clock-based room (section 7): it keeps nothing, next seq is big.
    let base = 1_700_000_000_000u64 << 10;
    assert_eq!(r.joined(&lobby, base, base - 1), Joined::Fresh);
    assert_eq!(r.message(&lobby, base), Seen::Next);
    r.reconnect();
    // Restarted without storage: the next seq is far above what we saw.
    let later = base + 5000;
    assert_eq!(
        r.joined(&lobby, later, later - 1),
        Joined::Lost(base + 1..=later - 1)
    );
    assert_eq!(r.message(&lobby, later), Seen::Next);
    // Resumed with nothing new: first_seq = since + 1.
    r.reconnect();
    assert_eq!(r.joined(&lobby, later + 1, later), Joined::Resumed);
}

#[test]
fn a_seq_jump_in_live_messages_is_a_gap() {
    let mut r = Resume::new();
    let lobby = room("lobby");
    r.join(lobby.clone(), None);
    assert_eq!(r.joined(&lobby, 1, 0), Joined::Fresh);
    assert_eq!(r.message(&lobby, 1), Seen::Next);
    assert_eq!(r.message(&lobby, 4), Seen::AfterGap(2..=3));
    assert_eq!(r.message(&lobby, 5), Seen::Next);
    assert_eq!(r.message(&room("other"), 1), Seen::NotJoined);
}

#[test]
fn a_restarted_history_is_followed_from_where_it_stands() {
    let mut r = Resume::new();
    let lobby = room("lobby");
    r.join(lobby.clone(), Some(0));
    r.joined(&lobby, 0, 0);
    assert_eq!(r.message(&lobby, 1), Seen::Next);
    assert_eq!(r.message(&lobby, 2), Seen::Next);
    r.reconnect();
    assert_eq!(
        r.joined(&lobby, 0, 0),
        Joined::Restarted { seen: 2, now: 0 }
    );
    // The restarted room's seq 1 is new, not a repeat of the old seq 1.
    assert_eq!(r.message(&lobby, 1), Seen::Next);
}

#[test]
fn a_fresh_join_after_a_seq_the_room_never_reached_still_sees_new_messages() {
    let mut r = Resume::new();
    let lobby = room("lobby");
    r.join(lobby.clone(), Some(500));
    assert_eq!(r.joined(&lobby, 1, 10), Joined::Fresh);
    assert_eq!(r.message(&lobby, 11), Seen::Next);
    // A fresh join of a room that keeps from 40: older ones are history.
    r.left(&lobby);
    r.join(lobby.clone(), Some(0));
    assert_eq!(r.joined(&lobby, 40, 50), Joined::Fresh);
    assert_eq!(r.message(&lobby, 40), Seen::Next);
}

#[test]
fn left_and_refused_rooms_are_not_resumed() {
    let mut r = Resume::new();
    let (a, b) = (room("a"), room("b"));
    r.join(a.clone(), None);
    r.join(b.clone(), None);
    r.joined(&a, 1, 0);
    r.refused(&b);
    assert_eq!(r.joined(&room("c"), 1, 3), Joined::Unasked);
    r.left(&a);
    assert_eq!(r.message(&a, 1), Seen::NotJoined);
    assert_eq!(r.reconnect(), vec![join_frame("c", Some(3))]);
}
