//! The claims of a verified token (PROTOCOL.md section 3) and the rules
//! that turn them into an [`Identity`].
//!
//! The payload is parsed into a struct of optional JSON values and each
//! rule is checked by hand, so every refusal says which claim was wrong
//! (the reason goes to the log and the 401 body). Unknown claims, such as
//! `jti`, are ignored, so tokens minted by other PASETO libraries pass.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::pattern::{RoomPatterns, MAX_PATTERNS};
use super::time::parse_rfc3339;
use super::TokenError;
use crate::protocol::{Role, RoomName};

/// The longest `sub`, in bytes.
pub const MAX_SUB_LEN: usize = 64;

/// How far in the future `iat` may be: clocks of minting hosts drift.
pub const MAX_IAT_SKEW_SECS: i64 = 60;

/// Who a verified token speaks for and what it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The `sub` claim: the user name the server stamps on messages.
    pub user: String,
    /// What the user may do in a room.
    pub role: Role,
    /// Which rooms the user may join.
    pub rooms: RoomPatterns,
    /// When the session ends unless renewed (`exp`), in Unix seconds.
    pub expires_at: u64,
    /// The PASERK id (`k4.pid.…`) of the configured key whose signature
    /// made the token valid: a reload that removes that key ends the
    /// sessions it speaks for.
    pub key_id: Arc<str>,
}

impl Identity {
    /// Whether the token allows joining `room`.
    pub fn may_access(&self, room: &RoomName) -> bool {
        self.rooms.allows(room)
    }

    /// This identity if it speaks for `user` (a `Reauth` must not switch
    /// users), else [`TokenError::OtherUser`].
    ///
    /// # Errors
    /// [`TokenError::OtherUser`].
    pub fn same_user(self, user: &str) -> Result<Self, TokenError> {
        if self.user == user {
            Ok(self)
        } else {
            Err(TokenError::OtherUser)
        }
    }
}

/// The claims as found, before any rule is checked. `Value` rather than
/// typed fields, so a claim of the wrong type gets its own reason instead
/// of failing the whole parse.
#[derive(Deserialize)]
struct RawClaims {
    sub: Option<Value>,
    exp: Option<Value>,
    nbf: Option<Value>,
    iat: Option<Value>,
    aud: Option<Value>,
    iss: Option<Value>,
    role: Option<Value>,
    rooms: Option<Value>,
}

/// What the server expects of every token.
pub(crate) struct Expect<'a> {
    pub(crate) audience: &'a str,
    pub(crate) issuer: Option<&'a str>,
    pub(crate) now_unix: u64,
    /// The longest lifetime accepted (`exp - iat`, or `exp - now` without
    /// `iat`), in seconds; `None` accepts any.
    pub(crate) max_lifetime_s: Option<u64>,
    /// The id of the key that verified the signature, for [`Identity::key_id`].
    pub(crate) key_id: Arc<str>,
}

