use super::*;

fn room(s: &str) -> RoomName {
    RoomName::new(s).unwrap()
}

fn text(s: &str) -> Body {
    Body::Text(s.into())
}

/// (id, key) of a PublishOnce.
fn id_key(frame: &ClientFrame) -> (u32, u64) {
    match frame {
        ClientFrame::PublishOnce { id, key, .. } => (*id, *key),
        other => panic!("not a PublishOnce: {other:?}"),
    }
}

#[test]
fn a_key_is_kept_until_the_ack_and_resent_unchanged() {
    let mut out = Outbox::new();
    let first = out.publish(room("lobby"), text("one")).unwrap();
    let second = out.publish(room("ops"), text("two")).unwrap();
    let (id1, key1) = id_key(&first);
    let (id2, key2) = id_key(&second);
    assert_ne!(id1, id2);
    assert_ne!(key1, key2, "keys are random, not repeated");
    assert_eq!(out.len(), 2);
    // The connection is lost before any Ack: both go again, same keys.
    let again = out.resend();
    assert_eq!(again, vec![first.clone(), second.clone()]);
    let acked = out.acked(id1).unwrap();
    assert_eq!((acked.key, acked.room), (key1, room("lobby")));
    assert_eq!(out.acked(id1), None, "a second Ack of one id is nothing");
    assert_eq!(out.resend(), vec![second]);
    out.acked(id2);
    assert!(out.is_empty());
    assert_eq!(out.resend(), vec![]);
}

#[test]
fn unavailable_keeps_the_publish_and_other_refusals_drop_it() {
    let mut out = Outbox::new();
    let frame = out.publish(room("lobby"), text("one")).unwrap();
    let (id, key) = id_key(&frame);
    assert_eq!(
        out.refused(id, ErrorCode::Unavailable),
        Refusal::Kept(room("lobby"))
    );
    assert_eq!(out.stalled(), vec![frame.clone()]);
    assert_eq!(out.stalled(), vec![], "sent again once, not on every call");
    match out.refused(id, ErrorCode::Forbidden) {
        Refusal::Dropped(u) => assert_eq!((u.key, u.body), (key, text("one"))),
        other => panic!("{other:?}"),
    }
    assert!(out.is_empty());
    assert_eq!(out.refused(id, ErrorCode::Forbidden), Refusal::Unknown);
}

#[test]
fn ids_skip_zero_and_waiting_publishes_and_the_outbox_is_bounded() {
    let mut out = Outbox::new();
    out.next_id = u32::MAX - 1;
    let (a, _) = id_key(&out.publish(room("lobby"), text("a")).unwrap());
    assert_eq!(a, u32::MAX);
    let (b, _) = id_key(&out.publish(room("lobby"), text("b")).unwrap());
    assert_eq!(b, 1, "0 is skipped");
    // After the wrap, the older one still goes first.
    let order: Vec<u32> = out.resend().iter().map(|f| id_key(f).0).collect();
    assert_eq!(order, vec![u32::MAX, 1]);
    out.next_id = u32::MAX - 1;
    assert_eq!(out.id(), 2, "ids in use are skipped");
    while out.len() < MAX_UNACKED {
        out.publish(room("lobby"), text("x")).unwrap();
    }
    assert_eq!(
        out.publish(room("lobby"), text("one too many")),
        Err(OutboxError::Full)
    );
}
