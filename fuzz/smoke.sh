#!/usr/bin/env bash
# Builds the fuzz crate and runs every target for a bounded time; exits
# non-zero on the first crash, panic, leak or timeout libFuzzer reports.
#
#   fuzz/smoke.sh            # 30 s per target
#   SECONDS_PER_TARGET=600 fuzz/smoke.sh
#
# Each run starts from the committed seeds but writes what it discovers
# to a scratch corpus ($FUZZ_SCRATCH, default a temporary directory), so
# the tree stays clean; crashes land in fuzz/artifacts/<target>/ (ignored).
set -euo pipefail
cd "$(dirname "$0")"

secs="${SECONDS_PER_TARGET:-30}"
targets=(client_frame frame_roundtrip request_head token config)

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi

if [ -n "${FUZZ_SCRATCH:-}" ]; then
    scratch="$FUZZ_SCRATCH"
else
    scratch="$(mktemp -d)"
    trap 'rm -rf "$scratch"' EXIT
fi
cargo +nightly fuzz build

for t in "${targets[@]}"; do
    mkdir -p "$scratch/$t"
    cp -n corpus/"$t"/* "$scratch/$t"/ 2>/dev/null || true
    # request_head needs inputs past MAX_HEAD_BYTES (8 KiB) to reach TooLarge.
    max_len=4096
    [ "$t" = request_head ] && max_len=20000
    echo "== $t (${secs}s)"
    cargo +nightly fuzz run "$t" "$scratch/$t" -- \
        -max_total_time="$secs" -max_len="$max_len" -print_final_stats=1
done
echo "fuzz smoke passed: ${targets[*]}"
