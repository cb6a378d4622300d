//! Counters for operating a server, exposed as Prometheus text (format
//! 0.0.4) by the `[metrics]` listener and as a [`Snapshot`] to host
//! applications ([`crate::server::Server::metrics`]).
//!
//! Every counter is a relaxed atomic inside one [`Metrics`] value owned by
//! one server (no globals: two servers in one process count separately).
//! Counting costs one uncontended `fetch_add` on the paths that already do
//! I/O; gauges (sessions, rooms, bans) are read from the server's own state
//! only when a snapshot is taken.

mod render;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::protocol::{ClientFrame, ErrorCode};

pub use render::{process_stats, ProcessStats};

/// How a connection attempt ended, the `outcome` (and `status`) labels of
/// `palisade_connections_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Upgraded to a session.
    Accepted,
    /// Answered with this HTTP status (401, 403, 429, 503, ...).
    Refused(u16),
    /// A plain HTTP answer: `/healthz` or the browser page.
    Http,
    /// Past a cap and past the refusal slots: dropped before TLS.
    Dropped,
    /// The handshake deadline passed.
    Timeout,
    /// The TLS handshake failed (also `palisade_tls_handshake_failures_total`).
    TlsFailed,
    /// The request head broke HTTP/1.1 syntax or its caps.
    BadRequest,
}

/// Statuses with their own `status` label; others count as `other`.
pub(crate) const REFUSAL_STATUSES: [u16; 7] = [400, 401, 403, 404, 429, 503, 0];
const OTHER_OUTCOMES: [&str; 6] = [
    "accepted",
    "http",
    "dropped",
    "timeout",
    "tls_failed",
    "bad_request",
];

impl Outcome {
    fn index(self) -> usize {
        match self {
            Self::Refused(status) => {
                let last = REFUSAL_STATUSES.len() - 1;
                OTHER_OUTCOMES.len()
                    + REFUSAL_STATUSES[..last]
                        .iter()
                        .position(|s| *s == status)
                        .unwrap_or(last)
            }
            Self::Accepted => 0,
            Self::Http => 1,
            Self::Dropped => 2,
            Self::Timeout => 3,
            Self::TlsFailed => 4,
            Self::BadRequest => 5,
        }
    }
}

const OUTCOMES: usize = OTHER_OUTCOMES.len() + REFUSAL_STATUSES.len();
/// `type` labels of client frames, in variant order.
pub(crate) const CLIENT_FRAMES: [&str; 7] = [
    "join",
    "leave",
    "publish",
    "delete",
    "reauth",
    "presence",
    "publish_once",
];
/// `type` labels of server frames, in variant order.
pub(crate) const SERVER_FRAMES: [&str; 10] = [
    "welcome",
    "joined",
    "left",
    "message",
    "ack",
    "deleted",
    "error",
    "members",
    "member_joined",
    "member_left",
];
/// `code` labels of `Error` frames, in variant order.
pub(crate) const ERROR_CODES: [&str; 8] = [
    "bad_request",
    "forbidden",
    "not_joined",
    "rate_limited",
    "too_many_rooms",
    "not_found",
    "token_rejected",
    "unavailable",
];
/// Close codes with their own label; 0 stands for "none" (no close frame),
/// anything else unlisted counts as `other`.
pub(crate) const CLOSE_CODES: [u16; 15] = {
    let codes = crate::protocol::Close::CODES;
    let mut table = [0; 15];
    let mut i = 0;
    while i < codes.len() {
        table[i] = codes[i];
        i += 1;
    }
    table[14] = u16::MAX;
    table
};
/// Upper bounds of the delivery latency buckets, in microseconds.
pub(crate) const LATENCY_BUCKETS_US: [u64; 12] = [
    250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000, 5_000_000,
];

