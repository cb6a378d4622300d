//! Routing and the WebSocket upgrade checks (PROTOCOL.md sections 1 and 2).
//!
//! Pure: [`route`] looks at a parsed [`RequestHead`] and decides, without I/O
//! and without touching the token's signature. The checks run cheapest first,
//! numbered as the contract's list in section 2 numbers them, and the first
//! that fails picks the status:
//!
//! 1. capacity and bans (`503`, `429`): the caller's, before this module,
//!    from the connection's permit (`server/connection.rs`);
//! 2. route and upgrade form: `404`, `400`;
//! 3. `Origin`: `403`;
//! 4. subprotocol and token placement: `400`;
//! 5. the token: here only its absence (`401`); verifying it (`401` for a
//!    bad one) is the caller's, and so is check 6 (the client certificate's
//!    subject, `403`) and writing
//!    [`switching_protocols`](crate::http::switching_protocols).

// Peer-controlled bytes pass through here: no panicking shortcuts.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)
)]

use std::fmt;

use async_tungstenite::tungstenite::handshake::derive_accept_key;

use crate::http::{refusal, RequestHead, Version};
use crate::protocol::{BEARER_PREFIX, SUBPROTOCOL};

/// The path of the messaging endpoint.
pub const WS_PATH: &str = "/ws";

/// The path of the health check.
pub const HEALTH_PATH: &str = "/healthz";

/// What to do with a request.
///
/// Everything that is not served is a [`Refusal`] (404 included), so the
/// caller answers all of them the same way: `refusal(r.status, r.reason)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A well-formed upgrade carrying one token: verify it, then send 101.
    Upgrade(Upgrade),
    /// `GET /healthz`: answer `200 ok` while accepting connections.
    Health,
    /// `GET` of a file of the browser page.
    Page(&'static crate::web::Asset),
    /// Answer with this status and reason, then close.
    Refused(Refusal),
}

/// An upgrade that passed every check but the token's own.
#[derive(Clone, PartialEq, Eq)]
pub struct Upgrade {
    /// The token, from `Authorization: Bearer` or a `bearer.` subprotocol.
    pub token: String,
    /// The `Sec-WebSocket-Accept` value for the 101.
    pub accept: String,
    /// The `Origin`, present only when it is on the allowlist.
    pub origin: Option<String>,
}

/// Hand-written so that logging an `Upgrade` never logs a credential.
impl fmt::Debug for Upgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upgrade")
            .field("token", &"<redacted>")
            .field("accept", &self.accept)
            .field("origin", &self.origin)
            .finish()
    }
}

/// A refusal: an HTTP status and a short fixed reason.
///
/// `reason` is `&'static str` so it can never carry request data, and so
/// never the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// The status: 400, 401, 403 or 404.
    pub status: u16,
    /// The one-line `text/plain` body.
    pub reason: &'static str,
}

impl Refusal {
    const fn new(status: u16, reason: &'static str) -> Self {
        Self { status, reason }
    }

    /// The response bytes, as [`refusal`] builds them.
    pub fn to_bytes(&self) -> Vec<u8> {
        refusal(self.status, self.reason)
    }
}

const NOT_FOUND: Refusal = Refusal::new(404, "not found");
const NOT_UPGRADE: Refusal = Refusal::new(400, "not a websocket upgrade");
const MALFORMED: Refusal = Refusal::new(400, "malformed headers");
const BAD_VERSION: Refusal = Refusal::new(400, "websocket version must be 13");
const BAD_KEY: Refusal = Refusal::new(400, "bad sec-websocket-key");
const HAS_BODY: Refusal = Refusal::new(400, "upgrade request with a body");
const NO_HOST: Refusal = Refusal::new(400, "no host header");
const ORIGIN: Refusal = Refusal::new(403, "origin not allowed");
const NO_SUBPROTOCOL: Refusal = Refusal::new(400, "palisade.v1 subprotocol not offered");
const TOKEN_IN_QUERY: Refusal = Refusal::new(400, "token in query string");
const TWO_TOKENS: Refusal = Refusal::new(400, "two tokens");
const MALFORMED_TOKEN: Refusal = Refusal::new(400, "malformed token");
const NO_TOKEN: Refusal = Refusal::new(401, "no token");

