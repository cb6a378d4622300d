//! User names and member lists in presence frames (PROTOCOL.md section 8),
//! validated when they are decoded, like [`RoomName`](super::RoomName).
//!
//! A user name is what a token's `sub` (or the host's `device_name`) may
//! be: 1 to 64 bytes of UTF-8 without control characters. It is stored
//! inline (`heapless`), so the server's presence table has a fixed cost per
//! name that the computed memory bound can count, and no per-name
//! allocation. A [`UserList`] is a heap `Vec` (256 inline names would make
//! every `ServerFrame` 17 KB) whose length is checked against
//! [`MAX_LISTED_USERS`] before anything is allocated.

use alloc::vec::Vec;
use core::fmt;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Serialize, Serializer};

use super::name::impl_name;

/// The longest user name, in bytes (the longest `sub` a token may carry).
pub const MAX_USER_LEN: usize = 64;

/// The most names a `Members` frame lists; `total` still counts them all.
pub const MAX_LISTED_USERS: usize = 256;

/// A user name: 1 to 64 bytes, no control characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserName(heapless::String<MAX_USER_LEN>);

/// Why a string is not a user name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserNameError {
    /// The name is empty.
    Empty,
    /// The name is longer than [`MAX_USER_LEN`] bytes.
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// A control character (Unicode category Cc) at this byte offset.
    ControlCharacter {
        /// Where it starts.
        at: usize,
    },
}

