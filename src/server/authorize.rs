//! The host application's authorization hook.

use crate::auth::Identity;
use crate::protocol::{Body, RoomName};

/// Decides, beyond the token's claims, whether a session may act. Every
/// method defaults to allowing; a `false` is answered with `Forbidden`.
///
/// Called on the session's task for every frame it concerns, so keep it
/// quick and never block.
pub trait Authorize: Send + Sync + 'static {
    /// May `who` join `room`?
    fn may_join(&self, who: &Identity, room: &RoomName) -> bool {
        let _ = (who, room);
        true
    }
    /// May `who` publish `body` into `room`?
    fn may_publish(&self, who: &Identity, room: &RoomName, body: &Body) -> bool {
        let _ = (who, room, body);
        true
    }
    /// May `who` delete message `seq` of `room`?
    fn may_delete(&self, who: &Identity, room: &RoomName, seq: u64) -> bool {
        let _ = (who, room, seq);
        true
    }
}
