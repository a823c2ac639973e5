#!/usr/bin/env bash
# Sniff's performance suite, side by side with its peers, in one command:
#
#   scripts/bench.sh            full: 3.6 M small packets and a 1.1 GB mixed capture
#   scripts/bench.sh --small    CI's mode: 100 k + 20 k packets, one run, no goals judged,
#                               and the live benchmark's short preset (bench-live.sh --small)
#   scripts/bench.sh --live     also the full live-capture comparison (root; scripts/bench-live.sh:
#                               sniff -q, sniff top and tcpdump on loopback and a tcpreplay
#                               of the small-packets capture over a veth pair in a namespace)
#
# Steps: build release (CONFIG=debug to reuse a test build); generate the captures
# deterministically with sniff-bench (Sources/sniff-bench/SyntheticCapture.swift gives
# the mix) into BENCH_DIR (default /tmp/sniff-bench, never the repository); run
# `sniff -r F -q` (and, as `sniff-report`, with `--report FILE`), the C baseline (Benchmarks/baseline/flowcount.c, -O2), `tcpdump -nn
# -r F` and `tshark -q -z conv,tcp -z conv,udp -r F` alternately: Sniff and the C loop
# RUNS times (5), tcpdump and tshark PEER_RUNS times (1: on the small-packet capture
# tcpdump takes minutes, its TCP sequence table growing with every connection, and one
# run of a tool 10-100x slower decides the ratios as well as five); print median wall time, packets/s, MB/s, peak
# RSS (GNU time's maxrss of the process itself) and each peer's time over Sniff's. Then
# allocations per packet (sniff-bench --alloc-check under Benchmarks/malloc-count; exits
# non-zero above Benchmarks/allocation-limits.txt) and storage (scripts/bench-store.sh:
# sniff into SQLite and PostgreSQL beside sqlite3 .import and psql \copy; STORE=0 skips
# it, STORE_RUNS sets its runs, default 1).
#
# SNIFF_BIN and BENCH_BIN (a sniff and a sniff-bench already built) skip the build.
#
# Missing peers (tcpdump, tshark, sqlite3, GNU time) are installed with apt-get when run
# as root; otherwise their rows are skipped and say so.
set -euo pipefail
cd "$(dirname "$0")/.."

SMALL=0; LIVE=0
for a in "$@"; do
    case "$a" in
        --small) SMALL=1 ;;
        --live) LIVE=1 ;;
        *) echo "usage: scripts/bench.sh [--small] [--live]" >&2; exit 64 ;;
    esac
done
CONFIG=${CONFIG:-release}
SCRATCH=${SCRATCH:-.build}
BENCH_DIR=${BENCH_DIR:-/tmp/sniff-bench}
if [ "$SMALL" = 1 ]; then
    SMALL_PACKETS=${SMALL_PACKETS:-100000}; MIXED_PACKETS=${MIXED_PACKETS:-20000}
    RUNS=${RUNS:-1}; PEER_RUNS=${PEER_RUNS:-1}
else
    SMALL_PACKETS=${SMALL_PACKETS:-3600000}; MIXED_PACKETS=${MIXED_PACKETS:-1500000}
    RUNS=${RUNS:-5}; PEER_RUNS=${PEER_RUNS:-1}
fi
PEER_TIMEOUT=${PEER_TIMEOUT:-900}
mkdir -p "$BENCH_DIR"

