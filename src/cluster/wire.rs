//! What travels between nodes through Redis: the pub/sub payloads the Lua
//! scripts publish, and the stream entries they append. A Message is
//! carried as its frame's bytes after the seq (the "tail": from,
//! sent_at_ms, body), so a node rebuilds the exact frame by putting the
//! variant, the room and the seq in front of it: one copy, no re-encode.
//!
//! Payloads from Redis are checked before use (anyone with access to
//! Redis can write to its channels): a malformed one is dropped with a
//! log line, never delivered.

use async_tungstenite::tungstenite::Bytes;

use crate::protocol::{Body, RoomName};

/// The variant index of `ServerFrame::Message` (protocol section 4).
const MESSAGE_VARIANT: u8 = 3;

/// Who published: this process's instance id and a counter, so the
/// publishing node can match the Message to its waiting Ack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Token(pub(crate) [u8; 16]);

impl Token {
    pub(crate) fn new(instance: u64, n: u64) -> Self {
        let mut t = [0; 16];
        t[..8].copy_from_slice(&instance.to_be_bytes());
        t[8..].copy_from_slice(&n.to_be_bytes());
        Self(t)
    }

    pub(crate) fn instance(&self) -> u64 {
        u64::from_be_bytes(self.0[..8].try_into().unwrap_or_default())
    }
}

/// One pub/sub payload on a room's channel.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Event<'a> {
    Message {
        seq: u64,
        token: Token,
        tail: &'a [u8],
    },
    Deleted {
        seq: u64,
        token: Token,
    },
    /// A user's first session joined (`arrived`) or last one left; `origin`
    /// and `session` name the session that caused it (zero for a purge of
    /// a dead node's entries).
    Member {
        arrived: bool,
        origin: u64,
        session: u64,
        user: &'a str,
    },
}

fn decimal(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 20 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

fn be64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?))
}

impl<'a> Event<'a> {
    pub(crate) fn parse(payload: &'a [u8]) -> Option<Self> {
        let (&kind, rest) = payload.split_first()?;
        match kind {
            b'M' => {
                let token = Token(rest.get(..16)?.try_into().ok()?);
                let rest = &rest[16..];
                let end = rest.iter().position(|&b| b == b'\n')?;
                let seq = decimal(&rest[..end])?;
                let tail = &rest[end + 1..];
                Tail::check(tail)?;
                Some(Self::Message { seq, token, tail })
            }
            b'D' => Some(Self::Deleted {
                token: Token(rest.get(..16)?.try_into().ok()?),
                seq: decimal(&rest[16..])?,
            }),
            b'J' | b'L' => {
                let user = std::str::from_utf8(rest.get(16..)?).ok()?;
                if user.is_empty() {
                    return None;
                }
                Some(Self::Member {
                    arrived: kind == b'J',
                    origin: be64(rest)?,
                    session: be64(&rest[8..])?,
                    user,
                })
            }
            _ => None,
        }
    }
}

/// The Message frame's bytes after its seq.
pub(crate) struct Tail;

impl Tail {
    pub(crate) fn encode(from: &str, sent_at_ms: u64, body: &Body) -> Vec<u8> {
        postcard::to_allocvec(&(from, sent_at_ms, body)).unwrap_or_default()
    }

    /// `Some` when `tail` is exactly one (from, sent_at_ms, body).
    fn check(tail: &[u8]) -> Option<()> {
        let ((_, _, body), rest): ((String, u64, Body), _) =
            postcard::take_from_bytes(tail).ok()?;
        (rest.is_empty() && !body.is_empty()).then_some(())
    }
}

/// The encoded `ServerFrame::Message` for `room`, `seq` and a tail.
pub(crate) fn message_frame(room: &RoomName, seq: u64, tail: &[u8]) -> Bytes {
    let name = room.as_str().as_bytes();
    let mut out = Vec::with_capacity(1 + 1 + name.len() + 10 + tail.len());
    out.push(MESSAGE_VARIANT);
    varint(&mut out, name.len() as u64);
    out.extend_from_slice(name);
    varint(&mut out, seq);
    out.extend_from_slice(tail);
    Bytes::from(out)
}

fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A stream entry `<seq>-0` with fields `t` (token) and `b` (tail).
pub(crate) struct Entry {
    pub(crate) seq: u64,
    pub(crate) token: Token,
    pub(crate) tail: Vec<u8>,
}

impl Entry {
    /// The seq of a stream id `<seq>-0`.
    pub(crate) fn seq_of(id: &str) -> Option<u64> {
        decimal(id.strip_suffix("-0")?.as_bytes())
    }

    pub(crate) fn from_value(value: &redis::Value) -> Option<Self> {
        let redis::Value::Array(parts) = value else {
            return None;
        };
        let [id, redis::Value::Array(fields)] = parts.as_slice() else {
            return None;
        };
        let seq = Self::seq_of(&redis::from_redis_value_ref::<String>(id).ok()?)?;
        let (mut token, mut tail) = (None, None);
        for pair in fields.chunks(2) {
            let [name, value] = pair else { return None };
            let value: Vec<u8> = redis::from_redis_value_ref(value).ok()?;
            match redis::from_redis_value_ref::<String>(name).ok()?.as_str() {
                "t" => token = Some(Token(value.as_slice().try_into().ok()?)),
                "b" => tail = Some(value),
                _ => {}
            }
        }
        let tail = tail?;
        Tail::check(&tail)?;
        Some(Self {
            seq,
            token: token?,
            tail,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{server_to_vec, ServerFrame};

    #[test]
    fn a_rebuilt_frame_is_byte_for_byte_the_encoded_message() {
        let room = RoomName::new("lobby").unwrap();
        let body = Body::Text("hi there".into());
        for seq in [1, 127, 128, 1_800_000_000_000_000, u64::MAX] {
            let tail = Tail::encode("alice", 1_700_000_000_123, &body);
            let expected = server_to_vec(&ServerFrame::Message {
                room: room.clone(),
                seq,
                from: "alice".into(),
                sent_at_ms: 1_700_000_000_123,
                body: body.clone(),
            });
            assert_eq!(
                message_frame(&room, seq, &tail).as_ref(),
                expected.as_slice()
            );
        }
    }

    #[test]
    fn payloads_parse_and_malformed_ones_do_not() {
        let token = Token::new(7, 9);
        let tail = Tail::encode("bob", 5, &Body::Sealed(vec![1, 2, 3]));
        let mut m = b"M".to_vec();
        m.extend_from_slice(&token.0);
        m.extend_from_slice(b"1800000000000001\n");
        m.extend_from_slice(&tail);
        assert_eq!(
            Event::parse(&m),
            Some(Event::Message {
                seq: 1_800_000_000_000_001,
                token,
                tail: &tail
            })
        );
        assert_eq!(token.instance(), 7);
        m.push(0);
        assert_eq!(Event::parse(&m), None, "bytes after the tail");
        let mut d = b"D".to_vec();
        d.extend_from_slice(&token.0);
        assert_eq!(
            Event::parse(&[&d[..], b"42"].concat()),
            Some(Event::Deleted { seq: 42, token })
        );
        assert_eq!(Event::parse(&[&d[..], b"4x"].concat()), None);
        assert_eq!(Event::parse(&d), None);
        assert_eq!(Event::parse(b"D42"), None);
        let mut j = b"J".to_vec();
        j.extend_from_slice(&1u64.to_be_bytes());
        j.extend_from_slice(&2u64.to_be_bytes());
        j.extend_from_slice(b"carol");
        assert_eq!(
            Event::parse(&j),
            Some(Event::Member {
                arrived: true,
                origin: 1,
                session: 2,
                user: "carol"
            })
        );
        assert_eq!(Event::parse(b"X"), None);
        assert_eq!(Entry::seq_of("12-0"), Some(12));
        assert_eq!(Entry::seq_of("12-1"), None);
    }
}
