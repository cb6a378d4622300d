//! Client certificates (mutual TLS): the server's verifier for
//! `[tls] client_ca` (and an optional CRL), and client configs that present
//! a certificate.
//!
//! Verification is rustls' `WebPkiClientVerifier` with the ring provider:
//! the chain must lead to a certificate in `client_ca`, be valid now, carry
//! the client-auth usage, and (with a CRL) not be revoked. A client without
//! a certificate fails the TLS handshake, before any HTTP is read.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateRevocationListDer;
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use super::{
    build_client_config, build_server_config, pem_error, read_certs, read_key, ring_provider,
    TlsError,
};

/// A verifier requiring a client certificate that chains to a CA in
/// `ca_path`, and that `crl_path` (PEM `X509 CRL` sections) does not revoke.
///
/// # Errors
/// A [`TlsError`] naming the CA or CRL file that cannot be read or used.
pub fn client_verifier(
    ca_path: &Path,
    crl_path: Option<&Path>,
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(ca_path)? {
        roots.add(cert).map_err(|e| TlsError::BadCertificate {
            path: ca_path.to_path_buf(),
            detail: e.to_string(),
        })?;
    }
    let mut builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), ring_provider());
    if let Some(crl_path) = crl_path {
        let crls = CertificateRevocationListDer::pem_file_iter(crl_path)
            .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
            .map_err(|e| pem_error(crl_path, e))?;
        if crls.is_empty() {
            return Err(TlsError::BadCertificate {
                path: crl_path.to_path_buf(),
                detail: "no X509 CRL section found".into(),
            });
        }
        builder = builder.with_crls(crls);
    }
    builder.build().map_err(|e| TlsError::BadCertificate {
        path: crl_path.unwrap_or(ca_path).to_path_buf(),
        detail: e.to_string(),
    })
}

/// The server configuration of [`super::server_config`], also requiring a
/// client certificate as [`client_verifier`] describes.
///
/// # Errors
/// As [`super::server_config`] and [`client_verifier`].
pub fn server_config_with_client_ca(
    cert_path: &Path,
    key_path: &Path,
    ca_path: &Path,
    crl_path: Option<&Path>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let verifier = client_verifier(ca_path, crl_path)?;
    build_server_config(cert_path, key_path, verifier)
}

/// Like [`super::client_config`], presenting the certificate chain in
/// `cert_path` (leaf first) with the key in `key_path` when the server asks.
///
/// # Errors
/// A [`TlsError`] naming the file that cannot be read or used.
pub fn client_config_with_cert(
    ca_path: &Path,
    cert_path: &Path,
    key_path: &Path,
) -> Result<Arc<ClientConfig>, TlsError> {
    let roots = read_certs(ca_path)?;
    let chain = read_certs(cert_path)?;
    let key = read_key(key_path)?;
    build_client_config(ca_path, &roots, Some((chain, key, key_path)))
}