# --- peers --------------------------------------------------------------------------
need=()
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v tshark >/dev/null || need+=(tshark)
command -v sqlite3 >/dev/null || need+=(sqlite3)
[ -x /usr/bin/time ] || need+=(time)
command -v cc >/dev/null || need+=(gcc libc6-dev)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing ${need[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null \
            || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null; }
    else
        echo "missing ${need[*]}: their rows are skipped (run as root to install them with apt-get)"
    fi
fi
[ -x /usr/bin/time ] || { echo "bench: GNU time (/usr/bin/time) is needed for peak RSS: apt-get install time" >&2; exit 1; }

# --- builds -------------------------------------------------------------------------
if [ -n "${SNIFF_BIN:-}" ] && [ -n "${BENCH_BIN:-}" ]; then
    SNIFF=$SNIFF_BIN; SNIFF_BENCH=$BENCH_BIN
    echo "== prebuilt: $SNIFF, $SNIFF_BENCH"
else
    echo "== build ($CONFIG)"
    swift build -c "$CONFIG" --scratch-path "$SCRATCH" --product sniff 2>&1 | tail -1
    swift build -c "$CONFIG" --scratch-path "$SCRATCH" --product sniff-bench 2>&1 | tail -1
    BIN=$(swift build -c "$CONFIG" --scratch-path "$SCRATCH" --show-bin-path)
    SNIFF=$BIN/sniff; SNIFF_BENCH=$BIN/sniff-bench
fi
cc -O2 -o "$BENCH_DIR/flowcount" Benchmarks/baseline/flowcount.c
cc -O2 -shared -fPIC -o "$BENCH_DIR/libmalloccount.so" Benchmarks/malloc-count/malloccount.c -ldl

# --- captures -----------------------------------------------------------------------
# Named by profile and count, so a rerun reuses them (the generator is deterministic).
SMALL_FILE=$BENCH_DIR/small-packets-$SMALL_PACKETS.pcap
MIXED_FILE=$BENCH_DIR/mixed-$MIXED_PACKETS.pcap
[ -f "$SMALL_FILE" ] || "$SNIFF_BENCH" --generate-only --profile small --packets "$SMALL_PACKETS" --file "$SMALL_FILE"
[ -f "$MIXED_FILE" ] || "$SNIFF_BENCH" --generate-only --profile mixed --packets "$MIXED_PACKETS" --file "$MIXED_FILE"

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo "== machine: $(nproc) cores, $cpu, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== versions: $(swift --version 2>&1 | head -1 | sed 's/ (.*//'); $(tcpdump --version 2>&1 | head -1); $(tshark --version 2>/dev/null | head -1)"

# --- one timed run: appends "tool seconds maxrss_kib exit" to $RESULTS ------------------
RESULTS=$(mktemp /tmp/sniff-bench-results.XXXXXX)
trap 'rm -f "$RESULTS" "$RESULTS.t"' EXIT
run() { # label command...
    local label=$1; shift
    local rc=0
    /usr/bin/time -f "%e %M" -o "$RESULTS.t" "$@" >/dev/null 2>&1 || rc=$?
    echo "$label $(tail -1 "$RESULTS.t") $rc" >>"$RESULTS"
}

bench_file() { # name file packets
    local name=$1 file=$2 packets=$3
    : >"$RESULTS"
    echo "== $name: $file ($packets packets, $(( $(stat -c %s "$file") / 1000000 )) MB), median of $RUNS (tcpdump and tshark: $PEER_RUNS), alternating"
    # One warm-up read so every tool starts from the page cache.
    cat "$file" >/dev/null
    for i in $(seq "$RUNS"); do
        run sniff "$SNIFF" -r "$file" -q
        # The same read with the address:port report asked for: -q alone skips that
        # table, which nothing reads then; this row shows what the report costs.
        run sniff-report "$SNIFF" -r "$file" -q --report "$BENCH_DIR/report.txt"
        run c-baseline "$BENCH_DIR/flowcount" "$file"
        # The peers get PEER_TIMEOUT seconds (default 900): tcpdump caches every IPv4
        # address it prints, even with -n, in a 4096-bucket chained table, so on the
        # small-packet capture (1.5 M distinct client addresses) it slows down as it goes
        # (300 k packets: 50-64 s; 3.6 M: not done after 26 min). A timed-out run is
        # shown as "> PEER_TIMEOUT", and its ratio as a lower bound.
        if [ "$i" -le "$PEER_RUNS" ]; then
            if command -v tcpdump >/dev/null; then run tcpdump timeout "$PEER_TIMEOUT" tcpdump -nn -r "$file"; fi
            if command -v tshark >/dev/null; then run tshark timeout "$PEER_TIMEOUT" tshark -q -z conv,tcp -z conv,udp -r "$file"; fi
        fi
    done
    python3 - "$RESULTS" "$file" "$packets" "$SMALL" "$PEER_TIMEOUT" <<'PY'
import os, statistics, sys
path, file, packets, small = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
limit = float(sys.argv[5])
mb = os.path.getsize(file) / 1e6
runs = {}
for line in open(path):
    tool, secs, rss, rc = line.split()
    runs.setdefault(tool, []).append((float(secs), int(rss), int(rc)))
order = [t for t in ("sniff", "sniff-report", "c-baseline", "tcpdump", "tshark") if t in runs]
med = {t: statistics.median(s for s, _, _ in runs[t]) for t in order}
rss = {t: max(r for _, r, _ in runs[t]) / 1024 for t in order}
# timeout(1) exits 124 when the limit passed: the time is a lower bound.
timedout = {t for t in order if any(rc == 124 for _, _, rc in runs[t])}
failed = [t for t in order if any(rc not in (0, 124) for _, _, rc in runs[t])]
print(f"{'tool':<12} {'median s':>9} {'M pkt/s':>8} {'MB/s':>8} {'peak RSS MiB':>13} {'time / sniff':>13}")
for t in order:
    s = max(med[t], 0.005)
    gt = ">" if t in timedout else " "
    lt = "<" if t in timedout else " "
    print(f"{t:<12} {gt}{med[t]:8.2f} {lt}{packets / s / 1e6:7.2f} {lt}{mb / s:7.0f} {rss[t]:13.0f} {gt}{med[t] / max(med['sniff'], 0.005):11.2f}x")
if failed:
    print("FAILED (non-zero exit): " + ", ".join(failed))
    sys.exit(1)
if small:
    print("(small mode: figures prove the suite runs; goals are judged on the full run)")
    sys.exit(0)
def goal(text, ok): print(f"goal: {text}: {'met' if ok else 'MISSED'}")
s = med["sniff"]
goal(f"sniff -r -q at most 1.5x the C baseline ({s / med['c-baseline']:.2f}x)", s <= 1.5 * med["c-baseline"])
for peer in ("tcpdump", "tshark"):
    if peer in med:
        goal(f"at least 15x faster than {peer} ({med[peer] / s:.1f}x)", med[peer] >= 15 * s)
if "tshark" in rss:
    goal(f"peak memory at most half of tshark's ({rss['sniff']:.0f} vs {rss['tshark']:.0f} MiB)", rss["sniff"] <= rss["tshark"] / 2)
PY
}

bench_file small-packets "$SMALL_FILE" "$SMALL_PACKETS"
bench_file mixed "$MIXED_FILE" "$MIXED_PACKETS"

# --- allocations per packet ---------------------------------------------------------
echo "== allocations per packet after warm-up (limits: Benchmarks/allocation-limits.txt)"
LD_PRELOAD="$BENCH_DIR/libmalloccount.so" "$SNIFF_BENCH" --alloc-check --keep --file "$SMALL_FILE" --only none \
    | grep -v '^peak RSS'

# --- storage ------------------------------------------------------------------------
# One run each: loading 3.6 M rows takes minutes, which evens out noise by itself.
# STORE=0 skips this part.
if [ "${STORE:-1}" != 0 ]; then
    echo "== storage (scripts/bench-store.sh)"
    SNIFF_BIN=$SNIFF RUNS=${STORE_RUNS:-1} scripts/bench-store.sh "$SMALL_FILE"
fi

# --- live ---------------------------------------------------------------------------
# Small mode runs its short preset (about 40 s; skipped, and said so, without root); the
# full one only with --live (about 25 min), on the small-packets capture made above.
if [ "$LIVE" = 1 ] || [ "$SMALL" = 1 ]; then
    echo "== live capture (scripts/bench-live.sh)"
    live_args=()
    [ "$SMALL" = 1 ] && live_args+=(--small)
    SNIFF_BIN=$SNIFF BENCH_BIN=$SNIFF_BENCH BENCH_DIR=$BENCH_DIR scripts/bench-live.sh "${live_args[@]}" --replay-packets "$SMALL_PACKETS"
fi
