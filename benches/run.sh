#!/usr/bin/env bash
# Benchmarks for BENCHMARKS.md: palisade side by side with its baselines.
#
#   benches/run.sh                  # the full run (release builds, ~15 min on 2 cores)
#   benches/run.sh --quick          # smoke run: debug build, palisade only, tens of sessions
#   benches/run.sh --targets "palisade tokio" [--quick]
#
# Targets: palisade, palisade-t2 (the same with SMOL_THREADS=2), defaults
# (benches/baseline-defaults), tokio (benches/baseline-tokio), mosquitto
# (Debian's, over MQTT-on-WebSocket with TLS; installed with apt-get if
# missing). Every server runs in its own process, started fresh for each
# scenario, with the load generator (benches/tools/src/bin/loadgen.rs) in
# another; the
# server's RSS and CPU time come from /proc. Everything is made in a
# temporary folder (certificate, keys, token, configs) and removed after;
# nothing is downloaded at run time except crates and apt packages.
#
# Prints one table (and writes the raw JSON lines next to it with --out).
# Exits non-zero when a scenario fails or a session errors, so CI can run
# --quick as a smoke test.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/benches/common.sh"
QUICK=0
TARGETS=""
OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --targets) TARGETS="$2"; shift ;;
        --out) OUT="$2"; shift ;;
        *) echo "usage: $0 [--quick] [--targets \"palisade palisade-t2 defaults tokio mosquitto\"] [--out FILE]" >&2; exit 2 ;;
    esac
    shift
done
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
if [ "$QUICK" = 1 ]; then
    : "${TARGETS:=palisade}"
    PROFILE=debug; CARGO_PROFILE=()
    IDLE_N="20"; IDLE_HOLD=1; HANDSHAKES=50; MEMBERS="10"; BODIES="64"
    DURATION=1; LAT_MEMBERS=10; LAT_RATE=50; FLOOR_MS=100; STORM=50; BURST_MEMBERS=10
else
    : "${TARGETS:=palisade palisade-t2 defaults tokio mosquitto}"
    PROFILE=release; CARGO_PROFILE=(--release)
    IDLE_N="1000 10000"; IDLE_HOLD=5; HANDSHAKES=5000; MEMBERS="100 1000"; BODIES="64 1024"
    DURATION=10; LAT_MEMBERS=1000; LAT_RATE=200; FLOOR_MS=2000; STORM=1000; BURST_MEMBERS=100
fi
BIN=$CARGO_TARGET_DIR/$PROFILE
# The load generator's threads (`--threads`): 1 keeps it off the server's
# core on this 2-core machine; more lets one process pass ~1 M deliveries/s.
: "${LOADGEN_THREADS:=1}"
log() { printf '== %s\n' "$*" >&2; }
has() { case " $TARGETS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
# `palisade-before`: another palisade binary (an earlier build) side by side.
if has palisade-before; then [ -x "${PALISADE_BEFORE:-}" ] || { echo "palisade-before needs PALISADE_BEFORE=/path/to/palisade" >&2; exit 2; }; fi

log "building ($PROFILE)"
(cd "$ROOT" && cargo build -q "${CARGO_PROFILE[@]}" --bin palisade)
# The load generator and crypto floor: their own crate (benches/tools), built
# into the same target folder so they share palisade's compiled dependencies.
(cd "$ROOT/benches/tools" && cargo build -q --locked "${CARGO_PROFILE[@]}")
for b in defaults tokio; do
    if has "$b"; then (cd "$ROOT/benches/baseline-$b" && cargo build -q "${CARGO_PROFILE[@]}"); fi
done
if has mosquitto && ! command -v mosquitto >/dev/null; then
    log "installing mosquitto"
    apt-get update -qq && apt-get install -y -qq mosquitto >/dev/null
fi

# One fd per session, on both sides.
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge 12000 ] || [ "$QUICK" = 1 ] || { echo "need ulimit -n >= 12000" >&2; exit 1; }

scratch palisade-bench
RESULTS=$WORK/results.jsonl
: > "$RESULTS"
"$BIN/loadgen" setup --dir "$WORK"
PORT=$(free_port)
PLAIN_PORT=$(free_port)

