//! Baseline "tokio" for BENCHMARKS.md: the same bare binary-broadcast
//! server written the usual tokio way: tokio's default multi-threaded
//! runtime (one worker per core), tokio-rustls on ring with rustls'
//! default `ServerConfig`, tokio-tungstenite's default `WebSocketConfig`,
//! and one `tokio::sync::broadcast` channel for the room (a receiver that
//! lags more than its capacity loses messages rather than being closed).
//! It checks the same PASETO token as palisade (`Authorization: Bearer`,
//! `palisade::auth::Verifier`) before the upgrade.
//!
//! ```text
//! baseline-tokio LISTEN CERT KEY PUBLIC_KEY AUDIENCE
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use palisade::auth::{load_public_key_file, Verifier};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::{Bytes, Message};

/// Messages the room holds for its slowest receiver.
const ROOM_CAPACITY: usize = 1024;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [listen, cert, key, public_key, audience] = args.as_slice() else {
        eprintln!("usage: baseline-tokio LISTEN CERT KEY PUBLIC_KEY AUDIENCE");
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
    let (room, _) = broadcast::channel::<Bytes>(ROOM_CAPACITY);
    let listener = TcpListener::bind(listen).await.expect("bind");
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let (acceptor, verifier, room) = (acceptor.clone(), verifier.clone(), room.clone());
        tokio::spawn(async move {
            let _ = connection(tcp, acceptor, verifier, room).await;
        });
    }
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
    acceptor: TlsAcceptor,
    verifier: Arc<Verifier>,
    room: broadcast::Sender<Bytes>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let _ = tcp.set_nodelay(true);
    let tls = acceptor.accept(tcp).await?;
    let callback =
        |request: &Request, response: Response| check_token(&verifier, request).map(|()| response);
    let ws = tokio_tungstenite::accept_hdr_async(tls, callback).await?;
    let (mut sink, mut stream) = ws.split();
    let mut inbox = room.subscribe();
    loop {
        tokio::select! {
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Binary(bytes))) => {
                    let _ = room.send(bytes);
                }
                Some(Ok(_)) => {}
                _ => break,
            },
            outgoing = inbox.recv() => match outgoing {
                Ok(bytes) => sink.send(Message::Binary(bytes)).await?,
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            },
        }
    }
    Ok(())
}
