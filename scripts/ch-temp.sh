# shellcheck shell=bash
# A throwaway ClickHouse server for the storage tests and benchmarks. Source this file,
# then `ch_temp_start` and `trap ch_temp_stop EXIT`.
#
# Debian's clickhouse-server (18.16) runs with a config written into a new temporary
# directory that also holds its data, logs and tmp; as root it runs as the clickhouse
# user (it refuses to own root's files otherwise). HTTP and the native port listen on
# 127.0.0.1 only, on free ports; the default user has no password.
#
# Exports SNIFF_TEST_CH_URL (clickhouse://default@127.0.0.1:PORT/default),
# SNIFF_TEST_CH_PIDFILE (the server's pid) and SNIFF_TEST_CH_START (the command that
# starts it again), for the tests that stop the server mid-load.

ch_temp_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
        || echo $((20000 + RANDOM % 40000))
}

# Starts the server on the config already written in $CH_TEMP_DIR as a daemon that
# writes its pid to $CH_TEMP_DIR/server.pid, and waits until HTTP answers. The tests
# that stop the server mid-load restart it with the same command
# ($SNIFF_TEST_CH_START).
ch_temp_launch() {
    local run=""
    if [ "$(id -u)" = 0 ]; then run="runuser -u clickhouse --"; fi
    SNIFF_TEST_CH_START="$run /usr/sbin/clickhouse-server --daemon --config-file=$CH_TEMP_DIR/config.xml --pid-file=$CH_TEMP_DIR/server.pid"
    export SNIFF_TEST_CH_START
    export SNIFF_TEST_CH_PIDFILE="$CH_TEMP_DIR/server.pid"
    $SNIFF_TEST_CH_START >"$CH_TEMP_DIR/stdout.log" 2>&1 </dev/null || return 1
    local waited=0 r
    while [ "$waited" -lt 300 ]; do
        r=$( (exec 3<>"/dev/tcp/127.0.0.1/$CH_TEMP_HTTP" && printf 'GET /ping HTTP/1.0\r\n\r\n' >&3 && timeout 2 cat <&3) 2>/dev/null || true)
        case "$r" in *"Ok."*) return 0 ;; esac
        sleep 0.2; waited=$((waited + 1))
    done
    return 1
}

ch_temp_start() {
    if [ ! -x /usr/sbin/clickhouse-server ]; then
        echo "clickhouse: no server binary (apt-get install clickhouse-server); the ClickHouse tests are skipped"
        return 1
    fi
    CH_TEMP_DIR=$(mktemp -d /tmp/sniff-ch.XXXXXX)
    mkdir -p "$CH_TEMP_DIR/data" "$CH_TEMP_DIR/tmp" "$CH_TEMP_DIR/log" "$CH_TEMP_DIR/user_files" "$CH_TEMP_DIR/format_schemas"
    local attempt
    for attempt in 1 2 3 4 5; do
        CH_TEMP_HTTP=$(ch_temp_free_port)
        CH_TEMP_TCP=$(ch_temp_free_port)
        cat >"$CH_TEMP_DIR/config.xml" <<CONF
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$CH_TEMP_DIR/log/server.log</log>
        <errorlog>$CH_TEMP_DIR/log/server.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <http_port>$CH_TEMP_HTTP</http_port>
    <tcp_port>$CH_TEMP_TCP</tcp_port>
    <listen_host>127.0.0.1</listen_host>
    <max_connections>256</max_connections>
    <keep_alive_timeout>10</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <path>$CH_TEMP_DIR/data/</path>
    <tmp_path>$CH_TEMP_DIR/tmp/</tmp_path>
    <user_files_path>$CH_TEMP_DIR/user_files/</user_files_path>
    <format_schema_path>$CH_TEMP_DIR/format_schemas/</format_schema_path>
    <users_config>$CH_TEMP_DIR/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
</yandex>
CONF
        cat >"$CH_TEMP_DIR/users.xml" <<'CONF'
<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
        <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
CONF
        if [ "$(id -u)" = 0 ]; then chown -R clickhouse "$CH_TEMP_DIR"; fi
        if ch_temp_launch; then
            export SNIFF_TEST_CH_URL="clickhouse://default@127.0.0.1:$CH_TEMP_HTTP/default"
            export SNIFF_TEST_CH_DIR="$CH_TEMP_DIR"
            echo "clickhouse: server on 127.0.0.1:$CH_TEMP_HTTP (pid $(cat "$CH_TEMP_DIR/server.pid")), data in $CH_TEMP_DIR"
            return 0
        fi
        ch_temp_kill
    done
    echo "clickhouse: the server did not start:"; tail -20 "$CH_TEMP_DIR/log/server.err.log" "$CH_TEMP_DIR/stdout.log" 2>/dev/null
    return 1
}

# Stops the server this file started, by the pid in its pid file, and waits for it
# to end.
ch_temp_kill() {
    local pid
    pid=$(cat "${CH_TEMP_DIR:-/nonexistent}/server.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        local waited=0
        while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 300 ]; do sleep 0.1; waited=$((waited + 1)); done
        if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
}

ch_temp_stop() {
    ch_temp_kill
    if [ -n "${CH_TEMP_DIR:-}" ]; then rm -rf "$CH_TEMP_DIR"; fi
}
