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
# (benches/tools' loadgen, as benches/run.sh runs it).
#
# DIR must be on a real disk (not tmpfs): write_bytes counts what reaches
# the block layer. Default /var/tmp/palisade-storebench.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/benches/common.sh"
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
(cd "$ROOT" && cargo build -q "${FLAGS[@]}" --bin palisade --example storebench)
# The load generator (--fanout): its own crate, built into the same target.
if [ "$FANOUT" = 1 ]; then (cd "$ROOT/benches/tools" && cargo build -q --locked "${FLAGS[@]}" --bin loadgen); fi
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
"$BIN/loadgen" setup --dir "$W" >/dev/null
PORT=$(free_port)
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
    { bench_config "$PORT" 1024; printf '[storage]\n%s\n' "$table"; } > "$W/palisade.toml"
    RUST_LOG=error SMOL_THREADS=1 "$BIN/palisade" serve --config "$W/palisade.toml" 2>>"$W/server.log" &
    pid=$!
    wait_listening "$PORT" "$pid" "$W/server.log"
    out=$(SMOL_THREADS=1 "$BIN/loadgen" --target palisade --url "wss://127.0.0.1:$PORT/ws" \
        --ca "$W/ca.pem" --token-file "$W/member.token" --server-pid "$pid" \
        --fanout --members 100 --publishers 1 --rate 0 --window 16 --body 64 --duration 10)
    stop_pid "$pid"
    python3 - "$storage" "$out" <<'PY'
import json, sys
r = json.loads(sys.argv[2])
print(f"| {sys.argv[1]} | {r['deliveries_per_sec']:.0f} | {r['server_cpu_us_per_delivery']:.2f} | {r['lost']} |")
PY
done
rm -rf "$W"
