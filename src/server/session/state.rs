//! A session's state and what each client frame does to it. Authorization is checked here, on every
//! frame, against the session's current identity (which `Reauth` may
//! replace), never only at connect.

use std::sync::Arc;
use std::time::Instant;

use crate::auth::Identity;
use crate::protocol::{Body, ClientFrame, Close, ErrorCode, RoomName, ServerFrame};

use super::super::authorize::Authorize;
use super::super::outbox::Outbox;
use super::super::ratelimit::TokenBucket;
use super::super::shared::Shared;

/// One session's state, owned by its task: who it is, what it joined, its
/// rate limits. The task loop (`session/mod.rs`) feeds it decoded frames.
#[derive(Debug)]
pub(crate) struct SessionState {
    pub(crate) id: u64,
    pub(crate) identity: Identity,
    pub(crate) outbox: Outbox,
    /// Joined rooms, at most `limits.max_rooms`; a `Vec`, since a
    /// `heapless::Vec` of 64 names is 2.6 KiB inline in every session.
    pub(crate) joined: Vec<RoomName>,
    bucket: TokenBucket,
    /// Refusals allowed in a burst; empty means repeated violations (1008).
    violations: TokenBucket,
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
    pub(crate) fn new(id: u64, identity: Identity, outbox: Outbox, shared: Arc<Shared>) -> Self {
        let rate = shared.limits.publish_per_sec;
        Self {
            id,
            identity,
            outbox,
            joined: Vec::new(),
            bucket: TokenBucket::new(rate, rate, Instant::now()),
            violations: TokenBucket::new(1, shared.limits.violations_before_close, Instant::now()),
            shared,
        }
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

    fn is_joined(&self, room: &RoomName) -> bool {
        self.joined.iter().any(|r| r == room)
    }

    /// Carries out one decoded frame.
    pub(crate) fn handle(&mut self, frame: ClientFrame) -> After {
        match frame {
            ClientFrame::Join { room, since } => self.join(room, since),
            ClientFrame::Leave { room } => self.leave(&room),
            ClientFrame::Publish { id, room, body } => self.publish(id, &room, body),
            ClientFrame::Delete { id, room, seq } => self.delete(id, &room, seq),
            ClientFrame::Reauth { token } => return self.reauth(&token),
            // Their server side lands with presence and storage (issues 13
            // and 11); until then they are refused, never half-served.
            ClientFrame::Presence { .. } => {
                self.refuse(None, ErrorCode::BadRequest, "not supported yet")
            }
            ClientFrame::PublishOnce { id, .. } => {
                self.refuse(Some(id), ErrorCode::BadRequest, "not supported yet")
            }
        }
        After::Continue
    }

    fn join(&mut self, room: RoomName, since: Option<u64>) {
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
        if self.shared.rooms.join(&room, &self.outbox, since).is_err() {
            return self.refuse(
                None,
                ErrorCode::TooManyRooms,
                "the server holds its maximum of rooms",
            );
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
        self.shared.rooms.leave(room, self.id);
        self.shared.sessions.set_rooms(self.id, &self.joined);
        self.outbox
            .send_or_evict(&ServerFrame::Left { room: room.clone() });
    }

    fn publish(&mut self, ack_id: u32, room: &RoomName, body: Body) {
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
        let user = &self.identity.user;
        // The Ack is queued by `Rooms::publish`, under the room lock, not
        // here after it returns: under the lock it goes into our queue
        // ahead of our own copy of the Message, and no later publish by a
        // member can slip between the seq being taken and the Ack (the
        // contract: Ack before the publisher's Message, seq order for all).
        if self
            .shared
            .rooms
            .publish(room, user, body, Some((&self.outbox, ack_id)))
            .is_none()
        {
            // A joined room always exists; reaching this is a server bug.
            log::error!("session={:016x} joined room={room} missing", self.id);
        }
    }

    fn delete(&mut self, id: u32, room: &RoomName, seq: u64) {
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
        if self.shared.rooms.delete(room, seq, &self.outbox).is_err() {
            self.refuse(
                Some(id),
                ErrorCode::NotFound,
                "the room does not retain that seq",
            );
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
        self.shared.sessions.set_role(self.id, self.identity.role);
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
        for room in self.joined.iter() {
            self.shared.rooms.leave(room, self.id);
        }
        self.joined.clear();
    }
}
