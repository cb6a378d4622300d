//! Tests for the development PKI. TLS handshakes over these certificates are
//! tested in `tls::tests`; here we check what is written and how.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use super::*;
use crate::tls;

/// Returns the serial number bytes of a DER certificate.
///
/// A ten-line walk of `Certificate ::= SEQUENCE { tbs SEQUENCE { [0] version,
/// INTEGER serial, ... } }`, because the crate has no X.509 parser and the
/// serial is the one field rotation tests depend on.
fn serial_of(der: &[u8]) -> Vec<u8> {
    fn header(d: &[u8]) -> (u8, usize, usize) {
        let tag = d[0];
        let first = d[1] as usize;
        if first < 0x80 {
            return (tag, 2, first);
        }
        let n = first & 0x7f;
        let len = d[2..2 + n]
            .iter()
            .fold(0, |acc, b| (acc << 8) | *b as usize);
        (tag, 2 + n, len)
    }
    let (_, cert_hdr, _) = header(der);
    let tbs = &der[cert_hdr..];
    let (_, tbs_hdr, _) = header(tbs);
    let mut rest = &tbs[tbs_hdr..];
    let (tag, hdr, len) = header(rest);
    if tag == 0xa0 {
        rest = &rest[hdr + len..];
    }
    let (tag, hdr, len) = header(rest);
    assert_eq!(tag, 0x02, "serial is an INTEGER");
    rest[hdr..hdr + len].to_vec()
}

fn leaf_der(pem: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem.as_bytes()).expect("leaf PEM")
}

#[test]
fn generated_pki_has_one_leaf_and_a_separate_ca() {
    let pki = DevPki::generate().expect("generate");
    assert_eq!(
        CertificateDer::pem_slice_iter(pki.cert_pem.as_bytes()).count(),
        1
    );
    assert_eq!(
        CertificateDer::pem_slice_iter(pki.ca_cert_pem.as_bytes()).count(),
        1
    );
    assert_ne!(pki.cert_pem, pki.ca_cert_pem);
    assert!(pki.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
}

#[test]
fn debug_output_never_contains_private_keys() {
    let pki = DevPki::generate().expect("generate");
    let leaf = pki.issue_leaf(&LeafOptions::default()).expect("leaf");
    for shown in [format!("{pki:?}"), format!("{leaf:?}")] {
        assert!(!shown.contains("PRIVATE KEY"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }
}

#[test]
fn chosen_serial_is_in_the_certificate() {
    let pki = DevPki::generate_with(&LeafOptions {
        serial: Some(0x0102_0304),
        ..LeafOptions::default()
    })
    .expect("generate");
    assert_eq!(serial_of(&leaf_der(&pki.cert_pem)), [1, 2, 3, 4]);

    let next = pki
        .issue_leaf(&LeafOptions {
            serial: Some(5),
            ..LeafOptions::default()
        })
        .expect("second leaf");
    assert_eq!(serial_of(&leaf_der(&next.cert_pem)), [5]);
    assert_ne!(next.key_pem, pki.key_pem, "every leaf gets a fresh key");
}

#[test]
fn extreme_validity_is_clamped_not_a_panic() {
    let leaf = LeafOptions {
        not_before: UNIX_EPOCH - Duration::from_secs(1),
        not_after: UNIX_EPOCH + Duration::from_secs(LATEST_SECS * 2),
        ..LeafOptions::default()
    };
    DevPki::generate_with(&leaf).expect("clamped validity still signs");
}

#[test]
fn invalid_name_is_an_error() {
    let leaf = LeafOptions {
        // Not IA5 (ASCII): an IDN must be given in its punycode form.
        subject_alt_names: vec!["bücher.example".into()],
        ..LeafOptions::default()
    };
    assert!(DevPki::generate_with(&leaf).is_err());
}

fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

#[test]
fn write_dev_pki_creates_files_with_private_key_mode() {
    let scratch = ScratchDir::new("certgen-write");
    let dir = scratch.path().join("nested/certs");
    let paths = write_dev_pki(&dir).expect("write");
    assert_eq!(paths, DevPkiPaths::in_dir(&dir));
    assert_eq!(mode_of(&paths.key), 0o600);
    // The pair loads as a server config: key matches cert, chain parses.
    tls::server_config(&paths.cert, &paths.key).expect("server config");
    tls::client_config(&paths.ca_cert).expect("client config");
}

#[test]
fn write_dev_pki_reuses_existing_files() {
    let scratch = ScratchDir::new("certgen-reuse");
    let first = write_dev_pki(scratch.path()).expect("first");
    let before = fs::read(&first.key).expect("read key");
    let second = write_dev_pki(scratch.path()).expect("second");
    assert_eq!(first, second);
    assert_eq!(fs::read(&second.key).expect("read key"), before);
}

#[test]
fn write_dev_pki_refuses_a_partial_set() {
    let scratch = ScratchDir::new("certgen-partial");
    let paths = write_dev_pki(scratch.path()).expect("write");
    fs::remove_file(&paths.cert).expect("remove cert");
    let key_before = fs::read(&paths.key).expect("read key");

    let err = write_dev_pki(scratch.path()).expect_err("partial set");
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    assert!(err.to_string().contains(CERT_FILE), "{err}");
    assert_eq!(fs::read(&paths.key).expect("read key"), key_before);
    assert!(!paths.cert.exists());
}

#[test]
fn write_to_never_overwrites() {
    let scratch = ScratchDir::new("certgen-overwrite");
    let pki = DevPki::generate().expect("generate");
    pki.write_to(scratch.path()).expect("first write");
    let err = pki.write_to(scratch.path()).expect_err("second write");
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    assert!(err.to_string().contains(KEY_FILE), "{err}");
}

/// Rewrites the committed test certificates in `certs/`. Run with
/// `cargo test --lib regenerate_certs_folder -- --ignored`; see
/// `certs/README.md`.
#[test]
#[ignore = "rewrites the committed certs/ folder"]
fn regenerate_certs_folder() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("certs");
    let paths = DevPkiPaths::in_dir(&dir);
    for path in paths.all() {
        match fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => panic!("{}: {e}", path.display()),
        }
    }
    // As long-lived as the CA, so the committed fixtures do not start
    // failing tests a year from now.
    let now = SystemTime::now();
    let leaf = LeafOptions {
        serial: Some(1),
        not_after: now + CA_VALIDITY - DAY,
        ..LeafOptions::default()
    };
    DevPki::generate_with(&leaf)
        .expect("generate")
        .write_to(&dir)
        .expect("write certs/");
    tls::server_config(&paths.cert, &paths.key).expect("committed pair loads");
}
