//! What `tests/vectors.rs` checks: the frames come from the library's one
//! catalogue (`palisade::protocol::examples`, shared with the codec tests
//! and the fuzz seeds), the refused messages from `invalid.rs`; here is the
//! hand-written JSON form of a frame, kept apart so the test file reads as
//! the checks alone.

mod invalid;

pub use invalid::invalid;
pub use palisade::protocol::examples::{frames, lenient, Frame};

use palisade::protocol::{Body, ClientFrame, RoomName, ServerFrame, UserName};
use serde_json::{json, Value};

/// A message every decoder must refuse.
pub struct Invalid {
    pub name: &'static str,
    /// Decoded as a server frame (else as a client frame).
    pub server: bool,
    pub bytes: Vec<u8>,
    /// The `DecodeError` variant name the Rust decoder gives.
    pub error: &'static str,
    pub reason: &'static str,
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn u64s(n: u64) -> Value {
    Value::String(n.to_string())
}

fn body_json(b: &Body) -> Value {
    match b {
        Body::Text(t) => json!({ "type": "Text", "text": t }),
        Body::Sealed(s) => json!({ "type": "Sealed", "hex": hex(s) }),
    }
}

pub fn client_json(f: &ClientFrame) -> Value {
    match f {
        ClientFrame::Join { room, since } => json!({
            "type": "Join", "room": room.as_str(), "since": since.map(u64s),
        }),
        ClientFrame::Leave { room } => json!({ "type": "Leave", "room": room.as_str() }),
        ClientFrame::Publish { id, room, body } => json!({
            "type": "Publish", "id": id, "room": room.as_str(), "body": body_json(body),
        }),
        ClientFrame::Delete { id, room, seq } => json!({
            "type": "Delete", "id": id, "room": room.as_str(), "seq": u64s(*seq),
        }),
        ClientFrame::Reauth { token } => json!({ "type": "Reauth", "token": token }),
        ClientFrame::Presence { room } => json!({ "type": "Presence", "room": room.as_str() }),
        ClientFrame::PublishOnce {
            id,
            key,
            room,
            body,
        } => json!({
            "type": "PublishOnce", "id": id, "key": u64s(*key), "room": room.as_str(),
            "body": body_json(body),
        }),
    }
}

pub fn server_json(f: &ServerFrame) -> Value {
    match f {
        ServerFrame::Welcome {
            session,
            user,
            role,
            expires_at,
            limits,
        } => json!({
            "type": "Welcome",
            "session": u64s(*session),
            "user": user,
            "role": format!("{role:?}"),
            "expires_at": u64s(*expires_at),
            "limits": {
                "max_body": limits.max_body,
                "max_rooms": limits.max_rooms,
                "publish_per_sec": limits.publish_per_sec,
                "history": limits.history,
            },
        }),
        ServerFrame::Joined {
            room,
            first_seq,
            last_seq,
        } => json!({
            "type": "Joined", "room": room.as_str(),
            "first_seq": u64s(*first_seq), "last_seq": u64s(*last_seq),
        }),
        ServerFrame::Left { room } => json!({ "type": "Left", "room": room.as_str() }),
        ServerFrame::Message {
            room,
            seq,
            from,
            sent_at_ms,
            body,
        } => json!({
            "type": "Message", "room": room.as_str(), "seq": u64s(*seq), "from": from,
            "sent_at_ms": u64s(*sent_at_ms), "body": body_json(body),
        }),
        ServerFrame::Ack { id, seq } => json!({ "type": "Ack", "id": id, "seq": u64s(*seq) }),
        ServerFrame::Deleted { room, seq } => json!({
            "type": "Deleted", "room": room.as_str(), "seq": u64s(*seq),
        }),
        ServerFrame::Error { id, code, detail } => json!({
            "type": "Error", "id": id, "code": format!("{code:?}"), "detail": detail,
        }),
        ServerFrame::Members { room, total, users } => json!({
            "type": "Members", "room": room.as_str(), "total": total,
            "users": users.as_slice().iter().map(UserName::as_str).collect::<Vec<_>>(),
        }),
        ServerFrame::MemberJoined { room, user } => member("MemberJoined", room, user),
        ServerFrame::MemberLeft { room, user } => member("MemberLeft", room, user),
    }
}

fn member(kind: &str, room: &RoomName, user: &UserName) -> Value {
    json!({ "type": kind, "room": room.as_str(), "user": user.as_str() })
}
