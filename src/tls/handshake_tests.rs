//! Real TLS handshakes over loopback TCP with futures-rustls, the way the
//! server will run them: what gets negotiated and what gets refused.

use std::time::Duration;

use futures_rustls::{TlsAcceptor, TlsConnector};
use rustls::pki_types::ServerName;
use rustls::{CertificateError, ProtocolVersion};
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::{TcpListener, TcpStream};

use super::*;
use crate::certgen::{write_dev_pki, DevPki, DevPkiPaths, ScratchDir};

fn roots(pki: &DevPki) -> Vec<CertificateDer<'static>> {
    vec![CertificateDer::from_pem_slice(pki.ca_cert_pem.as_bytes()).expect("CA PEM")]
}

/// What one side saw after a completed handshake and one round trip.
#[derive(Debug, PartialEq)]
struct Negotiated {
    version: Option<ProtocolVersion>,
    alpn: Option<Vec<u8>>,
}

/// Runs a server and a client over loopback TCP on an ephemeral port,
/// exchanges `ping`/`pong`, and returns what each side negotiated.
fn handshake(
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    name: &str,
) -> (io::Result<Negotiated>, io::Result<Negotiated>) {
    let name = ServerName::try_from(name.to_owned()).expect("server name");
    let run = async move {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let serve = async {
            let (tcp, _) = listener.accept().await?;
            let mut tls = TlsAcceptor::from(server).accept(tcp).await?;
            let mut buf = [0; 4];
            tls.read_exact(&mut buf).await?;
            assert_eq!(&buf, b"ping");
            tls.write_all(b"pong").await?;
            tls.flush().await?;
            let (_, conn) = tls.get_ref();
            Ok(Negotiated {
                version: conn.protocol_version(),
                alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
            })
        };
        let connect = async {
            let tcp = TcpStream::connect(addr).await?;
            let mut tls = TlsConnector::from(client).connect(name, tcp).await?;
            tls.write_all(b"ping").await?;
            tls.flush().await?;
            let mut buf = [0; 4];
            tls.read_exact(&mut buf).await?;
            assert_eq!(&buf, b"pong");
            let (_, conn) = tls.get_ref();
            Ok(Negotiated {
                version: conn.protocol_version(),
                alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
            })
        };
        Ok::<_, io::Error>(smol::future::zip(serve, connect).await)
    };
    let timeout = async {
        smol::Timer::after(Duration::from_secs(20)).await;
        panic!("handshake test timed out");
    };
    smol::block_on(smol::future::or(run, timeout)).expect("loopback listener")
}

/// The rustls error futures-rustls wrapped in an `io::Error`, so tests can
/// match on the variant instead of on message text.
fn rustls_error(err: &io::Error) -> Option<&rustls::Error> {
    err.get_ref()?.downcast_ref::<rustls::Error>()
}

fn dev_server(scratch: &ScratchDir) -> (Arc<ServerConfig>, DevPkiPaths) {
    let paths = write_dev_pki(scratch.path()).expect("dev pki");
    let config = server_config(&paths.cert, &paths.key).expect("server config");
    (config, paths)
}

#[test]
fn tls13_handshake_negotiates_http11() {
    let scratch = ScratchDir::new("tls-hs13");
    let (server, paths) = dev_server(&scratch);
    let client = client_config(&paths.ca_cert).expect("client config");
    let want = Negotiated {
        version: Some(ProtocolVersion::TLSv1_3),
        alpn: Some(b"http/1.1".to_vec()),
    };
    for name in ["localhost", "127.0.0.1"] {
        let (s, c) = handshake(server.clone(), client.clone(), name);
        assert_eq!(s.expect("server side"), want, "{name}");
        assert_eq!(c.expect("client side"), want, "{name}");
    }
}

#[test]
fn tls12_only_client_is_accepted() {
    let scratch = ScratchDir::new("tls-hs12");
    let (server, paths) = dev_server(&scratch);
    let roots = read_certs(&paths.ca_cert).expect("CA");
    let mut store = RootCertStore::empty();
    store.add(roots[0].clone()).expect("anchor");
    let mut client = ClientConfig::builder_with_provider(ring_provider())
        .with_protocol_versions(&[&TLS12])
        .expect("TLS 1.2")
        .with_root_certificates(store)
        .with_no_client_auth();
    client.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
    let (s, c) = handshake(server, Arc::new(client), "localhost");
    let want = Negotiated {
        version: Some(ProtocolVersion::TLSv1_2),
        alpn: Some(b"http/1.1".to_vec()),
    };
    assert_eq!(s.expect("server side"), want);
    assert_eq!(c.expect("client side"), want);
}

