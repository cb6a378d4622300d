use super::*;
use smol::future::poll_once;

fn frame(n: u8) -> Bytes {
    Bytes::from(vec![n])
}

#[test]
fn a_full_queue_evicts_and_keeps_what_it_holds() {
    let (out, inbox) = outbox(1, 2);
    assert_eq!(out.push(frame(1)), Ok(()));
    assert_eq!(out.push(frame(2)), Ok(()));
    assert_eq!(out.push(frame(3)), Err(Evicted));
    // A replay may pass the limit.
    out.push_replay(frame(4));
    let got: Vec<u8> = std::iter::from_fn(|| inbox.frames.try_recv().ok())
        .map(|q| q.bytes[0])
        .collect();
    assert_eq!(got, [1, 2, 4]);
}

#[test]
fn the_first_close_wins_and_comes_before_frames() {
    let (out, inbox) = outbox(1, 8);
    assert_eq!(out.push(frame(1)), Ok(()));
    out.close(Close::TooSlow);
    out.close(Close::GoingAway);
    assert!(matches!(
        smol::block_on(inbox.next()),
        Mail::Close(Close::TooSlow)
    ));
    assert_eq!(inbox.control.try_recv(), Ok(Close::TooSlow));
    // The frame is still there for a shutdown's drain.
    assert!(inbox.frames.try_recv().is_ok());
}

#[test]
fn a_push_wakes_the_waiting_session() {
    let (out, inbox) = outbox(1, 8);
    let pusher = std::thread::spawn(move || {
        let _ = out.push(frame(7));
        out
    });
    let mail = smol::block_on(inbox.next());
    assert!(matches!(mail, Mail::Frames));
    assert_eq!(inbox.frames.try_recv().unwrap().bytes[..], [7]);
    drop(pusher.join());
}

#[test]
fn a_gone_session_drops_pushes() {
    let (out, inbox) = outbox(1, 1);
    drop(inbox);
    assert_eq!(out.push(frame(1)), Ok(()));
    assert_eq!(out.push(frame(2)), Ok(()));
}

#[test]
fn presence_events_wait_beside_the_limit_up_to_their_slack() {
    let (outbox, inbox) = outbox(1, 2);
    let notice = Bytes::from_static(b"joined");
    for _ in 0..3 {
        assert_eq!(outbox.push_notice(&notice, 3), Ok(()));
    }
    // The queue's own two frames still fit, and a third does not.
    assert_eq!(outbox.push(Bytes::from_static(b"m1")), Ok(()));
    assert_eq!(outbox.push(Bytes::from_static(b"m2")), Ok(()));
    assert_eq!(outbox.push(Bytes::from_static(b"m3")), Err(Evicted));
    // Writing a notice (dropping it) makes room for another.
    let first = inbox.frames.try_recv().unwrap();
    assert_eq!(&first.bytes[..], b"joined");
    drop(first);
    assert_eq!(outbox.push_notice(&notice, 3), Ok(()));
    // Past the slack the member is too slow.
    assert_eq!(outbox.push_notice(&notice, 3), Err(Evicted));
    assert!(std::mem::size_of::<Notice>() <= 48);
}

#[test]
fn a_drained_burst_gives_its_block_back() {
    let (out, inbox) = outbox(1, 64);
    for n in 0..64 {
        assert_eq!(out.push(frame(n)), Ok(()));
    }
    while inbox.frames.try_recv().is_ok() {}
    assert_eq!(out.mailbox.state().frames.capacity(), 0);
}

