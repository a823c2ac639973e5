#!/usr/bin/env bash
# Fuzzes Sniff's readers, decoders and writers with libFuzzer.
#
#   scripts/fuzz.sh TARGET SECONDS     one target (see `scripts/fuzz.sh list`)
#   scripts/fuzz.sh all SECONDS        every target in turn, SECONDS each
#   scripts/fuzz.sh build              only build
#
# The harness (Fuzz/) is compiled with the library modules by swiftc with
# -sanitize=fuzzer,address into .build-fuzz/ (rebuilt only when a source changes); it
# is not a SwiftPM target, so `swift build` is unaffected (FUZZ_BUILD_DIR overrides the
# folder). One fuzzer process runs at a
# time, on one core. The corpus lives in a scratch directory (FUZZ_CORPUS, default
# /tmp/sniff-fuzz/corpus/TARGET), seeded from Tests/Fixtures, samples/,
# /work/shared/pcaps (or SNIFF_SHARED_PCAPS) and Tests/Regressions. A crash, leak or
# timeout leaves its input in .build-fuzz/findings/TARGET/ and makes the script fail:
# copy it to Tests/Regressions/TARGET-WHAT-HASH.bin, fix the bug, and it is replayed by
# `swift test --filter RegressionTests` forever after.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${FUZZ_BUILD_DIR:-.build-fuzz}
BIN=$OUT/sniff-fuzz
MODULES=(SniffCore SniffDecode SniffCapture SniffAnalysis)
TARGETS=(pcap pcapng ethernet linux_sll linux_sll2 null raw ipv4 ipv6 ip_reassembly tcp_reassembly tcp dns tls quic_initial tls_fingerprint http
         x509 detectors flows transactions report)
SHARED=${SNIFF_SHARED_PCAPS:-/work/shared/pcaps}
CORPUS_ROOT=${FUZZ_CORPUS:-${TMPDIR:-/tmp}/sniff-fuzz/corpus}

usage() { echo "usage: scripts/fuzz.sh TARGET|all|build|list [SECONDS]" >&2; exit 64; }

# ld.gold warns about every ASan symbol it cannot export; nothing else is filtered.
quiet() { grep -v -e "Cannot export local symbol" -e "^$" || true; }

