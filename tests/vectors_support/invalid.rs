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
    let mut v = vec![
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
            "unknown ClientFrame variant 7",
            false,
            &[7],
            "Malformed",
            "ClientFrame has variants 0 to 6",
        ),
        bad(
            "unknown ServerFrame variant 10",
            true,
            &[10],
            "Malformed",
            "ServerFrame has variants 0 to 9",
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
            "unknown ErrorCode variant 8",
            true,
            &[6, 0, 8, 0],
            "Malformed",
            "ErrorCode has variants 0 to 7",
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
    ];
    v.extend(presence());
    v
}

/// A `Members` frame for room "r", `total` 0, with a raw list part.
fn members(list: &[u8]) -> Vec<u8> {
    [&[7, 1, b'r', 0][..], list].concat()
}

fn presence() -> Vec<Invalid> {
    let mut names = vec![0x81, 0x02]; // 257
    for i in 0..257 {
        names.push(4);
        names.extend_from_slice(format!("u{i:03}").as_bytes());
    }
    let mut long_user = vec![8, 1, b'r', 65];
    long_user.extend_from_slice(&[b'a'; 65]);
    let crab = "🦀".as_bytes();
    let fullwidth_a = "\u{ff21}".as_bytes();
    let utf16_order = [&[7, 1, b'r', 0, 2, 4][..], crab, &[3], fullwidth_a].concat();
    vec![
        bad(
            "Members listing 257 names",
            true,
            &members(&names),
            "Malformed",
            "Members lists at most 256 names",
        ),
        bad(
            "Members with names out of byte order",
            true,
            &members(&[2, 1, b'b', 1, b'a']),
            "Malformed",
            "users are in ascending byte order",
        ),
        bad(
            "Members sorted as UTF-16, not as bytes",
            true,
            &utf16_order,
            "Malformed",
            "U+1F980 sorts before U+FF21 in UTF-16, after it in UTF-8 bytes",
        ),
        bad(
            "Members with a repeated name",
            true,
            &members(&[2, 1, b'a', 1, b'a']),
            "Malformed",
            "each user is listed once",
        ),
        bad(
            "Members cut inside the list",
            true,
            &members(&[2, 1, b'a']),
            "Truncated",
            "the list promised 2 names",
        ),
        bad(
            "Members declaring more names than bytes left",
            true,
            &members(&[0xff, 0xff, 0xff, 0xff, 0x0f, 1, b'a']),
            "Truncated",
            "names are read one by one; nothing is sized from the count",
        ),
        bad(
            "MemberJoined with an empty user name",
            true,
            &[8, 1, b'r', 0],
            "Malformed",
            "user names have 1 to 64 bytes",
        ),
        bad(
            "MemberJoined with a user name of 65 bytes",
            true,
            &long_user,
            "Malformed",
            "user names have 1 to 64 bytes",
        ),
        bad(
            "MemberLeft with DEL in the user name",
            true,
            &[9, 1, b'r', 2, b'a', 0x7f],
            "Malformed",
            "user names have no control characters",
        ),
        bad(
            "MemberLeft with U+0085 in the user name",
            true,
            &[9, 1, b'r', 2, 0xc2, 0x85],
            "Malformed",
            "user names have no control characters (C1 included)",
        ),
        bad(
            "Presence with an upper-case room",
            false,
            b"\x05\x01A",
            "Malformed",
            "room names are [a-z0-9._-]",
        ),
        bad(
            "PublishOnce cut inside the key",
            false,
            &[6, 1, 0x80],
            "Truncated",
            "a varint's last byte has the top bit clear",
        ),
        bad(
            "PublishOnce key in eleven bytes",
            false,
            &[
                6, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 1, b'a', 0,
                1, b'x',
            ],
            "Malformed",
            "a u64 varint has at most 10 bytes",
        ),
    ]
}
