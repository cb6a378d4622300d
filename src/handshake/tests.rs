//! Tests for routing and every refusal row of PROTOCOL.md section 2.

use super::*;
use crate::http::parse_head;

const TOKEN: &str = "v4.public.c2VjcmV0LXRva2VuLWJ5dGVz";
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// A request, valid upgrade by default; the methods change one thing.
struct Req {
    line: String,
    headers: Vec<(String, String)>,
}

impl Req {
    fn ws() -> Self {
        Self {
            line: "GET /ws HTTP/1.1".into(),
            headers: [
                ("Host", "chat.example"),
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Version", "13"),
                ("Sec-WebSocket-Key", KEY),
                ("Sec-WebSocket-Protocol", "palisade.v1"),
            ]
            .iter()
            .map(|(n, v)| ((*n).into(), (*v).into()))
            .collect(),
        }
    }

    fn line(mut self, line: &str) -> Self {
        self.line = line.into();
        self
    }

    fn with(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    fn without(mut self, name: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    fn set(self, name: &str, value: &str) -> Self {
        self.without(name).with(name, value)
    }

    fn auth(self) -> Self {
        self.with("Authorization", &format!("Bearer {TOKEN}"))
    }

    fn head(&self) -> RequestHead {
        let mut s = format!("{}\r\n", self.line);
        for (n, v) in &self.headers {
            s.push_str(&format!("{n}: {v}\r\n"));
        }
        s.push_str("\r\n");
        parse_head(s.as_bytes()).unwrap()
    }

    fn route_with(&self, origins: &[&str]) -> Route {
        let origins: Vec<String> = origins.iter().map(|o| (*o).to_owned()).collect();
        route(&self.head(), &origins)
    }

    fn route(&self) -> Route {
        self.route_with(&["https://a.example"])
    }

    fn refused(&self) -> Refusal {
        match self.route() {
            Route::Refused(r) => r,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn accepted(&self) -> Upgrade {
        match self.route() {
            Route::Upgrade(u) => u,
            other => panic!("expected an upgrade, got {other:?}"),
        }
    }
}

fn assert_refused(req: Req, status: u16, reason: &str) {
    let r = req.refused();
    assert_eq!((r.status, r.reason), (status, reason), "{:?}", req.line);
}

#[test]
fn accepts_authorization_bearer() {
    let up = Req::ws().auth().accepted();
    assert_eq!(up.token, TOKEN);
    assert_eq!(up.accept, ACCEPT, "RFC 6455 section 1.3 example");
    assert_eq!(up.origin, None);
    // RFC 6455 section 4.2.2's example.
    let req = Req::ws()
        .auth()
        .set("Sec-WebSocket-Key", "x3JJHMbDL1EzLkh9GBhXDw==");
    assert_eq!(req.accepted().accept, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

#[test]
fn accepts_bearer_subprotocol_entry() {
    let proto = format!("palisade.v1, bearer.{TOKEN}");
    let up = Req::ws().set("Sec-WebSocket-Protocol", &proto).accepted();
    assert_eq!(up.token, TOKEN);
    assert_eq!(up.accept, ACCEPT);
    // Split over two fields, with other entries around it.
    let entry = format!("bearer.{TOKEN}");
    let req = Req::ws()
        .set("Sec-WebSocket-Protocol", "chat , palisade.v1,,")
        .with("Sec-WebSocket-Protocol", &entry);
    assert_eq!(req.accepted().token, TOKEN);
}

#[test]
fn authorization_scheme_is_case_insensitive() {
    for value in [format!("bearer {TOKEN}"), format!("BEARER    {TOKEN}")] {
        let up = Req::ws().with("Authorization", &value).accepted();
        assert_eq!(up.token, TOKEN);
    }
}

#[test]
fn other_authorization_schemes_are_no_token() {
    let req = Req::ws().with("Authorization", "Basic dXNlcjpwYXNz");
    assert_refused(req, 401, "no token");
    let proto = format!("palisade.v1, bearer.{TOKEN}");
    let req = Req::ws()
        .with("Authorization", "Basic dXNlcjpwYXNz")
        .set("Sec-WebSocket-Protocol", &proto);
    assert_eq!(req.accepted().token, TOKEN);
}

#[test]
fn no_token_is_401_with_challenge() {
    let r = Req::ws().refused();
    assert_eq!(r, Refusal::new(401, "no token"));
    let bytes = String::from_utf8(r.to_bytes()).unwrap();
    assert!(bytes.starts_with("HTTP/1.1 401 Unauthorized\r\n"));
    assert!(bytes.contains("\r\nWWW-Authenticate: Bearer\r\n"));
}

#[test]
fn page_assets_are_routed() {
    for (line, path) in [
        ("GET / HTTP/1.1", "/"),
        ("GET /app.js?v=1 HTTP/1.1", "/app.js"),
    ] {
        match Req::ws().line(line).route() {
            Route::Page(asset) => assert_eq!(asset.path, path),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn health_and_other_paths() {
    let get = |line: &str| Req::ws().line(line).route();
    assert_eq!(get("GET /healthz HTTP/1.1"), Route::Health);
    assert_eq!(get("GET /healthz?probe=1 HTTP/1.0"), Route::Health);
    for line in ["HEAD /healthz HTTP/1.1", "POST /healthz HTTP/1.1"] {
        assert_refused(Req::ws().line(line), 404, "not found");
    }
    for line in [
        "HEAD / HTTP/1.1",
        "GET /test/codec.test.mjs HTTP/1.1",
        "GET /ws/ HTTP/1.1",
        "GET /WS HTTP/1.1",
        "GET /ws/x HTTP/1.1",
        "GET /index.htm HTTP/1.1",
        "POST /other HTTP/1.1",
    ] {
        assert_refused(Req::ws().auth().line(line), 404, "not found");
    }
}

#[test]
fn upgrade_form_is_checked() {
    let (not_upgrade, bad_v, bad_k) = (NOT_UPGRADE.reason, BAD_VERSION.reason, BAD_KEY.reason);
    let (v, k) = ("Sec-WebSocket-Version", "Sec-WebSocket-Key");
    let cases = [
        (Req::ws().line("GET /ws HTTP/1.0"), not_upgrade),
        (Req::ws().line("POST /ws HTTP/1.1"), not_upgrade),
        (Req::ws().line("get /ws HTTP/1.1"), not_upgrade),
        (Req::ws().without("Upgrade"), not_upgrade),
        (Req::ws().set("Upgrade", "h2c"), not_upgrade),
        (Req::ws().set("Upgrade", "websocketx"), not_upgrade),
        (Req::ws().without("Connection"), not_upgrade),
        (Req::ws().set("Connection", "keep-alive"), not_upgrade),
        (Req::ws().set("Connection", "upgraded"), not_upgrade),
        (Req::ws().without(v), bad_v),
        (Req::ws().set(v, "8"), bad_v),
        (Req::ws().set(v, "13, 8"), bad_v),
        (Req::ws().without(k), bad_k),
        (Req::ws().set(k, "dGhlIHNhbXBsZSBub25jZQ"), bad_k),
        (Req::ws().set(k, "dGhlIHNhbXBsZSBub25jZR=="), bad_k),
        (Req::ws().set(k, "dGhlIHNhbXBsZSBub25j*Q=="), bad_k),
        (Req::ws().set(k, "AAAAAAAAAAAAAAAAAAAAAAAA"), bad_k),
        (Req::ws().set(k, "dGhlIHNhbXBsZQ=="), bad_k),
        (Req::ws().without("Host"), "no host header"),
        (Req::ws().set("Host", ""), "no host header"),
    ];
    for (req, reason) in cases {
        assert_refused(req.auth(), 400, reason);
    }
}

#[test]
fn upgrade_and_connection_tokens_are_lists_and_case_insensitive() {
    let req = Req::ws()
        .set("Upgrade", "WebSocket")
        .set("Connection", "keep-alive, UPGRADE");
    assert_eq!(req.auth().accepted().token, TOKEN);
    let req = Req::ws()
        .set("Connection", "keep-alive")
        .with("Connection", "Upgrade");
    assert_eq!(req.auth().accepted().token, TOKEN);
}

#[test]
fn duplicate_single_headers_are_malformed() {
    for name in SINGLE_HEADERS {
        let req = Req::ws()
            .auth()
            .with("Origin", "https://a.example")
            .with(name, "x");
        assert_refused(req, 400, "malformed headers");
    }
}

#[test]
fn origin_must_match_exactly() {
    let up = Req::ws()
        .auth()
        .with("Origin", "https://a.example")
        .accepted();
    assert_eq!(up.origin.as_deref(), Some("https://a.example"));
    let refused = "https://a.example:443 https://a.example.evil https://a.example/ \
                   HTTPS://A.EXAMPLE https://A.example http://a.example \
                   https://evil.a.example null";
    for origin in refused.split(' ') {
        let req = Req::ws().auth().with("Origin", origin);
        assert_refused(req, 403, "origin not allowed");
    }
}

#[test]
fn empty_allowlist_refuses_any_origin() {
    let req = Req::ws().auth().with("Origin", "https://a.example");
    assert_eq!(req.route_with(&[]), Route::Refused(ORIGIN));
    let req = Req::ws().auth();
    assert!(matches!(req.route_with(&[]), Route::Upgrade(_)));
}

#[test]
fn checks_run_in_contract_order() {
    // Upgrade form before Origin.
    let req = Req::ws().without("Upgrade").with("Origin", "https://evil");
    assert_refused(req, 400, "not a websocket upgrade");
    // Origin before subprotocol and tokens.
    let req = Req::ws()
        .without("Sec-WebSocket-Protocol")
        .line("GET /ws?token=x HTTP/1.1")
        .with("Origin", "https://evil");
    assert_refused(req, 403, "origin not allowed");
    // Subprotocol before the query.
    let req = Req::ws()
        .without("Sec-WebSocket-Protocol")
        .line("GET /ws?token=x HTTP/1.1");
    assert_refused(req, 400, "palisade.v1 subprotocol not offered");
    // The query before two tokens.
    let proto = format!("palisade.v1, bearer.{TOKEN}");
    let req = Req::ws()
        .auth()
        .set("Sec-WebSocket-Protocol", &proto)
        .line("GET /ws?token=x HTTP/1.1");
    assert_refused(req, 400, "token in query string");
}

#[test]
fn subprotocol_must_be_offered_exactly() {
    let bearer_only = format!("bearer.{TOKEN}");
    for proto in [
        None,
        Some("chat"),
        Some("Palisade.v1"),
        Some("palisade.v1x"),
        Some("palisade.v2"),
        Some(bearer_only.as_str()),
    ] {
        let mut req = Req::ws().auth().without("Sec-WebSocket-Protocol");
        if let Some(proto) = proto {
            req = req.with("Sec-WebSocket-Protocol", proto);
        }
        assert_refused(req, 400, "palisade.v1 subprotocol not offered");
    }
}

#[test]
fn token_in_query_is_refused() {
    let refused = "token=abc Access_Token=abc AUTH authorization=x bearer=x paseto=x jwt=x \
                   room=a&token= %74oken=abc x=v4.public.abc x=V4.PUBLIC.abc x=v4%2Epublic.abc \
                   x=bearer.abc v4.public.abc";
    for query in refused.split(' ') {
        let req = Req::ws().auth().line(&format!("GET /ws?{query} HTTP/1.1"));
        assert_refused(req, 400, "token in query string");
    }
    for query in ["", "room=a", "tokens=1&x=y", "x=v4.local", "%zz=1", "x=%"] {
        let req = Req::ws().auth().line(&format!("GET /ws?{query} HTTP/1.1"));
        assert_eq!(req.accepted().token, TOKEN, "{query}");
    }
}

#[test]
fn a_token_anywhere_in_the_query_is_refused() {
    let t = "v4.public.abc";
    let forms = [
        format!("a=1;token={t}"),
        format!("q=Bearer+{t}"),
        format!("q=Bearer%20{t}"),
        format!("a=x,{t}"),
        format!("q=my{t}"),
        "q=%76%34%2e%70%75%62%6c%69%63%2e".to_owned(),
    ];
    for query in forms {
        let req = Req::ws().auth().line(&format!("GET /ws?{query} HTTP/1.1"));
        assert_refused(req, 400, "token in query string");
    }
}

#[test]
fn an_upgrade_with_a_body_is_refused() {
    for (name, value) in [
        ("Content-Length", "5"),
        ("Content-Length", "00"),
        ("Transfer-Encoding", "chunked"),
    ] {
        let req = Req::ws().auth().with(name, value);
        assert_refused(req, 400, "upgrade request with a body");
    }
    let req = Req::ws().auth().with("Content-Length", "0");
    assert_eq!(req.accepted().token, TOKEN);
}

#[test]
fn two_tokens_are_refused() {
    let one = format!("palisade.v1, bearer.{TOKEN}");
    let two = format!("palisade.v1, bearer.{TOKEN}, bearer.other");
    let cases = [
        Req::ws().auth().set("Sec-WebSocket-Protocol", &one),
        Req::ws().set("Sec-WebSocket-Protocol", &two),
        Req::ws()
            .set("Sec-WebSocket-Protocol", &one)
            .with("Sec-WebSocket-Protocol", "bearer.other"),
    ];
    for req in cases {
        assert_refused(req, 400, "two tokens");
    }
}

#[test]
fn empty_or_spaced_tokens_are_malformed() {
    let cases = [
        Req::ws().set("Sec-WebSocket-Protocol", "palisade.v1, bearer."),
        Req::ws().with("Authorization", "Bearer"),
        Req::ws().with("Authorization", "Bearer a b"),
        Req::ws().set("Sec-WebSocket-Protocol", "palisade.v1, bearer.a b"),
    ];
    for req in cases {
        assert_refused(req, 400, "malformed token");
    }
}

#[test]
fn refusals_never_contain_the_token() {
    let proto = format!("palisade.v1, bearer.{TOKEN}");
    let cases = [
        Req::ws().auth().set("Sec-WebSocket-Protocol", &proto),
        Req::ws()
            .auth()
            .line(&format!("GET /ws?x={TOKEN} HTTP/1.1")),
        Req::ws().auth().with("Origin", "https://evil"),
        Req::ws().auth().without("Sec-WebSocket-Protocol"),
        Req::ws().auth().set("Sec-WebSocket-Key", "short"),
        Req::ws().auth().line(&format!("GET /{TOKEN} HTTP/1.1")),
        Req::ws().auth().auth(),
    ];
    for req in cases {
        let bytes = req.refused().to_bytes();
        let text = String::from_utf8(bytes).unwrap();
        assert!(!text.contains(TOKEN), "{text}");
        assert!(!text.contains("c2VjcmV0"), "{text}");
    }
}

#[test]
fn debug_redacts_the_token() {
    let up = Req::ws().auth().accepted();
    let shown = format!("{up:?} {:?}", Route::Upgrade(up.clone()));
    assert!(!shown.contains(TOKEN));
    assert!(shown.contains("token: \"<redacted>\""));
    assert!(shown.contains(ACCEPT));
}

#[test]
fn websocket_key_check() {
    assert!(is_websocket_key(KEY));
    assert!(is_websocket_key("AAAAAAAAAAAAAAAAAAAAAA=="));
    assert!(is_websocket_key("/+9wAAAAAAAAAAAAAAAAAw=="));
    assert!(!is_websocket_key(""));
    assert!(!is_websocket_key("=="));
    assert!(!is_websocket_key("AAAAAAAAAAAAAAAAAAAAAB=="));
    assert!(!is_websocket_key("AAAAAAAAAAAAAAAAAAAAAAA="));
    assert!(!is_websocket_key("AAAAAAAAAAAAAAAAAAAAAAA=="));
    assert!(!is_websocket_key("AAAAAAAAAAAAAAAAAAAA\u{e9}=="));
}

#[test]
fn percent_decoding() {
    assert_eq!(percent_decode("a%41%2e+b"), b"aA. b");
    assert_eq!(percent_decode("%"), b"%");
    assert_eq!(percent_decode("%4"), b"%4");
    assert_eq!(percent_decode("%zz%41"), b"%zzA");
    assert_eq!(percent_decode("%c3%A9"), "\u{e9}".as_bytes());
}
