//! TLS configuration: the only way bytes reach palisade (PROTOCOL.md §1).
//!
//! The server never listens in plaintext, so everything here is about making
//! the one TLS listener hard to misconfigure:
//!
//! - **One crypto provider, chosen explicitly.** Every config is built with
//!   [`rustls::crypto::ring::default_provider`] instead of the process-wide
//!   default, so no other crate in the tree can swap in a different provider
//!   (or pull aws-lc-rs back in) behind our back.
//! - **TLS 1.3 and 1.2 only.** rustls does not implement SSLv3, TLS 1.0 or
//!   TLS 1.1 at all, so refusing them is not a setting that can be undone
//!   here: a client offering only those fails the handshake with
//!   `protocol_version`.
//! - **AEAD suites only.** The ring provider's default suites are AES-GCM and
//!   ChaCha20-Poly1305 with ECDHE (TLS 1.2) or the three TLS 1.3 suites; there
//!   is no CBC, RC4 or static-RSA suite in rustls to enable by mistake. A unit
//!   test pins this so a rustls upgrade that changes it fails loudly.
//! - **Errors name the file.** An operator with a typo in a path or a key that
//!   belongs to last year's certificate gets one line saying which file and
//!   what is wrong, not a bare `rustls::Error`.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::ServerSessionMemoryCache;
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::version::{TLS12, TLS13};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

#[cfg(test)]
mod handshake_tests;
mod mtls;
#[cfg(test)]
mod tests;
pub mod x509;

pub use mtls::{client_config_with_cert, client_verifier, server_config_with_client_ca};

/// The only application protocol offered or accepted over TLS.
///
/// The WebSocket upgrade, the browser page and `/healthz` all ride on
/// HTTP/1.1; advertising `h2` would invite browsers to speak a protocol the
/// server does not implement (WebSocket over h2 needs RFC 8441).
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

/// How many TLS sessions the server remembers for resumption.
///
/// rustls stores each resumable session (a few hundred bytes) in this cache;
/// 256 entries bound it to roughly 100 KiB, which matters on the small hosts
/// palisade targets. A client that misses the cache just does a full
/// handshake, so a small cache costs CPU, never correctness.
pub const SESSION_CACHE_ENTRIES: usize = 256;

/// TLS 1.3 tickets sent after each full handshake.
///
/// The tickets are *stateful*: no ticket-encryption key is configured, so a
/// ticket is only an index into the session cache above. That keeps memory
/// bounded by [`SESSION_CACHE_ENTRIES`] and avoids a long-lived ticket key
/// whose compromise would expose every resumed session. rustls defaults to
/// two tickets; one is enough for a client that reconnects a WebSocket, and
/// halves the cache churn each new connection causes.
pub const TLS13_TICKETS: usize = 1;

