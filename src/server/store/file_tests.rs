use std::path::Path;
use std::sync::Arc;

use super::super::testing::{delete, join, publish, Event, Recorder};
use super::super::View;
use super::*;

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "palisade-store-{name}-{}-{}",
            std::process::id(),
            super::super::now_ms()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
    fn file(&self) -> PathBuf {
        self.0.join("palisade.db")
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn options(path: &Path, history: u64, max_rooms: u64) -> FileOptions {
    FileOptions {
        path: path.to_path_buf(),
        sync: false,
        history,
        max_rooms,
        commit_window: Duration::ZERO,
    }
}

fn open(options: &FileOptions) -> (FileStore, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let fanout: Arc<dyn Fanout> = recorder.clone();
    (FileStore::open(options, fanout).unwrap(), recorder)
}

fn joined(
    store: &FileStore,
    recorder: &Recorder,
    room: &str,
    since: Option<u64>,
) -> (View, Vec<u64>) {
    recorder.take();
    join(store, room, since).unwrap();
    match recorder.take().pop() {
        Some(Event::Joined { view, replay, .. }) => (view, replay),
        other => panic!("expected Joined, got {other:?}"),
    }
}

#[test]
fn a_new_room_starts_at_1_and_seqs_survive_a_reopen() {
    let dir = Dir::new("reopen");
    let opts = options(&dir.file(), 8, 16);
    {
        let (store, recorder) = open(&opts);
        assert_eq!(
            joined(&store, &recorder, "a", Some(0)).0,
            View { first: 1, last: 0 }
        );
        for i in 1..=3 {
            assert_eq!(publish(&store, "a", "ann", &format!("m{i}"), None), Ok(i));
        }
        let expected: Vec<Event> = (1..=3)
            .map(|i| Event::Committed {
                room: "a".into(),
                seq: i,
                text: format!("m{i}"),
            })
            .collect();
        assert_eq!(recorder.take(), expected);
    }
    let (store, recorder) = open(&opts);
    assert_eq!(
        joined(&store, &recorder, "a", Some(1)),
        (View { first: 1, last: 3 }, vec![2, 3])
    );
    assert_eq!(publish(&store, "a", "ann", "m4", None), Ok(4));
    assert_eq!(store.rooms_held(), 1);
}

#[test]
fn retention_keeps_the_last_history_seqs_in_the_file() {
    let dir = Dir::new("retention");
    let opts = options(&dir.file(), 3, 16);
    let (store, recorder) = open(&opts);
    for i in 1..=10 {
        publish(&store, "a", "ann", &format!("m{i}"), Some(i)).unwrap();
    }
    assert_eq!(
        joined(&store, &recorder, "a", Some(0)),
        (View { first: 8, last: 10 }, vec![8, 9, 10])
    );
    // Key 7's seq left the window with its message: a new publish.
    assert_eq!(publish(&store, "a", "ann", "again", Some(7)), Ok(11));
    drop(store);
    let db = Database::open(dir.file()).unwrap();
    let txn = db.begin_read().unwrap();
    assert_eq!(txn.open_table(tables::MESSAGES).unwrap().len().unwrap(), 3);
    assert_eq!(txn.open_table(tables::KEYS).unwrap().len().unwrap(), 3);
    assert_eq!(txn.open_table(tables::KEY_OF).unwrap().len().unwrap(), 3);
}

#[test]
fn keys_survive_a_reopen_and_a_delete() {
    let dir = Dir::new("keys");
    let opts = options(&dir.file(), 4, 16);
    {
        let (store, recorder) = open(&opts);
        assert_eq!(publish(&store, "a", "ann", "once", Some(5)), Ok(1));
        recorder.take();
        assert_eq!(publish(&store, "a", "ann", "other body", Some(5)), Ok(1));
        assert!(recorder.take().is_empty(), "a duplicate commits nothing");
        assert_eq!(publish(&store, "a", "bob", "once", Some(5)), Ok(2));
        assert_eq!(delete(&store, "a", 1), Ok(()));
    }
    let (store, recorder) = open(&opts);
    assert_eq!(publish(&store, "a", "ann", "once", Some(5)), Ok(1));
    assert!(recorder.take().is_empty());
    assert_eq!(
        joined(&store, &recorder, "a", Some(0)),
        (View { first: 2, last: 2 }, vec![2])
    );
}

#[test]
fn deletes_are_durable_and_answer_not_found_after() {
    let dir = Dir::new("delete");
    let opts = options(&dir.file(), 4, 16);
    {
        let (store, recorder) = open(&opts);
        publish(&store, "a", "ann", "x", None).unwrap();
        publish(&store, "a", "ann", "y", None).unwrap();
        recorder.take();
        assert_eq!(delete(&store, "a", 2), Ok(()));
        assert_eq!(
            recorder.take(),
            vec![Event::Deleted {
                room: "a".into(),
                seq: 2
            }]
        );
        assert_eq!(delete(&store, "a", 2), Err(StoreError::NotFound));
    }
    let (store, recorder) = open(&opts);
    assert_eq!(delete(&store, "a", 2), Err(StoreError::NotFound));
    assert_eq!(delete(&store, "b", 1), Err(StoreError::NotFound));
    assert_eq!(
        joined(&store, &recorder, "a", Some(0)),
        (View { first: 1, last: 1 }, vec![1])
    );
    // Everything deleted: the room says where its next seq is.
    assert_eq!(delete(&store, "a", 1), Ok(()));
    assert_eq!(
        joined(&store, &recorder, "a", None).0,
        View { first: 3, last: 2 }
    );
}

#[test]
fn a_room_dropped_from_a_full_file_leaves_a_floor() {
    let dir = Dir::new("floor");
    let opts = options(&dir.file(), 4, 2);
    let (store, recorder) = open(&opts);
    for _ in 0..5 {
        publish(&store, "a", "ann", "x", None).unwrap();
    }
    publish(&store, "b", "ann", "x", None).unwrap();
    // A third room: a, published to longest ago, leaves the file.
    assert_eq!(publish(&store, "c", "ann", "x", None), Ok(6));
    assert_eq!(store.rooms_held(), 2);
    assert_eq!(
        joined(&store, &recorder, "a", Some(0)),
        (View { first: 6, last: 5 }, vec![])
    );
    drop(store);
    let (store, _) = open(&opts);
    assert_eq!(publish(&store, "a", "ann", "x", None), Ok(6));
}

#[test]
fn a_failing_disk_answers_unavailable_publishes_nothing_and_recovers() {
    let dir = Dir::new("failing");
    let opts = options(&dir.file(), 4, 16);
    let (store, recorder) = open(&opts);
    assert_eq!(publish(&store, "a", "ann", "kept", None), Ok(1));
    recorder.take();
    store.inject_failure(true);
    assert_eq!(
        publish(&store, "a", "ann", "lost", None),
        Err(StoreError::Unavailable)
    );
    assert_eq!(delete(&store, "a", 1), Err(StoreError::Unavailable));
    let events = recorder.take();
    assert!(
        events.is_empty(),
        "nothing handed to the fan-out: {events:?}"
    );
    store.inject_failure(false);
    // The thread reopens the file within a second or two; bounded wait.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let seq = loop {
        match publish(&store, "a", "ann", "after", None) {
            Ok(seq) => break seq,
            Err(StoreError::Unavailable) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("storage did not recover: {e:?}"),
        }
    };
    assert_eq!(seq, 2);
    assert_eq!(
        joined(&store, &recorder, "a", Some(0)),
        (View { first: 1, last: 2 }, vec![1, 2])
    );
}

