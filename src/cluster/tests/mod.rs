//! The engine against a real redis-server (started by each test on a
//! free loopback port): two or three engines in one process play the
//! nodes. Shared helpers here; the tests in [`rooms`] and [`presence`].

use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_tungstenite::tungstenite::Bytes;
use smol::channel::{Receiver, Sender};
use smol::future::FutureExt;

#[path = "../../../tests/support/redis_server.rs"]
mod redis_server;
use redis_server::RedisServer;

use super::config::ClusterConfig;
use super::{Engine, Local, Published, Unavailable, Window};

mod presence;
mod rooms;
mod store;
use crate::protocol::{decode_server, Body, RoomName, ServerFrame};
use crate::server::outbox::{outbox, Outbox};

/// Bound on any one wait in these tests (never reached when things work).
const PATIENCE: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Message(u64, String),
    /// The seq, and the session of the deleting admin when told.
    Deleted(u64, Option<u64>),
    Member(bool, String, Option<u64>),
    Ack(u64),
}

struct Recorder(Sender<Seen>);

fn text_of(frame: &Bytes) -> String {
    match decode_server(frame) {
        Ok(ServerFrame::Message {
            body: Body::Text(t),
            ..
        }) => t,
        other => panic!("not a text Message: {other:?}"),
    }
}

impl Local for Recorder {
    fn message(&self, _: &RoomName, seq: u64, frame: Bytes) {
        let _ = self.0.try_send(Seen::Message(seq, text_of(&frame)));
    }
    fn deleted(&self, _: &RoomName, seq: u64, by: Option<Outbox>) {
        let _ = self.0.try_send(Seen::Deleted(seq, by.map(|o| o.session())));
    }
    fn member(&self, _: &RoomName, arrived: bool, user: &str, except: Option<u64>) {
        let _ = self
            .0
            .try_send(Seen::Member(arrived, user.to_owned(), except));
    }
    fn is_watched(&self, _: &RoomName) -> bool {
        true
    }
}

struct Node {
    engine: Engine,
    seen: Receiver<Seen>,
    tx: Sender<Seen>,
    _local: Arc<dyn Local>,
}

fn config(redis: &str, node: &str) -> ClusterConfig {
    ClusterConfig {
        redis: redis.to_owned(),
        node: node.to_owned(),
        prefix: "t".to_owned(),
        password_file: None,
    }
}

fn node_with(config: &ClusterConfig, history: u16) -> Node {
    let (tx, seen) = smol::channel::unbounded();
    let local: Arc<dyn Local> = Arc::new(Recorder(tx.clone()));
    let weak: Weak<dyn Local> = Arc::downgrade(&local);
    let engine = Engine::start(config, history, weak).expect("engine starts");
    Node {
        engine,
        seen,
        tx,
        _local: local,
    }
}

fn node(redis: &RedisServer, name: &str) -> Node {
    node_with(&config(&redis.url(), name), 100)
}

fn room(name: &str) -> RoomName {
    RoomName::new(name).unwrap()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

async fn bounded<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    f.or(async {
        smol::Timer::after(PATIENCE).await;
        panic!("{what}: nothing within {PATIENCE:?}")
    })
    .await
}

impl Node {
    async fn next(&self) -> Seen {
        bounded("next event", self.seen.recv()).await.unwrap()
    }

    async fn join(&self, room: &RoomName, since: Option<u64>) -> (Window, Vec<(u64, String)>) {
        let mut got = None;
        bounded(
            "join",
            self.engine.join(room, since, |w, replay| {
                got = Some((w, replay.iter().map(|(s, f)| (*s, text_of(f))).collect()));
            }),
        )
        .await
        .expect("join");
        got.expect("join called add")
    }

    async fn say(&self, room: &RoomName, text: &str) -> Result<Published, Unavailable> {
        let tx = self.tx.clone();
        let ack: super::AckFn = Box::new(move |answer| {
            if let Ok(seq) = answer {
                let _ = tx.try_send(Seen::Ack(seq));
            }
        });
        let body = Body::Text(text.to_owned());
        bounded(
            "publish",
            self.engine
                .publish(room, "alice", now_ms(), &body, None, Some(ack)),
        )
        .await
    }

    async fn say_once(&self, room: &RoomName, key: u64, text: &str) -> Published {
        let body = Body::Text(text.to_owned());
        bounded(
            "publish once",
            self.engine
                .publish(room, "alice", now_ms(), &body, Some(("alice", key)), None),
        )
        .await
        .expect("publish once")
    }

    /// The next `n` Messages (skipping Acks), as (seq, text).
    async fn messages(&self, n: usize) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        while out.len() < n {
            if let Seen::Message(seq, text) = self.next().await {
                out.push((seq, text));
            }
        }
        out
    }
}
