//! The memory figures the docs quote are the ones `src/server/memory.rs`
//! computes: this fails when a buffer or limit changes and the docs were
//! not brought along (the line it expects is in the message).
#![cfg(feature = "server")]

use palisade::config::LimitsConfig;
use palisade::server::MemoryBound;

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
    let defaults = MemoryBound::new(&LimitsConfig::default());
    let limits = doc("docs/LIMITS.md");
    assert_quotes("docs/LIMITS.md", &limits, &format!("limits: {defaults}\n"));

    let deploy = doc("docs/DEPLOY.md");
    let total = defaults.total_mib();
    let each = format!("{:.1} KiB", defaults.per_connection as f64 / 1024.0);
    let mut small = LimitsConfig::default();
    small.max_connections = 128;
    let small = MemoryBound::new(&small);
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
