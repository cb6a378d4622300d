//! HTTP answers: every one ends the connection and carries the same
//! hardening headers.

use super::is_token;
use crate::protocol::SUBPROTOCOL;

/// The reason phrase of the statuses the server uses; "" (allowed) for others.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// A CR or LF in a field would let it inject headers or a body.
fn field_is_safe(name: &str, value: &str) -> bool {
    is_token(name.as_bytes()) && !value.bytes().any(|b| b == b'\r' || b == b'\n')
}

fn push_field(out: &mut Vec<u8>, name: &str, value: &str) {
    debug_assert!(field_is_safe(name, value), "unsafe header field {name}");
    if field_is_safe(name, value) {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// The Content-Security-Policy of every answer: exactly what the browser
/// page needs (its own scripts, styles and WebSocket), nothing inline, no
/// eval, no framing. Plain-text answers are covered too, harmlessly.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; \
frame-ancestors 'none'";

/// A complete response that ends the connection (`Connection: close`).
///
/// Every response carries the same hardening headers: nothing is cached,
/// sniffed into another type or leaked in a Referer, browsers keep to HTTPS,
/// and the CSP above applies. Fields with CR or LF in them are dropped
/// (they are never built from request data, so that is a bug, and it panics
/// in debug builds).
pub fn response(
    status: u16,
    content_type: &str,
    body: &[u8],
    extra_headers: &[(&str, &str)],
) -> Vec<u8> {
    build(status, content_type, body, "no-store", extra_headers)
}

/// A `200` for a static asset of the browser page, cacheable as
/// `cache_control` says.
pub fn asset(content_type: &str, body: &[u8], cache_control: &str) -> Vec<u8> {
    build(200, content_type, body, cache_control, &[])
}

fn build(
    status: u16,
    content_type: &str,
    body: &[u8],
    cache_control: &str,
    extra_headers: &[(&str, &str)],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(512 + body.len());
    out.extend_from_slice(format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status)).as_bytes());
    push_field(&mut out, "Content-Type", content_type);
    push_field(&mut out, "Content-Length", &body.len().to_string());
    push_field(&mut out, "Connection", "close");
    push_field(&mut out, "Cache-Control", cache_control);
    push_field(&mut out, "X-Content-Type-Options", "nosniff");
    push_field(&mut out, "Referrer-Policy", "no-referrer");
    push_field(&mut out, "Strict-Transport-Security", "max-age=31536000");
    push_field(&mut out, "Content-Security-Policy", CONTENT_SECURITY_POLICY);
    for (name, value) in extra_headers {
        push_field(&mut out, name, value);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// A refusal: `status` with `reason` as a one-line `text/plain` body.
///
/// `reason` must be one of the server's fixed phrases, never request data, so
/// a token cannot be echoed. A 401 carries `WWW-Authenticate: Bearer` and a
/// 405 `Allow: GET` (every route the server has is GET only), as RFC 9110
/// asks of those statuses.
pub fn refusal(status: u16, reason: &str) -> Vec<u8> {
    let body = format!("{reason}\n");
    let extra: &[(&str, &str)] = match status {
        401 => &[("WWW-Authenticate", "Bearer")],
        405 => &[("Allow", "GET")],
        _ => &[],
    };
    response(status, "text/plain; charset=utf-8", body.as_bytes(), extra)
}

/// The `101 Switching Protocols` answer to an accepted upgrade.
///
/// The subprotocol is always exactly `palisade.v1`: other offered entries
/// (including `bearer.<token>`) are never echoed, and no extension is
/// negotiated, so there is no `Sec-WebSocket-Extensions` field.
pub fn switching_protocols(accept: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(160);
    out.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\n");
    push_field(&mut out, "Upgrade", "websocket");
    push_field(&mut out, "Connection", "Upgrade");
    push_field(&mut out, "Sec-WebSocket-Accept", accept);
    push_field(&mut out, "Sec-WebSocket-Protocol", SUBPROTOCOL);
    out.extend_from_slice(b"\r\n");
    out
}
