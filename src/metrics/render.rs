//! The Prometheus text exposition format 0.0.4, and the process's own
//! memory and descriptors from `/proc/self`.

use std::fmt::Write;

use super::{
    Snapshot, CLIENT_FRAMES, CLOSE_CODES, ERROR_CODES, LATENCY_BUCKETS_US, OTHER_OUTCOMES,
    REFUSAL_STATUSES, SERVER_FRAMES,
};

/// The process's resident memory and open file descriptors (Linux
/// `/proc/self`; `None` elsewhere or when unreadable).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessStats {
    /// Resident set size, bytes.
    pub resident_bytes: Option<u64>,
    /// Open file descriptors.
    pub open_fds: Option<u64>,
}

/// Reads [`ProcessStats`] now.
pub fn process_stats() -> ProcessStats {
    let resident_bytes = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        });
    let open_fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|dir| dir.count() as u64);
    ProcessStats {
        resident_bytes,
        open_fds,
    }
}

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &str, value: u64) {
        if labels.is_empty() {
            let _ = writeln!(self.0, "{name} {value}");
        } else {
            let _ = writeln!(self.0, "{name}{{{labels}}} {value}");
        }
    }

    fn single(&mut self, name: &str, kind: &str, help: &str, value: u64) {
        self.family(name, kind, help);
        self.sample(name, "", value);
    }

    fn labelled(&mut self, name: &str, help: &str, label: &str, names: &[&str], values: &[u64]) {
        self.family(name, "counter", help);
        for (n, v) in names.iter().zip(values) {
            self.sample(name, &format!("{label}=\"{n}\""), *v);
        }
    }
}

fn close_label(code: u16) -> String {
    match code {
        0 => "none".to_owned(),
        u16::MAX => "other".to_owned(),
        c => c.to_string(),
    }
}

