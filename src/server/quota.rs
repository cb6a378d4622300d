//! Rooms per user: how many distinct rooms one `sub` is in across all of
//! its sessions, bounded by `limits.max_rooms_per_user`.
//!
//! Without it one token with a prefix claim and a few sessions could hold
//! every slot of `max_total_rooms` (issue 15, finding 1): honest joins of
//! new rooms then got `TooManyRooms`, and the table had to evict other
//! users' idle rooms to make space. With it, one user holds at most
//! `max_rooms_per_user` rooms (a quarter of the table by default), and a
//! second session of the same user in a room it already holds costs no
//! quota. Host subscriptions are not counted: the host is the server's
//! own program.

use std::collections::HashMap;
use std::sync::Mutex;

use super::lock::lock;
use crate::protocol::{RoomName, UserName};

/// The user is at `max_rooms_per_user` distinct rooms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OverQuota;

/// Per user, each room they are in with how many of their sessions.
#[derive(Debug)]
pub(crate) struct RoomQuota {
    max: usize,
    users: Mutex<HashMap<UserName, HashMap<RoomName, u32>>>,
}

impl RoomQuota {
    /// A quota of `max` distinct rooms per user.
    pub(crate) fn new(max: u32) -> Self {
        Self {
            max: max as usize,
            users: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one more session of `user` in `room`, unless that would be
    /// a room beyond the user's quota.
    pub(crate) fn take(&self, user: &UserName, room: &RoomName) -> Result<(), OverQuota> {
        let mut users = lock(&self.users);
        let rooms = users.entry(user.clone()).or_default();
        if let Some(sessions) = rooms.get_mut(room) {
            *sessions += 1;
            return Ok(());
        }
        if rooms.len() >= self.max {
            if rooms.is_empty() {
                users.remove(user);
            }
            return Err(OverQuota);
        }
        rooms.insert(room.clone(), 1);
        Ok(())
    }

    /// Gives back what [`RoomQuota::take`] counted.
    pub(crate) fn give_back(&self, user: &UserName, room: &RoomName) {
        let mut users = lock(&self.users);
        let Some(rooms) = users.get_mut(user) else {
            return;
        };
        if let Some(sessions) = rooms.get_mut(room) {
            *sessions -= 1;
            if *sessions == 0 {
                rooms.remove(room);
            }
        }
        if rooms.is_empty() {
            users.remove(user);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(s: &str) -> RoomName {
        RoomName::new(s).unwrap()
    }

    #[test]
    fn counts_distinct_rooms_per_user_across_sessions() {
        let q = RoomQuota::new(2);
        let (ann, bob) = (UserName::new("ann").unwrap(), UserName::new("bob").unwrap());
        assert_eq!(q.take(&ann, &room("a")), Ok(()));
        assert_eq!(q.take(&ann, &room("a")), Ok(()), "a second session");
        assert_eq!(q.take(&ann, &room("b")), Ok(()));
        assert_eq!(q.take(&ann, &room("c")), Err(OverQuota));
        assert_eq!(q.take(&bob, &room("c")), Ok(()), "bob has his own quota");
        q.give_back(&ann, &room("a"));
        assert_eq!(q.take(&ann, &room("c")), Err(OverQuota), "a is still held");
        q.give_back(&ann, &room("a"));
        assert_eq!(q.take(&ann, &room("c")), Ok(()));
        for r in ["b", "c"] {
            q.give_back(&ann, &room(r));
        }
        q.give_back(&bob, &room("c"));
        assert!(lock(&q.users).is_empty(), "nothing left behind");
    }
}
