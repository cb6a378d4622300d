//! Small pieces of operating the server that the connection and session
//! code call into: `/healthz` during a drain, the client-certificate
//! subject check, and what a session's end counts.

use std::sync::atomic::Ordering;

use futures_rustls::server::TlsStream;
use smol::net::TcpStream;

use super::Shared;
use crate::http;
use crate::tls::x509;

/// The 403 reason when `require_cert_subject_match` fails.
pub(crate) const SUBJECT_MISMATCH: &str = "client certificate does not match token subject";

/// `/healthz`: 200 `ok`, or 503 `draining` once shutdown has started (only
/// connections already in their handshake can still ask).
pub(crate) fn health(shared: &Shared) -> Vec<u8> {
    let text = "text/plain; charset=utf-8";
    if shared.draining.load(Ordering::Acquire) {
        http::response(503, text, b"draining\n", &[])
    } else {
        http::response(200, text, b"ok", &[])
    }
}

/// Whether the client certificate's CN or a DNS name equals `user` (the
/// token's `sub`). rustls has already verified the chain; without a
/// certificate (or one this walk cannot read) the answer is no.
pub(crate) fn cert_names(tls: &TlsStream<TcpStream>, user: &str) -> bool {
    tls.get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|leaf| x509::parse(leaf).ok())
        .is_some_and(|info| info.names_subject(user))
}

impl Shared {
    /// Counts a session's end, and watches the eviction rate.
    pub(crate) fn session_closed(&self, code: Option<u16>, by_server: bool) {
        self.metrics.close(code, by_server);
        if by_server && code == Some(crate::protocol::close::TOO_SLOW) {
            self.alerts.eviction();
        }
    }
}
