//! Load generator for the benchmarks in `BENCHMARKS.md` (`benches/run.sh`
//! drives it; run by hand like this):
//!
//! ```text
//! cargo build --release --bin palisade
//! (cd benches/tools && cargo build --release)
//! L=benches/tools/target/release/loadgen
//! $L setup --dir /tmp/b                     # CA, certificate, keys, token
//! # start a server on /tmp/b (see benches/run.sh for the configs), then:
//! $L --target palisade --url wss://127.0.0.1:9443/ws --ca /tmp/b/ca.pem \
//!    --token-file /tmp/b/member.token --server-pid PID --sessions 1000 --idle 5
//! $L ... --handshakes 5000 --concurrency 32
//! $L ... --fanout --members 1000 --publishers 1 --rate 200 --body 64 --duration 10
//! $L ... --fanout --members 100 --publishers 8 --window 16 --threads 2  # a burst
//! $L ... --handshakes 5000 --concurrency 32 --resume   # resumed TLS sessions
//! $L ... --storm --sessions 1000 --users-key /tmp/b/token.secret
//! ```
//!
//! One process opens every session (raise `ulimit -n` first: one fd per
//! session), binding them to several loopback source addresses
//! (127.0.0.2, 127.0.0.3, ...) so 10,000 sessions and the TIME_WAITs of
//! earlier runs never run out of ephemeral ports. Each session keeps small
//! buffers (`WebSocketConfig`), so the generator's own memory stays modest.
//!
//! Targets: `palisade` (the real protocol: Welcome, Join/Joined,
//! Publish/Ack/Message), `plain-ws` (the baselines in `benches/`: token in
//! `Authorization: Bearer`, every binary message is broadcast to every
//! connection) and `mqtt` (MQTT 3.1.1 over the WebSocket subprotocol `mqtt`:
//! CONNECT, SUBSCRIBE, PUBLISH QoS 0, as Mosquitto speaks it).
//!
//! With `--server-pid`, the server's RSS (`/proc/PID/status` VmRSS) and CPU
//! time (`/proc/PID/stat` utime + stime) are sampled at the phase
//! boundaries. The result is one JSON line on stdout.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::http::HeaderValue;
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::{WebSocketReceiver, WebSocketSender, WebSocketStream};
use futures_rustls::client::TlsStream;
use futures_rustls::TlsConnector;
use futures_util::StreamExt;
use lexopt::prelude::*;
use palisade::protocol::{client_to_vec, decode_server, Body, ClientFrame, RoomName, ServerFrame};
use rustls::pki_types::ServerName;
use serde_json::json;
use smol::future::FutureExt;
use smol::net::TcpStream;
use smol::{Async, Timer};

#[path = "loadgen/storm.rs"]
mod storm;

type Ws = WebSocketStream<TlsStream<TcpStream>>;
type Tx = WebSocketSender<TlsStream<TcpStream>>;
type Rx = WebSocketReceiver<TlsStream<TcpStream>>;

/// The MQTT topic and palisade room every fan-out uses.
const ROOM: &str = "bench";
/// Clock ticks per second in /proc/PID/stat (USER_HZ, 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;
/// EINPROGRESS on Linux: a non-blocking connect that has started.
const EINPROGRESS: i32 = 115;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Target {
    Palisade,
    PlainWs,
    Mqtt,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Palisade => "palisade",
            Target::PlainWs => "plain-ws",
            Target::Mqtt => "mqtt",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Idle,
    Handshakes,
    Fanout,
    Storm,
}

/// Everything a session needs to connect.
struct Setup {
    target: Target,
    url: String,
    addr: SocketAddr,
    /// A second node of a cluster (`--second-addr`): odd-numbered fan-out
    /// members connect there, so members split evenly over two nodes.
    second: Option<SocketAddr>,
    /// Fan-out members (indexes below this are members, not publishers).
    members: usize,
    name: ServerName<'static>,
    tls: TlsConnector,
    token: String,
    /// With `--users-key`: session `i` gets its own token for `sub` `u{i}`.
    users_key: Option<Arc<palisade::auth::SecretKey>>,
    sources: u8,
    ws: WebSocketConfig,
}

