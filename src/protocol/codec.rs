//! Bytes to frames and back: the one place a WebSocket message is decoded.
//!
//! Decoding works on a borrowed slice whose size the WebSocket layer has
//! already capped at `max_message_bytes`; postcard checks every declared
//! length against the bytes that remain before it allocates, so a huge
//! length prefix costs nothing.

use alloc::vec::Vec;
use core::fmt;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{ClientFrame, ServerFrame};

/// Why bytes are not exactly one valid frame. Every variant closes the
/// connection with 1007.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// Not `#[non_exhaustive]`: the vectors test matches it exhaustively so a
// new error cannot ship without its test vector name.
pub enum DecodeError {
    /// The message has no bytes.
    Empty,
    /// The bytes end in the middle of a frame.
    Truncated,
    /// An unknown variant index, a bad varint, invalid UTF-8, an invalid
    /// room name or another value the frame types do not allow.
    Malformed,
    /// A valid frame followed by bytes that belong to none.
    TrailingBytes {
        /// How many bytes were left over.
        extra: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("empty message"),
            Self::Truncated => f.write_str("message ends inside a frame"),
            Self::Malformed => f.write_str("message is not a valid frame"),
            Self::TrailingBytes { extra } => {
                write!(f, "{extra} bytes left over after the frame")
            }
        }
    }
}

#[cfg(feature = "std")]
impl core::error::Error for DecodeError {}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    match postcard::take_from_bytes::<T>(bytes) {
        Ok((frame, [])) => Ok(frame),
        Ok((_, rest)) => Err(DecodeError::TrailingBytes { extra: rest.len() }),
        Err(postcard::Error::DeserializeUnexpectedEnd) => Err(DecodeError::Truncated),
        Err(_) => Err(DecodeError::Malformed),
    }
}

fn encode<T: Serialize>(frame: &T, out: &mut Vec<u8>) {
    // Serializing these types into a growable Vec cannot fail: every field
    // is a plain value postcard supports, and the sink never runs out.
    if let Ok(bytes) = postcard::to_extend(frame, core::mem::take(out)) {
        *out = bytes;
    }
}

/// Decodes one client frame that must fill `bytes` exactly.
///
/// # Errors
/// [`DecodeError`]: the caller closes the connection with 1007.
pub fn decode_client(bytes: &[u8]) -> Result<ClientFrame, DecodeError> {
    decode(bytes)
}

/// Decodes one server frame that must fill `bytes` exactly (the client side).
///
/// # Errors
/// [`DecodeError`] when the bytes are not exactly one valid frame.
pub fn decode_server(bytes: &[u8]) -> Result<ServerFrame, DecodeError> {
    decode(bytes)
}

/// Appends the encoding of a server frame to `out`.
pub fn encode_server(frame: &ServerFrame, out: &mut Vec<u8>) {
    encode(frame, out);
}

/// Appends the encoding of a client frame to `out`.
pub fn encode_client(frame: &ClientFrame, out: &mut Vec<u8>) {
    encode(frame, out);
}

/// Encodes a server frame into a new buffer.
pub fn server_to_vec(frame: &ServerFrame) -> Vec<u8> {
    let mut out = Vec::new();
    encode_server(frame, &mut out);
    out
}

