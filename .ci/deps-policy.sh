#!/usr/bin/env bash
# The dependency policy of the product (the crates palisade links, every
# feature on, every target platform): no tokio runtime and no aws-lc.
#
# The exceptions are written out in ALLOWED below: a crate of the tokio
# family listed there may appear with features within its set (plus
# `default`, allowed only while that crate's `default` enables nothing).
# Today that is the `tokio` crate with {sync}: the `redis` crate's
# `smol-comp` support compiles tokio for its sync primitives only, which
# starts no runtime and opens no socket. Anything more fails: a tokio
# feature such as `rt`, `net`, `time`, `macros`, any other `tokio-*` crate
# (tokio-util, tokio-rustls, ...), or any `aws-lc-*`.
#
# Note for the cluster feature: redis 1.x's `aio` (which `smol-comp` turns
# on) also pulls `tokio-util` with `codec` (its RESP framing, through
# `combine/tokio`). Allowing it is one reviewed line, `[tokio-util]=codec`.
#
#   .ci/deps-policy.sh                  # the crate in the current directory
#   .ci/deps-policy.sh path/Cargo.toml  # another manifest (to test this script)
#
# Exits 0 and prints one line per feature set checked, or exits 1 naming
# each offending crate and how it is reached (`cargo tree -i`).
set -euo pipefail
manifest=${1:-Cargo.toml}
declare -A ALLOWED=(
    [tokio]="sync"
)

# An allowed crate's `default` feature must stay empty for "default" to
# mean nothing.
nonempty_defaults=$(cargo metadata --format-version 1 --manifest-path "$manifest" --locked |
    python3 -c '
import json, sys
allowed = set(sys.argv[1:])
for p in json.load(sys.stdin)["packages"]:
    if p["name"] in allowed and p["features"].get("default"):
        print(p["name"], p["version"], p["features"]["default"])' "${!ALLOWED[@]}")
if [ -n "$nonempty_defaults" ]; then
    echo "dependency policy: an allowed crate's default feature enables more: $nonempty_defaults"
    exit 1
fi

failed=0
for features in "" "--all-features"; do
    tree=$(cargo tree --manifest-path "$manifest" --locked -e normal --target all \
        --prefix none --no-dedupe $features -f '{p}|{f}' | sort -u)
    while IFS='|' read -r pkg feats; do
        name=${pkg%% *}
        if [ -n "${ALLOWED[$name]+set}" ]; then
            for f in ${feats//,/ }; do
                case " default ${ALLOWED[$name]} " in
                *" $f "*) ;;
                *)
                    echo "dependency policy: $pkg feature \"$f\" enabled (allowed: ${ALLOWED[$name]})"
                    cargo tree --manifest-path "$manifest" -e normal,features --target all $features \
                        -i "$name" --prefix none | grep -A3 "feature \"$f\"" | head -8 || true
                    failed=1 ;;
                esac
            done
            continue
        fi
        case "$name" in
        tokio | tokio-* | aws-lc-*)
            echo "dependency policy: banned crate $pkg"
            cargo tree --manifest-path "$manifest" -e normal --target all $features -i "$name" | head -10
            failed=1 ;;
        esac
    done <<<"$tree"
    if [ "$failed" = 0 ]; then
        echo "dependency policy ok (${features:-default features}): no tokio beyond {${ALLOWED[tokio]}}, no other tokio-*, no aws-lc-*"
    fi
done
exit "$failed"
