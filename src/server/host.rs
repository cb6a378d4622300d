//! The host application's side of an embedded server: a cheap, cloneable
//! [`Handle`] to publish as the device, subscribe to rooms, list and remove
//! sessions, and read counters; and the [`Authorize`](super::Authorize) hook.
//!
//! The host is a participant like any session: its messages get the same
//! seq, history, ordering and fan-out. It differs in one way: a host that
//! falls behind on a subscription is never evicted (it is the server's own
//! program); it is told how many messages it missed, and the server never
//! waits for it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::outbox::{host_outbox, Inbox, Outbox};
use super::registry::SessionInfo;
use super::shared::Shared;
use super::store::{Publish, Reply, StoreError};
use crate::protocol::{
    decode_server, Body, BodyError, Close, RoomName, ServerFrame, UserList, UserName,
};

/// Why a host publish was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublishError {
    /// The body breaks the rules every publish must meet.
    Body(BodyError),
    /// The server holds `max_total_rooms` rooms, all with members.
    RoomsFull,
    /// Storage is failing or busy: nothing was published; retry later.
    Unavailable,
}

impl std::fmt::Display for PublishError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Body(e) => e.fmt(f),
            Self::RoomsFull => f.write_str("the server holds its maximum of rooms"),
            Self::Unavailable => f.write_str("storage is failing or busy; nothing was published"),
        }
    }
}

impl std::error::Error for PublishError {}

/// A handle on a running (or not yet running) server for its host.
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

/// What a [`Subscription`] yields. More kinds may come; match with a
/// catch-all arm.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostEvent {
    /// A message published into the room.
    Message {
        /// Its seq in the room.
        seq: u64,
        /// The publisher's `sub` (or the device name).
        from: String,
        /// When the server accepted it, Unix milliseconds.
        sent_at_ms: u64,
        /// The body as published.
        body: Body,
    },
    /// An admin removed retained message `seq`.
    Deleted {
        /// The removed message's seq.
        seq: u64,
    },
    /// A user's first session joined the room (in rooms `[presence]
    /// events` selects, up to `events_max_members` users).
    MemberJoined {
        /// Who arrived.
        user: UserName,
    },
    /// A user's last session left the room (same rooms as above).
    MemberLeft {
        /// Who left.
        user: UserName,
    },
    /// The subscription fell behind and this many events were dropped.
    Lagged {
        /// How many.
        missed: u64,
    },
}

/// A host's membership of one room; leaving happens on drop.
#[derive(Debug)]
pub struct Subscription {
    room: RoomName,
    id: u64,
    inbox: Inbox,
    missed: Arc<AtomicU64>,
    shared: Arc<Shared>,
}

impl Subscription {
    /// The next event, in the room's order. `None` once the server stopped.
    pub async fn recv(&self) -> Option<HostEvent> {
        loop {
            let missed = self.missed.swap(0, Ordering::Relaxed);
            if missed > 0 {
                return Some(HostEvent::Lagged { missed });
            }
            let bytes = self.inbox.frames.recv().await.ok()?.bytes;
            match decode_server(&bytes) {
                Ok(ServerFrame::Message {
                    seq,
                    from,
                    sent_at_ms,
                    body,
                    ..
                }) => {
                    return Some(HostEvent::Message {
                        seq,
                        from,
                        sent_at_ms,
                        body,
                    })
                }
                Ok(ServerFrame::Deleted { seq, .. }) => return Some(HostEvent::Deleted { seq }),
                Ok(ServerFrame::MemberJoined { user, .. }) => {
                    return Some(HostEvent::MemberJoined { user })
                }
                Ok(ServerFrame::MemberLeft { user, .. }) => {
                    return Some(HostEvent::MemberLeft { user })
                }
                // Nothing else is ever queued to a host subscription.
                _ => {}
            }
        }
    }

    /// The room subscribed to.
    pub fn room(&self) -> &RoomName {
        &self.room
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.shared.host_exit(&self.room, self.id);
    }
}

