//! Connecting, and saying in words why a connection failed: the errors a
//! newcomer makes (a wrong CA file, a URL without `/ws`, a refused token)
//! each get their own sentence instead of a library's error chain.

use std::path::Path;
use std::time::Duration;

use palisade::client::{Client, ClientError, Connect};

/// Why connecting failed, and whether trying again could help.
pub struct Failure {
    pub message: String,
    pub retry: bool,
}

/// Connects once.
pub async fn connect(opts: &Connect, ca: &Path) -> Result<Client, Failure> {
    Client::connect(opts.clone())
        .await
        .map_err(|e| describe(&e, &opts.url, ca))
}

fn describe(e: &ClientError, url: &str, ca: &Path) -> Failure {
    let (message, retry) = match e {
        ClientError::Io(io) => match tls_error(io) {
            // Another CA (UnknownIssuer), or another CA of the same name
            // (a second dev PKI: BadSignature).
            Some(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer | rustls::CertificateError::BadSignature,
            )) => (
                format!(
                    "the server's certificate is not signed by the CA in {} (wrong --ca file?)",
                    ca.display()
                ),
                false,
            ),
            Some(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            )) => (
                format!("the server's certificate does not name the host in {url}"),
                false,
            ),
            Some(rustls::Error::InvalidCertificate(c)) => (
                format!("the server's certificate was not accepted: {c}"),
                false,
            ),
            Some(other) => (format!("TLS failed: {other}"), true),
            None => (format!("cannot reach {url}: {io}"), true),
        },
        ClientError::Refused { status, body } => (refusal(*status, body), *status >= 500),
        ClientError::Url(_) => (format!("{url} is not a URL like wss://HOST:PORT/ws"), false),
        other => (other.to_string(), true),
    };
    Failure { message, retry }
}

/// The TLS error inside an I/O error, if that is what it is.
fn tls_error(io: &std::io::Error) -> Option<&rustls::Error> {
    io.get_ref()?.downcast_ref::<rustls::Error>()
}

/// One line for a refused upgrade. A web page in the body means the URL
/// points at the page, not the WebSocket endpoint: say so, not the HTML.
fn refusal(status: u16, body: &str) -> String {
    let body = body.trim();
    if body.starts_with('<') || status == 200 || status == 404 {
        return format!(
            "the server answered {status} with a web page, not a WebSocket: the URL's path should be /ws"
        );
    }
    let first = body.lines().next().unwrap_or("");
    let first: String = first.chars().take(200).collect();
    match status {
        401 => format!("the token was refused (401): {first}"),
        403 => format!("the connection was refused (403): {first}"),
        429 => format!("too many failed attempts from this address (429): {first}"),
        _ => format!("the server refused the connection ({status}): {first}"),
    }
}

/// The wait before reconnect attempt `attempt` (0-based): 1 s doubling up
/// to 30 s, then between half and all of it, so clients dropped together
/// do not all return in the same instant.
pub fn backoff(attempt: u32) -> Duration {
    let ceiling_ms = 1000u64.saturating_mul(1 << attempt.min(5)).min(30_000);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()));
    Duration::from_millis(ceiling_ms / 2 + nanos % (ceiling_ms / 2 + 1))
}
