//! A small Rust client: connects over WSS, sends [`ClientFrame`]s and
//! receives [`ServerFrame`]s. Used by `examples/chat/` and the tests.
//!
//! [`Client::send`] sends any frame; [`Client::presence`] and
//! [`Client::publish_once`] spell out the two requests whose answers need
//! care: `Presence` is answered by [`ServerFrame::Members`] (its `users`
//! already checked: at most 256 distinct names in byte order), and a
//! `PublishOnce` retried with the same key after a reconnect or an
//! `Error{Unavailable}` gets the first publish's `Ack` and no second
//! `Message`. [`ServerFrame::MemberJoined`] and [`ServerFrame::MemberLeft`]
//! arrive through [`Client::recv`] like every other frame.
//!
//! Two state helpers carry a user across connections: [`Resume`] (the
//! last seq seen per room, the `Join{since}` frames a reconnect sends, and
//! whether messages were lost meanwhile) and [`Outbox`] (`PublishOnce`
//! with a random key kept until the `Ack` and resent after a reconnect).
//!
//! ```no_run
//! # async fn demo() -> Result<(), palisade::client::ClientError> {
//! use palisade::client::{Client, Connect};
//! use palisade::protocol::{ClientFrame, RoomName};
//! let tls = palisade::tls::client_config(std::path::Path::new("ca.pem")).unwrap();
//! let mut client = Client::connect(Connect::new("wss://localhost:8443/ws", tls, "v4.public...")).await?;
//! client.send(&ClientFrame::Join { room: RoomName::new("lobby").unwrap(), since: None }).await?;
//! let welcome = client.recv().await?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;

mod outbox;
mod resume;

pub use outbox::{Outbox, OutboxError, Refusal, Unacked, MAX_UNACKED};
pub use resume::{Joined, Resume, Seen};

use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::http::HeaderValue;
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use async_tungstenite::tungstenite::{Error as WsError, Message};
use async_tungstenite::WebSocketStream;
use futures_rustls::client::TlsStream;
use futures_rustls::TlsConnector;
use futures_util::StreamExt;
use rustls::pki_types::ServerName;
use smol::net::TcpStream;

use crate::protocol::{
    client_to_vec, decode_server, Body, ClientFrame, DecodeError, RoomName, ServerFrame,
    BEARER_PREFIX, SUBPROTOCOL,
};

/// Where the token goes in the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenPlacement {
    /// `Authorization: Bearer <token>` (native clients).
    Header,
    /// A `bearer.<token>` entry in `Sec-WebSocket-Protocol` (what browsers do).
    Subprotocol,
}

/// How to connect.
#[derive(Clone)]
pub struct Connect {
    /// `wss://host:port/path`.
    pub url: String,
    /// TLS settings; [`crate::tls::client_config`] trusts one CA file.
    pub tls: Arc<rustls::ClientConfig>,
    /// The PASETO token.
    pub token: String,
    /// Where the token goes.
    pub placement: TokenPlacement,
    /// An `Origin` header to send (browsers always send one).
    pub origin: Option<String>,
}

impl fmt::Debug for Connect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connect")
            .field("url", &self.url)
            .field("token", &"<redacted>")
            .field("placement", &self.placement)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl Connect {
    /// Connect to `url` with `token` in the `Authorization` header.
    pub fn new(url: &str, tls: Arc<rustls::ClientConfig>, token: &str) -> Self {
        Self {
            url: url.to_owned(),
            tls,
            token: token.to_owned(),
            placement: TokenPlacement::Header,
            origin: None,
        }
    }
}

/// What went wrong on the client side.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// The URL is not `wss://host:port/path`.
    Url(String),
    /// TCP or TLS failed.
    Io(std::io::Error),
    /// The server refused the upgrade with this HTTP status and body.
    Refused {
        /// The HTTP status.
        status: u16,
        /// The body (a short reason).
        body: String,
    },
    /// The WebSocket layer failed.
    WebSocket(WsError),
    /// The server sent bytes that are not a frame.
    Decode(DecodeError),
    /// The server sent a text message, which the protocol never does.
    UnexpectedText,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Url(u) => write!(f, "not a wss:// URL: {u}"),
            Self::Io(e) => write!(f, "connection failed: {e}"),
            Self::Refused { status, body } => write!(f, "refused with {status}: {}", body.trim()),
            Self::WebSocket(e) => write!(f, "websocket: {e}"),
            Self::Decode(e) => write!(f, "bad frame from server: {e}"),
            Self::UnexpectedText => f.write_str("server sent a text message"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<WsError> for ClientError {
    fn from(e: WsError) -> Self {
        match e {
            WsError::Http(response) => Self::Refused {
                status: response.status().as_u16(),
                body: response
                    .body()
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default(),
            },
            WsError::Io(e) => Self::Io(e),
            other => Self::WebSocket(other),
        }
    }
}

/// What [`Client::recv`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A frame from the server.
    Frame(ServerFrame),
    /// The server closed the connection with this code and reason.
    Closed {
        /// The close code (section 5), or 1005
        /// ([`close::NO_STATUS`](crate::protocol::close::NO_STATUS)) when
        /// none was sent.
        code: u16,
        /// The close reason.
        reason: String,
    },
}

/// A connected client.
#[derive(Debug)]
pub struct Client {
    ws: WebSocketStream<TlsStream<TcpStream>>,
}

/// Splits `wss://host:port/path` into host, port and path.
fn parse_url(url: &str) -> Option<(String, u16, String)> {
    let rest = url.strip_prefix("wss://")?;
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, "/"),
    };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None => 443,
        };
        (host.to_owned(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), p.parse().ok()?),
            None => (authority.to_owned(), 443),
        }
    };
    (!host.is_empty()).then(|| (host, port, path.to_owned()))
}

