//! Shared helpers for the integration tests: a server on 127.0.0.1:0 with
//! fresh certificates and keys, token minting, clients, and raw HTTP.
//!
//! Every wait is bounded by `STEP`, so a broken server fails a test instead
//! of hanging it; no assertion depends on timing.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_rustls::TlsConnector;
use palisade::auth::{self, SecretKey, TokenRequest};
use palisade::client::{Client, ClientError, Connect, Event, TokenPlacement};
use palisade::config::{Config, StorageConfig};
use palisade::protocol::{ClientFrame, ErrorCode, Role, RoomName, ServerFrame};
use palisade::server::Server;
use rustls::pki_types::ServerName;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::TcpStream;

/// The longest any single step may take before the test fails.
pub const STEP: Duration = Duration::from_secs(15);

pub const AUDIENCE: &str = "palisade-test";

/// The lifetime of [`TestServer::expiring_token`], in seconds.
pub const EXPIRING_TTL: u64 = 3;

/// Runs a future to completion, failing the test if it takes over `STEP`.
pub fn within<T>(fut: impl Future<Output = T>) -> T {
    smol::block_on(bounded(fut))
}

pub async fn bounded<T>(fut: impl Future<Output = T>) -> T {
    smol::future::or(async { Some(fut.await) }, async {
        smol::Timer::after(STEP).await;
        None
    })
    .await
    .expect("step took longer than the test bound")
}

pub fn room(s: &str) -> RoomName {
    RoomName::new(s).unwrap()
}

fn unique_dir() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "palisade-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A running server and what a test needs to talk to it.
pub struct TestServer {
    pub addr: SocketAddr,
    pub dir: PathBuf,
    pub server: Server,
    pub handle: palisade::server::Handle,
    pub secret: SecretKey,
    pub tls: Arc<rustls::ClientConfig>,
    config: Config,
    stop: Option<smol::channel::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    pub fn start() -> Self {
        Self::start_with(|_| {})
    }

