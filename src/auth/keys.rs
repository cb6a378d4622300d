//! Ed25519 keys as PASERK strings (PROTOCOL.md section 3).
//!
//! The server holds only [`PublicKey`]s; whoever mints tokens holds the
//! [`SecretKey`]. Each key carries its PASERK id (`k4.pid.…`), which is what
//! a token's footer names to pick the key during rotation.
//!
//! Nothing here prints key material: errors say only what kind of key was
//! expected, and `SecretKey`'s `Debug` shows only the public id.

use core::fmt;
use std::sync::Arc;
use zeroize::Zeroize;

use pasetors::keys::{AsymmetricPublicKey, AsymmetricSecretKey};
use pasetors::paserk::{FormatAsPaserk, Id};
use pasetors::version4::V4;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair};

/// Why a string is not a key, or a key could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// Not a `k4.public.…` PASERK of 32 bytes.
    NotPublic,
    /// Not a `k4.secret.…` PASERK whose second half is the public key of
    /// its first half.
    NotSecret,
    /// The operating system's random generator failed.
    Random,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotPublic => "not a k4.public PASERK key",
            Self::NotSecret => "not a k4.secret PASERK key",
            Self::Random => "the system random generator failed",
        })
    }
}

impl std::error::Error for KeyError {}

/// An Ed25519 public key that verifies `v4.public` tokens.
#[derive(Clone)]
pub struct PublicKey {
    key: AsymmetricPublicKey<V4>,
    /// Shared, so each verified token's [`Identity::key_id`] is a reference
    /// count, not a copy.
    ///
    /// [`Identity::key_id`]: super::Identity::key_id
    kid: Arc<str>,
}

impl PublicKey {
    /// Parses a `k4.public.…` PASERK string (no surrounding whitespace).
    ///
    /// # Errors
    /// [`KeyError::NotPublic`] for anything else, including other versions
    /// and secret keys pasted by mistake.
    pub fn from_paserk(s: &str) -> Result<Self, KeyError> {
        let key = AsymmetricPublicKey::<V4>::try_from(s).map_err(|_| KeyError::NotPublic)?;
        Ok(Self::from_key(key))
    }

    fn from_key(key: AsymmetricPublicKey<V4>) -> Self {
        let kid = paserk_string(&Id::from(&key)).into();
        Self { key, kid }
    }

    /// The key as a `k4.public.…` PASERK string.
    pub fn to_paserk(&self) -> String {
        paserk_string(&self.key)
    }

    /// The key's PASERK id, `k4.pid.…`: what a token footer's `kid` names.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// [`kid`](Self::kid), shared.
    pub(crate) fn kid_shared(&self) -> &Arc<str> {
        &self.kid
    }

    pub(crate) fn pasetors(&self) -> &AsymmetricPublicKey<V4> {
        &self.key
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.kid == other.kid
    }
}

impl Eq for PublicKey {}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey").field("kid", &self.kid).finish()
    }
}

/// An Ed25519 secret key that mints tokens. Its bytes are zeroed on drop
/// (by pasetors) and never appear in `Debug` output.
#[derive(Clone)]
pub struct SecretKey {
    key: AsymmetricSecretKey<V4>,
    public: PublicKey,
}

impl SecretKey {
    /// Makes a new key from 32 bytes of the operating system's randomness.
    ///
    /// We derive the key with ring rather than pasetors' own generator,
    /// because that one panics when the random source fails; this way the
    /// failure is an error the CLI can print.
    ///
    /// # Errors
    /// [`KeyError::Random`] if the random generator fails.
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        SystemRandom::new()
            .fill(&mut seed)
            .map_err(|_| KeyError::Random)?;
        let made = Self::from_seed(&seed);
        seed.zeroize();
        made
    }

    fn from_seed(seed: &[u8; 32]) -> Result<Self, KeyError> {
        // An all-zero seed makes the Ed25519 code pasetors uses panic.
        if seed.iter().all(|&b| b == 0) {
            return Err(KeyError::Random);
        }
        let pair = Ed25519KeyPair::from_seed_unchecked(seed).map_err(|_| KeyError::Random)?;
        let mut bytes = [0u8; 64];
        let (seed_half, public_half) = bytes.split_at_mut(32);
        seed_half.copy_from_slice(seed);
        public_half.copy_from_slice(pair.public_key().as_ref());
        let key = AsymmetricSecretKey::<V4>::from(&bytes).map_err(|_| KeyError::Random);
        bytes.zeroize();
        Self::from_key(key?).map_err(|_| KeyError::Random)
    }

    fn from_key(key: AsymmetricSecretKey<V4>) -> Result<Self, KeyError> {
        let public = AsymmetricPublicKey::<V4>::try_from(&key).map_err(|_| KeyError::NotSecret)?;
        Ok(Self {
            key,
            public: PublicKey::from_key(public),
        })
    }

    /// Parses a `k4.secret.…` PASERK string (no surrounding whitespace).
    ///
    /// # Errors
    /// [`KeyError::NotSecret`] for anything else, including a key whose
    /// public half does not belong to its seed.
    pub fn from_paserk(s: &str) -> Result<Self, KeyError> {
        // pasetors checks the key by deriving its public half, and the
        // Ed25519 code beneath panics on an all-zero seed; refuse it first.
        if s.strip_prefix("k4.secret.").is_some_and(seed_is_zero) {
            return Err(KeyError::NotSecret);
        }
        let key = AsymmetricSecretKey::<V4>::try_from(s).map_err(|_| KeyError::NotSecret)?;
        Self::from_key(key)
    }

    /// The key as a `k4.secret.…` PASERK string. This is the secret itself:
    /// write it only to a file only its owner can read.
    pub fn to_paserk(&self) -> String {
        paserk_string(&self.key)
    }

    /// The matching public key, for the server's configuration.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The PASERK id of the public key (`k4.pid.…`), which minted tokens put
    /// in their footer.
    pub fn kid(&self) -> &str {
        self.public.kid()
    }

    pub(crate) fn pasetors(&self) -> &AsymmetricSecretKey<V4> {
        &self.key
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("kid", &self.kid())
            .finish_non_exhaustive()
    }
}

/// Whether the base64url body of a `k4.secret` PASERK starts with 32 zero
/// bytes. Those are the first 256 bits: 42 characters of 6 zero bits (`A`)
/// and the top 4 bits of the 43rd, which are zero for `A` to `D`.
fn seed_is_zero(body: &str) -> bool {
    let b = body.as_bytes();
    b.get(..42).is_some_and(|s| s.iter().all(|&c| c == b'A'))
        && matches!(b.get(42), Some(b'A'..=b'D'))
}

fn paserk_string(item: &dyn FormatAsPaserk) -> String {
    let mut s = String::new();
    // Writing to a String cannot fail; pasetors' own base64 of a key it
    // accepted cannot either.
    let _ = item.fmt(&mut s);
    s
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
