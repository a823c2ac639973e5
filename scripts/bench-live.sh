#!/usr/bin/env bash
# Live-capture benchmark: offers small UDP packets (60-byte frames) on lo at several
# rates for SECONDS each, and runs `sniff -i lo -q` and `tcpdump -w /dev/null` in
# turn on the same traffic, printing what each captured and dropped.
#
#   sudo scripts/bench-live.sh                 # rates 50k 100k 200k and the maximum
#   RATES="100000 0" SECONDS_PER_RATE=5 sudo scripts/bench-live.sh
#
# Rate 0 means "as fast as the generator goes". The generator (Benchmarks/livegen/
# udpgen.c) is bounded in count and time and sends only to 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

rates=${RATES:-"50000 100000 200000 0"}
secs=${SECONDS_PER_RATE:-10}
scratch=$(mktemp -d /tmp/sniff-bench-live.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

command -v tcpdump >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q tcpdump >/dev/null; }
# SNIFF_BIN points at an existing binary (for instance a debug build) to skip the
# release build; figures are only comparable between release builds.
if [ -z "${SNIFF_BIN:-}" ]; then swift build -c release --product sniff >/dev/null; fi
cc -O2 -o "$scratch/udpgen" Benchmarks/livegen/udpgen.c
sniff=${SNIFF_BIN:-.build/release/sniff}

run_one() {  # tool rate port -> prints "sent captured kernel_dropped sniff_dropped"
    local tool=$1 rate=$2 port=$3 err="$scratch/$1.err" pid
    if [ "$tool" = sniff ]; then
        "$sniff" -i lo --direction in -q "udp dst port $port" 2>"$err" & pid=$!
    else
        tcpdump -i lo -Q in -w /dev/null "udp dst port $port" 2>"$err" & pid=$!
    fi
    for _ in $(seq 50); do grep -q "listening on" "$err" 2>/dev/null && break; sleep 0.1; done
    sleep 0.5
    local sent
    sent=$("$scratch/udpgen" 127.0.0.1 "$port" "$rate" "$secs" | awk '{print $1}')
    sleep 1
    kill -INT "$pid"; wait "$pid" || true
    local cap kd sd
    cap=$(awk '/packets captured/{print $1}' "$err")
    kd=$(awk '/dropped by kernel/{print $1}' "$err")
    sd=$(awk '/dropped by sniff/{print $1}' "$err"); sd=${sd:-0}
    echo "$sent $cap $kd $sd"
}

printf "%-10s %-8s %12s %12s %12s %12s %8s\n" "rate" "tool" "sent" "captured" "kernel drop" "sniff drop" "loss %"
for rate in $rates; do
    port=$((40000 + RANDOM % 20000))
    for tool in sniff tcpdump; do
        read -r sent cap kd sd < <(run_one "$tool" "$rate" "$port")
        loss=$(awk -v s="$sent" -v c="$cap" 'BEGIN{ if (s>0) printf "%.2f", (s-c)*100/s; else print "-" }')
        label=$rate; [ "$rate" = 0 ] && label=max
        printf "%-10s %-8s %12s %12s %12s %12s %8s\n" "$label" "$tool" "$sent" "$cap" "$kd" "$sd" "$loss"
    done
done