struct Args {
    setup: Setup,
    mode: Mode,
    server_pid: Option<u32>,
    /// More server processes whose CPU counts as the server's (`--also-pid`:
    /// the second node), and Redis' (`--redis-pid`), reported apart.
    also_pid: Option<u32>,
    redis_pid: Option<u32>,
    sessions: usize,
    idle_secs: u64,
    /// Fan-out: seconds to hold every session idle after the drain before
    /// sampling the server's memory again (memory after traffic).
    idle_after: u64,
    concurrency: usize,
    members: usize,
    publishers: usize,
    rate: f64,
    window: usize,
    body: usize,
    duration: f64,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("loadgen: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let mut p = lexopt::Parser::from_env();
    let mut target = Target::Palisade;
    let (mut url, mut ca, mut token_file) = (None, None, None);
    let mut mode = Mode::Idle;
    let mut server_pid = None;
    let (mut second, mut also_pid, mut redis_pid) = (None, None, None);
    let (mut sessions, mut idle_secs, mut concurrency) = (100usize, 2u64, 32usize);
    let (mut members, mut publishers, mut rate, mut window) = (100usize, 1usize, 0.0f64, 32usize);
    let (mut body, mut duration, mut sources) = (64usize, 5.0f64, 8u8);
    let (mut threads, mut resume, mut idle_after) = (None::<usize>, false, 0u64);
    let mut users_key = None;
    let e = |e: lexopt::Error| e.to_string();
    while let Some(arg) = p.next().map_err(e)? {
        match arg {
            Value(cmd) if cmd == "setup" => return setup(&mut p),
            Long("target") => {
                target = match p.value().map_err(e)?.string().map_err(e)?.as_str() {
                    "palisade" => Target::Palisade,
                    "plain-ws" => Target::PlainWs,
                    "mqtt" => Target::Mqtt,
                    other => return Err(format!("unknown target {other:?}")),
                }
            }
            Long("url") => url = Some(p.value().map_err(e)?.string().map_err(e)?),
            Long("ca") => ca = Some(PathBuf::from(p.value().map_err(e)?)),
            Long("token-file") => token_file = Some(PathBuf::from(p.value().map_err(e)?)),
            Long("server-pid") => server_pid = Some(p.value().map_err(e)?.parse().map_err(e)?),
            Long("second-addr") => second = Some(p.value().map_err(e)?.parse().map_err(e)?),
            Long("also-pid") => also_pid = Some(p.value().map_err(e)?.parse().map_err(e)?),
            Long("redis-pid") => redis_pid = Some(p.value().map_err(e)?.parse().map_err(e)?),
            Long("sessions") => sessions = p.value().map_err(e)?.parse().map_err(e)?,
            Long("idle") => idle_secs = p.value().map_err(e)?.parse().map_err(e)?,
            Long("handshakes") => {
                mode = Mode::Handshakes;
                sessions = p.value().map_err(e)?.parse().map_err(e)?;
            }
            Long("concurrency") => concurrency = p.value().map_err(e)?.parse().map_err(e)?,
            Long("fanout") => mode = Mode::Fanout,
            Long("storm") => mode = Mode::Storm,
            Long("users-key") => {
                let path = PathBuf::from(p.value().map_err(e)?);
                let key = palisade::auth::load_secret_key_file(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                users_key = Some(Arc::new(key));
            }
            Long("members") => members = p.value().map_err(e)?.parse().map_err(e)?,
            Long("publishers") => publishers = p.value().map_err(e)?.parse().map_err(e)?,
            Long("rate") => rate = p.value().map_err(e)?.parse().map_err(e)?,
            Long("window") => window = p.value().map_err(e)?.parse().map_err(e)?,
            Long("body") => body = p.value().map_err(e)?.parse().map_err(e)?,
            Long("duration") => duration = p.value().map_err(e)?.parse().map_err(e)?,
            Long("sources") => sources = p.value().map_err(e)?.parse().map_err(e)?,
            Long("threads") => threads = Some(p.value().map_err(e)?.parse().map_err(e)?),
            Long("resume") => resume = true,
            Long("idle-after") => idle_after = p.value().map_err(e)?.parse().map_err(e)?,
            other => return Err(other.unexpected().to_string()),
        }
    }
    let url = url.ok_or("--url is required")?;
    let ca = ca.ok_or("--ca is required")?;
    let token = match token_file {
        Some(path) => std::fs::read_to_string(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .trim()
            .to_owned(),
        None => String::new(),
    };
    let (host, port) = host_port(&url).ok_or_else(|| format!("not a wss://IP:PORT/ URL: {url}"))?;
    let ip: IpAddr = host
        .parse()
        .map_err(|_| "the URL host must be an IP address")?;
    // Sessions run on smol's executor, on this many threads (each
    // session is a task; one thread tops out near 1 M deliveries/s).
    // Set before smol's first use, which reads it once.
    if let Some(n) = threads {
        std::env::set_var("SMOL_THREADS", n.max(1).to_string());
    }
    // Every connection is a full handshake: resumption would hide the cost
    // the handshake benchmark measures. `--resume` measures resumed ones:
    // each connection presents the ticket an earlier one was sent.
    let mut tls = (*palisade::tls::client_config(&ca).map_err(|e| e.to_string())?).clone();
    if !resume {
        tls.resumption = rustls::client::Resumption::disabled();
    }
    let mut ws = WebSocketConfig::default();
    ws.read_buffer_size = 4 * 1024;
    ws.write_buffer_size = 0;
    ws.max_message_size = Some(64 * 1024);
    ws.max_frame_size = Some(64 * 1024);
    let args = Args {
        setup: Setup {
            target,
            url,
            addr: SocketAddr::new(ip, port),
            second,
            members,
            name: ServerName::IpAddress(ip.into()),
            tls: TlsConnector::from(Arc::new(tls)),
            token,
            users_key,
            sources: sources.max(1),
            ws,
        },
        mode,
        server_pid,
        also_pid,
        redis_pid,
        sessions,
        idle_secs,
        idle_after,
        concurrency: concurrency.max(1),
        members,
        publishers: publishers.max(1),
        rate,
        window: window.max(1),
        body: body.max(16),
        duration,
    };
    let result = smol::block_on(async {
        match args.mode {
            Mode::Idle => idle(&args).await,
            Mode::Handshakes => handshakes(&args).await,
            Mode::Fanout => fanout(&args).await,
            Mode::Storm => storm::storm(&args).await,
        }
    })?;
    println!("{result}");
    Ok(())
}

/// `loadgen setup --dir DIR`: the certificate, token keys and a member
/// token (`DIR/member.token`, every room, one day).
fn setup(p: &mut lexopt::Parser) -> Result<(), String> {
    let mut dir = None;
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        match arg {
            Long("dir") => dir = Some(PathBuf::from(p.value().map_err(|e| e.to_string())?)),
            other => return Err(other.unexpected().to_string()),
        }
    }
    let dir = dir.ok_or("setup needs --dir DIR")?;
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    palisade::certgen::write_dev_pki(&dir).map_err(|e| e.to_string())?;
    if !dir.join(palisade::auth::SECRET_KEY_FILE).exists() {
        palisade::auth::write_keypair(&dir).map_err(|e| e.to_string())?;
    }
    let key = palisade::auth::load_secret_key_file(&dir.join(palisade::auth::SECRET_KEY_FILE))
        .map_err(|e| e.to_string())?;
    let request = palisade::auth::TokenRequest::new(
        "bench",
        palisade::protocol::Role::Member,
        ["*"],
        24 * 3600,
        "palisade",
    );
    let token = palisade::auth::mint(&key, &request, unix_secs()).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("member.token"), token).map_err(|e| e.to_string())
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn host_port(url: &str) -> Option<(String, u16)> {
    let rest = url.strip_prefix("wss://")?;
    let authority = rest.split('/').next()?;
    let (host, port) = authority.rsplit_once(':')?;
    Some((host.to_owned(), port.parse().ok()?))
}

// ---------------------------------------------------------------------------
// Server measurements from /proc.

#[derive(Debug, Clone, Copy, Default)]
struct ProcSample {
    rss_kib: u64,
    cpu_ticks: u64,
}

fn sample(pid: Option<u32>) -> ProcSample {
    let Some(pid) = pid else {
        return ProcSample::default();
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    ProcSample {
        rss_kib,
        cpu_ticks: tick(11) + tick(12),
    }
}

fn cpu_secs(from: ProcSample, to: ProcSample) -> f64 {
    to.cpu_ticks.saturating_sub(from.cpu_ticks) as f64 / TICKS_PER_SEC
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let at = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

// ---------------------------------------------------------------------------
// Connecting.

/// TCP from the `index`-th source address (127.0.0.2, .3, ...), so the
/// ephemeral ports of one address never run out.
async fn tcp_connect(setup: &Setup, index: usize) -> io::Result<TcpStream> {
    let addr = match setup.second {
        Some(second) if index < setup.members && index % 2 == 1 => second,
        _ => setup.addr,
    };
    if !addr.ip().is_loopback() || !addr.is_ipv4() {
        return TcpStream::connect(addr).await;
    }
    let source = Ipv4Addr::new(127, 0, 0, 2 + (index % usize::from(setup.sources)) as u8);
    let socket = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::new(source.into(), 0).into())?;
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    let stream = Async::new(std::net::TcpStream::from(socket))?;
    stream.writable().await?;
    if let Some(e) = stream.get_ref().take_error()? {
        return Err(e);
    }
    let stream = TcpStream::from(stream);
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A member token for user `u{index}`, every room, one hour.
fn user_token(key: &palisade::auth::SecretKey, index: usize) -> Result<String, String> {
    let request = palisade::auth::TokenRequest {
        sub: format!("u{index:05}"),
        role: palisade::protocol::Role::Member,
        rooms: vec!["*".into()],
        ttl_secs: 3600,
        audience: "palisade".into(),
        issuer: None,
    };
    palisade::auth::mint(key, &request, unix_secs()).map_err(|e| e.to_string())
}

/// Opens one session and completes the target's own handshake: palisade's
/// `Welcome`, MQTT's `CONNACK`, or just the upgrade for plain-ws.
async fn connect(setup: &Setup, index: usize) -> Result<Ws, String> {
    let tcp = tcp_connect(setup, index)
        .await
        .map_err(|e| format!("tcp: {e}"))?;
    let tls = setup
        .tls
        .connect(setup.name.clone(), tcp)
        .await
        .map_err(|e| format!("tls: {e}"))?;
    let mut request = setup
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| e.to_string())?;
    let headers = request.headers_mut();
    let token = match &setup.users_key {
        Some(key) => user_token(key, index)?,
        None => setup.token.clone(),
    };
    let bearer = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|e| e.to_string())?;
    match setup.target {
        Target::Palisade => {
            headers.insert(
                "sec-websocket-protocol",
                HeaderValue::from_static("palisade.v1"),
            );
            headers.insert("authorization", bearer);
        }
        Target::PlainWs => {
            headers.insert("authorization", bearer);
        }
        Target::Mqtt => {
            headers.insert("sec-websocket-protocol", HeaderValue::from_static("mqtt"));
        }
    }
    let (mut ws, _) = async_tungstenite::client_async_with_config(request, tls, Some(setup.ws))
        .await
        .map_err(|e| format!("upgrade: {e}"))?;
    match setup.target {
        Target::Palisade => match recv_palisade(&mut ws).await? {
            ServerFrame::Welcome { .. } => {}
            other => return Err(format!("expected Welcome, got {other:?}")),
        },
        Target::PlainWs => {}
        Target::Mqtt => {
            ws.send(Message::Binary(mqtt::connect(&format!("b{index}")).into()))
                .await
                .map_err(|e| e.to_string())?;
            let packet = recv_mqtt(&mut ws).await?;
            if packet.first() != Some(&0x20) || packet.get(3) != Some(&0) {
                return Err(format!("CONNACK refused: {packet:02x?}"));
            }
        }
    }
    Ok(ws)
}

async fn recv_palisade(ws: &mut Ws) -> Result<ServerFrame, String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Binary(b))) => return decode_server(&b).map_err(|e| e.to_string()),
            Some(Ok(Message::Close(c))) => return Err(format!("closed: {c:?}")),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("closed".into()),
        }
    }
}