# QUEUE 1024 only for fan-out; the default 32 elsewhere.
palisade_config() { # QUEUE
    { bench_config "$PORT" "$1"
      # Rooms in memory, like the baselines; benches/storage.sh measures
      # what file storage (serve's default) costs on top.
      printf '[storage]\nkind = "memory"\n'
    } > "$WORK/palisade-$1.toml"
}
palisade_config 32
palisade_config 1024
# The reconnect storm's three [presence] settings (palisade only).
for p in "off:[]:100" "on:[\"*\"]:100" "all:[\"*\"]:$STORM"; do
    IFS=: read -r name events max <<<"$p"
    { cat "$WORK/palisade-32.toml"; printf '[presence]\nevents = %s\nevents_max_members = %s\n' "$events" "$max"; } \
        > "$WORK/palisade-storm-$name.toml"
done
cat > "$WORK/mosquitto.conf" <<EOF
per_listener_settings false
allow_anonymous true
persistence false
user root
log_dest stderr
log_type error
max_queued_messages 1024
listener $PLAIN_PORT 127.0.0.1
socket_domain ipv4
listener $PORT 127.0.0.1
socket_domain ipv4
protocol websockets
certfile $WORK/server.pem
keyfile $WORK/server.key
EOF

start_server() { # TARGET QUEUE
    local target=$1 queue=$2
    case "$target" in
        palisade) RUST_LOG=error SMOL_THREADS=1 "$BIN/palisade" serve --config "$WORK/palisade-$queue.toml" 2>>"$WORK/server.log" & ;;
        palisade-t2) RUST_LOG=error SMOL_THREADS=2 "$BIN/palisade" serve --config "$WORK/palisade-$queue.toml" 2>>"$WORK/server.log" & ;;
        palisade-before) RUST_LOG=error SMOL_THREADS=1 "$PALISADE_BEFORE" serve --config "$WORK/palisade-$queue.toml" 2>>"$WORK/server.log" & ;;
        defaults|tokio) "$BIN/baseline-$target" "127.0.0.1:$PORT" "$WORK/server.pem" "$WORK/server.key" "$WORK/token.public" palisade 2>>"$WORK/server.log" & ;;
        mosquitto) mosquitto -c "$WORK/mosquitto.conf" 2>>"$WORK/server.log" & ;;
    esac
    SERVER_PID=$!
    for _ in $(seq 100); do
        if ss -Hltn "sport = :$PORT" | grep -q LISTEN; then sleep 0.3; return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "server $target did not start:" >&2; tail -5 "$WORK/server.log" >&2; return 1
}
stop_server() {
    stop_pid "$SERVER_PID"
    SERVER_PID=""
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

FAILED=0
record() { # TARGET SCENARIO JSON
    python3 - "$1" "$2" "$3" >> "$RESULTS" <<'EOF'
import json, sys
r = json.loads(sys.argv[3]) if sys.argv[3].startswith("{") else {"error": sys.argv[3]}
r.update(bench_target=sys.argv[1], scenario=sys.argv[2])
print(json.dumps(r))
EOF
}
run_scenario() { # TARGET QUEUE SCENARIO LOADGEN-ARGS...
    local target=$1 queue=$2 scenario=$3; shift 3
    local proto url out
    case "$target" in
        palisade*) proto=palisade; url="wss://127.0.0.1:$PORT/ws" ;;
        mosquitto) proto=mqtt; url="wss://127.0.0.1:$PORT/mqtt" ;;
        *) proto=plain-ws; url="wss://127.0.0.1:$PORT/ws" ;;
    esac
    log "$target: $scenario"
    start_server "$target" "$queue" || { record "$target" "$scenario" "server did not start"; FAILED=1; return; }
    if [ "$scenario" = start ]; then
        record "$target" start "{\"rss_start_kib\": $(rss_kib "$SERVER_PID")}"
    elif out=$("$BIN/loadgen" --threads "$LOADGEN_THREADS" --target "$proto" --url "$url" --ca "$WORK/ca.pem" \
            --token-file "$WORK/member.token" --server-pid "$SERVER_PID" "$@" 2>>"$WORK/loadgen.log"); then
        record "$target" "$scenario" "$out"
        # Refused sessions fail any target; lost deliveries fail palisade
        # only (a baseline that drops messages is a finding, not a failure).
        case "$target:$out" in
            *'"errors":0'* | *'"lost":0,'* | [!p]*'"lost":'* | *'"closed":0,'*) ;;
            *) FAILED=1 ;;
        esac
        # An honest member closed during a fan-out fails palisade too.
        case "$target:$out" in
            p*'"closed_early":'[1-9]*) FAILED=1 ;;
        esac
    else
        record "$target" "$scenario" "loadgen failed: $(tail -1 "$WORK/loadgen.log")"; FAILED=1
    fi
    stop_server
}

