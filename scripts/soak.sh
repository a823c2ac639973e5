#!/usr/bin/env bash
# A simulated 24 hours of churning flows through the flow table, release build, with
# the resident memory at the end of every simulated hour (Soak/FlowSoak.swift).
#
#   scripts/soak.sh [HOURS [FLOWS_PER_MINUTE]]     defaults: 24 and 50000
#
# Fails when the RSS of the last hour is more than 1.2 times that of hour 2. The debug
# test suite runs a scaled-down day (SoakTests); this is the full rate. Built by swiftc
# into .build-soak/ (not a SwiftPM target).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=.build-soak
BIN=$OUT/sniff-soak
MODULES=(SniffCore SniffDecode SniffCapture SniffAnalysis)
mkdir -p "$OUT/mods"
stamp=$( { swiftc --version 2>&1; cat "$0"; find Soak "${MODULES[@]/#/Sources/}" -type f | sort | xargs cat; } | sha256sum | cut -c1-16)
if [[ ! -x $BIN || ! -f $OUT/stamp || $(cat "$OUT/stamp") != "$stamp" ]]; then
    echo "== soak build ($OUT)"
    objs=()
    for m in "${MODULES[@]}"; do
        objs+=("$OUT/$m.o")
        swiftc -swift-version 6 -O -wmo -parse-as-library -I "$OUT/mods" -I Sources/CPcap -module-name "$m" \
            -emit-module-path "$OUT/mods/$m.swiftmodule" -c $(find "Sources/$m" -name '*.swift' | sort) \
            -o "$OUT/$m.o" > "$OUT/build.log" 2>&1 || { grep -v "warning:" "$OUT/build.log" >&2; exit 1; }
    done
    swiftc -swift-version 6 -O -wmo -parse-as-library -I "$OUT/mods" -I Sources/CPcap -module-name SniffSoak Soak/*.swift \
        "${objs[@]}" -Xlinker -lpcap -o "$BIN" > "$OUT/build.log" 2>&1 || { cat "$OUT/build.log" >&2; exit 1; }
    echo "$stamp" > "$OUT/stamp"
fi
"$BIN" "${1:-24}" "${2:-50000}"
