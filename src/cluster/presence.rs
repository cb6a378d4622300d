//! Presence across nodes (protocol section 8): every node writes its own
//! sessions into the room's presence keys (presence.lua) and refreshes
//! them every [`REFRESH`]; an entry not refreshed for [`ENTRY_TTL`] is
//! dead and purged by the next node that touches the room, which also
//! announces the users that left with it. So a node killed with
//! `kill -9` stops counting within `ENTRY_TTL + REFRESH` (under 30 s).
//!
//! The scripts decide "first session of this user" and "last one" across
//! every node, and PUBLISH MemberJoined / MemberLeft on the room's channel
//! when the room has at most `events_max` distinct users; every node
//! delivers them from there ([`super::subscriber`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use redis::Value;

use super::engine::{Inner, ROOM_IDLE_TTL_S};
use super::link::Unavailable;
use crate::protocol::RoomName;
use crate::server::lock::lock;

/// How often a node rewrites its entries' expiry.
pub(crate) const REFRESH: Duration = Duration::from_secs(5);
/// How long an entry lives without a refresh.
pub(crate) const ENTRY_TTL: Duration = Duration::from_secs(20);
/// Triples per refresh call, so one call stays short.
const REFRESH_BATCH: usize = 200;

/// The names listed by a Presence answer at most (protocol section 4).
pub(crate) const MAX_LISTED: usize = 256;

/// This node's sessions in one room (what the refresh rewrites).
#[derive(Default, Clone)]
pub(crate) struct RoomEntries {
    events_max: u32,
    /// Session -> user.
    sessions: HashMap<u64, String>,
}

/// This node's presence entries, per room.
#[derive(Default)]
pub(crate) struct Entries(std::sync::Mutex<HashMap<RoomName, RoomEntries>>);

/// What a presence change did across the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Change {
    /// The user's first session arrived / last session left.
    pub(crate) first_or_last: bool,
    /// Distinct users in the room afterwards.
    pub(crate) total: u32,
}

impl Inner {
    fn field(&self, session: u64) -> String {
        format!("{}/{:016x}/{session:016x}", self.node, self.instance)
    }

    fn presence_call<'a>(
        &self,
        script: &'a redis::Script,
        room: &RoomName,
        events_max: u32,
    ) -> redis::ScriptInvocation<'a> {
        let mut call = script.prepare_invoke();
        for key in self.keys.presence(room) {
            call.key(key);
        }
        call.arg(self.keys.channel(room))
            .arg(&self.instance.to_be_bytes()[..])
            .arg(events_max)
            .arg(ROOM_IDLE_TTL_S.min(24 * 60 * 60));
        call
    }

    /// Remembers `session` of `user` in `room` for the refresh (which
    /// writes it even if the call that counts it in never reaches Redis).
    pub(crate) fn remember(&self, room: &RoomName, session: u64, user: &str, events_max: u32) {
        let mut entries = lock(&self.presence.0);
        let here = entries.entry(room.clone()).or_default();
        here.events_max = events_max;
        here.sessions.insert(session, user.to_owned());
    }

    /// Stops refreshing `session` in `room`; its `events_max` when it was
    /// remembered.
    pub(crate) fn forget(&self, room: &RoomName, session: u64) -> Option<u32> {
        let mut entries = lock(&self.presence.0);
        let here = entries.get_mut(room)?;
        let max = here.events_max;
        here.sessions.remove(&session)?;
        if here.sessions.is_empty() {
            entries.remove(room);
        }
        Some(max)
    }

    /// Writes a remembered entry to Redis now (the script announces a
    /// user's first session).
    pub(crate) async fn count_in(
        &self,
        room: &RoomName,
        session: u64,
        user: &str,
        events_max: u32,
    ) -> Result<Change, Unavailable> {
        let mut call = self.presence_call(&self.scripts.presence_add, room, events_max);
        call.arg(ENTRY_TTL.as_millis() as u64)
            .arg(self.field(session))
            .arg(&session.to_be_bytes()[..])
            .arg(user);
        let answer = self
            .link
            .run("a presence join", |mut c| async move {
                call.invoke_async::<Vec<u32>>(&mut c).await
            })
            .await?;
        Ok(Change {
            first_or_last: answer.get(1) == Some(&1),
            total: answer.first().copied().unwrap_or(0),
        })
    }

    /// Removes a forgotten entry from Redis now (the script announces a
    /// user's last session).
    pub(crate) async fn count_out(
        &self,
        room: &RoomName,
        session: u64,
        user: &str,
        events_max: u32,
    ) -> Result<Change, Unavailable> {
        let mut call = self.presence_call(&self.scripts.presence_remove, room, events_max);
        call.arg(self.field(session))
            .arg(&session.to_be_bytes()[..])
            .arg(user);
        let (gone, total) = self
            .link
            .run("a presence leave", |mut c| async move {
                call.invoke_async::<(u8, u32)>(&mut c).await
            })
            .await?;
        Ok(Change {
            first_or_last: gone == 1,
            total,
        })
    }

    /// Distinct users in `room` across the cluster and the first
    /// [`MAX_LISTED`] of them in byte order.
    pub(crate) async fn members(
        &self,
        room: &RoomName,
        events_max: u32,
    ) -> Result<(u32, Vec<String>), Unavailable> {
        let mut call = self.presence_call(&self.scripts.presence_list, room, events_max);
        call.arg(MAX_LISTED);
        self.link
            .run("a presence read", |mut c| async move {
                call.invoke_async::<(u32, Vec<String>)>(&mut c).await
            })
            .await
    }

    /// Rewrites the expiry of every local entry (re-adding entries a
    /// purge removed while this node could not reach Redis).
    async fn refresh(&self) {
        let rooms: Vec<(RoomName, RoomEntries)> = lock(&self.presence.0)
            .iter()
            .map(|(room, here)| (room.clone(), here.clone()))
            .collect();
        for (room, here) in rooms {
            let events_max = here.events_max;
            let sessions: Vec<(u64, String)> = here.sessions.into_iter().collect();
            for batch in sessions.chunks(REFRESH_BATCH) {
                let mut call = self.presence_call(&self.scripts.presence_add, &room, events_max);
                call.arg(ENTRY_TTL.as_millis() as u64);
                for (session, user) in batch {
                    call.arg(self.field(*session))
                        .arg(&session.to_be_bytes()[..])
                        .arg(user);
                }
                let refreshed = self
                    .link
                    .run("a presence refresh", |mut c| async move {
                        call.invoke_async::<Value>(&mut c).await
                    })
                    .await;
                if refreshed.is_err() {
                    return;
                }
            }
        }
    }
}

/// The refresh task. Ends when the engine is dropped.
pub(crate) async fn run(inner: Arc<Inner>) {
    loop {
        smol::Timer::after(REFRESH).await;
        inner.refresh().await;
    }
}
