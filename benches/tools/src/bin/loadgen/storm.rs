//! `--storm`: a reconnect storm. `--sessions N` sessions (distinct users
//! with `--users-key`, else all the one token's `sub`) are connected
//! first, then all send `Join` for the bench room at once. Measured: the
//! time until every session has its `Joined`, the server's CPU over the
//! joins and the presence events that follow them, and how many
//! `MemberJoined` frames the sessions received. Run it against a server
//! with `[presence] events = []` and with events on to price them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_tungstenite::tungstenite::Message;
use palisade::protocol::{client_to_vec, decode_server, ClientFrame, RoomName, ServerFrame};
use serde_json::json;
use smol::Timer;

use super::{
    clone_setup, connect_many, cpu_secs, first_errors, next_binary, round, sample, Args, Next,
    Target, Ws, ROOM,
};

/// What the storm's sessions counted together.
#[derive(Default)]
struct Tally {
    joined: AtomicU64,
    /// µs from the storm's start to the last `Joined`.
    last_joined_us: AtomicU64,
    events: AtomicU64,
    closed: AtomicU64,
}

pub(super) async fn storm(args: &Args) -> Result<String, String> {
    let setup = Arc::new(clone_setup(&args.setup));
    if setup.target != Target::Palisade {
        return Err("--storm needs --target palisade (presence is palisade's)".into());
    }
    let (sessions, errors, _) = connect_many(&setup, 0, args.sessions, args.concurrency).await;
    if !errors.is_empty() {
        return Err(format!(
            "{} sessions failed: {:?}",
            errors.len(),
            first_errors(&errors)
        ));
    }
    let join = client_to_vec(&ClientFrame::Join {
        room: RoomName::new(ROOM).map_err(|e| e.to_string())?,
        since: None,
    });
    let tally = Arc::new(Tally::default());
    let (stop_tx, stop_rx) = smol::channel::bounded::<()>(1);
    let before = sample(args.server_pid);
    let start = Instant::now();
    let tasks: Vec<_> = sessions
        .into_iter()
        .map(|ws| {
            let (join, tally, stop) = (join.clone(), tally.clone(), stop_rx.clone());
            smol::spawn(async move { session(ws, join, tally, start, stop).await })
        })
        .collect();
    // Every Joined (or a close), then events until none arrive for 1 s;
    // 60 s at most.
    let end = Instant::now() + Duration::from_secs(60);
    let mut last = (0, Instant::now());
    while Instant::now() < end {
        let done = tally.joined.load(Ordering::Relaxed) + tally.closed.load(Ordering::Relaxed);
        let events = tally.events.load(Ordering::Relaxed);
        if events != last.0 {
            last = (events, Instant::now());
        } else if done >= args.sessions as u64 && last.1.elapsed() > Duration::from_secs(1) {
            break;
        }
        Timer::after(Duration::from_millis(20)).await;
    }
    // The quiet second is not the server's work.
    let settle = last.1.elapsed().min(start.elapsed());
    let after = sample(args.server_pid);
    drop(stop_tx);
    for t in tasks {
        t.await;
    }
    let joined = tally.joined.load(Ordering::Relaxed);
    let cpu = cpu_secs(before, after);
    Ok(json!({
        "target": setup.target.name(),
        "mode": "storm",
        "sessions": args.sessions,
        "joined": joined,
        "closed": tally.closed.load(Ordering::Relaxed),
        "join_wall_secs": round(tally.last_joined_us.load(Ordering::Relaxed) as f64 / 1e6, 3),
        "wall_secs": round((start.elapsed() - settle).as_secs_f64(), 3),
        "member_events": tally.events.load(Ordering::Relaxed),
        "server_cpu_secs": round(cpu, 2),
        "server_cpu_us_per_join": if joined > 0 { round(cpu * 1e6 / joined as f64, 1) } else { 0.0 },
        "server_rss_kib": after.rss_kib,
    })
    .to_string())
}

/// One session of the storm: join, then count presence events until told
/// to stop.
async fn session(
    mut ws: Ws,
    join: Vec<u8>,
    tally: Arc<Tally>,
    start: Instant,
    stop: smol::channel::Receiver<()>,
) {
    if ws.send(Message::Binary(join.into())).await.is_err() {
        tally.closed.fetch_add(1, Ordering::Relaxed);
        return;
    }
    loop {
        let bytes = match next_binary(&mut ws, &stop).await {
            Next::Binary(b) => b,
            Next::Stopped => return,
            Next::Closed => {
                tally.closed.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        match decode_server(&bytes) {
            Ok(ServerFrame::Joined { .. }) => {
                tally.joined.fetch_add(1, Ordering::Relaxed);
                let us = start.elapsed().as_micros() as u64;
                tally.last_joined_us.fetch_max(us, Ordering::Relaxed);
            }
            Ok(ServerFrame::MemberJoined { .. } | ServerFrame::MemberLeft { .. }) => {
                tally.events.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }
}
