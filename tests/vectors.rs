//! The shared test vectors: one source of truth for every codec.
//!
//! `tests/vectors/frames.json` and `tests/vectors/seal.json` are what the
//! browser page's tests (`node --test web/test/`) check `web/codec.js` and
//! `web/seal.js` against. This test builds every vector from the Rust types,
//! so the files can only say what the Rust code does; it fails when a
//! committed file differs from what the code produces now.
//!
//! ```text
//! PALISADE_WRITE_VECTORS=1 cargo test --test vectors   # regenerate
//! ```
//!
//! The JSON shape is written by hand (no `Serialize` on the frame types for
//! JSON): u64 values are decimal strings because JavaScript numbers lose
//! precision above 2^53, byte strings are lowercase hex, and every enum is an
//! object with a `type` field.
#![cfg(feature = "server")]

mod vectors_support;

use std::path::PathBuf;

use palisade::protocol::{
    client_to_vec, decode_client, decode_server, server_to_vec, DecodeError, RoomName,
};
use palisade::seal::RoomKey;
use serde_json::{json, Value};

use vectors_support::{client_json, frames, hex, invalid, lenient, server_json, Frame};

const WRITE_ENV: &str = "PALISADE_WRITE_VECTORS";

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

/// Compares `doc` with the committed file, or rewrites the file when
/// `PALISADE_WRITE_VECTORS=1`. Exact text comparison: the JS tests read the
/// file, so a stale file would test the browser against yesterday's Rust.
fn check_or_write(file: &str, doc: &Value) {
    let path = vectors_dir().join(file);
    let text = render(doc);
    if std::env::var(WRITE_ENV).as_deref() == Ok("1") {
        std::fs::create_dir_all(vectors_dir()).expect("create tests/vectors");
        std::fs::write(&path, &text).expect("write vectors");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with {WRITE_ENV}=1 to create it",
            path.display()
        )
    });
    assert!(
        committed == text,
        "{} differs from what the Rust code produces; \
         rerun with {WRITE_ENV}=1 and review the diff",
        path.display()
    );
}

/// One vector per line: short files, and a diff shows exactly which vectors
/// changed. Top-level keys come out sorted (serde_json's default map).
fn render(doc: &Value) -> String {
    let compact = |v: &Value| serde_json::to_string(v).expect("JSON values always serialize");
    let Value::Object(fields) = doc else {
        return compact(doc) + "\n";
    };
    let mut out = String::from("{\n");
    for (i, (key, value)) in fields.iter().enumerate() {
        out += &format!("  {}: ", compact(&Value::String(key.clone())));
        match value {
            Value::Array(items) if !items.is_empty() => {
                out += "[\n";
                for (j, item) in items.iter().enumerate() {
                    let comma = if j + 1 < items.len() { "," } else { "" };
                    out += &format!("    {}{comma}\n", compact(item));
                }
                out += "  ]";
            }
            other => out += &compact(other),
        }
        out += if i + 1 < fields.len() { ",\n" } else { "\n" };
    }
    out + "}\n"
}

fn error_name(e: DecodeError) -> &'static str {
    match e {
        DecodeError::Empty => "Empty",
        DecodeError::Truncated => "Truncated",
        DecodeError::Malformed => "Malformed",
        DecodeError::TrailingBytes { .. } => "TrailingBytes",
    }
}

