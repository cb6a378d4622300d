//! What a newcomer meets in the first hour with the `palisade` command:
//! help where they ask for it, the demo binding before it says it listens,
//! reachable from another host, and sentences for the usual mistakes.

#![cfg(feature = "server")]
mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::cli::{bin, error_line, keygen, refused, temp, text};
use palisade::certgen::{DevPki, LeafOptions};

#[test]
fn help_is_there_for_each_command() {
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["check-config", "--help"],
        &["demo", "--help"],
    ] {
        let out = bin().args(args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(text(&out.stdout).starts_with("usage:"), "{args:?}");
    }
}

#[test]
fn token_takes_units_and_names_what_is_wrong() {
    let dir = temp("first", "token");
    keygen(&dir);
    let mint = |rooms: &str, ttl: &str| {
        bin()
            .args(["token", "--key"])
            .arg(dir.join("token.secret"))
            .args([
                "--sub", "alice", "--role", "member", "--rooms", rooms, "--ttl", ttl,
            ])
            .output()
            .unwrap()
    };
    let out = mint("lobby", "1h");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("v4.public."));
    let out = mint("lobby", "1x");
    let line = refused(&out);
    assert!(
        line.contains("--ttl: '1x' is not a lifetime; give seconds (3600)"),
        "{line}"
    );
    let out = mint("lobby", "0");
    let line = refused(&out);
    assert!(
        line.contains("--ttl: a lifetime must be at least 1 s"),
        "{line}"
    );
    assert!(line.contains(" s from now"), "{line}");
    let out = mint("lobby,Kitchen", "60");
    let line = refused(&out);
    assert!(
        line.contains("--rooms: 'Kitchen' is not a room pattern"),
        "{line}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_demo_binds_before_it_prints_and_suggests_another_port() {
    let dir = temp("first", "demo-busy");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = bin()
        .args(["demo", "--port", &port, "--dir"])
        .arg(dir.join("d"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stdout),
        "",
        "printed instructions for a server that never listened"
    );
    let line = error_line(&out);
    assert!(
        line.contains("address is in use") && line.contains("--port PORT"),
        "{line}"
    );

    // Another host: its name in the certificate, all interfaces, its origin.
    let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = bin()
        .args([
            "demo",
            "--host",
            "pi.local",
            "--port",
            &port.to_string(),
            "--dir",
        ])
        .arg(dir.join("d"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let config = std::fs::read_to_string(dir.join("d/palisade.toml")).unwrap();
    assert!(
        config.contains(&format!("listen = \"0.0.0.0:{port}\"")),
        "{config}"
    );
    assert!(
        config.contains(&format!("\"https://pi.local:{port}\"")),
        "{config}"
    );
    assert!(config.contains("ban_seconds = 60"), "{config}");
    let pem = std::fs::read(dir.join("d/server.pem")).unwrap();
    let der = rustls_pki_der(&pem);
    let info = palisade::tls::x509::parse(&der).unwrap();
    assert!(
        info.dns_names.iter().any(|n| n == "pi.local"),
        "{:?}",
        info.dns_names
    );
    assert!(
        info.dns_names.iter().any(|n| n == "localhost"),
        "{:?}",
        info.dns_names
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The first certificate of a PEM file, as DER.
fn rustls_pki_der(pem: &[u8]) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .next()
        .unwrap()
        .unwrap()
        .to_vec()
}

/// A config in `dir` with a fresh PKI whose leaf expires at `not_after`.
fn config_with_cert(dir: &Path, not_after: SystemTime, limits: &str) -> PathBuf {
    let leaf = LeafOptions {
        not_before: SystemTime::now() - Duration::from_secs(30 * 86_400),
        not_after,
        ..LeafOptions::default()
    };
    let pki = DevPki::generate_with(&leaf).unwrap();
    std::fs::write(dir.join("server.pem"), &pki.cert_pem).unwrap();
    std::fs::write(dir.join("server.key"), &pki.key_pem).unwrap();
    if !dir.join("token.public").exists() {
        palisade::auth::write_keypair(dir).unwrap();
    }
    let path = dir.join("palisade.toml");
    std::fs::write(
        &path,
        format!(
            "listen = \"127.0.0.1:0\"\n[tls]\ncert = \"server.pem\"\nkey = \"server.key\"\n\
             [auth]\npublic_keys = [\"token.public\"]\naudience = \"a\"\n{limits}"
        ),
    )
    .unwrap();
    path
}

#[test]
fn an_expired_certificate_stops_serve_and_a_near_one_is_a_warning() {
    let dir = temp("first", "cert");
    let config = config_with_cert(&dir, SystemTime::now() - Duration::from_secs(86_400), "");
    for command in ["serve", "check-config"] {
        let out = bin()
            .args([command, "--config"])
            .arg(&config)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{command}");
        let line = error_line(&out);
        assert!(
            line.contains("server.pem: the certificate expired on 20"),
            "{command}: {line}"
        );
        assert!(line.ends_with("which makes a new one)"), "{line}");
    }
    let config = config_with_cert(
        &dir,
        SystemTime::now() + Duration::from_secs(5 * 86_400),
        "",
    );
    let out = bin()
        .args(["check-config", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("warning: "), "{stdout}");
    assert!(
        stdout.contains("server.pem: the certificate expires on 20"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_config_names_both_keys_of_an_unreachable_limit() {
    let dir = temp("first", "coherence");
    let year = SystemTime::now() + Duration::from_secs(365 * 86_400);
    let config = config_with_cert(&dir, year, "[limits]\npublish_per_sec = 1000\n");
    let out = bin()
        .args(["check-config", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let warning = stdout.lines().next().unwrap_or_default();
    assert!(
        warning.contains(
            "palisade.toml: limits.publish_per_sec (1000) is above limits.frames_per_sec (50)"
        ),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .nth(1)
            .unwrap_or_default()
            .starts_with("ok: "),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
