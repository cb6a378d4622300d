//! Fuzz hooks: the bodies of the `fuzz/` targets (see `fuzz/README.md`).
//!
//! They live in the library (behind the `fuzzing` feature), not in `fuzz/`,
//! so every `cargo test` compiles them against the current API and runs them
//! over the committed seed corpora (`tests/fuzz_corpus.rs`): a hook cannot
//! rot while the fuzz crate, which needs nightly, goes unbuilt. Each
//! `fuzz/fuzz_targets/*.rs` is one line.
//!
//! A hook panics exactly when its target has found a bug: a panic in the
//! code under test, or a broken property asserted here. Not part of the
//! API; hidden from the docs and free to change.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use pasetors::version4::PublicToken;
use smol::io::AsyncRead;

use crate::auth::{
    mint, Identity, SecretKey, TokenError, TokenRequest, Verifier, MAX_PATTERNS, MAX_SUB_LEN,
};
use crate::config::Config;
use crate::handshake::{self, Route};
use crate::http::{self, HeadError, MAX_HEAD_BYTES};
use crate::protocol::{
    client_to_vec, decode_client, decode_server, server_to_vec, ClientFrame, ServerFrame,
};

/// `client_frame`: arbitrary bytes as one client and one server message.
///
/// Whatever decodes must encode to a frame that decodes to itself. The
/// bytes themselves need not come back: postcard accepts overlong varints
/// (`0x80 0x00` for 0, see the codec tests), so an encoding is not unique;
/// the canonical one is never longer, and encoding is a fixed point.
pub fn client_frame(data: &[u8]) {
    if let Ok(frame) = decode_client(data) {
        let bytes = client_to_vec(&frame);
        assert!(bytes.len() <= data.len(), "re-encoding grew: {frame:?}");
        assert_eq!(decode_client(&bytes), Ok(frame));
    }
    if let Ok(frame) = decode_server(data) {
        let bytes = server_to_vec(&frame);
        assert!(bytes.len() <= data.len(), "re-encoding grew: {frame:?}");
        assert_eq!(decode_server(&bytes), Ok(frame));
    }
}

/// `frame_roundtrip`: every frame the types can hold encodes and decodes to
/// itself.
pub fn frame_roundtrip(client: &ClientFrame, server: &ServerFrame) {
    assert_eq!(decode_client(&client_to_vec(client)).as_ref(), Ok(client));
    assert_eq!(decode_server(&server_to_vec(server)).as_ref(), Ok(server));
}

/// The allowlist `request_head` routes with.
pub const FUZZ_ORIGIN: &str = "https://chat.example";

