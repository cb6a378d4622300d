//! Tokens against an independent PASETO v4 implementation (panva/paseto on
//! Node): palisade's tokens verify there, and tokens minted there, without
//! a footer, are accepted by the server.
//!
//! Needs node and `npm ci --prefix tests/interop`, so the tests are
//! `#[ignore]`d: `cargo test -- --include-ignored` runs them (CI does), and
//! then they fail, naming what is missing, if it is.

mod common;

use std::process::Command;

use common::*;
use palisade::protocol::{Role, ServerFrame};

const NEEDS: &str = "needs node and tests/interop/node_modules (npm ci --prefix tests/interop)";

/// `tests/interop/paseto.mjs args...`, its stdout trimmed.
fn node(args: &[&str]) -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop");
    assert!(
        std::path::Path::new(dir)
            .join("node_modules/paseto")
            .exists(),
        "tests/interop {NEEDS}"
    );
    let out = Command::new("node")
        .arg(format!("{dir}/paseto.mjs"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("node does not run ({e}): tests/interop {NEEDS}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
#[ignore = "needs node and tests/interop/node_modules (npm ci --prefix tests/interop)"]
fn palisade_tokens_verify_with_another_implementation() {
    let server = TestServer::start();
    let token = server.token("alice", Role::Admin, &["team-*"], 600);
    let public = server.secret.public_key().to_paserk();
    let claims = node(&["verify", &public, &token]);
    let claims: serde_json::Value = serde_json::from_str(&claims).unwrap();
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["role"], "admin");
    assert_eq!(claims["aud"], AUDIENCE);
    assert_eq!(claims["rooms"], serde_json::json!(["team-*"]));
}

#[test]
#[ignore = "needs node and tests/interop/node_modules (npm ci --prefix tests/interop)"]
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
    let token = node(&["sign", &secret, &claims.to_string()]);
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
