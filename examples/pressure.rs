//! Holds a server at its limits and compares peak memory with the bound
//! the server computes from its configuration.
//!
//! ```text
//! cargo run --release --example pressure -- --sessions 200
//! ```
//!
//! It runs the server in this process with small limits, opens `--sessions`
//! clients (the connection cap), puts each in its own room, and has the
//! host publish `max_body`-sized messages into every room. The clients
//! never read, so every room's history fills, every session's outbound
//! queue fills and every slow session is eventually evicted (4009). It
//! then prints the process's peak RSS (VmHWM) next to the computed bound.
//! Clients live in the same process, so the figure over-counts the server.

use std::time::{Duration, Instant};

use palisade::client::{Client, Connect};
use palisade::config::Config;
use palisade::protocol::{Body, ClientFrame, Role, RoomName};
use palisade::server::{MemoryBound, Server};

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let sessions: u32 = std::env::args()
        .skip_while(|a| a != "--sessions")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let dir = std::env::temp_dir().join(format!("palisade-pressure-{}", std::process::id()));
    let demo = palisade::demo::prepare(&dir, 0).expect("demo folder");
    let mut config: Config = demo.config;
    config.limits.max_connections = sessions;
    config.limits.max_connections_per_ip = sessions;
    config.limits.max_total_rooms = sessions;
    config.limits.max_rooms = 1;
    config.limits.outbound_queue = 32;
    config.limits.history = 32;
    let bound = MemoryBound::new(&config.limits, &config.presence);
    let server = Server::new(&config).expect("server");
    let handle = server.handle();
    let secret = palisade::auth::load_secret_key_file(&dir.join("token.secret")).expect("key");
    let tls = palisade::tls::client_config(&dir.join("ca.pem")).expect("ca");
    let rss_start = status_kib("VmRSS:");

    smol::block_on(async {
        let listener = smol::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!(
            "wss://localhost:{}/ws",
            listener.local_addr().expect("addr").port()
        );
        smol::spawn(async move { server.run(listener, std::future::pending()).await }).detach();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut clients: Vec<Client> = Vec::new();
        let mut rooms = Vec::new();
        for i in 0..sessions {
            let request = palisade::auth::TokenRequest::new(
                format!("user{i}"),
                Role::Member,
                ["*"],
                3600,
                palisade::demo::AUDIENCE,
            );
            let token = palisade::auth::mint(&secret, &request, now).expect("token");
            let mut c = Client::connect(Connect::new(&url, tls.clone(), &token))
                .await
                .expect("connect");
            let room = RoomName::new(&format!("room-{i}")).expect("room");
            c.send(&ClientFrame::Join {
                room: room.clone(),
                since: None,
            })
            .await
            .expect("join");
            rooms.push(room);
            clients.push(c);
        }
        // Let the joins land before flooding.
        while handle.rooms() < sessions as usize {
            smol::Timer::after(Duration::from_millis(20)).await;
        }
        let body = "x".repeat(config.limits.max_body as usize);
        let started = Instant::now();
        let mut published = 0u64;
        // Publish until every slow session has been evicted (its queue was
        // full), and at least enough to fill every history.
        while (!handle.sessions().is_empty() || published < u64::from(sessions) * 64)
            && started.elapsed() < Duration::from_secs(120)
        {
            for room in &rooms {
                let _ = handle.publish(room, Body::Text(body.clone())).await;
                published += 1;
            }
            smol::future::yield_now().await;
        }
        let peak = status_kib("VmHWM:");
        println!(
            "sessions={sessions} published={published} evicted_all={} elapsed={:.1}s",
            handle.sessions().is_empty(),
            started.elapsed().as_secs_f64()
        );
        println!("rss_at_start={rss_start} KiB peak_rss={peak} KiB");
        println!("{bound}");
        println!(
            "peak is {:.0}% of the computed bound ({} KiB)",
            100.0 * peak as f64 / (bound.total() / 1024) as f64,
            bound.total() / 1024
        );
        drop(clients);
    });
    let _ = std::fs::remove_dir_all(&dir);
}