/// Checks a signed payload against the rules, in this order: shape and
/// presence of each claim, then audience and issuer, then time. Time comes
/// last so an old token for the wrong server says "wrong audience", the
/// more useful of the two.
pub(crate) fn check(payload: &str, expect: &Expect<'_>) -> Result<Identity, TokenError> {
    // A struct rather than a map: duplicate claims are an error, not
    // last-one-wins. A JSON array would also fill a struct, so insist on an
    // object first.
    if !payload.trim_start().starts_with('{') {
        return Err(TokenError::BadClaims("claims not a json object"));
    }
    let raw: RawClaims = serde_json::from_str(payload)
        .map_err(|_| TokenError::BadClaims("claims not a json object"))?;

    let user = match raw.sub {
        None => return Err(TokenError::BadClaims("missing sub")),
        Some(Value::String(s)) => s,
        Some(_) => return Err(TokenError::BadClaims("sub not a string")),
    };
    check_sub(&user).map_err(TokenError::BadClaims)?;

    let exp = match raw.exp {
        None => return Err(TokenError::BadClaims("missing exp")),
        Some(v) => time_claim(&v).ok_or(TokenError::BadClaims("bad exp"))?,
    };
    let nbf = match raw.nbf {
        None => None,
        Some(v) => Some(time_claim(&v).ok_or(TokenError::BadClaims("bad nbf"))?),
    };
    let iat = match raw.iat {
        None => None,
        Some(v) => Some(time_claim(&v).ok_or(TokenError::BadClaims("bad iat"))?),
    };

    let role = match raw.role {
        None => return Err(TokenError::BadClaims("missing role")),
        Some(Value::String(s)) => Role::from_claim(&s).ok_or(TokenError::BadClaims("bad role"))?,
        Some(_) => return Err(TokenError::BadClaims("bad role")),
    };

    let rooms = match raw.rooms {
        None => return Err(TokenError::BadClaims("missing rooms")),
        Some(Value::Array(items)) => rooms_claim(&items)?,
        Some(_) => return Err(TokenError::BadClaims("rooms not an array")),
    };

    match raw.aud {
        None => return Err(TokenError::BadClaims("missing aud")),
        Some(Value::String(aud)) if aud == expect.audience => {}
        Some(Value::String(_)) => return Err(TokenError::WrongAudience),
        // Arrays are not accepted: one token, one audience.
        Some(_) => return Err(TokenError::BadClaims("aud not a string")),
    }

    match (expect.issuer, raw.iss) {
        (_, Some(v)) if !v.is_string() => return Err(TokenError::BadClaims("iss not a string")),
        (Some(want), Some(Value::String(iss))) if iss != want => {
            return Err(TokenError::WrongIssuer)
        }
        (Some(_), None) => return Err(TokenError::WrongIssuer),
        _ => {}
    }

    // i128 so no clock value or claim can overflow the comparisons.
    let now = i128::from(expect.now_unix);
    if i128::from(exp) <= now {
        return Err(TokenError::Expired);
    }
    if nbf.is_some_and(|nbf| i128::from(nbf) > now) {
        return Err(TokenError::NotYetValid);
    }
    if iat.is_some_and(|iat| i128::from(iat) > now + i128::from(MAX_IAT_SKEW_SECS)) {
        return Err(TokenError::NotYetValid);
    }
    if let Some(max) = expect.max_lifetime_s {
        let from = iat.map_or(now, i128::from);
        if i128::from(exp) - from > i128::from(max) {
            return Err(TokenError::TooLongLived);
        }
    }
    // exp > now >= 0, so it fits.
    let expires_at = u64::try_from(exp).map_err(|_| TokenError::BadClaims("bad exp"))?;

    Ok(Identity {
        user,
        role,
        rooms,
        expires_at,
        key_id: Arc::clone(&expect.key_id),
    })
}

/// Checks a `sub` value; the reason on failure. Shared with minting, so a
/// server never mints what it would refuse.
pub(crate) fn check_sub(sub: &str) -> Result<(), &'static str> {
    if sub.is_empty() {
        return Err("empty sub");
    }
    if sub.len() > MAX_SUB_LEN {
        return Err("sub too long");
    }
    if sub.chars().any(char::is_control) {
        return Err("sub has control characters");
    }
    if sub.chars().any(is_invisible_format) {
        return Err("sub has bidi or zero-width characters");
    }
    Ok(())
}

/// Bidirectional embeddings and overrides (U+202A–U+202E), isolates
/// (U+2066–U+2069) and zero-width characters and marks (U+200B–U+200F):
/// invisible, yet they reorder or hide what is shown around a user name,
/// so two names that look alike could be two users.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn time_claim(v: &Value) -> Option<i64> {
    v.as_str().and_then(parse_rfc3339)
}

