//! Publishing, replay, PublishOnce, deletes, gaps and outages across nodes.

use std::time::Duration;

use super::*;

#[test]
#[ignore = "needs redis-server (apt-get install redis-server)"]
fn every_node_sees_one_seq_order_and_acks_come_first() {
    let redis = RedisServer::start();
    let (a, b, c) = (node(&redis, "a"), node(&redis, "b"), node(&redis, "c"));
    let r = room("lobby");
    smol::block_on(async {
        let (window, replay) = a.join(&r, None).await;
        assert_eq!(window.last + 1, window.first, "a new room retains nothing");
        assert!(replay.is_empty());
        // Section 7: a room Redis holds nothing for starts from Unix ms x 2^10.
        let base_ms = window.first >> 10;
        assert!(
            base_ms.abs_diff(now_ms()) < 60_000,
            "first seq {} is not clock-derived",
            window.first
        );
        b.join(&r, None).await;
        // Publishers on two nodes at once; c is not even a member.
        let (from_b, from_c) = futures_util::future::join(
            async {
                for i in 0..20 {
                    b.say(&r, &format!("b{i}")).await.expect("b publishes");
                }
            },
            async {
                for i in 0..20 {
                    c.say(&r, &format!("c{i}")).await.expect("c publishes");
                }
            },
        )
        .await;
        let _ = (from_b, from_c);
        let seen_a = a.messages(40).await;
        // b sees the same order, and each of its Acks before its Message.
        let mut seen_b = Vec::new();
        let mut acked = std::collections::HashSet::new();
        while seen_b.len() < 40 {
            match b.next().await {
                Seen::Ack(seq) => {
                    acked.insert(seq);
                }
                Seen::Message(seq, text) => {
                    if text.starts_with('b') {
                        assert!(
                            acked.contains(&seq),
                            "b's Message {seq} came before its Ack"
                        );
                    }
                    seen_b.push((seq, text));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(seen_a, seen_b);
        let seqs: Vec<u64> = seen_a.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, (window.first..window.first + 40).collect::<Vec<_>>());
        // Each publisher's own messages in its own order.
        let b_texts: Vec<&str> = seen_a
            .iter()
            .map(|(_, t)| t.as_str())
            .filter(|t| t.starts_with('b'))
            .collect();
        assert_eq!(
            b_texts,
            (0..20).map(|i| format!("b{i}")).collect::<Vec<_>>()
        );
    });
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server)"]
fn join_since_replays_from_the_stream_on_another_node() {
    let redis = RedisServer::start();
    let (a, b) = (node(&redis, "a"), node(&redis, "b"));
    let r = room("replay");
    smol::block_on(async {
        let first = a.say(&r, "m1").await.unwrap().seq;
        for i in 2..=5 {
            a.say(&r, &format!("m{i}")).await.unwrap();
        }
        let (window, replay) = b.join(&r, Some(first + 1)).await;
        assert_eq!(
            window,
            Window {
                first,
                last: first + 4
            }
        );
        assert_eq!(
            replay,
            (3..=5)
                .map(|i| (first + i - 1, format!("m{i}")))
                .collect::<Vec<_>>()
        );
        // Live messages follow the replay.
        a.say(&r, "m6").await.unwrap();
        assert_eq!(b.messages(1).await, vec![(first + 5, "m6".to_owned())]);
    });
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server)"]
fn publish_once_is_shared_by_all_nodes_while_its_seq_is_retained() {
    let redis = RedisServer::start();
    let (a, b) = (
        node_with(&config(&redis.url(), "a"), 3),
        node_with(&config(&redis.url(), "b"), 3),
    );
    let r = room("once");
    smol::block_on(async {
        b.join(&r, None).await;
        let p = a.say_once(&r, 7, "hello").await;
        assert!(!p.repeated);
        let again = b.say_once(&r, 7, "other body, same key").await;
        assert_eq!(
            again,
            Published {
                seq: p.seq,
                repeated: true
            }
        );
        // Nothing was published the second time: the next Message is "x".
        a.say(&r, "x").await.unwrap();
        assert_eq!(
            b.messages(2).await,
            vec![(p.seq, "hello".into()), (p.seq + 1, "x".into())]
        );
        // Out of the last `history` (3) seqs, the key is forgotten.
        a.say(&r, "y").await.unwrap();
        a.say(&r, "z").await.unwrap();
        let later = a.say_once(&r, 7, "hello again").await;
        assert_eq!(
            later,
            Published {
                seq: p.seq + 4,
                repeated: false
            }
        );
    });
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server)"]
fn a_delete_reaches_every_node_and_leaves_the_stream() {
    let redis = RedisServer::start();
    let (a, b) = (node(&redis, "a"), node(&redis, "b"));
    let r = room("del");
    let (admin, _inbox) = outbox(99, 8);
    smol::block_on(async {
        b.join(&r, None).await;
        let seq = a.say(&r, "oops").await.unwrap().seq;
        assert_eq!(b.messages(1).await, vec![(seq, "oops".into())]);
        // The admin on b (which watches the room) is told with b's members;
        assert_eq!(b.engine.delete(&r, seq, admin.clone()).await, Ok(true));
        assert_eq!(b.next().await, Seen::Deleted(seq, Some(99)));
        assert_eq!(b.engine.delete(&r, seq, admin.clone()).await, Ok(false));
        // on a (no member there) it is told at once.
        let other = a.say(&r, "also").await.unwrap().seq;
        assert_eq!(a.engine.delete(&r, other, admin.clone()).await, Ok(true));
        assert_eq!(a.next().await, Seen::Ack(seq));
        assert_eq!(a.next().await, Seen::Ack(other));
        assert_eq!(a.next().await, Seen::Deleted(other, Some(99)));
        assert_eq!(b.messages(1).await, vec![(other, "also".into())]);
        assert_eq!(b.next().await, Seen::Deleted(other, None));
        let (_, replay) = a.join(&r, Some(0)).await;
        assert!(replay.is_empty(), "deleted seqs replayed: {replay:?}");
    });
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server)"]
fn a_lost_pubsub_message_is_repaired_from_the_stream() {
    let redis = RedisServer::start();
    let (a, b) = (node(&redis, "a"), node(&redis, "b"));
    let r = room("gap");
    smol::block_on(async {
        b.join(&r, None).await;
        let first = a.say(&r, "one").await.unwrap().seq;
        assert_eq!(b.messages(1).await, vec![(first, "one".into())]);
        // A publish whose PUBLISH goes nowhere: in the stream, never on the channel.
        let lost = lost_publish(&redis, &r, "two");
        assert_eq!(lost, first + 1);
        a.say(&r, "three").await.unwrap();
        assert_eq!(
            b.messages(2).await,
            vec![(first + 1, "two".into()), (first + 2, "three".into())]
        );
    });
}

/// Runs publish.lua by hand with a channel nobody listens on.
fn lost_publish(redis: &RedisServer, r: &RoomName, text: &str) -> u64 {
    let keys = crate::cluster::keys::Keys::new("t");
    let tail = crate::cluster::wire::Tail::encode("alice", now_ms(), &Body::Text(text.into()));
    let mut con = redis::Client::open(redis.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let answers: Vec<(u64, u8)> = crate::cluster::scripts::Scripts::new()
        .publish
        .arg(100)
        .arg(60)
        .key(keys.meta(r))
        .key(keys.stream(r))
        .key(keys.once(r))
        .key(keys.once_order(r))
        .arg(&[0u8; 16][..])
        .arg(tail)
        .arg("")
        .arg("t:channel:nobody")
        .invoke(&mut con)
        .unwrap();
    answers[0].0
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server)"]
fn after_a_pubsub_reconnect_nothing_is_lost_or_repeated() {
    let redis = RedisServer::start();
    let (a, b) = (node(&redis, "a"), node(&redis, "b"));
    let r = room("reconnect");
    smol::block_on(async {
        b.join(&r, None).await;
        let first = a.say(&r, "before").await.unwrap().seq;
        assert_eq!(b.messages(1).await, vec![(first, "before".into())]);
        // Cut every pub/sub connection, then publish at once: b gets these
        // either live after resubscribing or from the stream's repair.
        assert!(redis.command("CLIENT KILL TYPE pubsub").starts_with(':'));
        for i in 0..10 {
            a.say(&r, &format!("during{i}")).await.unwrap();
        }
        let got = b.messages(10).await;
        let expected: Vec<(u64, String)> = (0..10)
            .map(|i| (first + 1 + i, format!("during{i}")))
            .collect();
        assert_eq!(got, expected);
        a.say(&r, "after").await.unwrap();
        assert_eq!(b.messages(1).await, vec![(first + 11, "after".into())]);
    });
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server)"]
fn redis_down_means_unavailable_and_back_means_higher_seqs() {
    let mut redis = RedisServer::start();
    let (a, b) = (node(&redis, "a"), node(&redis, "b"));
    let r = room("outage");
    smol::block_on(async {
        b.join(&r, None).await;
        let before = a.say(&r, "before").await.unwrap().seq;
        assert_eq!(b.messages(1).await, vec![(before, "before".into())]);
        assert!(a.engine.is_up());
        redis.stop();
        assert_eq!(a.say(&r, "lost").await, Err(Unavailable));
        assert_eq!(
            bounded("presence", a.engine.members(&r, 100)).await,
            Err(Unavailable)
        );
        assert!(!a.engine.is_up());
        // Nothing half-published reached b: its next Message is after the restart.
        redis.restart();
        let after = bounded("publishes resume", async {
            loop {
                // Publishes resume once the command connection is made again.
                if let Ok(p) = a.say(&r, "after").await {
                    break p.seq;
                }
                smol::Timer::after(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(
            after > before,
            "seq {after} after the restart is not above {before}"
        );
        assert_eq!(b.messages(1).await, vec![(after, "after".into())]);
        bounded("up again", async {
            while !a.engine.is_up() {
                smol::Timer::after(Duration::from_millis(20)).await;
            }
        })
        .await;
    });
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server)"]
fn a_batch_publishes_in_order_across_rooms_in_one_call() {
    let redis = RedisServer::start();
    let (a, b) = (node(&redis, "a"), node(&redis, "b"));
    let (x, y) = (room("batch-x"), room("batch-y"));
    smol::block_on(async {
        b.join(&x, None).await;
        b.join(&y, None).await;
        let bodies: Vec<Body> = (0..4).map(|i| Body::Text(format!("t{i}"))).collect();
        let rooms = [&x, &y, &x, &x];
        // The third and fourth carry the same key: the fourth repeats it.
        let keys = [None, None, Some(("alice", 5)), Some(("alice", 5))];
        let batch = (0..4)
            .map(|i| super::super::Publishing {
                room: rooms[i],
                from: "alice",
                sent_at_ms: now_ms(),
                body: &bodies[i],
                once: keys[i],
                ack: None,
            })
            .collect();
        let answers = bounded("batch", a.engine.publish_batch(batch)).await;
        let seqs: Vec<u64> = answers.iter().map(|r| r.unwrap().seq).collect();
        assert_eq!(seqs[2], seqs[0] + 1, "x's seqs follow each other");
        assert_eq!(seqs[3], seqs[2], "the repeated key gets the first seq");
        assert!(answers[3].unwrap().repeated && !answers[2].unwrap().repeated);
        let mut got = b.messages(3).await;
        got.sort_by_key(|(s, t)| (t.clone(), *s));
        assert_eq!(
            got,
            vec![
                (seqs[0], "t0".into()),
                (seqs[1], "t1".into()),
                (seqs[2], "t2".into())
            ]
        );
    });
}