log "crypto floor"
FLOOR=$("$BIN/cryptofloor" "$FLOOR_MS")
record floor floor "$FLOOR"
# Each scenario runs for every target before the next scenario starts. A
# host that speeds up or slows down during the run (measured: the crypto
# floor moved by a fifth within one run, and the target that ran first
# paid for it in every row) then moves a row, which every target shares,
# not a column.
each() { # QUEUE SCENARIO LOADGEN-ARGS...
    local target
    for target in $TARGETS; do run_scenario "$target" "$@"; done
}
each 32 start
for n in $IDLE_N; do
    each 32 "idle-$n" --sessions "$n" --idle "$IDLE_HOLD" --concurrency 32
done
each 32 handshakes --handshakes "$HANDSHAKES" --concurrency 32
# The same burst with TLS resumption: each connection presents the
# ticket an earlier one was sent.
each 32 handshakes-resumed --handshakes "$HANDSHAKES" --concurrency 32 --resume
for m in $MEMBERS; do
    for b in $BODIES; do
        # 1 KiB bodies, then every session held idle: memory after traffic.
        after=(); [ "$b" != 1024 ] || after=(--idle-after "$IDLE_HOLD")
        each 1024 "fanout-$m-$b" --fanout --members "$m" --publishers 1 \
            --rate 0 --window 16 --body "$b" --duration "$DURATION" "${after[@]}"
    done
done
# Several publishers bursting at once into members with the default
# queue (32): nothing may be lost and no honest member evicted.
each 32 burst --fanout --members "$BURST_MEMBERS" --publishers 8 \
    --rate 0 --window 16 --body 64 --duration "$DURATION"
each 1024 latency --fanout --members "$LAT_MEMBERS" --publishers 1 \
    --rate "$LAT_RATE" --body 64 --duration "$DURATION"
# A tenth of that rate, which every target sustains on 2 cores.
each 1024 latency-low --fanout --members "$LAT_MEMBERS" --publishers 1 \
    --rate "$((LAT_RATE / 10))" --body 64 --duration "$DURATION"
# Presence: STORM users join one room at once, events off, on (the
# default 100-user limit) and on for everyone; palisade's builds only.
for p in off on all; do
    for target in $TARGETS; do
        case "$target" in
            palisade|palisade-t2)
                run_scenario "$target" "storm-$p" "storm-$p" --storm --sessions "$STORM" \
                    --concurrency 32 --users-key "$WORK/token.secret" ;;
        esac
    done
done

sizes() {
    local f
    for t in $TARGETS; do
        case "$t" in
            palisade-before) f=$PALISADE_BEFORE ;;
            palisade*) f=$BIN/palisade ;;
            mosquitto) f=$(command -v mosquitto) ;;
            *) f=$BIN/baseline-$t ;;
        esac
        strip -o "$WORK/stripped" "$f" 2>/dev/null && echo "$t $(stat -c %s "$WORK/stripped")" || echo "$t $(stat -c %s "$f")"
    done
}
sizes > "$WORK/sizes.txt"
[ -z "$OUT" ] || cp "$RESULTS" "$OUT"
python3 - "$RESULTS" "$WORK/sizes.txt" "$TARGETS" "$IDLE_N" "$MEMBERS" "$BODIES" "$HANDSHAKES" "$LAT_RATE" "$LAT_MEMBERS" "$STORM" <<'EOF'
import json, sys
results, sizes_file, targets, idle_n, members, bodies, handshakes, lat_rate, lat_members, storm = sys.argv[1:]
targets = targets.split()
rows = [json.loads(l) for l in open(results)]
by = {(r["bench_target"], r["scenario"]): r for r in rows}
floor = by.get(("floor", "floor"), {})
sizes = dict(l.split() for l in open(sizes_file))

def cell(t, scenario, f):
    r = by.get((t, scenario))
    if r is None:
        return "-"
    if "error" in r:
        return "FAIL"
    try:
        return f(r)
    except (KeyError, ZeroDivisionError, TypeError):
        return "?"

table = []
table.append(("binary, stripped (MiB)", lambda t: f"{int(sizes[t]) / 2**20:.2f}"))
table.append(("RSS after start (MiB)", lambda t: cell(t, "start", lambda r: f"{r['rss_start_kib'] / 1024:.1f}")))
for n in idle_n.split():
    table.append((f"idle session @{n} (KiB each)", lambda t, n=n: cell(t, f"idle-{n}", lambda r: f"{r['bytes_per_session'] / 1024:.1f}" + ("" if r["open"] == int(n) else f" ({r['open']} open)"))))
