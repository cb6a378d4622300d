//! Example server frames.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::{limits, room, text, user, ROOM32};
use crate::protocol::{Body, ErrorCode, Limits, Role, ServerFrame as S, UserList};

/// A room without storage after a restart starts from Unix ms × 2^10
/// (section 7); this is 2025-11-24, below 2^53.
const CLOCK_BASE: u64 = 1_764_000_000_000 << 10;

/// Every server frame variant and every error code, with the edge cases
/// each field has.
pub fn server() -> Vec<(&'static str, S)> {
    let mut v = alloc::vec![
        (
            "Welcome observer",
            S::Welcome {
                session: 1,
                user: "olga".into(),
                role: Role::Observer,
                expires_at: 1_800_000_000,
                limits: limits(),
            },
        ),
        (
            "Welcome member, unicode user",
            S::Welcome {
                session: 300,
                user: "Zoë 🦀".into(),
                role: Role::Member,
                expires_at: u64::from(u32::MAX),
                limits: Limits {
                    max_body: u32::MAX,
                    max_rooms: u16::MAX,
                    publish_per_sec: 0,
                    history: 300,
                },
            },
        ),
        (
            "Welcome admin, session u64::MAX",
            S::Welcome {
                session: u64::MAX,
                user: "root".into(),
                role: Role::Admin,
                expires_at: 0,
                limits: limits(),
            },
        ),
        (
            "Joined new room with storage: retains nothing, next seq 1",
            S::Joined {
                room: room("lobby"),
                first_seq: 1,
                last_seq: 0,
            },
        ),
        (
            "Joined room without storage after a restart: next seq from the clock",
            S::Joined {
                room: room("lobby"),
                first_seq: CLOCK_BASE,
                last_seq: CLOCK_BASE - 1,
            },
        ),
        (
            "Joined retaining 300..=u64::MAX",
            S::Joined {
                room: room(ROOM32),
                first_seq: 300,
                last_seq: u64::MAX,
            },
        ),
        (
            "Left",
            S::Left {
                room: room("lobby"),
            },
        ),
        (
            "Message text",
            S::Message {
                room: room("lobby"),
                seq: 1,
                from: "alice".into(),
                sent_at_ms: 1_764_000_000_000,
                body: text("hi"),
            },
        ),
        (
            "Message unicode from and text",
            S::Message {
                room: room("r.1"),
                seq: 300,
                from: "Zoë 🦀".into(),
                sent_at_ms: u64::MAX,
                body: text("☃\n<b>bold?</b>"),
            },
        ),
        (
            // A decoder must keep a leading U+FEFF (TextDecoder drops it
            // unless told not to).
            "Message text starting with a byte order mark",
            S::Message {
                room: room("lobby"),
                seq: 2,
                from: "\u{feff}eve".into(),
                sent_at_ms: 1,
                body: text("\u{feff}hidden mark"),
            },
        ),
        (
            "Message sealed",
            S::Message {
                room: room("lobby"),
                seq: u64::MAX,
                from: "bob".into(),
                sent_at_ms: 0,
                body: Body::Sealed(alloc::vec![0x01; 29]),
            },
        ),
        ("Ack", S::Ack { id: 7, seq: 1 }),
        (
            "Ack id u32::MAX",
            S::Ack {
                id: u32::MAX,
                seq: 300,
            },
        ),
        (
            "Deleted",
            S::Deleted {
                room: room("lobby"),
                seq: 42,
            },
        ),
    ];
    let codes = [
        ("Error BadRequest without id", None, ErrorCode::BadRequest),
        ("Error Forbidden", Some(1), ErrorCode::Forbidden),
        ("Error NotJoined", Some(2), ErrorCode::NotJoined),
        ("Error RateLimited", Some(3), ErrorCode::RateLimited),
        ("Error TooManyRooms", None, ErrorCode::TooManyRooms),
        ("Error NotFound", Some(u32::MAX), ErrorCode::NotFound),
        ("Error TokenRejected", None, ErrorCode::TokenRejected),
        ("Error Unavailable", Some(4), ErrorCode::Unavailable),
    ];
    for (name, id, code) in codes {
        let detail = if code == ErrorCode::BadRequest {
            "room name \"<b>\" is invalid ✗".to_string()
        } else {
            format!("{code:?}")
        };
        v.push((name, S::Error { id, code, detail }));
    }
    v.extend(presence());
    v
}

fn presence() -> Vec<(&'static str, S)> {
    let capped: Vec<String> = (0..300).map(|i| format!("u{i:03}")).collect();
    alloc::vec![
        (
            "Members, one user",
            S::Members {
                room: room("lobby"),
                total: 1,
                users: UserList::first_of([user("alice")]),
            },
        ),
        (
            "Members sorted by bytes, not by letters",
            S::Members {
                room: room("r-1"),
                total: 4,
                users: UserList::first_of(["bob", "alice", "Zoë 🦀", "éva"].map(user)),
            },
        ),
        (
            "Members: the first 256 of 300 (two-byte count)",
            S::Members {
                room: room(ROOM32),
                total: 300,
                users: UserList::first_of(capped.iter().map(|u| user(u))),
            },
        ),
        (
            // Never sent (the asker always counts), but a decoder takes it.
            "Members with an empty list",
            S::Members {
                room: room("a"),
                total: 0,
                users: UserList::default(),
            },
        ),
        (
            "MemberJoined",
            S::MemberJoined {
                room: room("lobby"),
                user: user("bob"),
            },
        ),
        (
            "MemberLeft, 64-byte unicode user",
            S::MemberLeft {
                room: room(ROOM32),
                user: user(&"é".repeat(32)),
            },
        ),
    ]
}