pub(super) fn prometheus(s: &Snapshot, process: ProcessStats) -> String {
    let mut o = Out(String::with_capacity(8 * 1024));
    let g = s.gauges;
    o.single(
        "palisade_sessions_open",
        "gauge",
        "Live WebSocket sessions.",
        g.sessions_open,
    );
    o.single(
        "palisade_connections_open",
        "gauge",
        "Connections counted now, handshakes included.",
        g.connections_open,
    );
    o.single(
        "palisade_rooms",
        "gauge",
        "Rooms with a member on this server.",
        g.rooms,
    );
    o.single(
        "palisade_bans_active",
        "gauge",
        "Addresses banned now.",
        g.bans_active,
    );
    o.single(
        "palisade_draining",
        "gauge",
        "1 while shutting down.",
        u64::from(g.draining),
    );
    o.single(
        "palisade_cert_not_after_seconds",
        "gauge",
        "The served certificate's notAfter, Unix seconds.",
        g.cert_not_after,
    );

    let name = "palisade_connections_total";
    o.family(name, "counter", "Connection attempts by outcome.");
    for (i, outcome) in OTHER_OUTCOMES.iter().enumerate() {
        o.sample(name, &format!("outcome=\"{outcome}\""), s.connections[i]);
    }
    for (i, status) in REFUSAL_STATUSES.iter().enumerate() {
        let status = if *status == 0 {
            "other".to_owned()
        } else {
            status.to_string()
        };
        let labels = format!("outcome=\"refused\",status=\"{status}\"");
        o.sample(name, &labels, s.connections[OTHER_OUTCOMES.len() + i]);
    }
    o.single(
        "palisade_tls_handshake_failures_total",
        "counter",
        "TLS handshakes that failed.",
        s.connections[4],
    );
    o.labelled(
        "palisade_frames_in_total",
        "Client frames received, by type.",
        "type",
        &CLIENT_FRAMES,
        &s.frames_in,
    );
    o.labelled(
        "palisade_frames_out_total",
        "Server frames written, by type.",
        "type",
        &SERVER_FRAMES,
        &s.frames_out,
    );
    o.single(
        "palisade_bytes_in_total",
        "counter",
        "WebSocket bytes read.",
        s.bytes_in,
    );
    o.single(
        "palisade_bytes_out_total",
        "counter",
        "WebSocket bytes written.",
        s.bytes_out,
    );
    o.labelled(
        "palisade_error_frames_total",
        "Error frames sent, by code.",
        "code",
        &ERROR_CODES,
        &s.errors,
    );
    let name = "palisade_closes_total";
    o.family(name, "counter", "Sessions closed, by close code and side.");
    for (side, by) in ["server", "peer"].iter().enumerate() {
        for (i, code) in CLOSE_CODES.iter().enumerate() {
            let labels = format!("code=\"{}\",by=\"{by}\"", close_label(*code));
            o.sample(name, &labels, s.closes[side][i]);
        }
    }
    o.single(
        "palisade_rate_limited_total",
        "counter",
        "Publishes refused for the publish rate.",
        s.rate_limited(),
    );
    o.single(
        "palisade_evictions_total",
        "counter",
        "Slow consumers closed with 4009.",
        s.evictions,
    );
    o.single(
        "palisade_presence_events_total",
        "counter",
        "MemberJoined and MemberLeft frames queued to members.",
        s.presence_events,
    );
    o.single(
        "palisade_presence_events_suppressed_total",
        "counter",
        "Presence events not sent because the room was over events_max_members.",
        s.presence_suppressed,
    );
    o.single(
        "palisade_bans_issued_total",
        "counter",
        "Addresses banned for auth failures.",
        s.bans_issued,
    );
    o.labelled(
        "palisade_reloads_total",
        "Reloads of certificates, keys and origins, by result.",
        "result",
        &["ok", "failed"],
        &s.reloads,
    );

    let name = "palisade_delivery_latency_seconds";
    o.family(
        name,
        "histogram",
        "Publish accepted to Message written, per member.",
    );
    let mut cumulative = 0;
    for (bound, n) in LATENCY_BUCKETS_US.iter().zip(&s.latency_buckets) {
        cumulative += n;
        let le = format!("le=\"{}\"", *bound as f64 / 1e6);
        o.sample(&format!("{name}_bucket"), &le, cumulative);
    }
    o.sample(&format!("{name}_bucket"), "le=\"+Inf\"", s.latency_count);
    let _ = writeln!(o.0, "{name}_sum {}", s.latency_sum_us as f64 / 1e6);
    o.sample(&format!("{name}_count"), "", s.latency_count);

    if let Some(rss) = process.resident_bytes {
        o.single(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            rss,
        );
    }
    if let Some(fds) = process.open_fds {
        o.single(
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            fds,
        );
    }
    o.0
}

#[cfg(test)]
mod tests {
    use super::super::{Gauges, Metrics, Outcome};
    use super::*;
    use std::time::Duration;

    #[test]
    fn text_format_has_types_labels_and_a_cumulative_histogram() {
        let m = Metrics::default();
        m.connection(Outcome::Accepted);
        m.connection(Outcome::Refused(401));
        m.connection(Outcome::Refused(418));
        m.close(Some(4009), true);
        m.delivered(Duration::from_micros(300));
        m.delivered(Duration::from_secs(60));
        let text = m
            .snapshot(Gauges::default())
            .to_prometheus(ProcessStats::default());
        for line in [
            "# TYPE palisade_connections_total counter",
            "palisade_connections_total{outcome=\"accepted\"} 1",
            "palisade_connections_total{outcome=\"refused\",status=\"401\"} 1",
            "palisade_connections_total{outcome=\"refused\",status=\"other\"} 1",
            "palisade_closes_total{code=\"4009\",by=\"server\"} 1",
            "palisade_evictions_total 1",
            "palisade_delivery_latency_seconds_bucket{le=\"0.00025\"} 0",
            "palisade_delivery_latency_seconds_bucket{le=\"0.0005\"} 1",
            "palisade_delivery_latency_seconds_bucket{le=\"5\"} 1",
            "palisade_delivery_latency_seconds_bucket{le=\"+Inf\"} 2",
            "palisade_delivery_latency_seconds_count 2",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn process_stats_are_read_on_linux() {
        let p = process_stats();
        assert!(p.resident_bytes.unwrap() > 0);
        assert!(p.open_fds.unwrap() >= 3);
    }
}
