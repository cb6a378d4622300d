//! Example client frames.

use alloc::vec::Vec;

use super::{room, text, ROOM32};
use crate::protocol::{Body, ClientFrame as C};

/// Every client frame variant, with the edge cases each field has.
pub fn client() -> Vec<(&'static str, C)> {
    alloc::vec![
        (
            "Join without since",
            C::Join {
                room: room("lobby"),
                since: None,
            },
        ),
        (
            "Join since 0",
            C::Join {
                room: room("lobby"),
                since: Some(0),
            },
        ),
        (
            "Join since 300 (two-byte varint)",
            C::Join {
                room: room("lobby"),
                since: Some(300),
            },
        ),
        (
            "Join since u64::MAX, 32-byte room",
            C::Join {
                room: room(ROOM32),
                since: Some(u64::MAX),
            },
        ),
        ("Leave", C::Leave { room: room("a") }),
        (
            "Publish text",
            C::Publish {
                id: 1,
                room: room("lobby"),
                body: text("hello"),
            },
        ),
        (
            "Publish unicode text with newline and tab",
            C::Publish {
                id: 300,
                room: room("r-1"),
                body: text("héllo, wörld ☃ 🦀\n\tend"),
            },
        ),
        (
            "Publish markup stays text",
            C::Publish {
                id: 2,
                room: room("lobby"),
                body: text("<img src=x onerror=alert(1)>"),
            },
        ),
        (
            "Publish sealed, id u32::MAX",
            C::Publish {
                id: u32::MAX,
                room: room("a"),
                body: Body::Sealed(alloc::vec![1, 2, 3]),
            },
        ),
        (
            "Publish sealed of 300 bytes (two-byte length)",
            C::Publish {
                id: 0,
                room: room("x"),
                body: Body::Sealed((0..300u32).map(|i| (i % 251) as u8).collect()),
            },
        ),
        (
            "Delete",
            C::Delete {
                id: 9,
                room: room("lobby"),
                seq: 42,
            },
        ),
        (
            "Delete seq u64::MAX",
            C::Delete {
                id: 0,
                room: room("z9"),
                seq: u64::MAX,
            },
        ),
        (
            "Reauth",
            C::Reauth {
                token: "v4.public.eyJzdWIiOiJhbGljZSJ9.c2ln".into(),
            },
        ),
        (
            "Presence",
            C::Presence {
                room: room("lobby"),
            },
        ),
        (
            "PublishOnce text, key 0",
            C::PublishOnce {
                id: 3,
                key: 0,
                room: room("lobby"),
                body: text("once"),
            },
        ),
        (
            "PublishOnce sealed, key u64::MAX, 32-byte room",
            C::PublishOnce {
                id: u32::MAX,
                key: u64::MAX,
                room: room(ROOM32),
                body: Body::Sealed(alloc::vec![0x01; 29]),
            },
        ),
        (
            "PublishOnce key 300 (two-byte varint)",
            C::PublishOnce {
                id: 128,
                key: 300,
                room: room("r.1"),
                body: text("☃"),
            },
        ),
    ]
}
