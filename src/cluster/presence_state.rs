//! The server's presence state in a cluster (protocol section 8): the
//! presence seam's [`Engine`](seam::Engine) backed by Redis, so `Presence`
//! and `MemberJoined` / `MemberLeft` cover every node.
//!
//! Counting goes through one queue and one task per node, so this node's
//! changes reach Redis in the order they happened (a session's join never
//! overtakes its leave, whichever task ran them). A join waits for its
//! count, so the joiner's next request already sees itself everywhere; a
//! leave does not wait (a session ending, or a host subscription dropped,
//! has nobody to wait for it).
//!
//! Nothing here is lost when Redis is slow or gone: every entry is
//! remembered (or forgotten) at once for the refresh ([`super::presence`]),
//! which writes what a count could not within 5 s of Redis returning, and
//! an entry nobody refreshes expires within 20 s (its user's `MemberLeft`
//! then comes from the node that purges it). A change that waited in the
//! queue past the engine's deadline is left to that, so nobody waits on a
//! backlog. Reading (`Presence`) needs Redis: [`seam::Unavailable`].
//!
//! Events are decided by the scripts (first / last session across every
//! node, at most `events_max_members` users) and published on the room's
//! channel; every node with members there routes them ([`Hear`]), so they
//! are counted in `palisade_presence_events_total` where they are queued.

use std::sync::Arc;
use std::time::Instant;

use smol::channel::{Receiver, Sender};

use super::link::DEADLINE;
use super::{Change, Engine};
use crate::protocol::{RoomName, UserList, UserName};
use crate::server::presence::{
    self as seam, Announce, Counting, Hear, Listing, Member, Policy, Route,
};

/// Changes waiting for the presence task, at most; beyond it a change is
/// left to the refresh (a join) or to expiry (a leave).
pub(crate) const PRESENCE_QUEUE: usize = 1024;
/// One queued change: the [`Op`] and its answer channel's allocation.
pub(crate) const OP_BYTES: u64 = 512;
/// What one membership adds to the engine: its room's watch (name,
/// delivered seq, table slot, `Arc` and lock) and the presence entry the
/// refresh rewrites (session, user, the room's entry map), both counted as
/// if the membership were the room's only one.
pub(crate) const MEMBERSHIP_BYTES: u64 = 512;

/// One change of this node, in the order it happened.
struct Op {
    room: RoomName,
    session: u64,
    user: UserName,
    events_max: u32,
    queued_at: Instant,
    /// A join's answer (`None`: not counted now, the refresh will);
    /// a leave has none.
    done: Option<Sender<Option<Change>>>,
}

/// Presence in the cluster's Redis.
pub(crate) struct Shared {
    engine: Arc<Engine>,
    queue: Sender<Op>,
    _task: smol::Task<()>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("presence_state::Shared")
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Counts through `engine` (its refresh task is already running).
    pub(crate) fn start(engine: Arc<Engine>) -> Self {
        let (queue, ops) = smol::channel::bounded(PRESENCE_QUEUE);
        let task = smol::spawn(count_in_order(Arc::clone(&engine), ops));
        Self {
            engine,
            queue,
            _task: task,
        }
    }

    fn op(&self, who: Member<'_>, events_max: u32, done: Option<Sender<Option<Change>>>) -> Op {
        Op {
            room: who.room.clone(),
            session: who.session,
            user: who.user.clone(),
            events_max,
            queued_at: Instant::now(),
            done,
        }
    }
}

async fn count_in_order(engine: Arc<Engine>, ops: Receiver<Op>) {
    while let Ok(op) = ops.recv().await {
        if op.queued_at.elapsed() >= DEADLINE {
            // Left to the refresh (remembered) or to expiry (forgotten).
            if let Some(done) = op.done {
                let _ = done.try_send(None);
            }
            continue;
        }
        let (room, user) = (&op.room, op.user.as_str());
        let inner = engine.presence();
        match op.done {
            Some(done) => {
                let change = inner
                    .count_in(room, op.session, user, op.events_max)
                    .await
                    .ok();
                let _ = done.try_send(change);
            }
            None => {
                // Unavailable: forgotten already, so it expires by itself.
                let _ = inner.count_out(room, op.session, user, op.events_max).await;
            }
        }
    }
}

impl seam::Engine for Shared {
    fn join<'a>(
        &'a self,
        who: Member<'a>,
        policy: &'a Policy,
        _route: &'a (dyn Route + Sync),
    ) -> Counting<'a> {
        let events_max = policy.events_max(who.room);
        self.engine
            .presence()
            .remember(who.room, who.session, who.user.as_str(), events_max);
        let (done, answer) = smol::channel::bounded(1);
        let queued = self.queue.try_send(self.op(who, events_max, Some(done)));
        Box::pin(async move {
            if queued.is_err() {
                return Announce::Quiet;
            }
            match answer.recv().await {
                // The event is routed (and counted) by every node that
                // hears it; only a suppression is known here alone.
                Ok(Some(change)) if change.first_or_last && change.total > events_max => {
                    if events_max > 0 {
                        Announce::Suppressed
                    } else {
                        Announce::Unselected
                    }
                }
                _ => Announce::Quiet,
            }
        })
    }

    fn leave(&self, who: Member<'_>, _policy: &Policy, _route: &dyn Route) -> Announce {
        let Some(events_max) = self.engine.presence().forget(who.room, who.session) else {
            return Announce::Quiet;
        };
        // Full: the entry is forgotten, so it expires within 20 s.
        let _ = self.queue.try_send(self.op(who, events_max, None));
        Announce::Quiet
    }

    fn members<'a>(&'a self, room: &'a RoomName, policy: &'a Policy) -> Listing<'a> {
        Box::pin(async move {
            let (total, names) = self
                .engine
                .members(room, policy.events_max(room))
                .await
                .map_err(|_| seam::Unavailable)?;
            let users = names.iter().filter_map(|n| UserName::new(n).ok());
            Ok((total, UserList::first_of(users)))
        })
    }
}

/// No session: every member is told. (Host ids count up from 2^63 and
/// never reach it; a session drawing it would only miss its own event.)
const NOBODY: u64 = u64::MAX;

/// Where the engine's presence events go once the server is built.
pub(crate) type Listener = std::sync::OnceLock<Hear>;

/// Hands one event the engine delivered to `listener`, if set.
pub(crate) fn hear(
    listener: &Listener,
    room: &RoomName,
    arrived: bool,
    user: &str,
    except: Option<u64>,
) {
    let (Some(hear), Ok(user)) = (listener.get(), UserName::new(user)) else {
        return;
    };
    let change = if arrived {
        seam::Change::Joined
    } else {
        seam::Change::Left
    };
    hear(room, change, &user, except.unwrap_or(NOBODY));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queued_change_fits_its_constant() {
        let op = std::mem::size_of::<Op>() as u64;
        // The answer channel: its shared state with one slot.
        let channel = 192;
        assert!(op + channel <= OP_BYTES, "{op} + {channel} > {OP_BYTES}");
        let name = std::mem::size_of::<RoomName>() as u64;
        assert!(2 * name + 64 + 128 <= MEMBERSHIP_BYTES, "{name}");
    }
}
