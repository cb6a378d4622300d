#!/usr/bin/env bash
# The cluster row of BENCHMARKS.md: fan-out 1 → MEMBERS with the members
# split over two nodes sharing one redis-server, against the same on one
# node alone and on one node with [cluster] (so the cost of going through
# Redis is visible apart from the cost of a second process).
#
#   benches/cluster.sh            # release build, 1000 members, 10 s each
#   benches/cluster.sh --quick    # debug build, 40 members, 1 s (smoke run)
#
# Needs redis-server (apt-get install redis-server). Everything runs on
# loopback and is removed after; prints one JSON line per scenario and a
# small table. Deliveries lost fail the run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/benches/common.sh"
QUICK=0
[ "${1:-}" = --quick ] && QUICK=1
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
if [ "$QUICK" = 1 ]; then
    PROFILE=debug; CARGO_PROFILE=(); MEMBERS=40; DURATION=1
else
    PROFILE=release; CARGO_PROFILE=(--release); MEMBERS=1000; DURATION=10
fi
BIN=$CARGO_TARGET_DIR/$PROFILE
log() { printf '== %s\n' "$*" >&2; }
command -v redis-server >/dev/null || { echo "needs redis-server: apt-get install redis-server" >&2; exit 2; }

log "building ($PROFILE)"
(cd "$ROOT" && cargo build -q "${CARGO_PROFILE[@]}" --bin palisade)
(cd "$ROOT/benches/tools" && cargo build -q --locked "${CARGO_PROFILE[@]}")
ulimit -n "$(ulimit -Hn)"

WORK=$(mktemp -d /tmp/palisade-cluster-bench.XXXXXX)
PIDS=()
cleanup() {
    stop_pid "${PIDS[@]}"
    rm -rf "$WORK"
}
trap cleanup EXIT
"$BIN/loadgen" setup --dir "$WORK"
REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
    >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
wait_listening "$REDIS_PORT" "$REDIS_PID" "$WORK/redis.log"

node_config() { # NAME PORT PREFIX (empty: no [cluster])
    { bench_config "$2" 1024; echo "history = 32"; } > "$WORK/$1.toml"
    if [ -n "$3" ]; then
        printf '[cluster]\nredis = "redis://127.0.0.1:%s/0"\nnode = "%s"\nprefix = "%s"\n' \
            "$REDIS_PORT" "$1" "$3" >> "$WORK/$1.toml"
    fi
}
start_node() { # NAME PORT -> sets NODE_PID
    RUST_LOG=error SMOL_THREADS=1 "$BIN/palisade" serve --config "$WORK/$1.toml" 2>>"$WORK/server.log" &
    NODE_PID=$!
    PIDS+=("$NODE_PID")
    wait_listening "$2" "$NODE_PID" "$WORK/server.log"
}

FAILED=0
fanout() { # SCENARIO LOADGEN-ARGS...
    local scenario=$1; shift
    log "$scenario"
    local out
    out=$(SMOL_THREADS=1 "$BIN/loadgen" --target palisade --ca "$WORK/ca.pem" \
        --token-file "$WORK/member.token" --fanout --members "$MEMBERS" --publishers 1 \
        --rate 0 --window 16 --body 64 --duration "$DURATION" --redis-pid "$REDIS_PID" "$@" \
        2>>"$WORK/loadgen.log") || { echo "loadgen failed: $(tail -1 "$WORK/loadgen.log")" >&2; FAILED=1; return; }
    case "$out" in *'"lost":0,'*) ;; *) FAILED=1 ;; esac
    printf '{"scenario": "%s", %s\n' "$scenario" "${out#\{}" | tee -a "$WORK/results.jsonl"
}

P1=$(free_port); P2=$(free_port)
node_config alone "$P1" ""
start_node alone "$P1"; A=$NODE_PID
fanout one-node --url "wss://127.0.0.1:$P1/ws" --server-pid "$A"
stop_pid "$A"

node_config a "$P1" bench-one
start_node a "$P1"; A=$NODE_PID
fanout one-node-cluster --url "wss://127.0.0.1:$P1/ws" --server-pid "$A"
stop_pid "$A"

node_config a "$P1" bench-two
node_config b "$P2" bench-two
start_node a "$P1"; A=$NODE_PID
start_node b "$P2"; B=$NODE_PID
fanout two-nodes --url "wss://127.0.0.1:$P1/ws" --second-addr "127.0.0.1:$P2" \
    --server-pid "$A" --also-pid "$B"
stop_pid "$A" "$B"

python3 - "$WORK/results.jsonl" <<'EOT'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| scenario | deliveries/s | server CPU µs/delivery (all nodes) | p99 ms | Redis CPU s | lost |")
print("|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['scenario']} | {r['deliveries_per_sec']:.0f} | {r['server_cpu_us_per_delivery']:.2f} | "
          f"{r.get('latency_p99_ms', 0)} | {r.get('redis_cpu_secs', 0)} | {r['lost']} |")
EOT
exit "$FAILED"
