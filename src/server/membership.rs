//! Entering and leaving a room as one step for sessions and the host:
//! the per-user room quota, the store's join (the room table), then
//! presence. Keeping the three together here is what lets each stay
//! unaware of the others.
//!
//! Order matters. On entry the quota comes first (cheap, and given back if
//! the store then refuses or the join is abandoned), then the store's join,
//! which puts the member in the room table with its `Joined`, so the joiner
//! is a member before anyone hears it arrived; on exit the room table
//! comes first, so the one leaving is no longer a member when its
//! `MemberLeft` is routed. Presence events skip the session that caused
//! them either way.

use async_tungstenite::tungstenite::Bytes;

use super::outbox::Outbox;
use super::presence::{Member, Route};
use super::rooms::Rooms;
use super::store::{Join, StoreError};
use super::Shared;
use crate::protocol::{RoomName, UserName};

/// Why a room could not be entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoEntry {
    /// The user is at `max_rooms_per_user` rooms.
    UserRoomsFull,
    /// The store refused the join (the room table is full, or storage is
    /// failing); nothing was counted.
    Store(StoreError),
}

impl Route for Rooms {
    fn to_others(&self, room: &RoomName, frame: &Bytes, except: u64, slack: usize) -> usize {
        Rooms::to_others(self, room, frame, except, slack)
    }
}

/// A quota step taken and not yet kept: given back when dropped, so a
/// refused or abandoned join leaves no count behind.
struct Taken<'a> {
    shared: &'a Shared,
    user: &'a UserName,
    room: &'a RoomName,
}

impl Taken<'_> {
    /// The join happened: the count stays until [`Shared::exit`].
    fn keep(self) {
        std::mem::forget(self);
    }
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        self.shared.quota.give_back(self.user, self.room);
    }
}

/// A step to take back unless kept: run when dropped.
struct Undo<F: FnOnce()>(Option<F>);

impl<F: FnOnce()> Undo<F> {
    /// The step stands.
    fn keep(mut self) {
        self.0 = None;
    }
}

impl<F: FnOnce()> Drop for Undo<F> {
    fn drop(&mut self) {
        if let Some(undo) = self.0.take() {
            undo();
        }
    }
}

impl Shared {
    /// Joins session `member` of `user` to `room` (with `Join{since}`'s
    /// replay): the quota, then the store (which adds the member to the
    /// room table with its `Joined`), then presence.
    pub(crate) async fn enter(
        &self,
        room: &RoomName,
        user: &UserName,
        member: &Outbox,
        since: Option<u64>,
    ) -> Result<(), NoEntry> {
        self.quota
            .take(user, room)
            .map_err(|_| NoEntry::UserRoomsFull)?;
        let taken = Taken {
            shared: self,
            user,
            room,
        };
        self.store
            .join(Join {
                room: room.clone(),
                member: member.clone(),
                since,
                announce: true,
            })
            .await
            .map_err(NoEntry::Store)?;
        taken.keep();
        // Presence may wait (a cluster's Redis): abandoned meanwhile, the
        // member leaves again, so nothing stays counted.
        let session = member.session();
        let undo = Undo(Some(|| self.exit(room, user, session)));
        self.presence
            .joined(at(room, session, user), self.rooms.as_ref())
            .await;
        undo.keep();
        Ok(())
    }

    /// Takes session `session` of `user` out of `room`.
    pub(crate) fn exit(&self, room: &RoomName, user: &UserName, session: u64) {
        self.rooms.leave(room, session);
        self.presence
            .left(at(room, session, user), self.rooms.as_ref());
        self.quota.give_back(user, room);
    }

    /// Subscribes the host (as `device_name`, outside any quota; no
    /// `Joined`, no replay).
    pub(crate) async fn host_enter(
        &self,
        room: &RoomName,
        member: &Outbox,
    ) -> Result<(), StoreError> {
        self.store
            .join(Join {
                room: room.clone(),
                member: member.clone(),
                since: None,
                announce: false,
            })
            .await?;
        let id = member.session();
        let undo = Undo(Some(|| self.host_exit(room, id)));
        self.presence
            .joined(at(room, id, &self.device_user), self.rooms.as_ref())
            .await;
        undo.keep();
        Ok(())
    }

    /// Ends a host subscription.
    pub(crate) fn host_exit(&self, room: &RoomName, id: u64) {
        self.rooms.leave(room, id);
        self.presence
            .left(at(room, id, &self.device_user), self.rooms.as_ref());
    }
}

fn at<'a>(room: &'a RoomName, session: u64, user: &'a UserName) -> Member<'a> {
    Member {
        room,
        session,
        user,
    }
}
