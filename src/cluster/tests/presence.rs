//! Presence across nodes, dead nodes, and the Redis password.

use super::*;

#[test]
#[ignore = "needs redis-server (apt-get install redis-server)"]
fn presence_counts_every_node_and_announces_first_and_last_sessions() {
    let redis = RedisServer::start();
    let (a, b) = (node(&redis, "a"), node(&redis, "b"));
    let r = room("who");
    smol::block_on(async {
        a.join(&r, None).await;
        b.join(&r, None).await;
        let joined = a.engine.presence_join(&r, 11, "zoe", 100).await.unwrap();
        assert_eq!((joined.first_or_last, joined.total), (true, 1));
        // Both nodes hear it; a is told which local session not to tell.
        assert_eq!(a.next().await, Seen::Member(true, "zoe".into(), Some(11)));
        assert_eq!(b.next().await, Seen::Member(true, "zoe".into(), None));
        let second = b.engine.presence_join(&r, 22, "zoe", 100).await.unwrap();
        assert_eq!((second.first_or_last, second.total), (false, 1));
        b.engine.presence_join(&r, 23, "adam", 100).await.unwrap();
        assert_eq!(a.next().await, Seen::Member(true, "adam".into(), None));
        assert_eq!(
            a.engine.members(&r, 100).await,
            Ok((2, vec!["adam".to_owned(), "zoe".to_owned()]))
        );
        // zoe's first session goes: zoe is still there (on b).
        let left = a.engine.presence_leave(&r, 11, "zoe").await.unwrap();
        assert_eq!((left.first_or_last, left.total), (false, 2));
        let left = b.engine.presence_leave(&r, 22, "zoe").await.unwrap();
        assert_eq!((left.first_or_last, left.total), (true, 1));
        assert_eq!(a.next().await, Seen::Member(false, "zoe".into(), None));
        // No events above events_max: 2 users with the arrival, max 1.
        a.engine.presence_join(&r, 12, "max", 1).await.unwrap();
        assert_eq!(
            b.engine.members(&r, 1).await,
            Ok((2, vec!["adam".to_owned(), "max".to_owned()]))
        );
        b.engine.presence_leave(&r, 23, "adam").await.unwrap();
        a.engine.presence_leave(&r, 12, "max").await.unwrap();
        assert_eq!(a.next().await, Seen::Member(false, "adam".into(), None));
        assert_eq!(a.next().await, Seen::Member(false, "max".into(), Some(12)));
        let mut heard = Vec::new();
        for _ in 0..4 {
            heard.push(b.next().await);
        }
        assert_eq!(
            heard,
            vec![
                Seen::Member(true, "adam".into(), Some(23)),
                Seen::Member(false, "zoe".into(), Some(22)),
                Seen::Member(false, "adam".into(), Some(23)),
                Seen::Member(false, "max".into(), None),
            ],
            "no MemberJoined for max, who arrived above events_max"
        );
    });
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server)"]
fn a_dead_nodes_entries_are_purged_and_announced() {
    let redis = RedisServer::start();
    let a = node(&redis, "a");
    let r = room("dead");
    smol::block_on(async {
        a.join(&r, None).await;
        {
            // A node that joins and dies without a word (never refreshes).
            let dead = node(&redis, "dead");
            dead.engine
                .presence_join(&r, 5, "ghost", 100)
                .await
                .unwrap();
            assert_eq!(a.next().await, Seen::Member(true, "ghost".into(), None));
        }
        assert_eq!(
            a.engine.members(&r, 100).await,
            Ok((1, vec!["ghost".to_owned()]))
        );
        // Its entry's expiry passes (made to have passed, not waited for).
        let all = redis.command("ZRANGE t:presence-expiry:dead 0 -1");
        let field = all
            .lines()
            .find(|l| l.starts_with("dead/"))
            .expect("the dead node's entry")
            .to_owned();
        let answer = redis.command(&format!("ZADD t:presence-expiry:dead XX 1 {field}"));
        assert!(answer.starts_with(":0"), "{answer}");
        assert_eq!(a.engine.members(&r, 100).await, Ok((0, vec![])));
        assert_eq!(a.next().await, Seen::Member(false, "ghost".into(), None));
    });
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server)"]
fn a_password_from_a_file_works_and_a_wrong_one_is_unavailable() {
    let redis = RedisServer::with_password("pw-for-tests-only");
    let dir = std::env::temp_dir().join(format!("palisade-cluster-pw-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("redis.pw");
    std::fs::write(&file, "pw-for-tests-only\n").unwrap();
    let mut good = config(&redis.url(), "a");
    good.password_file = Some(file.clone());
    let a = node_with(&good, 10);
    let wrong = node_with(
        &config(&redis.url().replace("redis://", "redis://:nope@"), "b"),
        10,
    );
    let r = room("secret");
    smol::block_on(async {
        assert!(a.say(&r, "in").await.is_ok());
        assert_eq!(wrong.say(&r, "out").await, Err(Unavailable));
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_password_is_not_in_what_the_engine_logs() {
    // Nothing listens on port 1: the engine's alert line names the URL
    // exactly as its Debug does, redacted.
    let node = node_with(&config("redis://:hunter2-secret@127.0.0.1:1/0", "a"), 10);
    let shown = format!("{:?}", node.engine);
    assert!(shown.contains("redis://***@127.0.0.1:1/0"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
}