/// `request_head`: the server's path from bytes to a [`Route`]:
/// [`http::read_head`] over an in-memory reader, then [`handshake::route`].
///
/// The first byte picks how the reader hands out the rest: `0` all it can
/// (a `Cursor`), `n` at most `n` bytes per read, so a terminator split
/// between reads is exercised too. `read_head` must agree with
/// [`http::parse_head`] on the bytes up to the first CRLF CRLF, and must
/// never hold more than [`MAX_HEAD_BYTES`] (head and leftover together).
pub fn request_head(data: &[u8]) {
    let Some((&chunk, input)) = data.split_first() else {
        return;
    };
    let read = smol::block_on(async {
        match chunk {
            0 => http::read_head(&mut smol::io::Cursor::new(input)).await,
            n => {
                let mut reader = Trickle {
                    rest: input,
                    chunk: usize::from(n),
                };
                http::read_head(&mut reader).await
            }
        }
    });
    let end = input
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| at + 4);
    let head = match (read, end) {
        (Ok((head, leftover)), Some(end)) => {
            assert!(
                end + leftover.len() <= MAX_HEAD_BYTES,
                "buffered past the cap"
            );
            assert_eq!(input.get(end..end + leftover.len()), Some(&leftover[..]));
            assert_eq!(
                input.get(..end).map(http::parse_head),
                Some(Ok(head.clone()))
            );
            head
        }
        (Ok(_), None) => panic!("a head without CRLF CRLF"),
        (Err(HeadError::Eof), end) => {
            assert!(input.len() < MAX_HEAD_BYTES && end.is_none());
            return;
        }
        (Err(HeadError::TooLarge), end) => {
            assert!(input.len() >= MAX_HEAD_BYTES && end.is_none_or(|e| e > MAX_HEAD_BYTES));
            return;
        }
        (Err(e), end) => {
            let end = end.filter(|&e| e <= MAX_HEAD_BYTES);
            assert_eq!(
                end.and_then(|e| input.get(..e)).map(http::parse_head),
                Some(Err(e))
            );
            return;
        }
    };
    match handshake::route(&head, &[FUZZ_ORIGIN.to_owned()]) {
        Route::Upgrade(up) => {
            assert!(!up.token.is_empty() && !up.token.contains([' ', '\t']));
            assert_eq!(up.accept.len(), 28);
            assert!(up.origin.is_none_or(|o| o == FUZZ_ORIGIN));
            assert_eq!(head.method, "GET");
            assert_eq!(head.path(), handshake::WS_PATH);
        }
        Route::Health => assert_eq!(head.path(), handshake::HEALTH_PATH),
        Route::Page(asset) => {
            assert_eq!(head.method, "GET");
            assert_eq!(head.path(), asset.path);
        }
        Route::Refused(r) => assert!(matches!(r.status, 400 | 401 | 403 | 404)),
    }
}

/// A reader that hands out at most `chunk` bytes per read, like a peer
/// trickling its head.
struct Trickle<'a> {
    rest: &'a [u8],
    chunk: usize,
}

impl AsyncRead for Trickle<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let n = self.chunk.min(buf.len()).min(self.rest.len());
        let (now, later) = self.rest.split_at(n);
        if let Some(dst) = buf.get_mut(..n) {
            dst.copy_from_slice(now);
        }
        self.rest = later;
        Poll::Ready(Ok(n))
    }
}

/// The fixed key of the `token` target. Public on purpose: it signs
/// nothing but fuzz inputs; no server may trust it.
pub const FUZZ_SECRET_KEY: &str = "k4.secret.5KIGZDLyCb2sh7I_eU4Q-A4YHKJ13FR8Bgd-LaRHNItOyyFRPMn0_GSJdbt_Yg1xDRmAof4QtxJCuQwi8tXSAQ";

/// The clock of the `token` target, Unix seconds (2027-01-15).
pub const FUZZ_NOW: u64 = 1_800_000_000;

/// The audience the `token` target's verifier expects.
pub const FUZZ_AUDIENCE: &str = "palisade";
/// The issuer the `token` target's verifier expects.
pub const FUZZ_ISSUER: &str = "https://auth.example";

/// The `token` target's fixed key, its verifier and the tokens it signed;
/// public for the seed generator in `tests/fuzz_corpus.rs`.
#[derive(Debug)]
pub struct TokenFixture {
    /// The fuzz key ([`FUZZ_SECRET_KEY`]).
    pub key: SecretKey,
    /// Trusts only the fuzz key, for [`FUZZ_AUDIENCE`] and [`FUZZ_ISSUER`].
    pub verifier: Verifier,
    /// Every token the raw path may accept: those minted here.
    pub seeds: Vec<String>,
}

/// The fixture, built once.
pub fn token_fixture() -> &'static TokenFixture {
    static FIXTURE: OnceLock<TokenFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let key = SecretKey::from_paserk(FUZZ_SECRET_KEY).expect("the fuzz key parses");
        let verifier = Verifier::new(
            vec![key.public_key().clone()],
            FUZZ_AUDIENCE.to_owned(),
            Some(FUZZ_ISSUER.to_owned()),
        );
        let seeds = seed_tokens(&key);
        TokenFixture {
            key,
            verifier,
            seeds,
        }
    })
}

