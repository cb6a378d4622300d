//! Just enough X.509 to operate a server: a certificate's serial, expiry,
//! common name and DNS names.
//!
//! rustls and webpki already verify certificates; this module never decides
//! trust. It answers the questions verification does not: when does the
//! served certificate expire (the `cert-expiring` alert), which certificate
//! is being served (tests of reload), and which names a client certificate
//! carries (`require_cert_subject_match`). webpki's `EndEntityCert` (already
//! in the tree through rustls) parses the certificate and gives the serial,
//! the subject and the SAN's valid DNS names; it exposes neither `notAfter`
//! nor the common name, so a minimal DER walk reads those two.

use std::fmt;

use rustls_pki_types::CertificateDer;

/// What [`parse`] reads from one DER certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The serial number's content bytes, big-endian (a leading zero byte
    /// that only keeps the INTEGER positive is removed).
    pub serial: Vec<u8>,
    /// `notAfter`, in seconds since the Unix epoch.
    pub not_after: u64,
    /// The subject's first common name (UTF8, Printable or IA5 string).
    pub common_name: Option<String>,
    /// DNS names of the subject alternative name extension.
    pub dns_names: Vec<String>,
}

impl CertInfo {
    /// The serial as an unsigned integer, when it fits in 64 bits.
    pub fn serial_u64(&self) -> Option<u64> {
        if self.serial.len() > 8 {
            return None;
        }
        Some(
            self.serial
                .iter()
                .fold(0u64, |n, b| (n << 8) | u64::from(*b)),
        )
    }

    /// Whether the common name or a DNS name equals `name` exactly.
    pub fn names_subject(&self, name: &str) -> bool {
        self.common_name.as_deref() == Some(name) || self.dns_names.iter().any(|d| d == name)
    }
}

/// The certificate is not the DER shape this walk expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotACertificate;

impl fmt::Display for NotACertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a DER X.509 certificate")
    }
}

impl std::error::Error for NotACertificate {}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const OID: u8 = 0x06;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
const VERSION_TAG: u8 = 0xa0;
/// 2.5.4.3, id-at-commonName.
const OID_CN: &[u8] = &[0x55, 0x04, 0x03];

/// One TLV: (tag, contents, what follows).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |l, b| (l << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The next TLV, which must carry `want`.
fn expect(input: &[u8], want: u8) -> Option<(&[u8], &[u8])> {
    let (tag, value, rest) = tlv(input)?;
    (tag == want).then_some((value, rest))
}

/// Reads serial, expiry, common name and DNS names from a DER certificate.
///
/// # Errors
/// [`NotACertificate`] when webpki does not parse the bytes as an X.509 v3
/// certificate, or `notAfter` is not an RFC 5280 time.
pub fn parse(der: &[u8]) -> Result<CertInfo, NotACertificate> {
    let owned = CertificateDer::from(der);
    let cert = webpki::EndEntityCert::try_from(&owned).map_err(|_| NotACertificate)?;
    let serial = match cert.serial() {
        [0, tail @ ..] if !tail.is_empty() => tail.to_vec(),
        s => s.to_vec(),
    };
    Ok(CertInfo {
        serial,
        not_after: not_after(der).ok_or(NotACertificate)?,
        common_name: common_name(cert.subject()),
        dns_names: cert.valid_dns_names().map(str::to_owned).collect(),
    })
}

/// `notAfter`: the second time of `validity`, after version, serial,
/// signature algorithm and issuer.
fn not_after(der: &[u8]) -> Option<u64> {
    let (cert, _) = expect(der, SEQUENCE)?;
    let (tbs, _) = expect(cert, SEQUENCE)?;
    let mut rest = tbs;
    if let Some((VERSION_TAG, _, after)) = tlv(rest) {
        rest = after;
    }
    let (_serial, rest) = expect(rest, INTEGER)?;
    let (_signature, rest) = expect(rest, SEQUENCE)?;
    let (_issuer, rest) = expect(rest, SEQUENCE)?;
    let (validity, _) = expect(rest, SEQUENCE)?;
    let (_, _, after_not_before) = tlv(validity)?;
    let (time_tag, not_after, _) = tlv(after_not_before)?;
    parse_time(time_tag, not_after)
}

