#!/usr/bin/env bash
# Storage throughput: `sniff -r CAPTURE -q --db URL` into SQLite and into PostgreSQL,
# beside psql's \copy of the same packet rows (exported as CSV) into the same table
# with the same indexes: the practical limit of the server.
#
#   scripts/bench-store.sh [CAPTURE]     (default /tmp/sniff-bench-small.pcap, made by
#                                         swift run -c release sniff-bench --keep)
#
# Beside them, the sqlite3 shell's .import of the same rows (CSV) into an empty copy of
# the schema, which is SQLite's practical limit.
#
# A throwaway PostgreSQL (scripts/pg-temp.sh, fsync on) is started and stopped. Each
# figure is the best of RUNS (default 3). Rows/s counts packet rows; sniff also writes
# flows and per-second traffic sums in the same time.
#
# SNIFF_BIN=path reuses a built sniff (scripts/bench.sh does); otherwise a release
# build is made in SCRATCH (default .build).
set -euo pipefail
cd "$(dirname "$0")/.."
SCRATCH=${SCRATCH:-.build}
FILE=${1:-/tmp/sniff-bench-small.pcap}
RUNS=${RUNS:-3}

if [ -n "${SNIFF_BIN:-}" ]; then
    SNIFF=$SNIFF_BIN
    [ -f "$FILE" ] || { echo "bench-store: $FILE does not exist (scripts/bench.sh makes it)"; exit 1; }
else
    swift build -c release --scratch-path "$SCRATCH" --product sniff >/dev/null
    BIN=$(swift build -c release --scratch-path "$SCRATCH" --show-bin-path)
    SNIFF=$BIN/sniff
    if [ ! -f "$FILE" ]; then
        swift build -c release --scratch-path "$SCRATCH" --product sniff-bench >/dev/null
        "$BIN/sniff-bench" --generate-only --file "$FILE" >/dev/null
    fi
fi

WORK=$(mktemp -d /tmp/sniff-bench-store.XXXXXX)
# shellcheck source=scripts/pg-temp.sh
. scripts/pg-temp.sh
PG_TEMP_FSYNC=on pg_temp_start
trap 'pg_temp_stop; rm -rf "$WORK"' EXIT
PSQL="$SNIFF_TEST_PG_BIN/psql -X -q -v ON_ERROR_STOP=1"
export PGOPTIONS="-c client_min_messages=warning"
# Schema.packetColumns, in order.
COLS=capture_id,sensor,n,ts,len,caplen,iface,link,eth_src,eth_dst,vlan,ip,src,dst,proto,transport,sport,dport,seq,ack,tcp_flags,tcp_window,payload_len,icmp_type,icmp_code,dns_query,app,flow_uid

now() { date +%s.%N; }
best=""
keep_best() { # seconds
    if [ -z "$best" ] || python3 -c "import sys; sys.exit(0 if $1 < $best else 1)"; then best=$1; fi
}
report() { # name rows seconds
    python3 -c 'import sys; n, r, t = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]); print(f"{n:<34} {r:>9} rows  {t:7.2f} s  {r / t / 1000:7.0f} k rows/s")' "$1" "$2" "$3"
}

echo "capture: $FILE ($(du -m "$FILE" | cut -f1) MB), best of $RUNS, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

# SQLite
best=""
for _ in $(seq "$RUNS"); do
    rm -rf "$WORK/bench.db"* "$WORK/j"
    t0=$(now)
    "$SNIFF" -r "$FILE" -q --db "sqlite:$WORK/bench.db" --sensor bench --journal "$WORK/j" 2>"$WORK/sqlite.log"
    t1=$(now)
    keep_best "$(python3 -c "print($t1 - $t0)")"
done
rows=$(sed -n 's/.* \([0-9]*\) stored,.*/\1/p' "$WORK/sqlite.log")
report "sniff -r --db sqlite:" "$rows" "$best"
grep "rows/s" "$WORK/sqlite.log" | sed 's/^sniff: store: /    writer: /' || true
sqlite_seconds=$best