#[test]
fn a_queue_past_its_mark_presses_until_taken_below_it() {
    let backlog = Arc::default();
    let (out, inbox) = outbox_in(1, 4, &backlog);
    assert_eq!(out.deliver(frame(1), None), Ok(false));
    assert_eq!(out.deliver(frame(2), None), Ok(true));
    assert_eq!(out.deliver(frame(3), None), Ok(true));
    // Counted once, however many pushes find it pressed.
    assert_eq!(backlog.pressed(), 1);
    let mut cleared = std::pin::pin!(inbox.backlog_cleared());
    assert!(smol::block_on(poll_once(&mut cleared)).is_none());
    let _ = inbox.frames.try_recv();
    assert_eq!(backlog.pressed(), 1);
    let _ = inbox.frames.try_recv();
    assert_eq!(backlog.pressed(), 0);
    assert!(smol::block_on(poll_once(&mut cleared)).is_some());
}

#[test]
fn a_task_away_from_its_queue_never_presses_and_a_full_queue_evicts() {
    let backlog = Arc::default();
    let (out, inbox) = outbox_in(1, 4, &backlog);
    assert_eq!(out.deliver(frame(1), None), Ok(false));
    assert_eq!(out.deliver(frame(2), None), Ok(true));
    // Its write waits on a peer that does not read: nobody waits for it.
    inbox.frames.set_away(true);
    assert_eq!(backlog.pressed(), 0);
    assert_eq!(out.deliver(frame(3), None), Ok(false));
    assert_eq!(out.deliver(frame(4), None), Ok(false));
    assert_eq!(out.deliver(frame(5), None), Err(Evicted));
    assert_eq!(backlog.pressed(), 0);
}

#[test]
fn a_closing_or_gone_session_unpresses_its_queue() {
    let backlog = Arc::default();
    let (out, inbox) = outbox_in(1, 2, &backlog);
    assert_eq!(out.deliver(frame(1), None), Ok(true));
    out.close(Close::Removed);
    assert_eq!(backlog.pressed(), 0);
    let (out, inbox2) = outbox_in(2, 2, &backlog);
    assert_eq!(out.deliver(frame(1), None), Ok(true));
    drop(inbox2);
    assert_eq!(backlog.pressed(), 0);
    drop(inbox);
    // Presence events, replays and host subscriptions never press.
    let (out, _inbox) = outbox_in(3, 2, &backlog);
    out.push_replay(frame(1));
    out.push_replay(frame(2));
    assert_eq!(out.push_notice(&frame(3), 4), Ok(()));
    assert_eq!(backlog.pressed(), 0);
    let (host, _host_in) = host_outbox(4, 2, Arc::default());
    assert_eq!(host.deliver(frame(1), None), Ok(false));
}

#[test]
fn a_publisher_is_held_once_per_hold() {
    let (publisher, inbox) = outbox(1, 8);
    assert!(!inbox.take_hold());
    publisher.hold();
    assert!(inbox.take_hold());
    assert!(!inbox.take_hold());
}

#[test]
fn a_batch_takes_frames_oldest_first_until_told_to_stop_or_full() {
    let backlog = Arc::default();
    let (out, inbox) = outbox_in(1, 8, &backlog);
    for n in 0..6 {
        let _ = out.deliver(frame(n), None).unwrap();
    }
    assert_eq!(backlog.pressed(), 1);
    let mut seen = 0;
    let first: heapless::Vec<Queued, 8> = inbox.frames.take_batch(|_| {
        seen += 1;
        seen < 3
    });
    // The frame it stopped at is taken too; the rest wait, below the mark.
    let bytes = |b: &[Queued]| b.iter().map(|q| q.bytes[0]).collect::<Vec<_>>();
    assert_eq!(bytes(&first), [0, 1, 2]);
    assert_eq!(backlog.pressed(), 0);
    let second: heapless::Vec<Queued, 2> = inbox.frames.take_batch(|_| true);
    assert_eq!(bytes(&second), [3, 4]);
    let rest: heapless::Vec<Queued, 8> = inbox.frames.take_batch(|_| true);
    assert_eq!(bytes(&rest), [5]);
    assert!(inbox.frames.take_batch::<8>(|_| true).is_empty());
    assert_eq!(out.mailbox.state().frames.capacity(), 0);
}
