//! Operating a server: metrics scraped over HTTP after a scripted session,
//! reload swapping the served certificate, token key rotation, and
//! `/healthz` during a drain. Real TLS on 127.0.0.1:0, every wait bounded.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use common::{
    bounded, close_frame, frame, join_ok, publish_text, room, status_of, within, TestServer,
    AUDIENCE,
};
use futures_rustls::TlsConnector;
use palisade::auth::{self, TokenRequest};
use palisade::certgen::{DevPki, LeafOptions};
use palisade::client::ClientError;
use palisade::config::Config;
use palisade::metrics::Outcome;
use palisade::protocol::{ClientFrame, ErrorCode, Role, ServerFrame};
use palisade::server::Server;
use rustls::pki_types::ServerName;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::{TcpListener, TcpStream};

/// The configuration `TestServer` starts from, with `public_keys` listed.
fn config(dir: &Path, public_keys: &[&str]) -> Config {
    common::config_in(dir, public_keys)
}

/// Serves `/metrics` for `server` on a fresh loopback port.
fn metrics_listener(server: &Server) -> SocketAddr {
    let listener = smol::block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    let server = server.clone();
    std::thread::spawn(move || smol::block_on(server.serve_metrics(listener)));
    addr
}

async fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let head = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut out = String::new();
    bounded(tcp.read_to_string(&mut out)).await.unwrap();
    out
}

/// The value of the sample `series` (name and labels, exactly as written).
fn sample(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
        .parse()
        .unwrap()
}

