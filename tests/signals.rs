//! The binary under signals: SIGTERM drains (sessions close with 1001) and
//! exits 0; SIGHUP reloads; `check-config` validates without starting.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::binary::{connect_with, serve_dir, Running};
use common::{close_code, close_frame, frame, join_ok, publish_text, room, within};
use palisade::auth;
use palisade::client::{Client, ClientError, Connect};
use palisade::protocol::{ClientFrame, Role, ServerFrame};

fn dir(name: &str) -> PathBuf {
    serve_dir(name, "[limits]\nshutdown_timeout_s = 5\n")
}

fn alice_token(dir: &Path, ttl_secs: u64) -> String {
    token_for(dir, "alice", ttl_secs)
}

fn token_for(dir: &Path, sub: &str, ttl_secs: u64) -> String {
    common::binary::token(dir, sub, Role::Member, ttl_secs)
}

async fn connect(dir: &Path, port: u16) -> Client {
    connect_with(dir, port, &alice_token(dir, 600)).await
}

#[test]
fn sigterm_closes_sessions_with_1001_and_exits_0() {
    let dir = dir("term");
    let mut server = Running::start(&dir);
    within(async {
        let mut client = connect(&dir, server.port).await;
        join_ok(&mut client, "lobby").await;
        server.signal("TERM");
        assert_eq!(close_code(&mut client).await, 1001);
    });
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0), "{status:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sighup_reloads_and_a_broken_file_logs_reload_failed() {
    let dir = dir("hup");
    let server = Running::start(&dir);
    server.signal("HUP");
    server.wait_for("reloaded");
    std::fs::write(dir.join("server.key"), "not a key").unwrap();
    server.signal("HUP");
    let line = server.wait_for("alert=reload-failed");
    assert!(line.contains("server.key"), "{line}");
    // Still serving with the old material.
    within(async {
        let client = connect(&dir, server.port).await;
        client.close().await.unwrap();
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// Rotating out a key by editing its file: SIGHUP closes the sessions it
/// verified with 4001 "key revoked", names the key and the count in the
/// reload line, and leaves the other key's sessions publishing.
#[test]
fn sighup_after_replacing_a_key_file_closes_its_sessions() {
    let dir = dir("revoke");
    auth::write_keypair(&dir.join("b")).unwrap();
    let toml = std::fs::read_to_string(dir.join("palisade.toml")).unwrap();
    let toml = toml.replace(
        "[\"token.public\"]",
        "[\"token.public\", \"b/token.public\"]",
    );
    std::fs::write(dir.join("palisade.toml"), toml).unwrap();
    let server = Running::start(&dir);
    let old = auth::load_public_key_file(&dir.join("token.public")).unwrap();
    within(async {
        let mut alice = connect(&dir, server.port).await;
        let mut bob = connect_with(&dir, server.port, &token_for(&dir.join("b"), "bob", 600)).await;
        // The operator replaces the leaked key's file with a fresh key.
        auth::write_keypair(&dir.join("c")).unwrap();
        std::fs::copy(dir.join("c/token.public"), dir.join("token.public")).unwrap();
        server.signal("HUP");
        let (code, reason) = close_frame(&mut alice).await;
        assert_eq!((code, reason.as_str()), (4001, "key revoked"));
        let line = server.wait_for("key_revoked=");
        let expected = format!("key_revoked={} sessions_closed=1", old.kid());
        assert!(line.contains(&expected), "{line}");
        join_ok(&mut bob, "lobby").await;
        publish_text(&mut bob, 1, "lobby", "after the rotation").await;
        assert!(matches!(
            frame(&mut bob).await,
            ServerFrame::Ack { id: 1, .. }
        ));
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// The 403 line names the refused Origin, quoted, so the operator knows
/// what to add to `allowed_origins`.
#[test]
fn a_refused_origin_is_named_in_the_log() {
    let dir = dir("origin");
    let server = Running::start(&dir);
    within(async {
        let tls = palisade::tls::client_config(&dir.join("ca.pem")).unwrap();
        let url = format!("wss://localhost:{}/ws", server.port);
        let mut opts = Connect::new(&url, tls, &alice_token(&dir, 600));
        opts.origin = Some("https://pi.local:8443".into());
        let refused = common::bounded(Client::connect(opts)).await;
        assert!(
            matches!(refused, Err(ClientError::Refused { status: 403, .. })),
            "{refused:?}"
        );
    });
    let line = server.wait_for("status=403");
    assert!(
        line.contains(r#" origin="https://pi.local:8443""#),
        "{line}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_config_prints_one_ok_line_or_exits_2() {
    let dir = dir("check");
    let config = dir.join("palisade.toml");
    let out = common::cli::bin()
        .args(["check-config", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.starts_with("ok: ") && stdout.contains("MiB"),
        "{stdout}"
    );
    std::fs::write(dir.join("token.public"), "k4.public.garbage").unwrap();
    let out = common::cli::bin()
        .args(["check-config", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("token.public"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_certificate_expiring_within_14_days_raises_cert_expiring_at_start() {
    let dir = dir("expiring");
    let soon = palisade::certgen::LeafOptions {
        not_after: std::time::SystemTime::now() + Duration::from_secs(5 * 86_400),
        ..palisade::certgen::LeafOptions::default()
    };
    let pki = palisade::certgen::DevPki::generate_with(&soon).unwrap();
    std::fs::write(dir.join("server.pem"), &pki.cert_pem).unwrap();
    std::fs::write(dir.join("server.key"), &pki.key_pem).unwrap();
    let server = Running::start(&dir);
    let line = server.wait_for("alert=cert-expiring");
    // Five days less the seconds since the certificate was made.
    assert!(
        line.contains("days_left=4") || line.contains("days_left=5"),
        "{line}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn rust_log_trace_shows_no_token_and_no_body_and_quotes_peer_text() {
    let dir = dir("trace");
    let mut server = Running::start_logging(&dir, "trace");
    let (first, second) = (alice_token(&dir, 600), alice_token(&dir, 900));
    let body = "the-secret-body-5f1d";
    let forger = token_for(&dir, "eve alert=ban-issued", 600);
    within(async {
        // A user name that reads as a log pair must stay inside its quotes.
        connect_with(&dir, server.port, &forger)
            .await
            .close()
            .await
            .unwrap();
        let mut client = connect_with(&dir, server.port, &first).await;
        let publish = |id, name: &str, text: &str| ClientFrame::Publish {
            id,
            room: room(name),
            body: palisade::protocol::Body::Text(text.into()),
        };
        // A publish to a room not joined (refused, and logged at debug), a
        // Reauth, a join, then the publish whose body must stay secret.
        let script = [
            ClientFrame::Reauth {
                token: second.clone(),
            },
            publish(0, "elsewhere", "stray"),
            ClientFrame::Join {
                room: room("lobby"),
                since: None,
            },
            publish(1, "lobby", body),
        ];
        for step in script {
            client.send(&step).await.unwrap();
            let answer = frame(&mut client).await;
            let expected = match step {
                ClientFrame::Reauth { .. } => matches!(answer, ServerFrame::Welcome { .. }),
                ClientFrame::Publish { id: 0, .. } => matches!(answer, ServerFrame::Error { .. }),
                ClientFrame::Join { .. } => matches!(answer, ServerFrame::Joined { .. }),
                _ => matches!(answer, ServerFrame::Ack { .. }),
            };
            assert!(expected, "{answer:?}");
        }
        // The message itself: the body went both ways.
        assert!(matches!(
            frame(&mut client).await,
            ServerFrame::Message { .. }
        ));
        server.signal("TERM");
        assert_eq!(close_code(&mut client).await, 1001);
    });
    assert_eq!(server.wait_exit().code(), Some(0));
    // The process has exited: the reader thread ends at EOF.
    let lines: Vec<String> = server.rest();
    let accepted = lines
        .iter()
        .find(|l| l.contains("outcome=accepted") && l.contains("eve"))
        .expect("no accepted line for eve");
    assert!(
        accepted.contains(r#"user="eve alert\u{3d}ban-issued""#),
        "{accepted}"
    );
    let forged = lines.iter().find(|l| l.contains("alert=ban-issued"));
    assert!(forged.is_none(), "a forged alert: {forged:?}");
    // Verbose levels were on: palisade's own debug line is there.
    assert!(
        lines
            .iter()
            .any(|l| l.contains("DEBUG palisade") && l.contains("refused")),
        "no debug line: {lines:#?}"
    );
    // The secret parts: the tokens' payloads and signatures, and the body,
    // as text and as tungstenite's hex dump of frames.
    for secret in [&first, &second].map(|t| &t["v4.public.".len()..][..40]) {
        for needle in [secret.to_owned(), hex(secret), body.to_owned(), hex(body)] {
            let leak = lines.iter().find(|l| l.contains(&needle));
            assert!(leak.is_none(), "{needle} in the log: {leak:?}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