#[test]
fn frames_json_matches_the_rust_codec() {
    let mut valid = Vec::new();
    for (name, frame) in frames() {
        let (direction, json, bytes) = match &frame {
            Frame::Client(f) => {
                let bytes = client_to_vec(f);
                assert_eq!(decode_client(&bytes).as_ref(), Ok(f), "{name}");
                ("client", client_json(f), bytes)
            }
            Frame::Server(f) => {
                let bytes = server_to_vec(f);
                assert_eq!(decode_server(&bytes).as_ref(), Ok(f), "{name}");
                ("server", server_json(f), bytes)
            }
        };
        valid.push(json!({
            "name": name,
            "direction": direction,
            "frame": json,
            "hex": hex(&bytes),
        }));
    }

    let mut decode_only = Vec::new();
    for (name, bytes, frame) in lenient() {
        let (direction, json, canonical) = match &frame {
            Frame::Client(f) => {
                assert_eq!(decode_client(&bytes).as_ref(), Ok(f), "{name}");
                ("client", client_json(f), client_to_vec(f))
            }
            Frame::Server(f) => {
                assert_eq!(decode_server(&bytes).as_ref(), Ok(f), "{name}");
                ("server", server_json(f), server_to_vec(f))
            }
        };
        assert_ne!(bytes, canonical, "{name} must not be the canonical form");
        decode_only.push(json!({
            "name": name,
            "direction": direction,
            "hex": hex(&bytes),
            "frame": json,
            "canonical_hex": hex(&canonical),
        }));
    }

    let mut refused = Vec::new();
    for v in invalid() {
        let got = if v.server {
            decode_server(&v.bytes).map(|_| ())
        } else {
            decode_client(&v.bytes).map(|_| ())
        };
        let err = match got {
            Err(e) => e,
            Ok(()) => panic!("{}: decoded, but must be refused", v.name),
        };
        assert_eq!(error_name(err), v.error, "{}", v.name);
        refused.push(json!({
            "name": v.name,
            "direction": if v.server { "server" } else { "client" },
            "hex": hex(&v.bytes),
            "error": v.error,
            "reason": v.reason,
        }));
    }

    let doc = json!({
        "about": "palisade.v1 frames (PROTOCOL.md section 4), generated by \
                  tests/vectors.rs; do not edit by hand. u64 values are decimal \
                  strings, bytes are hex. `frames`: decode hex to frame and \
                  encode frame to hex. `decode_only`: non-canonical encodings \
                  postcard accepts; they decode to frame and re-encode to \
                  canonical_hex. `invalid`: every decoder must refuse them, \
                  with the given error kind.",
        "frames": valid,
        "decode_only": decode_only,
        "invalid": refused,
    });
    check_or_write("frames.json", &doc);
}

struct SealCase {
    name: &'static str,
    passphrase: &'static str,
    room: &'static str,
    from: &'static str,
    nonce: [u8; 12],
    plaintext: &'static str,
}

const SEAL_CASES: &[SealCase] = &[
    SealCase {
        name: "ascii hello in lobby",
        passphrase: "correct horse battery staple",
        room: "lobby",
        from: "alice",
        nonce: [0; 12],
        plaintext: "hello",
    },
    SealCase {
        name: "unicode passphrase, sender and text, 32-byte room",
        passphrase: "pässwörd 🔑 with spaces",
        room: "team-0123456789.abcdefghij_klmno",
        from: "Zoë 🦀",
        nonce: [
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
        ],
        plaintext: "multi-line\n\tunicode: ☃ <img src=x onerror=alert(1)>",
    },
    SealCase {
        name: "empty plaintext is only version, nonce and tag",
        passphrase: "x",
        room: "0",
        from: "b",
        nonce: [0xff; 12],
        plaintext: "",
    },
];

#[test]
fn seal_json_matches_the_rust_sealer() {
    let mut entries = Vec::new();
    for c in SEAL_CASES {
        let room = RoomName::new(c.room).expect("vector room names are valid");
        let key = RoomKey::derive(c.passphrase, &room);
        let sealed = key.seal_with_nonce(&room, c.from, c.nonce, c.plaintext.as_bytes());
        assert_eq!(
            key.open(&room, c.from, &sealed).as_deref(),
            Ok(c.plaintext.as_bytes()),
            "{}",
            c.name
        );
        entries.push(json!({
            "name": c.name,
            "passphrase": c.passphrase,
            "room": c.room,
            "from": c.from,
            "nonce": hex(&c.nonce),
            "plaintext": c.plaintext,
            "sealed": hex(&sealed),
        }));
    }
    let doc = json!({
        "about": "palisade.v1 sealed bodies (PROTOCOL.md section 6), generated by \
                  tests/vectors.rs with ring; do not edit by hand. Key: \
                  PBKDF2-HMAC-SHA256, 600000 iterations, salt \
                  \"palisade.v1.room:\" + room, 32 bytes. sealed = 01 || nonce \
                  || AES-256-GCM(plaintext) || tag, AAD \"palisade.v1|\" + room \
                  + \"|\" + from.",
        "iterations": palisade::seal::ITERATIONS,
        "entries": entries,
    });
    check_or_write("seal.json", &doc);
}
