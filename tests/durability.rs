//! Durable rooms with the real binary: acked messages survive `kill -9`,
//! seqs are never reused, `PublishOnce` keys and deletes survive restarts,
//! a corrupt file stops start-up, and memory storage restarts above every
//! earlier seq (PROTOCOL.md section 7).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use common::binary::{serve_dir, spawn_serve, wait_exit, Running};
use common::{frame, join, next_error, room, within};
use palisade::client::{Client, Event};
use palisade::protocol::{Body, ClientFrame, ErrorCode, Role, ServerFrame};

/// Rooms retain every message these tests publish; publishing is not
/// rate limited in the way.
const LIMITS: &str = "[limits]\nhistory = 2000\npublish_per_sec = 5000\nframes_per_sec = 5000\n";

fn text(s: &str) -> Body {
    Body::Text(s.to_owned())
}

async fn publish(client: &mut Client, id: u32, body: &str) {
    let frame = ClientFrame::Publish {
        id,
        room: room("log"),
        body: text(body),
    };
    client.send(&frame).await.unwrap();
}

/// Publishes and returns the Ack's seq (the own Message that follows is
/// read too).
async fn publish_acked(client: &mut Client, id: u32, body: &str) -> u64 {
    publish(client, id, body).await;
    let seq = match frame(client).await {
        ServerFrame::Ack { id: got, seq } if got == id => seq,
        other => panic!("expected Ack {id}, got {other:?}"),
    };
    match frame(client).await {
        ServerFrame::Message { seq: got, .. } if got == seq => seq,
        other => panic!("expected Message {seq}, got {other:?}"),
    }
}

/// Joins `log` with `since` and returns `(first, last)` and the replay.
async fn replay(client: &mut Client, since: u64) -> ((u64, u64), BTreeMap<u64, Body>) {
    let (first, last) = match join(client, "log", Some(since)).await {
        ServerFrame::Joined {
            first_seq,
            last_seq,
            ..
        } => (first_seq, last_seq),
        other => panic!("expected Joined, got {other:?}"),
    };
    let mut messages = BTreeMap::new();
    let mut expect = first.max(since + 1);
    while expect <= last {
        match frame(client).await {
            ServerFrame::Message { seq, body, .. } => {
                assert!(seq >= expect, "replay out of order: {seq} after {expect}");
                expect = seq + 1;
                messages.insert(seq, body);
                if seq == last {
                    break;
                }
            }
            other => panic!("expected a replayed Message, got {other:?}"),
        }
    }
    ((first, last), messages)
}

fn file_dir(name: &str) -> std::path::PathBuf {
    serve_dir(name, &format!("{LIMITS}[storage]\nkind = \"file\"\n"))
}