table.append((f"handshake, server CPU (µs; burst {handshakes})", lambda t: cell(t, "handshakes", lambda r: f"{r['server_cpu_us_per_handshake']:.0f}")))
table.append(("handshake ÷ crypto floor", lambda t: cell(t, "handshakes", lambda r: f"{r['server_cpu_us_per_handshake'] / floor['floor_us']:.2f}×")))
table.append(("handshakes/s (client-bound)", lambda t: cell(t, "handshakes", lambda r: f"{r['handshakes_per_sec']:.0f}")))
table.append(("resumed handshake, server CPU (µs)", lambda t: cell(t, "handshakes-resumed", lambda r: f"{r['server_cpu_us_per_handshake']:.0f}")))
for m in members.split():
    for b in bodies.split():
        table.append((f"fan-out 1→{m}, {b} B: deliveries/s", lambda t, s=f"fanout-{m}-{b}": cell(t, s, lambda r: f"{r['deliveries_per_sec']:.0f}" + (f" (lost {r['lost']})" if r["lost"] else ""))))
        table.append((f"fan-out 1→{m}, {b} B: server CPU µs/delivery", lambda t, s=f"fanout-{m}-{b}": cell(t, s, lambda r: f"{r['server_cpu_us_per_delivery']:.2f}")))
for m in members.split():
    table.append((f"after traffic (1→{m}, 1 KiB, then idle): KiB per session", lambda t, s=f"fanout-{m}-1024": cell(t, s, lambda r: f"{r['bytes_per_session_after'] / 1024:.1f}" if r.get("idle_after_secs") else "-")))
table.append(("burst, 8 publishers × 16 in flight, queue 32: deliveries/s", lambda t: cell(t, "burst", lambda r: f"{r['deliveries_per_sec']:.0f}")))
table.append(("burst: lost, members closed", lambda t: cell(t, "burst", lambda r: f"{r['lost']}, {r['closed_early']}")))
table.append((f"latency at {lat_rate}/s into {lat_members}: p50 / p99 (ms)", lambda t: cell(t, "latency", lambda r: f"{r['latency_p50_ms']:.2f} / {r['latency_p99_ms']:.2f}" + (f" (lost {r['lost']})" if r["lost"] else ""))))
table.append((f"latency run: publishes/s reached, server CPU µs/delivery", lambda t: cell(t, "latency", lambda r: f"{r['publish_rate']:.0f}, {r['server_cpu_us_per_delivery']:.2f}")))
low = int(lat_rate) // 10
table.append((f"latency at {low}/s into {lat_members}: p50 / p99 (ms)", lambda t: cell(t, "latency-low", lambda r: f"{r['latency_p50_ms']:.2f} / {r['latency_p99_ms']:.2f}" + (f" (lost {r['lost']})" if r["lost"] else ""))))
table.append((f"latency-low run: server CPU µs/delivery", lambda t: cell(t, "latency-low", lambda r: f"{r['server_cpu_us_per_delivery']:.2f}")))
for p, what in [("off", "events off"), ("on", "events ≤ 100 users"), ("all", f"events to all {storm}")]:
    table.append((f"storm of {storm} joins, {what}: last Joined (ms), server CPU (ms), events", lambda t, s=f"storm-{p}": cell(t, s, lambda r: f"{r['join_wall_secs'] * 1000:.0f}, {r['server_cpu_secs'] * 1000:.0f}, {r['member_events']}" + (f" ({r['closed']} closed)" if r["closed"] else ""))))

print(f"crypto floor per session: {floor.get('floor_us', '?')} µs = X25519 {floor.get('x25519_us')} + ECDSA P-256 sign {floor.get('ecdsa_p256_sign_us')} + Ed25519 verify {floor.get('ed25519_verify_us')}")
print()
print("| | " + " | ".join(targets) + " |")
print("|---|" + "---|" * len(targets))
for name, f in table:
    print(f"| {name} | " + " | ".join(f(t) for t in targets) + " |")
EOF
if [ "$FAILED" != 0 ]; then
    echo "some scenarios failed or lost sessions:" >&2
    grep -E '"error"|"errors": [1-9]' "$RESULTS" >&2 || true
    tail -5 "$WORK/loadgen.log" "$WORK/server.log" >&2 || true
    exit 1
fi
