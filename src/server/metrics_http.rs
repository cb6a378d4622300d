//! The `[metrics]` listener: plain HTTP on a separate (by default loopback)
//! port, answering `GET /metrics` with the Prometheus text format and
//! everything else with 404. It never touches the TLS port's state.

use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use smol::future::FutureExt;
use smol::io::AsyncWriteExt;
use smol::net::{TcpListener, TcpStream};

use super::shared::Shared;
use crate::http;
use crate::metrics::{self, Gauges, Snapshot};

/// Scrapes served at once; more connections are closed unanswered. Enough
/// that a handful of stuck or idle sockets (a hung exporter, a port scan)
/// leave room for the real scraper: with [`HEAD_TIMEOUT`], holding every
/// slot takes 32 fresh idle connections a second.
pub(crate) const SCRAPERS: u32 = 32;
/// What one scrape may hold: the request head (at most
/// [`http::MAX_HEAD_BYTES`]), the rendered exposition and its response
/// copy (a few KiB each), the task. For the memory bound.
pub(crate) const SCRAPE_BYTES: u64 = 32 * 1024;
/// From accept to the end of the request head: a scraper sends its head at
/// once, so a socket silent for this long is not one and gives its slot back.
const HEAD_TIMEOUT: Duration = Duration::from_secs(1);
/// A scrape's deadline, from accept to the last byte written.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);
/// The content type of the text exposition format 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Every counter and gauge now.
pub(crate) fn snapshot(s: &Shared) -> Snapshot {
    s.metrics.snapshot(Gauges {
        sessions_open: s.sessions.list().len() as u64,
        connections_open: u64::from(s.connections.open()),
        rooms: s.rooms.len() as u64,
        bans_active: s.bans.active(std::time::Instant::now()) as u64,
        cert_not_after: s.material().cert_not_after.unwrap_or(0),
        draining: s.draining.load(Ordering::Relaxed),
        cluster_up: s.store.cluster_up(),
    })
}

/// Serves `GET /metrics` on `listener` until dropped.
pub(crate) async fn serve(shared: &Arc<Shared>, listener: TcpListener) -> io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        log::info!("metrics on http://{addr}/metrics");
    }
    let busy = Arc::new(AtomicU32::new(0));
    loop {
        let (tcp, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                log::warn!("metrics: accept failed: {e}");
                smol::Timer::after(Duration::from_millis(100)).await;
                continue;
            }
        };
        if busy.fetch_add(1, Ordering::AcqRel) >= SCRAPERS {
            busy.fetch_sub(1, Ordering::AcqRel);
            continue;
        }
        let shared = Arc::clone(shared);
        let busy = Arc::clone(&busy);
        smol::spawn(async move {
            let _ = scrape(&shared, tcp)
                .or(async {
                    smol::Timer::after(SCRAPE_TIMEOUT).await;
                    Ok(())
                })
                .await;
            busy.fetch_sub(1, Ordering::AcqRel);
        })
        .detach();
    }
}

async fn scrape(shared: &Shared, mut tcp: TcpStream) -> io::Result<()> {
    let head = http::read_head(&mut tcp).or(async {
        smol::Timer::after(HEAD_TIMEOUT).await;
        Err(http::HeadError::Io(io::ErrorKind::TimedOut))
    });
    let answer = match head.await {
        Ok((head, _)) if head.method == "GET" && head.path() == "/metrics" => {
            let body = snapshot(shared).to_prometheus(metrics::process_stats());
            http::response(200, CONTENT_TYPE, body.as_bytes(), &[])
        }
        Ok(_) => http::response(404, "text/plain; charset=utf-8", b"not found\n", &[]),
        Err(e) => match e.status() {
            Some(status) => http::refusal(status, "malformed request head"),
            None => return Ok(()),
        },
    };
    tcp.write_all(&answer).await?;
    tcp.flush().await?;
    tcp.close().await
}