/// Why a TLS configuration could not be built.
///
/// Every variant's `Display` is a single line that starts with the file
/// concerned, because these errors end up in a startup log or a terminal.
/// All of them are fatal at startup: the server must not run without TLS.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// The file could not be opened or read (missing, permissions, a directory).
    Read {
        /// The file that failed.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The file is not well-formed PEM (bad base64, missing `END` line, ...).
    MalformedPem {
        /// The file that failed.
        path: PathBuf,
        /// The PEM parser's description.
        detail: String,
    },
    /// The certificate (or CA) file contains no `CERTIFICATE` section.
    NoCertificate {
        /// The file that failed.
        path: PathBuf,
    },
    /// The key file contains no PKCS#8, SEC1 or PKCS#1 private key section.
    /// Encrypted keys land here too: there is nowhere to enter a passphrase.
    NoPrivateKey {
        /// The file that failed.
        path: PathBuf,
    },
    /// The key is PEM-wrapped but ring cannot use it (corrupt DER, unsupported
    /// curve or key type).
    UnusableKey {
        /// The key file.
        path: PathBuf,
        /// The crypto provider's description.
        detail: String,
    },
    /// A certificate is not valid X.509 DER, or a CA cannot be a trust anchor.
    BadCertificate {
        /// The file holding the certificate.
        path: PathBuf,
        /// What rustls/webpki said.
        detail: String,
    },
    /// The private key does not belong to the first (end-entity) certificate.
    /// The usual cause is a renewed certificate deployed with the old key.
    KeyMismatch {
        /// The key file.
        key_path: PathBuf,
        /// The certificate file whose first certificate was compared.
        cert_path: PathBuf,
    },
    /// rustls rejected the assembled configuration. With the fixed ring
    /// provider this should be unreachable; it is kept so that a future
    /// rustls change surfaces as an error rather than a panic.
    Config {
        /// The file the configuration was being built for.
        path: PathBuf,
        /// What rustls said.
        detail: String,
    },
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, source } => {
                write!(f, "{}: cannot read: {source}", path.display())
            }
            Self::MalformedPem { path, detail } => {
                write!(f, "{}: malformed PEM: {detail}", path.display())
            }
            Self::NoCertificate { path } => {
                write!(f, "{}: no certificate found", path.display())
            }
            Self::NoPrivateKey { path } => write!(
                f,
                "{}: not a PEM private key (PKCS#8, SEC1 or PKCS#1)",
                path.display()
            ),
            Self::UnusableKey { path, detail } => {
                write!(f, "{}: unusable private key: {detail}", path.display())
            }
            Self::BadCertificate { path, detail } => {
                write!(f, "{}: invalid certificate: {detail}", path.display())
            }
            Self::KeyMismatch {
                key_path,
                cert_path,
            } => write!(
                f,
                "{}: private key does not match the certificate in {}",
                key_path.display(),
                cert_path.display()
            ),
            Self::Config { path, detail } => write!(
                f,
                "{}: TLS configuration rejected: {detail}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Builds the server's TLS configuration from a PEM certificate chain and a
/// PEM private key.
///
/// `cert_path` holds the end-entity certificate first, then any intermediates
/// (the order clients expect); `key_path` holds one PKCS#8, SEC1 or PKCS#1
/// key. The key is checked against the first certificate so a mismatched
/// pair fails here, at startup, instead of in every client's handshake.
///
/// The result offers TLS 1.3 and 1.2 with the ring provider's (all-AEAD)
/// suites, ALPN `http/1.1` only, no client certificates, no 0-RTT, and
/// requires the extended master secret on TLS 1.2.
///
/// # Errors
///
/// A [`TlsError`] naming the file that is missing, unreadable, not PEM,
/// empty, or whose key does not match its certificate.
pub fn server_config(cert_path: &Path, key_path: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    build_server_config(
        cert_path,
        key_path,
        rustls::server::WebPkiClientVerifier::no_client_auth(),
    )
}

/// [`server_config`] with a client certificate policy (`no_client_auth`, or
/// a verifier from [`client_verifier`]).
pub(crate) fn build_server_config(
    cert_path: &Path,
    key_path: &Path,
    client_auth: Arc<dyn rustls::server::danger::ClientCertVerifier>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = read_certs(cert_path)?;
    let key = read_key(key_path)?;
    let provider = ring_provider();

    let signing_key =
        provider
            .key_provider
            .load_private_key(key)
            .map_err(|e| TlsError::UnusableKey {
                path: key_path.to_path_buf(),
                detail: e.to_string(),
            })?;
    let certified = CertifiedKey::new(chain, signing_key);
    // `with_single_cert` would also compare keys, but it lets an "unknown"
    // result through. Checking here treats "cannot tell" as a failure too, and
    // tells a certificate that does not parse apart from a key that does
    // not match.
    certified.keys_match().map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => TlsError::KeyMismatch {
            key_path: key_path.to_path_buf(),
            cert_path: cert_path.to_path_buf(),
        },
        other => TlsError::BadCertificate {
            path: cert_path.to_path_buf(),
            detail: other.to_string(),
        },
    })?;

    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&TLS13, &TLS12])
        .map_err(|e| TlsError::Config {
            path: cert_path.to_path_buf(),
            detail: e.to_string(),
        })?
        .with_client_cert_verifier(client_auth)
        .with_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));

    config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
    config.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE_ENTRIES);
    config.send_tls13_tickets = TLS13_TICKETS;
    // 0-RTT data is replayable; nothing in the protocol is safe to replay, and
    // the WebSocket upgrade needs a round trip anyway. 0 is rustls' default,
    // set here so it is visibly a decision.
    config.max_early_data_size = 0;
    // Every TLS 1.2 stack of the last decade sends RFC 7627 extended master
    // secret; requiring it closes the triple-handshake class of attacks.
    config.require_ems = true;
    Ok(Arc::new(config))
}

