//! What wakes a session and what it then does: the race of its deadline,
//! its mailbox and its peer ([`next_event`], in that priority), and how the
//! [`Event`] that wins becomes a [`Step`] of the task loop.
//!
//! Apart from the loop so the priority order is one small function with
//! its own tests, and so the loop matches on what to do, not on where the
//! wake came from.

use std::future::Future;
use std::task::Waker;

use async_tungstenite::tungstenite::{Error as WsError, Message};
use smol::future::FutureExt;

use super::clock::{Clock, Due};
use super::close::{end_for_error, End};
use crate::protocol::Close;

/// What woke the session's task.
pub(super) enum Event {
    CloseRequested(Close),
    /// Frames are queued; the task's waker, to write them within this
    /// turn's poll (see [`Step::Write`]).
    Outbound(Waker),
    Inbound(Option<Result<Message, WsError>>),
    /// A publish of this session's reached a pressed queue: read nothing
    /// more from the peer until no member's queue is pressed.
    Held,
    /// No member's queue is pressed any more: this session may read on.
    Released,
    Timer(Due),
}

/// The session's race, in its priority order: `futures_lite::or` polls its
/// first future first, so whatever is listed first wins when several are
/// ready. The deadline (expiry, ping, idle) comes first, so a busy queue or
/// a peer that never stops sending cannot delay it; then the mailbox, which
/// yields a close request before any frame (so eviction and shutdown beat
/// more writing) and our queue before we read more (so replies go out
/// first); then the peer. A plain `fn`: an `async fn` would keep the
/// three futures twice (as arguments and inside the race) in every task.
pub(super) fn next_event(
    deadline: impl Future<Output = Event>,
    mail: impl Future<Output = Event>,
    inbound: impl Future<Output = Event>,
) -> impl Future<Output = Event> {
    deadline.or(mail).or(inbound)
}

/// What the task does after an event.
pub(super) enum Step {
    End(End),
    /// Write the queued frames, polled with this waker (a ping when
    /// `None`).
    Write(Option<Waker>),
    Read(Message),
    /// Hold reading (a member's queue is pressed).
    Held,
    /// The hold on reading ended (no member's queue is pressed).
    Released,
}

/// Sorts an event into a [`Step`], taking it whole: the task's state then
/// keeps no copy of the event across the write or the frame's handling.
pub(super) fn inbound_or_write(event: Event, clock: &mut Clock) -> Step {
    match event {
        Event::CloseRequested(close) => Step::End(End::Close(close)),
        Event::Timer(Due::Expiry) => Step::End(End::Close(Close::TokenExpired)),
        Event::Timer(Due::Idle) => Step::End(End::Close(Close::Idle)),
        Event::Timer(Due::Ping) => {
            clock.pinged = true;
            Step::Write(None)
        }
        Event::Outbound(waker) => Step::Write(Some(waker)),
        Event::Held => Step::Held,
        Event::Released => Step::Released,
        Event::Inbound(None) => Step::End(End::Peer(None)),
        Event::Inbound(Some(Err(e))) => Step::End(end_for_error(&e)),
        Event::Inbound(Some(Ok(message))) => Step::Read(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::ready;

    #[test]
    fn a_due_deadline_wins_over_everything_ready() {
        let event = smol::block_on(next_event(
            ready(Event::Timer(Due::Expiry)),
            ready(Event::CloseRequested(Close::Removed)),
            ready(Event::Inbound(None)),
        ));
        assert!(matches!(event, Event::Timer(Due::Expiry)));
    }

    #[test]
    fn our_mail_wins_over_the_peer() {
        let event = smol::block_on(next_event(
            std::future::pending(),
            ready(Event::Outbound(Waker::noop().clone())),
            ready(Event::Inbound(None)),
        ));
        assert!(matches!(event, Event::Outbound(_)));
    }
}