/// Tokens signed by the fuzz key (Ed25519 is deterministic, so these are
/// the same bytes every run): valid ones of each role, and an expired one.
fn seed_tokens(key: &SecretKey) -> Vec<String> {
    use crate::protocol::Role;
    let request = |sub: &str, role, rooms: &[&str], ttl_secs| {
        TokenRequest::new(sub, role, rooms.iter().copied(), ttl_secs, FUZZ_AUDIENCE)
            .with_issuer(FUZZ_ISSUER)
    };
    let minted = [
        (
            request("alice", Role::Member, &["lobby"], 3600),
            FUZZ_NOW - 10,
        ),
        (
            request("bob", Role::Observer, &["team-*", "news"], 600),
            FUZZ_NOW,
        ),
        (request("root", Role::Admin, &["*"], 86_400), FUZZ_NOW - 60),
        (request("old", Role::Member, &["a"], 60), FUZZ_NOW - 3600),
    ];
    minted
        .iter()
        .map(|(req, at)| mint(key, req, *at).expect("the seed requests are valid"))
        .collect()
}

/// `token`: strings into [`Verifier::verify`] with the fixed key.
///
/// The first byte picks the path (modulo 3), the rest is UTF-8:
/// - `0`: the rest is a token. Only a token minted by [`seed_tokens`] may
///   verify: the fuzzer cannot sign, so any other success is a forgery or
///   a malleable encoding.
/// - `1`: the rest is a claims payload, signed here with the key's `kid`
///   footer, so the claim rules see every input past the signature.
/// - `2`: `footer LF claims`, both signed here: the footer's `kid` rules.
///   A success means the footer has no `kid` or names our key.
pub fn token(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let fixture = token_fixture();
    match mode % 3 {
        0 => {
            if let Ok(identity) = fixture.verifier.verify(text, FUZZ_NOW) {
                assert!(
                    fixture.seeds.iter().any(|s| s == text),
                    "a token the fuzz key never signed verified: {text:?}"
                );
                check_identity(&identity);
            }
        }
        1 => {
            let footer = format!(r#"{{"kid":"{}"}}"#, fixture.key.kid());
            if let Ok(identity) = sign_and_verify(fixture, rest, footer.as_bytes()) {
                check_identity(&identity);
            }
        }
        _ => {
            let (footer, claims) = text.split_once('\n').unwrap_or((text, ""));
            if let Ok(identity) = sign_and_verify(fixture, claims.as_bytes(), footer.as_bytes()) {
                let kid =
                    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(footer)
                        .ok()
                        .and_then(|mut f| f.remove("kid"));
                assert!(
                    footer.is_empty()
                        || kid.is_none()
                        || kid.as_ref().and_then(|k| k.as_str()) == Some(fixture.key.kid()),
                    "footer {footer:?} named another key and still verified"
                );
                check_identity(&identity);
            }
        }
    }
}

fn sign_and_verify(
    fixture: &TokenFixture,
    claims: &[u8],
    footer: &[u8],
) -> Result<Identity, TokenError> {
    let footer = (!footer.is_empty()).then_some(footer);
    match PublicToken::sign(fixture.key.pasetors(), claims, footer, None) {
        Ok(token) => fixture.verifier.verify(&token, FUZZ_NOW),
        // An empty payload: nothing to verify.
        Err(_) => Err(TokenError::Malformed),
    }
}

/// What every [`Identity`] promises the rest of the server.
fn check_identity(identity: &Identity) {
    let user = &identity.user;
    assert!(
        !user.is_empty() && user.len() <= MAX_SUB_LEN,
        "sub {user:?}"
    );
    assert!(!user.chars().any(char::is_control), "sub {user:?}");
    assert!(identity.expires_at > FUZZ_NOW);
    assert!(identity.rooms.len() <= MAX_PATTERNS);
}

/// `config`: TOML text into [`Config::from_toml`]; errors, never panics,
/// and a configuration it returns passes its own validation.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = Config::from_toml(text, Path::new("/etc/palisade")) {
        assert_eq!(config.validate(), Ok(()));
    }
}
