//! Tests for loading TLS material: every way a file can be wrong.

use std::fs;
use std::path::{Path, PathBuf};

use rustls::{CipherSuite, SupportedCipherSuite};

use super::*;
use crate::certgen::{write_dev_pki, DevPki, DevPkiPaths, LeafOptions, ScratchDir};

/// Committed keys in the encodings rcgen cannot write (see certs/README.md).
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("certs/fixtures")
        .join(name)
}

fn write(dir: &Path, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, contents).expect("write test file");
    path
}

#[test]
fn loads_generated_pair_with_documented_settings() {
    let scratch = ScratchDir::new("tls-load");
    let paths = write_dev_pki(scratch.path()).expect("dev pki");
    let config = server_config(&paths.cert, &paths.key).expect("server config");
    assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    assert_eq!(config.send_tls13_tickets, TLS13_TICKETS);
    assert_eq!(config.max_early_data_size, 0);
    assert!(config.require_ems);
    assert!(!config.ticketer.enabled(), "tickets stay stateful");
}

/// PROTOCOL.md §1 refuses non-AEAD suites. rustls has none today; this pins
/// it so that a provider upgrade adding one (CBC, say) fails here.
#[test]
fn every_offered_suite_is_aead_with_forward_secrecy() {
    let provider = ring_provider();
    assert!(!provider.cipher_suites.is_empty());
    for suite in &provider.cipher_suites {
        let name = format!("{:?}", suite.suite());
        let aead = name.contains("_GCM_") || name.contains("_CHACHA20_POLY1305_");
        assert!(aead, "{name} is not AEAD");
        if let SupportedCipherSuite::Tls12(_) = suite {
            assert!(name.starts_with("TLS_ECDHE_"), "{name} lacks ECDHE");
        }
    }
    assert!(provider
        .cipher_suites
        .iter()
        .any(|s| s.suite() == CipherSuite::TLS13_AES_128_GCM_SHA256));
}

#[test]
fn mismatched_key_is_named_as_such() {
    let scratch = ScratchDir::new("tls-mismatch");
    let pki = DevPki::generate().expect("pki");
    let other = pki.issue_leaf(&LeafOptions::default()).expect("leaf");
    let cert = write(scratch.path(), "server.pem", &pki.cert_pem);
    let key = write(scratch.path(), "server.key", &other.key_pem);
    let err = server_config(&cert, &key).expect_err("mismatch");
    assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: private key does not match the certificate in {}",
            key.display(),
            cert.display()
        )
    );
}

#[test]
fn missing_files_are_named() {
    let scratch = ScratchDir::new("tls-missing");
    let paths = write_dev_pki(scratch.path()).expect("dev pki");
    let absent = scratch.path().join("absent.pem");

    let err = server_config(&absent, &paths.key).expect_err("no cert");
    assert!(matches!(&err, TlsError::Read { path, .. } if *path == absent));
    let text = err.to_string();
    assert!(text.starts_with(&format!("{}: cannot read: ", absent.display())));
    assert!(text.contains("No such file or directory"), "{text}");

    let err = server_config(&paths.cert, &absent).expect_err("no key");
    assert!(matches!(&err, TlsError::Read { path, .. } if *path == absent));

    let err = client_config(&absent).expect_err("no CA");
    assert!(matches!(&err, TlsError::Read { path, .. } if *path == absent));
}