/// Encodes a client frame into a new buffer.
pub fn client_to_vec(frame: &ClientFrame) -> Vec<u8> {
    let mut out = Vec::new();
    encode_client(frame, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::examples::Frame;
    use crate::protocol::{Body, RoomName};
    use alloc::string::ToString;
    use alloc::vec;

    fn room(s: &str) -> RoomName {
        RoomName::new(s).unwrap()
    }

    #[test]
    fn join_bytes_match_the_contract() {
        let f = ClientFrame::Join {
            room: room("lobby"),
            since: Some(300),
        };
        let bytes = client_to_vec(&f);
        // variant 0, len 5, "lobby", Some, varint 300 = 0xac 0x02
        assert_eq!(bytes, b"\x00\x05lobby\x01\xac\x02");
        assert_eq!(decode_client(&bytes), Ok(f));
    }

    #[test]
    fn publish_sealed_is_length_prefixed_bytes() {
        let f = ClientFrame::Publish {
            id: 7,
            room: room("a"),
            body: Body::Sealed(vec![1, 2, 3]),
        };
        let bytes = client_to_vec(&f);
        assert_eq!(bytes, [2, 7, 1, b'a', 1, 3, 1, 2, 3]);
        assert_eq!(decode_client(&bytes), Ok(f));
    }

    #[test]
    fn every_example_frame_round_trips() {
        // The shared catalogue (also the vectors and the fuzz seeds).
        for (name, frame) in crate::protocol::examples::frames() {
            match frame {
                Frame::Client(f) => assert_eq!(decode_client(&client_to_vec(&f)), Ok(f), "{name}"),
                Frame::Server(f) => assert_eq!(decode_server(&server_to_vec(&f)), Ok(f), "{name}"),
            }
        }
    }

    #[test]
    fn malformed_input_is_refused_with_the_right_error() {
        assert_eq!(decode_client(b""), Err(DecodeError::Empty));
        // Unknown variants.
        assert_eq!(decode_client(&[7]), Err(DecodeError::Malformed));
        assert_eq!(decode_server(&[10]), Err(DecodeError::Malformed));
        assert_eq!(decode_client(&[0xff, 0xff]), Err(DecodeError::Truncated));
        // Leave with a room name that breaks the alphabet.
        assert_eq!(decode_client(b"\x01\x01A"), Err(DecodeError::Malformed));
        // Room name of 33 bytes.
        let mut long = vec![1u8, 33];
        long.extend_from_slice(&[b'a'; 33]);
        assert_eq!(decode_client(&long), Err(DecodeError::Malformed));
        // Length prefix far beyond the message: refused, nothing allocated.
        assert_eq!(
            decode_client(&[4, 0xff, 0xff, 0xff, 0xff, 0x0f]),
            Err(DecodeError::Truncated)
        );
        // Truncated in the middle of the name.
        assert_eq!(decode_client(b"\x01\x05lob"), Err(DecodeError::Truncated));
        // Trailing byte.
        assert_eq!(
            decode_client(b"\x01\x01a\x00"),
            Err(DecodeError::TrailingBytes { extra: 1 })
        );
        // Invalid UTF-8 in text.
        assert_eq!(
            decode_client(&[2, 1, 1, b'a', 0, 1, 0xff]),
            Err(DecodeError::Malformed)
        );
        // Option tag other than 0 or 1.
        assert_eq!(decode_client(b"\x00\x01a\x02"), Err(DecodeError::Malformed));
        // Overlong varint for u32 id.
        assert_eq!(
            decode_client(&[2, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1, b'a', 0, 1, b'x']),
            Err(DecodeError::Malformed)
        );
    }

    #[test]
    fn overlong_varints_decode_so_an_encoding_is_not_unique() {
        // postcard accepts zero continuation bytes within a varint's width
        // (0x80 0x00 is 0), here in the variant index. Nothing depends on
        // unique encodings, so the fuzz round trip compares frames, not bytes;
        // the encoder always writes the shortest form.
        let f = ClientFrame::Join {
            room: room("lobby"),
            since: None,
        };
        assert_eq!(decode_client(b"\x80\x00\x05lobby\x00"), Ok(f.clone()));
        assert_eq!(client_to_vec(&f), b"\x00\x05lobby\x00");
    }

    #[test]
    fn body_rules() {
        assert_eq!(
            Body::Text(String::new()).validate(10),
            Err(BodyError::Empty)
        );
        assert_eq!(
            Body::Text("a\u{7}".to_string()).validate(10),
            Err(BodyError::ControlCharacter)
        );
        assert_eq!(
            Body::Text("a\u{85}".to_string()).validate(10),
            Err(BodyError::ControlCharacter)
        );
        assert_eq!(Body::Text("a\n\tb".to_string()).validate(10), Ok(()));
        assert_eq!(
            Body::Sealed(vec![0; 11]).validate(10),
            Err(BodyError::TooLarge { size: 11, max: 10 })
        );
        assert_eq!(Body::Sealed(vec![]).validate(10), Err(BodyError::Empty));
    }

    use crate::protocol::BodyError;
    use alloc::string::String;
}
