//! End-to-end sealed bodies (PROTOCOL.md section 6), with ring.
//!
//! A room's members share a passphrase out of band; each derives the same
//! [`RoomKey`] from it and the room name, and seals what it publishes into a
//! [`Body::Sealed`]. The server only ever relays the sealed bytes. The
//! browser page (`web/seal.js`, WebCrypto) and this module must open each
//! other's messages; `tests/vectors/seal.json` pins that down byte for byte.
//!
//! Wire form: `0x01 || nonce (12 bytes) || AES-256-GCM ciphertext || tag
//! (16 bytes)`, with the associated data `"palisade.v1|" + room + "|" + from`.
//! Binding the room and the sender into the associated data means a relay
//! that moves a message to another room, or stamps another sender on it,
//! makes it fail to open instead of silently misattributing it.
//!
//! ```no_run
//! use palisade::protocol::RoomName;
//! use palisade::seal::RoomKey;
//!
//! let room = RoomName::new("lobby").unwrap();
//! let key = RoomKey::derive("correct horse battery staple", &room);
//! let sealed = key.seal(&room, "alice", b"hello");
//! assert_eq!(key.open(&room, "alice", &sealed).unwrap(), b"hello");
//! ```

use core::fmt;
use core::num::NonZeroU32;
use zeroize::Zeroize;

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use ring::pbkdf2;
use ring::rand::{SecureRandom, SystemRandom};

use crate::protocol::{Body, RoomName};

/// PBKDF2 iterations. The contract fixes the number: every client must derive
/// the same key, so this can only change with a new version byte. 600,000 is
/// OWASP's 2023 figure for PBKDF2-HMAC-SHA256, because a room passphrase is
/// often something people can remember and an offline guess must stay costly.
pub const ITERATIONS: u32 = 600_000;

/// The first byte of every sealed body; anything else is a format this
/// client does not know.
pub const VERSION: u8 = 0x01;

/// Bytes of the random nonce that follows the version byte.
pub const NONCE_LEN: usize = 12;

/// Bytes of the GCM tag at the end.
pub const TAG_LEN: usize = 16;

/// What sealing adds to a plaintext: version byte, nonce and tag. A sealed
/// body shorter than this cannot be genuine.
pub const OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;

/// The PBKDF2 salt is this prefix and the room name, so one passphrase used
/// in two rooms still gives two unrelated keys.
pub const SALT_PREFIX: &str = "palisade.v1.room:";

/// The associated data is this prefix, the room, `|`, and the sender.
pub const AAD_PREFIX: &str = "palisade.v1|";

const ITERATIONS_NZ: NonZeroU32 = match NonZeroU32::new(ITERATIONS) {
    Some(n) => n,
    None => panic!("ITERATIONS must not be zero"),
};

/// Why a sealed body does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealError {
    /// Fewer bytes than version, nonce and tag need ([`OVERHEAD`]).
    TooShort,
    /// A first byte other than [`VERSION`]: sealed by a newer or foreign
    /// client, so there is nothing this one can do with it.
    UnknownVersion(u8),
    /// The tag does not verify: a different passphrase, another room or
    /// sender than the one it was sealed for, or bytes changed on the way.
    /// GCM cannot tell these apart, and saying which would help an attacker.
    Forged,
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort => write!(f, "sealed body shorter than {OVERHEAD} bytes"),
            Self::UnknownVersion(v) => write!(f, "sealed body has unknown version {v:#04x}"),
            Self::Forged => f.write_str("sealed body does not open with this room key"),
        }
    }
}

impl std::error::Error for SealError {}

/// The AES-256-GCM key of one room, derived from the room's passphrase.
///
/// Deriving is deliberately slow (about a second in a debug build): derive
/// once per room and keep the key, not once per message.
pub struct RoomKey {
    key: LessSafeKey,
}

impl fmt::Debug for RoomKey {
    /// Never prints key material: keys end up in logs through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RoomKey(AES-256-GCM, redacted)")
    }
}