#[test]
fn acked_messages_survive_kill_9_with_their_seqs() {
    let dir = file_dir("kill9");
    let mut server = Running::start(&dir);
    let sent: Vec<(u64, String)> = within(async {
        let mut c = server.connect(&dir, "ann", Role::Member).await;
        assert!(matches!(
            join(&mut c, "log", None).await,
            ServerFrame::Joined {
                first_seq: 1,
                last_seq: 0,
                ..
            }
        ));
        let mut sent = Vec::new();
        for i in 0..25 {
            let body = format!("message {i}");
            sent.push((publish_acked(&mut c, i, &body).await, body));
        }
        sent
    });
    assert_eq!(
        sent.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        (1..=25).collect::<Vec<_>>()
    );
    server.kill9();
    let server = Running::start(&dir);
    within(async {
        let mut c = server.connect(&dir, "ann", Role::Member).await;
        let ((first, last), replayed) = replay(&mut c, 0).await;
        assert_eq!((first, last), (1, 25));
        let expected: BTreeMap<u64, Body> = sent.iter().map(|(s, b)| (*s, text(b))).collect();
        assert_eq!(replayed, expected);
        assert_eq!(publish_acked(&mut c, 99, "after").await, 26);
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// A seed that differs from run to run, printed so a failure can be
/// replayed by hand.
fn seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let seed = u64::from(nanos);
    eprintln!("kill seed {seed}");
    seed
}

#[test]
fn a_publisher_killed_mid_stream_loses_no_acked_message_and_no_seq_is_reused() {
    let dir = file_dir("stream");
    let server = Running::start(&dir);
    let pid = server.child.id();
    // Kill after a random number of Acks, with publishes in flight.
    let kill_after = 20 + seed() % 200;
    const IN_FLIGHT: u32 = 8;
    let (acked, seen) = within(async {
        let mut member = server.connect(&dir, "bob", Role::Member).await;
        join(&mut member, "log", None).await;
        let mut publisher = server.connect(&dir, "ann", Role::Member).await;
        join(&mut publisher, "log", None).await;
        let watcher = smol::spawn(async move {
            let mut seen = BTreeMap::new();
            while let Ok(Event::Frame(ServerFrame::Message { seq, body, .. })) = member.recv().await
            {
                assert!(seen.insert(seq, body).is_none(), "seq {seq} twice");
            }
            seen
        });
        let mut bodies = BTreeMap::new();
        let mut acked = BTreeMap::new();
        let mut next = 0u32;
        while next < IN_FLIGHT {
            bodies.insert(next, format!("stream {next}"));
            publish(&mut publisher, next, &bodies[&next]).await;
            next += 1;
        }
        loop {
            match publisher.recv().await {
                Ok(Event::Frame(ServerFrame::Ack { id, seq })) => {
                    acked.insert(seq, text(&bodies[&id]));
                    if acked.len() as u64 == kill_after {
                        common::binary::signal(pid, "KILL");
                    }
                    bodies.insert(next, format!("stream {next}"));
                    if publisher
                        .send(&ClientFrame::Publish {
                            id: next,
                            room: room("log"),
                            body: text(&bodies[&next]),
                        })
                        .await
                        .is_err()
                    {
                        break;
                    }
                    next += 1;
                }
                Ok(Event::Frame(_)) => {}
                Ok(Event::Closed { .. }) | Err(_) => break,
            }
        }
        (acked, watcher.await)
    });
    drop(server);
    assert!(acked.len() as u64 >= kill_after);
    let server = Running::start(&dir);
    within(async {
        let mut c = server.connect(&dir, "carl", Role::Member).await;
        let ((first, last), replayed) = replay(&mut c, 0).await;
        assert_eq!(first, 1);
        for (seq, body) in &acked {
            assert_eq!(
                replayed.get(seq),
                Some(body),
                "acked seq {seq} lost or changed"
            );
        }
        // What the member saw live is exactly what the file kept.
        for (seq, body) in &seen {
            assert_eq!(
                replayed.get(seq),
                Some(body),
                "seen seq {seq} differs on replay"
            );
        }
        assert!(publish_acked(&mut c, 1, "after").await > last);
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn publish_once_retried_across_a_restart_gets_its_first_seq_and_no_message() {
    let dir = file_dir("once");
    let mut server = Running::start(&dir);
    let log = room("log");
    let first = within(async {
        let mut c = server.connect(&dir, "ann", Role::Member).await;
        join(&mut c, "log", None).await;
        c.publish_once(1, 0xfeed, &log, text("exactly once"))
            .await
            .unwrap();
        match frame(&mut c).await {
            ServerFrame::Ack { id: 1, seq } => seq,
            other => panic!("expected Ack, got {other:?}"),
        }
    });
    server.kill9();
    let server = Running::start(&dir);
    within(async {
        let mut c = server.connect(&dir, "ann", Role::Member).await;
        join(&mut c, "log", None).await;
        c.publish_once(2, 0xfeed, &log, text("a retry, other text"))
            .await
            .unwrap();
        assert_eq!(frame(&mut c).await, ServerFrame::Ack { id: 2, seq: first });
        // The next frames are the next publish's: no Message came for the retry.
        publish(&mut c, 3, "next").await;
        assert_eq!(
            frame(&mut c).await,
            ServerFrame::Ack {
                id: 3,
                seq: first + 1
            }
        );
        assert!(matches!(
            frame(&mut c).await,
            ServerFrame::Message { seq, .. } if seq == first + 1
        ));
        // Another user's same key is another publish.
        let mut b = server.connect(&dir, "bob", Role::Member).await;
        join(&mut b, "log", None).await;
        b.publish_once(4, 0xfeed, &log, text("bob's"))
            .await
            .unwrap();
        assert_eq!(
            frame(&mut b).await,
            ServerFrame::Ack {
                id: 4,
                seq: first + 2
            }
        );
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_deleted_seq_stays_deleted_after_kill_9() {
    let dir = file_dir("delete");
    let mut server = Running::start(&dir);
    within(async {
        let mut c = server.connect(&dir, "root", Role::Admin).await;
        join(&mut c, "log", None).await;
        for i in 1..=3 {
            assert_eq!(
                publish_acked(&mut c, i, &format!("m{i}")).await,
                u64::from(i)
            );
        }
        let delete = ClientFrame::Delete {
            id: 9,
            room: room("log"),
            seq: 2,
        };
        c.send(&delete).await.unwrap();
        assert_eq!(
            frame(&mut c).await,
            ServerFrame::Deleted {
                room: room("log"),
                seq: 2
            }
        );
    });
    server.kill9();
    let server = Running::start(&dir);
    within(async {
        let mut c = server.connect(&dir, "root", Role::Admin).await;
        let ((first, last), replayed) = replay(&mut c, 0).await;
        assert_eq!((first, last), (1, 3));
        assert_eq!(replayed.keys().copied().collect::<Vec<_>>(), vec![1, 3]);
        let delete = ClientFrame::Delete {
            id: 10,
            room: room("log"),
            seq: 2,
        };
        c.send(&delete).await.unwrap();
        assert_eq!(next_error(&mut c).await, (Some(10), ErrorCode::NotFound));
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_corrupt_storage_file_stops_start_up_naming_it() {
    let dir = file_dir("corrupt");
    let file = dir.join("palisade.db");
    std::fs::write(&file, vec![0x42; 4096]).unwrap();
    let (mut child, lines) = spawn_serve(&dir);
    let status = wait_exit(&mut child);
    assert_eq!(status.code(), Some(2), "{status:?}");
    // The process has exited: the reader thread ends at EOF.
    let stderr: Vec<String> = lines.iter().collect();
    let last = stderr.last().expect("one line on stderr");
    assert!(last.starts_with("palisade: storage: "), "{stderr:?}");
    assert!(last.contains(&file.display().to_string()), "{last}");
    assert!(last.contains("corrupt"), "{last}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        vec![0x42; 4096],
        "file left alone"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn first_seq(dir: &Path, server: &Running) -> (u64, u64) {
    within(async {
        let mut c = server.connect(dir, "ann", Role::Member).await;
        let joined = match join(&mut c, "log", Some(0)).await {
            ServerFrame::Joined { first_seq, .. } => first_seq,
            other => panic!("expected Joined, got {other:?}"),
        };
        (joined, publish_acked(&mut c, 1, "x").await)
    })
}

#[test]
fn memory_storage_restarts_above_every_earlier_seq() {
    let dir = serve_dir("memory", &format!("{LIMITS}[storage]\nkind = \"memory\"\n"));
    let mut server = Running::start(&dir);
    let (joined, seq) = first_seq(&dir, &server);
    assert_eq!(
        seq, joined,
        "a new room's first Message has Joined.first_seq"
    );
    assert!(seq > 1 << 40, "the clock-derived base: {seq}");
    server.kill9();
    let server = Running::start(&dir);
    let (joined_again, seq_again) = first_seq(&dir, &server);
    // The room retains nothing after the restart; its next seq is above
    // everything the previous run issued, so a client resuming with
    // `since = seq` sees first_seq > since + 1.
    assert!(joined_again > seq + 1, "{joined_again} <= {seq} + 1");
    assert_eq!(seq_again, joined_again);
    let _ = std::fs::remove_dir_all(&dir);
}
