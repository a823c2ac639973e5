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
    ch_temp_launch_in "$CH_TEMP_DIR" "$CH_TEMP_HTTP" || return 1
    SNIFF_TEST_CH_START=$CH_TEMP_LAST_START
    export SNIFF_TEST_CH_START
    export SNIFF_TEST_CH_PIDFILE="$CH_TEMP_DIR/server.pid"
}

# ch_temp_launch_in DIR HTTP_PORT: starts the server configured in DIR, waits for
# HTTP; the command that starts it again is left in CH_TEMP_LAST_START.
ch_temp_launch_in() {
    local dir=$1 http=$2 run=""
    if [ "$(id -u)" = 0 ]; then run="runuser -u clickhouse --"; fi
    CH_TEMP_LAST_START="$run /usr/sbin/clickhouse-server --daemon --config-file=$dir/config.xml --pid-file=$dir/server.pid"
    $CH_TEMP_LAST_START >"$dir/stdout.log" 2>&1 </dev/null || return 1
    local waited=0 r
    while [ "$waited" -lt 300 ]; do
        r=$( (exec 3<>"/dev/tcp/127.0.0.1/$http" && printf 'GET /ping HTTP/1.0\r\n\r\n' >&3 && timeout 2 cat <&3) 2>/dev/null || true)
        case "$r" in *"Ok."*) return 0 ;; esac
        sleep 0.2; waited=$((waited + 1))
    done
    return 1
}

# ch_temp_config DIR HTTP_PORT TCP_PORT [XML]: writes DIR's config.xml and users.xml
# (XML goes inside <yandex>, e.g. remote_servers).
ch_temp_config() {
    local dir=$1 http=$2 tcp=$3 extra=${4:-}
    mkdir -p "$dir/data" "$dir/tmp" "$dir/log" "$dir/user_files" "$dir/format_schemas"
    cat >"$dir/config.xml" <<CONF
<?xml version="1.0"?>
<yandex>
<logger>
    <level>warning</level>
    <log>$dir/log/server.log</log>
    <errorlog>$dir/log/server.err.log</errorlog>
    <size>100M</size>
    <count>2</count>
</logger>
<http_port>$http</http_port>
<tcp_port>$tcp</tcp_port>
<listen_host>127.0.0.1</listen_host>
<max_connections>256</max_connections>
<keep_alive_timeout>10</keep_alive_timeout>
<max_concurrent_queries>100</max_concurrent_queries>
<uncompressed_cache_size>268435456</uncompressed_cache_size>
<mark_cache_size>268435456</mark_cache_size>
<path>$dir/data/</path>
<tmp_path>$dir/tmp/</tmp_path>
<user_files_path>$dir/user_files/</user_files_path>
<format_schema_path>$dir/format_schemas/</format_schema_path>
<users_config>$dir/users.xml</users_config>
<default_profile>default</default_profile>
<default_database>default</default_database>
<timezone>UTC</timezone>
<mlock_executable>false</mlock_executable>
$extra
</yandex>
CONF
    cat >"$dir/users.xml" <<'CONF'
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
    if [ "$(id -u)" = 0 ]; then chown -R clickhouse "$dir"; fi
}

ch_temp_start() {
    if [ ! -x /usr/sbin/clickhouse-server ]; then
        echo "clickhouse: no server binary (apt-get install clickhouse-server); the ClickHouse tests are skipped"
        return 1
    fi
    CH_TEMP_DIR=$(mktemp -d /tmp/sniff-ch.XXXXXX)
    local attempt
    for attempt in 1 2 3 4 5; do
        CH_TEMP_HTTP=$(ch_temp_free_port)
        CH_TEMP_TCP=$(ch_temp_free_port)
        ch_temp_config "$CH_TEMP_DIR" "$CH_TEMP_HTTP" "$CH_TEMP_TCP"
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
    ch_temp_kill_in "${CH_TEMP_DIR:-/nonexistent}"
}

