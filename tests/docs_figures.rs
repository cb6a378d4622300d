//! The memory figures the docs quote are the ones `src/server/memory.rs`
//! computes: this fails when a buffer or limit changes and the docs were
//! not brought along (the line it expects is in the message).
#![cfg(feature = "server")]

use palisade::config::{Config, LimitsConfig, PresenceConfig, StorageConfig};
use palisade::server::MemoryBound;

/// The bound `palisade serve` computes for `limits` (file storage).
fn serve_bound(limits: LimitsConfig) -> MemoryBound {
    let config = Config::new("s.pem", "s.key", ["t.public"], "a")
        .with_limits(limits)
        .with_storage(StorageConfig::file_in(std::path::Path::new(".")));
    MemoryBound::for_config(&config)
}

fn doc(path: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn assert_quotes(path: &str, text: &str, expected: &str) {
    assert!(text.contains(expected), "{path} should say: {expected}");
}

#[test]
fn the_docs_quote_the_computed_memory_bound() {
    let defaults = serve_bound(LimitsConfig::default());
    let memory = MemoryBound::new(&LimitsConfig::default(), &PresenceConfig::default());
    let limits = doc("docs/LIMITS.md");
    assert_quotes("docs/LIMITS.md", &limits, &format!("limits: {defaults}\n"));
    assert_quotes("docs/LIMITS.md", &limits, &format!("limits: {memory}\n"));

    let deploy = doc("docs/DEPLOY.md");
    let total = defaults.total_mib();
    let each = format!("{:.1} KiB", defaults.per_connection as f64 / 1024.0);
    let mut small = LimitsConfig::default();
    small.max_connections = 128;
    let small = serve_bound(small);
    for expected in [
        format!("worst-case memory {total} MiB ("),
        format!("the worst case is about\n{total} MiB"),
        format!("(about {each} each at\nthe worst"),
        format!(
            "(128 connections\nis about {} of connections",
            mib(small.connections)
        ),
    ] {
        assert_quotes("docs/DEPLOY.md", &deploy, &expected);
    }
}