/// Headers that must appear at most once: two `Host`s or two `Origin`s could
/// be read differently by a proxy and by us, and two keys or two
/// `Authorization`s make the request ambiguous.
const SINGLE_HEADERS: [&str; 5] = [
    "host",
    "origin",
    "sec-websocket-key",
    "sec-websocket-version",
    "authorization",
];

/// Routes a request head and runs the upgrade checks on `/ws`.
///
/// `allowed_origins` are compared byte for byte with `Origin`: no
/// normalisation (`https://a.example:443` is not `https://a.example`), no
/// case folding, no wildcards. An empty list refuses every `Origin`.
///
/// `GET /` and the page's files are the browser page. Anything but `GET` on
/// `/healthz` is 404 ("anything else" in PROTOCOL.md section 1); anything
/// but `GET` on `/ws` is 400, as the contract lists it under "not a
/// WebSocket upgrade".
pub fn route(head: &RequestHead, allowed_origins: &[String]) -> Route {
    match head.path() {
        HEALTH_PATH if head.method == "GET" => Route::Health,
        path if head.method == "GET" && crate::web::find(path).is_some() => {
            crate::web::find(path).map_or(Route::Refused(NOT_FOUND), Route::Page)
        }
        WS_PATH => upgrade(head, allowed_origins).map_or_else(Route::Refused, Route::Upgrade),
        _ => Route::Refused(NOT_FOUND),
    }
}

fn upgrade(head: &RequestHead, allowed_origins: &[String]) -> Result<Upgrade, Refusal> {
    // 2. Route (above, in `route`) and upgrade form.
    if head.version != Version::Http11 || head.method != "GET" {
        return Err(NOT_UPGRADE);
    }
    if SINGLE_HEADERS
        .iter()
        .any(|h| head.headers(h).nth(1).is_some())
    {
        return Err(MALFORMED);
    }
    if !list_has(head, "upgrade", "websocket") || !list_has(head, "connection", "upgrade") {
        return Err(NOT_UPGRADE);
    }
    // A body would be read as WebSocket bytes after the 101: whatever a
    // proxy made of it, the two would disagree on where frames start.
    if head.header("transfer-encoding").is_some()
        || head.headers("content-length").any(|v| v != "0")
    {
        return Err(HAS_BODY);
    }
    if head.header("sec-websocket-version") != Some("13") {
        return Err(BAD_VERSION);
    }
    let key = head.header("sec-websocket-key").unwrap_or_default();
    if !is_websocket_key(key) {
        return Err(BAD_KEY);
    }
    if head.header("host").is_none_or(str::is_empty) {
        return Err(NO_HOST);
    }
    // 3. Origin.
    let origin = head.header("origin");
    if let Some(origin) = origin {
        if !allowed_origins.iter().any(|a| a == origin) {
            return Err(ORIGIN);
        }
    }
    // 4. Subprotocol and token placement.
    let entries = || list(head, "sec-websocket-protocol");
    if !entries().any(|e| e == SUBPROTOCOL) {
        return Err(NO_SUBPROTOCOL);
    }
    if head.query().is_some_and(query_has_token) {
        return Err(TOKEN_IN_QUERY);
    }
    let mut tokens = entries().filter_map(|e| e.strip_prefix(BEARER_PREFIX));
    let offered = tokens.next();
    if tokens.next().is_some() {
        return Err(TWO_TOKENS);
    }
    let authorization = head.header("authorization").and_then(bearer);
    let token = match (authorization, offered) {
        (Some(_), Some(_)) => return Err(TWO_TOKENS),
        (Some(t), None) | (None, Some(t)) => t,
        // 5. The token: none at all (the caller verifies one that is there).
        (None, None) => return Err(NO_TOKEN),
    };
    if token.is_empty() || token.contains([' ', '\t']) {
        return Err(MALFORMED_TOKEN);
    }
    Ok(Upgrade {
        token: token.to_owned(),
        accept: derive_accept_key(key.as_bytes()),
        origin: origin.map(str::to_owned),
    })
}

