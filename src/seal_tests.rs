//! Unit tests of the room key: round trips, every way opening must fail,
//! and a key that never shows up in `Debug`.

use std::sync::OnceLock;

use super::*;

fn room(s: &str) -> RoomName {
    RoomName::new(s).unwrap()
}

/// Deriving costs 600,000 PBKDF2 rounds, so each test key is derived once.
fn lobby_key() -> &'static RoomKey {
    static KEY: OnceLock<RoomKey> = OnceLock::new();
    KEY.get_or_init(|| RoomKey::derive("correct horse", &room("lobby")))
}

fn other_passphrase_key() -> &'static RoomKey {
    static KEY: OnceLock<RoomKey> = OnceLock::new();
    KEY.get_or_init(|| RoomKey::derive("correct horse!", &room("lobby")))
}

fn other_room_key() -> &'static RoomKey {
    static KEY: OnceLock<RoomKey> = OnceLock::new();
    KEY.get_or_init(|| RoomKey::derive("correct horse", &room("lobby2")))
}

#[test]
fn the_contract_constants() {
    assert_eq!(ITERATIONS, 600_000);
    assert_eq!(OVERHEAD, 29);
    assert_eq!(aad(&room("a-b"), "alice"), b"palisade.v1|a-b|alice");
}

#[test]
fn seal_then_open_round_trips_and_has_the_wire_shape() {
    let key = lobby_key();
    let lobby = room("lobby");
    let nonce = [7u8; NONCE_LEN];
    let sealed = key.seal_with_nonce(&lobby, "alice", nonce, b"hello");
    assert_eq!(sealed.len(), OVERHEAD + 5);
    assert_eq!(sealed[0], VERSION);
    assert_eq!(sealed[1..13], nonce);
    assert_ne!(&sealed[13..18], b"hello");
    assert_eq!(key.open(&lobby, "alice", &sealed).unwrap(), b"hello");
}

#[test]
fn empty_plaintext_is_exactly_the_overhead() {
    let lobby = room("lobby");
    let sealed = lobby_key().seal(&lobby, "alice", b"");
    assert_eq!(sealed.len(), OVERHEAD);
    assert_eq!(lobby_key().open(&lobby, "alice", &sealed).unwrap(), b"");
}

#[test]
fn random_nonces_differ() {
    let lobby = room("lobby");
    let a = lobby_key().seal(&lobby, "alice", b"same");
    let b = lobby_key().seal(&lobby, "alice", b"same");
    assert_ne!(a[1..13], b[1..13]);
    assert_ne!(a, b);
}

#[test]
fn seal_text_gives_a_sealed_body() {
    let lobby = room("lobby");
    let Body::Sealed(bytes) = lobby_key().seal_text(&lobby, "bob", "héllo") else {
        panic!("seal_text must give Body::Sealed");
    };
    assert_eq!(
        lobby_key().open(&lobby, "bob", &bytes).unwrap(),
        "héllo".as_bytes()
    );
}

#[test]
fn another_room_sender_or_passphrase_is_forged() {
    let lobby = room("lobby");
    let sealed = lobby_key().seal(&lobby, "alice", b"secret");
    // Moved to another room by a relay (same key, other AAD).
    assert_eq!(
        lobby_key().open(&room("lobby2"), "alice", &sealed),
        Err(SealError::Forged)
    );
    // Attributed to another sender.
    assert_eq!(
        lobby_key().open(&lobby, "mallory", &sealed),
        Err(SealError::Forged)
    );
    // A member with another passphrase.
    assert_eq!(
        other_passphrase_key().open(&lobby, "alice", &sealed),
        Err(SealError::Forged)
    );
    // The same passphrase in another room gives another key.
    assert_eq!(
        other_room_key().open(&lobby, "alice", &sealed),
        Err(SealError::Forged)
    );
}

#[test]
fn every_changed_byte_is_forged() {
    let lobby = room("lobby");
    let sealed = lobby_key().seal(&lobby, "alice", b"abc");
    for i in 1..sealed.len() {
        let mut bad = sealed.clone();
        bad[i] ^= 0x01;
        assert_eq!(
            lobby_key().open(&lobby, "alice", &bad),
            Err(SealError::Forged),
            "byte {i}"
        );
    }
}

#[test]
fn short_and_unknown_versions_are_refused() {
    let lobby = room("lobby");
    for len in 0..OVERHEAD {
        assert_eq!(
            lobby_key().open(&lobby, "alice", &vec![VERSION; len]),
            Err(SealError::TooShort),
            "length {len}"
        );
    }
    let mut sealed = lobby_key().seal(&lobby, "alice", b"x");
    sealed[0] = 0x02;
    assert_eq!(
        lobby_key().open(&lobby, "alice", &sealed),
        Err(SealError::UnknownVersion(2))
    );
    assert_eq!(
        SealError::UnknownVersion(2).to_string(),
        "sealed body has unknown version 0x02"
    );
}

#[test]
fn debug_never_shows_the_key() {
    let mut raw = [0u8; 32];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        ITERATIONS_NZ,
        b"palisade.v1.room:lobby",
        b"correct horse",
        &mut raw,
    );
    let shown = format!("{:?} {:#?}", lobby_key(), lobby_key());
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    assert!(!shown.contains(&hex[..8]), "{shown}");
    assert_eq!(
        format!("{:?}", lobby_key()),
        "RoomKey(AES-256-GCM, redacted)"
    );
    // And the independently derived key really is the one in use.
    let direct = RoomKey::from_raw(&raw);
    let lobby = room("lobby");
    let sealed = direct.seal(&lobby, "alice", b"same key");
    assert_eq!(
        lobby_key().open(&lobby, "alice", &sealed).unwrap(),
        b"same key"
    );
}
