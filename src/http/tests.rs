//! Tests for the request-head parser, the reader and the responses.

use std::pin::Pin;
use std::task::{Context, Poll};

use smol::io::{AsyncRead, Cursor};

use super::*;

fn parse(s: &str) -> Result<RequestHead, HeadError> {
    parse_head(s.as_bytes())
}

#[test]
fn parses_a_websocket_request() {
    let head = parse(
        "GET /ws?x=1 HTTP/1.1\r\nHost: a.example\r\nUpgrade:websocket\r\n\
         X-Two: a \t\r\nx-two:  b\r\nEmpty:\r\n\r\n",
    )
    .unwrap();
    assert_eq!(head.method, "GET");
    assert_eq!(head.target, "/ws?x=1");
    assert_eq!(head.version, Version::Http11);
    assert_eq!(head.path(), "/ws");
    assert_eq!(head.query(), Some("x=1"));
    assert_eq!(head.header("host"), Some("a.example"));
    assert_eq!(head.header("upgrade"), Some("websocket"));
    assert_eq!(head.headers("x-two").collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(head.header("empty"), Some(""));
    assert_eq!(head.header("missing"), None);
}

#[test]
fn path_and_query_without_question_mark() {
    let head = parse("GET /healthz HTTP/1.0\r\n\r\n").unwrap();
    assert_eq!(head.version, Version::Http10);
    assert_eq!(head.path(), "/healthz");
    assert_eq!(head.query(), None);
    let head = parse("GET /ws? HTTP/1.1\r\n\r\n").unwrap();
    assert_eq!(head.query(), Some(""));
}

#[test]
fn utf8_obs_text_is_kept() {
    let head = parse("GET / HTTP/1.1\r\nX-Name: caf\u{e9}\r\n\r\n").unwrap();
    assert_eq!(head.header("x-name"), Some("caf\u{e9}"));
}

#[test]
fn refuses_malformed_heads() {
    let cases: &[(&[u8], HeadError)] = &[
        (b"GET / HTTP/1.1\r\n", HeadError::Unterminated),
        (b"GET / HTTP/1.1\r\nHost: a\n\r\n\r\n", HeadError::BareLf),
        (b"GET / HTTP/1.1\nHost: a\r\n\r\n", HeadError::BareLf),
        (b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", HeadError::BareLf),
        (b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", HeadError::ObsFold),
        (b"GET / HTTP/1.1\r\n\tX: a\r\n\r\n", HeadError::ObsFold),
        (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", HeadError::HeaderName),
        (b"GET / HTTP/1.1\r\n: a\r\n\r\n", HeadError::HeaderName),
        (b"GET / HTTP/1.1\r\nHost a\r\n\r\n", HeadError::HeaderName),
        (b"GET / HTTP/1.1\r\n\r\n\r\n", HeadError::HeaderName),
        (b"GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", HeadError::HeaderValue),
        (
            b"GET / HTTP/1.1\r\nX: a\x7fb\r\n\r\n",
            HeadError::HeaderValue,
        ),
        (
            b"GET / HTTP/1.1\r\nX: \xff\xfe\r\n\r\n",
            HeadError::HeaderValue,
        ),
        (b"\r\n\r\n", HeadError::RequestLine),
        (b"GET /  HTTP/1.1\r\n\r\n", HeadError::RequestLine),
        (b"GET / HTTP/1.1 \r\n\r\n", HeadError::RequestLine),
        (b"GET / HTTP/2.0\r\n\r\n", HeadError::RequestLine),
        (b"GET http://a/ HTTP/1.1\r\n\r\n", HeadError::RequestLine),
        (b"GET * HTTP/1.1\r\n\r\n", HeadError::RequestLine),
        (b"G(T / HTTP/1.1\r\n\r\n", HeadError::RequestLine),
        (b" GET / HTTP/1.1\r\n\r\n", HeadError::RequestLine),
        (b"GET /\xc3\xa9 HTTP/1.1\r\n\r\n", HeadError::RequestLine),
        (b"GET /\0 HTTP/1.1\r\n\r\n", HeadError::RequestLine),
    ];
    for (input, want) in cases {
        assert_eq!(
            parse_head(input).err(),
            Some(*want),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

fn with_headers(n: usize) -> String {
    let mut s = String::from("GET / HTTP/1.1\r\n");
    for i in 0..n {
        s.push_str(&format!("X-{i}: v\r\n"));
    }
    s.push_str("\r\n");
    s
}

#[test]
fn header_count_is_capped() {
    assert!(parse(&with_headers(MAX_HEADERS)).is_ok());
    assert_eq!(
        parse(&with_headers(MAX_HEADERS + 1)).err(),
        Some(HeadError::TooManyHeaders)
    );
}

#[test]
fn statuses_for_errors() {
    assert_eq!(HeadError::Eof.status(), None);
    assert_eq!(HeadError::TooLarge.status(), Some(400));
    assert_eq!(HeadError::TooManyHeaders.status(), Some(400));
    assert_eq!(HeadError::ObsFold.status(), Some(400));
}

#[test]
fn read_head_returns_leftover_bytes() {
    let mut r = Cursor::new(b"GET /ws HTTP/1.1\r\nHost: a\r\n\r\n\x82\x01extra".to_vec());
    let (head, leftover) = smol::block_on(read_head(&mut r)).unwrap();
    assert_eq!(head.path(), "/ws");
    assert_eq!(leftover, b"\x82\x01extra");
}

#[test]
fn read_head_eof_before_end() {
    let mut r = Cursor::new(b"GET /ws HTTP/1.1\r\nHost: a\r\n".to_vec());
    assert_eq!(
        smol::block_on(read_head(&mut r)).err(),
        Some(HeadError::Eof)
    );
    let mut r = Cursor::new(Vec::new());
    assert_eq!(
        smol::block_on(read_head(&mut r)).err(),
        Some(HeadError::Eof)
    );
}

#[test]
fn read_head_caps_the_head() {
    // Exactly MAX_HEAD_BYTES, terminator included, is accepted.
    let start = "GET / HTTP/1.1\r\nX: ";
    let pad = MAX_HEAD_BYTES - start.len() - 4;
    let head = format!("{start}{}\r\n\r\n", "a".repeat(pad));
    assert_eq!(head.len(), MAX_HEAD_BYTES);
    let mut r = Cursor::new(head.into_bytes());
    assert!(smol::block_on(read_head(&mut r)).is_ok());

    let head = format!("{start}{}\r\n\r\n", "a".repeat(pad + 1));
    let mut r = Cursor::new(head.into_bytes());
    assert_eq!(
        smol::block_on(read_head(&mut r)).err(),
        Some(HeadError::TooLarge)
    );
    // An endless stream without a terminator stops at the cap too.
    let mut r = Cursor::new(vec![b'a'; 10 * MAX_HEAD_BYTES]);
    assert_eq!(
        smol::block_on(read_head(&mut r)).err(),
        Some(HeadError::TooLarge)
    );
}

#[test]
fn read_head_reports_parse_errors() {
    let mut r = Cursor::new(b"GET / HTTP/1.1\r\n X: a\r\n\r\n".to_vec());
    assert_eq!(
        smol::block_on(read_head(&mut r)).err(),
        Some(HeadError::ObsFold)
    );
}

/// Hands out its bytes `step` at a time, so terminators straddle reads.
struct Trickle {
    data: Vec<u8>,
    pos: usize,
    step: usize,
}

impl AsyncRead for Trickle {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        let n = self.step.min(buf.len()).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Poll::Ready(Ok(n))
    }
}

#[test]
fn read_head_finds_a_terminator_split_across_reads() {
    let data = b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\nrest".to_vec();
    for step in 1..=7 {
        let mut r = Trickle {
            data: data.clone(),
            pos: 0,
            step,
        };
        let (head, leftover) = smol::block_on(read_head(&mut r)).unwrap();
        assert_eq!(head.path(), "/healthz");
        // Whatever the read size, nothing after the head is lost.
        let mut rest = leftover;
        rest.extend_from_slice(&r.data[r.pos..]);
        assert_eq!(rest, b"rest", "step {step}");
    }
}

/// A head longer than the first buffer, read a byte at a time, grows the
/// buffer and still parses.
#[test]
fn read_head_grows_the_buffer() {
    let mut big = String::from("GET / HTTP/1.1\r\nX: ");
    big.push_str(&"b".repeat(3 * INITIAL_BUFFER));
    big.push_str("\r\n\r\n");
    let mut r = Trickle {
        data: big.into_bytes(),
        pos: 0,
        step: 1,
    };
    let (head, leftover) = smol::block_on(read_head(&mut r)).unwrap();
    assert_eq!(head.header("x").map(str::len), Some(3 * INITIAL_BUFFER));
    assert!(leftover.is_empty());
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

#[test]
fn response_bytes() {
    let r = response(200, "text/plain; charset=utf-8", b"ok\n", &[("X-A", "b")]);
    assert_eq!(
        text(&r),
        "HTTP/1.1 200 OK\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Length: 3\r\n\
         Connection: close\r\n\
         Cache-Control: no-store\r\n\
         X-Content-Type-Options: nosniff\r\n\
         Referrer-Policy: no-referrer\r\n\
         Strict-Transport-Security: max-age=31536000\r\n\
         Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; \
         connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'\r\n\
         X-A: b\r\n\
         \r\n\
         ok\n"
    );
}

#[test]
fn refusal_bytes() {
    let r = text(&refusal(401, "no token")).to_owned();
    assert!(r.starts_with("HTTP/1.1 401 Unauthorized\r\n"));
    assert!(r.contains("\r\nWWW-Authenticate: Bearer\r\n"));
    assert!(r.contains("\r\nContent-Length: 9\r\n"));
    assert!(r.ends_with("\r\n\r\nno token\n"));

    let r = text(&refusal(403, "origin not allowed")).to_owned();
    assert!(r.starts_with("HTTP/1.1 403 Forbidden\r\n"));
    assert!(!r.contains("WWW-Authenticate"));

    let r = text(&refusal(405, "method not allowed")).to_owned();
    assert!(r.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
    assert!(r.contains("\r\nAllow: GET\r\n"));
}

#[test]
fn reason_phrases() {
    for (status, phrase) in [
        (101, "Switching Protocols"),
        (400, "Bad Request"),
        (404, "Not Found"),
        (426, "Upgrade Required"),
        (429, "Too Many Requests"),
        (431, "Request Header Fields Too Large"),
        (500, "Internal Server Error"),
        (503, "Service Unavailable"),
    ] {
        assert_eq!(reason_phrase(status), phrase);
        let line = format!("HTTP/1.1 {status} {phrase}\r\n");
        assert!(text(&refusal(status, "x")).starts_with(&line));
    }
    assert!(text(&refusal(599, "x")).starts_with("HTTP/1.1 599 \r\n"));
}

#[test]
fn switching_protocols_bytes() {
    assert_eq!(
        text(&switching_protocols("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")),
        "HTTP/1.1 101 Switching Protocols\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
         Sec-WebSocket-Protocol: palisade.v1\r\n\
         \r\n"
    );
}
