//! The cluster behind the storage seam: two nodes' stores, each with a
//! recording fan-out, against one redis-server.

use std::sync::Arc;

use super::*;
use crate::cluster::store::ClusterStore;
use crate::server::lock::lock;
use crate::server::store::testing::{self, Event, Recorder};
use crate::server::store::{Store, StoreError, View};

fn store(redis: &RedisServer, name: &str, history: u16) -> (ClusterStore, Arc<Recorder>) {
    let fanout = Arc::new(Recorder::default());
    let store = ClusterStore::start(&config(&redis.url(), name), history, fanout.clone())
        .expect("store starts");
    (store, fanout)
}

/// Waits until `fanout` recorded `n` events and returns them.
fn events(fanout: &Recorder, n: usize) -> Vec<Event> {
    smol::block_on(bounded("fan-out events", async {
        while lock(&fanout.events).len() < n {
            smol::Timer::after(Duration::from_millis(10)).await;
        }
    }));
    fanout.take()
}

fn committed(room: &str, seq: u64, text: &str) -> Event {
    Event::Committed {
        room: room.into(),
        seq,
        text: text.into(),
    }
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server)"]
fn publishes_on_one_node_reach_the_fanout_of_another_in_order() {
    let redis = RedisServer::start();
    let (a, _fa) = store(&redis, "a", 10);
    let (b, fb) = store(&redis, "b", 10);
    lock(&fb.watched).insert(room("hall"));
    testing::join(&b, "hall", None).expect("join");
    let Event::Joined { view, .. } = events(&fb, 1).remove(0) else {
        panic!("not Joined")
    };
    assert_eq!(view.last + 1, view.first);
    let first = view.first;
    for i in 0..5 {
        let seq = testing::publish(&a, "hall", "alice", &format!("m{i}"), None);
        assert_eq!(seq, Ok(first + i));
    }
    assert_eq!(
        events(&fb, 5),
        (0..5)
            .map(|i| committed("hall", first + i, &format!("m{i}")))
            .collect::<Vec<_>>()
    );
    // PublishOnce from another node: the first seq, nothing published.
    let keyed = testing::publish(&a, "hall", "alice", "once", Some(1)).unwrap();
    assert_eq!(
        testing::publish(&b, "hall", "alice", "twice", Some(1)),
        Ok(keyed)
    );
    // A replay on b's side through the seam.
    testing::join(&b, "hall", Some(first + 3)).expect("join since");
    let replayed = events(&fb, 2);
    assert_eq!(replayed[0], committed("hall", keyed, "once"));
    assert_eq!(
        replayed[1],
        Event::Joined {
            room: "hall".into(),
            view: View { first, last: keyed },
            replay: vec![first + 4, keyed],
        }
    );
    assert_eq!(testing::delete(&a, "hall", keyed), Ok(()));
    assert_eq!(
        testing::delete(&a, "hall", keyed),
        Err(StoreError::NotFound)
    );
    assert_eq!(
        events(&fb, 1),
        vec![Event::Deleted {
            room: "hall".into(),
            seq: keyed
        }]
    );
    assert_eq!(b.rooms_held(), 1);
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server)"]
fn without_redis_the_seam_answers_unavailable() {
    let mut redis = RedisServer::start();
    let (a, _fa) = store(&redis, "a", 10);
    assert!(testing::publish(&a, "r", "alice", "up", None).is_ok());
    redis.stop();
    assert_eq!(
        testing::publish(&a, "r", "alice", "down", None),
        Err(StoreError::Unavailable)
    );
    assert_eq!(
        testing::join(&a, "r", Some(0)),
        Err(StoreError::Unavailable)
    );
    assert_eq!(testing::delete(&a, "r", 1), Err(StoreError::Unavailable));
    assert!(!a.is_up());
}