# sqlite3 .import of the same packet rows into an empty copy of the schema (same
# indexes, WAL, synchronous=NORMAL as sniff sets), in one transaction as .import does.
if command -v sqlite3 >/dev/null; then
    sqlite3 -csv "$WORK/bench.db" "SELECT * FROM packets" >"$WORK/sqlite-packets.csv"
    best=""
    for _ in $(seq "$RUNS"); do
        rm -f "$WORK/import.db"*
        sqlite3 "$WORK/bench.db" .schema | sqlite3 "$WORK/import.db"
        t0=$(now)
        sqlite3 "$WORK/import.db" "PRAGMA journal_mode=WAL" "PRAGMA synchronous=NORMAL" ".import --csv $WORK/sqlite-packets.csv packets" >/dev/null
        t1=$(now)
        keep_best "$(python3 -c "print($t1 - $t0)")"
    done
    imported=$(sqlite3 "$WORK/import.db" "SELECT count(*) FROM packets")
    report "sqlite3 .import (CSV, same rows)" "$imported" "$best"
    python3 -c "print(f'sniff into SQLite: {$best / $sqlite_seconds * 100:.0f}% of sqlite3 .import')"

    # The same two without the packets table's six secondary indexes (the API's), to
    # show what index upkeep costs: each packet row is seven B-tree inserts with them.
    best=""
    for _ in $(seq "$RUNS"); do
        rm -rf "$WORK/noidx.db"* "$WORK/j"
        "$SNIFF" db migrate --db "sqlite:$WORK/noidx.db" >/dev/null
        for i in $(sqlite3 "$WORK/noidx.db" "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'packets' AND sql IS NOT NULL"); do
            sqlite3 "$WORK/noidx.db" "DROP INDEX $i"
        done
        t0=$(now)
        "$SNIFF" -r "$FILE" -q --db "sqlite:$WORK/noidx.db" --sensor bench --journal "$WORK/j" 2>"$WORK/noidx.log"
        t1=$(now)
        keep_best "$(python3 -c "print($t1 - $t0)")"
    done
    report "sniff -r --db sqlite: (no pkt idx)" "$rows" "$best"
    grep "rows/s" "$WORK/noidx.log" | sed 's/^sniff: store: /    writer: /' || true
    best=""
    for _ in $(seq "$RUNS"); do
        rm -f "$WORK/import.db"*
        sqlite3 "$WORK/bench.db" .schema | grep -v "^CREATE INDEX packets_" | sqlite3 "$WORK/import.db"
        t0=$(now)
        sqlite3 "$WORK/import.db" "PRAGMA journal_mode=WAL" "PRAGMA synchronous=NORMAL" ".import --csv $WORK/sqlite-packets.csv packets" >/dev/null
        t1=$(now)
        keep_best "$(python3 -c "print($t1 - $t0)")"
    done
    report "sqlite3 .import (no pkt idx)" "$imported" "$best"
else
    echo "sqlite3 .import: skipped (apt-get install sqlite3)"
fi

# PostgreSQL
best=""
for i in $(seq "$RUNS"); do
    $PSQL "$SNIFF_TEST_PG_URL" -c "DROP DATABASE IF EXISTS bench" -c "CREATE DATABASE bench"
    URL="${SNIFF_TEST_PG_URL%/postgres}/bench"
    "$SNIFF" db migrate --db "$URL" >/dev/null
    t0=$(now)
    "$SNIFF" -r "$FILE" -q --db "$URL" --sensor bench --journal "$WORK/j" 2>"$WORK/pg.log"
    t1=$(now)
    keep_best "$(python3 -c "print($t1 - $t0)")"
done
rows=$(sed -n 's/.* \([0-9]*\) stored,.*/\1/p' "$WORK/pg.log")
report "sniff -r --db postgres://" "$rows" "$best"
grep "rows/s" "$WORK/pg.log" | sed 's/^sniff: store: /    writer: /' || true
pg_seconds=$best

# psql \copy of the same rows, as CSV, into the same (emptied) table.
$PSQL "$URL" -c "\\copy (SELECT $COLS FROM packets) TO '$WORK/packets.csv' WITH (FORMAT csv)"
best=""
for _ in $(seq "$RUNS"); do
    $PSQL "$URL" -c "TRUNCATE packets" -c "CHECKPOINT"
    t0=$(now)
    $PSQL "$URL" -c "\\copy packets ($COLS) FROM '$WORK/packets.csv' WITH (FORMAT csv)"
    t1=$(now)
    keep_best "$(python3 -c "print($t1 - $t0)")"
done
copied=$($PSQL "$URL" -At -c "SELECT count(*) FROM packets")
report "psql \\copy (CSV, same rows)" "$copied" "$best"
python3 -c "print(f'sniff into PostgreSQL: {$best / $pg_seconds * 100:.0f}% of psql \\\\copy')"