build() {
    mkdir -p "$OUT/mods"
    local stamp
    stamp=$( { swiftc --version 2>&1; cat "$0"; find Fuzz "${MODULES[@]/#/Sources/}" Sources/CPcap Sources/CMaxMindDB Sources/CPrefetch -type f | sort | xargs cat; } | sha256sum | cut -c1-16)
    if [[ -x $BIN && -f $OUT/stamp && $(cat "$OUT/stamp") == "$stamp" ]]; then return; fi
    echo "== fuzz build ($OUT)"
    # swift-crypto (SniffDecode's QUIC Initial keys and TLS fingerprints, Community ID's
    # SHA-1) and Yams (SniffAnalysis's rule files) are not rebuilt here: their modules
    # and objects come from the package build, uninstrumented.
    local spm=${FUZZ_SWIFTPM_BUILD:-.build/debug}
    [[ -f $spm/Modules/Crypto.swiftmodule ]] || { echo "fuzz build needs \`swift build\` first ($spm)" >&2; exit 1; }
    local flags=(-swift-version 6 -O -wmo -sanitize=fuzzer,address -parse-as-library -I "$OUT/mods" -I Sources/CPcap -I Sources/CMaxMindDB
                 -I Sources/CPrefetch/include
                 -I "$spm/Modules" -I "$(dirname "$spm")/checkouts/Yams/Sources/CYaml/include")
    local objs=()
    local dep
    for dep in Crypto CryptoBoringWrapper CryptoExtras _CryptoExtras SwiftASN1 CCryptoBoringSSL CCryptoBoringSSLShims \
               CXKCP CXKCPShims Yams CYaml; do
        if [[ -d $spm/$dep.build ]]; then
            while IFS= read -r o; do objs+=("$o"); done < <(find "$spm/$dep.build" -name '*.o')
        fi
    done
    for m in "${MODULES[@]}"; do
        objs+=("$OUT/$m.o")
        # Each module as the package builds it (one module per folder), instrumented.
        swiftc "${flags[@]}" -module-name "$m" -emit-module-path "$OUT/mods/$m.swiftmodule" \
            -c $(find "Sources/$m" -name '*.swift' | sort) -o "$OUT/$m.o" > "$OUT/build.log" 2>&1 \
            || { grep -v "warning:" "$OUT/build.log" | quiet >&2; echo "fuzz build failed in $m" >&2; exit 1; }
    done
    swiftc "${flags[@]}" -module-name SniffFuzz Fuzz/*.swift "${objs[@]}" -Xlinker -lpcap -Xlinker -lmaxminddb -o "$BIN" \
        > "$OUT/build.log" 2>&1 || { quiet < "$OUT/build.log" >&2; echo "fuzz build failed at link" >&2; exit 1; }
    echo "$stamp" > "$OUT/stamp"
}

# Inputs are limited to what a target reads: a frame, a message, or a small file.
max_len() {
    case $1 in
        pcap|pcapng) echo 65536 ;;
        flows|transactions|report) echo 32768 ;;
        *) echo 4096 ;;
    esac
}

seed() {
    local target=$1 dir=$2 files=()
    mkdir -p "$dir"
    for f in Tests/Fixtures/*.pcap Tests/Fixtures/*.pcapng Tests/Fixtures/apps/*.pcap samples/*.pcap* "$SHARED"/*.pcap "$SHARED"/*.pcapng Tests/Regressions/*; do
        [[ -f $f && $f != *.txt && $f != *.tsv && $f != *.json ]] && files+=("$f")
    done
    SWIFT_BACKTRACE=enable=no FUZZ_TARGET=$target FUZZ_SEED_OUT=$dir FUZZ_SEED_FROM="$(printf '%s\n' "${files[@]}")" \
        ASAN_OPTIONS=detect_leaks=0 "$BIN" 2>&1 | grep "seeds for" || true
}

run_one() {
    local target=$1 seconds=$2
    local corpus=$CORPUS_ROOT/$target findings=$OUT/findings/$target log=$OUT/logs/$target.log
    mkdir -p "$findings" "$OUT/logs"
    seed "$target" "$corpus"
    echo "== fuzz $target for ${seconds}s"
    local status=0
    # One process, one core. A fixed seed (FUZZ_SEED) makes short CI runs repeatable.
    # -timeout: a single input taking 10 s is a hang. The Swift
    # backtracer is off: ASan prints the stack, and the backtracer could outlive a crash.
    SWIFT_BACKTRACE=enable=no FUZZ_TARGET=$target ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1} \
        "$BIN" "$corpus" -max_total_time="$seconds" -max_len="$(max_len "$target")" -timeout=10 \
        -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$findings/" -seed="${FUZZ_SEED:-1}" \
        > "$log" 2>&1 || status=$?
    local execs rate
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    local result=ok
    if [[ $status != 0 ]]; then
        result="FAILED (exit $status)"
        grep -E "ERROR|SUMMARY|fuzz check failed|Fatal error|Test unit written" "$log" | head -20 >&2 || true
        echo "   log: $log; inputs: $findings/" >&2
    fi
    printf '%-11s %10s execs %8s exec/s  %s\n' "$target" "$execs" "$rate" "$result" | tee -a "$OUT/stats.txt"
    return "$status"
}

[[ $# -ge 1 ]] || usage
case $1 in
    list) printf '%s\n' "${TARGETS[@]}"; exit 0 ;;
    build) build; exit 0 ;;
esac
[[ $# -eq 2 && $2 =~ ^[0-9]+$ ]] || usage
build
if [[ $1 == all ]]; then
    failed=()
    for t in "${TARGETS[@]}"; do run_one "$t" "$2" || failed+=("$t"); done
    if (( ${#failed[@]} )); then echo "fuzz: findings in ${failed[*]}" >&2; exit 1; fi
    echo "fuzz: no findings in ${#TARGETS[@]} targets"
else
    [[ " ${TARGETS[*]} " == *" $1 "* ]] || { echo "unknown target $1; one of: ${TARGETS[*]}" >&2; exit 64; }
    run_one "$1" "$2"
fi
