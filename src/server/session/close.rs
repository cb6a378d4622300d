//! How a session ends: the [`End`] a task loop returns, the [`Close`] a
//! WebSocket error maps to (PROTOCOL.md section 5), the closing handshake
//! with the peer, and what the end counts.

use std::time::Duration;

use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::protocol::CloseFrame;
use async_tungstenite::tungstenite::Error as WsError;
use async_tungstenite::WebSocketStream;
use futures_util::{SinkExt, StreamExt};
use smol::future::FutureExt;
use smol::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use smol::Timer;

use super::super::metered::is_budget_error;
use super::super::shared::Shared;
use crate::protocol::Close;

/// How long to wait for the peer's close reply (and to let our close frame
/// reach it) before dropping the connection.
pub(super) const CLOSE_LINGER: Duration = Duration::from_secs(2);

/// How the session ended.
pub(super) enum End {
    /// We close with this code and reason.
    Close(Close),
    /// The peer closed (with its code, if any) or vanished.
    Peer(Option<u16>),
}

/// The end a WebSocket read or write error means.
pub(super) fn end_for_error(e: &WsError) -> End {
    match e {
        WsError::Io(io) if is_budget_error(io) => End::Close(Close::TooManyBytes),
        WsError::Capacity(_) => End::Close(Close::TooBig),
        WsError::Protocol(_) => End::Close(Close::ProtocolError),
        WsError::Utf8(_) => End::Close(Close::InvalidUtf8),
        _ => End::Peer(None),
    }
}

/// Sends our close frame, then waits briefly for the peer's reply so the
/// close frame is not lost to a TCP reset from unread data.
pub(super) async fn finish<S>(ws: &mut WebSocketStream<S>, close: Close)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let frame = CloseFrame {
        code: CloseCode::from(close.code()),
        reason: close.reason().into(),
    };
    let linger = async {
        let _ = ws.close(Some(frame)).await;
        // As in `answer_peer`: what tungstenite handed down is sent.
        let _ = ws.get_mut().flush().await;
        while let Some(Ok(_)) = ws.next().await {}
    };
    linger
        .or(async {
            Timer::after(CLOSE_LINGER).await;
        })
        .await;
}

/// Sends tungstenite's queued reply to the peer's close, bounded.
pub(super) async fn answer_peer<S>(ws: &mut WebSocketStream<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let flush = async {
        let _ = ws.flush().await;
        // tungstenite hands its reply down and then refuses to flush a
        // closed connection; the batch below it (`Metered`) still holds
        // the reply, so flush that directly.
        let _ = ws.get_mut().flush().await;
    };
    flush
        .or(async {
            Timer::after(CLOSE_LINGER).await;
        })
        .await;
}

/// Counts a session's end, and watches the eviction rate.
pub(super) fn count(shared: &Shared, end: &End) {
    match *end {
        End::Close(close) => {
            shared.metrics.close(Some(close.code()), true);
            if matches!(close, Close::TooSlow | Close::WriteStalled) {
                shared.alerts.eviction();
            }
        }
        End::Peer(code) => shared.metrics.close(code, false),
    }
}
