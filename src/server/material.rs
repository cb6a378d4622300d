//! What a reload replaces: the TLS acceptor (certificate, key, client CA,
//! CRL), the token verifier and the Origin allowlist.
//!
//! The server holds them as one `Arc<Material>` behind a lock; each
//! connection reads it once when it is accepted and keeps that `Arc` for its
//! handshake. A reload builds a whole new `Material` first and swaps it in
//! only if every file loaded, so a bad file never leaves the server half
//! reloaded: established sessions keep going either way, and new
//! connections get the new material from the swap on. The one exception is
//! a token key the new material no longer has: whoever removes a key is
//! rotating it out, often because it leaked, so every session whose
//! current token that key verified is closed (4001 "key revoked").

use std::sync::{Arc, PoisonError, RwLock};

use futures_rustls::TlsAcceptor;

use super::error::{ReloadError, StartError};
use super::registry::Sessions;
use crate::auth::{self, Verifier};
use crate::clock::unix_now;
use crate::config::Config;
use crate::config::LimitsConfig;
use crate::metrics::Metrics;
use crate::tls;

/// A certificate expiring within this many days raises `alert=cert-expiring`.
pub(crate) const CERT_WARN_DAYS: u64 = 14;

/// Everything a reload swaps.
pub(crate) struct Material {
    pub(crate) tls: TlsAcceptor,
    pub(crate) verifier: Verifier,
    pub(crate) allowed_origins: Vec<String>,
    /// `tls.require_cert_subject_match`.
    pub(crate) subject_match: bool,
    /// The served leaf's `notAfter`, Unix seconds.
    pub(crate) cert_not_after: Option<u64>,
}

impl Material {
    /// Loads every file `config` names.
    pub(crate) fn load(config: &Config) -> Result<Self, StartError> {
        config.validate().map_err(StartError::Config)?;
        let t = &config.tls;
        let tls_config = match &t.client_ca {
            Some(ca) => tls::server_config_with_client_ca(&t.cert, &t.key, ca, t.crl.as_deref()),
            None => tls::server_config(&t.cert, &t.key),
        }
        .map_err(StartError::Tls)?;
        let keys = config
            .auth
            .public_keys
            .iter()
            .map(|path| auth::load_public_key_file(path))
            .collect::<Result<Vec<_>, _>>()
            .map_err(StartError::Key)?;
        let verifier = Verifier::new(
            keys,
            config.auth.audience.clone(),
            config.auth.issuer.clone(),
        )
        .with_max_lifetime(config.auth.max_token_lifetime_s)
        .with_reserved_sub(config.device_name.clone());
        let cert_not_after = tls::read_certs(&t.cert)
            .ok()
            .and_then(|chain| tls::x509::parse(chain.first()?).ok())
            .map(|info| info.not_after);
        Ok(Self {
            tls: TlsAcceptor::from(tls_config),
            verifier,
            allowed_origins: config.allowed_origins.clone(),
            subject_match: t.require_cert_subject_match,
            cert_not_after,
        })
    }

    /// Logs `alert=cert-expiring` when the certificate expires within
    /// [`CERT_WARN_DAYS`] (or has expired).
    pub(crate) fn check_expiry(&self, cert: &std::path::Path) {
        let Some(not_after) = self.cert_not_after else {
            return;
        };
        let now = unix_now();
        let left = not_after.saturating_sub(now);
        if left < CERT_WARN_DAYS * 86_400 {
            log::warn!(
                "alert=cert-expiring file={} not_after={} days_left={}",
                cert.display(),
                i64::try_from(not_after)
                    .ok()
                    .and_then(crate::auth::time::format_rfc3339)
                    .unwrap_or_else(|| not_after.to_string()),
                left / 86_400
            );
        }
    }
}

/// The lock holding the current material.
pub(crate) struct Current {
    material: RwLock<Arc<Material>>,
    /// The certificate file, for expiry alerts.
    cert_path: RwLock<std::path::PathBuf>,
}

impl Current {
    pub(crate) fn new(material: Material, config: &Config) -> Self {
        Self {
            material: RwLock::new(Arc::new(material)),
            cert_path: RwLock::new(config.tls.cert.clone()),
        }
    }

    /// Whether `key_id` names a token key of the current material.
    pub(crate) fn has_key(&self, key_id: &str) -> bool {
        self.get().verifier.keys().iter().any(|k| k.kid() == key_id)
    }

    /// The material new connections use now.
    pub(crate) fn get(&self) -> Arc<Material> {
        Arc::clone(&self.material.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn set(&self, material: Material, config: &Config) {
        *self
            .material
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(material);
        *self
            .cert_path
            .write()
            .unwrap_or_else(PoisonError::into_inner) = config.tls.cert.clone();
    }

    /// Raises `alert=cert-expiring` if due (at start, daily, after reload).
    pub(crate) fn check_expiry(&self) {
        let path = self
            .cert_path
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        self.get().check_expiry(&path);
    }
}

/// What a reload acts on besides the material itself.
pub(crate) struct Reload<'a> {
    pub(crate) current: &'a Current,
    pub(crate) metrics: &'a Metrics,
    /// Sessions whose key a reload removes are closed.
    pub(crate) sessions: &'a Sessions,
    /// The limits the server runs with (a reload cannot change them).
    pub(crate) running: &'a LimitsConfig,
}

/// Swaps in the material `config` names, or keeps the old on any error;
/// then closes the sessions of every token key the new material dropped.
pub(crate) fn reload(at: &Reload<'_>, config: &Config) -> Result<(), StartError> {
    match Material::load(config) {
        Ok(material) => {
            let removed: Vec<String> = at
                .current
                .get()
                .verifier
                .keys()
                .iter()
                .filter(|old| !material.verifier.keys().contains(old))
                .map(|old| old.kid().to_owned())
                .collect();
            at.current.set(material, config);
            // After the swap, so a handshake or Reauth verified with the
            // old material either is in the table now or finds the key gone
            // when it records itself (`Shared::check_key`).
            let revoked: String = removed
                .iter()
                .map(|kid| {
                    format!(
                        " key_revoked={kid} sessions_closed={}",
                        at.sessions.revoke_key(kid)
                    )
                })
                .collect();
            at.metrics.reload(true);
            if config.limits != *at.running {
                log::warn!("reload: [limits] changed; limits apply only after a restart");
            }
            log::info!("reload: certificate, keys and origins reloaded{revoked}");
            at.current.check_expiry();
            Ok(())
        }
        Err(e) => {
            at.metrics.reload(false);
            log::warn!("alert=reload-failed error={e}");
            Err(e)
        }
    }
}

/// [`reload`] from a configuration file; a file that does not parse fails
/// the reload the same way.
pub(crate) fn reload_file(at: &Reload<'_>, path: &std::path::Path) -> Result<(), ReloadError> {
    match Config::from_file(path) {
        Ok(config) => reload(at, &config).map_err(ReloadError::Start),
        Err(e) => {
            at.metrics.reload(false);
            log::warn!("alert=reload-failed error={e}");
            Err(ReloadError::Config(e))
        }
    }
}
