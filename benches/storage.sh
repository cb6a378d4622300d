#!/usr/bin/env bash
# What durability costs (BENCHMARKS.md, "Storage"): bytes written to disk
# per message and the Ack latency of one publisher at 1, 10 and 100
# publishes/s, for file storage with sync on (the default), sync off, and
# memory storage. examples/storebench.rs starts a fresh `palisade serve`
# for each run and prints one JSON line; this prints them as a table.
#
#   benches/storage.sh [--dir DIR] [--quick] [--fanout]
#
# --fanout adds the fan-out rows: one publisher as fast as 16 publishes in
# flight allow, into 100 members, 64-byte bodies, 10 s, per storage kind
# (examples/loadgen.rs, as benches/run.sh runs it).
#
# DIR must be on a real disk (not tmpfs): write_bytes counts what reaches
# the block layer. Default /var/tmp/palisade-storebench.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=/var/tmp/palisade-storebench
QUICK=0
FANOUT=0
while [ $# -gt 0 ]; do
    case "$1" in
        --dir) DIR="$2"; shift ;;
        --quick) QUICK=1 ;;
        --fanout) FANOUT=1 ;;
        *) echo "usage: $0 [--dir DIR] [--quick] [--fanout]" >&2; exit 2 ;;
    esac
    shift
done
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
if [ "$QUICK" = 1 ]; then PROFILE=debug; FLAGS=(); RUNS="10:2"; else PROFILE=release; FLAGS=(--release); RUNS="1:60 10:30 100:20"; fi
(cd "$ROOT" && cargo build -q "${FLAGS[@]}" --bin palisade --example storebench --example loadgen)
BIN=$CARGO_TARGET_DIR/$PROFILE
echo "| storage | publishes/s | messages | bytes written / message | Ack p50 (ms) | Ack p99 (ms) |"
echo "|---|---|---|---|---|---|"
for storage in file file-nosync memory; do
    for run in $RUNS; do
        rate=${run%%:*}; secs=${run##*:}
        line=$("$BIN/examples/storebench" --bin "$BIN/palisade" --dir "$DIR/$storage-$rate" \
            --storage "$storage" --rate "$rate" --duration "$secs")
        python3 - "$line" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print(f"| {r['storage']} | {r['rate']} | {r['messages']} | {r['write_bytes_per_message']:.0f} | {r['ack_p50_ms']:.2f} | {r['ack_p99_ms']:.2f} |")
PY
        rm -rf "$DIR/$storage-$rate"
    done
done

[ "$FANOUT" = 1 ] || exit 0
W=$DIR/fanout
mkdir -p "$W"
"$BIN/examples/loadgen" setup --dir "$W" >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo
echo "| fan-out 1→100, 64 B | deliveries/s | server CPU µs/delivery | lost |"
echo "|---|---|---|---|"
for storage in memory file file-nosync; do
    case "$storage" in
        memory) table='kind = "memory"' ;;
        file) table='kind = "file"' ;;
        file-nosync) table=$'kind = "file"\nsync = false' ;;
    esac
    rm -f "$W/palisade.db"
    cat > "$W/palisade.toml" <<EOF
listen = "127.0.0.1:$PORT"
[tls]
cert = "server.pem"
key = "server.key"
[auth]
public_keys = ["token.public"]
audience = "palisade"
[limits]
max_connections = 2000
max_connections_per_ip = 2000
idle_timeout_s = 3600
publish_per_sec = 65535
frames_per_sec = 65535
outbound_queue = 1024
[storage]
$table
EOF
    RUST_LOG=error SMOL_THREADS=1 "$BIN/palisade" serve --config "$W/palisade.toml" 2>>"$W/server.log" &
    pid=$!
    for _ in $(seq 100); do ss -Hltn "sport = :$PORT" | grep -q LISTEN && break; sleep 0.05; done
    out=$(SMOL_THREADS=1 "$BIN/examples/loadgen" --target palisade --url "wss://127.0.0.1:$PORT/ws" \
        --ca "$W/ca.pem" --token-file "$W/member.token" --server-pid "$pid" \
        --fanout --members 100 --publishers 1 --rate 0 --window 16 --body 64 --duration 10)
    kill "$pid"; wait "$pid" 2>/dev/null || true
    python3 - "$storage" "$out" <<'PY'
import json, sys
r = json.loads(sys.argv[2])
print(f"| {sys.argv[1]} | {r['deliveries_per_sec']:.0f} | {r['server_cpu_us_per_delivery']:.2f} | {r['lost']} |")
PY
done
rm -rf "$W"
