//! The valid frames behind `frames.json`: every variant of every enum,
//! `Option` both ways, varints of 1 to 10 bytes, a 32-byte room, unicode.

use palisade::protocol::{Body, ClientFrame, ErrorCode, Limits, Role, RoomName, ServerFrame};

use super::Frame;

fn room(s: &str) -> RoomName {
    RoomName::new(s).expect("vector room names are valid")
}

fn text(s: &str) -> Body {
    Body::Text(s.to_string())
}

const ROOM32: &str = "team-0123456789.abcdefghij_klmno";

fn limits() -> Limits {
    Limits {
        max_body: 4096,
        max_rooms: 16,
        publish_per_sec: 10,
        history: 100,
    }
}

/// Every variant of every enum, Option both ways, varints of 1 to 10 bytes,
/// a 32-byte room and text beyond ASCII.
pub fn frames() -> Vec<(&'static str, Frame)> {
    use ClientFrame as C;
    use Frame::{Client, Server};
    use ServerFrame as S;
    let codes = [
        ("Error BadRequest without id", None, ErrorCode::BadRequest),
        ("Error Forbidden", Some(1), ErrorCode::Forbidden),
        ("Error NotJoined", Some(2), ErrorCode::NotJoined),
        ("Error RateLimited", Some(3), ErrorCode::RateLimited),
        ("Error TooManyRooms", None, ErrorCode::TooManyRooms),
        ("Error NotFound", Some(u32::MAX), ErrorCode::NotFound),
        ("Error TokenRejected", None, ErrorCode::TokenRejected),
    ];
    let mut v = vec![
        (
            "Join without since",
            Client(C::Join {
                room: room("lobby"),
                since: None,
            }),
        ),
        (
            "Join since 0",
            Client(C::Join {
                room: room("lobby"),
                since: Some(0),
            }),
        ),
        (
            "Join since 300 (two-byte varint)",
            Client(C::Join {
                room: room("lobby"),
                since: Some(300),
            }),
        ),
        (
            "Join since u64::MAX, 32-byte room",
            Client(C::Join {
                room: room(ROOM32),
                since: Some(u64::MAX),
            }),
        ),
        ("Leave", Client(C::Leave { room: room("a") })),
        (
            "Publish text",
            Client(C::Publish {
                id: 1,
                room: room("lobby"),
                body: text("hello"),
            }),
        ),
        (
            "Publish unicode text with newline and tab",
            Client(C::Publish {
                id: 300,
                room: room("r-1"),
                body: text("héllo, wörld ☃ 🦀\n\tend"),
            }),
        ),
        (
            "Publish markup stays text",
            Client(C::Publish {
                id: 2,
                room: room("lobby"),
                body: text("<img src=x onerror=alert(1)>"),
            }),
        ),
        (
            "Publish sealed, id u32::MAX",
            Client(C::Publish {
                id: u32::MAX,
                room: room("a"),
                body: Body::Sealed(vec![1, 2, 3]),
            }),
        ),
        (
            "Publish sealed of 300 bytes (two-byte length)",
            Client(C::Publish {
                id: 0,
                room: room("x"),
                body: Body::Sealed((0..300u32).map(|i| (i % 251) as u8).collect()),
            }),
        ),
        (
            "Delete",
            Client(C::Delete {
                id: 9,
                room: room("lobby"),
                seq: 42,
            }),
        ),
        (
            "Delete seq u64::MAX",
            Client(C::Delete {
                id: 0,
                room: room("z9"),
                seq: u64::MAX,
            }),
        ),
        (
            "Reauth",
            Client(C::Reauth {
                token: "v4.public.eyJzdWIiOiJhbGljZSJ9.c2ln".to_string(),
            }),
        ),
        (
            "Welcome observer",
            Server(S::Welcome {
                session: 1,
                user: "olga".to_string(),
                role: Role::Observer,
                expires_at: 1_800_000_000,
                limits: limits(),
            }),
        ),
        (
            "Welcome member, unicode user",
            Server(S::Welcome {
                session: 300,
                user: "Zoë 🦀".to_string(),
                role: Role::Member,
                expires_at: u64::from(u32::MAX),
                limits: Limits {
                    max_body: u32::MAX,
                    max_rooms: u16::MAX,
                    publish_per_sec: 0,
                    history: 300,
                },
            }),
        ),
        (
            "Welcome admin, session u64::MAX",
            Server(S::Welcome {
                session: u64::MAX,
                user: "root".to_string(),
                role: Role::Admin,
                expires_at: 0,
                limits: limits(),
            }),
        ),
        (
            "Joined empty room",
            Server(S::Joined {
                room: room("lobby"),
                first_seq: 0,
                last_seq: 0,
            }),
        ),
        (
            "Joined retaining 300..=u64::MAX",
            Server(S::Joined {
                room: room(ROOM32),
                first_seq: 300,
                last_seq: u64::MAX,
            }),
        ),
        (
            "Left",
            Server(S::Left {
                room: room("lobby"),
            }),
        ),
        (
            "Message text",
            Server(S::Message {
                room: room("lobby"),
                seq: 1,
                from: "alice".to_string(),
                sent_at_ms: 1_764_000_000_000,
                body: text("hi"),
            }),
        ),
        (
            "Message unicode from and text",
            Server(S::Message {
                room: room("r.1"),
                seq: 300,
                from: "Zoë 🦀".to_string(),
                sent_at_ms: u64::MAX,
                body: text("☃\n<b>bold?</b>"),
            }),
        ),
        (
            // A decoder must keep a leading U+FEFF (TextDecoder drops it
            // unless told not to).
            "Message text starting with a byte order mark",
            Server(S::Message {
                room: room("lobby"),
                seq: 2,
                from: "\u{feff}eve".to_string(),
                sent_at_ms: 1,
                body: text("\u{feff}hidden mark"),
            }),
        ),
        (
            "Message sealed",
            Server(S::Message {
                room: room("lobby"),
                seq: u64::MAX,
                from: "bob".to_string(),
                sent_at_ms: 0,
                body: Body::Sealed(vec![0x01; 29]),
            }),
        ),
        ("Ack", Server(S::Ack { id: 7, seq: 1 })),
        (
            "Ack id u32::MAX",
            Server(S::Ack {
                id: u32::MAX,
                seq: 300,
            }),
        ),
        (
            "Deleted",
            Server(S::Deleted {
                room: room("lobby"),
                seq: 42,
            }),
        ),
    ];
    for (name, id, code) in codes {
        let detail = if code == ErrorCode::BadRequest {
            "room name \"<b>\" is invalid ✗".to_string()
        } else {
            format!("{code:?}")
        };
        v.push((name, Server(S::Error { id, code, detail })));
    }
    v
}

/// Encodings postcard accepts that it would never produce: varints padded
/// with 0x80 continuation bytes. Both decoders must agree on them too.
pub fn lenient() -> Vec<(&'static str, Vec<u8>, Frame)> {
    vec![
        (
            "Ack id 1 as a two-byte varint",
            vec![4, 0x81, 0x00, 2],
            Frame::Server(ServerFrame::Ack { id: 1, seq: 2 }),
        ),
        (
            "Leave with variant index 1 as a two-byte varint",
            vec![0x81, 0x00, 1, b'a'],
            Frame::Client(ClientFrame::Leave { room: room("a") }),
        ),
    ]
}
