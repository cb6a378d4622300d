//! Names of every Redis key and channel a room uses, all under the
//! configured prefix. Room names are `[a-z0-9._-]`, so no name can reach
//! into another's keys, and the `:` separator never occurs inside one.

use crate::protocol::RoomName;

/// The names for one deployment (one prefix).
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    pub(crate) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    fn key(&self, kind: &str, room: &RoomName) -> String {
        format!("{}:{kind}:{}", self.prefix, room.as_str())
    }

    /// Hash: `seq`, the room's last issued seq.
    pub(crate) fn meta(&self, room: &RoomName) -> String {
        self.key("room", room)
    }

    /// Stream: the retained Messages, entry id `<seq>-0`.
    pub(crate) fn stream(&self, room: &RoomName) -> String {
        self.key("history", room)
    }

    /// Hash: PublishOnce field -> the seq it produced.
    pub(crate) fn once(&self, room: &RoomName) -> String {
        self.key("once", room)
    }

    /// Sorted set: PublishOnce fields by seq, to forget the old ones.
    pub(crate) fn once_order(&self, room: &RoomName) -> String {
        self.key("once-order", room)
    }

    /// The four presence keys (entries, expiry, counts, users).
    pub(crate) fn presence(&self, room: &RoomName) -> [String; 4] {
        [
            self.key("presence", room),
            self.key("presence-expiry", room),
            self.key("presence-count", room),
            self.key("presence-users", room),
        ]
    }

    /// The pub/sub channel every node of the room listens on.
    pub(crate) fn channel(&self, room: &RoomName) -> String {
        self.key("channel", room)
    }

    /// The room a channel name belongs to, if it is one of ours.
    pub(crate) fn room_of(&self, channel: &str) -> Option<RoomName> {
        let rest = channel
            .strip_prefix(&self.prefix)?
            .strip_prefix(":channel:")?;
        RoomName::new(rest).ok()
    }

    /// The PublishOnce field of `key` from `sub`: length-prefixed, so no
    /// two (sub, key) pairs share a field whatever the sub contains.
    pub(crate) fn once_field(sub: &str, key: u64) -> String {
        format!("{}:{sub}:{key}", sub.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_map_back_to_their_room() {
        let keys = Keys::new("p1");
        let room = RoomName::new("lobby.main").unwrap();
        assert_eq!(keys.room_of(&keys.channel(&room)), Some(room.clone()));
        assert_eq!(keys.room_of("p2:channel:lobby"), None);
        assert_eq!(keys.room_of("p1:history:lobby"), None);
        assert_ne!(Keys::once_field("a:1", 2), Keys::once_field("a", 12));
    }
}