fn counters<const N: usize>() -> [AtomicU64; N] {
    std::array::from_fn(|_| AtomicU64::new(0))
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

fn read<const N: usize>(counters: &[AtomicU64; N]) -> [u64; N] {
    std::array::from_fn(|i| counters[i].load(Ordering::Relaxed))
}

/// One server's counters.
#[derive(Debug)]
pub struct Metrics {
    connections: [AtomicU64; OUTCOMES],
    frames_in: [AtomicU64; CLIENT_FRAMES.len()],
    frames_out: [AtomicU64; SERVER_FRAMES.len()],
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    errors: [AtomicU64; ERROR_CODES.len()],
    /// `[by server | by peer][code]`.
    closes: [[AtomicU64; CLOSE_CODES.len()]; 2],
    evictions: AtomicU64,
    presence_events: AtomicU64,
    presence_suppressed: AtomicU64,
    bans_issued: AtomicU64,
    reloads: [AtomicU64; 2],
    latency_buckets: [AtomicU64; LATENCY_BUCKETS_US.len()],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            connections: counters(),
            frames_in: counters(),
            frames_out: counters(),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            errors: counters(),
            closes: [counters(), counters()],
            evictions: AtomicU64::new(0),
            presence_events: AtomicU64::new(0),
            presence_suppressed: AtomicU64::new(0),
            bans_issued: AtomicU64::new(0),
            reloads: counters(),
            latency_buckets: counters(),
            latency_count: AtomicU64::new(0),
            latency_sum_us: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// Counts a connection attempt's outcome.
    pub(crate) fn connection(&self, outcome: Outcome) {
        add(&self.connections[outcome.index()], 1);
    }

    /// Counts a decoded client frame.
    pub(crate) fn frame_in(&self, frame: &ClientFrame) {
        let i = match frame {
            ClientFrame::Join { .. } => 0,
            ClientFrame::Leave { .. } => 1,
            ClientFrame::Publish { .. } => 2,
            ClientFrame::Delete { .. } => 3,
            ClientFrame::Reauth { .. } => 4,
            ClientFrame::Presence { .. } => 5,
            ClientFrame::PublishOnce { .. } => 6,
        };
        add(&self.frames_in[i], 1);
    }

    /// Counts an encoded server frame written to a peer (its first byte is
    /// the variant index).
    pub(crate) fn frame_out(&self, encoded: &[u8]) {
        if let Some(c) = encoded
            .first()
            .and_then(|v| self.frames_out.get(usize::from(*v)))
        {
            add(c, 1);
        }
    }

    /// Counts WebSocket bytes read from peers (after TLS).
    pub(crate) fn bytes_in(&self, n: usize) {
        add(&self.bytes_in, n as u64);
    }

    /// Counts WebSocket bytes written to peers (before TLS).
    pub(crate) fn bytes_out(&self, n: usize) {
        add(&self.bytes_out, n as u64);
    }

    /// Counts an `Error` frame sent.
    pub(crate) fn error_frame(&self, code: ErrorCode) {
        add(&self.errors[code as usize], 1);
    }

    /// Counts a session's close; `code` None means no close frame.
    pub(crate) fn close(&self, code: Option<u16>, by_server: bool) {
        let code = code.unwrap_or(0);
        let i = CLOSE_CODES
            .iter()
            .position(|c| *c == code)
            .unwrap_or(CLOSE_CODES.len() - 1);
        add(&self.closes[usize::from(!by_server)][i], 1);
        if by_server && code == crate::protocol::close::TOO_SLOW {
            add(&self.evictions, 1);
        }
    }

    /// Counts a `MemberJoined` or `MemberLeft` queued to `members` members.
    pub(crate) fn presence_events(&self, members: usize) {
        add(&self.presence_events, members as u64);
    }

    /// Counts an event not sent: the room was over `events_max_members`.
    pub(crate) fn presence_suppressed(&self) {
        add(&self.presence_suppressed, 1);
    }

    /// Counts an address banned for auth failures.
    pub(crate) fn ban_issued(&self) {
        add(&self.bans_issued, 1);
    }

    /// Counts a reload attempt.
    pub(crate) fn reload(&self, ok: bool) {
        add(&self.reloads[usize::from(!ok)], 1);
    }

    /// Records one delivery: publish accepted to frame written.
    #[cfg(test)]
    pub(crate) fn delivered(&self, latency: std::time::Duration) {
        let at = Instant::now();
        self.delivered_all(at + latency, &[at]);
    }

    /// Records the deliveries of frames published at `published`, all
    /// written at `written` (one batch): counted locally first, so a batch
    /// costs one atomic add per bucket it touches, not three per frame.
    pub(crate) fn delivered_all(&self, written: Instant, published: &[Instant]) {
        if published.is_empty() {
            return;
        }
        let mut buckets = [0u64; LATENCY_BUCKETS_US.len()];
        let mut sum = 0u64;
        for at in published {
            let latency = written.saturating_duration_since(*at);
            let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
            if let Some(i) = LATENCY_BUCKETS_US.iter().position(|b| us <= *b) {
                buckets[i] += 1;
            }
            sum = sum.saturating_add(us);
        }
        for (counter, n) in self.latency_buckets.iter().zip(buckets) {
            if n > 0 {
                add(counter, n);
            }
        }
        add(&self.latency_count, published.len() as u64);
        add(&self.latency_sum_us, sum);
    }

    /// Evictions so far (the `evictions` alert compares rates).
    pub(crate) fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    /// Reads every counter; `gauges` come from the server's state.
    pub fn snapshot(&self, gauges: Gauges) -> Snapshot {
        let [by_server, by_peer] = &self.closes;
        Snapshot {
            gauges,
            connections: read(&self.connections),
            frames_in: read(&self.frames_in),
            frames_out: read(&self.frames_out),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            errors: read(&self.errors),
            closes: [read(by_server), read(by_peer)],
            evictions: self.evictions(),
            presence_events: self.presence_events.load(Ordering::Relaxed),
            presence_suppressed: self.presence_suppressed.load(Ordering::Relaxed),
            bans_issued: self.bans_issued.load(Ordering::Relaxed),
            reloads: read(&self.reloads),
            latency_buckets: read(&self.latency_buckets),
            latency_count: self.latency_count.load(Ordering::Relaxed),
            latency_sum_us: self.latency_sum_us.load(Ordering::Relaxed),
        }
    }
}

/// Values read from the server's state when a snapshot is taken.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gauges {
    /// Live sessions.
    pub sessions_open: u64,
    /// Connections counted now (handshakes included).
    pub connections_open: u64,
    /// Rooms held.
    pub rooms: u64,
    /// Addresses banned now.
    pub bans_active: u64,
    /// The served certificate's `notAfter` (Unix seconds), 0 if unknown.
    pub cert_not_after: u64,
    /// Whether the server is draining for shutdown.
    pub draining: bool,
    /// In a cluster, whether Redis is reachable; `None` for a lone node.
    pub cluster_up: Option<bool>,
}

