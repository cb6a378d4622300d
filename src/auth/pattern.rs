//! Room patterns from the `rooms` claim (PROTOCOL.md section 3): which rooms
//! a token lets its holder join.
//!
//! A pattern is checked once, when the token is verified, so a session holds
//! only valid patterns and `allows` is a plain comparison per pattern.

use core::fmt;

use crate::protocol::{RoomName, MAX_ROOM_LEN};

/// The most patterns one token may carry; keeps the per-join check short.
pub const MAX_PATTERNS: usize = 64;

/// The longest prefix before `*`: a room name is at most [`MAX_ROOM_LEN`]
/// bytes, and a prefix that long could only ever match itself.
pub const MAX_PREFIX_LEN: usize = MAX_ROOM_LEN - 1;

/// One entry of the `rooms` claim.
#[derive(Clone, PartialEq, Eq)]
pub enum RoomPattern {
    /// Exactly this room.
    Exact(RoomName),
    /// Every room whose name starts with this prefix (the pattern without
    /// its trailing `*`). An empty prefix (`"*"`) means every room. The
    /// prefix is a valid room name start, so `"team-*"` also matches the
    /// room `team-` itself: `*` stands for zero or more bytes.
    Prefix(heapless::String<MAX_PREFIX_LEN>),
}

/// Why a string is not a room pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PatternError {
    /// Neither a room name nor a valid prefix followed by `*`.
    Invalid,
    /// More than [`MAX_PATTERNS`] patterns.
    TooMany,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid => f.write_str(
                "room pattern is neither a room name nor a prefix of [a-z0-9._-] ending in *",
            ),
            Self::TooMany => write!(f, "more than {MAX_PATTERNS} room patterns"),
        }
    }
}

impl std::error::Error for PatternError {}

impl RoomPattern {
    /// Parses one pattern: a room name, a prefix ending in `*`, or `"*"`.
    ///
    /// # Errors
    /// [`PatternError::Invalid`] for anything else, including a `*` that is
    /// not the last byte.
    pub fn parse(s: &str) -> Result<Self, PatternError> {
        let Some(prefix) = s.strip_suffix('*') else {
            return RoomName::new(s)
                .map(Self::Exact)
                .map_err(|_| PatternError::Invalid);
        };
        let ok = prefix.bytes().enumerate().all(|(at, b)| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || (at > 0 && matches!(b, b'.' | b'_' | b'-'))
        });
        if !ok {
            return Err(PatternError::Invalid);
        }
        let mut stored = heapless::String::new();
        // Fails exactly when the prefix is longer than MAX_PREFIX_LEN.
        stored.push_str(prefix).map_err(|_| PatternError::Invalid)?;
        Ok(Self::Prefix(stored))
    }

    /// Whether this pattern lets its holder join `room`.
    pub fn matches(&self, room: &RoomName) -> bool {
        match self {
            Self::Exact(name) => name == room,
            Self::Prefix(prefix) => room.as_str().starts_with(prefix.as_str()),
        }
    }
}

impl fmt::Display for RoomPattern {
    /// The pattern as it appears in the claim.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(name) => f.write_str(name.as_str()),
            Self::Prefix(prefix) => write!(f, "{prefix}*"),
        }
    }
}

impl fmt::Debug for RoomPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// The rooms a token allows: at most [`MAX_PATTERNS`] valid patterns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoomPatterns(Vec<RoomPattern>);

impl RoomPatterns {
    /// Parses every pattern; one bad pattern rejects the whole list, so a
    /// typo in a token never silently narrows or widens what it grants.
    ///
    /// # Errors
    /// [`PatternError::TooMany`] past [`MAX_PATTERNS`] (checked before any
    /// parsing), otherwise [`PatternError::Invalid`].
    pub fn parse<'a, I>(patterns: I) -> Result<Self, PatternError>
    where
        I: IntoIterator<Item = &'a str>,
    {
        let mut out = Vec::new();
        for p in patterns {
            if out.len() == MAX_PATTERNS {
                return Err(PatternError::TooMany);
            }
            out.push(RoomPattern::parse(p)?);
        }
        // Held by every session for its life: no spare slots.
        out.shrink_to_fit();
        Ok(Self(out))
    }

    /// Whether any pattern lets its holder join `room`.
    pub fn allows(&self, room: &RoomName) -> bool {
        self.0.iter().any(|p| p.matches(room))
    }

    /// The patterns, in claim order.
    pub fn as_slice(&self) -> &[RoomPattern] {
        &self.0
    }

    /// How many patterns there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none (such a token allows no room at all).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(s: &str) -> RoomName {
        RoomName::new(s).unwrap()
    }

    #[test]
    fn exact_matches_only_itself() {
        let p = RoomPattern::parse("lobby").unwrap();
        assert_eq!(p, RoomPattern::Exact(room("lobby")));
        assert!(p.matches(&room("lobby")));
        assert!(!p.matches(&room("lobby2")));
        assert!(!p.matches(&room("lobb")));
    }

    #[test]
    fn prefix_matches_names_that_start_with_it() {
        let p = RoomPattern::parse("team-*").unwrap();
        assert!(p.matches(&room("team-a")));
        assert!(p.matches(&room("team-")));
        assert!(!p.matches(&room("team")));
        assert!(!p.matches(&room("teams")));
        assert_eq!(p.to_string(), "team-*");
    }

    #[test]
    fn star_alone_matches_every_room() {
        let p = RoomPattern::parse("*").unwrap();
        assert!(p.matches(&room("a")));
        assert!(p.matches(&room(&"z".repeat(32))));
        assert_eq!(p.to_string(), "*");
    }

    #[test]
    fn prefix_length_limit() {
        assert!(RoomPattern::parse(&format!("{}*", "a".repeat(31))).is_ok());
        assert_eq!(
            RoomPattern::parse(&format!("{}*", "a".repeat(32))),
            Err(PatternError::Invalid)
        );
    }

    #[test]
    fn invalid_patterns() {
        for bad in [
            "",
            "**",
            "a*b",
            "*a",
            "-*",
            ".x",
            "Team",
            "team-**",
            "te am",
            "é*",
            "_*",
            "a/b",
            "a\u{0}",
            &"a".repeat(33),
        ] {
            assert_eq!(
                RoomPattern::parse(bad),
                Err(PatternError::Invalid),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn list_allows_if_any_pattern_does() {
        let ps = RoomPatterns::parse(["lobby", "team-*"]).unwrap();
        assert_eq!(ps.len(), 2);
        assert!(ps.allows(&room("lobby")));
        assert!(ps.allows(&room("team-x")));
        assert!(!ps.allows(&room("other")));
        assert!(!RoomPatterns::default().allows(&room("lobby")));
    }

    #[test]
    fn list_limits() {
        let ok: Vec<String> = (0..64).map(|i| format!("r{i}")).collect();
        assert_eq!(
            RoomPatterns::parse(ok.iter().map(String::as_str))
                .unwrap()
                .len(),
            64
        );
        let too_many: Vec<String> = (0..65).map(|i| format!("r{i}")).collect();
        assert_eq!(
            RoomPatterns::parse(too_many.iter().map(String::as_str)),
            Err(PatternError::TooMany)
        );
        assert_eq!(
            RoomPatterns::parse(["lobby", "BAD"]),
            Err(PatternError::Invalid)
        );
    }
}
