//! Minting tokens, for the CLI and tests: the other end of [`Verifier`].
//!
//! Minting applies the same `sub` and pattern rules as verifying, so we
//! never hand out a token our own server would refuse.
//!
//! [`Verifier`]: super::Verifier

use core::fmt;

use pasetors::version4::PublicToken;
use serde::Serialize;

use super::claims::check_sub;
use super::keys::SecretKey;
use super::pattern::{RoomPattern, MAX_PATTERNS};
use super::time::format_rfc3339;
use crate::protocol::Role;

/// What a minted token should say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The user name (`sub`): 1 to 64 bytes, no control characters.
    pub sub: String,
    /// The role (`role`).
    pub role: Role,
    /// Room patterns (`rooms`): room names, prefixes ending in `*`, or `*`.
    pub rooms: Vec<String>,
    /// How long the token is valid, in seconds; at least 1.
    pub ttl_secs: u64,
    /// The server's audience (`aud`).
    pub audience: String,
    /// The issuer (`iss`), if the server checks one.
    pub issuer: Option<String>,
}

impl TokenRequest {
    /// A request for `sub` with `role`, room patterns `rooms`, valid for
    /// `ttl_secs`, for `audience`, without an issuer (see
    /// [`TokenRequest::with_issuer`]).
    pub fn new<R: Into<String>>(
        sub: impl Into<String>,
        role: Role,
        rooms: impl IntoIterator<Item = R>,
        ttl_secs: u64,
        audience: impl Into<String>,
    ) -> Self {
        Self {
            sub: sub.into(),
            role,
            rooms: rooms.into_iter().map(Into::into).collect(),
            ttl_secs,
            audience: audience.into(),
            issuer: None,
        }
    }

    /// Sets the issuer (`iss`).
    #[must_use]
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }
}

/// Why a token could not be minted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MintError {
    /// `sub` breaks a rule; the phrase says which.
    BadSubject(&'static str),
    /// A room pattern is invalid.
    BadPattern {
        /// Its position in [`TokenRequest::rooms`].
        index: usize,
    },
    /// More room patterns than a token may carry.
    TooManyRooms,
    /// `ttl_secs` is zero, or the expiry is past year 9999.
    BadTtl,
    /// pasetors refused to sign.
    Sign,
}

impl fmt::Display for MintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadSubject(why) => write!(f, "cannot mint token: {why}"),
            Self::BadPattern { index } => {
                write!(f, "cannot mint token: room pattern {index} is invalid")
            }
            Self::TooManyRooms => f.write_str("cannot mint token: too many room patterns"),
            Self::BadTtl => f.write_str("cannot mint token: lifetime is zero or too long"),
            Self::Sign => f.write_str("cannot mint token: signing failed"),
        }
    }
}

impl std::error::Error for MintError {}

/// The payload, in the order PROTOCOL.md lists the claims.
#[derive(Serialize)]
struct Claims<'a> {
    iat: &'a str,
    nbf: &'a str,
    exp: &'a str,
    aud: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    sub: &'a str,
    role: &'a str,
    rooms: &'a [String],
}

#[derive(Serialize)]
struct Footer<'a> {
    kid: &'a str,
}

/// Mints a `v4.public` token valid from `now_unix` for `req.ttl_secs`,
/// with a footer naming `key`'s id so a server with several keys picks the
/// right one.
///
/// # Errors
/// [`MintError`] if the request breaks a claim rule or signing fails.
pub fn mint(key: &SecretKey, req: &TokenRequest, now_unix: u64) -> Result<String, MintError> {
    check_sub(&req.sub).map_err(MintError::BadSubject)?;
    if req.rooms.len() > MAX_PATTERNS {
        return Err(MintError::TooManyRooms);
    }
    for (index, pattern) in req.rooms.iter().enumerate() {
        RoomPattern::parse(pattern).map_err(|_| MintError::BadPattern { index })?;
    }

    if req.ttl_secs == 0 {
        return Err(MintError::BadTtl);
    }
    let now = i64::try_from(now_unix).map_err(|_| MintError::BadTtl)?;
    let ttl = i64::try_from(req.ttl_secs).map_err(|_| MintError::BadTtl)?;
    let exp = now.checked_add(ttl).ok_or(MintError::BadTtl)?;
    let now_text = format_rfc3339(now).ok_or(MintError::BadTtl)?;
    let exp_text = format_rfc3339(exp).ok_or(MintError::BadTtl)?;

    let claims = Claims {
        iat: &now_text,
        nbf: &now_text,
        exp: &exp_text,
        aud: &req.audience,
        iss: req.issuer.as_deref(),
        sub: &req.sub,
        role: req.role.as_str(),
        rooms: &req.rooms,
    };
    let payload = serde_json::to_vec(&claims).map_err(|_| MintError::Sign)?;
    let footer = serde_json::to_vec(&Footer { kid: key.kid() }).map_err(|_| MintError::Sign)?;
    PublicToken::sign(key.pasetors(), &payload, Some(&footer), None).map_err(|_| MintError::Sign)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> TokenRequest {
        TokenRequest::new(
            "alice",
            Role::Member,
            ["lobby", "team-*"],
            3600,
            "chat.example",
        )
    }

    #[test]
    fn refuses_what_the_server_would_refuse() {
        let key = SecretKey::generate().unwrap();
        let now = 1_900_000_000;
        let mut r = request();
        r.sub = "a\nb".into();
        assert_eq!(
            mint(&key, &r, now),
            Err(MintError::BadSubject("sub has control characters"))
        );
        let mut r = request();
        r.rooms = vec!["lobby".into(), "ok-*".into(), "Bad".into()];
        assert_eq!(mint(&key, &r, now), Err(MintError::BadPattern { index: 2 }));
        let mut r = request();
        r.rooms = (0..65).map(|i| format!("r{i}")).collect();
        assert_eq!(mint(&key, &r, now), Err(MintError::TooManyRooms));
        let mut r = request();
        r.ttl_secs = 0;
        assert_eq!(mint(&key, &r, now), Err(MintError::BadTtl));
        let mut r = request();
        r.ttl_secs = u64::MAX;
        assert_eq!(mint(&key, &r, now), Err(MintError::BadTtl));
        assert_eq!(mint(&key, &request(), u64::MAX), Err(MintError::BadTtl));
    }

    #[test]
    fn token_has_the_documented_shape() {
        let key = SecretKey::generate().unwrap();
        let token = mint(&key, &request(), 1_900_000_000).unwrap();
        assert!(token.starts_with("v4.public."));
        let untrusted = pasetors::token::UntrustedToken::<
            pasetors::token::Public,
            pasetors::version4::V4,
        >::try_from(token.as_str())
        .unwrap();
        assert_eq!(
            untrusted.untrusted_footer(),
            format!("{{\"kid\":\"{}\"}}", key.kid()).as_bytes()
        );
        assert_eq!(
            std::str::from_utf8(untrusted.untrusted_payload()).unwrap(),
            "{\"iat\":\"2030-03-17T17:46:40Z\",\"nbf\":\"2030-03-17T17:46:40Z\",\
             \"exp\":\"2030-03-17T18:46:40Z\",\"aud\":\"chat.example\",\"sub\":\"alice\",\
             \"role\":\"member\",\"rooms\":[\"lobby\",\"team-*\"]}"
        );
    }
}
