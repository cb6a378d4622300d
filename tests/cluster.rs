//! Clusters (protocol section 7): three in-process nodes on loopback
//! sharing rooms through one real redis-server that each test starts on a
//! free port. Ignored without redis-server (CI installs it and runs them):
//! `cargo test --test cluster -- --ignored`.
#![cfg(feature = "cluster")]

mod common;
#[path = "support/redis_server.rs"]
mod redis_server;

use std::collections::HashMap;
use std::time::Duration;

use common::binary;
use common::*;
use palisade::client::Client;
use palisade::cluster::config::ClusterConfig;
use palisade::protocol::{Body, ClientFrame, ErrorCode, Role, ServerFrame};
use redis_server::RedisServer;

/// A node of a cluster on `redis`.
fn node(redis: &RedisServer, name: &str) -> TestServer {
    TestServer::start_with(|c| {
        // The tests publish in bursts and read one client at a time: the
        // rate limit and slow-consumer eviction are not under test.
        c.limits.publish_per_sec = 1000;
        c.limits.outbound_queue = 256;
        c.cluster = Some(cluster(redis, name));
    })
}

/// Node `name`'s `[cluster]` on `redis`.
fn cluster(redis: &RedisServer, name: &str) -> ClusterConfig {
    ClusterConfig {
        redis: redis.url(),
        node: name.to_owned(),
        prefix: "it".to_owned(),
        password_file: None,
    }
}

async fn member(node: &TestServer, sub: &str, since: Option<u64>) -> (Client, (u64, u64)) {
    let token = node.token(sub, Role::Member, &["*"], 600);
    let (mut client, _welcome) = node.connect(&token).await;
    match join(&mut client, "hall", since).await {
        ServerFrame::Joined {
            first_seq,
            last_seq,
            ..
        } => (client, (first_seq, last_seq)),
        other => panic!("expected Joined, got {other:?}"),
    }
}

async fn publish(client: &mut Client, id: u32, text: &str) {
    client
        .send(&ClientFrame::Publish {
            id,
            room: room("hall"),
            body: Body::Text(text.to_owned()),
        })
        .await
        .unwrap();
}

