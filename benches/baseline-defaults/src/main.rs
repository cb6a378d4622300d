//! Baseline "defaults" for BENCHMARKS.md: a bare binary-broadcast server
//! on palisade's stack (smol, async-tungstenite, futures-rustls with ring)
//! with the libraries' defaults: rustls' default `ServerConfig`,
//! tungstenite's default `WebSocketConfig`, one unbounded async-channel
//! queue per connection. It checks the same PASETO token as palisade (in
//! `Authorization: Bearer`, with `palisade::auth::Verifier`) before the
//! upgrade, and sends every binary message it receives to every connection.
//!
//! ```text
//! baseline-defaults LISTEN CERT KEY PUBLIC_KEY AUDIENCE
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use async_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use async_tungstenite::tungstenite::http::StatusCode;
use async_tungstenite::tungstenite::Message;
use futures_rustls::TlsAcceptor;
use futures_util::StreamExt;
use palisade::auth::{load_public_key_file, Verifier};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use smol::channel::Sender;
use smol::net::{TcpListener, TcpStream};

type Peers = Arc<Mutex<HashMap<u64, Sender<Message>>>>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [listen, cert, key, public_key, audience] = args.as_slice() else {
        eprintln!("usage: baseline-defaults LISTEN CERT KEY PUBLIC_KEY AUDIENCE");
        std::process::exit(2);
    };
    let listen: SocketAddr = listen.parse().expect("LISTEN is ip:port");
    let certs = CertificateDer::pem_file_iter(cert)
        .expect("CERT")
        .collect::<Result<Vec<_>, _>>()
        .expect("CERT");
    let key = PrivateKeyDer::from_pem_file(key).expect("KEY");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("certificate and key");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let key = load_public_key_file(public_key.as_ref()).expect("PUBLIC_KEY");
    let verifier = Arc::new(Verifier::new(vec![key], audience.clone(), None));
    let peers: Peers = Arc::default();
    smol::block_on(async {
        let listener = TcpListener::bind(listen).await.expect("bind");
        let next_id = AtomicU64::new(0);
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let id = next_id.fetch_add(1, Ordering::Relaxed);
            let (acceptor, verifier, peers) = (acceptor.clone(), verifier.clone(), peers.clone());
            smol::spawn(async move {
                let _ = connection(tcp, id, acceptor, verifier, peers).await;
            })
            .detach();
        }
    })
}

fn check_token(verifier: &Verifier, request: &Request) -> Result<(), ErrorResponse> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let token = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match token.map(|t| verifier.verify(t, now)) {
        Some(Ok(_)) => Ok(()),
        _ => {
            let mut refusal = ErrorResponse::new(Some("token refused".into()));
            *refusal.status_mut() = StatusCode::UNAUTHORIZED;
            Err(refusal)
        }
    }
}

async fn connection(
    tcp: TcpStream,
    id: u64,
    acceptor: TlsAcceptor,
    verifier: Arc<Verifier>,
    peers: Peers,
) -> Result<(), Box<dyn std::error::Error>> {
    let _ = tcp.set_nodelay(true);
    let tls = acceptor.accept(tcp).await?;
    let callback =
        |request: &Request, response: Response| check_token(&verifier, request).map(|()| response);
    let ws = async_tungstenite::accept_hdr_async(tls, callback).await?;
    let (mut sink, mut stream) = ws.split();
    let (tx, rx) = smol::channel::unbounded();
    peers.lock().unwrap().insert(id, tx);
    let writer = smol::spawn(async move {
        while let Ok(message) = rx.recv().await {
            if sink.send(message).await.is_err() {
                break;
            }
        }
    });
    while let Some(Ok(message)) = stream.next().await {
        if let Message::Binary(bytes) = message {
            for peer in peers.lock().unwrap().values() {
                let _ = peer.try_send(Message::Binary(bytes.clone()));
            }
        }
    }
    peers.lock().unwrap().remove(&id);
    drop(writer);
    Ok(())
}
