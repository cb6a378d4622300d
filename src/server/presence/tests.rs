use std::sync::Mutex;

use super::*;
use crate::protocol::decode_server;
use smol::block_on;

/// Records what would have been routed.
#[derive(Default)]
struct Recorded(Mutex<Vec<(ServerFrame, u64)>>);

impl Route for Recorded {
    fn to_others(&self, _room: &RoomName, frame: &Bytes, except: u64, _slack: usize) -> usize {
        let frame = decode_server(frame).unwrap();
        self.0.lock().unwrap().push((frame, except));
        1
    }
}

impl Recorded {
    fn take(&self) -> Vec<(ServerFrame, u64)> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

fn room(s: &str) -> RoomName {
    RoomName::new(s).unwrap()
}

fn user(s: &str) -> UserName {
    UserName::new(s).unwrap()
}

fn presence(events: &[&str], max: u32) -> (Presence, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::default());
    let config = PresenceConfig {
        events: events.iter().map(|e| (*e).to_owned()).collect(),
        events_max_members: max,
    };
    (
        Presence::local(&config, Arc::clone(&metrics)).unwrap(),
        metrics,
    )
}

fn at<'a>(room: &'a RoomName, session: u64, user: &'a UserName) -> Member<'a> {
    Member {
        room,
        session,
        user,
    }
}

#[test]
fn events_on_first_join_and_last_leave_only() {
    let (p, metrics) = presence(&["*"], 100);
    let route = Recorded::default();
    let (r, ann) = (room("r"), user("ann"));
    block_on(p.joined(at(&r, 1, &ann), &route));
    assert_eq!(
        route.take(),
        [(
            ServerFrame::MemberJoined {
                room: r.clone(),
                user: ann.clone()
            },
            1
        )]
    );
    block_on(p.joined(at(&r, 2, &ann), &route));
    p.left(at(&r, 1, &ann), &route);
    assert_eq!(route.take(), [], "ann still has session 2 in the room");
    p.left(at(&r, 2, &ann), &route);
    assert_eq!(
        route.take(),
        [(
            ServerFrame::MemberLeft {
                room: r.clone(),
                user: ann.clone()
            },
            2
        )]
    );
    assert_eq!(block_on(p.members(&r)).unwrap(), (0, UserList::default()));
    let s = metrics.snapshot(Default::default());
    assert_eq!((s.presence_events, s.presence_suppressed), (2, 0));
}

#[test]
fn members_counts_users_once_sorted_and_caps_the_list() {
    let (p, _) = presence(&[], 100);
    let route = Recorded::default();
    let r = room("big");
    let names: Vec<UserName> = (0..300).rev().map(|i| user(&format!("u{i:03}"))).collect();
    for (i, name) in names.iter().enumerate() {
        block_on(p.joined(at(&r, i as u64, name), &route));
        block_on(p.joined(at(&r, 1000 + i as u64, name), &route));
    }
    let (total, users) = block_on(p.members(&r)).unwrap();
    assert_eq!(total, 300);
    assert_eq!(users.len(), MAX_LISTED_USERS);
    assert_eq!(users.as_slice()[0].as_str(), "u000");
    assert_eq!(users.as_slice()[255].as_str(), "u255");
    assert_eq!(route.take(), [], "no room is selected for events");
}

#[test]
fn events_stop_above_the_member_limit_counting_the_mover() {
    let (p, metrics) = presence(&["team-*"], 2);
    let route = Recorded::default();
    let (r, other) = (room("team-a"), room("lobby"));
    let [a, b, c] = ["a", "b", "c"].map(user);
    block_on(p.joined(at(&r, 1, &a), &route));
    block_on(p.joined(at(&r, 2, &b), &route));
    assert_eq!(route.take().len(), 2, "two users: within the limit");
    block_on(p.joined(at(&r, 3, &c), &route));
    p.left(at(&r, 3, &c), &route);
    assert_eq!(route.take(), [], "three users counting the mover: over");
    p.left(at(&r, 2, &b), &route);
    assert_eq!(route.take().len(), 1, "two users counting the leaver");
    block_on(p.joined(at(&other, 4, &a), &route));
    assert_eq!(route.take(), [], "lobby is not selected");
    let s = metrics.snapshot(Default::default());
    assert_eq!((s.presence_events, s.presence_suppressed), (3, 2));
}

#[test]
fn leaving_what_was_never_joined_changes_nothing() {
    let (p, _) = presence(&["*"], 100);
    let route = Recorded::default();
    let (r, a, b) = (room("r"), user("a"), user("b"));
    p.left(at(&r, 1, &a), &route);
    block_on(p.joined(at(&r, 1, &a), &route));
    route.take();
    p.left(at(&r, 2, &b), &route);
    assert_eq!(route.take(), []);
    assert_eq!(block_on(p.members(&r)).unwrap().0, 1);
}

#[test]
fn the_largest_members_frame_fits_its_constant() {
    let names = (0..MAX_LISTED_USERS).map(|i| user(&format!("{i:0>64}")));
    let frame = ServerFrame::Members {
        room: room(&"r".repeat(MAX_ROOM_LEN)),
        total: u32::MAX,
        users: UserList::first_of(names),
    };
    let len = server_to_vec(&frame).len();
    assert!(len <= MAX_MEMBERS_FRAME, "{len} > {MAX_MEMBERS_FRAME}");
    assert!(len + 8 > MAX_MEMBERS_FRAME, "the constant is not loose");
}