# ch_temp_kill_in DIR: stops the server whose pid file is in DIR.
ch_temp_kill_in() {
    local pid
    pid=$(cat "$1/server.pid" 2>/dev/null || true)
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

# A two-shard cluster for the cluster tests: two servers on free ports, each with the
# same remote_servers (cluster sniff_test: shard 1 on the first server's native port,
# shard 2 on the second's; and sniff_test_shard2, the second alone, for the test of a
# server that is not a shard of the cluster its tables name). Exports
# SNIFF_TEST_CH_CLUSTER (its name), SNIFF_TEST_CH_CLUSTER_SHARD2,
# SNIFF_TEST_CH_SHARD1_URL and SNIFF_TEST_CH_SHARD2_URL (each server's HTTP URL), and
# SNIFF_TEST_CH_SHARD2_PIDFILE and SNIFF_TEST_CH_SHARD2_START, for the test that stops
# the second shard mid-load and starts it again.
ch_temp_cluster_start() {
    if [ ! -x /usr/sbin/clickhouse-server ]; then
        echo "clickhouse: no server binary; the cluster tests are skipped"
        return 1
    fi
    CH_TEMP_CLUSTER_DIR=$(mktemp -d /tmp/sniff-chc.XXXXXX)
    # The servers' own folders are below it: the clickhouse user must reach them.
    if [ "$(id -u)" = 0 ]; then chown clickhouse "$CH_TEMP_CLUSTER_DIR"; fi
    local h1 t1 h2 t2 xml
    h1=$(ch_temp_free_port); t1=$(ch_temp_free_port); h2=$(ch_temp_free_port); t2=$(ch_temp_free_port)
    xml="<remote_servers><sniff_test>
 <shard><replica><host>127.0.0.1</host><port>$t1</port></replica></shard>
 <shard><replica><host>127.0.0.1</host><port>$t2</port></replica></shard>
</sniff_test><sniff_test_shard2>
 <shard><replica><host>127.0.0.1</host><port>$t2</port></replica></shard>
</sniff_test_shard2></remote_servers>"
    ch_temp_config "$CH_TEMP_CLUSTER_DIR/s1" "$h1" "$t1" "$xml"
    ch_temp_config "$CH_TEMP_CLUSTER_DIR/s2" "$h2" "$t2" "$xml"
    if ! ch_temp_launch_in "$CH_TEMP_CLUSTER_DIR/s1" "$h1" || ! ch_temp_launch_in "$CH_TEMP_CLUSTER_DIR/s2" "$h2"; then
        echo "clickhouse: the cluster did not start:"; tail -5 "$CH_TEMP_CLUSTER_DIR"/s*/log/server.err.log 2>/dev/null
        ch_temp_cluster_stop
        return 1
    fi
    export SNIFF_TEST_CH_CLUSTER=sniff_test
    export SNIFF_TEST_CH_CLUSTER_SHARD2=sniff_test_shard2
    export SNIFF_TEST_CH_SHARD1_URL="clickhouse://default@127.0.0.1:$h1/default"
    export SNIFF_TEST_CH_SHARD2_URL="clickhouse://default@127.0.0.1:$h2/default"
    export SNIFF_TEST_CH_SHARD2_PIDFILE="$CH_TEMP_CLUSTER_DIR/s2/server.pid"
    export SNIFF_TEST_CH_SHARD2_START="$CH_TEMP_LAST_START"
    echo "clickhouse: cluster sniff_test on 127.0.0.1:$h1 and 127.0.0.1:$h2, data in $CH_TEMP_CLUSTER_DIR"
}

ch_temp_cluster_stop() {
    if [ -n "${CH_TEMP_CLUSTER_DIR:-}" ]; then
        ch_temp_kill_in "$CH_TEMP_CLUSTER_DIR/s1"
        ch_temp_kill_in "$CH_TEMP_CLUSTER_DIR/s2"
        rm -rf "$CH_TEMP_CLUSTER_DIR"
    fi
}