#[test]
fn client_trusts_only_its_ca() {
    let scratch = ScratchDir::new("tls-foreign-ca");
    let (server, _) = dev_server(&scratch);
    let stranger = DevPki::generate().expect("other pki");
    let client = client_config_from_roots(&roots(&stranger)).expect("client");
    let (s, c) = handshake(server, client, "localhost");
    let err = c.expect_err("foreign CA must fail");
    // Both CAs share a subject name, so webpki finds the stranger's anchor
    // by name and then fails on its signature; a differently named CA
    // would give `UnknownIssuer`. Either way the chain is refused.
    assert!(
        matches!(
            rustls_error(&err),
            Some(rustls::Error::InvalidCertificate(
                CertificateError::BadSignature | CertificateError::UnknownIssuer
            ))
        ),
        "{err:?}"
    );
    assert!(s.is_err(), "server sees the client's alert");
}

#[test]
fn wrong_name_is_refused() {
    let scratch = ScratchDir::new("tls-wrong-name");
    let (server, paths) = dev_server(&scratch);
    let client = client_config(&paths.ca_cert).expect("client");
    let (_, c) = handshake(server, client, "example.com");
    let err = c.expect_err("name not in SANs");
    assert!(
        matches!(
            rustls_error(&err),
            Some(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForNameContext { .. }
            ))
        ),
        "{err:?}"
    );
}

#[test]
fn client_offering_only_h2_is_refused() {
    let scratch = ScratchDir::new("tls-h2");
    let (server, paths) = dev_server(&scratch);
    let mut client = (*client_config(&paths.ca_cert).expect("client")).clone();
    client.alpn_protocols = vec![b"h2".to_vec()];
    let (s, c) = handshake(server, Arc::new(client), "localhost");
    let err = s.expect_err("no common protocol");
    assert!(
        matches!(
            rustls_error(&err),
            Some(rustls::Error::NoApplicationProtocol)
        ),
        "{err:?}"
    );
    assert!(c.is_err());
}

/// rustls has no TLS 1.0/1.1 code at all, so no rustls client can offer
/// them; a hand-written TLS 1.0 ClientHello shows what such a peer gets.
#[test]
fn tls10_client_hello_gets_protocol_version_alert() {
    let scratch = ScratchDir::new("tls-hs10");
    let (server, _) = dev_server(&scratch);
    let mut hello = vec![0x01, 0, 0, 0, 0x03, 0x01]; // ClientHello, len, TLS 1.0
    hello.extend_from_slice(&[7; 32]); // random
    hello.push(0); // empty session id
    hello.extend_from_slice(&[0, 2, 0x00, 0x2f]); // TLS_RSA_WITH_AES_128_CBC_SHA
    hello.extend_from_slice(&[1, 0]); // null compression
                                      // Only signature_algorithms (ecdsa_secp256r1_sha256): rustls checks for
                                      // it before the version, and without it answers handshake_failure.
    hello.extend_from_slice(&[0, 8, 0x00, 0x0d, 0, 4, 0, 2, 0x04, 0x03]);
    let body_len = u8::try_from(hello.len() - 4).expect("short hello");
    hello[3] = body_len;
    let mut record = vec![0x16, 0x03, 0x01, 0, body_len + 4];
    record.extend_from_slice(&hello);

    let run = async move {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let serve = async {
            let (tcp, _) = listener.accept().await?;
            TlsAcceptor::from(server).accept(tcp).await.map(drop)
        };
        let probe = async {
            let mut tcp = TcpStream::connect(addr).await?;
            tcp.write_all(&record).await?;
            let mut reply = Vec::new();
            tcp.read_to_end(&mut reply).await?;
            Ok::<_, io::Error>(reply)
        };
        Ok::<_, io::Error>(smol::future::zip(serve, probe).await)
    };
    let (served, reply) = smol::block_on(run).expect("loopback");
    let err = served.expect_err("server refuses TLS 1.0");
    assert!(
        matches!(
            rustls_error(&err),
            Some(rustls::Error::PeerIncompatible(
                rustls::PeerIncompatible::Tls12NotOffered
            ))
        ),
        "{err:?}"
    );
    // One alert record: fatal (2), protocol_version (70).
    let reply = reply.expect("reply");
    assert_eq!(reply[0], 0x15, "alert record: {reply:02x?}");
    assert_eq!(&reply[5..7], &[2, 70], "{reply:02x?}");
}
