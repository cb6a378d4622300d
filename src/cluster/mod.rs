//! Clusters: several palisade nodes share rooms through Redis (protocol
//! section 7), learning from Centrifugo's Redis engine.
//!
//! In Redis, per room (every name under the configured prefix, see
//! [`keys`]): a hash with the last issued seq, a stream capped at
//! `history` with the retained Messages (entry id = seq), the PublishOnce
//! keys, the presence keys, and a pub/sub channel. A publish is one Lua
//! script that assigns the seq, appends to the stream and PUBLISHes the
//! frame: one seq order per room across every node. Each node subscribes
//! to the channels of the rooms it has members in and delivers to them in
//! seq order, repairing gaps from the stream ([`subscriber`]).
//!
//! Redis unreachable: every operation that needs it answers
//! [`Unavailable`] within [`link::DEADLINE`], nothing is half-published
//! (the script runs whole or not at all), `alert=cluster-unavailable` is
//! logged once per outage and [`Engine::is_up`] (the metric
//! `palisade_cluster_up`) is false until both connections are back.

pub mod config;

#[cfg(feature = "cluster")]
mod engine;
#[cfg(feature = "cluster")]
mod keys;
#[cfg(feature = "cluster")]
mod link;
#[cfg(feature = "cluster")]
pub mod local;
#[cfg(feature = "cluster")]
mod node;
#[cfg(feature = "cluster")]
mod presence;
#[cfg(feature = "cluster")]
pub(crate) mod presence_state;
#[cfg(feature = "cluster")]
mod scripts;
#[cfg(feature = "cluster")]
pub(crate) mod store;
#[cfg(feature = "cluster")]
mod subscriber;
#[cfg(feature = "cluster")]
mod wire;

#[cfg(all(test, feature = "cluster"))]
mod tests;

#[cfg(feature = "cluster")]
pub(crate) use node::*;
