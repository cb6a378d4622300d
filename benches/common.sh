# Sourced by benches/run.sh, storage.sh and cluster.sh: the pieces every
# benchmark server shares, so the three measure the same configuration.

# A free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Stops each process PID given (an empty one is skipped) and reaps it,
# whether or not it is still running.
stop_pid() { # PID...
    local pid
    for pid in "$@"; do
        [ -n "$pid" ] || continue
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}

# Makes WORK, a scratch directory (/tmp/NAME.XXXXXX) removed when the
# script exits, after the server whose pid is in SERVER_PID (if any) is
# stopped.
scratch() { # NAME
    WORK=$(mktemp -d "/tmp/$1.XXXXXX")
    SERVER_PID=""
    trap 'stop_pid "$SERVER_PID"; rm -rf "$WORK"' EXIT
}

# Whether something listens on 127.0.0.1:PORT.
listening() { ss -Hltn "sport = :$1" | grep -q LISTEN; }

# Waits (10 s at most) until PORT listens; fails naming LOG's tail when the
# process PID died first or nothing listens by then (exits the script).
wait_listening() { # PORT PID LOG
    for _ in $(seq 200); do
        listening "$1" && return 0
        kill -0 "$2" 2>/dev/null || break
        sleep 0.05
    done
    echo "nothing listens on $1:" >&2; tail -5 "$3" >&2; exit 1
}

# palisade's config for a benchmark, on stdout: the certificate and token
# key `loadgen setup` writes, and the limits raised so that none of them
# interferes with what is measured; QUEUE is `outbound_queue` (each
# session's queue is allocated up front, see BENCHMARKS.md). [limits] is
# the last table, so a caller may append more limits or other tables.
bench_config() { # PORT QUEUE
    cat <<EOT
listen = "127.0.0.1:$1"
[tls]
cert = "server.pem"
key = "server.key"
[auth]
public_keys = ["token.public"]
audience = "palisade"
[limits]
max_connections = 20000
max_connections_per_ip = 20000
idle_timeout_s = 3600
handshake_timeout_s = 30
publish_per_sec = 65535
frames_per_sec = 65535
violations_before_close = 1000
outbound_queue = $2
EOT
}
