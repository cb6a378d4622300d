//! The `palisade` command: keygen, token, serve's start-up errors (exit 2,
//! one line naming the file) and the demo.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::cli::{bin, keygen, refused, temp, text};
use palisade::auth::{load_public_key_file, Verifier};
use palisade::protocol::Role;

#[test]
fn keygen_writes_a_private_secret_and_refuses_to_overwrite() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp("cli", "keygen");
    let out = bin().args(["keygen", "--out"]).arg(&dir).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let secret = std::fs::read_to_string(dir.join("token.secret")).unwrap();
    assert!(secret.starts_with("k4.secret."));
    let mode = std::fs::metadata(dir.join("token.secret"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(std::fs::read_to_string(dir.join("token.public"))
        .unwrap()
        .starts_with("k4.public."));
    let again = bin().args(["keygen", "--out"]).arg(&dir).output().unwrap();
    let line = refused(&again);
    assert!(line.contains("token."), "{line}");
    assert_eq!(
        std::fs::read_to_string(dir.join("token.secret")).unwrap(),
        secret
    );
}

#[test]
fn token_mints_a_verifiable_token_with_kid_footer() {
    let dir = temp("cli", "token");
    keygen(&dir);
    let out = bin()
        .args(["token", "--key"])
        .arg(dir.join("token.secret"))
        .args([
            "--sub",
            "alice",
            "--role",
            "member",
            "--rooms",
            "lobby,team-*",
        ])
        .args(["--ttl", "600", "--aud", "chat"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("v4.public."));
    assert_eq!(token.split('.').count(), 4, "a footer carries the kid");
    let key = load_public_key_file(&dir.join("token.public")).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let identity = Verifier::new(vec![key], "chat".into(), None)
        .verify(&token, now)
        .unwrap();
    assert_eq!(
        (identity.user.as_str(), identity.role),
        ("alice", Role::Member)
    );
    assert!(identity.may_access(&"team-x".parse().unwrap()));
    assert!(!identity.may_access(&"other".parse().unwrap()));

    let bad = bin()
        .args(["token", "--key"])
        .arg(dir.join("token.secret"))
        .args(["--sub", "a", "--role", "king", "--rooms", "x", "--ttl", "1"])
        .output()
        .unwrap();
    let line = refused(&bad);
    assert!(line.contains("--role"), "{line}");
}

fn write_config(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("palisade.toml");
    std::fs::write(
        &path,
        format!(
            "listen = \"127.0.0.1:0\"\n{extra}\n[tls]\ncert = \"server.pem\"\nkey = \"server.key\"\n\
             [auth]\npublic_keys = [\"token.public\"]\naudience = \"a\"\n"
        ),
    )
    .unwrap();
    path
}

fn serve_error(config: &Path) -> String {
    let out = bin()
        .args(["serve", "--config"])
        .arg(config)
        .output()
        .unwrap();
    refused(&out)
}

#[test]
fn serve_start_up_errors_exit_2_naming_the_file() {
    let dir = temp("cli", "serve");
    // Unknown key in the config.
    let config = write_config(&dir, "colour = \"blue\"");
    let line = serve_error(&config);
    assert!(
        line.contains("palisade.toml") && line.contains("colour"),
        "{line}"
    );
    // A bad presence pattern.
    let config = write_config(&dir, "[presence]\nevents = [\"Lobby\"]");
    let line = serve_error(&config);
    assert!(
        line.contains("palisade.toml")
            && line.contains("presence.events: \"Lobby\" is not a room pattern"),
        "{line}"
    );
    // Missing certificate.
    let config = write_config(&dir, "");
    let line = serve_error(&config);
    assert!(line.contains("server.pem"), "{line}");
    // Mismatched key.
    palisade::certgen::write_dev_pki(&dir).unwrap();
    let other = palisade::certgen::DevPki::generate().unwrap();
    std::fs::write(dir.join("server.key"), other.key_pem).unwrap();
    let line = serve_error(&config);
    assert!(
        line.contains("server.key") && line.contains("does not match"),
        "{line}"
    );
    // A bad PASERK key.
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    palisade::certgen::write_dev_pki(&dir).unwrap();
    std::fs::write(dir.join("token.public"), "k4.public.nope").unwrap();
    let config = write_config(&dir, "");
    let line = serve_error(&config);
    assert!(line.contains("token.public"), "{line}");
}

/// `palisade demo` on `dir` and `port`, its stdout piped.
fn spawn_demo(dir: &Path, port: u16) -> std::process::Child {
    bin()
        .args(["demo", "--dir"])
        .arg(dir)
        .args(["--port", &port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn demo_prepares_once_and_serves() {
    let dir = temp("cli", "demo");
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let mut child = spawn_demo(&dir.join("d"), port);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    for line in lines.by_ref() {
        let line = line.unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if line.starts_with("Stop with") || Instant::now() > deadline {
            break;
        }
    }
    assert!(
        printed.contains(&format!("wss://localhost:{port}/ws")),
        "{printed}"
    );
    assert!(printed.contains("cargo run --example chat"), "{printed}");
    assert!(
        printed.contains(&format!("https://localhost:{port}/#token=v4.public.")),
        "{printed}"
    );
    assert!(printed.matches("v4.public.").count() >= 2, "{printed}");
    let ca = std::fs::read(dir.join("d/ca.pem")).unwrap();
    // The server is up: wait for /healthz over TLS.
    let tls = palisade::tls::client_config(&dir.join("d/ca.pem")).unwrap();
    let healthy = smol::block_on(async {
        for _ in 0..100 {
            if let Ok(tcp) = smol::net::TcpStream::connect(("127.0.0.1", port)).await {
                use smol::io::{AsyncReadExt, AsyncWriteExt};
                let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
                let mut s = futures_rustls::TlsConnector::from(tls.clone())
                    .connect(name, tcp)
                    .await
                    .unwrap();
                s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
                    .await
                    .unwrap();
                let mut out = Vec::new();
                let _ = s.read_to_end(&mut out).await;
                return out.starts_with(b"HTTP/1.1 200 ");
            }
            smol::Timer::after(Duration::from_millis(100)).await;
        }
        false
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(healthy);
    // A second run reuses the same CA.
    let mut again = spawn_demo(&dir.join("d"), port);
    let first = BufReader::new(again.stdout.take().unwrap()).lines().next();
    let _ = again.kill();
    let _ = again.wait();
    assert!(first.is_some());
    assert_eq!(std::fs::read(dir.join("d/ca.pem")).unwrap(), ca);
}