impl fmt::Display for UserNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("user name is empty"),
            Self::TooLong { len } => write!(
                f,
                "user name is {len} bytes, at most {MAX_USER_LEN} allowed"
            ),
            Self::ControlCharacter { at } => {
                write!(f, "user name has a control character at {at}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl core::error::Error for UserNameError {}

impl UserName {
    /// Checks `s` and makes a user name of it.
    ///
    /// # Errors
    /// [`UserNameError`] says which rule `s` breaks.
    pub fn new(s: &str) -> Result<Self, UserNameError> {
        if s.is_empty() {
            return Err(UserNameError::Empty);
        }
        if s.len() > MAX_USER_LEN {
            return Err(UserNameError::TooLong { len: s.len() });
        }
        if let Some((at, _)) = s.char_indices().find(|(_, c)| c.is_control()) {
            return Err(UserNameError::ControlCharacter { at });
        }
        let mut name = heapless::String::new();
        // Cannot fail: the length was checked above.
        name.push_str(s)
            .map_err(|_| UserNameError::TooLong { len: s.len() })?;
        Ok(Self(name))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl_name!(
    UserName,
    UserNameError,
    "a user name of 1 to 64 bytes without control characters"
);

/// The names in a `Members` frame: at most [`MAX_LISTED_USERS`], each once,
/// in ascending byte order. The decoder refuses a list that breaks any of
/// the three, so a client can binary-search it or diff two of them.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct UserList(Vec<UserName>);

impl UserList {
    /// The contract's list for a room's users, in any order with repeats:
    /// sorted by byte order, each once, the first [`MAX_LISTED_USERS`].
    pub fn first_of(users: impl IntoIterator<Item = UserName>) -> Self {
        let mut v: Vec<UserName> = users.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        v.truncate(MAX_LISTED_USERS);
        Self(v)
    }

    /// The names, sorted.
    pub fn as_slice(&self) -> &[UserName] {
        &self.0
    }

    /// How many names are listed.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no name is listed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for UserList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.0).finish()
    }
}

impl Serialize for UserList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for name in &self.0 {
            seq.serialize_element(name)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for UserList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = UserList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("at most 256 distinct user names in byte order")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<UserList, A::Error> {
                // postcard hints the declared length only when that many
                // bytes are left (else None): refused before the Vec is
                // sized from it, and the loop never holds more than 256.
                let hint = seq.size_hint().unwrap_or(0);
                if hint > MAX_LISTED_USERS {
                    return Err(de::Error::invalid_length(hint, &self));
                }
                let mut out: Vec<UserName> = Vec::with_capacity(hint);
                while let Some(name) = seq.next_element::<UserName>()? {
                    if out.len() == MAX_LISTED_USERS {
                        return Err(de::Error::invalid_length(out.len() + 1, &self));
                    }
                    if out.last().is_some_and(|prev| *prev >= name) {
                        return Err(de::Error::custom("user names not in ascending order"));
                    }
                    out.push(name);
                }
                Ok(UserList(out))
            }
        }
        deserializer.deserialize_seq(ListVisitor)
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for UserName {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        // Short names from an alphabet with multi-byte characters, cut to
        // the byte limit on a character boundary.
        const CHARS: &[char] = &[
            'a', 'z', '0', '.', ' ', '-', 'é', 'ß', '☃', '🦀', '\u{feff}',
        ];
        let count = u.int_in_range(1..=MAX_USER_LEN)?;
        let mut s = heapless::String::<MAX_USER_LEN>::new();
        for _ in 0..count {
            if s.push(*u.choose(CHARS)?).is_err() {
                break;
            }
        }
        Ok(Self(s))
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for UserList {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let names = u.arbitrary_iter::<UserName>()?;
        let mut v = Vec::new();
        for name in names.take(MAX_LISTED_USERS * 2) {
            v.push(name?);
        }
        Ok(Self::first_of(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{decode_server, server_to_vec, DecodeError, RoomName, ServerFrame};
    use alloc::format;
    use alloc::string::String;
    use alloc::vec;

    #[test]
    fn user_names_follow_the_sub_rules() {
        let longest = "é".repeat(32);
        for ok in ["a", "Zoë 🦀", "\u{feff}eve", longest.as_str()] {
            assert_eq!(UserName::new(ok).unwrap().as_str(), ok);
        }
        assert_eq!(UserName::new(""), Err(UserNameError::Empty));
        assert_eq!(
            UserName::new(&"x".repeat(65)),
            Err(UserNameError::TooLong { len: 65 })
        );
        assert_eq!(
            UserName::new("ab\n"),
            Err(UserNameError::ControlCharacter { at: 2 })
        );
        assert_eq!(
            UserName::new("é\u{85}"),
            Err(UserNameError::ControlCharacter { at: 2 })
        );
    }

    fn user(s: &str) -> UserName {
        UserName::new(s).unwrap()
    }

    #[test]
    fn first_of_sorts_by_bytes_dedups_and_caps() {
        let list = UserList::first_of(["b", "a", "Z", "é", "a"].map(user));
        let got: Vec<&str> = list.as_slice().iter().map(UserName::as_str).collect();
        assert_eq!(got, ["Z", "a", "b", "é"]);
        let many = UserList::first_of((0..300).map(|i| user(&format!("u{i:03}"))));
        assert_eq!(many.len(), MAX_LISTED_USERS);
        assert_eq!(many.as_slice()[255].as_str(), "u255");
    }

    /// A Members frame for room "r" with a hand-written `users` part.
    fn members(count: u64, names: &[&str]) -> Vec<u8> {
        let mut bytes = vec![7, 1, b'r', 0];
        postcard_varint(count, &mut bytes);
        for n in names {
            bytes.push(n.len() as u8);
            bytes.extend_from_slice(n.as_bytes());
        }
        bytes
    }

    fn postcard_varint(mut n: u64, out: &mut Vec<u8>) {
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
    }

    #[test]
    fn decoding_refuses_long_unsorted_or_repeated_lists() {
        let names: Vec<String> = (0..257).map(|i| format!("u{i:03}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let ok = members(256, &refs[..256]);
        assert!(matches!(
            decode_server(&ok),
            Ok(ServerFrame::Members { users, .. }) if users.len() == 256
        ));
        assert_eq!(
            decode_server(&members(257, &refs)),
            Err(DecodeError::Malformed)
        );
        // A declared count beyond the bytes left sizes nothing: the names
        // are read one by one until they run out.
        assert_eq!(
            decode_server(&members(u64::from(u32::MAX), &["a"])),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            decode_server(&members(2, &["b", "a"])),
            Err(DecodeError::Malformed)
        );
        assert_eq!(
            decode_server(&members(2, &["a", "a"])),
            Err(DecodeError::Malformed)
        );
        assert_eq!(
            decode_server(&members(1, &["a\u{7}"])),
            Err(DecodeError::Malformed)
        );
        let frame = ServerFrame::MemberLeft {
            room: RoomName::new("r").unwrap(),
            user: user("Zoë"),
        };
        assert_eq!(decode_server(&server_to_vec(&frame)), Ok(frame));
    }
}
