//! Token verification: from the string a client sent to an [`Identity`].
//!
//! The order matters for safety: the length cap comes before any parsing,
//! the signature before any claim is read, and a footer that names a key we
//! do not have fails closed instead of falling back to the other keys.

use core::fmt;

use pasetors::token::{Public, TrustedToken, UntrustedToken};
use pasetors::version4::{PublicToken, V4};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::claims::{self, Expect, Identity};
use super::keys::PublicKey;

/// The longest token accepted, in bytes; longer ones are refused unread.
pub const MAX_TOKEN_LEN: usize = 4096;

/// Why a token was refused. None of them ever shows the token itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// Too long, not `v4.public.`, bad base64, or a footer that is not the
    /// JSON object we expect.
    Malformed,
    /// The footer names a key (`kid`) that is not configured.
    UnknownKey,
    /// No configured key made the signature valid.
    BadSignature,
    /// `exp` is now or in the past.
    Expired,
    /// `nbf` is in the future, or `iat` more than a minute ahead.
    NotYetValid,
    /// `aud` is not the configured audience.
    WrongAudience,
    /// An issuer is configured and `iss` is missing or another one.
    WrongIssuer,
    /// A claim is missing or breaks its rule; the phrase says which.
    BadClaims(&'static str),
    /// `exp - iat` (or `exp - now` without `iat`) exceeds the configured
    /// `auth.max_token_lifetime_s`.
    TooLongLived,
    /// `sub` is the server's own `device_name`: such a token would speak
    /// as the host application.
    ReservedUser,
    /// A `Reauth` token for another `sub` than the session's.
    OtherUser,
}

impl TokenError {
    /// A short lowercase phrase for logs, such as `"expired"` or
    /// `"missing exp"`. Never sent to the peer: see [`public_reason`].
    ///
    /// [`public_reason`]: TokenError::public_reason
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Malformed => "malformed token",
            Self::UnknownKey => "unknown key",
            Self::BadSignature => "bad signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not yet valid",
            Self::WrongAudience => "wrong audience",
            Self::WrongIssuer => "wrong issuer",
            Self::BadClaims(reason) => reason,
            Self::TooLongLived => "token lifetime too long",
            Self::ReservedUser => "reserved user name",
            Self::OtherUser => "token is for another user",
        }
    }

    /// What the peer is told: the 401 body and `TokenRejected`'s detail.
    ///
    /// Signature, key, time and claim failures all read `"invalid token"`,
    /// so an answer never says whether a stolen token is genuine, expired
    /// or someone else's. Only the two policy refusals name themselves:
    /// they concern tokens our issuer signed on purpose, and whoever minted
    /// them must learn what to change.
    pub fn public_reason(&self) -> &'static str {
        match self {
            Self::TooLongLived | Self::ReservedUser => self.reason(),
            _ => "invalid token",
        }
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "token refused: {}", self.reason())
    }
}

impl std::error::Error for TokenError {}

/// The footer we understand. Other keys are ignored, for footers written
/// by other tools. `kid` is kept as a raw value so that `"kid": null` or a
/// number is refused rather than read as "no kid" (which would try every
/// key instead of failing closed).
#[derive(Deserialize)]
struct Footer {
    #[serde(default, deserialize_with = "present")]
    kid: Option<Value>,
}

/// Marks a field as present whatever its value, even `null`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// Checks tokens against the configured public keys, audience and issuer.
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: Vec<PublicKey>,
    audience: String,
    issuer: Option<String>,
    max_lifetime_s: Option<u64>,
    reserved_sub: Option<String>,
}

impl Verifier {
    /// A verifier that accepts tokens signed by any of `keys` (several during
    /// a rotation) for `audience`, and, if given, from `issuer` only.
    pub fn new(keys: Vec<PublicKey>, audience: String, issuer: Option<String>) -> Self {
        Self {
            keys,
            audience,
            issuer,
            max_lifetime_s: None,
            reserved_sub: None,
        }
    }

    /// Also refuses tokens living longer than `max_s` seconds
    /// ([`TokenError::TooLongLived`]).
    #[must_use]
    pub fn with_max_lifetime(mut self, max_s: Option<u64>) -> Self {
        self.max_lifetime_s = max_s;
        self
    }

    /// Also refuses tokens whose `sub` is `name` ([`TokenError::ReservedUser`]).
    #[must_use]
    pub fn with_reserved_sub(mut self, name: String) -> Self {
        self.reserved_sub = Some(name);
        self
    }

    /// The configured keys.
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// Verifies `token` at time `now_unix` (Unix seconds) and returns whom
    /// it speaks for.
    ///
    /// # Errors
    /// [`TokenError`] says why the token was refused.
    pub fn verify(&self, token: &str, now_unix: u64) -> Result<Identity, TokenError> {
        if token.len() > MAX_TOKEN_LEN || !token.starts_with(PublicToken::HEADER) {
            return Err(TokenError::Malformed);
        }
        let untrusted =
            UntrustedToken::<Public, V4>::try_from(token).map_err(|_| TokenError::Malformed)?;

        let (key, trusted) = match footer_kid(untrusted.untrusted_footer())? {
            Some(kid) => {
                let key = self
                    .keys
                    .iter()
                    .find(|k| k.kid() == kid)
                    .ok_or(TokenError::UnknownKey)?;
                (key, check_signature(key, &untrusted)?)
            }
            None => self
                .keys
                .iter()
                .map(|k| check_signature(k, &untrusted).map(|t| (k, t)))
                .find(|r| !matches!(r, Err(TokenError::BadSignature)))
                .unwrap_or(Err(TokenError::BadSignature))?,
        };

        let identity = claims::check(
            trusted.payload(),
            &Expect {
                audience: &self.audience,
                issuer: self.issuer.as_deref(),
                now_unix,
                max_lifetime_s: self.max_lifetime_s,
                key_id: std::sync::Arc::clone(key.kid_shared()),
            },
        )?;
        if self.reserved_sub.as_deref() == Some(identity.user.as_str()) {
            return Err(TokenError::ReservedUser);
        }
        Ok(identity)
    }
}

/// Checks the signature with one key. A payload that is signed but not
/// UTF-8 is `Malformed`: the signature was fine, the content is not.
fn check_signature(
    key: &PublicKey,
    untrusted: &UntrustedToken<Public, V4>,
) -> Result<TrustedToken, TokenError> {
    PublicToken::verify(key.pasetors(), untrusted, None, None).map_err(|e| match e {
        pasetors::errors::Error::PayloadInvalidUtf8 => TokenError::Malformed,
        _ => TokenError::BadSignature,
    })
}

/// The `kid` a footer names, if any. An empty footer is no footer.
fn footer_kid(footer: &[u8]) -> Result<Option<String>, TokenError> {
    if footer.is_empty() {
        return Ok(None);
    }
    // A derived struct also accepts a JSON array; the footer must be an
    // object.
    if footer.trim_ascii_start().first() != Some(&b'{') {
        return Err(TokenError::Malformed);
    }
    let parsed: Footer = serde_json::from_slice(footer).map_err(|_| TokenError::Malformed)?;
    match parsed.kid {
        None => Ok(None),
        Some(Value::String(kid)) => Ok(Some(kid)),
        Some(_) => Err(TokenError::Malformed),
    }
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