/// Every counter at one moment. Labelled families are arrays in the order
/// of their label lists (see the `*_label` methods).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Values read from the server's state.
    pub gauges: Gauges,
    connections: [u64; OUTCOMES],
    frames_in: [u64; CLIENT_FRAMES.len()],
    frames_out: [u64; SERVER_FRAMES.len()],
    /// WebSocket bytes read from peers.
    pub bytes_in: u64,
    /// WebSocket bytes written to peers.
    pub bytes_out: u64,
    errors: [u64; ERROR_CODES.len()],
    closes: [[u64; CLOSE_CODES.len()]; 2],
    /// Sessions closed with 4009 (slow consumers).
    pub evictions: u64,
    /// Presence event frames queued (one per member told).
    pub presence_events: u64,
    /// Presence events not sent: the room was over `events_max_members`.
    pub presence_suppressed: u64,
    /// Addresses banned for auth failures.
    pub bans_issued: u64,
    reloads: [u64; 2],
    latency_buckets: [u64; LATENCY_BUCKETS_US.len()],
    /// Deliveries measured by the latency histogram.
    pub latency_count: u64,
    latency_sum_us: u64,
}

impl Snapshot {
    /// Connection attempts that ended with `outcome`.
    pub fn connections(&self, outcome: Outcome) -> u64 {
        self.connections[outcome.index()]
    }

    /// Client frames received of `kind` (`"join"`, `"publish"`, ...).
    pub fn frames_in(&self, kind: &str) -> u64 {
        lookup(&CLIENT_FRAMES, &self.frames_in, kind)
    }

    /// Server frames written of `kind` (`"welcome"`, `"message"`, ...).
    pub fn frames_out(&self, kind: &str) -> u64 {
        lookup(&SERVER_FRAMES, &self.frames_out, kind)
    }

    /// `Error` frames sent with `code`.
    pub fn error_frames(&self, code: ErrorCode) -> u64 {
        self.errors[code as usize]
    }

    /// Publishes refused with `RateLimited`.
    pub fn rate_limited(&self) -> u64 {
        self.error_frames(ErrorCode::RateLimited)
    }

    /// Sessions closed with `code` (None: without a close frame), by the
    /// server or by the peer.
    pub fn closes(&self, code: Option<u16>, by_server: bool) -> u64 {
        let code = code.unwrap_or(0);
        CLOSE_CODES
            .iter()
            .position(|c| *c == code)
            .map_or(0, |i| self.closes[usize::from(!by_server)][i])
    }

    /// Reloads that succeeded, and that failed.
    pub fn reloads(&self) -> (u64, u64) {
        (self.reloads[0], self.reloads[1])
    }

    /// The Prometheus text exposition (0.0.4) of this snapshot plus the
    /// process's own resident memory and open descriptors.
    pub fn to_prometheus(&self, process: ProcessStats) -> String {
        render::prometheus(self, process)
    }
}

fn lookup(labels: &[&str], values: &[u64], name: &str) -> u64 {
    labels
        .iter()
        .position(|l| *l == name)
        .map_or(0, |i| values[i])
}
