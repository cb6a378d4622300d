use std::sync::Arc;

use super::super::testing::{delete, join, publish, room, Event, Recorder};
use super::*;

fn store(history: usize, max_rooms: usize) -> (MemoryStore, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let fanout: Arc<dyn Fanout> = recorder.clone();
    (MemoryStore::new(history, max_rooms, fanout), recorder)
}

fn joined(recorder: &Recorder) -> (View, Vec<u64>) {
    match recorder.take().pop() {
        Some(Event::Joined { view, replay, .. }) => (view, replay),
        other => panic!("expected Joined, got {other:?}"),
    }
}

#[test]
fn a_new_room_starts_at_the_clock_base_and_says_so_in_joined() {
    let before = super::super::clock::base(super::super::now_ms());
    let (store, recorder) = store(4, 8);
    join(&store, "a", Some(0)).unwrap();
    let (view, replay) = joined(&recorder);
    assert!(view.first > before, "{view:?} vs {before}");
    assert_eq!(view.last, view.first - 1);
    assert!(replay.is_empty());
    let seq = publish(&store, "a", "ann", "hi", None).unwrap();
    assert_eq!(seq, view.first);
    assert_eq!(publish(&store, "a", "ann", "again", None), Ok(seq + 1));
}

#[test]
fn history_keeps_the_last_seqs_and_replays_after_since() {
    let (store, recorder) = store(3, 8);
    let seqs: Vec<u64> = (0..5)
        .map(|i| publish(&store, "a", "ann", &format!("m{i}"), None).unwrap())
        .collect();
    recorder.take();
    join(&store, "a", Some(seqs[2])).unwrap();
    let (view, replay) = joined(&recorder);
    assert_eq!(
        view,
        View {
            first: seqs[2],
            last: seqs[4]
        }
    );
    assert_eq!(replay, vec![seqs[3], seqs[4]]);
}

#[test]
fn history_zero_retains_nothing_and_remembers_no_key() {
    let (store, recorder) = store(0, 8);
    let first = publish(&store, "a", "ann", "x", Some(9)).unwrap();
    assert_eq!(publish(&store, "a", "ann", "x", Some(9)), Ok(first + 1));
    recorder.take();
    join(&store, "a", Some(0)).unwrap();
    assert_eq!(
        joined(&recorder).0,
        View {
            first: first + 2,
            last: first + 1
        }
    );
}

#[test]
fn a_key_answers_its_first_seq_while_in_the_window_even_deleted() {
    let (store, recorder) = store(3, 8);
    let seq = publish(&store, "a", "ann", "once", Some(42)).unwrap();
    recorder.take();
    // Same key, other body: the same publish, and nothing is committed.
    assert_eq!(publish(&store, "a", "ann", "other", Some(42)), Ok(seq));
    assert!(recorder.take().is_empty());
    // Another user's key 42 is another publish.
    assert_eq!(publish(&store, "a", "bob", "once", Some(42)), Ok(seq + 1));
    // Deleted, the key is still remembered.
    delete(&store, "a", seq).unwrap();
    assert_eq!(publish(&store, "a", "ann", "once", Some(42)), Ok(seq));
    // Once its seq leaves the window, the key is forgotten.
    publish(&store, "a", "bob", "x", None).unwrap();
    publish(&store, "a", "bob", "y", None).unwrap();
    assert_eq!(publish(&store, "a", "ann", "once", Some(42)), Ok(seq + 4));
}

#[test]
fn delete_removes_once_and_tells_the_fanout() {
    let (store, recorder) = store(3, 8);
    let seq = publish(&store, "a", "ann", "x", None).unwrap();
    recorder.take();
    assert_eq!(delete(&store, "a", seq), Ok(()));
    assert_eq!(
        recorder.take(),
        vec![Event::Deleted {
            room: "a".into(),
            seq
        }]
    );
    assert_eq!(delete(&store, "a", seq), Err(StoreError::NotFound));
    assert_eq!(delete(&store, "a", seq + 1), Err(StoreError::NotFound));
    assert_eq!(delete(&store, "b", 1), Err(StoreError::NotFound));
    join(&store, "a", Some(0)).unwrap();
    assert_eq!(
        joined(&recorder).0,
        View {
            first: seq + 1,
            last: seq
        }
    );
}

#[test]
fn a_dropped_room_leaves_its_last_seq_as_a_floor() {
    let (store, recorder) = store(4, 1);
    let last = (0..3)
        .map(|_| publish(&store, "a", "ann", "x", None).unwrap())
        .last()
        .unwrap();
    publish(&store, "a", "ann", "x", None).unwrap();
    let last = last + 1;
    // A second room needs a's place: a goes, its seq stays as the floor.
    publish(&store, "b", "ann", "y", None).unwrap();
    assert_eq!(lock(&store.table).floor, last);
    recorder.take();
    let again = publish(&store, "a", "ann", "z", None).unwrap();
    assert!(again > last, "{again} <= {last}");
}

#[test]
fn a_full_table_of_watched_rooms_refuses_new_rooms() {
    let (store, recorder) = store(4, 1);
    publish(&store, "a", "ann", "x", None).unwrap();
    lock(&recorder.watched).insert(room("a"));
    assert_eq!(
        publish(&store, "b", "ann", "y", None),
        Err(StoreError::RoomsFull)
    );
    assert_eq!(join(&store, "b", None), Err(StoreError::RoomsFull));
    assert_eq!(store.rooms_held(), 1);
}
