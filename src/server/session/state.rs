//! A session's state and what each client frame does to it. Authorization is checked here, on every
//! frame, against the session's current identity (which `Reauth` may
//! replace), never only at connect.

use std::sync::Arc;
use std::time::Instant;

use crate::auth::Identity;
use async_tungstenite::tungstenite::Bytes;

use crate::protocol::{
    server_to_vec, Body, ClientFrame, Close, ErrorCode, RoomName, ServerFrame, UserName,
};

use super::super::authorize::Authorize;
use super::super::membership::NoEntry;
use super::super::outbox::Outbox;
use super::super::ratelimit::TokenBucket;
use super::super::shared::Shared;
use super::super::store::{self, Reply, StoreError};

/// One session's state, owned by its task: who it is, what it joined, its
/// rate limits. The task loop (`session/mod.rs`) feeds it decoded frames.
#[derive(Debug)]
pub(crate) struct SessionState {
    pub(crate) id: u64,
    /// Who the session speaks for; `identity.user` is a user name (checked
    /// by [`SessionState::new`]) and never changes (a `Reauth` keeps it),
    /// so it is not kept a second time as a `UserName` (72 bytes in every
    /// session): [`SessionState::user`] makes that when a room needs it.
    pub(crate) identity: Identity,
    pub(crate) outbox: Outbox,
    /// Joined rooms, at most `limits.max_rooms`; a `Vec`, since a
    /// `heapless::Vec` of 64 names is 2.6 KiB inline in every session.
    pub(crate) joined: Vec<RoomName>,
    bucket: TokenBucket,
    /// Refusals allowed in a burst; empty means repeated violations (1008).
    violations: TokenBucket,
    /// The last `Members` answer, while the queue may still hold it: one
    /// at a time, so a peer that asks and never reads queues at most one
    /// of these large frames (the memory bound counts one).
    members_answer: Option<Bytes>,
    shared: Arc<Shared>,
}

/// What the session loop must do after a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum After {
    /// Nothing special.
    Continue,
    /// The token was replaced: re-arm the expiry timer.
    Renewed,
}

impl SessionState {
    /// A session for a verified `identity`.
    ///
    /// # Errors
    /// The token's `sub` is not a user name (the token rules make that
    /// impossible; the session is refused rather than miscounted).
    pub(crate) fn new(
        id: u64,
        identity: Identity,
        outbox: Outbox,
        shared: Arc<Shared>,
    ) -> Result<Self, crate::protocol::UserNameError> {
        let rate = shared.limits.publish_per_sec;
        UserName::new(&identity.user)?;
        Ok(Self {
            id,
            identity,
            outbox,
            joined: Vec::new(),
            bucket: TokenBucket::new(rate, rate, Instant::now()),
            violations: TokenBucket::new(1, shared.limits.violations_before_close, Instant::now()),
            members_answer: None,
            shared,
        })
    }

    /// The first frame of every session, and the answer to `Reauth`.
    pub(crate) fn welcome(&self) {
        self.outbox.send_or_evict(&ServerFrame::Welcome {
            session: self.id,
            user: self.identity.user.clone(),
            role: self.identity.role,
            expires_at: self.identity.expires_at,
            limits: self.shared.limits.announced(),
        });
    }

    fn refuse(&mut self, id: Option<u32>, code: ErrorCode, detail: &str) {
        log::debug!(
            "session={:016x} user={} refused code={code:?} detail={detail}",
            self.id,
            crate::quoted::Quoted(&self.identity.user)
        );
        self.shared.metrics.error_frame(code);
        self.outbox.send_or_evict(&ServerFrame::Error {
            id,
            code,
            detail: detail.to_owned(),
        });
        if !self.violations.try_take(Instant::now()) {
            log::info!(
                "session={:016x} user={} closing: repeated violations",
                self.id,
                crate::quoted::Quoted(&self.identity.user)
            );
            self.outbox.close(Close::Violations);
        }
    }

    /// Asks the host's hook, if one is installed.
    fn host_allows(&self, ask: impl FnOnce(&dyn Authorize, &Identity) -> bool) -> bool {
        self.shared
            .authorizer
            .get()
            .is_none_or(|hook| ask(hook.as_ref(), &self.identity))
    }

    /// `identity.user` as rooms and presence count it. The same name every
    /// time: checked once by [`SessionState::new`], and a `Reauth` keeps the
    /// user; so a join never enters under a name a leave could not make.
    fn user(&self) -> Result<UserName, crate::protocol::UserNameError> {
        UserName::new(&self.identity.user)
    }

    fn is_joined(&self, room: &RoomName) -> bool {
        self.joined.iter().any(|r| r == room)
    }

