#!/usr/bin/env bash
# The footprint rows of BENCHMARKS.md: stripped size and RSS after start for
# the `palisade` binary and for the library embedded in a 10-line host with
# each feature set an embedder may pick (no CLI in any of them).
#
#   benches/footprint.sh
#
# Every build uses the release profile of Cargo.toml (size-tuned, crypto at
# opt-level 3). The host is made in a temporary folder (outside this
# workspace) and removed after. RSS is VmRSS 0.3 s after the listener is up,
# with rooms in memory for every row so the rows compare the code, not a
# storage file.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/benches/common.sh"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
scratch palisade-footprint
log() { printf '== %s\n' "$*" >&2; }

(cd "$ROOT" && cargo build -q --release --bin palisade)
(cd "$ROOT/benches/tools" && cargo build -q --release --locked --bin loadgen)
"$CARGO_TARGET_DIR/release/loadgen" setup --dir "$WORK" >/dev/null

# The host: a config file in, a server out; the release profile copied
# from palisade's manifest so the rows are built alike.
mkdir -p "$WORK/host/src"
cat > "$WORK/host/src/main.rs" <<'RS'
//! The smallest embedding of palisade: a config file in, a server out.
fn main() {
    let path = std::env::args_os().nth(1).expect("usage: host CONFIG");
    let fail = |what: &dyn std::fmt::Display| -> ! {
        eprintln!("host: {what}");
        std::process::exit(2)
    };
    let config = palisade::config::Config::from_file(path.as_ref()).unwrap_or_else(|e| fail(&e));
    let server = palisade::server::Server::new(&config).unwrap_or_else(|e| fail(&e));
    smol::block_on(async {
        let listener = smol::net::TcpListener::bind(config.listen).await.unwrap_or_else(|e| fail(&e));
        server.run(listener, std::future::pending()).await.unwrap_or_else(|e| fail(&e));
    });
}
RS
host_manifest() { # FEATURES
    cat <<EOT
[package]
name = "host"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
palisade = { path = "$ROOT", default-features = false, features = [$1] }
smol = "2"

[workspace]

EOT
    sed -n '/^\[profile\.release\]/,/^\[\[example\]\]/p' "$ROOT/Cargo.toml" | sed '/^\[\[example\]\]/d'
}

port=$(free_port)
{ bench_config "$port" 32; printf '[storage]\nkind = "memory"\n'; } > "$WORK/palisade.toml"

measure() { # NAME FEATURES BINARY ARGS...
    local name=$1 features=$2 binary=$3; shift 3
    RUST_LOG=error SMOL_THREADS=1 "$binary" "$@" 2>"$WORK/server.log" &
    SERVER_PID=$!
    wait_listening "$port" "$SERVER_PID" "$WORK/server.log"
    sleep 0.3
    local rss
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status")
    stop_pid "$SERVER_PID"; SERVER_PID=""
    local size
    size=$(stat -c %s "$binary")
    printf '| %s | %s | %s B (%s MiB) | %s KiB |\n' "$name" "$features" "$size" \
        "$(awk -v b="$size" 'BEGIN { printf "%.2f", b / 1048576 }')" "$rss"
}

echo "| build | features | stripped | RSS after start |"
echo "|---|---|---|---|"
measure '`palisade` binary' 'default: `server`, `cli`, `storage`, `cluster`' \
    "$CARGO_TARGET_DIR/release/palisade" serve --config "$WORK/palisade.toml"
for features in '"server"' '"server", "storage"' '"server", "cluster"' '"server", "storage", "cluster"'; do
    log "host with $features"
    host_manifest "$features" > "$WORK/host/Cargo.toml"
    (cd "$WORK/host" && CARGO_TARGET_DIR="$WORK/host/target" cargo build -q --release)
    measure 'library in a 10-line host' "$(echo "$features" | sed 's/"/`/g')" \
        "$WORK/host/target/release/host" "$WORK/palisade.toml"
done