impl RoomKey {
    /// Derives the key of `room` from `passphrase`: PBKDF2-HMAC-SHA256,
    /// [`ITERATIONS`] rounds, salt [`SALT_PREFIX`] + room, 32 bytes.
    pub fn derive(passphrase: &str, room: &RoomName) -> RoomKey {
        let mut salt = Vec::with_capacity(SALT_PREFIX.len() + room.as_str().len());
        salt.extend_from_slice(SALT_PREFIX.as_bytes());
        salt.extend_from_slice(room.as_str().as_bytes());
        let mut raw = [0u8; 32];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            ITERATIONS_NZ,
            &salt,
            passphrase.as_bytes(),
            &mut raw,
        );
        let key = Self::from_raw(&raw);
        // The copy inside ring is the one that has to live.
        raw.zeroize();
        key
    }

    fn from_raw(raw: &[u8; 32]) -> RoomKey {
        // A 32-byte slice is exactly what AES-256 takes, so this cannot fail;
        // the match keeps a panic out of the type's contract all the same.
        match UnboundKey::new(&AES_256_GCM, raw) {
            Ok(k) => RoomKey {
                key: LessSafeKey::new(k),
            },
            Err(_) => unreachable!("AES-256-GCM takes a 32-byte key"),
        }
    }

    /// Seals `plaintext` as sent by `from` into `room`, with a fresh random
    /// nonce. Put the result in a [`Body::Sealed`], or use [`Self::seal_text`].
    ///
    /// # Panics
    /// When the operating system's random generator fails. Sealing with a
    /// predictable nonce would break GCM for every message under this key, so
    /// stopping is the only safe answer. Also when `plaintext` is beyond
    /// GCM's limit of about 64 GiB.
    pub fn seal(&self, room: &RoomName, from: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        if SystemRandom::new().fill(&mut nonce).is_err() {
            panic!("the system random generator failed; refusing to seal");
        }
        self.seal_with_nonce(room, from, nonce, plaintext)
    }

    /// [`Self::seal`] with a caller-chosen nonce, for test vectors only: a
    /// nonce used twice under one key reveals the XOR of both plaintexts and
    /// lets an attacker forge messages under that key.
    ///
    /// # Panics
    /// When `plaintext` is beyond GCM's limit of about 64 GiB.
    #[doc(hidden)]
    pub fn seal_with_nonce(
        &self,
        room: &RoomName,
        from: &str,
        nonce: [u8; NONCE_LEN],
        plaintext: &[u8],
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(OVERHEAD + plaintext.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        let mut in_out = plaintext.to_vec();
        let sealed = self.key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(room, from)),
            &mut in_out,
        );
        if sealed.is_err() {
            panic!("plaintext too large for AES-GCM");
        }
        out.extend_from_slice(&in_out);
        out
    }

    /// Seals a line of text into the body to publish.
    ///
    /// # Panics
    /// As [`Self::seal`].
    pub fn seal_text(&self, room: &RoomName, from: &str, text: &str) -> Body {
        Body::Sealed(self.seal(room, from, text.as_bytes()))
    }

    /// Opens a sealed body that `from` published into `room`.
    ///
    /// The plaintext is bytes: a peer with the key may seal anything, so a
    /// caller that wants text must check the UTF-8 itself (and treat bad
    /// UTF-8 as "cannot decrypt", never as a reason to crash).
    ///
    /// # Errors
    /// [`SealError`] says why; show the message as undecryptable rather
    /// than dropping it, so a member with the wrong passphrase notices.
    pub fn open(&self, room: &RoomName, from: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < OVERHEAD {
            return Err(SealError::TooShort);
        }
        let (head, rest) = sealed.split_at(1 + NONCE_LEN);
        let (version, nonce_bytes) = head.split_at(1);
        if version[0] != VERSION {
            return Err(SealError::UnknownVersion(version[0]));
        }
        let nonce =
            Nonce::try_assume_unique_for_key(nonce_bytes).map_err(|_| SealError::TooShort)?;
        let mut in_out = rest.to_vec();
        let plain_len = self
            .key
            .open_in_place(nonce, Aad::from(aad(room, from)), &mut in_out)
            .map_err(|_| SealError::Forged)?
            .len();
        in_out.truncate(plain_len);
        Ok(in_out)
    }
}

/// `"palisade.v1|" + room + "|" + from`: what the tag vouches for besides
/// the ciphertext. The room name cannot contain `|`, so the split between
/// room and sender is unambiguous.
fn aad(room: &RoomName, from: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_PREFIX.len() + room.as_str().len() + 1 + from.len());
    aad.extend_from_slice(AAD_PREFIX.as_bytes());
    aad.extend_from_slice(room.as_str().as_bytes());
    aad.push(b'|');
    aad.extend_from_slice(from.as_bytes());
    aad
}

#[cfg(test)]
#[path = "seal_tests.rs"]
mod tests;
