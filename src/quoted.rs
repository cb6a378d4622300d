//! [`Quoted`]: how every peer-controlled string enters a log line.
//!
//! Log lines are `key=value` pairs that operators grep and alerting tools
//! parse. A value the peer chose (a request path, a token's `sub`) written
//! as it is could end the pair early and forge another one:
//! `path=/alert=ban-issued` or `user=x outcome=accepted`. Quoted values
//! cannot: they are wrapped in `"`, and inside them `"`, `\` and `=` are
//! escaped, as are control, format (bidi overrides, zero-width) and other
//! unprintable characters, so a quoted value never contains `key=`,
//! never ends its pair early and never reorders the line on a terminal.

use core::fmt::{self, Write};

/// Displays a string quoted and escaped for a log line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Quoted<'a>(pub(crate) &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '=' => f.write_str("\\u{3d}")?,
                // `escape_debug` escapes `'`, which needs no escaping here.
                '\'' => f.write_char('\'')?,
                c => write!(f, "{}", c.escape_debug())?,
            }
        }
        f.write_char('"')
    }
}

#[cfg(test)]
mod tests {
    use super::Quoted;

    #[test]
    fn peer_text_cannot_forge_a_pair_or_hide_characters() {
        let cases = [
            ("alice", "\"alice\""),
            ("/alert=ban-issued", "\"/alert\\u{3d}ban-issued\""),
            ("x\" outcome=accepted", "\"x\\\" outcome\\u{3d}accepted\""),
            ("a\nb\\", "\"a\\nb\\\\\""),
            ("ad\u{202E}nim", "\"ad\\u{202e}nim\""),
            ("zero\u{200B}width", "\"zero\\u{200b}width\""),
            ("o'brien é", "\"o'brien é\""),
        ];
        for (raw, shown) in cases {
            assert_eq!(Quoted(raw).to_string(), shown, "{raw:?}");
        }
    }
}