/// Builds a client configuration that trusts only the CA certificates in the
/// PEM file at `ca_path`.
///
/// System roots are deliberately not loaded: palisade clients talk to one
/// known server, usually with a private CA, and trusting the whole web PKI
/// would let any public CA impersonate it.
///
/// # Errors
///
/// A [`TlsError`] naming `ca_path` if it cannot be read, is not PEM, holds
/// no certificate, or holds one that cannot be a trust anchor.
pub fn client_config(ca_path: &Path) -> Result<Arc<ClientConfig>, TlsError> {
    let roots = read_certs(ca_path)?;
    build_client_config(ca_path, &roots, None)
}

/// Like [`client_config`], with the CA certificates already in memory (tests
/// and embedders that ship their CA inside the binary).
///
/// # Errors
///
/// [`TlsError::NoCertificate`] for an empty slice, [`TlsError::BadCertificate`]
/// for a certificate that cannot be a trust anchor; both name the
/// placeholder path `<in-memory CA list>`.
pub fn client_config_from_roots(
    ca_certs: &[CertificateDer<'static>],
) -> Result<Arc<ClientConfig>, TlsError> {
    build_client_config(Path::new("<in-memory CA list>"), ca_certs, None)
}

/// A client certificate chain and its key, with the key's file for errors.
pub(crate) type ClientIdentity<'a> = (
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
    &'a Path,
);

pub(crate) fn build_client_config(
    origin: &Path,
    ca_certs: &[CertificateDer<'static>],
    identity: Option<ClientIdentity<'_>>,
) -> Result<Arc<ClientConfig>, TlsError> {
    if ca_certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: origin.to_path_buf(),
        });
    }
    let mut roots = RootCertStore::empty();
    for cert in ca_certs {
        roots
            .add(cert.clone())
            .map_err(|e| TlsError::BadCertificate {
                path: origin.to_path_buf(),
                detail: e.to_string(),
            })?;
    }
    let config = ClientConfig::builder_with_provider(ring_provider())
        .with_protocol_versions(&[&TLS13, &TLS12])
        .map_err(|e| TlsError::Config {
            path: origin.to_path_buf(),
            detail: e.to_string(),
        })?
        .with_root_certificates(roots);
    let mut config = match identity {
        None => config.with_no_client_auth(),
        Some((chain, key, key_path)) => {
            config
                .with_client_auth_cert(chain, key)
                .map_err(|e| TlsError::UnusableKey {
                    path: key_path.to_path_buf(),
                    detail: e.to_string(),
                })?
        }
    };
    config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
    Ok(Arc::new(config))
}

/// The crypto provider every palisade config uses.
pub(crate) fn ring_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads every `CERTIFICATE` section of a PEM file, in file order.
///
/// Other sections (a key pasted into the same file, say) are skipped, as
/// every PEM tool does; an empty result is an error.
pub(crate) fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| pem_error(path, e))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// Reads the first private key (PKCS#8, SEC1 or PKCS#1) from a PEM file.
pub(crate) fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsError::NoPrivateKey {
            path: path.to_path_buf(),
        },
        other => pem_error(path, other),
    })
}

pub(crate) fn pem_error(path: &Path, err: pem::Error) -> TlsError {
    match err {
        pem::Error::Io(source) => TlsError::Read {
            path: path.to_path_buf(),
            source,
        },
        other => TlsError::MalformedPem {
            path: path.to_path_buf(),
            detail: other.to_string(),
        },
    }
}
