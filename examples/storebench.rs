//! What durability costs: disk bytes written per message and the Ack
//! latency of one publisher at a fixed rate, against a real `palisade
//! serve` this program starts (`benches/storage.sh` drives it):
//!
//! ```text
//! cargo build --release --bin palisade --example storebench
//! target/release/examples/storebench --bin target/release/palisade \
//!     --dir /var/tmp/sb --storage file --rate 10 --duration 20
//! ```
//!
//! `--storage` is `file` (sync = true, the default), `file-nosync`
//! (sync = false) or `memory`. The folder must be on a real disk (not
//! tmpfs) for `write_bytes` to mean anything. Bytes written come from the
//! server's `/proc/PID/io` `write_bytes` (bytes it caused to be sent to the
//! storage layer, counted when pages are dirtied) between the first and
//! the last publish. Each publish waits for its Ack before the next; the
//! latency is publish to Ack. One JSON line on stdout.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lexopt::prelude::*;
use palisade::auth::{self, TokenRequest};
use palisade::client::{Client, Connect, Event};
use palisade::protocol::{Body, ClientFrame, Role, RoomName, ServerFrame};
use serde_json::json;

struct Args {
    bin: PathBuf,
    dir: PathBuf,
    storage: String,
    rate: u32,
    duration: u64,
    body: usize,
}

fn args() -> Result<Args, lexopt::Error> {
    let mut a = Args {
        bin: "target/release/palisade".into(),
        dir: "/var/tmp/palisade-storebench".into(),
        storage: "file".into(),
        rate: 10,
        duration: 20,
        body: 64,
    };
    let mut p = lexopt::Parser::from_env();
    while let Some(arg) = p.next()? {
        match arg {
            Long("bin") => a.bin = p.value()?.into(),
            Long("dir") => a.dir = p.value()?.into(),
            Long("storage") => a.storage = p.value()?.string()?,
            Long("rate") => a.rate = p.value()?.parse()?,
            Long("duration") => a.duration = p.value()?.parse()?,
            Long("body") => a.body = p.value()?.parse()?,
            other => return Err(other.unexpected()),
        }
    }
    Ok(a)
}

fn storage_table(kind: &str) -> &'static str {
    match kind {
        "file" => "[storage]\nkind = \"file\"\n",
        "file-nosync" => "[storage]\nkind = \"file\"\nsync = false\n",
        "memory" => "[storage]\nkind = \"memory\"\n",
        other => panic!("--storage file|file-nosync|memory, not {other:?}"),
    }
}

fn write_bytes(pid: u32) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
    io.lines()
        .find_map(|l| l.strip_prefix("write_bytes: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[at]
}

fn prepare(dir: &Path, storage: &str) -> String {
    let _ = std::fs::remove_dir_all(dir);
    palisade::certgen::write_dev_pki(dir).unwrap();
    auth::write_keypair(dir).unwrap();
    let config = format!(
        "listen = \"127.0.0.1:0\"\n[tls]\ncert = \"server.pem\"\nkey = \"server.key\"\n\
         [auth]\npublic_keys = [\"token.public\"]\naudience = \"bench\"\n\
         [limits]\npublish_per_sec = 1000\nframes_per_sec = 2000\n{}",
        storage_table(storage)
    );
    std::fs::write(dir.join("palisade.toml"), config).unwrap();
    let secret = auth::load_secret_key_file(&dir.join("token.secret")).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let request = TokenRequest {
        sub: "bench".into(),
        role: Role::Member,
        rooms: vec!["*".into()],
        ttl_secs: 3600,
        audience: "bench".into(),
        issuer: None,
    };
    auth::mint(&secret, &request, now).unwrap()
}

async fn next(client: &mut Client) -> ServerFrame {
    match client.recv().await {
        Ok(Event::Frame(f)) => f,
        other => panic!("connection ended: {other:?}"),
    }
}

fn main() {
    let a = args().unwrap_or_else(|e| panic!("{e}"));
    let token = prepare(&a.dir, &a.storage);
    let mut child = Command::new(&a.bin)
        .args(["serve", "--config"])
        .arg(a.dir.join("palisade.toml"))
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start palisade");
    let pid = child.id();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut port = 0u16;
    for line in stderr.lines().map_while(Result::ok) {
        if let Some(rest) = line.split("listening on ").nth(1) {
            let addr = rest.split_whitespace().next().unwrap();
            port = addr.rsplit(':').next().unwrap().parse().unwrap();
            break;
        }
    }
    assert!(port != 0, "the server did not start");
    let room = RoomName::new("bench").unwrap();
    let body = "x".repeat(a.body);
    let (latencies, bytes, sent) = smol::block_on(async {
        let tls = palisade::tls::client_config(&a.dir.join("ca.pem")).unwrap();
        let url = format!("wss://localhost:{port}/ws");
        let mut c = Client::connect(Connect::new(&url, tls, &token))
            .await
            .unwrap();
        next(&mut c).await;
        c.send(&ClientFrame::Join {
            room: room.clone(),
            since: None,
        })
        .await
        .unwrap();
        next(&mut c).await;
        let every = Duration::from_secs_f64(1.0 / f64::from(a.rate));
        let total = u64::from(a.rate) * a.duration;
        let start_bytes = write_bytes(pid);
        let start = Instant::now();
        let mut latencies = Vec::new();
        for i in 0..total {
            smol::Timer::at(start + every * u32::try_from(i).unwrap()).await;
            let sent_at = Instant::now();
            let frame = ClientFrame::Publish {
                id: u32::try_from(i).unwrap(),
                room: room.clone(),
                body: Body::Text(body.clone()),
            };
            c.send(&frame).await.unwrap();
            loop {
                if let ServerFrame::Ack { .. } = next(&mut c).await {
                    break;
                }
            }
            latencies.push(sent_at.elapsed().as_secs_f64() * 1000.0);
        }
        (latencies, write_bytes(pid) - start_bytes, total)
    });
    let _ = child.kill();
    let _ = child.wait();
    let mut sorted = latencies;
    sorted.sort_by(f64::total_cmp);
    println!(
        "{}",
        json!({
            "storage": a.storage,
            "rate": a.rate,
            "messages": sent,
            "body": a.body,
            "write_bytes_per_message": bytes as f64 / sent as f64,
            "ack_p50_ms": percentile(&sorted, 0.50),
            "ack_p99_ms": percentile(&sorted, 0.99),
        })
    );
}
