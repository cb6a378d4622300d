//! Presence kept in this process: room → user → sessions.
//!
//! One lock guards the table, and an event is routed while it is held:
//! that is what keeps a user's `MemberJoined` ahead of the `MemberLeft`
//! that follows it when the two come from different sessions on
//! different threads. Routing under it costs at most `events_max_members`
//! queue pushes (none in a larger room). Lock order: this table, then the
//! room table's locks (which never call back into presence).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use super::{Announce, Change, Counting, Engine, Listing, Member, Policy, Route};
use crate::protocol::{RoomName, UserList, UserName, MAX_LISTED_USERS};
use crate::server::lock::lock;

/// A room's users, in byte order (so the first 256 are the first 256
/// entries), each with how many of their sessions are in the room.
type Users = BTreeMap<UserName, u32>;

/// The in-process engine.
#[derive(Debug, Default)]
pub(crate) struct Local {
    rooms: Mutex<HashMap<RoomName, Users>>,
}

impl Local {
    fn count_in(&self, who: Member<'_>, policy: &Policy, route: &dyn Route) -> Announce {
        let mut rooms = lock(&self.rooms);
        let users = rooms.entry(who.room.clone()).or_default();
        let sessions = users.entry(who.user.clone()).or_insert(0);
        *sessions += 1;
        if *sessions > 1 {
            return Announce::Quiet;
        }
        let count = users.len();
        policy.announce(Change::Joined, who, count, route)
    }

    fn list(&self, room: &RoomName) -> (u32, UserList) {
        let rooms = lock(&self.rooms);
        let Some(users) = rooms.get(room) else {
            return (0, UserList::default());
        };
        let total = u32::try_from(users.len()).unwrap_or(u32::MAX);
        let first = users.keys().take(MAX_LISTED_USERS).cloned();
        (total, UserList::first_of(first))
    }
}

impl Engine for Local {
    fn join<'a>(
        &'a self,
        who: Member<'a>,
        policy: &'a Policy,
        route: &'a (dyn Route + Sync),
    ) -> Counting<'a> {
        Box::pin(std::future::ready(self.count_in(who, policy, route)))
    }

    fn leave(&self, who: Member<'_>, policy: &Policy, route: &dyn Route) -> Announce {
        let mut rooms = lock(&self.rooms);
        let Some(users) = rooms.get_mut(who.room) else {
            return Announce::Quiet;
        };
        let Some(sessions) = users.get_mut(who.user) else {
            return Announce::Quiet;
        };
        *sessions -= 1;
        if *sessions > 0 {
            return Announce::Quiet;
        }
        // Counted with the one leaving, like a join counts the joiner.
        let count = users.len();
        users.remove(who.user);
        if users.is_empty() {
            rooms.remove(who.room);
        }
        policy.announce(Change::Left, who, count, route)
    }

    fn members<'a>(&'a self, room: &'a RoomName, _policy: &'a Policy) -> Listing<'a> {
        Box::pin(std::future::ready(Ok(self.list(room))))
    }
}