/// The next `n` Messages as (seq, text); other frames are not expected.
async fn messages(client: &mut Client, n: usize) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    while out.len() < n {
        match frame(client).await {
            ServerFrame::Message {
                seq,
                body: Body::Text(t),
                ..
            } => out.push((seq, t)),
            other => panic!("expected a Message, got {other:?}"),
        }
    }
    out
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server)"]
fn members_on_two_nodes_see_a_third_nodes_publishes_in_one_order() {
    let redis = RedisServer::start();
    let (a, b, c) = (node(&redis, "a"), node(&redis, "b"), node(&redis, "c"));
    within(async {
        let (mut on_a, (first, _)) = member(&a, "ann", None).await;
        let (mut on_b, _) = member(&b, "bob", None).await;
        let (mut publisher, _) = member(&c, "cat", None).await;
        // Two publishers at once: cat on c, and ann on a.
        for i in 0..20 {
            publish(&mut publisher, i, &format!("c{i}")).await;
            publish(&mut on_a, 100 + i, &format!("a{i}")).await;
        }
        // The publisher: each Ack before its own Message, all 40 Messages.
        let mut acked = HashMap::new();
        let mut seen_c = Vec::new();
        while seen_c.len() < 40 {
            match frame(&mut publisher).await {
                ServerFrame::Ack { id, seq } => {
                    acked.insert(seq, id);
                }
                ServerFrame::Message {
                    seq,
                    body: Body::Text(t),
                    ..
                } => {
                    if t.starts_with('c') {
                        assert!(acked.contains_key(&seq), "Message {seq} before its Ack");
                    }
                    seen_c.push((seq, t));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(acked.len(), 20);
        let mut seen_a = Vec::new();
        while seen_a.len() < 40 {
            match frame(&mut on_a).await {
                ServerFrame::Ack { .. } => {}
                ServerFrame::Message {
                    seq,
                    body: Body::Text(t),
                    ..
                } => seen_a.push((seq, t)),
                other => panic!("unexpected {other:?}"),
            }
        }
        let seen_b = messages(&mut on_b, 40).await;
        assert_eq!(seen_a, seen_c);
        assert_eq!(seen_b, seen_c);
        let seqs: Vec<u64> = seen_b.iter().map(|(s, _)| *s).collect();
        assert_eq!(
            seqs,
            (first..first + 40).collect::<Vec<_>>(),
            "one gapless order"
        );
        let cs: Vec<&str> = seen_b
            .iter()
            .map(|(_, t)| t.as_str())
            .filter(|t| t.starts_with('c'))
            .collect();
        assert_eq!(cs, (0..20).map(|i| format!("c{i}")).collect::<Vec<_>>());
    });
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server)"]
fn a_member_whose_node_stops_resumes_on_another_with_every_message_once() {
    let redis = RedisServer::start();
    let (mut a, b, c) = (node(&redis, "a"), node(&redis, "b"), node(&redis, "c"));
    within(async {
        let (mut dana, _) = member(&a, "dana", None).await;
        let (mut publisher, _) = member(&c, "cat", None).await;
        for i in 0..10 {
            publish(&mut publisher, i, &format!("m{i}")).await;
        }
        let mut got = messages(&mut dana, 5).await;
        // dana's node goes away after she read five.
        a.stop();
        for i in 10..20 {
            publish(&mut publisher, i, &format!("m{i}")).await;
        }
        let last = got.last().unwrap().0;
        let (mut dana, (first, _)) = member(&b, "dana", Some(last)).await;
        assert!(
            first <= last + 1,
            "the shared history still holds seq {}",
            last + 1
        );
        for i in 20..25 {
            publish(&mut publisher, i, &format!("m{i}")).await;
        }
        got.extend(messages(&mut dana, 20).await);
        let texts: Vec<String> = got.iter().map(|(_, t)| t.clone()).collect();
        assert_eq!(texts, (0..25).map(|i| format!("m{i}")).collect::<Vec<_>>());
        let seqs: Vec<u64> = got.iter().map(|(s, _)| *s).collect();
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    });
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server)"]
fn redis_stopped_is_unavailable_and_back_resumes_with_higher_seqs() {
    let mut redis = RedisServer::start();
    let (a, b) = (node(&redis, "a"), node(&redis, "b"));
    within(async {
        let (mut watcher, _) = member(&b, "wes", None).await;
        let (mut publisher, _) = member(&a, "pat", None).await;
        publish(&mut publisher, 1, "before").await;
        let before = match frame(&mut publisher).await {
            ServerFrame::Ack { id: 1, seq } => seq,
            other => panic!("expected Ack, got {other:?}"),
        };
        assert_eq!(
            messages(&mut watcher, 1).await,
            vec![(before, "before".into())]
        );
        assert_eq!(
            messages(&mut publisher, 1).await,
            vec![(before, "before".into())]
        );
        redis.stop();
        publish(&mut publisher, 2, "lost").await;
        assert_eq!(
            next_error(&mut publisher).await,
            (Some(2), ErrorCode::Unavailable)
        );
        redis.restart();
        // The session stayed; publishes work again once the node reconnects.
        let mut id = 3;
        let after = loop {
            publish(&mut publisher, id, "after").await;
            match frame(&mut publisher).await {
                ServerFrame::Ack { id: acked, seq } if acked == id => break seq,
                ServerFrame::Error {
                    code: ErrorCode::Unavailable,
                    ..
                } => {
                    id += 1;
                    smol::Timer::after(Duration::from_millis(50)).await;
                }
                other => panic!("unexpected {other:?}"),
            }
        };
        assert!(after > before, "seq {after} is not above {before}");
        assert_eq!(
            messages(&mut watcher, 1).await,
            vec![(after, "after".into())]
        );
    });
}

/// A folder for `palisade serve` as node `name` of the cluster at `url`
/// (without presence events: these tests read Messages only).
fn node_dir(url: &str, name: &str) -> std::path::PathBuf {
    binary::serve_dir(
        &format!("cluster-{name}"),
        &format!(
            "[limits]\npublish_per_sec = 1000\noutbound_queue = 256\n\
             [presence]\nevents = []\n\
             [cluster]\nredis = \"{url}\"\nnode = \"{name}\"\nprefix = \"bin\"\n"
        ),
    )
}

async fn join_hall(client: &mut Client, since: Option<u64>) -> u64 {
    match join(client, "hall", since).await {
        ServerFrame::Joined { first_seq, .. } => first_seq,
        other => panic!("expected Joined, got {other:?}"),
    }
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server)"]
fn a_member_whose_node_is_killed_resumes_on_another_with_every_message_once() {
    let redis = RedisServer::start();
    let (dir_a, dir_b) = (node_dir(&redis.url(), "a"), node_dir(&redis.url(), "b"));
    let mut a = binary::Running::start(&dir_a);
    let b = binary::Running::start(&dir_b);
    within(async {
        let mut dana = a.connect(&dir_a, "dana", Role::Member).await;
        join_hall(&mut dana, None).await;
        let mut publisher = b.connect(&dir_b, "cat", Role::Member).await;
        join_hall(&mut publisher, None).await;
        for i in 0..10 {
            publish(&mut publisher, i, &format!("m{i}")).await;
        }
        let mut got = messages(&mut dana, 5).await;
        // dana's node dies without a word.
        a.kill9();
        for i in 10..20 {
            publish(&mut publisher, i, &format!("m{i}")).await;
        }
        let last = got.last().unwrap().0;
        let mut dana = b.connect(&dir_b, "dana", Role::Member).await;
        let first = join_hall(&mut dana, Some(last)).await;
        assert!(
            first <= last + 1,
            "the shared history still holds seq {}",
            last + 1
        );
        got.extend(messages(&mut dana, 15).await);
        let texts: Vec<String> = got.iter().map(|(_, t)| t.clone()).collect();
        assert_eq!(texts, (0..20).map(|i| format!("m{i}")).collect::<Vec<_>>());
        let seqs: Vec<u64> = got.iter().map(|(s, _)| *s).collect();
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    });
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server)"]
fn the_redis_password_never_reaches_the_log() {
    const PASSWORD: &str = "pw-7c1e-never-logged";
    let mut redis = RedisServer::with_password(PASSWORD);
    let url = redis
        .url()
        .replace("redis://", &format!("redis://:{PASSWORD}@"));
    let dir = node_dir(&url, "a");
    let mut node = binary::Running::start_logging(&dir, "debug");
    within(async {
        let mut client = node.connect(&dir, "pat", Role::Member).await;
        join_hall(&mut client, None).await;
        publish(&mut client, 1, "hello").await;
        assert!(matches!(
            frame(&mut client).await,
            ServerFrame::Ack { id: 1, .. }
        ));
    });
    // An outage: the alert names the URL, still without the password.
    redis.stop();
    let alert = node.wait_for("alert=cluster-unavailable");
    assert!(alert.contains("redis://***@127.0.0.1:"), "{alert}");
    node.signal("TERM");
    node.wait_exit();
    let everything = node.all_lines();
    let started = everything
        .iter()
        .find(|l| l.contains("rooms live in Redis"));
    assert!(
        started.is_some_and(|l| l.contains("redis://***@127.0.0.1:")),
        "{started:?}"
    );
    assert!(
        everything.iter().all(|line| !line.contains(PASSWORD)),
        "the password was logged"
    );
}

/// A node of a cluster on `redis` whose rooms all send presence events.
fn node_with_events(redis: &RedisServer, name: &str) -> TestServer {
    TestServer::start_with_presence(100, |c| c.cluster = Some(cluster(redis, name)))
}

/// Asks `Presence` in the hall: `(total, names)`; fails on any other frame.
async fn hall_members(client: &mut Client) -> (u32, Vec<String>) {
    client.presence(&room("hall")).await.unwrap();
    match frame(client).await {
        ServerFrame::Members { total, users, .. } => (
            total,
            users.as_slice().iter().map(|u| u.as_str().into()).collect(),
        ),
        other => panic!("expected Members, got {other:?}"),
    }
}

/// The next frame is `MemberJoined` (`arrived`) or `MemberLeft` of `user`.
async fn expect_event(client: &mut Client, arrived: bool, user: &str) {
    match (frame(client).await, arrived) {
        (ServerFrame::MemberJoined { user: u, .. }, true)
        | (ServerFrame::MemberLeft { user: u, .. }, false) => assert_eq!(u.as_str(), user),
        (other, _) => panic!("expected the event of {user} (arrived={arrived}), got {other:?}"),
    }
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server)"]
fn presence_on_one_node_lists_users_on_the_others_and_events_cross_nodes() {
    let redis = RedisServer::start();
    let (a, b, c) = (
        node_with_events(&redis, "a"),
        node_with_events(&redis, "b"),
        node_with_events(&redis, "c"),
    );
    within(async {
        let (mut bob, _) = member(&b, "bob", None).await;
        assert_eq!(hall_members(&mut bob).await, (1, vec!["bob".into()]));
        // Alice's first session, on node A: Bob, on B, hears her arrive.
        let (mut alice, _) = member(&a, "alice", None).await;
        expect_event(&mut bob, true, "alice").await;
        let both = (2, vec!["alice".to_owned(), "bob".to_owned()]);
        assert_eq!(hall_members(&mut bob).await, both);
        // Her second session, on node C, counts her once and is announced
        // to nobody (its own Presence answer follows its count).
        let (mut again, _) = member(&c, "alice", None).await;
        assert_eq!(hall_members(&mut again).await, both);
        assert_eq!(hall_members(&mut alice).await, both);
        assert_eq!(hall_members(&mut bob).await, both);
        // One of her sessions leaves: she is still in the room.
        again
            .send(&ClientFrame::Leave { room: room("hall") })
            .await
            .unwrap();
        assert!(matches!(frame(&mut again).await, ServerFrame::Left { .. }));
        assert_eq!(hall_members(&mut alice).await, both);
        // Her last one ends: Bob hears her leave, and counts only himself.
        // (Had her other session's leave been told, that MemberLeft would
        // come first, before the Members answer above was read.)
        drop(alice);
        expect_event(&mut bob, false, "alice").await;
        assert_eq!(hall_members(&mut bob).await, (1, vec!["bob".into()]));
        // Alice, on A again, hears Bob leave B.
        let (mut alice, _) = member(&a, "alice", None).await;
        bob.send(&ClientFrame::Leave { room: room("hall") })
            .await
            .unwrap();
        expect_event(&mut alice, false, "bob").await;
        assert_eq!(hall_members(&mut alice).await, (1, vec!["alice".into()]));
    });
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server)"]
fn presence_is_unavailable_while_redis_is_down_and_the_session_stays() {
    let mut redis = RedisServer::start();
    let a = node_with_events(&redis, "a");
    within(async {
        let (mut ann, _) = member(&a, "ann", None).await;
        assert_eq!(hall_members(&mut ann).await, (1, vec!["ann".into()]));
        redis.stop();
        ann.presence(&room("hall")).await.unwrap();
        assert_eq!(next_error(&mut ann).await, (None, ErrorCode::Unavailable));
        redis.restart();
        // Redis came back empty: within a refresh (5 s) the node has
        // written Ann's entry again and Presence counts her.
        loop {
            ann.presence(&room("hall")).await.unwrap();
            match frame(&mut ann).await {
                ServerFrame::Members { total: 1, .. } => break,
                ServerFrame::Members { total: 0, .. }
                | ServerFrame::Error {
                    code: ErrorCode::Unavailable,
                    ..
                } => {
                    smol::Timer::after(Duration::from_millis(100)).await;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    });
}
