//! The one catalogue of example frames: every variant of every enum,
//! `Option` both ways, varints of 1 to 10 bytes, a 32-byte room, text and
//! names beyond ASCII, a 256-name member list.
//!
//! Three consumers read it, so they can never drift apart: the codec's unit
//! tests (every example round-trips), the fuzz seed corpus (each example's
//! bytes are a `client_frame` seed) and the shared vectors
//! (`tests/vectors.rs` writes `tests/vectors/frames.json`, which the browser
//! codec is checked against). It is public only because integration tests
//! and the fuzz crate are other crates; not part of the API, hidden from
//! the docs. Adding a frame variant means adding its examples here.

use alloc::vec::Vec;

use super::{Body, ClientFrame, Limits, RoomName, ServerFrame, UserName};

mod client;
mod server;

pub use client::client;
pub use server::server;

/// A frame of either direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Client to server.
    Client(ClientFrame),
    /// Server to client.
    Server(ServerFrame),
}

/// Every example, client frames first, each with a name that says what it
/// exercises (names are unique: they become vector names and seed files).
pub fn frames() -> Vec<(&'static str, Frame)> {
    let clients = client().into_iter().map(|(n, f)| (n, Frame::Client(f)));
    let servers = server().into_iter().map(|(n, f)| (n, Frame::Server(f)));
    clients.chain(servers).collect()
}

/// Encodings postcard accepts that it would never produce: varints padded
/// with 0x80 continuation bytes. Every decoder must agree on them too.
pub fn lenient() -> Vec<(&'static str, Vec<u8>, Frame)> {
    alloc::vec![
        (
            "Ack id 1 as a two-byte varint",
            alloc::vec![4, 0x81, 0x00, 2],
            Frame::Server(ServerFrame::Ack { id: 1, seq: 2 }),
        ),
        (
            "Leave with variant index 1 as a two-byte varint",
            alloc::vec![0x81, 0x00, 1, b'a'],
            Frame::Client(ClientFrame::Leave { room: room("a") }),
        ),
    ]
}

/// A 32-byte room name using every allowed kind of byte.
pub const ROOM32: &str = "team-0123456789.abcdefghij_klmno";

// The catalogue is written by hand and checked by the tests that read it:
// an invalid literal here is a bug in this file, found on the first run.
#[allow(clippy::expect_used)]
fn room(s: &str) -> RoomName {
    RoomName::new(s).expect("example room names are valid")
}

#[allow(clippy::expect_used)]
fn user(s: &str) -> UserName {
    UserName::new(s).expect("example user names are valid")
}

fn text(s: &str) -> Body {
    Body::Text(s.into())
}

fn limits() -> Limits {
    Limits {
        max_body: 4096,
        max_rooms: 16,
        publish_per_sec: 10,
        history: 100,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{client_to_vec, decode_client, decode_server, server_to_vec};

    #[test]
    fn every_example_round_trips_and_names_are_unique() {
        let all = frames();
        for (name, frame) in &all {
            match frame {
                Frame::Client(f) => assert_eq!(decode_client(&client_to_vec(f)).as_ref(), Ok(f)),
                Frame::Server(f) => assert_eq!(decode_server(&server_to_vec(f)).as_ref(), Ok(f)),
            }
            assert_eq!(all.iter().filter(|(n, _)| n == name).count(), 1, "{name}");
        }
        for (name, bytes, frame) in lenient() {
            let got = match frame {
                Frame::Client(f) => decode_client(&bytes) == Ok(f),
                Frame::Server(f) => decode_server(&bytes) == Ok(f),
            };
            assert!(got, "{name}");
        }
    }

    #[test]
    fn every_variant_has_an_example() {
        // The index is the first byte of every example here (all < 128).
        let mut client = [false; 7];
        let mut server = [false; 10];
        let mut codes = [false; 8];
        for (_, frame) in frames() {
            match frame {
                Frame::Client(f) => client[usize::from(client_to_vec(&f)[0])] = true,
                Frame::Server(f) => {
                    if let ServerFrame::Error { code, .. } = f {
                        codes[code as usize] = true;
                    }
                    server[usize::from(server_to_vec(&f)[0])] = true;
                }
            }
        }
        assert_eq!(client, [true; 7]);
        assert_eq!(server, [true; 10]);
        assert_eq!(codes, [true; 8]);
    }
}
