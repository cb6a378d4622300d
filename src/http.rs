//! HTTP/1.1 request heads and the few responses the server sends.
//!
//! The server reads the request head itself, over the TLS stream, instead of
//! letting async-tungstenite do it, so every refusal (PROTOCOL.md section 2)
//! can be answered with the exact status the contract names before any
//! WebSocket machinery runs. The grammar is `httparse`'s (already in the
//! tree through tungstenite); this module adds the bounds (bytes, fields,
//! a linear search for the end) and the strict rules a proxy in front of
//! us might read differently.
//!
//! - [`read_head`] reads at most [`MAX_HEAD_BYTES`] and hands back any bytes
//!   that arrived after the head; the caller applies the deadline.
//! - [`parse_head`] is pure: no I/O, no panics, so it can be fuzzed directly.
//! - [`response`], [`refusal`] and [`switching_protocols`] build the bytes the
//!   server writes back; every response closes the connection.

// Peer-controlled bytes pass through here: no panicking shortcuts.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)
)]

use std::fmt;
use std::io;

use smol::io::{AsyncRead, AsyncReadExt};

/// The largest request head accepted, terminating blank line included.
///
/// A WebSocket upgrade with a PASETO token is well under 2 KiB; 8 KiB leaves
/// room for browsers' extra headers while bounding what a peer can make the
/// server hold before it has proven anything.
pub const MAX_HEAD_BYTES: usize = 8192;

/// The most header fields accepted in one request head.
///
/// Bounds the work and allocations per request independently of byte size
/// (many tiny headers are cheap to send and costly to store).
pub const MAX_HEADERS: usize = 32;

/// [`read_head`]'s first buffer: an idle peer costs 1 KiB, not the whole cap.
const INITIAL_BUFFER: usize = 1024;

/// The protocol version in the request line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `HTTP/1.0`: parsed only so the handshake can refuse it with a 400.
    Http10,
    /// `HTTP/1.1`, the only version that can upgrade to WebSocket.
    Http11,
}

/// A parsed request head: request line and header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method, case preserved (methods are case-sensitive).
    pub method: String,
    /// The origin-form request target: path and optional query.
    pub target: String,
    /// The protocol version.
    pub version: Version,
    /// Header fields in order: names lowercased, values trimmed of OWS.
    headers: Vec<(String, String)>,
}

impl RequestHead {
    /// The first value of header `name` (give it in lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers(name).next()
    }

    /// Every value of header `name` (give it in lowercase), in order.
    ///
    /// Comma-separated list headers may be split over several fields, and
    /// single-valued ones must be checked for duplicates: both need all.
    pub fn headers<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The target's path: everything before the first `?`.
    pub fn path(&self) -> &str {
        self.target
            .split_once('?')
            .map_or(self.target.as_str(), |(p, _)| p)
    }

    /// The target's query: everything after the first `?`, if there is one.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }
}

/// Why a request head could not be read or parsed.
///
/// Every variant ends the connection; [`HeadError::status`] says what to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeadError {
    /// The peer closed the connection before the head ended.
    Eof,
    /// Reading failed.
    Io(io::ErrorKind),
    /// The head did not end within [`MAX_HEAD_BYTES`].
    TooLarge,
    /// More than [`MAX_HEADERS`] header fields.
    TooManyHeaders,
    /// The buffer given to [`parse_head`] does not end with CRLF CRLF.
    Unterminated,
    /// A line ends in LF without CR, or a CR stands alone.
    BareLf,
    /// The request line is not `METHOD SP /target SP HTTP/1.x`.
    RequestLine,
    /// A header line starts with whitespace (obsolete line folding).
    ObsFold,
    /// A header name is empty, is not a token, or is not followed by `:`.
    HeaderName,
    /// A header value has a control byte or is not valid UTF-8.
    HeaderValue,
}

impl HeadError {
    /// The status to answer with, or `None` when the peer is gone or broke
    /// the transport and no response can be delivered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Eof | Self::Io(_) => None,
            // PROTOCOL.md lists 400 for every malformed head; 431 would be
            // the finer HTTP answer, but clients are promised only 400.
            _ => Some(400),
        }
    }
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Eof => f.write_str("connection closed before the request head ended"),
            Self::Io(kind) => write!(f, "reading the request head failed: {kind}"),
            Self::TooLarge => write!(f, "request head longer than {MAX_HEAD_BYTES} bytes"),
            Self::TooManyHeaders => write!(f, "more than {MAX_HEADERS} header fields"),
            Self::Unterminated => f.write_str("request head does not end with an empty line"),
            Self::BareLf => f.write_str("line not terminated by CRLF"),
            Self::RequestLine => f.write_str("malformed request line"),
            Self::ObsFold => f.write_str("folded header line"),
            Self::HeaderName => f.write_str("malformed header name"),
            Self::HeaderValue => f.write_str("malformed header value"),
        }
    }
}

impl std::error::Error for HeadError {}

/// RFC 7230 `tchar`: what methods and header names are made of.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// Bytes allowed in a header value: visible ASCII, SP, HTAB and obs-text.
fn is_value_byte(b: u8) -> bool {
    matches!(b, b'\t' | b' '..=b'~' | 0x80..=0xFF)
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let Some((b' ' | b'\t', rest)) = s.split_first() {
        s = rest;
    }
    while let Some((b' ' | b'\t', rest)) = s.split_last() {
        s = rest;
    }
    s
}

