# shellcheck shell=bash
# A throwaway PostgreSQL server for the storage tests and benchmarks. Source this file,
# then `pg_temp_start` and `trap pg_temp_stop EXIT`.
#
# initdb refuses to run as root, so as root the server runs as the postgres user; its
# data directory is a new temporary directory, it listens on 127.0.0.1 on a random free
# port (and a Unix socket in the same directory), with trust authentication.
# PG_TEMP_FSYNC=off (the default for tests) skips fsync; benchmarks pass on.
#
# Exports SNIFF_TEST_PG_URL, SNIFF_TEST_PG_DATA and SNIFF_TEST_PG_CTL (the pg_ctl
# command, as the right user) for the tests that stop and restart the server.

pg_temp_start() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
        echo "postgres: no server binaries (apt-get install postgresql); the PostgreSQL tests are skipped"
        return 1
    fi
    PG_TEMP_DIR=$(mktemp -d /tmp/sniff-pg.XXXXXX)
    local run=""
    if [ "$(id -u)" = 0 ]; then
        chown postgres "$PG_TEMP_DIR"
        run="runuser -u postgres --"
    fi
    if ! $run "$bin/initdb" -D "$PG_TEMP_DIR/data" -U postgres -A trust -E UTF8 --no-sync >"$PG_TEMP_DIR/initdb.log" 2>&1; then
        echo "postgres: initdb failed:"; cat "$PG_TEMP_DIR/initdb.log"; return 1
    fi
    local port attempt
    for attempt in 1 2 3 4 5; do
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
            || echo $((20000 + RANDOM % 40000)))
        cat >"$PG_TEMP_DIR/data/postgresql.auto.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PG_TEMP_DIR'
fsync = ${PG_TEMP_FSYNC:-off}
max_connections = 200
CONF
        if $run "$bin/pg_ctl" -D "$PG_TEMP_DIR/data" -l "$PG_TEMP_DIR/server.log" -w -t 60 start >/dev/null 2>&1; then
            export SNIFF_TEST_PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
            export SNIFF_TEST_PG_DATA="$PG_TEMP_DIR/data"
            export SNIFF_TEST_PG_CTL="$run $bin/pg_ctl"
            export SNIFF_TEST_PG_BIN="$bin"
            echo "postgres: $("$bin/postgres" --version) on 127.0.0.1:$port, data in $PG_TEMP_DIR"
            return 0
        fi
    done
    echo "postgres: the server did not start:"; tail -20 "$PG_TEMP_DIR/server.log"
    return 1
}

pg_temp_stop() {
    if [ -n "${SNIFF_TEST_PG_DATA:-}" ]; then
        $SNIFF_TEST_PG_CTL -D "$SNIFF_TEST_PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
    fi
    if [ -n "${PG_TEMP_DIR:-}" ]; then rm -rf "$PG_TEMP_DIR"; fi
}
