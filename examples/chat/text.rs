//! How the chat client writes what it receives: text as text, with only the
//! characters a terminal would act on made visible, and plain words for
//! codes and times (no Rust debug output).

use palisade::auth::time::format_rfc3339;
use palisade::protocol::{close, ErrorCode};

/// `text` as it should appear on a terminal: printable characters as they
/// are (quotes, backslashes, any script), a newline as a new line indented
/// under the message, a tab as a tab, and every other control character
/// (ESC, CR, BEL, C1 controls...) as a visible stand-in, so a peer cannot
/// move the cursor, clear the screen or hide text.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\n    "),
            '\t' => out.push('\t'),
            // U+2400.. are the "control pictures" for C0: ␀ ␁ ... ␛ ...
            '\0'..='\x1f' => out.push(char::from_u32(0x2400 + c as u32).unwrap_or('�')),
            '\x7f' => out.push('␡'),
            c if c.is_control() => out.push('�'),
            c => out.push(c),
        }
    }
    out
}

/// Unix seconds as `2026-12-01 21:30 UTC`.
pub fn date(unix_secs: u64) -> String {
    i64::try_from(unix_secs)
        .ok()
        .and_then(format_rfc3339)
        .map_or_else(
            || "an unknown date".to_owned(),
            |s| format!("{} {} UTC", &s[..10], &s[11..16]),
        )
}

/// A duration in words: `3 h 20 min`, `45 s`.
pub fn duration(secs: u64) -> String {
    match secs {
        0..=119 => format!("{secs} s"),
        120..=7199 => format!("{} min", secs / 60),
        7200..=172_799 => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
        _ => format!("{} days", secs / 86_400),
    }
}

/// One sentence for an error code (PROTOCOL.md section 4).
pub fn error_words(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::BadRequest => "the server refused the request as malformed",
        ErrorCode::Forbidden => "your token does not allow that",
        ErrorCode::NotJoined => "you have not joined that room",
        ErrorCode::RateLimited => "you are sending too fast; that message was dropped",
        ErrorCode::TooManyRooms => "you are in as many rooms as allowed",
        ErrorCode::NotFound => "that message is no longer kept",
        ErrorCode::TokenRejected => "the new token was refused; the current one stays in use",
        ErrorCode::Unavailable => {
            "the server could not carry out or confirm that; try again in a moment"
        }
    }
}

/// One sentence for a close code (PROTOCOL.md section 5).
pub fn close_words(code: u16) -> String {
    let words = match code {
        close::NORMAL => "closed normally",
        close::GOING_AWAY => "the server is shutting down",
        close::UNSUPPORTED_DATA => "the server received a text message",
        close::INVALID_FRAME => "the server received an invalid frame",
        close::POLICY => "closed for breaking the rules repeatedly",
        close::TOO_BIG => "a message was larger than the server accepts",
        close::INTERNAL => "the server hit an internal error",
        close::TOKEN_EXPIRED => "your token expired; renew it with /reauth FILE before it does",
        close::REMOVED => "you were removed by an administrator",
        close::TOO_SLOW => "disconnected for reading too slowly",
        close::IDLE => "disconnected after being idle",
        1005 => "the connection closed without a reason",
        _ => return format!("the connection closed with code {code}"),
    };
    format!("{words} (code {code})")
}

/// Whether reconnecting after `code` could work: not after the server
/// ended the session for good (expired, removed, policy) or we closed.
pub fn may_reconnect(code: u16) -> bool {
    !matches!(
        code,
        close::NORMAL | close::POLICY | close::TOKEN_EXPIRED | close::REMOVED
    )
}

/// Lost seqs in words: "3 messages (#5 to #7)", "1 message (#5)".
pub fn lost_words(from: &u64, to: &u64) -> String {
    match to - from {
        0 => format!("1 message (#{from})"),
        n => format!("{} messages (#{from} to #{to})", n + 1),
    }
}
