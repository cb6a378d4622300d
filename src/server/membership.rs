//! Entering and leaving a room as one step for sessions and the host:
//! the per-user room quota, the room table, then presence. Keeping the
//! three together here is what lets each stay unaware of the others.
//!
//! Order matters. On entry the room table comes first, so the joiner is
//! a member (and has its `Joined`) before anyone hears it arrived; on exit
//! it comes first too, so the one leaving is no longer a member when its
//! `MemberLeft` is routed. Presence events skip the session that caused
//! them either way.

use async_tungstenite::tungstenite::Bytes;

use super::outbox::Outbox;
use super::presence::{Member, Route};
use super::rooms::Rooms;
use super::Shared;
use crate::protocol::{RoomName, UserName};

/// Why a room could not be entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoEntry {
    /// The user is at `max_rooms_per_user` rooms.
    UserRoomsFull,
    /// The server holds `max_total_rooms` rooms, all with members.
    ServerRoomsFull,
}

impl Route for Rooms {
    fn to_others(&self, room: &RoomName, frame: &Bytes, except: u64, slack: usize) -> usize {
        Rooms::to_others(self, room, frame, except, slack)
    }
}

impl Shared {
    /// Joins session `member` of `user` to `room` (with `Join{since}`'s
    /// replay).
    pub(crate) fn enter(
        &self,
        room: &RoomName,
        user: &UserName,
        member: &Outbox,
        since: Option<u64>,
    ) -> Result<(), NoEntry> {
        self.quota
            .take(user, room)
            .map_err(|_| NoEntry::UserRoomsFull)?;
        if self.rooms.join(room, member, since).is_err() {
            self.quota.give_back(user, room);
            return Err(NoEntry::ServerRoomsFull);
        }
        self.presence
            .joined(at(room, member.session(), user), &self.rooms);
        Ok(())
    }

    /// Takes session `session` of `user` out of `room`.
    pub(crate) fn exit(&self, room: &RoomName, user: &UserName, session: u64) {
        self.rooms.leave(room, session);
        self.presence.left(at(room, session, user), &self.rooms);
        self.quota.give_back(user, room);
    }

    /// Subscribes the host (as `device_name`, outside any quota).
    pub(crate) fn host_enter(&self, room: &RoomName, member: &Outbox) -> Result<(), NoEntry> {
        self.rooms
            .subscribe(room, member)
            .map_err(|_| NoEntry::ServerRoomsFull)?;
        self.presence
            .joined(at(room, member.session(), &self.device_user), &self.rooms);
        Ok(())
    }

    /// Ends a host subscription.
    pub(crate) fn host_exit(&self, room: &RoomName, id: u64) {
        self.rooms.leave(room, id);
        self.presence
            .left(at(room, id, &self.device_user), &self.rooms);
    }
}

fn at<'a>(room: &'a RoomName, session: u64, user: &'a UserName) -> Member<'a> {
    Member {
        room,
        session,
        user,
    }
}
