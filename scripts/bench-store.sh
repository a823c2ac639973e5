#!/usr/bin/env bash
# Storage throughput and API latency.
#
#   scripts/bench-store.sh [CAPTURE...]   (default /tmp/sniff-bench-small.pcap, made by
#                                          swift run -c release sniff-bench --keep)
#
# For each capture, SQLite: `sniff -r CAPTURE -q --db sqlite:...` wall time, giving
# packet rows/s; the writer's own count of all rows (packets, flows, per-second
# traffic, flow counts) per second of writing; bytes per packet on disk (the file after
# a checkpoint, flows and key runs included, divided by the packets). Beside them the
# sqlite3 shell's peer: INSERT ... SELECT of the same packet rows into an empty copy of
# the same schema (the packets table has no secondary index since schema 7; CSV
# `.import` cannot carry its BLOB address columns).
#
# Then the API: the first capture is loaded LOADS times (default 1) into one database
# (3 x the small capture is about 11 M packets), and scripts/bench-queries.py sends
# REQUESTS (default 200) requests per route to `sniff serve`, printing p50/p99; ROUTES (a
# regular expression) times only the routes whose names match.
#
# PG=1 adds the PostgreSQL comparison (`sniff -r --db postgres://` against psql \copy of
# the same rows), with a throwaway server (scripts/pg-temp.sh, fsync on).
#
# CH=1 adds ClickHouse (`sniff -r --db clickhouse://` into a throwaway server,
# scripts/ch-temp.sh): packet rows/s, bytes per packet on disk (every table's active
# parts, and the packets table's alone), and the peer: the same packet rows exported as
# RowBinary and inserted again with one HTTP POST by curl.
#
# SNIFF_BIN=path reuses a built sniff (scripts/bench.sh does); otherwise a release
# build is made in SCRATCH (default .build). RUNS (default 1) repeats each load and
# keeps the best.
set -euo pipefail
cd "$(dirname "$0")/.."
SCRATCH=${SCRATCH:-.build}
RUNS=${RUNS:-1}
LOADS=${LOADS:-1}
REQUESTS=${REQUESTS:-200}
[ $# -gt 0 ] || set -- /tmp/sniff-bench-small.pcap

if [ -n "${SNIFF_BIN:-}" ]; then
    SNIFF=$SNIFF_BIN
else
    swift build -c release --scratch-path "$SCRATCH" --product sniff >/dev/null
    BIN=$(swift build -c release --scratch-path "$SCRATCH" --show-bin-path)
    SNIFF=$BIN/sniff
    if [ ! -f "$1" ]; then
        swift build -c release --scratch-path "$SCRATCH" --product sniff-bench >/dev/null
        "$BIN/sniff-bench" --generate-only --file "$1" >/dev/null
    fi
fi
for f in "$@"; do [ -f "$f" ] || { echo "bench-store: $f does not exist (scripts/bench.sh makes one)"; exit 1; }; done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sniff-bench-store.XXXXXX")
cleanup() {
    if [ "${PG:-0}" = 1 ]; then pg_temp_stop; fi
    if [ "${CH:-0}" = 1 ]; then ch_temp_stop; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
secs() { python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$1" "$2"; }
min() { python3 -c "import sys; print(min(float(x) for x in sys.argv[1:]))" "$@"; }
stored() { sed -n 's/.* \([0-9]*\) stored,.*/\1/p' "$1"; }
# "... 95 rows in 21 ms of writing (4454 rows/s)" -> "95 4454"
writer() { sed -n 's/.* \([0-9]*\) rows in .* (\([0-9]*\) rows\/s).*/\1 \2/p' "$1"; }

echo "sniff: $SNIFF; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine slows every figure); best of $RUNS"
printf '%-22s %9s %10s %12s %12s %10s %14s\n' capture packets "wall s" "packets/s" "all rows/s" "B/packet" "sqlite3 peer/s"
for FILE in "$@"; do
    best=""
    for _ in $(seq "$RUNS"); do
        rm -rf "$WORK/bench.db"* "$WORK/j"
        t0=$(now)
        "$SNIFF" -r "$FILE" -q --db "sqlite:$WORK/bench.db" --sensor bench --journal "$WORK/j" 2>"$WORK/sqlite.log"
        t1=$(now)
        s=$(secs "$t0" "$t1")
        best=$(min "$s" "${best:-$s}")
    done
    packets=$(stored "$WORK/sqlite.log")
    read -r allrows writerrate <<<"$(writer "$WORK/sqlite.log")"
    sqlite3 "$WORK/bench.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
    size=$(stat -c %s "$WORK/bench.db")
    # The peer: the same packet rows into an empty copy of the schema, by sqlite3 alone.
    rm -f "$WORK/peer.db"*
    sqlite3 "$WORK/bench.db" .schema | grep -v '^CREATE TABLE sqlite_' | sqlite3 "$WORK/peer.db"
    t0=$(now)
    sqlite3 "$WORK/peer.db" "PRAGMA journal_mode=WAL" "PRAGMA synchronous=NORMAL" \
        "ATTACH '$WORK/bench.db' AS b" "INSERT INTO main.packets SELECT * FROM b.packets" >/dev/null
    t1=$(now)
    peer=$(secs "$t0" "$t1")
    python3 - "$(basename "$FILE")" "$packets" "$best" "$allrows" "$writerrate" "$size" "$peer" <<'EOF'
import sys
name, packets, wall, allrows, writer, size, peer = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
print(f"{name:<22} {packets:>9} {wall:>10.1f} {packets / wall / 1000:>10.0f} k {writer / 1000:>10.0f} k {size / packets:>10.1f} {packets / peer / 1000:>12.0f} k")
EOF
    # When each kind's last batch was stored, counted from the first batch made: the
    # packets finish long before the flows when the flows' indexes are the bottleneck.
    sqlite3 "$WORK/bench.db" "SELECT '    ' || kind || ': ' || sum(row_count) || ' rows, last stored at ' || printf('%.1f', (max(stored_at) - (SELECT min(created_at) FROM sniff_batches)) / 1e9) || ' s' FROM sniff_batches WHERE kind IN ('packets', 'flows') GROUP BY kind"
    if sqlite3 "$WORK/bench.db" "SELECT 1 FROM dbstat LIMIT 1" >/dev/null 2>&1; then
        sqlite3 "$WORK/bench.db" "SELECT '    of which packets ' || printf('%.1f', sum(pgsize) * 1.0 / $packets) || ' B, key runs ' || printf('%.1f', (SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'sniff_key_runs%' OR name = 'sniff_segments') * 1.0 / $packets) || ' B, flows ' || printf('%.1f', (SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'flows%') * 1.0 / $packets) || ' B per packet' FROM dbstat WHERE name = 'packets'"
    fi
done

# API latency over LOADS copies of the first capture.
rm -rf "$WORK/query.db"* "$WORK/j"
for i in $(seq "$LOADS"); do
    "$SNIFF" -r "$1" -q --db "sqlite:$WORK/query.db" --sensor "bench$i" --journal "$WORK/j" 2>/dev/null
done
packets=$(sqlite3 "$WORK/query.db" "SELECT count(*) FROM packets")
span=$(sqlite3 "$WORK/query.db" "SELECT printf('%.6f,%.6f', min(ts) / 1e9, max(ts) / 1e9) FROM packets")
echo
echo "API over $packets stored packets ($LOADS x $(basename "$1")), $REQUESTS requests per route, nothing else running:"
python3 scripts/bench-queries.py --sniff "$SNIFF" --db "sqlite:$WORK/query.db" --requests "$REQUESTS" --span "$span" \
    ${ROUTES:+--only "$ROUTES"}

if [ "${PG:-0}" = 1 ]; then
    # shellcheck source=scripts/pg-temp.sh
    . scripts/pg-temp.sh
    PG_TEMP_FSYNC=on pg_temp_start
    PSQL="$SNIFF_TEST_PG_BIN/psql -X -q -v ON_ERROR_STOP=1"
    export PGOPTIONS="-c client_min_messages=warning"
    COLS=capture_id,sensor,n,ts,len,caplen,iface,link,eth_src,eth_dst,vlan,ip,src,dst,proto,transport,sport,dport,seq,ack,tcp_flags,tcp_window,payload_len,icmp_type,icmp_code,dns_query,app,flow_uid
    echo
    for FILE in "$@"; do
        $PSQL "$SNIFF_TEST_PG_URL" -c "DROP DATABASE IF EXISTS bench" -c "CREATE DATABASE bench"
        URL="${SNIFF_TEST_PG_URL%/postgres}/bench"
        "$SNIFF" db migrate --db "$URL" >/dev/null
        t0=$(now)
        "$SNIFF" -r "$FILE" -q --db "$URL" --sensor bench --journal "$WORK/j" 2>"$WORK/pg.log"
        t1=$(now)
        wall=$(secs "$t0" "$t1")
        rows=$(stored "$WORK/pg.log")
        $PSQL "$URL" -c "\\copy (SELECT $COLS FROM packets) TO '$WORK/packets.csv' WITH (FORMAT csv)"
        $PSQL "$URL" -c "TRUNCATE packets" -c "CHECKPOINT"
        t0=$(now)
        $PSQL "$URL" -c "\\copy packets ($COLS) FROM '$WORK/packets.csv' WITH (FORMAT csv)"
        t1=$(now)
        copy=$(secs "$t0" "$t1")
        python3 -c "import sys; n, w, c = int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]); print(f'{sys.argv[1]:<22} PostgreSQL {n / w / 1000:.0f} k packet rows/s, psql \\\\copy (same table) {n / c / 1000:.0f} k')" \
            "$(basename "$FILE")" "$rows" "$wall" "$copy"
    done
fi

if [ "${CH:-0}" = 1 ]; then
    # shellcheck source=scripts/ch-temp.sh
    . scripts/ch-temp.sh
    ch_temp_start
    CHHTTP="http://127.0.0.1:${SNIFF_TEST_CH_URL#clickhouse://default@127.0.0.1:}"
    CHHTTP="${CHHTTP%/default}/"
    chq() { curl -sS --fail-with-body "$CHHTTP?database=bench" --data-binary "$1"; }
    echo
    for FILE in "$@"; do
        curl -sS --fail-with-body "$CHHTTP" --data-binary "DROP DATABASE IF EXISTS bench" >/dev/null
        URL="${SNIFF_TEST_CH_URL%/default}/bench"
        "$SNIFF" db migrate --db "$URL" >/dev/null
        t0=$(now)
        "$SNIFF" -r "$FILE" -q --db "$URL" --sensor bench --journal "$WORK/j" 2>"$WORK/ch.log"
        t1=$(now)
        wall=$(secs "$t0" "$t1")
        rows=$(stored "$WORK/ch.log")
        read -r allrows writerrate <<<"$(writer "$WORK/ch.log")"
        total=$(chq "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = 'bench' AND active")
        own=$(chq "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = 'bench' AND active AND table = 'packets'")
        chq "SELECT * FROM packets FORMAT RowBinary" >"$WORK/packets.bin"
        chq "CREATE TABLE peer AS packets"
        t0=$(now)
        curl -sS --fail-with-body "$CHHTTP?database=bench&query=INSERT%20INTO%20peer%20FORMAT%20RowBinary" \
            --data-binary @"$WORK/packets.bin" >/dev/null
        t1=$(now)
        copy=$(secs "$t0" "$t1")
        python3 -c "import sys; n, w, a, r, t, o, c = int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), float(sys.argv[8]); print(f'{sys.argv[1]:<22} ClickHouse {n / w / 1000:.0f} k packet rows/s (wall {w:.1f} s), writer {r / 1000:.0f} k rows/s, {t / n:.1f} B/packet on disk ({o / n:.1f} B in packets), curl RowBinary peer {n / c / 1000:.0f} k rows/s')" \
            "$(basename "$FILE")" "$rows" "$wall" "$allrows" "$writerrate" "$total" "$own" "$copy"
    done
fi
