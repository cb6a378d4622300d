//! Development certificates, generated with rcgen.
//!
//! palisade only speaks TLS, so even `palisade demo` and every test need a
//! certificate. Rather than teach people to run `openssl` incantations, this
//! module mints a throwaway PKI: a private CA and a server certificate for
//! `localhost`, `127.0.0.1` and `::1` signed by it. Clients trust the CA file
//! (never the server certificate itself), exactly as they would in
//! production, so the development path exercises the real verification code.
//!
//! Nothing here is meant for production: keys live in memory and are written
//! unencrypted, and the CA is unconstrained in the names it may sign.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};

#[cfg(test)]
mod tests;

/// Common name of the development CA, so it is recognisable in a browser's
/// certificate viewer or a trust store.
pub const CA_COMMON_NAME: &str = "palisade development CA";

/// File name of the CA certificate written by [`write_dev_pki`].
pub const CA_FILE: &str = "ca.pem";
/// File name of the server certificate written by [`write_dev_pki`].
pub const CERT_FILE: &str = "server.pem";
/// File name of the server private key written by [`write_dev_pki`].
pub const KEY_FILE: &str = "server.key";

const HOUR: Duration = Duration::from_secs(60 * 60);
const DAY: Duration = Duration::from_secs(24 * 60 * 60);
/// The CA outlives many leaves, so tests can rotate leaves under one CA.
const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);
/// Backdating absorbs clock skew between the machine that generated a
/// certificate and the one checking it (a VM, a phone on the LAN).
const BACKDATE: Duration = HOUR;
/// 9999-12-31T23:59:59Z, the last instant X.509 `GeneralizedTime` (and the
/// `time` crate without `large-dates`) can express.
const LATEST_SECS: u64 = 253_402_300_799;

/// What to put in a server (leaf) certificate.
///
/// The defaults give a certificate valid now and for a year, for the names a
/// local demo or test connects to. Tests of certificate rotation set `serial`
/// and the validity window explicitly.
#[derive(Debug, Clone)]
pub struct LeafOptions {
    /// Serial number. `None` lets rcgen pick a random 20-byte serial, which
    /// is what a CA should do; set it when a test needs to tell two
    /// certificates apart. Must be positive (RFC 5280 §4.1.2.2).
    pub serial: Option<u64>,
    /// Start of validity. Times before 1970 are clamped to 1970.
    pub not_before: SystemTime,
    /// End of validity. Times after the year 9999 are clamped to it.
    pub not_after: SystemTime,
    /// DNS names and IP addresses (anything that parses as an IP becomes an
    /// IP SAN). Clients verify the name they dialled against this list.
    pub subject_alt_names: Vec<String>,
}

impl Default for LeafOptions {
    fn default() -> Self {
        let now = SystemTime::now();
        Self {
            serial: None,
            not_before: now - BACKDATE,
            not_after: now + 365 * DAY,
            subject_alt_names: ["localhost", "127.0.0.1", "::1"].map(String::from).to_vec(),
        }
    }
}

/// A server certificate and its key, in PEM.
#[derive(Clone)]
pub struct DevLeaf {
    /// The leaf certificate alone. The CA is not appended: clients already
    /// hold it as their trust anchor, and sending it would cost bytes in
    /// every handshake for nothing.
    pub cert_pem: String,
    /// The leaf's ECDSA P-256 private key, PKCS#8 PEM.
    pub key_pem: String,
}

impl fmt::Debug for DevLeaf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevLeaf")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// A development CA and one server certificate it signed.
///
/// The CA's private key stays inside this value (it is never serialised), so
/// [`DevPki::issue_leaf`] can sign more leaves for rotation tests, and once
/// the value is dropped nobody can mint another certificate under this CA.
pub struct DevPki {
    /// The CA certificate (ECDSA P-256, path length 0), PEM. This is what
    /// clients trust.
    pub ca_cert_pem: String,
    /// The server certificate, leaf only (see [`DevLeaf::cert_pem`]).
    pub cert_pem: String,
    /// The server's ECDSA P-256 private key, PKCS#8 PEM.
    pub key_pem: String,
    ca: Issuer<'static, KeyPair>,
}

