//! Presence (PROTOCOL.md section 8): per room, the distinct users (token
//! `sub`, or the host's device name) with a count of their sessions, and
//! the `MemberJoined` / `MemberLeft` events when a user's first session
//! arrives or last session goes.
//!
//! The state lives behind [`Engine`], so a cluster can keep it in Redis
//! without the session code changing: sessions and host subscriptions
//! only ever call [`Presence::joined`], [`Presence::left`] and
//! [`Presence::members`]. What an engine must do:
//!
//! - count `(room, session, user)` memberships and tell, per change,
//!   whether it was the user's first session in the room (or last);
//! - decide with [`Policy::announce`] whether that change is told, and if
//!   so hand the event to the room's other members through [`Route`] in
//!   the order the changes happened (a user's `MemberJoined` never
//!   overtakes the `MemberLeft` that follows it);
//! - answer a room's exact total and first 256 names.
//!
//! [`local::Local`] does all three in this process under one lock. In a
//! cluster, `crate::cluster::presence_state` counts in Redis from a script
//! that also publishes the event to every node with members in the room;
//! each node routes it to its own members with [`Presence::heard`]. That
//! is why counting in and reading are futures (they wait for Redis, and
//! reading may answer [`Unavailable`]); counting out is not: an engine
//! keeps a node's changes in order itself (the Redis one queues them), so
//! a session that ends, or a host subscription dropped, need not wait.

mod local;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_tungstenite::tungstenite::Bytes;

use crate::auth::RoomPatterns;
use crate::config::PresenceConfig;
use crate::metrics::Metrics;
use crate::protocol::{
    server_to_vec, RoomName, ServerFrame, UserList, UserName, MAX_LISTED_USERS, MAX_ROOM_LEN,
    MAX_USER_LEN,
};

/// The largest `Members` frame: variant, room, `total` (a `u32` varint),
/// the list's length and 256 names of 64 bytes with their length bytes.
/// The write buffer and the memory bound are sized for it.
pub(crate) const MAX_MEMBERS_FRAME: usize =
    1 + 1 + MAX_ROOM_LEN + 5 + 2 + MAX_LISTED_USERS * (1 + MAX_USER_LEN);

/// One session of one user in one room: what an engine counts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Member<'a> {
    pub(crate) room: &'a RoomName,
    /// The session (or host subscription) id; the event skips it.
    pub(crate) session: u64,
    pub(crate) user: &'a UserName,
}

/// What one join or leave meant for the room's other members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Announce {
    /// The user has other sessions in the room (or had none): no event.
    Quiet,
    /// The room is not selected by `[presence] events`.
    Unselected,
    /// The room had more than `events_max_members` users.
    Suppressed,
    /// The event went to this many other members.
    Sent(usize),
}

/// Which kind of change an event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// The user's first session joined.
    Joined,
    /// The user's last session left.
    Left,
}

/// Where a due event goes: the room's members on this node, except one.
pub(crate) trait Route {
    /// Queues `frame` to every member of `room` but session `except`,
    /// each of whom may have `slack` such events waiting (see
    /// `Outbox::push_notice`); returns how many it was queued to.
    fn to_others(&self, room: &RoomName, frame: &Bytes, except: u64, slack: usize) -> usize;
}

/// Presence is kept elsewhere (a cluster's Redis) and did not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unavailable;

/// A count in under way.
pub(crate) type Counting<'a> = Pin<Box<dyn Future<Output = Announce> + Send + 'a>>;
/// A room's total and first names, or [`Unavailable`].
pub(crate) type Listing<'a> =
    Pin<Box<dyn Future<Output = Result<(u32, UserList), Unavailable>> + Send + 'a>>;

/// Where presence state lives (see the module docs for the contract).
pub(crate) trait Engine: Send + Sync + fmt::Debug {
    /// Counts `who` in; on the user's first session asks `policy` whether
    /// to tell the others and routes the event if so. Never fails: an
    /// engine that cannot count now counts as soon as it can.
    fn join<'a>(
        &'a self,
        who: Member<'a>,
        policy: &'a Policy,
        route: &'a (dyn Route + Sync),
    ) -> Counting<'a>;
    /// Counts `who` out, after any change of this node counted before;
    /// on the user's last session likewise.
    fn leave(&self, who: Member<'_>, policy: &Policy, route: &dyn Route) -> Announce;
    /// The room's distinct users and the first [`MAX_LISTED_USERS`] of
    /// them in byte order.
    fn members<'a>(&'a self, room: &'a RoomName, policy: &'a Policy) -> Listing<'a>;
}

