//! Messages every decoder must refuse, with the `DecodeError` kind the
//! Rust decoder gives and a reason a reader can check by hand.

use super::Invalid;

fn bad(
    name: &'static str,
    server: bool,
    bytes: &[u8],
    error: &'static str,
    reason: &'static str,
) -> Invalid {
    Invalid {
        name,
        server,
        bytes: bytes.to_vec(),
        error,
        reason,
    }
}

pub fn invalid() -> Vec<Invalid> {
    let mut long_room = vec![1u8, 33];
    long_room.extend_from_slice(&[b'a'; 33]);
    vec![
        bad(
            "empty client message",
            false,
            b"",
            "Empty",
            "a message must hold one frame",
        ),
        bad(
            "empty server message",
            true,
            b"",
            "Empty",
            "a message must hold one frame",
        ),
        bad(
            "Leave with a trailing byte",
            false,
            b"\x01\x01a\x00",
            "TrailingBytes",
            "bytes left over after the frame",
        ),
        bad(
            "Ack with a trailing byte",
            true,
            &[4, 1, 2, 0],
            "TrailingBytes",
            "bytes left over after the frame",
        ),
        bad(
            "room with an upper-case letter",
            false,
            b"\x01\x01A",
            "Malformed",
            "room names are [a-z0-9._-]",
        ),
        bad(
            "room starting with a dash",
            false,
            b"\x01\x02-a",
            "Malformed",
            "room names start with [a-z0-9]",
        ),
        bad(
            "empty room",
            false,
            b"\x01\x00",
            "Malformed",
            "room names have 1 to 32 bytes",
        ),
        bad(
            "room of 33 bytes",
            false,
            &long_room,
            "Malformed",
            "room names have 1 to 32 bytes",
        ),
        bad(
            "room with a space in Joined",
            true,
            b"\x01\x03a b\x00\x00",
            "Malformed",
            "room names are [a-z0-9._-]",
        ),
        bad(
            "room with invalid UTF-8",
            false,
            b"\x01\x01\xff",
            "Malformed",
            "strings are UTF-8",
        ),
        bad(
            "unknown ClientFrame variant 5",
            false,
            &[5],
            "Malformed",
            "ClientFrame has variants 0 to 4",
        ),
        bad(
            "unknown ServerFrame variant 7",
            true,
            &[7],
            "Malformed",
            "ServerFrame has variants 0 to 6",
        ),
        bad(
            "unknown Body variant 2",
            false,
            &[2, 1, 1, b'a', 2, 1, b'x'],
            "Malformed",
            "Body has variants 0 and 1",
        ),
        bad(
            "unknown Role variant 3",
            true,
            &[0, 1, 1, b'u', 3, 0, 0, 0, 0, 0],
            "Malformed",
            "Role has variants 0 to 2",
        ),
        bad(
            "unknown ErrorCode variant 7",
            true,
            &[6, 0, 7, 0],
            "Malformed",
            "ErrorCode has variants 0 to 6",
        ),
        bad(
            "Option tag 2",
            false,
            b"\x00\x01a\x02",
            "Malformed",
            "an Option is 0x00 or 0x01 then the value",
        ),
        bad(
            "text with invalid UTF-8",
            false,
            &[2, 1, 1, b'a', 0, 1, 0xff],
            "Malformed",
            "strings are UTF-8",
        ),
        bad(
            "user name with a lone continuation byte",
            true,
            &[0, 1, 1, 0x80, 0, 0, 0, 0, 0, 0],
            "Malformed",
            "strings are UTF-8",
        ),
        bad(
            "Leave cut inside the room name",
            false,
            b"\x01\x05lob",
            "Truncated",
            "the name promised 5 bytes",
        ),
        bad(
            "Join without its Option",
            false,
            b"\x00\x01a",
            "Truncated",
            "since is missing",
        ),
        bad(
            "Ack cut inside a varint",
            true,
            &[4, 0x80],
            "Truncated",
            "a varint's last byte has the top bit clear",
        ),
        bad(
            "Message cut inside the body",
            true,
            b"\x03\x01a\x01\x01b\x01\x00\x05hel",
            "Truncated",
            "the text promised 5 bytes",
        ),
        bad(
            "length prefix far beyond the message",
            false,
            &[4, 0xff, 0xff, 0xff, 0xff, 0x0f],
            "Truncated",
            "a length is checked against the bytes left, nothing is allocated",
        ),
        bad(
            "u32 id in six bytes",
            false,
            &[2, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1, b'a', 0, 1, b'x'],
            "Malformed",
            "a u32 varint has at most 5 bytes",
        ),
        bad(
            "u32 id above u32::MAX in five bytes",
            true,
            &[4, 0x80, 0x80, 0x80, 0x80, 0x10, 1],
            "Malformed",
            "the 5th byte of a u32 varint is at most 0x0f",
        ),
        bad(
            "u64 seq in eleven bytes",
            true,
            &[
                4, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00,
            ],
            "Malformed",
            "a u64 varint has at most 10 bytes",
        ),
        bad(
            "u64 seq of 2^64",
            true,
            &[
                4, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02,
            ],
            "Malformed",
            "the 10th byte of a u64 varint is at most 0x01",
        ),
        bad(
            "u16 max_rooms of 65536",
            true,
            &[0, 1, 1, b'u', 0, 0, 0, 0x80, 0x80, 0x04, 0, 0],
            "Malformed",
            "the 3rd byte of a u16 varint is at most 0x03",
        ),
        bad(
            "variant index in six bytes",
            false,
            &[0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
            "Malformed",
            "a variant index is a u32 varint",
        ),
    ]
}
