//! PROTOCOL.md sections 1 and 2 over real TLS: routes, every refusal
//! status, token placement, Origin, and the exact 101 answer.

mod common;

use common::*;
use palisade::client::ClientError;
use palisade::protocol::Role;
use smol::io::{AsyncReadExt, AsyncWriteExt};

#[test]
fn healthz_answers_ok_and_other_paths_404() {
    let server = TestServer::start();
    within(async {
        let health = server
            .raw_http("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await;
        assert_eq!(status_of(&health), 200);
        assert!(health.ends_with("\r\n\r\nok"), "{health:?}");
        for path in ["/nope", "/ws/extra", "/healthz/x", "/test/codec.test.mjs"] {
            let head = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
            assert_eq!(status_of(&server.raw_http(&head).await), 404, "{path}");
        }
    });
}

#[test]
fn the_browser_page_is_served_with_a_strict_csp() {
    let server = TestServer::start();
    within(async {
        for (path, ty) in [
            ("/", "text/html; charset=utf-8"),
            ("/app.js", "text/javascript; charset=utf-8"),
            ("/codec.js", "text/javascript; charset=utf-8"),
            ("/style.css", "text/css; charset=utf-8"),
        ] {
            let head = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
            let answer = server.raw_http(&head).await;
            assert_eq!(status_of(&answer), 200, "{path}");
            assert!(
                answer.contains(&format!("\r\nContent-Type: {ty}\r\n")),
                "{answer}"
            );
            assert!(answer
                .contains("\r\nContent-Security-Policy: default-src 'none'; script-src 'self';"));
            assert!(!answer.contains("unsafe-inline") && !answer.contains("unsafe-eval"));
            assert!(
                answer.contains("\r\nCache-Control: no-cache\r\n"),
                "{answer}"
            );
        }
    });
}

#[test]
fn every_answer_carries_security_headers() {
    let server = TestServer::start();
    within(async {
        let answer = server
            .raw_http("GET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await;
        assert!(
            answer.contains("X-Content-Type-Options: nosniff\r\n"),
            "{answer}"
        );
        assert!(answer.contains("Connection: close\r\n"), "{answer}");
    });
}

#[test]
fn plaintext_client_gets_no_http_answer() {
    let server = TestServer::start();
    within(async {
        let mut tcp = smol::net::TcpStream::connect(server.addr).await.unwrap();
        tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let mut out = Vec::new();
        let _ = tcp.read_to_end(&mut out).await;
        assert!(
            !out.starts_with(b"HTTP/"),
            "{:?}",
            String::from_utf8_lossy(&out)
        );
    });
}

#[test]
fn upgrade_form_errors_are_400() {
    let server = TestServer::start();
    let token = server.member("alice");
    let auth = format!("Authorization: Bearer {token}");
    within(async {
        // A plain GET on /ws is not an upgrade.
        let plain = format!("GET /ws HTTP/1.1\r\nHost: localhost\r\n{auth}\r\n\r\n");
        assert_eq!(status_of(&server.raw_http(&plain).await), 400);
        // palisade.v1 not offered.
        let head = upgrade_head("/ws", &["Sec-WebSocket-Protocol: chat", &auth]);
        assert_eq!(status_of(&server.raw_http(&head).await), 400);
        let head = upgrade_head("/ws", &[&auth]);
        assert_eq!(status_of(&server.raw_http(&head).await), 400);
    });
}

#[test]
fn token_in_query_is_400_and_never_echoed() {
    let server = TestServer::start();
    let token = server.member("alice");
    within(async {
        let path = format!("/ws?token={token}");
        let head = upgrade_head(&path, &["Sec-WebSocket-Protocol: palisade.v1"]);
        let answer = server.raw_http(&head).await;
        assert_eq!(status_of(&answer), 400);
        assert!(!answer.contains(&token), "{answer}");
    });
}

#[test]
fn two_tokens_are_400() {
    let server = TestServer::start();
    let token = server.member("alice");
    within(async {
        let proto = format!("Sec-WebSocket-Protocol: palisade.v1, bearer.{token}");
        let auth = format!("Authorization: Bearer {token}");
        let answer = server
            .raw_http(&upgrade_head("/ws", &[&proto, &auth]))
            .await;
        assert_eq!(status_of(&answer), 400);
        assert!(!answer.contains(&token));
    });
}

#[test]
fn missing_or_bad_tokens_are_401_with_www_authenticate() {
    let server = TestServer::start();
    let expired = {
        // Minted an hour ago with a ten-second lifetime.
        let request = palisade::auth::TokenRequest::new("alice", Role::Member, ["*"], 10, AUDIENCE);
        palisade::auth::mint(&server.secret, &request, now() - 3600).unwrap()
    };
    let wrong_audience = {
        let request =
            palisade::auth::TokenRequest::new("alice", Role::Member, ["*"], 600, "someone-else");
        palisade::auth::mint(&server.secret, &request, now()).unwrap()
    };
    let other_key = server.foreign_token("alice");
    within(async {
        let proto = "Sec-WebSocket-Protocol: palisade.v1";
        let answer = server.raw_http(&upgrade_head("/ws", &[proto])).await;
        assert_eq!(status_of(&answer), 401);
        assert!(answer.contains("WWW-Authenticate: Bearer\r\n"), "{answer}");
        for token in [
            expired,
            wrong_audience,
            other_key,
            "v4.public.garbage".to_owned(),
        ] {
            let auth = format!("Authorization: Bearer {token}");
            let answer = server.raw_http(&upgrade_head("/ws", &[proto, &auth])).await;
            assert_eq!(status_of(&answer), 401, "{answer}");
            assert!(answer.contains("WWW-Authenticate: Bearer\r\n"), "{answer}");
            assert!(!answer.contains(&token), "the token is echoed: {answer}");
        }
    });
}

#[test]
fn origin_must_match_exactly() {
    let server =
        TestServer::start_with(|c| c.allowed_origins = vec!["https://chat.example:8443".into()]);
    let token = server.member("alice");
    within(async {
        for (origin, ok) in [
            ("https://chat.example:8443", true),
            ("https://chat.example", false),
            ("https://chat.example:8443.evil", false),
            ("http://chat.example:8443", false),
            ("https://CHAT.example:8443", false),
        ] {
            let mut opts = server.connect_opts(&token);
            opts.origin = Some(origin.to_owned());
            match server.try_connect(opts).await {
                Ok(_) => assert!(ok, "{origin} accepted"),
                Err(ClientError::Refused { status, .. }) => {
                    assert!(!ok, "{origin} refused");
                    assert_eq!(status, 403);
                }
                Err(e) => panic!("{origin}: {e}"),
            }
        }
    });
}

#[test]
fn empty_allowlist_refuses_any_origin_but_not_native_clients() {
    let server = TestServer::start();
    let token = server.member("alice");
    within(async {
        let mut opts = server.connect_opts(&token);
        opts.origin = Some(format!("https://localhost:{}", server.addr.port()));
        match server.try_connect(opts).await {
            Err(ClientError::Refused { status, .. }) => assert_eq!(status, 403),
            other => panic!("{other:?}"),
        }
        server.connect(&token).await;
    });
}

#[test]
fn origin_is_checked_before_the_token() {
    let server = TestServer::start();
    within(async {
        let head = upgrade_head(
            "/ws",
            &[
                "Origin: https://evil.example",
                "Sec-WebSocket-Protocol: palisade.v1",
            ],
        );
        assert_eq!(status_of(&server.raw_http(&head).await), 403);
    });
}

#[test]
fn upgrade_answers_palisade_v1_alone_and_no_extension() {
    let server = TestServer::start();
    let token = server.member("alice");
    within(async {
        let proto = format!("Sec-WebSocket-Protocol: chat, bearer.{token}, palisade.v1");
        let head = upgrade_head(
            "/ws",
            &[&proto, "Sec-WebSocket-Extensions: permessage-deflate"],
        );
        let answer = server.raw_http(&head).await;
        assert!(answer.starts_with("HTTP/1.1 101 "), "{answer}");
        assert!(
            answer.contains("\r\nSec-WebSocket-Protocol: palisade.v1\r\n"),
            "{answer}"
        );
        assert!(answer.contains("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert!(!answer
            .to_ascii_lowercase()
            .contains("sec-websocket-extensions"));
        assert!(!answer.contains(&token));
    });
}

#[test]
fn token_as_bearer_subprotocol_is_accepted() {
    let server = TestServer::start();
    let token = server.token("bob", Role::Observer, &["lobby"], 600);
    within(async {
        let mut client = server.connect_with_subprotocol_token(&token).await.unwrap();
        match frame(&mut client).await {
            palisade::protocol::ServerFrame::Welcome { user, role, .. } => {
                assert_eq!(user, "bob");
                assert_eq!(role, Role::Observer);
            }
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn connection_caps_answer_503_and_429() {
    let server = TestServer::start_with(|c| c.limits.max_connections = 1);
    let token = server.member("alice");
    within(async {
        let (_held, _) = server.connect(&token).await;
        match server.try_connect(server.connect_opts(&token)).await {
            Err(ClientError::Refused { status, .. }) => assert_eq!(status, 503),
            other => panic!("{other:?}"),
        }
        // /healthz is still answered at the cap.
        let health = server
            .raw_http("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await;
        assert_eq!(status_of(&health), 200);
    });
    let server = TestServer::start_with(|c| c.limits.max_connections_per_ip = 1);
    let token = server.member("alice");
    within(async {
        let (_held, _) = server.connect(&token).await;
        match server.try_connect(server.connect_opts(&token)).await {
            Err(ClientError::Refused { status, .. }) => assert_eq!(status, 429),
            other => panic!("{other:?}"),
        }
    });
}

/// Sends an upgrade with `token` in `Authorization` and `extra` lines.
async fn upgrade_with(server: &TestServer, path: &str, token: &str, extra: &[&str]) -> String {
    let auth = format!("Authorization: Bearer {token}");
    let mut lines = vec!["Sec-WebSocket-Protocol: palisade.v1", auth.as_str()];
    lines.extend_from_slice(extra);
    server.raw_http(&upgrade_head(path, &lines)).await
}

/// The `text/plain` body of a raw HTTP answer.
fn body_of(answer: &str) -> &str {
    answer
        .split_once("\r\n\r\n")
        .map_or("", |(_, body)| body.trim_end())
}

#[test]
fn a_token_for_the_device_name_is_401_reserved_user_name() {
    let server = TestServer::start_with(|c| c.device_name = "thermostat".into());
    within(async {
        let answer = upgrade_with(&server, "/ws", &server.member("thermostat"), &[]).await;
        assert_eq!(status_of(&answer), 401, "{answer}");
        assert_eq!(body_of(&answer), "reserved user name");
        // Any other name is served.
        let answer = upgrade_with(&server, "/ws", &server.member("thermostat2"), &[]).await;
        assert_eq!(status_of(&answer), 101, "{answer}");
    });
}

#[test]
fn bidi_override_and_zero_width_characters_in_sub_are_401() {
    let server = TestServer::start();
    within(async {
        for sub in [
            "ad\u{202E}nim",
            "a\u{2066}b",
            "zero\u{200B}width",
            "rtl\u{200F}",
        ] {
            let answer = upgrade_with(&server, "/ws", &server.token_unchecked(sub, 600), &[]).await;
            assert_eq!(status_of(&answer), 401, "{sub:?}: {answer}");
        }
        let answer = upgrade_with(&server, "/ws", &server.token_unchecked("plain", 600), &[]).await;
        assert_eq!(status_of(&answer), 101, "{answer}");
    });
}

#[test]
fn a_token_living_longer_than_max_token_lifetime_s_is_401() {
    let server = TestServer::start_with(|c| c.auth.max_token_lifetime_s = Some(600));
    within(async {
        let long = server.token("alice", Role::Member, &["*"], 601);
        let answer = upgrade_with(&server, "/ws", &long, &[]).await;
        assert_eq!(status_of(&answer), 401, "{answer}");
        assert_eq!(body_of(&answer), "token lifetime too long");
        let ok = server.token("alice", Role::Member, &["*"], 600);
        assert_eq!(
            status_of(&upgrade_with(&server, "/ws", &ok, &[]).await),
            101
        );
    });
}

#[test]
fn a_401_body_never_says_why_the_token_failed() {
    let server = TestServer::start();
    let expired = server.token_unchecked("alice", 0);
    let forged = {
        let mut t = server.member("alice");
        t.pop();
        t.push('A');
        t
    };
    within(async {
        for token in [expired, forged, "v4.public.garbage".into()] {
            let answer = upgrade_with(&server, "/ws", &token, &[]).await;
            assert_eq!(status_of(&answer), 401, "{answer}");
            assert_eq!(body_of(&answer), "invalid token");
        }
    });
}

#[test]
fn a_token_anywhere_in_the_query_is_400_even_with_a_header_token() {
    let server = TestServer::start();
    let token = server.member("alice");
    within(async {
        for query in [
            format!("a=1;token={token}"),
            format!("q=Bearer+{token}"),
            format!("q=Bearer%20{token}"),
            format!("a=x,{token}"),
            format!("q=my{token}"),
        ] {
            let path = format!("/ws?{query}");
            let answer = upgrade_with(&server, &path, &token, &[]).await;
            assert_eq!(status_of(&answer), 400, "{query}: {answer}");
            assert_eq!(body_of(&answer), "token in query string");
            // Without the header token: still 400, not 401.
            let proto = "Sec-WebSocket-Protocol: palisade.v1";
            let answer = server.raw_http(&upgrade_head(&path, &[proto])).await;
            assert_eq!(status_of(&answer), 400, "{query}: {answer}");
        }
        let answer = upgrade_with(&server, "/ws?room=lobby", &token, &[]).await;
        assert_eq!(status_of(&answer), 101, "{answer}");
    });
}

#[test]
fn an_upgrade_carrying_a_body_is_400() {
    let server = TestServer::start();
    let token = server.member("alice");
    within(async {
        for line in ["Content-Length: 4", "Transfer-Encoding: chunked"] {
            let answer = upgrade_with(&server, "/ws", &token, &[line]).await;
            assert_eq!(status_of(&answer), 400, "{line}: {answer}");
            assert_eq!(body_of(&answer), "upgrade request with a body");
        }
        let answer = upgrade_with(&server, "/ws", &token, &["Content-Length: 0"]).await;
        assert_eq!(status_of(&answer), 101, "{answer}");
    });
}
