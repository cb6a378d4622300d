//! The Lua scripts, each sent once and then run by its SHA1 (`EVALSHA`,
//! falling back to `EVAL` when Redis forgot it, for example after a
//! restart). Shared helpers are prepended at compile time.

use redis::Script;

/// Every script the engine runs.
pub(crate) struct Scripts {
    pub(crate) publish: Script,
    pub(crate) window: Script,
    pub(crate) delete: Script,
    pub(crate) presence_add: Script,
    pub(crate) presence_remove: Script,
    pub(crate) presence_list: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Self {
            publish: Script::new(concat!(
                include_str!("lua/room.lua"),
                include_str!("lua/publish.lua")
            )),
            window: Script::new(concat!(
                include_str!("lua/room.lua"),
                include_str!("lua/window.lua")
            )),
            delete: Script::new(include_str!("lua/delete.lua")),
            presence_add: Script::new(concat!(
                include_str!("lua/presence.lua"),
                include_str!("lua/presence_add.lua")
            )),
            presence_remove: Script::new(concat!(
                include_str!("lua/presence.lua"),
                include_str!("lua/presence_remove.lua")
            )),
            presence_list: Script::new(concat!(
                include_str!("lua/presence.lua"),
                include_str!("lua/presence_list.lua")
            )),
        }
    }
}