    /// Starts a server whose config `tweak` may change first.
    pub fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::start_bound(|config, _| tweak(config))
    }

    /// Starts a server with presence events in every room (the product's
    /// default), up to `max_members` users, after `tweak`.
    pub fn start_with_presence(max_members: u32, tweak: impl FnOnce(&mut Config)) -> Self {
        Self::start_with(|config| {
            config.presence.events = vec!["*".to_owned()];
            config.presence.events_max_members = max_members;
            tweak(config);
        })
    }

    /// Starts a server that accepts WebSockets from its own page, as a
    /// browser that loaded `https://localhost:<port>/` sends them: the
    /// origin names the port, which is known only once the listener is
    /// bound, so the listener is bound before the server is built.
    pub fn start_with_page_origin() -> Self {
        Self::start_with_page_origin_and(|_| {})
    }

    /// [`Self::start_with_page_origin`], with `tweak` applied too.
    pub fn start_with_page_origin_and(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::start_bound(|config, addr| {
            config.allowed_origins = vec![format!("https://localhost:{}", addr.port())];
            tweak(config);
        })
    }

    /// Binds the listener first, then lets `tweak` change the config with
    /// the bound address in hand, then builds and runs the server.
    fn start_bound(tweak: impl FnOnce(&mut Config, SocketAddr)) -> Self {
        let dir = unique_dir();
        palisade::certgen::write_dev_pki(&dir).unwrap();
        auth::write_keypair(&dir).unwrap();
        // File storage, as `palisade serve` runs (sync off: tests need no
        // power-loss safety and a busy machine's fsyncs are slow).
        let mut storage = StorageConfig::file_in(&dir);
        storage.sync = false;
        let mut config = config_in(&dir, &["token.public"]).with_storage(storage);
        // Presence events are off unless a test turns them on (see
        // `start_with_presence`), so tests of other features see exactly
        // the frames they are about.
        config.presence.events.clear();
        let listener = smol::block_on(smol::net::TcpListener::bind(config.listen)).unwrap();
        let addr = listener.local_addr().unwrap();
        tweak(&mut config, addr);
        let server = Server::new(&config).unwrap();
        let secret = auth::load_secret_key_file(&dir.join("token.secret")).unwrap();
        let tls = palisade::tls::client_config(&dir.join("ca.pem")).unwrap();
        let (stop, thread) = Self::run(&server, listener);
        Self {
            addr,
            dir,
            handle: server.handle(),
            server,
            secret,
            tls,
            config,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn run(
        server: &Server,
        listener: smol::net::TcpListener,
    ) -> (smol::channel::Sender<()>, std::thread::JoinHandle<()>) {
        let (stop_tx, stop_rx) = smol::channel::bounded::<()>(1);
        let runner = server.clone();
        let thread = std::thread::spawn(move || {
            smol::block_on(async move {
                let _ = runner
                    .run(listener, async move {
                        let _ = stop_rx.recv().await;
                    })
                    .await;
            });
        });
        (stop_tx, thread)
    }

    /// Stops the server (its sessions are closed with 1001) and starts a
    /// new one with the same config on the same address, as an operator's
    /// restart does: file storage keeps the rooms, memory storage does
    /// not. The port was this server's until a moment ago; if another
    /// process took it meanwhile, this fails saying so.
    pub fn restart(&mut self) {
        self.stop();
        // The old server lets go of its database before the new one opens
        // it: a memory-storage stand-in takes its place meanwhile.
        let mut stand_in = self.config.clone();
        stand_in.storage = Some(StorageConfig::memory());
        let stand_in = Server::new(&stand_in).unwrap();
        self.handle = stand_in.handle();
        drop(std::mem::replace(&mut self.server, stand_in));
        let listener = smol::block_on(smol::net::TcpListener::bind(self.addr))
            .unwrap_or_else(|e| panic!("restart: cannot bind {} again: {e}", self.addr));
        self.server = Server::new(&self.config).unwrap();
        self.handle = self.server.handle();
        let (stop, thread) = Self::run(&self.server, listener);
        self.stop = Some(stop);
        self.thread = Some(thread);
    }

    pub fn url(&self) -> String {
        format!("wss://localhost:{}/ws", self.addr.port())
    }

    /// A token for `sub` with `role` and `rooms`, valid for `ttl` seconds.
    pub fn token(&self, sub: &str, role: Role, rooms: &[&str], ttl: u64) -> String {
        let request = TokenRequest::new(sub, role, rooms.iter().copied(), ttl, AUDIENCE);
        auth::mint(&self.secret, &request, now()).unwrap()
    }

    /// A member token for `sub` that expires in the next few seconds: for
    /// tests that watch a session end at `exp`. Claims are whole seconds,
    /// so a ttl of `n` leaves between `n - 1` and `n` seconds; three keeps
    /// at least two for connecting on a busy machine, where a ttl of 1 once
    /// expired before the connect, which got 401.
    pub fn expiring_token(&self, sub: &str) -> String {
        self.token(sub, Role::Member, &["*"], EXPIRING_TTL)
    }

    /// A token for `sub` signed as is, without `mint`'s checks: for claims
    /// the server must refuse but `mint` would not write.
    pub fn token_unchecked(&self, sub: &str, ttl: u64) -> String {
        use pasetors::keys::AsymmetricSecretKey;
        use pasetors::version4::{PublicToken, V4};
        let iso = |t: u64| palisade::auth::time::format_rfc3339(t as i64).unwrap();
        let claims = serde_json::json!({
            "sub": sub, "role": "member", "rooms": ["*"], "aud": AUDIENCE,
            "iat": iso(now()), "exp": iso(now() + ttl),
        });
        let key = AsymmetricSecretKey::<V4>::try_from(self.secret.to_paserk().as_str()).unwrap();
        PublicToken::sign(&key, claims.to_string().as_bytes(), None, None).unwrap()
    }

    /// A well-formed member token for `sub` signed by a key the server does
    /// not have.
    pub fn foreign_token(&self, sub: &str) -> String {
        let key = SecretKey::generate().unwrap();
        let request = TokenRequest::new(sub, Role::Member, ["*"], 600, AUDIENCE);
        auth::mint(&key, &request, now()).unwrap()
    }

    pub fn member(&self, sub: &str) -> String {
        self.token(sub, Role::Member, &["*"], 3600)
    }

    pub fn connect_opts(&self, token: &str) -> Connect {
        Connect::new(&self.url(), self.tls.clone(), token)
    }

    pub async fn try_connect(&self, opts: Connect) -> Result<Client, ClientError> {
        bounded(Client::connect(opts)).await
    }

    /// Connects and reads the `Welcome`.
    pub async fn connect(&self, token: &str) -> (Client, ServerFrame) {
        let mut client = self.try_connect(self.connect_opts(token)).await.unwrap();
        let welcome = frame(&mut client).await;
        assert!(
            matches!(welcome, ServerFrame::Welcome { .. }),
            "{welcome:?}"
        );
        (client, welcome)
    }

    pub async fn connect_with_subprotocol_token(&self, token: &str) -> Result<Client, ClientError> {
        let mut opts = self.connect_opts(token);
        opts.placement = TokenPlacement::Subprotocol;
        self.try_connect(opts).await
    }

    /// Opens TLS, writes `head` as is, and returns everything the server
    /// answers until it closes.
    pub async fn raw_http(&self, head: &str) -> String {
        let tcp = TcpStream::connect(self.addr).await.unwrap();
        let mut tls = TlsConnector::from(self.tls.clone())
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        tls.write_all(head.as_bytes()).await.unwrap();
        tls.flush().await.unwrap();
        // Read to the end, except after a 101 (the session stays open):
        // there, stop at the end of the head.
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = bounded(tls.read(&mut buf)).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
            if out.starts_with(b"HTTP/1.1 101 ") {
                if let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") {
                    out.truncate(end + 4);
                    break;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Stops the server and waits for its thread.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.try_send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The status code of a raw HTTP answer.
pub fn status_of(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {response:?}"))
}

/// A valid upgrade request head with `extra` header lines appended.
pub fn upgrade_head(path: &str, extra: &[&str]) -> String {
    let mut head = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    );
    for line in extra {
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head
}

/// Sends `Join` and returns the answer (`Joined` or an `Error`).
pub async fn join(client: &mut Client, name: &str, since: Option<u64>) -> ServerFrame {
    client
        .send(&ClientFrame::Join {
            room: room(name),
            since,
        })
        .await
        .unwrap();
    frame(client).await
}

/// Joins `name` live, failing the test unless the answer is `Joined`.
pub async fn join_ok(client: &mut Client, name: &str) {
    let answer = join(client, name, None).await;
    assert!(matches!(answer, ServerFrame::Joined { .. }), "{answer:?}");
}

/// Sends `Publish` of `body` to `name` with correlation `id` (the answer is
/// the caller's to read).
pub async fn publish(client: &mut Client, id: u32, name: &str, body: palisade::protocol::Body) {
    client
        .send(&ClientFrame::Publish {
            id,
            room: room(name),
            body,
        })
        .await
        .unwrap();
}

/// [`publish`] of a text body.
pub async fn publish_text(client: &mut Client, id: u32, name: &str, text: &str) {
    publish(
        client,
        id,
        name,
        palisade::protocol::Body::Text(text.into()),
    )
    .await;
}

/// The next frame; fails the test on a close or an error.
pub async fn frame(client: &mut Client) -> ServerFrame {
    match bounded(client.recv()).await {
        Ok(Event::Frame(f)) => f,
        other => panic!("expected a frame, got {other:?}"),
    }
}

/// The id and code of an `Error` frame; fails the test on any other frame.
pub fn error_code(f: &ServerFrame) -> (Option<u32>, ErrorCode) {
    match f {
        ServerFrame::Error { id, code, .. } => (*id, *code),
        other => panic!("expected Error, got {other:?}"),
    }
}

/// The id and code of the next frame, which must be an `Error`.
pub async fn next_error(client: &mut Client) -> (Option<u32>, ErrorCode) {
    error_code(&frame(client).await)
}

/// Reads until the server closes; returns the close code. Frames before
/// the close are skipped.
pub async fn close_code(client: &mut Client) -> u16 {
    close_frame(client).await.0
}

/// Reads until the server closes; returns the close code and reason.
/// Frames before the close are skipped.
pub async fn close_frame(client: &mut Client) -> (u16, String) {
    loop {
        match bounded(client.recv()).await {
            Ok(Event::Frame(_)) => continue,
            Ok(Event::Closed { code, reason }) => return (code, reason),
            Err(e) => panic!("expected a close frame, got {e}"),
        }
    }
}

pub mod binary;
pub mod child;
pub mod cli;
mod raw;
#[allow(unused_imports)]
pub use raw::*;

/// The configuration every test server starts from: the dev PKI's
/// certificate and key in `dir`, the `public_keys` files there, port 0.
pub fn config_in(dir: &Path, public_keys: &[&str]) -> Config {
    Config::new(
        dir.join("server.pem"),
        dir.join("server.key"),
        public_keys.iter().map(|k| dir.join(k)),
        AUDIENCE,
    )
    .with_listen(SocketAddr::from(([127, 0, 0, 1], 0)))
}