fn rooms_claim(items: &[Value]) -> Result<RoomPatterns, TokenError> {
    if items.len() > MAX_PATTERNS {
        return Err(TokenError::BadClaims("too many rooms"));
    }
    let mut strs = Vec::with_capacity(items.len());
    for item in items {
        strs.push(
            item.as_str()
                .ok_or(TokenError::BadClaims("bad room pattern"))?,
        );
    }
    RoomPatterns::parse(strs).map_err(|_| TokenError::BadClaims("bad room pattern"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_900_000_000; // 2030-03-17T17:46:40Z

    fn expect() -> Expect<'static> {
        Expect {
            audience: "chat.example",
            issuer: None,
            now_unix: NOW,
            max_lifetime_s: None,
            key_id: "k4.pid.test".into(),
        }
    }

    fn base() -> serde_json::Map<String, Value> {
        let v = serde_json::json!({
            "sub": "alice",
            "exp": "2030-03-17T18:46:40Z",
            "aud": "chat.example",
            "role": "member",
            "rooms": ["lobby", "team-*"],
        });
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn run(m: serde_json::Map<String, Value>) -> Result<Identity, TokenError> {
        check(&Value::Object(m).to_string(), &expect())
    }

    #[test]
    fn minimal_claims_pass() {
        let id = run(base()).unwrap();
        assert_eq!(id.user, "alice");
        assert_eq!(id.role, Role::Member);
        assert_eq!(id.expires_at, NOW + 3600);
        assert!(id.may_access(&RoomName::new("team-7").unwrap()));
        assert!(!id.may_access(&RoomName::new("other").unwrap()));
    }

    #[test]
    fn wrong_types_have_their_own_reasons() {
        let cases: [(&str, Value, &str); 9] = [
            ("sub", Value::from(5), "sub not a string"),
            ("exp", Value::from(1_900_003_600u64), "bad exp"),
            ("exp", Value::from("tomorrow"), "bad exp"),
            ("nbf", Value::from("2030-02-30T00:00:00Z"), "bad nbf"),
            ("iat", Value::from(true), "bad iat"),
            ("role", Value::from("owner"), "bad role"),
            ("rooms", Value::from("lobby"), "rooms not an array"),
            ("rooms", serde_json::json!(["lobby", 3]), "bad room pattern"),
            (
                "aud",
                serde_json::json!(["chat.example"]),
                "aud not a string",
            ),
        ];
        for (claim, value, reason) in cases {
            let mut m = base();
            m.insert(claim.into(), value);
            assert_eq!(run(m), Err(TokenError::BadClaims(reason)), "{claim}");
        }
    }

    #[test]
    fn payload_must_be_one_object() {
        for bad in ["[]", "\"x\"", "null", "{", "", "[\"alice\"]"] {
            assert_eq!(
                check(bad, &expect()),
                Err(TokenError::BadClaims("claims not a json object")),
                "{bad:?}"
            );
        }
        let dup = r#"{"sub":"a","sub":"b","exp":"2030-03-17T18:46:40Z","aud":"chat.example","role":"member","rooms":[]}"#;
        assert!(matches!(
            check(dup, &expect()),
            Err(TokenError::BadClaims(_))
        ));
    }

    #[test]
    fn sub_rules() {
        assert_eq!(check_sub(&"é".repeat(32)), Ok(()));
        assert_eq!(check_sub(""), Err("empty sub"));
        assert_eq!(check_sub(&"a".repeat(65)), Err("sub too long"));
        assert_eq!(check_sub("a\u{7f}"), Err("sub has control characters"));
        assert_eq!(check_sub("a\u{85}"), Err("sub has control characters"));
        for c in [
            '\u{200B}', '\u{200F}', '\u{202A}', '\u{202E}', '\u{2066}', '\u{2069}',
        ] {
            assert_eq!(
                check_sub(&format!("ad{c}min")),
                Err("sub has bidi or zero-width characters"),
                "{c:?}"
            );
        }
        assert_eq!(check_sub("a\u{2010}b"), Ok(()));
    }

    #[test]
    fn iat_skew_and_boundaries() {
        let mut m = base();
        m.insert("iat".into(), "2030-03-17T17:47:40Z".into()); // now + 60
        assert!(run(m).is_ok());
        let mut m = base();
        m.insert("iat".into(), "2030-03-17T17:47:41Z".into()); // now + 61
        assert_eq!(run(m), Err(TokenError::NotYetValid));
        let mut m = base();
        m.insert("nbf".into(), "2030-03-17T17:46:40Z".into()); // now
        assert!(run(m).is_ok());
        let mut m = base();
        m.insert("exp".into(), "2030-03-17T17:46:41Z".into()); // now + 1
        assert!(run(m).is_ok());
        let mut m = base();
        m.insert("exp".into(), "2030-03-17T17:46:40Z".into()); // now
        assert_eq!(run(m), Err(TokenError::Expired));
        let mut m = base();
        m.insert("exp".into(), "0000-01-01T00:00:00Z".into());
        assert_eq!(run(m), Err(TokenError::Expired));
    }

    #[test]
    fn lifetime_is_capped_from_iat_or_from_now() {
        let with = |iat: Option<&str>, max| {
            let mut m = base(); // exp = now + 3600
            if let Some(iat) = iat {
                m.insert("iat".into(), iat.into());
            }
            let e = Expect {
                max_lifetime_s: Some(max),
                ..expect()
            };
            check(&Value::Object(m).to_string(), &e)
        };
        assert!(with(None, 3600).is_ok());
        assert_eq!(with(None, 3599), Err(TokenError::TooLongLived));
        // iat an hour ago: a two-hour lifetime.
        assert_eq!(
            with(Some("2030-03-17T16:46:40Z"), 3600),
            Err(TokenError::TooLongLived)
        );
        assert!(with(Some("2030-03-17T16:46:40Z"), 7200).is_ok());
    }

    #[test]
    fn issuer_is_ignored_unless_configured() {
        let mut m = base();
        m.insert("iss".into(), "anyone".into());
        assert!(run(m).is_ok());
        let mut m = base();
        m.insert("iss".into(), Value::from(1));
        assert_eq!(run(m), Err(TokenError::BadClaims("iss not a string")));
    }
}