async fn wait_until(mut done: impl FnMut() -> bool) {
    bounded(async {
        while !done() {
            smol::Timer::after(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
}

#[test]
fn metrics_count_a_scripted_session_exactly() {
    let server = TestServer::start();
    let metrics = metrics_listener(&server.server);
    within(async {
        let (mut alice, _) = server.connect(&server.member("alice")).await;
        join_ok(&mut alice, "lobby").await;
        publish_text(&mut alice, 1, "lobby", "hi").await;
        assert!(matches!(
            frame(&mut alice).await,
            ServerFrame::Ack { id: 1, .. }
        ));
        assert!(matches!(
            frame(&mut alice).await,
            ServerFrame::Message { .. }
        ));
        alice
            .send(&ClientFrame::Leave {
                room: room("elsewhere"),
            })
            .await
            .unwrap();
        let error = frame(&mut alice).await;
        assert!(matches!(
            error,
            ServerFrame::Error {
                code: ErrorCode::NotJoined,
                ..
            }
        ));
        let refused = server
            .try_connect(server.connect_opts("v4.public.nope"))
            .await;
        assert!(
            matches!(refused, Err(ClientError::Refused { status: 401, .. })),
            "{refused:?}"
        );
        let health = server
            .raw_http("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await;
        assert_eq!(status_of(&health), 200);
        alice.close().await.unwrap();
        wait_until(|| server.server.metrics().gauges.sessions_open == 0).await;

        let response = http_get(metrics, "/metrics").await;
        assert_eq!(status_of(&response), 200, "{response}");
        assert!(
            response.contains("Content-Type: text/plain; version=0.0.4"),
            "{response}"
        );
        let text = response.split_once("\r\n\r\n").unwrap().1;
        for (series, want) in [
            ("palisade_connections_total{outcome=\"accepted\"}", 1),
            ("palisade_connections_total{outcome=\"http\"}", 1),
            (
                "palisade_connections_total{outcome=\"refused\",status=\"401\"}",
                1,
            ),
            (
                "palisade_connections_total{outcome=\"refused\",status=\"403\"}",
                0,
            ),
            ("palisade_connections_total{outcome=\"tls_failed\"}", 0),
            ("palisade_tls_handshake_failures_total", 0),
            ("palisade_frames_in_total{type=\"join\"}", 1),
            ("palisade_frames_in_total{type=\"publish\"}", 1),
            ("palisade_frames_in_total{type=\"leave\"}", 1),
            ("palisade_frames_in_total{type=\"reauth\"}", 0),
            ("palisade_frames_out_total{type=\"welcome\"}", 1),
            ("palisade_frames_out_total{type=\"joined\"}", 1),
            ("palisade_frames_out_total{type=\"ack\"}", 1),
            ("palisade_frames_out_total{type=\"message\"}", 1),
            ("palisade_frames_out_total{type=\"error\"}", 1),
            ("palisade_error_frames_total{code=\"not_joined\"}", 1),
            ("palisade_error_frames_total{code=\"forbidden\"}", 0),
            ("palisade_closes_total{code=\"none\",by=\"peer\"}", 1),
            ("palisade_closes_total{code=\"1001\",by=\"server\"}", 0),
            ("palisade_rate_limited_total", 0),
            ("palisade_evictions_total", 0),
            ("palisade_bans_active", 0),
            ("palisade_sessions_open", 0),
            // Rooms with a member here: the file keeps the room's message,
            // but nobody is in it any more.
            ("palisade_rooms", 0),
            ("palisade_delivery_latency_seconds_count", 1),
            ("palisade_delivery_latency_seconds_bucket{le=\"+Inf\"}", 1),
        ] {
            assert_eq!(sample(text, series), want, "{series}");
        }
        assert!(sample(text, "palisade_bytes_in_total") > 0);
        assert!(sample(text, "palisade_bytes_out_total") > 0);
        assert!(sample(text, "process_resident_memory_bytes") > 0);
        assert!(sample(text, "process_open_fds") > 0);
        let snapshot = server.server.metrics();
        assert_eq!(snapshot.connections(Outcome::Accepted), 1);
        assert_eq!(snapshot.frames_out("message"), 1);
        assert_eq!(status_of(&http_get(metrics, "/other").await), 404);
    });
}

#[test]
fn two_servers_count_separately() {
    let a = TestServer::start();
    let b = TestServer::start();
    within(async {
        let _ = a.connect(&a.member("alice")).await;
    });
    assert_eq!(a.server.metrics().connections(Outcome::Accepted), 1);
    assert_eq!(b.server.metrics().connections(Outcome::Accepted), 0);
}

/// The serial of the certificate the server presents now.
async fn served_serial(server: &TestServer) -> u64 {
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let tls = TlsConnector::from(server.tls.clone())
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let leaf = &tls.get_ref().1.peer_certificates().unwrap()[0];
    palisade::tls::x509::parse(leaf)
        .unwrap()
        .serial_u64()
        .unwrap()
}

#[test]
fn reload_swaps_the_certificate_and_a_bad_reload_keeps_the_old_one() {
    let pki: Arc<Mutex<Option<DevPki>>> = Arc::default();
    let keep = Arc::clone(&pki);
    let server = TestServer::start_with(move |config| {
        // Replace the generated PKI with one whose leaf has serial 1001.
        let dir = config.tls.cert.parent().unwrap().to_path_buf();
        let first = LeafOptions {
            serial: Some(1001),
            ..LeafOptions::default()
        };
        let generated = DevPki::generate_with(&first).unwrap();
        std::fs::write(dir.join("ca.pem"), &generated.ca_cert_pem).unwrap();
        std::fs::write(dir.join("server.pem"), &generated.cert_pem).unwrap();
        std::fs::write(dir.join("server.key"), &generated.key_pem).unwrap();
        *keep.lock().unwrap() = Some(generated);
    });
    let pki = pki.lock().unwrap().take().unwrap();
    within(async {
        assert_eq!(served_serial(&server).await, 1001);
        let (mut established, _) = server.connect(&server.member("alice")).await;

        let second = pki.issue_leaf(&LeafOptions {
            serial: Some(1002),
            ..LeafOptions::default()
        });
        let second = second.unwrap();
        std::fs::write(server.dir.join("server.pem"), &second.cert_pem).unwrap();
        std::fs::write(server.dir.join("server.key"), &second.key_pem).unwrap();
        let config = config(&server.dir, &["token.public"]);
        server.server.reload(&config).unwrap();
        assert_eq!(served_serial(&server).await, 1002);

        // A key that does not match: refused, the old material stays.
        let third = pki.issue_leaf(&LeafOptions::default()).unwrap();
        std::fs::write(server.dir.join("server.key"), &third.key_pem).unwrap();
        let err = server.server.reload(&config).unwrap_err().to_string();
        assert!(err.contains("server.key"), "{err}");
        assert_eq!(served_serial(&server).await, 1002);
        assert_eq!(server.server.metrics().reloads(), (1, 1));

        // The session from before the reloads is still served.
        join_ok(&mut established, "r").await;
    });
}

/// Reloads `server` with the token keys `keys` (files in its directory).
fn reload_keys(server: &TestServer, keys: &[&str]) {
    server.server.reload(&config(&server.dir, keys)).unwrap();
}

/// A new token key pair in `<server dir>/<name>/`; the secret half.
fn another_key(server: &TestServer, name: &str) -> auth::SecretKey {
    let dir = server.dir.join(name);
    auth::write_keypair(&dir).unwrap();
    auth::load_secret_key_file(&dir.join("token.secret")).unwrap()
}

fn mint(secret: &auth::SecretKey, sub: &str) -> String {
    let request = TokenRequest::new(sub, Role::Member, ["*"], 600, AUDIENCE);
    auth::mint(secret, &request, common::now()).unwrap()
}

#[test]
fn token_keys_rotate_through_reloads() {
    let server = TestServer::start();
    let new_secret = another_key(&server, "new");
    within(async {
        let old_token = server.member("alice");
        let new_token = mint(&new_secret, "alice");
        let refused = server.try_connect(server.connect_opts(&new_token)).await;
        assert!(matches!(
            refused,
            Err(ClientError::Refused { status: 401, .. })
        ));

        // Add the new key: both tokens work.
        reload_keys(&server, &["token.public", "new/token.public"]);
        let (mut established, _) = server.connect(&old_token).await;
        let _ = server.connect(&new_token).await;

        // Remove the old key: old tokens are refused, new ones accepted.
        reload_keys(&server, &["new/token.public"]);
        let refused = server.try_connect(server.connect_opts(&old_token)).await;
        assert!(
            matches!(refused, Err(ClientError::Refused { status: 401, .. })),
            "{refused:?}"
        );
        let _ = server.connect(&new_token).await;

        // A session opened with the old key ends with it.
        let (code, reason) = close_frame(&mut established).await;
        assert_eq!((code, reason.as_str()), (4001, "key revoked"));
    });
}

/// Removing a key on reload closes the sessions whose current token it
/// verified (4001 "key revoked"), as left by `Reauth` in either direction;
/// sessions on the remaining key keep publishing.
#[test]
fn removing_a_key_closes_the_sessions_it_verified() {
    let server = TestServer::start();
    let b = another_key(&server, "b");
    reload_keys(&server, &["token.public", "b/token.public"]);
    within(async {
        let (mut on_a, _) = server.connect(&server.member("alice")).await;
        let (mut on_b, _) = server.connect(&mint(&b, "bob")).await;
        // carol moves from A to B by Reauth, dave from B to A.
        let (mut carol, _) = server.connect(&server.member("carol")).await;
        let (mut dave, _) = server.connect(&mint(&b, "dave")).await;
        for (client, token) in [
            (&mut carol, mint(&b, "carol")),
            (&mut dave, server.member("dave")),
        ] {
            client.send(&ClientFrame::Reauth { token }).await.unwrap();
            assert!(matches!(frame(client).await, ServerFrame::Welcome { .. }));
        }
        for client in [&mut on_a, &mut on_b, &mut carol, &mut dave] {
            join_ok(client, "r").await;
        }

        reload_keys(&server, &["b/token.public"]);
        for client in [&mut on_a, &mut dave] {
            let (code, reason) = close_frame(client).await;
            assert_eq!((code, reason.as_str()), (4001, "key revoked"));
        }
        // Untouched: bob still publishes and carol still receives.
        publish_text(&mut on_b, 7, "r", "still here").await;
        assert!(matches!(
            frame(&mut on_b).await,
            ServerFrame::Ack { id: 7, .. }
        ));
        loop {
            match frame(&mut carol).await {
                ServerFrame::Message { from, .. } => break assert_eq!(from, "bob"),
                _ => continue,
            }
        }
        let mut users: Vec<String> = server
            .handle
            .sessions()
            .into_iter()
            .map(|s| s.user)
            .collect();
        users.sort();
        assert_eq!(users, ["bob", "carol"]);
    });
}

#[test]
fn healthz_answers_503_while_draining() {
    let mut server = TestServer::start();
    let mut tls = within(server.tls_from([127, 0, 0, 1]));
    // The handshake is under way (TLS done, no head yet) when the drain starts.
    server.stop();
    within(async {
        tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let mut out = String::new();
        let _ = bounded(tls.read_to_string(&mut out)).await;
        assert_eq!(status_of(&out), 503, "{out}");
        assert!(out.ends_with("draining\n"), "{out}");
    });
}

#[test]
fn idle_sockets_on_the_metrics_port_do_not_starve_a_scraper() {
    let server = TestServer::start();
    let metrics = metrics_listener(&server.server);
    within(async {
        // Eight connections that never send a byte: twice the old four
        // slots, each of which such a socket held for five seconds.
        let mut idle = Vec::new();
        for _ in 0..8 {
            idle.push(TcpStream::connect(metrics).await.unwrap());
        }
        for _ in 0..3 {
            let response = http_get(metrics, "/metrics").await;
            assert_eq!(status_of(&response), 200, "{response:?}");
        }
        drop(idle);
    });
}
