//! Tokens against an independent PASETO v4 implementation (panva/paseto on
//! Node): palisade's tokens verify there, and tokens minted there, without
//! a footer, are accepted by the server.
//!
//! Needs `npm ci --prefix tests/interop` (CI does it). Without it the tests
//! say so and pass, unless `PALISADE_REQUIRE_EXTERNAL=1` (set in CI) makes
//! the missing tool a failure.

mod common;

use std::process::Command;

use common::*;
use palisade::protocol::{Role, ServerFrame};

fn node(args: &[&str]) -> Option<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop");
    if !std::path::Path::new(dir)
        .join("node_modules/paseto")
        .exists()
    {
        let msg = "tests/interop needs `npm ci --prefix tests/interop` (Node 20)";
        assert!(
            std::env::var_os("PALISADE_REQUIRE_EXTERNAL").is_none(),
            "{msg}"
        );
        eprintln!("skipped: {msg}");
        return None;
    }
    let out = Command::new("node")
        .arg(format!("{dir}/paseto.mjs"))
        .args(args)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap().trim().to_owned())
}

#[test]
fn palisade_tokens_verify_with_another_implementation() {
    let server = TestServer::start();
    let token = server.token("alice", Role::Admin, &["team-*"], 600);
    let public = server.secret.public_key().to_paserk();
    let Some(claims) = node(&["verify", &public, &token]) else {
        return;
    };
    let claims: serde_json::Value = serde_json::from_str(&claims).unwrap();
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["role"], "admin");
    assert_eq!(claims["aud"], AUDIENCE);
    assert_eq!(claims["rooms"], serde_json::json!(["team-*"]));
}

#[test]
fn tokens_from_another_implementation_are_accepted() {
    let server = TestServer::start();
    let exp = palisade::auth::time::format_rfc3339((now() + 600) as i64).unwrap();
    // +00:00 offsets, no nbf, no footer: what other libraries commonly mint.
    let iat = palisade::auth::time::format_rfc3339(now() as i64)
        .unwrap()
        .replace('Z', "+00:00");
    let claims = serde_json::json!({
        "sub": "bob", "aud": AUDIENCE, "exp": exp, "iat": iat,
        "role": "member", "rooms": ["*"], "jti": "x1"
    });
    let secret = server.secret.to_paserk();
    let Some(token) = node(&["sign", &secret, &claims.to_string()]) else {
        return;
    };
    assert!(
        token.starts_with("v4.public.") && token.split('.').count() == 3,
        "{token}"
    );
    within(async {
        let (_client, welcome) = server.connect(&token).await;
        match welcome {
            ServerFrame::Welcome { user, role, .. } => {
                assert_eq!((user.as_str(), role), ("bob", Role::Member))
            }
            other => panic!("{other:?}"),
        }
    });
}