/// Every non-empty, trimmed entry of the comma-separated header `name`, over
/// all its fields (RFC 7230 lets a list be split across fields).
fn list<'a>(head: &'a RequestHead, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    head.headers(name)
        .flat_map(|v| v.split(','))
        .map(|e| e.trim_matches([' ', '\t']))
        .filter(|e| !e.is_empty())
}

/// Whether list header `name` has `token`, compared case-insensitively.
fn list_has(head: &RequestHead, name: &str, token: &str) -> bool {
    list(head, name).any(|e| e.eq_ignore_ascii_case(token))
}

/// The token of `Authorization: Bearer <token>`, or `None` for another
/// scheme (which the server does not use, so it is as good as no token).
///
/// `Bearer` alone or `Bearer` followed only by spaces yields `Some("")`,
/// which the caller refuses as malformed rather than as missing.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim_start_matches(' '))
}

/// A strict `Sec-WebSocket-Key` check: the canonical base64 of 16 bytes.
///
/// 16 bytes are 22 base64 digits and `==`; the last digit holds only 2
/// bits of data, so its low 4 bits must be zero (`A`, `Q`, `g` or `w`).
fn is_websocket_key(key: &str) -> bool {
    let Some(digits) = key.strip_suffix("==") else {
        return false;
    };
    digits.len() == 22
        && digits.bytes().all(|b| base64_value(b).is_some())
        && digits
            .bytes()
            .last()
            .and_then(base64_value)
            .is_some_and(|v| v & 0x0F == 0)
}

fn base64_value(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Query parameter names that mean "here is a credential".
const TOKEN_PARAMS: [&str; 7] = [
    "token",
    "access_token",
    "auth",
    "authorization",
    "bearer",
    "paseto",
    "jwt",
];

/// Whether the query carries a token (PROTOCOL.md section 2: URLs end up in
/// logs and browser history, so a token there is refused, not ignored).
///
/// The query is refused when, after percent-decoding, a parameter name is
/// one of [`TOKEN_PARAMS`] (case-insensitively), or `v4.public.` (a PASETO
/// token) or `bearer.` (our subprotocol form) appears anywhere in it,
/// case-insensitively: not only at the start of a value, so `a=1;token=…`,
/// `q=Bearer+…`, `a=x,…` and `q=my…` are refused too. Decoding first stops
/// `%74oken=` from slipping by. Other parameters are allowed and ignored.
fn query_has_token(query: &str) -> bool {
    let decoded = percent_decode(query);
    contains_ignore_case(&decoded, b"v4.public.")
        || contains_ignore_case(&decoded, BEARER_PREFIX.as_bytes())
        || query.split(['&', ';']).any(|pair| {
            let name = pair.split_once('=').map_or(pair, |(name, _)| name);
            let name = percent_decode(name);
            TOKEN_PARAMS
                .iter()
                .any(|p| name.eq_ignore_ascii_case(p.as_bytes()))
        })
}

fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Percent-decodes `s` (and `+` to space); a `%` without two hex digits
/// stays as it is. Only used to look for tokens, never to route.
fn percent_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut rest = s.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        if let (b'%', [hi, lo, after @ ..]) = (b, tail) {
            if let (Some(hi), Some(lo)) = (hex_value(*hi), hex_value(*lo)) {
                out.push(hi << 4 | lo);
                rest = after;
                continue;
            }
        }
        out.push(if b == b'+' { b' ' } else { b });
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests;
