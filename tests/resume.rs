//! `client::Resume` and `client::Outbox` against a real server: a
//! reconnect resumes a room after the last seq seen and names exactly what
//! the room no longer keeps, and a publish whose Ack the connection took
//! with it is sent again with its key and lands once, across a server
//! restart too (file storage keeps the keys).
#![cfg(feature = "server")]

mod common;

use common::{frame, join_ok, publish_text, room, within, TestServer};
use palisade::client::{Client, Joined, Outbox, Resume, Seen};
use palisade::protocol::{Body, ServerFrame};

/// Sends every frame.
async fn send_all(client: &mut Client, frames: Vec<palisade::protocol::ClientFrame>) {
    for f in frames {
        client.send(&f).await.unwrap();
    }
}

/// The next Joined's (first_seq, last_seq).
async fn joined(client: &mut Client) -> (u64, u64) {
    match frame(client).await {
        ServerFrame::Joined {
            first_seq,
            last_seq,
            ..
        } => (first_seq, last_seq),
        other => panic!("expected Joined, got {other:?}"),
    }
}

/// The next Message's (seq, text).
async fn message(client: &mut Client) -> (u64, String) {
    loop {
        match frame(client).await {
            ServerFrame::Message {
                seq,
                body: Body::Text(t),
                ..
            } => return (seq, t),
            ServerFrame::Ack { .. } => {}
            other => panic!("expected a Message, got {other:?}"),
        }
    }
}

/// Bob joins the lobby live; alice joins it through `resume` (a fresh
/// join, replaying what it keeps). Returns (bob, alice).
async fn both_in_lobby(server: &TestServer, resume: &mut Resume) -> (Client, Client) {
    let lobby = room("lobby");
    let (mut bob, _) = server.connect(&server.member("bob")).await;
    join_ok(&mut bob, "lobby").await;
    let (mut alice, _) = server.connect(&server.member("alice")).await;
    resume.join(lobby.clone(), Some(0));
    send_all(&mut alice, resume.reconnect()).await;
    let (first, last) = joined(&mut alice).await;
    assert_eq!(resume.joined(&lobby, first, last), Joined::Fresh);
    (bob, alice)
}

#[test]
fn a_reconnect_resumes_after_the_last_seen_seq_and_names_the_loss() {
    let server = TestServer::start_with(|c| c.limits.history = 2);
    let lobby = room("lobby");
    let mut resume = Resume::new();
    within(async {
        let (mut bob, mut alice) = both_in_lobby(&server, &mut resume).await;
        publish_text(&mut bob, 1, "lobby", "seen").await;
        let (seen, _) = message(&mut alice).await;
        assert_eq!(resume.message(&lobby, seen), Seen::Next);
        alice.close().await.unwrap();

        // Away: four more, of which the room keeps the last two.
        for id in 2..6 {
            publish_text(&mut bob, id, "lobby", &format!("m{id}")).await;
        }
        let mut last_bob = 0;
        for _ in 0..5 {
            last_bob = message(&mut bob).await.0;
        }
        let (mut alice, _) = server.connect(&server.member("alice")).await;
        send_all(&mut alice, resume.reconnect()).await;
        let (first, last) = joined(&mut alice).await;
        assert_eq!(last, last_bob);
        assert_eq!(first, last - 1, "history = 2");
        assert_eq!(
            resume.joined(&lobby, first, last),
            Joined::Lost(seen + 1..=first - 1)
        );
        // The replay is what the room keeps, without a second report.
        for want in [(first, "m4"), (last, "m5")] {
            let (seq, text) = message(&mut alice).await;
            assert_eq!((seq, text.as_str()), want);
            assert_eq!(resume.message(&lobby, seq), Seen::Next);
        }
        assert_eq!(resume.last_seen(&lobby), Some(last));
    });
}

#[test]
fn a_publish_whose_ack_was_lost_lands_once_after_a_reconnect() {
    let server = TestServer::start();
    let lobby = room("lobby");
    let mut resume = Resume::new();
    let mut outbox = Outbox::new();
    within(async {
        let (mut bob, mut alice) = both_in_lobby(&server, &mut resume).await;
        // Sent, then the connection ends before alice reads the Ack.
        let once = outbox
            .publish(lobby.clone(), Body::Text("once".into()))
            .unwrap();
        alice.send(&once).await.unwrap();
        alice.close().await.unwrap();
        let (seq, text) = message(&mut bob).await;
        assert_eq!(text, "once");

        // The next connection resumes the room, then sends it again.
        let (mut alice, _) = server.connect(&server.member("alice")).await;
        let mut frames = resume.reconnect();
        frames.extend(outbox.resend());
        assert_eq!(frames.last(), Some(&once), "same id and key");
        send_all(&mut alice, frames).await;
        let (first, last) = joined(&mut alice).await;
        assert_eq!(resume.joined(&lobby, first, last), Joined::Resumed);
        // The replay brings the first publish, then its original Ack.
        let (replayed, _) = message(&mut alice).await;
        assert_eq!(replayed, seq);
        let id = match frame(&mut alice).await {
            ServerFrame::Ack { id, seq: acked } => {
                assert_eq!(acked, seq, "the Ack names the first publish's seq");
                id
            }
            other => panic!("expected the Ack, got {other:?}"),
        };
        assert!(outbox.acked(id).is_some());
        assert!(outbox.is_empty());
        // Bob got no second "once": his next Message is the next publish.
        let next = outbox
            .publish(lobby.clone(), Body::Text("next".into()))
            .unwrap();
        alice.send(&next).await.unwrap();
        assert_eq!(message(&mut bob).await, (seq + 1, "next".to_owned()));
    });
}

#[test]
fn a_publish_retried_across_a_restart_gets_its_first_seq() {
    // File storage keeps the keys with the messages, across the restart.
    let mut server = TestServer::start();
    let lobby = room("lobby");
    let mut resume = Resume::new();
    let mut outbox = Outbox::new();
    let (once, seq) = within(async {
        let (mut bob, mut alice) = both_in_lobby(&server, &mut resume).await;
        let once = outbox
            .publish(lobby.clone(), Body::Text("once".into()))
            .unwrap();
        alice.send(&once).await.unwrap();
        // Committed once bob has it; alice never reads her Ack.
        let (seq, _) = message(&mut bob).await;
        drop(alice);
        (once, seq)
    });
    server.restart();
    within(async {
        let (mut alice, _) = server.connect(&server.member("alice")).await;
        let mut frames = resume.reconnect();
        frames.extend(outbox.resend());
        assert_eq!(frames.last(), Some(&once));
        send_all(&mut alice, frames).await;
        let (first, last) = joined(&mut alice).await;
        assert_eq!(resume.joined(&lobby, first, last), Joined::Resumed);
        assert_eq!(message(&mut alice).await.0, seq, "the replay");
        match frame(&mut alice).await {
            ServerFrame::Ack { seq: acked, .. } => assert_eq!(acked, seq),
            other => panic!("expected the first publish's Ack, got {other:?}"),
        }
        // Published once: the next seq goes to the next message.
        let next = outbox
            .publish(lobby.clone(), Body::Text("next".into()))
            .unwrap();
        alice.send(&next).await.unwrap();
        assert_eq!(message(&mut alice).await, (seq + 1, "next".to_owned()));
    });
}