    /// Carries out one decoded frame. Joins and deletes wait for the
    /// store; a publish is handed to it and answered when committed.
    pub(crate) async fn handle(&mut self, frame: ClientFrame) -> After {
        match frame {
            ClientFrame::Join { room, since } => self.join(room, since).await,
            ClientFrame::Leave { room } => self.leave(&room),
            ClientFrame::Publish { id, room, body } => self.publish(id, &room, body, None),
            ClientFrame::PublishOnce {
                id,
                key,
                room,
                body,
            } => self.publish(id, &room, body, Some(key)),
            ClientFrame::Delete { id, room, seq } => self.delete(id, &room, seq).await,
            ClientFrame::Reauth { token } => return self.reauth(&token),
            ClientFrame::Presence { room } => self.presence(&room).await,
        }
        After::Continue
    }

    /// Answers a request the store could not carry out. Not a violation:
    /// the client did nothing wrong, and may retry.
    fn store_failed(&self, id: Option<u32>, error: StoreError) {
        store_error(&self.outbox, &self.shared.metrics, id, error);
    }

    async fn join(&mut self, room: RoomName, since: Option<u64>) {
        if !self.identity.may_access(&room) {
            return self.refuse(
                None,
                ErrorCode::Forbidden,
                "rooms claim does not allow this room",
            );
        }
        if !self.host_allows(|hook, who| hook.may_join(who, &room)) {
            return self.refuse(None, ErrorCode::Forbidden, "refused by the host");
        }
        if self.is_joined(&room) {
            return self.refuse(None, ErrorCode::BadRequest, "already joined");
        }
        if self.joined.len() >= usize::from(self.shared.limits.max_rooms) {
            return self.refuse(
                None,
                ErrorCode::TooManyRooms,
                "joined rooms at limits.max_rooms",
            );
        }
        let Ok(user) = self.user() else {
            // Unreachable (see `user`); refused rather than counted wrong.
            return self.refuse(None, ErrorCode::BadRequest, "sub is not a user name");
        };
        match self.shared.enter(&room, &user, &self.outbox, since).await {
            Ok(()) => {}
            Err(NoEntry::UserRoomsFull) => {
                return self.refuse(
                    None,
                    ErrorCode::TooManyRooms,
                    "this user's sessions are in limits.max_rooms_per_user rooms",
                )
            }
            Err(NoEntry::Store(StoreError::RoomsFull)) => {
                return self.refuse(
                    None,
                    ErrorCode::TooManyRooms,
                    "the server holds its maximum of rooms",
                )
            }
            Err(NoEntry::Store(e)) => return self.store_failed(None, e),
        }
        // Exact: a session in one room holds one slot, not four.
        self.joined.reserve_exact(1);
        self.joined.push(room);
        self.shared.sessions.set_rooms(self.id, &self.joined);
    }

    fn leave(&mut self, room: &RoomName) {
        let Some(at) = self.joined.iter().position(|r| r == room) else {
            return self.refuse(None, ErrorCode::NotJoined, "not joined");
        };
        self.joined.swap_remove(at);
        if let Ok(user) = self.user() {
            self.shared.exit(room, &user, self.id);
        }
        self.shared.sessions.set_rooms(self.id, &self.joined);
        self.outbox
            .send_or_evict(&ServerFrame::Left { room: room.clone() });
    }

    /// Answers `Members`; observers may ask too.
    async fn presence(&mut self, room: &RoomName) {
        if !self.is_joined(room) {
            return self.refuse(
                None,
                ErrorCode::NotJoined,
                "join the room before asking who is in it",
            );
        }
        if self.members_answer.as_ref().is_some_and(|b| !b.is_unique()) {
            return self.refuse(
                None,
                ErrorCode::RateLimited,
                "the previous Members answer is not written yet",
            );
        }
        let Ok((total, users)) = self.shared.presence.members(room).await else {
            return self.store_failed(None, StoreError::Unavailable);
        };
        let answer = Bytes::from(server_to_vec(&ServerFrame::Members {
            room: room.clone(),
            total,
            users,
        }));
        self.members_answer = Some(answer.clone());
        self.outbox.push_or_evict(answer, None);
    }