/// The first common name of a subject (the contents of its `SEQUENCE`).
fn common_name(mut name: &[u8]) -> Option<String> {
    while let Some((SET, rdn, after)) = tlv(name) {
        let mut attrs = rdn;
        while let Some((SEQUENCE, attr, next)) = tlv(attrs) {
            let (oid, value) = expect(attr, OID)?;
            if oid == OID_CN {
                let (tag, text, _) = tlv(value)?;
                // UTF8String, PrintableString, IA5String.
                if matches!(tag, 0x0c | 0x13 | 0x16) {
                    return String::from_utf8(text.to_vec()).ok();
                }
            }
            attrs = next;
        }
        name = after;
    }
    None
}

/// UTCTime `YYMMDDHHMMSSZ` or GeneralizedTime `YYYYMMDDHHMMSSZ` to Unix
/// seconds (RFC 5280 requires these exact forms).
fn parse_time(tag: u8, text: &[u8]) -> Option<u64> {
    let digits = text.strip_suffix(b"Z")?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let num = |s: &[u8]| s.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    let (year, rest) = match (tag, digits.len()) {
        (UTC_TIME, 12) => {
            let yy = num(&digits[..2]);
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &digits[2..])
        }
        (GENERALIZED_TIME, 14) => (num(&digits[..4]), &digits[4..]),
        _ => return None,
    };
    let (month, day) = (num(&rest[0..2]), num(&rest[2..4]));
    let (h, m, s) = (num(&rest[4..6]), num(&rest[6..8]), num(&rest[8..10]));
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || year < 1970 {
        return None;
    }
    // Year, month and day are in range (1970..=9999, 1..=12, 1..=31), so
    // the conversions cannot fail and the day count is not negative.
    let days = crate::clock::days_from_civil(
        i64::try_from(year).ok()?,
        u32::try_from(month).ok()?,
        u32::try_from(day).ok()?,
    );
    Some(u64::try_from(days).ok()? * 86_400 + h * 3600 + m * 60 + s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certgen::{DevPki, LeafOptions};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    use std::time::{Duration, UNIX_EPOCH};

    fn der(pem: &str) -> Vec<u8> {
        CertificateDer::from_pem_slice(pem.as_bytes())
            .unwrap()
            .to_vec()
    }

    #[test]
    fn reads_serial_expiry_and_names_of_a_generated_leaf() {
        let not_after = UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        let pki = DevPki::generate_with(&LeafOptions {
            serial: Some(0x1234_5678),
            not_after,
            ..LeafOptions::default()
        })
        .unwrap();
        let info = parse(&der(&pki.cert_pem)).unwrap();
        assert_eq!(info.serial_u64(), Some(0x1234_5678));
        assert_eq!(info.not_after, 2_000_000_000);
        assert_eq!(
            info.common_name.as_deref(),
            Some("palisade development server")
        );
        assert_eq!(info.dns_names, vec!["localhost".to_owned()]);
        assert!(info.names_subject("localhost"));
        assert!(!info.names_subject("127.0.0.1"));
    }

    #[test]
    fn times_and_garbage() {
        assert_eq!(parse_time(UTC_TIME, b"700101000000Z"), Some(0));
        assert_eq!(parse_time(UTC_TIME, b"000229120000Z"), Some(951_825_600));
        assert_eq!(
            parse_time(GENERALIZED_TIME, b"99991231235959Z"),
            Some(253_402_300_799)
        );
        assert_eq!(parse_time(UTC_TIME, b"7001010000Z"), None);
        assert_eq!(parse(b"\x30\x03\x02\x01"), Err(NotACertificate));
        assert_eq!(parse(&[]), Err(NotACertificate));
    }
}
