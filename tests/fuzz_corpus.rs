//! The seed corpora under `fuzz/corpus/`, and the committed corpora run
//! through every fuzz hook (`palisade::fuzzing`) on each `cargo test`.
//!
//! Regenerate the seeds (after a frame or token format change) with
//! `cargo test --test fuzz_corpus write_seed_corpus -- --ignored`.

use std::path::{Path, PathBuf};

use palisade::auth::TokenError;
use palisade::config::Config;
use palisade::fuzzing::{
    client_frame, config, frame_roundtrip, request_head, token, token_fixture, FUZZ_NOW,
    FUZZ_ORIGIN,
};
use palisade::handshake::{self, Route};
use palisade::http;
use palisade::protocol::examples::{self, Frame};
use palisade::protocol::{client_to_vec, server_to_vec};

/// The shared catalogue's frames, named as seed files: `Join since 0`
/// becomes `join-since-0`.
fn frames() -> Vec<(String, Frame)> {
    examples::frames()
        .into_iter()
        .map(|(name, frame)| (slug(name), frame))
        .collect()
}

fn slug(name: &str) -> String {
    let words: Vec<String> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    words.join("-")
}

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn heads(token: &str) -> Vec<(&'static str, Vec<u8>)> {
    let upgrade = |extra: &str| {
        format!(
            "GET /ws HTTP/1.1\r\nHost: chat.example:8443\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
        )
    };
    let subprotocol = format!("Sec-WebSocket-Protocol: palisade.v1, bearer.{token}\r\n");
    let with = |chunk: u8, text: String| [vec![chunk], text.into_bytes()].concat();
    vec![
        ("upgrade-bearer-subprotocol", with(0, upgrade(&subprotocol))),
        (
            "upgrade-authorization-origin",
            with(
                0,
                upgrade(&format!(
                    "Origin: {FUZZ_ORIGIN}\r\nSec-WebSocket-Protocol: palisade.v1\r\n\
                     Authorization: Bearer {token}\r\n"
                )),
            ),
        ),
        ("upgrade-trickled", with(3, upgrade(&subprotocol))),
        (
            "upgrade-pipelined",
            with(0, upgrade(&subprotocol) + "\u{81}\u{80}abcd"),
        ),
        (
            "healthz",
            with(0, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".into()),
        ),
        ("http10", with(1, "GET /ws HTTP/1.0\r\n\r\n".into())),
        (
            "token-in-query",
            with(
                0,
                upgrade("Sec-WebSocket-Protocol: palisade.v1\r\n").replacen(
                    "/ws",
                    "/ws?a=1&%74oken=x",
                    1,
                ),
            ),
        ),
    ]
}

/// `(target, file name, bytes)` for every seed.
fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out = Vec::new();
    for (name, frame) in frames() {
        let (side, bytes) = match frame {
            Frame::Client(f) => ("client", client_to_vec(&f)),
            Frame::Server(f) => ("server", server_to_vec(&f)),
        };
        // The structure-aware target reads its input through `arbitrary`,
        // which has no inverse; real frames' bytes are as good a start as any.
        if side == "client" {
            out.push(("frame_roundtrip", format!("client-{name}"), bytes.clone()));
        }
        out.push(("client_frame", format!("{side}-{name}"), bytes));
    }

    let fixture = token_fixture();
    let valid = &fixture.seeds[0];
    for (name, head) in heads(valid) {
        out.push(("request_head", name.to_owned(), head));
    }

    for (i, token) in fixture.seeds.iter().enumerate() {
        out.push((
            "token",
            format!("raw-{i}"),
            cat(&[b"\x00", token.as_bytes()]),
        ));
    }
    let untrusted = pasetors::token::UntrustedToken::<
        pasetors::token::Public,
        pasetors::version4::V4,
    >::try_from(valid.as_str())
    .unwrap();
    let claims = untrusted.untrusted_payload();
    out.push(("token", "claims".into(), cat(&[b"\x01", claims])));
    out.push(("token", "claims-no-iss".into(), cat(&[b"\x01", br#"{"sub":"x","exp":"2030-01-01T00:00:00Z","aud":"palisade","role":"admin","rooms":["*"]}"#])));
    let kid_footer = format!(r#"{{"kid":"{}"}}"#, fixture.key.kid());
    out.push((
        "token",
        "footer-kid".into(),
        cat(&[b"\x02", kid_footer.as_bytes(), b"\n", claims]),
    ));
    out.push((
        "token",
        "footer-other".into(),
        cat(&[b"\x02", br#"{"kid":null,"x":1}"#, b"\n", claims]),
    ));

    let readme = r#"listen = "0.0.0.0:8443"
allowed_origins = ["https://chat.example"]

[tls]
cert = "server.pem"       # chain, leaf first
key = "server.key"        # PKCS#8, SEC1 or PKCS#1

[auth]
public_keys = ["token.public"]   # several for rotation
audience = "palisade"
# issuer = "https://auth.example"

[limits]
max_message_bytes = 8192
max_body = 4096
"#;
    let full = r#"listen = "[::1]:9443"
allowed_origins = []

[tls]
cert = "/etc/palisade/chain.pem"
key = "key.pem"

[auth]
public_keys = ["a.public", "b.public"]
audience = "chat"
issuer = "https://auth.example"

[limits]
max_message_bytes = 65536
max_body = 60000
max_rooms = 64
publish_per_sec = 100
history = 1000
max_total_rooms = 4096
outbound_queue = 256
handshake_timeout_s = 5
max_connections = 10000
max_connections_per_ip = 100
"#;
    let minimal =
        "[tls]\ncert = \"c\"\nkey = \"k\"\n[auth]\npublic_keys = [\"p\"]\naudience = \"a\"\n";
    for (name, text) in [("readme", readme), ("full", full), ("minimal", minimal)] {
        out.push(("config", name.to_owned(), text.as_bytes().to_vec()));
    }
    out
}

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

fn hook(target: &str) -> fn(&[u8]) {
    match target {
        "client_frame" => client_frame,
        "request_head" => request_head,
        "token" => token,
        "config" => config,
        other => panic!("no byte hook for {other}"),
    }
}

#[test]
#[ignore = "writes fuzz/corpus; run by hand after a format change"]
fn write_seed_corpus() {
    for (target, name, bytes) in seeds() {
        let dir = corpus_dir(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

#[test]
fn seeds_are_what_they_claim() {
    assert_eq!(
        slug("Join since u64::MAX, 32-byte room"),
        "join-since-u64-max-32-byte-room"
    );
    let fixture = token_fixture();
    let ok: Vec<bool> = fixture
        .seeds
        .iter()
        .map(|t| fixture.verifier.verify(t, FUZZ_NOW).is_ok())
        .collect();
    assert_eq!(ok, [true, true, true, false]);
    assert_eq!(
        fixture.verifier.verify(&fixture.seeds[3], FUZZ_NOW),
        Err(TokenError::Expired)
    );
    for (name, head) in heads(&fixture.seeds[0]) {
        let (_, text) = head.split_first().unwrap();
        let head =
            http::parse_head(&text[..text.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4]);
        let route = head.map(|h| handshake::route(&h, &[FUZZ_ORIGIN.to_owned()]));
        let want_upgrade = name.starts_with("upgrade");
        assert_eq!(
            matches!(route, Ok(Route::Upgrade(_))),
            want_upgrade,
            "{name}: {route:?}"
        );
    }
    for (target, name, bytes) in seeds().into_iter().filter(|s| s.0 == "config") {
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(
            Config::from_toml(text, Path::new("/")).is_ok(),
            "{target}/{name}"
        );
    }
}

/// The committed corpora (seeds, and any crash inputs added as regressions)
/// pass every hook, and match what the generator writes today.
#[test]
fn committed_corpus_passes_the_hooks() {
    for target in ["client_frame", "request_head", "token", "config"] {
        let dir = corpus_dir(target);
        let mut files = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            hook(target)(&bytes);
            files += 1;
        }
        assert!(files > 0, "{} is empty", dir.display());
    }
    for (target, name, bytes) in seeds() {
        let on_disk = std::fs::read(corpus_dir(target).join(&name)).unwrap();
        assert!(
            on_disk == bytes,
            "{target}/{name} is stale: run write_seed_corpus"
        );
    }
    let all = frames();
    let clients = all.iter().filter_map(|(_, f)| match f {
        Frame::Client(c) => Some(c),
        Frame::Server(_) => None,
    });
    let servers = all.iter().filter_map(|(_, f)| match f {
        Frame::Server(s) => Some(s),
        Frame::Client(_) => None,
    });
    for (c, s) in clients.zip(servers) {
        frame_roundtrip(c, s);
    }
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}
