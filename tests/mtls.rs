//! Mutual TLS: `[tls] client_ca` requires a client certificate chaining to
//! it, and `require_cert_subject_match` also requires its CN or a DNS name
//! to equal the token's `sub` (403 otherwise).

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{bounded, frame, TestServer};
use palisade::certgen::{DevLeaf, DevPki};
use palisade::client::{Client, ClientError};
use palisade::metrics::Outcome;
use palisade::protocol::ServerFrame;

/// A server requiring client certificates from its own client CA, whose
/// subject must match the token. Returns it and the client CA.
fn mtls_server() -> (TestServer, DevPki) {
    let clients = DevPki::generate().unwrap();
    let ca = clients.ca_cert_pem.clone();
    let server = TestServer::start_with(move |config| {
        let path = config.tls.cert.parent().unwrap().join("clients-ca.pem");
        std::fs::write(&path, ca).unwrap();
        config.tls.client_ca = Some(path);
        config.tls.require_cert_subject_match = true;
    });
    (server, clients)
}

/// Writes a client certificate and returns a TLS config presenting it.
fn client_tls(server: &TestServer, name: &str, leaf: &DevLeaf) -> Arc<rustls::ClientConfig> {
    let write = |file: &str, text: &str| -> PathBuf {
        let path = server.dir.join(file);
        std::fs::write(&path, text).unwrap();
        path
    };
    let cert = write(&format!("{name}.pem"), &leaf.cert_pem);
    let key = write(&format!("{name}.key"), &leaf.key_pem);
    palisade::tls::client_config_with_cert(&server.dir.join("ca.pem"), &cert, &key).unwrap()
}

async fn connect(
    server: &TestServer,
    tls: Arc<rustls::ClientConfig>,
    token: &str,
) -> Result<Client, ClientError> {
    let mut opts = server.connect_opts(token);
    opts.tls = tls;
    server.try_connect(opts).await
}

async fn tls_failures(server: &TestServer, want: u64) {
    bounded(async {
        while server.server.metrics().connections(Outcome::TlsFailed) < want {
            smol::Timer::after(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
}

#[test]
fn a_certificate_from_the_client_ca_naming_the_subject_is_accepted() {
    let (server, clients) = mtls_server();
    let by_cn = client_tls(
        &server,
        "alice",
        &clients.issue_client("alice", &[]).unwrap(),
    );
    let by_san = clients.issue_client("device 7", &["bob.example"]).unwrap();
    let by_san = client_tls(&server, "bob", &by_san);
    common::within(async {
        let mut alice = connect(&server, by_cn, &server.member("alice"))
            .await
            .unwrap();
        assert!(matches!(
            frame(&mut alice).await,
            ServerFrame::Welcome { .. }
        ));
        common::join_ok(&mut alice, "r").await;
        let mut bob = connect(&server, by_san, &server.member("bob.example"))
            .await
            .unwrap();
        assert!(matches!(frame(&mut bob).await, ServerFrame::Welcome { .. }));
    });
}

#[test]
fn no_certificate_fails_the_tls_handshake() {
    let (server, _clients) = mtls_server();
    common::within(async {
        let result = connect(&server, server.tls.clone(), &server.member("alice")).await;
        assert!(result.is_err(), "connected without a client certificate");
        assert!(!matches!(result, Err(ClientError::Refused { .. })));
        tls_failures(&server, 1).await;
    });
    assert_eq!(server.server.metrics().connections(Outcome::Accepted), 0);
}

#[test]
fn a_certificate_from_another_ca_fails_the_tls_handshake() {
    let (server, _clients) = mtls_server();
    let strangers = DevPki::generate().unwrap();
    let tls = client_tls(
        &server,
        "alice",
        &strangers.issue_client("alice", &[]).unwrap(),
    );
    common::within(async {
        let result = connect(&server, tls, &server.member("alice")).await;
        assert!(
            result.is_err(),
            "connected with a certificate from another CA"
        );
        tls_failures(&server, 1).await;
    });
    assert_eq!(server.server.metrics().connections(Outcome::Accepted), 0);
}

#[test]
fn a_certificate_for_another_subject_is_refused_with_403() {
    let (server, clients) = mtls_server();
    let tls = client_tls(
        &server,
        "alice",
        &clients.issue_client("alice", &[]).unwrap(),
    );
    common::within(async {
        match connect(&server, tls, &server.member("mallory")).await {
            Err(ClientError::Refused { status, body }) => {
                assert_eq!(status, 403);
                assert_eq!(
                    body.trim(),
                    "client certificate does not match token subject"
                );
            }
            other => panic!("expected a 403, got {other:?}"),
        }
    });
    let metrics = server.server.metrics();
    assert_eq!(metrics.connections(Outcome::Refused(403)), 1);
    assert_eq!(metrics.connections(Outcome::Accepted), 0);
}

#[test]
fn subject_match_without_a_client_ca_is_a_config_error() {
    let dir = std::env::temp_dir().join(format!("palisade-mtls-{}", std::process::id()));
    let text = "[tls]\ncert = \"s.pem\"\nkey = \"s.key\"\nrequire_cert_subject_match = true\n\
                [auth]\npublic_keys = [\"t.public\"]\naudience = \"a\"\n";
    let err = palisade::config::Config::from_toml(text, Path::new(&dir))
        .unwrap_err()
        .to_string();
    assert_eq!(err, "tls.require_cert_subject_match needs tls.client_ca");
}
