//! Room names: validated when they are decoded, so a `RoomName` value is
//! always valid and the rest of the server never checks one again.

use core::fmt;

use super::name::impl_name;

/// The longest room name, in bytes.
pub const MAX_ROOM_LEN: usize = 32;

/// A room name: 1 to 32 bytes from `[a-z0-9._-]`, starting with `[a-z0-9]`.
///
/// Stored inline (no heap), so a session's room set and the room table can
/// hold them without allocating per name.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomName(heapless::String<MAX_ROOM_LEN>);

/// Why a string is not a room name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RoomNameError {
    /// The name is empty.
    Empty,
    /// The name is longer than [`MAX_ROOM_LEN`] bytes.
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// A byte outside `[a-z0-9._-]`, or a first byte outside `[a-z0-9]`.
    BadByte {
        /// Where the offending byte is.
        at: usize,
    },
}

impl fmt::Display for RoomNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("room name is empty"),
            Self::TooLong { len } => {
                write!(
                    f,
                    "room name is {len} bytes, at most {MAX_ROOM_LEN} allowed"
                )
            }
            Self::BadByte { at } => write!(
                f,
                "room name has a byte outside [a-z0-9._-] (or a bad first byte) at {at}"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl core::error::Error for RoomNameError {}

impl RoomName {
    /// Checks `s` and makes a room name of it.
    ///
    /// # Errors
    /// [`RoomNameError`] says which rule `s` breaks.
    pub fn new(s: &str) -> Result<Self, RoomNameError> {
        let bytes = s.as_bytes();
        if bytes.is_empty() {
            return Err(RoomNameError::Empty);
        }
        if bytes.len() > MAX_ROOM_LEN {
            return Err(RoomNameError::TooLong { len: bytes.len() });
        }
        for (at, &b) in bytes.iter().enumerate() {
            let ok = b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || (at > 0 && matches!(b, b'.' | b'_' | b'-'));
            if !ok {
                return Err(RoomNameError::BadByte { at });
            }
        }
        let mut name = heapless::String::new();
        // Cannot fail: the length was checked above.
        name.push_str(s)
            .map_err(|_| RoomNameError::TooLong { len: s.len() })?;
        Ok(Self(name))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl_name!(
    RoomName,
    RoomNameError,
    "a room name of 1 to 32 bytes from [a-z0-9._-]"
);

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for RoomName {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        const FIRST: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        const REST: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789._-";
        let len = u.int_in_range(1..=MAX_ROOM_LEN)?;
        let mut s = heapless::String::<MAX_ROOM_LEN>::new();
        for i in 0..len {
            let set = if i == 0 { FIRST } else { REST };
            let b = *u.choose(set)?;
            s.push(char::from(b))
                .map_err(|_| arbitrary::Error::IncorrectFormat)?;
        }
        Ok(Self(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_allowed_alphabet() {
        for ok in ["a", "0", "team-1", "a.b_c-d", "x".repeat(32).as_str()] {
            assert_eq!(RoomName::new(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn refuses_each_rule() {
        assert_eq!(RoomName::new(""), Err(RoomNameError::Empty));
        assert_eq!(
            RoomName::new(&"x".repeat(33)),
            Err(RoomNameError::TooLong { len: 33 })
        );
        assert_eq!(RoomName::new("-a"), Err(RoomNameError::BadByte { at: 0 }));
        assert_eq!(RoomName::new(".a"), Err(RoomNameError::BadByte { at: 0 }));
        assert_eq!(RoomName::new("aB"), Err(RoomNameError::BadByte { at: 1 }));
        assert_eq!(RoomName::new("a b"), Err(RoomNameError::BadByte { at: 1 }));
        assert_eq!(RoomName::new("a*"), Err(RoomNameError::BadByte { at: 1 }));
        assert_eq!(RoomName::new("é"), Err(RoomNameError::BadByte { at: 0 }));
    }
}