/// How an engine that counts elsewhere hands this node an event it
/// decided on: (room, change, user, the session here that caused it and
/// is not told, or an id no session has).
pub(crate) type Hear = Box<dyn Fn(&RoomName, Change, &UserName, u64) + Send + Sync>;

/// `[presence]`, parsed: which rooms send events, and up to what size.
#[derive(Debug)]
pub(crate) struct Policy {
    events: RoomPatterns,
    max_members: u32,
}

impl Policy {
    /// The most users a room of this name may have for its events to be
    /// sent: 0 when `[presence] events` does not select it.
    #[cfg(feature = "cluster")]
    pub(crate) fn events_max(&self, room: &RoomName) -> u32 {
        if self.events.allows(room) {
            self.max_members
        } else {
            0
        }
    }

    /// Decides on a change in `who.room`, which has `users` distinct users
    /// counting the one arriving or leaving, and routes the event if due.
    pub(crate) fn announce(
        &self,
        change: Change,
        who: Member<'_>,
        users: usize,
        route: &dyn Route,
    ) -> Announce {
        if !self.events.allows(who.room) {
            return Announce::Unselected;
        }
        if users > self.max_members as usize {
            return Announce::Suppressed;
        }
        Announce::Sent(self.route(change, who, route))
    }

    /// Routes the event for a due `change` of `who`.
    fn route(&self, change: Change, who: Member<'_>, route: &dyn Route) -> usize {
        let (room, user) = (who.room.clone(), who.user.clone());
        let frame = match change {
            Change::Joined => ServerFrame::MemberJoined { room, user },
            Change::Left => ServerFrame::MemberLeft { room, user },
        };
        let frame = Bytes::from(server_to_vec(&frame));
        // A member hears at most `max_members - 1` arrivals before its
        // task can write, however fast they come: room for all of them.
        let slack = self.max_members as usize;
        route.to_others(who.room, &frame, who.session, slack)
    }
}

/// The server's presence: an engine, the policy and the counters.
#[derive(Debug)]
pub(crate) struct Presence {
    engine: Box<dyn Engine>,
    policy: Policy,
    metrics: Arc<Metrics>,
}

impl Presence {
    /// Presence kept in this process.
    ///
    /// # Errors
    /// The bad `[presence] events` pattern.
    pub(crate) fn local(
        config: &PresenceConfig,
        metrics: Arc<Metrics>,
    ) -> Result<Self, crate::config::Invalid> {
        Ok(Self {
            engine: Box::new(local::Local::default()),
            policy: Policy {
                events: config.patterns()?,
                max_members: config.events_max_members,
            },
            metrics,
        })
    }

    /// Keeps the state in `engine` instead (a cluster's), before any
    /// session counts.
    pub(crate) fn use_engine(&mut self, engine: Box<dyn Engine>) {
        self.engine = engine;
    }

    /// `who` joined (the room table has it as a member already).
    pub(crate) async fn joined(&self, who: Member<'_>, route: &(dyn Route + Sync)) {
        self.count(self.engine.join(who, &self.policy, route).await);
    }

    /// Another node's engine reports a due change of `who` (counted and
    /// decided there): routes it to the members here but `who.session`
    /// when that session is here.
    pub(crate) fn heard(&self, change: Change, who: Member<'_>, route: &dyn Route) {
        self.count(Announce::Sent(self.policy.route(change, who, route)));
    }

    /// `who` left (the room table no longer has it as a member).
    pub(crate) fn left(&self, who: Member<'_>, route: &dyn Route) {
        self.count(self.engine.leave(who, &self.policy, route));
    }

    fn count(&self, announce: Announce) {
        match announce {
            Announce::Sent(to) => self.metrics.presence_events(to),
            Announce::Suppressed => self.metrics.presence_suppressed(),
            Announce::Quiet | Announce::Unselected => {}
        }
    }

    /// `room`'s distinct users and the first 256 of them, sorted: what
    /// `Members` answers.
    ///
    /// # Errors
    /// [`Unavailable`]: the engine (a cluster's Redis) does not answer.
    pub(crate) async fn members(&self, room: &RoomName) -> Result<(u32, UserList), Unavailable> {
        self.engine.members(room, &self.policy).await
    }
}

#[cfg(test)]
mod tests;
