//! The crypto floor of one accepted palisade session, for `BENCHMARKS.md`:
//!
//! ```text
//! (cd benches/tools && cargo run --release --bin cryptofloor)
//! ```
//!
//! A full TLS 1.3 handshake costs the server at least one ephemeral X25519
//! key pair and agreement (ECDHE) and one ECDSA P-256 signature (the
//! certificate key type `certgen` makes); the token costs one Ed25519
//! verification (PASETO v4.public, through pasetors as the server does).
//! Each is timed here on one thread with the same crates the server uses,
//! and their sum is the floor that the handshake benchmark divides by.
//! Prints one JSON line; times are µs per operation.

use std::hint::black_box;
use std::time::Duration;

use pasetors::keys::{AsymmetricKeyPair, Generate};
use pasetors::token::UntrustedToken;
use pasetors::version4::{PublicToken, V4};
use ring::agreement::{self, EphemeralPrivateKey, UnparsedPublicKey, X25519};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};

/// This process's CPU time (user + system, all threads), from
/// `/proc/self/stat` in clock ticks of 10 ms. The handshake benchmark
/// divides the server's CPU time by this floor, so both are CPU time: wall
/// time would count whatever else the shared machine runs meanwhile.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let mut fields = after.split_whitespace().skip(11);
    let utime: u64 = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    let stime: u64 = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    Duration::from_millis((utime + stime) * 10)
}

/// Runs `op` for at least `min` of CPU time after a warm-up and returns µs
/// of CPU per call (at 10 ms ticks, within 1 % from a `min` of 1 s).
fn time(min: Duration, mut op: impl FnMut()) -> f64 {
    for _ in 0..50 {
        op();
    }
    let (start, mut n) = (cpu_time(), 0u64);
    while cpu_time() - start < min {
        for _ in 0..50 {
            op();
        }
        n += 50;
    }
    (cpu_time() - start).as_secs_f64() * 1e6 / n as f64
}

fn main() {
    let min = Duration::from_millis(
        std::env::args()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000),
    );
    let rng = SystemRandom::new();

    // ECDHE: the server's ephemeral key, its public half, the agreement.
    let peer = EphemeralPrivateKey::generate(&X25519, &rng).expect("x25519 key");
    let peer_public = peer.compute_public_key().expect("public key");
    let peer_public = UnparsedPublicKey::new(&X25519, peer_public.as_ref().to_vec());
    let x25519 = time(min, || {
        let ours = EphemeralPrivateKey::generate(&X25519, &rng).expect("x25519 key");
        black_box(ours.compute_public_key().expect("public key"));
        agreement::agree_ephemeral(ours, &peer_public, |secret| {
            black_box(secret.len());
        })
        .expect("agreement");
    });

    // CertificateVerify: an ECDSA P-256 signature over the transcript
    // context (64 spaces, the context string, a SHA-256 hash).
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("key");
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
        .expect("key");
    black_box(key.public_key());
    let transcript = [0x20u8; 130];
    let ecdsa = time(min, || {
        black_box(key.sign(&rng, &transcript).expect("sign"));
    });

    // The token: parse and verify a v4.public token like `mint` makes.
    let pair = AsymmetricKeyPair::<V4>::generate().expect("ed25519 key");
    let claims = br#"{"iat":"2030-03-17T17:46:40Z","nbf":"2030-03-17T17:46:40Z","exp":"2030-03-17T18:46:40Z","aud":"palisade","sub":"bench","role":"member","rooms":["*"]}"#;
    let footer = br#"{"kid":"k4.pid.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#;
    let token = PublicToken::sign(&pair.secret, claims, Some(footer), None).expect("sign");
    let ed25519 = time(min, || {
        let untrusted =
            UntrustedToken::<pasetors::token::Public, V4>::try_from(token.as_str()).expect("token");
        black_box(PublicToken::verify(&pair.public, &untrusted, None, None).expect("verify"));
    });

    let floor = x25519 + ecdsa + ed25519;
    println!(
        "{{\"x25519_us\":{x25519:.1},\"ecdsa_p256_sign_us\":{ecdsa:.1},\"ed25519_verify_us\":{ed25519:.1},\"floor_us\":{floor:.1}}}"
    );
}
