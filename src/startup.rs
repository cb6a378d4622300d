//! Checks `serve` and `check-config` make before starting, beyond what
//! parsing the config already refuses: a served certificate that expired
//! or soon will, and limits that make another limit unreachable.
//!
//! Kept apart from `config.rs` (which parses) and the server (which runs):
//! these look at the config as a whole, the way an operator reads it.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::auth::time::format_rfc3339;
use crate::config::{Config, LimitsConfig};

/// How many days before expiry the certificate is reported (as the
/// server's daily `alert=cert-expiring`).
pub const CERT_WARN_DAYS: u64 = 14;

/// A date as `2026-12-01 21:30:00 UTC`, never raw Unix seconds.
pub fn date(unix_secs: u64) -> String {
    i64::try_from(unix_secs)
        .ok()
        .and_then(format_rfc3339)
        .map_or_else(
            || format!("{unix_secs} (Unix seconds)"),
            |s| format!("{} {} UTC", &s[..10], &s[11..19]),
        )
}

/// The served certificate's `notAfter`, if the file holds one we can read
/// (a file that cannot be read is reported by the TLS setup instead).
fn not_after(cert: &Path) -> Option<u64> {
    let chain = crate::tls::read_certs(cert).ok()?;
    crate::tls::x509::parse(chain.first()?)
        .ok()
        .map(|i| i.not_after)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Refuses an expired served certificate (no client would accept it);
/// returns a warning when it expires within [`CERT_WARN_DAYS`].
///
/// # Errors
/// One line naming the file and the date it expired.
pub fn certificate(config: &Config) -> Result<Option<String>, String> {
    certificate_at(&config.tls.cert, now())
}

fn certificate_at(cert: &Path, now: u64) -> Result<Option<String>, String> {
    let Some(not_after) = not_after(cert) else {
        return Ok(None);
    };
    if not_after <= now {
        return Err(format!(
            "tls.cert {}: the certificate expired on {}; renew it (or delete it under `palisade demo`, which makes a new one)",
            cert.display(),
            date(not_after)
        ));
    }
    let days = (not_after - now) / 86_400;
    Ok((days < CERT_WARN_DAYS).then(|| {
        format!(
            "tls.cert {}: the certificate expires on {} (in {days} days); renew it soon",
            cert.display(),
            date(not_after)
        )
    }))
}

/// Limits that make another limit unreachable, each as one sentence
/// naming both keys. Empty when the limits are coherent.
pub fn incoherent_limits(l: &LimitsConfig) -> Vec<String> {
    let mut found = Vec::new();
    if l.publish_per_sec > l.frames_per_sec {
        found.push(format!(
            "limits.publish_per_sec ({}) is above limits.frames_per_sec ({}): every publish is a frame, so \
             publishers are closed with 1008 at {} frames/s before the publish limit applies; raise frames_per_sec",
            l.publish_per_sec, l.frames_per_sec, l.frames_per_sec
        ));
    }
    if l.max_connections_per_ip > l.max_connections {
        found.push(format!(
            "limits.max_connections_per_ip ({}) is above limits.max_connections ({}), so it never applies",
            l.max_connections_per_ip, l.max_connections
        ));
    }
    if l.max_rooms_per_user >= l.max_total_rooms {
        found.push(format!(
            "limits.max_rooms_per_user ({}) is not below limits.max_total_rooms ({}): one user can hold every room",
            l.max_rooms_per_user, l.max_total_rooms
        ));
    }
    if l.violations_before_close > l.frames_per_sec.saturating_mul(10) {
        found.push(format!(
            "limits.violations_before_close ({}) is far above limits.frames_per_sec ({}): the frame limit closes a \
             misbehaving session long before the violation limit does",
            l.violations_before_close, l.frames_per_sec
        ));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_publish_limit_above_the_frame_limit_is_named_with_both_keys() {
        let mut l = LimitsConfig::default();
        assert_eq!(incoherent_limits(&l), Vec::<String>::new());
        l.publish_per_sec = 1000;
        let found = incoherent_limits(&l);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0]
            .starts_with("limits.publish_per_sec (1000) is above limits.frames_per_sec (50)"));
        l.max_connections_per_ip = l.max_connections + 1;
        assert_eq!(incoherent_limits(&l).len(), 2);
    }

    #[test]
    fn a_per_user_room_share_of_the_whole_table_is_named() {
        let l = LimitsConfig {
            max_total_rooms: 64,
            ..LimitsConfig::default()
        };
        let found = incoherent_limits(&l);
        assert_eq!(
            found,
            ["limits.max_rooms_per_user (64) is not below limits.max_total_rooms (64): one user can hold every room"]
        );
    }

    #[test]
    fn dates_are_dates() {
        assert_eq!(date(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(date(1_800_000_000), "2027-01-15 08:00:00 UTC");
    }

    #[test]
    fn an_expired_certificate_is_refused_and_one_near_expiry_warned() {
        let dir = crate::certgen::ScratchDir::new("startup");
        let paths = crate::certgen::write_dev_pki(dir.path()).unwrap();
        let not_after = not_after(&paths.cert).expect("readable");
        let err = certificate_at(&paths.cert, not_after).unwrap_err();
        assert!(
            err.contains("server.pem: the certificate expired on 20"),
            "{err}"
        );
        let warn = certificate_at(&paths.cert, not_after - 3 * 86_400 - 1).unwrap();
        assert!(warn.unwrap().contains("(in 3 days)"));
        assert_eq!(
            certificate_at(&paths.cert, not_after - 30 * 86_400).unwrap(),
            None
        );
    }
}