/// One MQTT control packet (assumes the server sends whole packets per
/// WebSocket message during the handshake, as Mosquitto does).
async fn recv_mqtt(ws: &mut Ws) -> Result<Vec<u8>, String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Binary(b))) => return Ok(b.to_vec()),
            Some(Ok(Message::Close(c))) => return Err(format!("closed: {c:?}")),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("closed".into()),
        }
    }
}

/// Connects `count` sessions, at most `concurrency` handshakes at a time,
/// starting at source index `first`. Returns the sessions, the errors and
/// each handshake's time in µs.
async fn connect_many(
    setup: &Arc<Setup>,
    first: usize,
    count: usize,
    concurrency: usize,
) -> (Vec<Ws>, Vec<String>, Vec<u32>) {
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(Mutex::new((Vec::new(), Vec::new(), Vec::new())));
    let workers: Vec<_> = (0..concurrency.min(count.max(1)))
        .map(|_| {
            let (setup, next, done) = (setup.clone(), next.clone(), done.clone());
            smol::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    if i >= count {
                        break;
                    }
                    let start = Instant::now();
                    let result = connect(&setup, first + i).await;
                    let micros = start.elapsed().as_micros() as u32;
                    let mut done = done.lock().unwrap();
                    match result {
                        Ok(ws) => {
                            done.0.push(ws);
                            done.2.push(micros);
                        }
                        Err(e) => done.1.push(e),
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.await;
    }
    let mut done = done.lock().unwrap();
    std::mem::take(&mut *done)
}

fn first_errors(errors: &[String]) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for e in errors {
        if !seen.contains(e) && seen.len() < 3 {
            seen.push(e.clone());
        }
    }
    seen
}

// ---------------------------------------------------------------------------
// Scenarios.

/// N sessions held idle: the server's memory per session.
async fn idle(args: &Args) -> Result<String, String> {
    let setup = Arc::new(clone_setup(&args.setup));
    let before = sample(args.server_pid);
    let start = Instant::now();
    let (sessions, errors, _) = connect_many(&setup, 0, args.sessions, args.concurrency).await;
    let connect_secs = start.elapsed().as_secs_f64();
    // Every session keeps reading (answering pings, noticing a close).
    let closed = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = sessions
        .into_iter()
        .map(|mut ws| {
            let closed = closed.clone();
            smol::spawn(async move {
                while let Some(Ok(_)) = ws.next().await {}
                closed.fetch_add(1, Ordering::Relaxed);
            })
        })
        .collect();
    Timer::after(Duration::from_secs(args.idle_secs)).await;
    let held = sample(args.server_pid);
    let open = readers.len() as u64 - closed.load(Ordering::Relaxed);
    drop(readers);
    let grown = held.rss_kib.saturating_sub(before.rss_kib);
    Ok(json!({
        "target": setup.target.name(),
        "mode": "idle",
        "sessions": args.sessions,
        "open": open,
        "errors": errors.len(),
        "first_errors": first_errors(&errors),
        "connect_secs": round(connect_secs, 3),
        "rss_before_kib": before.rss_kib,
        "rss_held_kib": held.rss_kib,
        "bytes_per_session": (grown * 1024).checked_div(open).unwrap_or(0),
    })
    .to_string())
}

/// A burst of full handshakes, `concurrency` at a time, each session kept
/// open until the burst ends: server CPU per accepted session.
async fn handshakes(args: &Args) -> Result<String, String> {
    let setup = Arc::new(clone_setup(&args.setup));
    let before = sample(args.server_pid);
    let start = Instant::now();
    let (sessions, errors, mut times) =
        connect_many(&setup, 0, args.sessions, args.concurrency).await;
    let wall = start.elapsed().as_secs_f64();
    let after = sample(args.server_pid);
    let ok = sessions.len();
    drop(sessions);
    times.sort_unstable();
    let cpu = cpu_secs(before, after);
    Ok(json!({
        "target": setup.target.name(),
        "mode": "handshakes",
        "sessions": args.sessions,
        "ok": ok,
        "errors": errors.len(),
        "first_errors": first_errors(&errors),
        "concurrency": args.concurrency,
        "wall_secs": round(wall, 3),
        "handshakes_per_sec": round(ok as f64 / wall, 1),
        "server_cpu_secs": round(cpu, 2),
        "server_cpu_us_per_handshake": if ok > 0 { round(cpu * 1e6 / ok as f64, 1) } else { 0.0 },
        "client_p50_ms": round(f64::from(percentile(&times, 0.5)) / 1000.0, 2),
        "client_p99_ms": round(f64::from(percentile(&times, 0.99)) / 1000.0, 2),
    })
    .to_string())
}

/// What a receiving member counted.
#[derive(Default)]
struct Received {
    count: u64,
    latencies_us: Vec<u32>,
}

/// Shared fan-out counters.
struct Counters {
    /// Deliveries to members (publishers' own copies excluded).
    delivered: AtomicU64,
    /// µs since the start of publishing at which the last one arrived.
    last_us: AtomicU64,
    published: AtomicU64,
    refused: AtomicU64,
}

/// `publishers` sessions publish into one room of `members` sessions,
/// either at `rate` publishes/s in total or, with rate 0, as fast as each
/// publisher's window of `window` unechoed messages allows.
async fn fanout(args: &Args) -> Result<String, String> {
    let setup = Arc::new(clone_setup(&args.setup));
    let unconnected = sample(args.server_pid);
    let (members, errors, _) = connect_many(&setup, 0, args.members, args.concurrency).await;
    if !errors.is_empty() {
        return Err(format!(
            "{} members failed: {:?}",
            errors.len(),
            first_errors(&errors)
        ));
    }
    let (pubs, errors, _) =
        connect_many(&setup, args.members, args.publishers, args.concurrency).await;
    if !errors.is_empty() {
        return Err(format!("publishers failed: {:?}", first_errors(&errors)));
    }
    let mut joined = Vec::with_capacity(members.len());
    for ws in members.into_iter().chain(pubs) {
        joined.push(join(&setup, ws));
    }
    let mut sessions = Vec::with_capacity(joined.len());
    for j in joined {
        sessions.push(j.await?);
    }
    let pubs: Vec<Ws> = sessions.split_off(args.members);
    // Let the last joins settle before the clock starts.
    Timer::after(Duration::from_millis(300)).await;

    let counters = Arc::new(Counters {
        delivered: AtomicU64::new(0),
        last_us: AtomicU64::new(0),
        published: AtomicU64::new(0),
        refused: AtomicU64::new(0),
    });
    let (stop_tx, stop_rx) = smol::channel::bounded::<()>(1);
    let start = Instant::now();
    let before = sample(args.server_pid);
    let (also_before, redis_before) = (sample(args.also_pid), sample(args.redis_pid));
    let readers: Vec<_> = sessions
        .into_iter()
        .map(|ws| {
            let (target, counters, stop) = (setup.target, counters.clone(), stop_rx.clone());
            smol::spawn(async move { member(ws, target, counters, start, stop).await })
        })
        .collect();
    let per_pub_rate = args.rate / args.publishers as f64;
    let publishers: Vec<_> = pubs
        .into_iter()
        .enumerate()
        .map(|(id, ws)| Publisher {
            ws,
            target: setup.target,
            id: id as u32,
            counters: counters.clone(),
            body: args.body,
            rate: per_pub_rate,
            window: args.window,
            duration: args.duration,
        })
        .map(|p| p.spawn(stop_rx.clone()))
        .collect();
    for (published, _) in &publishers {
        let _ = published.recv().await;
    }
    let published = counters.published.load(Ordering::Relaxed);
    let publish_secs = start.elapsed().as_secs_f64();
    let expected = published * args.members as u64;
    // Drain: wait for every delivery, or for arrivals to stop for 3 s, or
    // 30 s at most.
    let mut last = (counters.delivered.load(Ordering::Relaxed), Instant::now());
    let drain_end = Instant::now() + Duration::from_secs(30);
    loop {
        let now = counters.delivered.load(Ordering::Relaxed);
        if now >= expected || Instant::now() > drain_end {
            break;
        }
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(3) {
            break;
        }
        Timer::after(Duration::from_millis(20)).await;
    }
    let after = sample(args.server_pid);
    let (also_after, redis_after) = (sample(args.also_pid), sample(args.redis_pid));
    // Memory after traffic: every session still open, nothing moving.
    let idle_after = if args.idle_after > 0 {
        Timer::after(Duration::from_secs(args.idle_after)).await;
        sample(args.server_pid)
    } else {
        after
    };
    let sessions = (args.members + args.publishers) as u64;
    let after_traffic = idle_after.rss_kib.saturating_sub(unconnected.rss_kib) * 1024 / sessions;
    drop(stop_tx);
    let mut latencies = Vec::new();
    let mut closed_early = 0u64;
    for r in readers {
        let (received, closed) = r.await;
        latencies.extend_from_slice(&received.latencies_us);
        closed_early += u64::from(closed);
    }
    for (_, thread) in publishers {
        thread.join().map_err(|_| "a publisher thread panicked")?;
    }
    latencies.sort_unstable();
    let delivered = counters.delivered.load(Ordering::Relaxed);
    let secs = counters.last_us.load(Ordering::Relaxed) as f64 / 1e6;
    // Every node's CPU is the server's; Redis' is reported beside it.
    let cpu = cpu_secs(before, after) + cpu_secs(also_before, also_after);
    let redis_cpu = cpu_secs(redis_before, redis_after);
    Ok(json!({
        "target": setup.target.name(),
        "mode": "fanout",
        "members": args.members,
        "publishers": args.publishers,
        "rate": args.rate,
        "window": args.window,
        "body": args.body,
        "published": published,
        "publish_rate": round(published as f64 / publish_secs, 1),
        "refused": counters.refused.load(Ordering::Relaxed),
        "delivered": delivered,
        "lost": expected.saturating_sub(delivered),
        "closed_early": closed_early,
        "secs": round(secs, 3),
        "deliveries_per_sec": if secs > 0.0 { round(delivered as f64 / secs, 0) } else { 0.0 },
        "server_cpu_secs": round(cpu, 2),
        "redis_cpu_secs": round(redis_cpu, 2),
        "server_cpu_us_per_delivery": if delivered > 0 { round(cpu * 1e6 / delivered as f64, 3) } else { 0.0 },
        "latency_p50_ms": round(f64::from(percentile(&latencies, 0.5)) / 1000.0, 2),
        "latency_p99_ms": round(f64::from(percentile(&latencies, 0.99)) / 1000.0, 2),
        "server_rss_kib": after.rss_kib,
        "idle_after_secs": args.idle_after,
        "bytes_per_session_after": after_traffic,
    })
    .to_string())
}

fn round(v: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (v * f).round() / f
}

fn clone_setup(s: &Setup) -> Setup {
    Setup {
        target: s.target,
        url: s.url.clone(),
        addr: s.addr,
        second: s.second,
        members: s.members,
        name: s.name.clone(),
        tls: s.tls.clone(),
        token: s.token.clone(),
        users_key: s.users_key.clone(),
        sources: s.sources,
        ws: s.ws,
    }
}

/// Joins the bench room (palisade `Join` → `Joined`, MQTT `SUBSCRIBE` →
/// `SUBACK`); plain-ws connections are in the one room already.
async fn join(setup: &Setup, mut ws: Ws) -> Result<Ws, String> {
    match setup.target {
        Target::Palisade => {
            let room = RoomName::new(ROOM).map_err(|e| e.to_string())?;
            let frame = ClientFrame::Join { room, since: None };
            ws.send(Message::Binary(client_to_vec(&frame).into()))
                .await
                .map_err(|e| e.to_string())?;
            match recv_palisade(&mut ws).await? {
                ServerFrame::Joined { .. } => {}
                other => return Err(format!("expected Joined, got {other:?}")),
            }
        }
        Target::PlainWs => {}
        Target::Mqtt => {
            ws.send(Message::Binary(mqtt::subscribe(ROOM).into()))
                .await
                .map_err(|e| e.to_string())?;
            let packet = recv_mqtt(&mut ws).await?;
            if packet.first() != Some(&0x90) {
                return Err(format!("expected SUBACK, got {packet:02x?}"));
            }
        }
    }
    Ok(ws)
}

/// The body: the send time in µs since the Unix epoch and the publisher's
/// id, padded to `len` bytes. palisade bodies are text (digits and `x`),
/// the others binary.
fn make_body(target: Target, publisher: u32, len: usize) -> Vec<u8> {
    let now = unix_micros();
    let mut b = match target {
        Target::Palisade => format!("{now:020}{publisher:08}").into_bytes(),
        _ => [now.to_le_bytes(), u64::from(publisher).to_le_bytes()].concat(),
    };
    b.resize(len.max(b.len()), b'x');
    b
}

/// The send time and publisher of a body made by [`make_body`].
fn read_body(target: Target, b: &[u8]) -> Option<(u64, u32)> {
    match target {
        Target::Palisade => {
            let ts = std::str::from_utf8(b.get(..20)?).ok()?.parse().ok()?;
            let id = std::str::from_utf8(b.get(20..28)?).ok()?.parse().ok()?;
            Some((ts, id))
        }
        _ => {
            let ts = u64::from_le_bytes(b.get(..8)?.try_into().ok()?);
            let id = u64::from_le_bytes(b.get(8..16)?.try_into().ok()?);
            Some((ts, id as u32))
        }
    }
}

/// What one WebSocket message carried: the bodies of the messages in it.
/// MQTT may pack several packets into one message or split one across
/// messages, so its bytes go through `buf`.
fn bodies(target: Target, msg: &[u8], buf: &mut Vec<u8>, out: &mut Vec<Vec<u8>>) {
    match target {
        Target::Palisade => {
            if let Ok(ServerFrame::Message { body, .. }) = decode_server(msg) {
                match body {
                    Body::Text(t) => out.push(t.into_bytes()),
                    Body::Sealed(b) => out.push(b),
                }
            }
        }
        Target::PlainWs => out.push(msg.to_vec()),
        Target::Mqtt => {
            buf.extend_from_slice(msg);
            while let Some((packet, used)) = mqtt::split(buf) {
                if let Some(payload) = mqtt::publish_payload(&packet) {
                    out.push(payload);
                }
                buf.drain(..used);
            }
        }
    }
}

/// What a session's next wait ended with.
enum Next {
    Binary(async_tungstenite::tungstenite::Bytes),
    /// The run told it to stop.
    Stopped,
    /// The server closed it (or the connection failed).
    Closed,
}

/// The next binary message on `ws`, or why there is none; other frames
/// (pings, text) are skipped.
async fn next_binary(ws: &mut Ws, stop: &smol::channel::Receiver<()>) -> Next {
    loop {
        let next = async { Some(ws.next().await) }
            .or(async {
                let _ = stop.recv().await;
                None
            })
            .await;
        match next {
            None => return Next::Stopped,
            Some(Some(Ok(Message::Binary(b)))) => return Next::Binary(b),
            Some(Some(Ok(Message::Close(_)) | Err(_)) | None) => return Next::Closed,
            Some(Some(Ok(_))) => {}
        }
    }
}

/// A member: counts deliveries and their latency until told to stop.
/// Returns what it counted and whether the server closed it early.
async fn member(
    mut ws: Ws,
    target: Target,
    counters: Arc<Counters>,
    start: Instant,
    stop: smol::channel::Receiver<()>,
) -> (Received, bool) {
    let mut received = Received::default();
    let (mut buf, mut out) = (Vec::new(), Vec::new());
    loop {
        let msg = match next_binary(&mut ws, &stop).await {
            Next::Binary(b) => b,
            Next::Stopped => return (received, false),
            Next::Closed => return (received, true),
        };
        bodies(target, &msg, &mut buf, &mut out);
        let now = unix_micros();
        for body in out.drain(..) {
            if let Some((sent, _)) = read_body(target, &body) {
                received.count += 1;
                received.latencies_us.push(now.saturating_sub(sent) as u32);
                counters.delivered.fetch_add(1, Ordering::Relaxed);
                counters
                    .last_us
                    .fetch_max(start.elapsed().as_micros() as u64, Ordering::Relaxed);
            }
        }
    }
}

/// A publisher: publishes for `duration` seconds at `rate`/s, or with rate
/// 0 as fast as a window of `window` messages not yet echoed back allows.
struct Publisher {
    ws: Ws,
    target: Target,
    id: u32,
    counters: Arc<Counters>,
    body: usize,
    rate: f64,
    window: usize,
    duration: f64,
}

impl Publisher {
    /// Runs on a thread and executor of its own, so that its echoes and
    /// its next publish never wait in line behind the members' reads: on
    /// the members' executor, a publisher whose echo is queued behind a
    /// thousand member wake-ups paces the server by the generator's speed
    /// (BENCHMARKS.md, "Method"). The first channel closes
    /// once publishing is over; the connection stays open until `stop`
    /// closes, since closing it with echoes still unread makes the kernel
    /// answer the server's writes with a reset, which discards the
    /// publishes the server has not read yet.
    fn spawn(
        self,
        stop: smol::channel::Receiver<()>,
    ) -> (smol::channel::Receiver<()>, std::thread::JoinHandle<()>) {
        let (done_tx, done_rx) = smol::channel::bounded::<()>(1);
        let thread = std::thread::spawn(move || {
            let ex = smol::LocalExecutor::new();
            smol::block_on(ex.run(async {
                let (tx, rx) = self.ws.split();
                // One credit per message in flight: the sender takes one,
                // the reader returns it when the publisher's own copy
                // comes back.
                let (credit_tx, credit_rx) = smol::channel::bounded::<()>(self.window);
                let counters = self.counters.clone();
                let reader = ex.spawn(echo_reader(rx, self.target, self.id, credit_rx, counters));
                let tx = publish_loop(
                    tx,
                    self.target,
                    self.id,
                    &self.counters,
                    self.body,
                    self.rate,
                    &credit_tx,
                    self.duration,
                )
                .await;
                drop(done_tx);
                let _ = stop.recv().await;
                drop((tx, reader));
            }));
        });
        (done_rx, thread)
    }
}

#[allow(clippy::too_many_arguments)]
async fn publish_loop(
    mut tx: Tx,
    target: Target,
    id: u32,
    counters: &Counters,
    body: usize,
    rate: f64,
    credit: &smol::channel::Sender<()>,
    duration: f64,
) -> Option<Tx> {
    let room = RoomName::new(ROOM).expect("valid room name");
    let end = Instant::now() + Duration::from_secs_f64(duration);
    let mut ticks = (rate > 0.0).then(|| Timer::interval(Duration::from_secs_f64(1.0 / rate)));
    let mut seq: u32 = 0;
    while Instant::now() < end {
        match &mut ticks {
            Some(t) => {
                t.next().await;
            }
            None => {
                let taken = async { credit.send(()).await.is_ok() }
                    .or(async {
                        Timer::at(end).await;
                        false
                    })
                    .await;
                if !taken {
                    break;
                }
            }
        }
        seq = seq.wrapping_add(1);
        let bytes = make_body(target, id, body);
        let message = match target {
            Target::Palisade => {
                let text = String::from_utf8(bytes).expect("digits and x");
                let frame = ClientFrame::Publish {
                    id: seq,
                    room: room.clone(),
                    body: Body::Text(text),
                };
                client_to_vec(&frame)
            }
            Target::PlainWs => bytes,
            Target::Mqtt => mqtt::publish(ROOM, &bytes),
        };
        if tx.send(Message::Binary(message.into())).await.is_err() {
            return None;
        }
        counters.published.fetch_add(1, Ordering::Relaxed);
    }
    Some(tx)
}

/// The publisher's own reader: returns a credit per own message echoed,
/// counts refusals (palisade `Error`).
async fn echo_reader(
    mut rx: Rx,
    target: Target,
    id: u32,
    credits: smol::channel::Receiver<()>,
    counters: Arc<Counters>,
) {
    let (mut buf, mut out) = (Vec::new(), Vec::new());
    while let Some(Ok(msg)) = rx.next().await {
        let Message::Binary(b) = msg else { continue };
        if target == Target::Palisade {
            if let Ok(ServerFrame::Error { .. }) = decode_server(&b) {
                counters.refused.fetch_add(1, Ordering::Relaxed);
                let _ = credits.try_recv();
                continue;
            }
        }
        bodies(target, &b, &mut buf, &mut out);
        for body in out.drain(..) {
            if read_body(target, &body).is_some_and(|(_, from)| from == id) {
                let _ = credits.try_recv();
            }
        }
    }
}

/// MQTT 3.1.1 packets, as few as a QoS 0 benchmark needs.
mod mqtt {
    fn remaining_length(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let mut byte = (n % 128) as u8;
            n /= 128;
            if n > 0 {
                byte |= 0x80;
            }
            out.push(byte);
            if n == 0 {
                break;
            }
        }
    }

    fn string(s: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(&(s.len() as u16).to_be_bytes());
        out.extend_from_slice(s);
    }

    fn packet(first: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![first];
        remaining_length(body.len(), &mut out);
        out.extend_from_slice(body);
        out
    }

    /// CONNECT: protocol level 4, clean session, keep-alive off.
    pub fn connect(client_id: &str) -> Vec<u8> {
        let mut body = Vec::new();
        string(b"MQTT", &mut body);
        body.extend_from_slice(&[4, 0x02, 0, 0]);
        string(client_id.as_bytes(), &mut body);
        packet(0x10, &body)
    }

    /// SUBSCRIBE to one topic at QoS 0, packet id 1.
    pub fn subscribe(topic: &str) -> Vec<u8> {
        let mut body = vec![0, 1];
        string(topic.as_bytes(), &mut body);
        body.push(0);
        packet(0x82, &body)
    }

    /// PUBLISH at QoS 0 (no packet id).
    pub fn publish(topic: &str, payload: &[u8]) -> Vec<u8> {
        let mut body = Vec::with_capacity(payload.len() + topic.len() + 2);
        string(topic.as_bytes(), &mut body);
        body.extend_from_slice(payload);
        packet(0x30, &body)
    }

    /// The first whole packet in `buf` and its length, if it holds one.
    pub fn split(buf: &[u8]) -> Option<(Vec<u8>, usize)> {
        let (mut len, mut shift, mut at) = (0usize, 0u32, 1usize);
        loop {
            let byte = *buf.get(at)?;
            len |= usize::from(byte & 0x7f) << shift;
            at += 1;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 21 {
                return None;
            }
        }
        let end = at + len;
        (buf.len() >= end).then(|| (buf[..end].to_vec(), end))
    }

    /// The payload of a QoS 0 PUBLISH packet.
    pub fn publish_payload(packet: &[u8]) -> Option<Vec<u8>> {
        if packet.first()? & 0xf0 != 0x30 {
            return None;
        }
        let mut at = 1;
        while packet.get(at)? & 0x80 != 0 {
            at += 1;
        }
        at += 1;
        let topic_len = usize::from(u16::from_be_bytes([*packet.get(at)?, *packet.get(at + 1)?]));
        let mut start = at + 2 + topic_len;
        if packet[0] & 0x06 != 0 {
            start += 2; // QoS 1 or 2 carry a packet id
        }
        packet.get(start..).map(<[u8]>::to_vec)
    }
}
