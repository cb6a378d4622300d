//! Tests for `keys.rs`, kept apart so that file stays about keys.

use super::*;

#[test]
fn generated_keys_round_trip_as_paserk() {
    let sk = SecretKey::generate().unwrap();
    let secret = sk.to_paserk();
    assert!(secret.starts_with("k4.secret."));
    let again = SecretKey::from_paserk(&secret).unwrap();
    assert_eq!(again.kid(), sk.kid());

    let public = sk.public_key().to_paserk();
    assert!(public.starts_with("k4.public."));
    let pk = PublicKey::from_paserk(&public).unwrap();
    assert_eq!(&pk, sk.public_key());
    assert_eq!(pk.kid(), sk.kid());
    assert!(pk.kid().starts_with("k4.pid."));
    assert_eq!(pk.kid().len(), "k4.pid.".len() + 44);

    let other = SecretKey::generate().unwrap();
    assert_ne!(other.kid(), sk.kid());
}

#[test]
fn public_key_rejects_other_strings() {
    let sk = SecretKey::generate().unwrap();
    let public = sk.public_key().to_paserk();
    for bad in [
        String::new(),
        sk.to_paserk(),
        public.replacen("k4.", "k3.", 1),
        public.replacen(".public.", ".secret.", 1),
        format!("{public}A"),
        format!(" {public}"),
        public[..public.len() - 1].to_string(),
        "k4.public.!!!!".to_string(),
        sk.kid().to_string(),
    ] {
        assert_eq!(
            PublicKey::from_paserk(&bad),
            Err(KeyError::NotPublic),
            "{bad:?}"
        );
    }
}

#[test]
fn secret_key_rejects_other_strings_without_panicking() {
    let sk = SecretKey::generate().unwrap();
    let other = SecretKey::generate().unwrap();
    let secret = sk.to_paserk();
    let body = secret.trim_start_matches("k4.secret.");
    let other_body = other.to_paserk();
    let other_body = other_body.trim_start_matches("k4.secret.");
    // Seed of one key with the public half of another.
    let mismatched = format!("k4.secret.{}{}", &body[..43], &other_body[43..]);
    for bad in [
        String::new(),
        sk.public_key().to_paserk(),
        mismatched,
        format!("k4.secret.{}", "A".repeat(86)),
        format!("k4.secret.{}{}", "A".repeat(42), &body[42..]),
        format!("{secret}A"),
    ] {
        assert!(
            matches!(SecretKey::from_paserk(&bad), Err(KeyError::NotSecret)),
            "{bad:?}"
        );
    }
}

#[test]
fn zero_seed_detection_is_exact() {
    assert!(seed_is_zero(&"A".repeat(86)));
    assert!(seed_is_zero(&format!(
        "{}D{}",
        "A".repeat(42),
        "A".repeat(43)
    )));
    // 'E' sets bit 3 of the last seed byte.
    assert!(!seed_is_zero(&format!(
        "{}E{}",
        "A".repeat(42),
        "A".repeat(43)
    )));
    assert!(!seed_is_zero(&format!("B{}", "A".repeat(85))));
    assert!(!seed_is_zero("AAAA"));
}

#[test]
fn debug_never_shows_the_secret() {
    let sk = SecretKey::generate().unwrap();
    let secret = sk.to_paserk();
    let body = secret.trim_start_matches("k4.secret.");
    let shown = format!("{sk:?}");
    assert!(shown.contains(sk.kid()), "{shown}");
    assert!(!shown.contains(body), "{shown}");
    assert!(!shown.contains(&body[..20]), "{shown}");
}