impl fmt::Debug for DevPki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevPki")
            .field("ca_cert_pem", &self.ca_cert_pem)
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl DevPki {
    /// A fresh CA (valid for ten years) and a default server certificate.
    ///
    /// # Errors
    ///
    /// Only if rcgen fails to generate a key or sign, which indicates a
    /// broken RNG rather than bad input.
    pub fn generate() -> Result<Self, rcgen::Error> {
        Self::generate_with(&LeafOptions::default())
    }

    /// A fresh CA and a server certificate made to `leaf`.
    ///
    /// # Errors
    ///
    /// As [`DevPki::generate`], or if a subject alternative name is not a
    /// valid DNS name or IP address.
    pub fn generate_with(leaf: &LeafOptions) -> Result<Self, rcgen::Error> {
        let now = SystemTime::now();
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, CA_COMMON_NAME);
        // Path length 0: this CA signs leaves, never intermediates.
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        set_validity(&mut params, now - BACKDATE, now + CA_VALIDITY);

        let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let ca_cert_pem = params.self_signed(&ca_key)?.pem();
        let ca = Issuer::new(params, ca_key);
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let cert_pem = issue(&ca, &key, leaf)?;
        Ok(Self {
            ca_cert_pem,
            cert_pem,
            key_pem: key.serialize_pem(),
            ca,
        })
    }

    /// Signs another server certificate, with a new key, under the same CA.
    ///
    /// # Errors
    ///
    /// As [`DevPki::generate_with`].
    pub fn issue_leaf(&self, leaf: &LeafOptions) -> Result<DevLeaf, rcgen::Error> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        Ok(DevLeaf {
            cert_pem: issue(&self.ca, &key, leaf)?,
            key_pem: key.serialize_pem(),
        })
    }

    /// Signs a client certificate (client-auth usage) for mutual TLS, with a
    /// new key, valid now and for a year. `common_name` goes into the
    /// subject; `dns_names` (may be empty) into the subject alternative
    /// names, which `require_cert_subject_match` compares too.
    ///
    /// # Errors
    ///
    /// As [`DevPki::generate_with`].
    pub fn issue_client(
        &self,
        common_name: &str,
        dns_names: &[&str],
    ) -> Result<DevLeaf, rcgen::Error> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::new(
            dns_names
                .iter()
                .map(|n| (*n).to_owned())
                .collect::<Vec<_>>(),
        )?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        let now = SystemTime::now();
        set_validity(&mut params, now - BACKDATE, now + 365 * DAY);
        Ok(DevLeaf {
            cert_pem: params.signed_by(&key, &self.ca)?.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Signs a leaf for a key made elsewhere (the RSA and SEC1 fixtures that
    /// rcgen cannot produce), returning the certificate PEM.
    #[cfg(test)]
    pub(crate) fn issue_cert_for(
        &self,
        key: &KeyPair,
        leaf: &LeafOptions,
    ) -> Result<String, rcgen::Error> {
        issue(&self.ca, key, leaf)
    }

    /// Writes `ca.pem`, `server.pem` and `server.key` (mode 0600) into `dir`,
    /// creating `dir` if needed.
    ///
    /// # Errors
    ///
    /// Any I/O error, including `AlreadyExists` if one of the files is
    /// already there: existing keys are never overwritten.
    pub fn write_to(&self, dir: &Path) -> io::Result<DevPkiPaths> {
        fs::create_dir_all(dir)?;
        let paths = DevPkiPaths::in_dir(dir);
        // The key first: if anything fails later, the half-written state is
        // detected by `write_dev_pki` rather than silently completed.
        write_new(&paths.key, &self.key_pem, 0o600)?;
        write_new(&paths.cert, &self.cert_pem, 0o644)?;
        write_new(&paths.ca_cert, &self.ca_cert_pem, 0o644)?;
        Ok(paths)
    }
}

/// Where [`write_dev_pki`] put (or found) the development PKI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevPkiPaths {
    /// The CA certificate, for clients to trust.
    pub ca_cert: PathBuf,
    /// The server certificate, for [`crate::tls::server_config`].
    pub cert: PathBuf,
    /// The server private key, for [`crate::tls::server_config`].
    pub key: PathBuf,
}

impl DevPkiPaths {
    /// The standard file names inside `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            ca_cert: dir.join(CA_FILE),
            cert: dir.join(CERT_FILE),
            key: dir.join(KEY_FILE),
        }
    }

    fn all(&self) -> [&Path; 3] {
        [&self.ca_cert, &self.cert, &self.key]
    }
}

/// Ensures `dir` holds a development PKI, generating one on first use.
///
/// `palisade demo` calls this on every start: the first run creates the
/// files, later runs reuse them so a browser that was told to trust the CA
/// keeps trusting it.
///
/// # Errors
///
/// `AlreadyExists` naming the missing file(s) if only some of the three
/// files exist (better to stop than to pair a new key with an old
/// certificate); otherwise any I/O or generation error.
pub fn write_dev_pki(dir: &Path) -> io::Result<DevPkiPaths> {
    let paths = DevPkiPaths::in_dir(dir);
    let missing: Vec<String> = paths
        .all()
        .iter()
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return Ok(paths);
    }
    if missing.len() < 3 {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{}: incomplete development PKI, missing {}; remove the remaining files to regenerate",
                dir.display(),
                missing.join(", ")
            ),
        ));
    }
    DevPki::generate().map_err(io::Error::other)?.write_to(dir)
}

/// Signs a server certificate for `key`'s public key, returning its PEM.
fn issue(
    ca: &Issuer<'static, KeyPair>,
    key: &KeyPair,
    leaf: &LeafOptions,
) -> Result<String, rcgen::Error> {
    let mut params = CertificateParams::new(leaf.subject_alt_names.clone())?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "palisade development server");
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.serial_number = leaf.serial.map(Into::into);
    set_validity(&mut params, leaf.not_before, leaf.not_after);

    Ok(params.signed_by(key, ca)?.pem())
}

/// Sets validity from `SystemTime`s, clamped to what X.509 can express.
///
/// rcgen's fields are `time::OffsetDateTime`, a crate we do not depend on
/// directly; offsetting rcgen's own epoch value keeps it that way.
fn set_validity(params: &mut CertificateParams, not_before: SystemTime, not_after: SystemTime) {
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + since_epoch(not_before);
    params.not_after = epoch + since_epoch(not_after);
}

fn since_epoch(t: SystemTime) -> Duration {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .min(Duration::from_secs(LATEST_SECS))
}

/// Creates `path` (failing if it exists) with `mode` and writes `contents`.
fn write_new(path: &Path, contents: &str, mode: u32) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

/// A scratch directory under the system temp dir, removed on drop; the crate
/// has no `tempfile` dependency.
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct ScratchDir(pub(crate) PathBuf);

#[cfg(test)]
impl ScratchDir {
    pub(crate) fn new(tag: &str) -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "palisade-{tag}-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let dir = std::env::temp_dir().join(name);
        fs::create_dir_all(&dir).expect("create scratch dir");
        Self(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

#[cfg(test)]
impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
