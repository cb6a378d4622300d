//! WebSocket close codes (PROTOCOL.md section 5): the numbers, and
//! [`Close`], each way a session ends with the code and reason it sends.

/// Normal close.
pub const NORMAL: u16 = 1000;
/// The server is shutting down.
pub const GOING_AWAY: u16 = 1001;
/// The WebSocket layer saw a protocol error (RFC 6455).
pub const PROTOCOL_ERROR: u16 = 1002;
/// A text message was received.
pub const UNSUPPORTED_DATA: u16 = 1003;
/// No code was sent: what a client reports for a close frame without one
/// (RFC 6455 section 7.1.5); never sent on the wire.
pub const NO_STATUS: u16 = 1005;
/// A binary message that is not exactly one valid frame.
pub const INVALID_FRAME: u16 = 1007;
/// Repeated policy violations.
pub const POLICY: u16 = 1008;
/// A message larger than the server's maximum.
pub const TOO_BIG: u16 = 1009;
/// Internal error.
pub const INTERNAL: u16 = 1011;
/// The token expired and was not renewed, or its key was revoked.
pub const TOKEN_EXPIRED: u16 = 4001;
/// Removed by an administrator or banned.
pub const REMOVED: u16 = 4003;
/// Too slow: the outbound queue stayed full.
pub const TOO_SLOW: u16 = 4009;
/// Idle timeout.
pub const IDLE: u16 = 4010;

/// One way a connection closes: a code and the reason sent with it. Several
/// variants share a code (section 5 names the code; the reason says which
/// rule was broken).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Close {
    /// 1000, a normal close.
    Normal,
    /// 1001, the server is shutting down.
    GoingAway,
    /// 1002, the WebSocket layer saw a protocol error.
    ProtocolError,
    /// 1003, a text message was received.
    TextMessage,
    /// 1005, the peer's close frame had no code (a client's view).
    NoStatus,
    /// 1007, a binary message that is not exactly one valid frame.
    InvalidFrame,
    /// 1007, invalid UTF-8 where the WebSocket layer needs text.
    InvalidUtf8,
    /// 1008, repeated refusals (`violations_before_close`).
    Violations,
    /// 1008, over `frames_per_sec`.
    TooManyFrames,
    /// 1008, too many bytes without a complete message.
    TooManyBytes,
    /// 1009, a message larger than `max_message_bytes`.
    TooBig,
    /// 1011, internal error.
    Internal,
    /// 4001, the token expired and was not renewed.
    TokenExpired,
    /// 4001, a reload removed the key that verified the session's current
    /// token (a key rotated out because it leaked must end its sessions).
    KeyRevoked,
    /// 4003, removed by an administrator.
    Removed,
    /// 4009, the outbound queue stayed full.
    TooSlow,
    /// 4009, a write made no progress within `write_timeout_s`.
    WriteStalled,
    /// 4010, no frame or pong within `idle_timeout_s`.
    Idle,
}

impl Close {
    /// Every distinct code a [`Close`] carries, in ascending order (the
    /// metrics' label table).
    pub const CODES: [u16; 13] = [
        NORMAL,
        GOING_AWAY,
        PROTOCOL_ERROR,
        UNSUPPORTED_DATA,
        NO_STATUS,
        INVALID_FRAME,
        POLICY,
        TOO_BIG,
        INTERNAL,
        TOKEN_EXPIRED,
        REMOVED,
        TOO_SLOW,
        IDLE,
    ];

    /// The close code.
    pub const fn code(self) -> u16 {
        match self {
            Self::Normal => NORMAL,
            Self::GoingAway => GOING_AWAY,
            Self::ProtocolError => PROTOCOL_ERROR,
            Self::TextMessage => UNSUPPORTED_DATA,
            Self::NoStatus => NO_STATUS,
            Self::InvalidFrame | Self::InvalidUtf8 => INVALID_FRAME,
            Self::Violations | Self::TooManyFrames | Self::TooManyBytes => POLICY,
            Self::TooBig => TOO_BIG,
            Self::Internal => INTERNAL,
            Self::TokenExpired | Self::KeyRevoked => TOKEN_EXPIRED,
            Self::Removed => REMOVED,
            Self::TooSlow | Self::WriteStalled => TOO_SLOW,
            Self::Idle => IDLE,
        }
    }

    /// The reason sent with the code (empty where none is).
    pub const fn reason(self) -> &'static str {
        match self {
            Self::Normal | Self::NoStatus | Self::Internal => "",
            Self::GoingAway => "server shutting down",
            Self::ProtocolError => "protocol error",
            Self::TextMessage => "text messages are not accepted",
            Self::InvalidFrame => "invalid frame",
            Self::InvalidUtf8 => "invalid utf-8",
            Self::Violations => "policy violation",
            Self::TooManyFrames => "too many frames",
            Self::TooManyBytes => "too many bytes without a message",
            Self::TooBig => "message too big",
            Self::TokenExpired => "token expired",
            Self::KeyRevoked => "key revoked",
            Self::Removed => "removed",
            Self::TooSlow => "too slow",
            Self::WriteStalled => "too slow: writes stalled",
            Self::Idle => "idle timeout",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_in_the_label_table() {
        let all = [
            Close::Normal,
            Close::GoingAway,
            Close::ProtocolError,
            Close::TextMessage,
            Close::NoStatus,
            Close::InvalidFrame,
            Close::InvalidUtf8,
            Close::Violations,
            Close::TooManyFrames,
            Close::TooManyBytes,
            Close::TooBig,
            Close::Internal,
            Close::TokenExpired,
            Close::KeyRevoked,
            Close::Removed,
            Close::TooSlow,
            Close::WriteStalled,
            Close::Idle,
        ];
        for c in all {
            assert!(Close::CODES.contains(&c.code()), "{c:?}");
        }
        assert!(Close::CODES.windows(2).all(|w| w[0] < w[1]));
    }
}