    fn publish(&mut self, ack_id: u32, room: &RoomName, body: Body, key: Option<u64>) {
        let id = Some(ack_id);
        if !self.identity.role.may_publish() {
            return self.refuse(id, ErrorCode::Forbidden, "observers may not publish");
        }
        if !self.identity.may_access(room) {
            return self.refuse(
                id,
                ErrorCode::Forbidden,
                "rooms claim does not allow this room",
            );
        }
        if !self.is_joined(room) {
            return self.refuse(id, ErrorCode::NotJoined, "join the room before publishing");
        }
        if let Err(e) = body.validate(self.shared.limits.max_body as usize) {
            return self.refuse(id, ErrorCode::BadRequest, &e.to_string());
        }
        if !self.host_allows(|hook, who| hook.may_publish(who, room, &body)) {
            return self.refuse(id, ErrorCode::Forbidden, "refused by the host");
        }
        if !self.bucket.try_take(Instant::now()) {
            return self.refuse(id, ErrorCode::RateLimited, "over limits.publish_per_sec");
        }
        let (outbox, metrics) = (self.outbox.clone(), Arc::clone(&self.shared.metrics));
        self.shared.store.publish(store::Publish {
            room: room.clone(),
            from: self.identity.user.clone(),
            body,
            key,
            // Called by the fan-out under the room lock, right before the
            // Message is queued to the members: the Ack goes into our queue
            // ahead of our own copy, and in seq order (the contract).
            reply: Reply::from_session(self.outbox.clone(), move |result| match result {
                Ok(seq) => outbox.send_or_evict(&ServerFrame::Ack { id: ack_id, seq }),
                Err(e) => store_error(&outbox, &metrics, Some(ack_id), e),
            }),
        });
    }

    async fn delete(&mut self, id: u32, room: &RoomName, seq: u64) {
        if !self.identity.role.may_delete() {
            return self.refuse(Some(id), ErrorCode::Forbidden, "only admins may delete");
        }
        if !self.identity.may_access(room) {
            return self.refuse(
                Some(id),
                ErrorCode::Forbidden,
                "rooms claim does not allow this room",
            );
        }
        if !self.host_allows(|hook, who| hook.may_delete(who, room, seq)) {
            return self.refuse(Some(id), ErrorCode::Forbidden, "refused by the host");
        }
        let delete = store::Delete {
            room: room.clone(),
            seq,
            by: self.outbox.clone(),
        };
        match self.shared.store.delete(delete).await {
            Ok(()) => {}
            Err(StoreError::NotFound) => self.refuse(
                Some(id),
                ErrorCode::NotFound,
                "the room does not retain that seq",
            ),
            Err(e) => self.store_failed(Some(id), e),
        }
    }

    fn reauth(&mut self, token: &str) -> After {
        let verified = self.shared.verify_token(token);
        let verified = verified.and_then(|id| id.same_user(&self.identity.user));
        let identity = match verified {
            Ok(identity) => identity,
            Err(e) => {
                super::super::bans::reauth_failed(&self.shared, self.id, &self.identity.user, e);
                self.refuse(None, ErrorCode::TokenRejected, e.public_reason());
                return After::Continue;
            }
        };
        log::info!(
            "session={:016x} user={} reauth role={} expires_at={}",
            self.id,
            crate::quoted::Quoted(&identity.user),
            identity.role,
            identity.expires_at
        );
        self.identity = identity;
        let (role, key_id) = (self.identity.role, &self.identity.key_id);
        self.shared.sessions.set_token(self.id, role, key_id);
        self.shared.check_key(self.id, key_id);
        self.welcome();
        // Rooms the new token no longer allows are left, so the session stops
        // receiving what it may no longer read.
        let dropped: Vec<RoomName> = self
            .joined
            .iter()
            .filter(|r| !self.identity.may_access(r))
            .cloned()
            .collect();
        for room in dropped {
            self.leave(&room);
        }
        After::Renewed
    }

    /// Leaves every room; called once when the session ends.
    pub(crate) fn leave_all(&mut self) {
        if let Ok(user) = self.user() {
            for room in self.joined.iter() {
                self.shared.exit(room, &user, self.id);
            }
        }
        self.joined.clear();
    }
}

/// Queues the `Error` for a request the store refused.
fn store_error(
    outbox: &Outbox,
    metrics: &crate::metrics::Metrics,
    id: Option<u32>,
    error: StoreError,
) {
    let (code, detail) = match error {
        StoreError::Unavailable => (
            ErrorCode::Unavailable,
            "storage is failing or busy; nothing was done, retry (a publish with PublishOnce)",
        ),
        StoreError::RoomsFull => (
            ErrorCode::TooManyRooms,
            "the server holds its maximum of rooms",
        ),
        StoreError::NotFound => (ErrorCode::NotFound, "the room does not retain that seq"),
    };
    metrics.error_frame(code);
    outbox.send_or_evict(&ServerFrame::Error {
        id,
        code,
        detail: detail.to_owned(),
    });
}