#[test]
fn garbage_and_wrong_sections_are_refused() {
    let scratch = ScratchDir::new("tls-garbage");
    let dir = scratch.path();
    let paths = write_dev_pki(dir).expect("dev pki");
    let garbage = write(dir, "garbage", "this is not PEM at all\n");
    let empty = write(dir, "empty", "");
    let truncated = write(dir, "truncated", "-----BEGIN CERTIFICATE-----\nAAAA\n");
    let bad_der = write(
        dir,
        "bad-der.pem",
        "-----BEGIN CERTIFICATE-----\nAAECAwQ=\n-----END CERTIFICATE-----\n",
    );

    let err = server_config(&garbage, &paths.key).expect_err("garbage cert");
    assert_eq!(
        err.to_string(),
        format!("{}: no certificate found", garbage.display())
    );
    let err = server_config(&empty, &paths.key).expect_err("empty cert");
    assert!(matches!(err, TlsError::NoCertificate { .. }), "{err:?}");
    let err = server_config(&truncated, &paths.key).expect_err("truncated");
    assert!(matches!(err, TlsError::MalformedPem { .. }), "{err:?}");
    let err = server_config(&bad_der, &paths.key).expect_err("bad DER");
    assert!(matches!(err, TlsError::BadCertificate { .. }), "{err:?}");

    let err = server_config(&paths.cert, &garbage).expect_err("garbage key");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: not a PEM private key (PKCS#8, SEC1 or PKCS#1)",
            garbage.display()
        )
    );
    // A certificate where the key should be: the classic swapped arguments.
    let err = server_config(&paths.cert, &paths.cert).expect_err("cert as key");
    assert!(matches!(err, TlsError::NoPrivateKey { .. }), "{err:?}");

    let err = client_config(&empty).expect_err("empty CA");
    assert!(matches!(err, TlsError::NoCertificate { .. }), "{err:?}");
    let err = client_config(&bad_der).expect_err("bad CA");
    assert!(matches!(err, TlsError::BadCertificate { .. }), "{err:?}");
    let err = client_config_from_roots(&[]).expect_err("no roots");
    assert!(matches!(err, TlsError::NoCertificate { .. }), "{err:?}");
}

/// rcgen writes only PKCS#8; these keys came from `openssl` (see
/// certs/README.md) and get a certificate minted for them at test time.
#[test]
fn pkcs1_rsa_and_sec1_ec_keys_load() {
    let scratch = ScratchDir::new("tls-encodings");
    let pki = DevPki::generate().expect("pki");
    for (pkcs8, other) in [
        ("rsa-pkcs8.key", "rsa-pkcs1.key"),
        ("ec-pkcs8.key", "ec-sec1.key"),
    ] {
        let pem = fs::read_to_string(fixture(pkcs8)).expect("fixture");
        let key = rcgen::KeyPair::from_pem(&pem).expect("fixture key");
        let cert_pem = pki
            .issue_cert_for(&key, &LeafOptions::default())
            .expect("cert");
        let cert = write(scratch.path(), &format!("{other}.pem"), cert_pem);
        for key_file in [pkcs8, other] {
            server_config(&cert, &fixture(key_file)).unwrap_or_else(|e| panic!("{key_file}: {e}"));
        }
        // And a key in the right encoding but for another certificate.
        let err = server_config(
            &cert,
            &fixture(if pkcs8.starts_with("rsa") {
                "ec-sec1.key"
            } else {
                "rsa-pkcs1.key"
            }),
        )
        .expect_err("wrong key");
        assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err:?}");
    }
}

/// The committed trio in certs/ (see its README) still loads and matches.
#[test]
fn committed_certs_load() {
    let paths = DevPkiPaths::in_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("certs"));
    server_config(&paths.cert, &paths.key).expect("certs/server.pem + server.key");
    client_config(&paths.ca_cert).expect("certs/ca.pem");
}

#[test]
fn every_error_is_one_line_starting_with_the_file() {
    let p = PathBuf::from("certs/server.key");
    let errors = [
        TlsError::Read {
            path: p.clone(),
            source: io::Error::new(io::ErrorKind::NotFound, "No such file or directory"),
        },
        TlsError::MalformedPem {
            path: p.clone(),
            detail: "missing section end marker".into(),
        },
        TlsError::NoCertificate { path: p.clone() },
        TlsError::NoPrivateKey { path: p.clone() },
        TlsError::UnusableKey {
            path: p.clone(),
            detail: "bad".into(),
        },
        TlsError::BadCertificate {
            path: p.clone(),
            detail: "bad".into(),
        },
        TlsError::KeyMismatch {
            key_path: p.clone(),
            cert_path: "certs/server.pem".into(),
        },
        TlsError::Config {
            path: p.clone(),
            detail: "bad".into(),
        },
    ];
    for err in errors {
        let text = err.to_string();
        assert!(text.starts_with("certs/server.key: "), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }
}