#[test]
fn a_corrupt_file_is_refused_naming_it() {
    let dir = Dir::new("corrupt");
    std::fs::write(dir.file(), vec![0x5a; 8192]).unwrap();
    let fanout: Arc<dyn Fanout> = Arc::new(Recorder::default());
    let err = FileStore::open(&options(&dir.file(), 4, 16), fanout).unwrap_err();
    let line = err.to_string();
    assert!(
        line.starts_with(&format!("storage: {}: ", dir.file().display())),
        "{line}"
    );
    assert!(line.contains("corrupt"), "{line}");
    assert!(!line.contains('\n'), "{line}");
    // The file was not replaced by an empty database.
    assert_eq!(std::fs::read(dir.file()).unwrap(), vec![0x5a; 8192]);
}

#[test]
fn a_file_in_use_is_refused_as_locked() {
    let dir = Dir::new("locked");
    let opts = options(&dir.file(), 4, 16);
    let (_store, _) = open(&opts);
    let fanout: Arc<dyn Fanout> = Arc::new(Recorder::default());
    let err = FileStore::open(&opts, fanout).unwrap_err().to_string();
    assert!(err.contains("locked"), "{err}");
}

#[test]
fn another_programs_redb_file_is_not_written_into() {
    let dir = Dir::new("foreign");
    {
        let db = Database::create(dir.file()).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(redb::TableDefinition::<&str, u64>::new("theirs"))
            .unwrap()
            .insert("x", 1)
            .unwrap();
        txn.commit().unwrap();
    }
    let fanout: Arc<dyn Fanout> = Arc::new(Recorder::default());
    let err = FileStore::open(&options(&dir.file(), 4, 16), fanout)
        .unwrap_err()
        .to_string();
    assert!(err.ends_with("not a palisade storage file"), "{err}");
}

/// Fills files past their rooms and history, with full bodies and keys,
/// and checks the file never outgrows the computed bound.
#[test]
fn the_file_stays_within_its_computed_bound() {
    for (history, max_body, max_rooms) in [(8u16, 4096u32, 4u32), (16, 256, 8)] {
        let dir = Dir::new("bound");
        let opts = options(&dir.file(), history.into(), max_rooms.into());
        let bound = super::super::disk::DiskBound::new(max_rooms, history, max_body);
        let (store, _recorder) = open(&opts);
        let body = "x".repeat(max_body as usize);
        let from = "u".repeat(64);
        let mut peak = 0;
        for round in 0..4u64 {
            for r in 0..u64::from(max_rooms) + 2 {
                let name = format!("room-{}", (r + round) % (2 * u64::from(max_rooms)));
                for i in 0..u64::from(history) + 2 {
                    publish(&store, &name, &from, &body, Some(round << 32 | i)).unwrap();
                }
                peak = peak.max(std::fs::metadata(dir.file()).unwrap().len());
            }
        }
        assert!(peak <= bound.total, "{peak} bytes > {bound}");
    }
}