/// Who is in a room, as [`Handle::presence`] sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RoomMembers {
    /// Distinct users (each session's `sub`, and the device name while
    /// the host is subscribed).
    pub total: u32,
    /// The first 256 of them in byte order.
    pub users: UserList,
}

/// In a cluster, presence lives in Redis, which did not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresenceUnavailable;

impl std::fmt::Display for PresenceUnavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the cluster's Redis does not answer; who is in the room is unknown")
    }
}

impl std::error::Error for PresenceUnavailable {}

/// Host subscription ids start in the top half of the id space; session ids
/// are random, so a clash is as likely as two sessions sharing an id.
pub(crate) const FIRST_HOST_ID: u64 = 1 << 63;

impl Handle {
    /// Publishes `body` into `room` as the device (`device_name` in the
    /// config): same seq, history, ordering and fan-out as any publish.
    /// Resolves with the seq once the message is committed (with file
    /// storage: in the file).
    ///
    /// # Errors
    /// The body breaks the publish rules, no room can be made, or storage
    /// is failing.
    pub async fn publish(&self, room: &RoomName, body: Body) -> Result<u64, PublishError> {
        body.validate(self.shared.limits.max_body as usize)
            .map_err(PublishError::Body)?;
        let (tx, rx) = smol::channel::bounded(1);
        self.shared.store.publish(Publish {
            room: room.clone(),
            from: self.shared.device_name.clone(),
            body,
            key: None,
            reply: Reply::new(move |result| {
                let _ = tx.try_send(result);
            }),
        });
        match rx.recv().await {
            Ok(Ok(seq)) => Ok(seq),
            Ok(Err(StoreError::RoomsFull)) => Err(PublishError::RoomsFull),
            Ok(Err(_)) | Err(_) => Err(PublishError::Unavailable),
        }
    }

    /// Joins `room` as the host; events arrive through a queue of
    /// `capacity` that reports what it missed instead of slowing anyone.
    ///
    /// # Errors
    /// No room can be made, or storage is failing.
    pub async fn subscribe(
        &self,
        room: &RoomName,
        capacity: usize,
    ) -> Result<Subscription, PublishError> {
        let id = self.shared.next_host_id.fetch_add(1, Ordering::Relaxed);
        let missed = Arc::new(AtomicU64::new(0));
        let (outbox, inbox): (Outbox, Inbox) = host_outbox(id, capacity, Arc::clone(&missed));
        self.shared
            .host_enter(room, &outbox)
            .await
            .map_err(|e| match e {
                StoreError::RoomsFull => PublishError::RoomsFull,
                _ => PublishError::Unavailable,
            })?;
        Ok(Subscription {
            room: room.clone(),
            id,
            inbox,
            missed,
            shared: Arc::clone(&self.shared),
        })
    }

    /// Who is in `room` now: what a `Presence` request answers.
    ///
    /// # Errors
    /// [`PresenceUnavailable`]: in a cluster, Redis does not answer.
    pub async fn presence(&self, room: &RoomName) -> Result<RoomMembers, PresenceUnavailable> {
        let (total, users) = self
            .shared
            .presence
            .members(room)
            .await
            .map_err(|_| PresenceUnavailable)?;
        Ok(RoomMembers { total, users })
    }

    /// Every live session.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        self.shared.sessions.list()
    }

    /// Closes a session with 4003 (removed); false if it is not live.
    pub fn close_session(&self, id: u64) -> bool {
        self.shared.sessions.close(id, Close::Removed)
    }

    /// Connections counted now (handshakes under way included).
    pub fn connections(&self) -> u32 {
        self.shared.connections.open()
    }

    /// Rooms with a member here now (a session or a host subscription);
    /// rooms the storage file keeps without members are not counted.
    pub fn rooms(&self) -> usize {
        self.shared.rooms.len()
    }

    /// Addresses banned now for auth failures.
    pub fn banned_addresses(&self) -> usize {
        self.shared.bans.active(std::time::Instant::now())
    }
}
