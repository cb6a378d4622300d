//! Tests for `verify.rs`: every [`TokenError`] reached with a concrete
//! token, and tokens minted the way other libraries mint them.

use serde_json::{json, Value};

use super::*;
use crate::auth::{mint, SecretKey, TokenRequest};
use crate::protocol::{Role, RoomName};

/// 2030-03-17T17:46:40Z.
const NOW: u64 = 1_900_000_000;
const AUD: &str = "chat.example";

fn verifier(keys: &[&SecretKey]) -> Verifier {
    let keys = keys.iter().map(|k| k.public_key().clone()).collect();
    Verifier::new(keys, AUD.into(), None)
}

fn request() -> TokenRequest {
    TokenRequest::new("alice", Role::Member, ["lobby", "team-*"], 3600, AUD)
}

/// Valid claims at [`NOW`], as a JSON object to edit.
fn claims() -> serde_json::Map<String, Value> {
    match json!({
        "sub": "alice",
        "exp": "2030-03-17T18:46:40Z",
        "aud": AUD,
        "role": "member",
        "rooms": ["lobby"],
    }) {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

/// Signs `payload` with pasetors directly, as any PASETO library would.
fn sign(key: &SecretKey, payload: &str, footer: Option<&str>) -> String {
    PublicToken::sign(
        key.pasetors(),
        payload.as_bytes(),
        footer.map(str::as_bytes),
        None,
    )
    .unwrap()
}

fn sign_claims(key: &SecretKey, m: serde_json::Map<String, Value>) -> String {
    sign(key, &Value::Object(m).to_string(), None)
}

fn kid_footer(key: &SecretKey) -> String {
    format!("{{\"kid\":\"{}\"}}", key.kid())
}

#[test]
fn mint_then_verify_round_trip() {
    let key = SecretKey::generate().unwrap();
    let token = mint(&key, &request(), NOW).unwrap();
    let id = verifier(&[&key]).verify(&token, NOW).unwrap();
    assert_eq!(id.user, "alice");
    assert_eq!(id.role, Role::Member);
    assert_eq!(id.expires_at, NOW + 3600);
    assert!(id.may_access(&RoomName::new("lobby").unwrap()));
    assert!(id.may_access(&RoomName::new("team-x").unwrap()));
    assert!(!id.may_access(&RoomName::new("random").unwrap()));
    // Valid until the last second before exp.
    assert!(verifier(&[&key]).verify(&token, NOW + 3599).is_ok());
    assert_eq!(
        verifier(&[&key]).verify(&token, NOW + 3600),
        Err(TokenError::Expired)
    );
}

/// Three fresh keys, as during a rotation.
fn three_keys() -> [SecretKey; 3] {
    [(); 3].map(|()| SecretKey::generate().unwrap())
}

#[test]
fn kid_selects_among_several_keys() {
    let [a, b, c] = three_keys();
    let v = verifier(&[&a, &b, &c]);
    for key in [&a, &b, &c] {
        let id = v.verify(&mint(key, &request(), NOW).unwrap(), NOW).unwrap();
        assert_eq!(&*id.key_id, key.kid());
    }
}

#[test]
fn no_footer_tries_every_key() {
    let [a, b, c] = three_keys();
    let token = sign_claims(&c, claims());
    let id = verifier(&[&a, &b, &c]).verify(&token, NOW).unwrap();
    assert_eq!((id.user.as_str(), &*id.key_id), ("alice", c.kid()));
    assert_eq!(
        verifier(&[&a, &b]).verify(&token, NOW),
        Err(TokenError::BadSignature)
    );
    assert_eq!(
        verifier(&[]).verify(&token, NOW),
        Err(TokenError::BadSignature)
    );
    // A footer without a kid is treated like no footer.
    let token = sign(&c, &Value::Object(claims()).to_string(), Some("{\"v\":1}"));
    assert!(verifier(&[&a, &c]).verify(&token, NOW).is_ok());
}

#[test]
fn token_from_another_library_is_accepted() {
    // What pasetors' own `Claims` writes: `+00:00` offsets, iat and nbf,
    // a jti, extra claims, no footer.
    let key = SecretKey::generate().unwrap();
    let payload = r#"{"iss":"someone","sub":"bob","aud":"chat.example","jti":"0f3c","exp":"2030-03-17T18:46:40+00:00","nbf":"2030-03-17T17:46:40+00:00","iat":"2030-03-17T17:46:40.123456+00:00","role":"admin","rooms":["*"],"extra":{"nested":[1,2]}}"#;
    let token = sign(&key, payload, None);
    let id = verifier(&[&key]).verify(&token, NOW).unwrap();
    assert_eq!(id.user, "bob");
    assert_eq!(id.role, Role::Admin);
    assert_eq!(id.expires_at, NOW + 3600);
    assert!(id.may_access(&RoomName::new("anything").unwrap()));

    // And one with neither iat nor nbf, exp in another zone.
    let payload = r#"{"sub":"carol","aud":"chat.example","exp":"2030-03-17T12:16:41-05:30","role":"observer","rooms":[]}"#;
    let id = verifier(&[&key])
        .verify(&sign(&key, payload, None), NOW)
        .unwrap();
    assert_eq!(id.role, Role::Observer);
    assert_eq!(id.expires_at, NOW + 1);
    assert!(id.rooms.is_empty());
}

#[test]
fn wrong_key_is_a_bad_signature() {
    let (a, b) = (
        SecretKey::generate().unwrap(),
        SecretKey::generate().unwrap(),
    );
    let token = sign_claims(&a, claims());
    assert_eq!(
        verifier(&[&b]).verify(&token, NOW),
        Err(TokenError::BadSignature)
    );
    // Signed by a, but the footer claims b's kid.
    let token = sign(
        &a,
        &Value::Object(claims()).to_string(),
        Some(&kid_footer(&b)),
    );
    assert_eq!(
        verifier(&[&a, &b]).verify(&token, NOW),
        Err(TokenError::BadSignature)
    );
}

#[test]
fn tampered_payload_is_a_bad_signature() {
    let key = SecretKey::generate().unwrap();
    let token = mint(&key, &request(), NOW).unwrap();
    let at = "v4.public.".len() + 20;
    let mut bytes = token.into_bytes();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    assert_eq!(
        verifier(&[&key]).verify(&tampered, NOW),
        Err(TokenError::BadSignature)
    );
}

#[test]
fn unknown_kid_fails_closed() {
    let (a, b) = (
        SecretKey::generate().unwrap(),
        SecretKey::generate().unwrap(),
    );
    let token = mint(&a, &request(), NOW).unwrap();
    // b is configured, but a's kid is not; b is never tried.
    assert_eq!(
        verifier(&[&b]).verify(&token, NOW),
        Err(TokenError::UnknownKey)
    );
    let token = sign(
        &a,
        &Value::Object(claims()).to_string(),
        Some("{\"kid\":\"k4.pid.nope\"}"),
    );
    assert_eq!(
        verifier(&[&a]).verify(&token, NOW),
        Err(TokenError::UnknownKey)
    );
}

#[test]
fn bad_footers_are_malformed() {
    let key = SecretKey::generate().unwrap();
    let payload = Value::Object(claims()).to_string();
    for footer in [
        "not json",
        "{\"kid\":5}",
        "{\"kid\":null}",
        "[\"k4.pid.x\"]",
        "{\"kid\":\"a\",\"kid\":\"b\"}",
        "{\"kid\":\"a\"",
    ] {
        let token = sign(&key, &payload, Some(footer));
        assert_eq!(
            verifier(&[&key]).verify(&token, NOW),
            Err(TokenError::Malformed),
            "{footer}"
        );
    }
}

#[test]
fn not_a_v4_public_token_is_malformed() {
    let key = SecretKey::generate().unwrap();
    let good = mint(&key, &request(), NOW).unwrap();
    let body = good.trim_start_matches("v4.public.");
    for bad in [
        String::new(),
        "v4.public.".into(),
        format!("v4.local.{body}"),
        format!("v2.public.{body}"),
        format!("V4.PUBLIC.{body}"),
        format!("v4.public.{body}.extra"),
        format!("v4.public.{}", "AAAA"),
        "v4.public.!!!!".into(),
        format!("v4.public.{body}")
            .replace('.', "..")
            .replacen("..", ".", 2),
    ] {
        assert_eq!(
            verifier(&[&key]).verify(&bad, NOW),
            Err(TokenError::Malformed),
            "{bad:?}"
        );
    }
}

#[test]
fn length_cap_applies_before_parsing() {
    let key = SecretKey::generate().unwrap();
    let v = verifier(&[&key]);
    // Pad a valid token's claims until it is exactly 4096 and 4097 bytes.
    let mut found = [false; 2];
    for pad in 2850..2950 {
        for note in 0..3 {
            let mut m = claims();
            m.insert("pad".into(), "x".repeat(pad).into());
            let footer = format!("{{\"n\":\"{}\"}}", "y".repeat(note));
            let token = sign(&key, &Value::Object(m).to_string(), Some(&footer));
            if token.len() == MAX_TOKEN_LEN {
                assert!(v.verify(&token, NOW).is_ok());
                found[0] = true;
            } else if token.len() == MAX_TOKEN_LEN + 1 {
                assert_eq!(v.verify(&token, NOW), Err(TokenError::Malformed));
                found[1] = true;
            }
        }
    }
    assert_eq!(found, [true, true]);
    let huge = format!("v4.public.{}", "A".repeat(1 << 20));
    assert_eq!(v.verify(&huge, NOW), Err(TokenError::Malformed));
}

#[test]
fn time_errors() {
    let key = SecretKey::generate().unwrap();
    let v = verifier(&[&key]);
    let token = mint(&key, &request(), NOW).unwrap();
    assert_eq!(v.verify(&token, NOW + 7200), Err(TokenError::Expired));
    // Minted at NOW, so nbf is in the future a second earlier.
    assert_eq!(v.verify(&token, NOW - 1), Err(TokenError::NotYetValid));

    let mut m = claims();
    m.insert("iat".into(), "2030-03-17T17:48:00Z".into()); // 80 s ahead
    assert_eq!(
        v.verify(&sign_claims(&key, m), NOW),
        Err(TokenError::NotYetValid)
    );
}

#[test]
fn audience_and_issuer_errors() {
    let key = SecretKey::generate().unwrap();
    let mut req = request();
    req.audience = "other.example".into();
    let token = mint(&key, &req, NOW).unwrap();
    assert_eq!(
        verifier(&[&key]).verify(&token, NOW),
        Err(TokenError::WrongAudience)
    );

    let with_issuer = Verifier::new(
        vec![key.public_key().clone()],
        AUD.into(),
        Some("palisade-cli".into()),
    );
    let mut req = request();
    req.issuer = Some("mallory".into());
    let token = mint(&key, &req, NOW).unwrap();
    assert_eq!(
        with_issuer.verify(&token, NOW),
        Err(TokenError::WrongIssuer)
    );
    let token = mint(&key, &request(), NOW).unwrap();
    assert_eq!(
        with_issuer.verify(&token, NOW),
        Err(TokenError::WrongIssuer)
    );
}

#[test]
fn each_missing_claim_has_its_reason() {
    let key = SecretKey::generate().unwrap();
    let v = verifier(&[&key]);
    for claim in ["sub", "exp", "aud", "role", "rooms"] {
        let mut m = claims();
        m.remove(claim);
        let err = v.verify(&sign_claims(&key, m), NOW).unwrap_err();
        assert!(matches!(err, TokenError::BadClaims(_)), "{claim}");
        assert_eq!(err.reason(), format!("missing {claim}"));
    }
}

#[test]
fn bad_claim_values() {
    let key = SecretKey::generate().unwrap();
    let v = verifier(&[&key]);
    let cases: [(&str, Value, &str); 6] = [
        ("role", "superuser".into(), "bad role"),
        ("rooms", json!(["lobby", "Bad Room"]), "bad room pattern"),
        ("rooms", json!(["a*b"]), "bad room pattern"),
        (
            "sub",
            "ali\u{1b}[31mce".into(),
            "sub has control characters",
        ),
        ("sub", "a".repeat(65).into(), "sub too long"),
        ("sub", "".into(), "empty sub"),
    ];
    for (claim, value, reason) in cases {
        let mut m = claims();
        m.insert(claim.into(), value);
        assert_eq!(
            v.verify(&sign_claims(&key, m), NOW),
            Err(TokenError::BadClaims(reason)),
            "{claim}"
        );
    }
    let mut m = claims();
    m.insert("sub".into(), "a".repeat(64).into());
    assert!(v.verify(&sign_claims(&key, m), NOW).is_ok());
    let mut m = claims();
    let rooms: Vec<String> = (0..65).map(|i| format!("r{i}")).collect();
    m.insert("rooms".into(), json!(rooms));
    assert_eq!(
        v.verify(&sign_claims(&key, m), NOW),
        Err(TokenError::BadClaims("too many rooms"))
    );
}

#[test]
fn signed_garbage_payloads() {
    let key = SecretKey::generate().unwrap();
    let v = verifier(&[&key]);
    let token = PublicToken::sign(key.pasetors(), &[0xff, 0xfe, b'{'], None, None).unwrap();
    assert_eq!(v.verify(&token, NOW), Err(TokenError::Malformed));
    let token = sign(&key, "[1,2,3]", None);
    assert_eq!(
        v.verify(&token, NOW),
        Err(TokenError::BadClaims("claims not a json object"))
    );
}

#[test]
fn reasons_and_display_never_show_the_token() {
    let key = SecretKey::generate().unwrap();
    let token = mint(&key, &request(), NOW).unwrap();
    let err = verifier(&[&key]).verify(&token, NOW + 9999).unwrap_err();
    assert_eq!(err.reason(), "expired");
    assert_eq!(err.to_string(), "token refused: expired");
    assert_eq!(format!("{err:?}"), "Expired");
    assert_eq!(TokenError::BadSignature.reason(), "bad signature");
    assert_eq!(TokenError::UnknownKey.reason(), "unknown key");
    assert_eq!(TokenError::Malformed.reason(), "malformed token");
    assert_eq!(TokenError::NotYetValid.reason(), "not yet valid");
    assert_eq!(TokenError::WrongAudience.reason(), "wrong audience");
    assert_eq!(TokenError::WrongIssuer.reason(), "wrong issuer");
}
