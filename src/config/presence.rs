//! `[presence]`: which rooms send `MemberJoined` / `MemberLeft`
//! (PROTOCOL.md section 8). Counts and `Members` answers are always on;
//! only the events are chosen here, because their cost grows with the
//! square of a room's size (every arrival is told to every member).

use serde::Deserialize;

use super::Invalid;
use crate::auth::{RoomPattern, RoomPatterns};

/// `[presence]` in the config file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PresenceConfig {
    /// Room patterns (the `rooms` claim's syntax: a name, a prefix ending
    /// in `*`, or `*`) whose rooms send events. Default `["*"]`; `[]`
    /// sends none.
    pub events: Vec<String>,
    /// A room with more distinct users than this (counting the one who
    /// arrives or leaves) sends no events. Default 100: one arrival then
    /// costs at most 99 small frames.
    pub events_max_members: u32,
}

impl Default for PresenceConfig {
    fn default() -> Self {
        Self {
            events: vec!["*".to_owned()],
            events_max_members: 100,
        }
    }
}

impl PresenceConfig {
    /// The parsed `events` patterns.
    ///
    /// # Errors
    /// `presence.events` and the first bad pattern.
    pub fn patterns(&self) -> Result<RoomPatterns, Invalid> {
        if let Some(bad) = self.events.iter().find(|p| RoomPattern::parse(p).is_err()) {
            return Err(Invalid::field(
                "presence.events:",
                format!("{bad:?} is not a room pattern (a room name, a prefix ending in *, or *)"),
            ));
        }
        RoomPatterns::parse(self.events.iter().map(String::as_str))
            .map_err(|e| Invalid::field("presence.events:", e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::RoomName;

    #[test]
    fn defaults_select_every_room() {
        let c = PresenceConfig::default();
        assert_eq!(c.events_max_members, 100);
        assert!(c.patterns().unwrap().allows(&RoomName::new("any").unwrap()));
    }

    #[test]
    fn a_bad_pattern_is_named() {
        let c = PresenceConfig {
            events: vec!["team-*".into(), "Bad*".into()],
            ..PresenceConfig::default()
        };
        assert_eq!(
            c.patterns().unwrap_err().to_string(),
            "presence.events: \"Bad*\" is not a room pattern (a room name, a prefix ending in *, or *)"
        );
        let many = PresenceConfig {
            events: (0..65).map(|i| format!("r{i}")).collect(),
            ..PresenceConfig::default()
        };
        assert_eq!(
            many.patterns().unwrap_err().to_string(),
            "presence.events: more than 64 room patterns"
        );
    }
}