/// Parses a request head: `buf` runs up to and including the CRLF CRLF that
/// ends it (as [`read_head`] delivers it).
///
/// The grammar (request line, tokens, header fields) is `httparse`'s, the
/// parser tungstenite and hyper use. Around it, what a lenient parser might
/// read differently from a proxy in front of us is refused before or after
/// it: bare LF or CR (httparse accepts LF alone), folded lines, empty lines
/// before the request line, targets that are not origin-form (`http://…`,
/// `*`) or not visible ASCII, and header values that are not UTF-8.
///
/// # Errors
/// A [`HeadError`] naming the first rule broken.
pub fn parse_head(buf: &[u8]) -> Result<RequestHead, HeadError> {
    if !buf.ends_with(b"\r\n\r\n") {
        return Err(HeadError::Unterminated);
    }
    check_line_ends(buf)?;
    if buf.starts_with(b"\r\n") {
        return Err(HeadError::RequestLine);
    }
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut fields);
    let parsed = match request.parse(buf) {
        Ok(httparse::Status::Complete(end)) => end,
        // Complete input that httparse still finds partial: no request line.
        Ok(httparse::Status::Partial) => return Err(HeadError::RequestLine),
        Err(e) => return Err(classify(buf, e)),
    };
    // httparse stops at the first empty line: one before the end is an
    // empty header line.
    if parsed != buf.len() {
        return Err(HeadError::HeaderName);
    }
    let (Some(method), Some(target), Some(minor)) = (request.method, request.path, request.version)
    else {
        return Err(HeadError::RequestLine);
    };
    let version = match minor {
        1 => Version::Http11,
        0 => Version::Http10,
        _ => return Err(HeadError::RequestLine),
    };
    if !target.starts_with('/') || !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(HeadError::RequestLine);
    }
    let headers = request
        .headers
        .iter()
        .map(|h| {
            let value = trim_ows(h.value);
            if !value.iter().all(|&b| is_value_byte(b)) {
                return Err(HeadError::HeaderValue);
            }
            // obs-text is allowed by RFC 7230, but only as UTF-8: handlers
            // get `&str`.
            let value = std::str::from_utf8(value).map_err(|_| HeadError::HeaderValue)?;
            Ok((h.name.to_ascii_lowercase(), value.to_owned()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RequestHead {
        method: method.to_owned(),
        target: target.to_owned(),
        version,
        headers,
    })
}

/// Every LF must follow a CR and every CR precede an LF; no line after the
/// request line may start with whitespace (obsolete folding). One pass.
fn check_line_ends(buf: &[u8]) -> Result<(), HeadError> {
    let mut previous = None;
    for (i, &b) in buf.iter().enumerate() {
        match (previous, b) {
            (Some(b'\r'), b'\n') => {
                if matches!(buf.get(i + 1), Some(b' ' | b'\t')) {
                    return Err(HeadError::ObsFold);
                }
            }
            (Some(b'\r'), _) | (_, b'\n') => return Err(HeadError::BareLf),
            _ => {}
        }
        previous = Some(b);
    }
    // The buffer ends in CRLF, so a last lone CR cannot be left over.
    Ok(())
}

/// Names the rule an httparse error broke: a request line that does not
/// parse on its own is [`HeadError::RequestLine`], whatever httparse
/// called the byte it stopped at; past it, the error is the field's.
fn classify(buf: &[u8], e: httparse::Error) -> HeadError {
    let line_end = buf
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(buf.len());
    let mut alone = buf.get(..line_end).unwrap_or_default().to_vec();
    alone.extend_from_slice(b"\r\n\r\n");
    let mut none = [httparse::EMPTY_HEADER; 0];
    if httparse::Request::new(&mut none).parse(&alone).is_err() {
        return HeadError::RequestLine;
    }
    match e {
        httparse::Error::TooManyHeaders => HeadError::TooManyHeaders,
        httparse::Error::HeaderValue => HeadError::HeaderValue,
        _ => HeadError::HeaderName,
    }
}

/// Reads one request head from `r`.
///
/// Returns the parsed head and the bytes that arrived after it (a client may
/// pipeline; the WebSocket layer must see them first). The buffer starts
/// small and doubles up to [`MAX_HEAD_BYTES`]; each read is searched for the
/// terminator only where it could newly complete, so a peer trickling bytes
/// one at a time costs linear, not quadratic, work.
///
/// # Errors
/// [`HeadError::Eof`], [`HeadError::Io`], [`HeadError::TooLarge`], or what
/// [`parse_head`] finds. Deadlines are the caller's job.
pub async fn read_head<R: AsyncRead + Unpin>(
    r: &mut R,
) -> Result<(RequestHead, Vec<u8>), HeadError> {
    let mut buf = vec![0u8; INITIAL_BUFFER];
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            if buf.len() >= MAX_HEAD_BYTES {
                return Err(HeadError::TooLarge);
            }
            buf.resize((buf.len() * 2).min(MAX_HEAD_BYTES), 0);
        }
        let spare = buf.get_mut(filled..).unwrap_or_default();
        let n = match r.read(spare).await {
            Ok(0) => return Err(HeadError::Eof),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(HeadError::Io(e.kind())),
        };
        // A terminator can straddle the previous read: back up three bytes.
        let from = filled.saturating_sub(3);
        filled = (filled + n).min(buf.len());
        let window = buf.get(from..filled).unwrap_or_default();
        if let Some(at) = window.windows(4).position(|w| w == b"\r\n\r\n") {
            let end = from + at + 4;
            let head = parse_head(buf.get(..end).unwrap_or_default())?;
            let leftover = buf.get(end..filled).unwrap_or_default().to_vec();
            return Ok((head, leftover));
        }
    }
}

mod response;

pub use response::{
    asset, reason_phrase, refusal, response, switching_protocols, CONTENT_SECURITY_POLICY,
};

#[cfg(test)]
mod tests;