impl Client {
    /// Opens a WSS connection and completes the `palisade.v1` handshake.
    ///
    /// # Errors
    /// [`ClientError::Refused`] carries the HTTP status of a refusal.
    pub async fn connect(opts: Connect) -> Result<Self, ClientError> {
        let (host, port, _) =
            parse_url(&opts.url).ok_or_else(|| ClientError::Url(opts.url.clone()))?;
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(ClientError::Io)?;
        let _ = tcp.set_nodelay(true);
        let name =
            ServerName::try_from(host.clone()).map_err(|_| ClientError::Url(opts.url.clone()))?;
        let tls = TlsConnector::from(opts.tls.clone())
            .connect(name, tcp)
            .await
            .map_err(ClientError::Io)?;
        let mut request = opts.url.as_str().into_client_request()?;
        let headers = request.headers_mut();
        let protocols = match opts.placement {
            TokenPlacement::Header => SUBPROTOCOL.to_owned(),
            TokenPlacement::Subprotocol => format!("{SUBPROTOCOL}, {BEARER_PREFIX}{}", opts.token),
        };
        let bad_header = |_| ClientError::Url("token or origin is not a valid header value".into());
        headers.insert(
            "sec-websocket-protocol",
            HeaderValue::from_str(&protocols).map_err(bad_header)?,
        );
        if opts.placement == TokenPlacement::Header {
            let value = format!("Bearer {}", opts.token);
            headers.insert(
                "authorization",
                HeaderValue::from_str(&value).map_err(bad_header)?,
            );
        }
        if let Some(origin) = &opts.origin {
            headers.insert("origin", HeaderValue::from_str(origin).map_err(bad_header)?);
        }
        let mut config = WebSocketConfig::default();
        config.read_buffer_size = 16 * 1024;
        let (ws, _response) =
            async_tungstenite::client_async_with_config(request, tls, Some(config)).await?;
        Ok(Self { ws })
    }

    /// Sends one frame.
    ///
    /// # Errors
    /// The connection failed or is closed.
    pub async fn send(&mut self, frame: &ClientFrame) -> Result<(), ClientError> {
        self.send_raw(Message::Binary(client_to_vec(frame).into()))
            .await
    }

    /// Asks who is in `room` (joined first); the answer is a
    /// [`ServerFrame::Members`] from [`Client::recv`], or `Error{NotJoined}`.
    ///
    /// # Errors
    /// The connection failed or is closed.
    pub async fn presence(&mut self, room: &RoomName) -> Result<(), ClientError> {
        self.send(&ClientFrame::Presence { room: room.clone() })
            .await
    }

    /// Publishes `body` into `room` at most once per `key` (per room and
    /// user): send the same `key` again after a reconnect or an
    /// `Error{Unavailable}`, and a publish the server already accepted is
    /// answered with its original `Ack` instead of a second message. `id`
    /// is echoed in the `Ack` or `Error`, like [`ClientFrame::Publish`]'s.
    ///
    /// # Errors
    /// The connection failed or is closed.
    pub async fn publish_once(
        &mut self,
        id: u32,
        key: u64,
        room: &RoomName,
        body: Body,
    ) -> Result<(), ClientError> {
        self.send(&ClientFrame::PublishOnce {
            id,
            key,
            room: room.clone(),
            body,
        })
        .await
    }

    /// Sends any WebSocket message, valid or not (tests use this to misbehave).
    ///
    /// # Errors
    /// The connection failed or is closed.
    #[doc(hidden)]
    pub async fn send_raw(&mut self, message: Message) -> Result<(), ClientError> {
        Ok(self.ws.send(message).await?)
    }

    /// Waits for the next frame or the close.
    ///
    /// # Errors
    /// The connection broke without a close frame, or the server sent
    /// something that is not a frame.
    pub async fn recv(&mut self) -> Result<Event, ClientError> {
        loop {
            match self.ws.next().await {
                None => return Err(ClientError::WebSocket(WsError::ConnectionClosed)),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(Message::Binary(bytes))) => {
                    return decode_server(&bytes)
                        .map(Event::Frame)
                        .map_err(ClientError::Decode)
                }
                Some(Ok(Message::Close(frame))) => {
                    return Ok(match frame {
                        Some(f) => Event::Closed {
                            code: f.code.into(),
                            reason: f.reason.to_string(),
                        },
                        None => Event::Closed {
                            code: crate::protocol::close::NO_STATUS,
                            reason: String::new(),
                        },
                    })
                }
                Some(Ok(Message::Text(_))) => return Err(ClientError::UnexpectedText),
                Some(Ok(_)) => {}
            }
        }
    }

    /// Closes the connection normally (1000).
    ///
    /// # Errors
    /// The connection already failed.
    pub async fn close(mut self) -> Result<(), ClientError> {
        self.ws.close(None).await?;
        while let Some(Ok(_)) = self.ws.next().await {}
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::parse_url;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("wss://localhost:8443/ws"),
            Some(("localhost".into(), 8443, "/ws".into()))
        );
        assert_eq!(
            parse_url("wss://[::1]:9/ws"),
            Some(("::1".into(), 9, "/ws".into()))
        );
        assert_eq!(parse_url("wss://h"), Some(("h".into(), 443, "/".into())));
        assert_eq!(parse_url("ws://h/ws"), None);
        assert_eq!(parse_url("wss://:1/ws"), None);
    }
}
