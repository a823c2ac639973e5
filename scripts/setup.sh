#!/usr/bin/env bash
# Installs what Sniff needs on Debian 12 (or Ubuntu), with Swift already installed:
#   scripts/setup.sh          the build's libraries: libpcap-dev, libsqlite3-dev, libncurses-dev,
#                             libmaxminddb-dev (GeoIP), pkg-config; ieee-data (MAC vendors)
#   scripts/setup.sh --tests  also what scripts/test.sh uses: tcpdump and tshark (compared
#                             with), iproute2 (namespaces), PostgreSQL's and ClickHouse's
#                             servers when missing (throwaway servers), Chromium, its driver and pip's selenium,
#                             openpyxl and openapi-spec-validator (the dashboard's browser
#                             tests), sqlite3, gcc, time and tcpreplay (benchmarks),
#                             libmaxmind-db-writer-perl (the GeoIP tests write their .mmdb files),
#                             tmux and screen (sniff top is tested inside each)
# Root runs apt-get itself; anyone else goes through sudo. Packages already installed are
# not asked for again, and apt-get runs (update, then install) only when one is missing.
set -euo pipefail

tests=0
for arg in "$@"; do
    case "$arg" in
        --tests) tests=1 ;;
        -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "setup.sh: unknown option '$arg' (valid: --tests, --help)" >&2; exit 64 ;;
    esac
done

packages=(libpcap-dev libsqlite3-dev libncurses-dev libmaxminddb-dev pkg-config ieee-data)
if [ "$tests" = 1 ]; then
    packages+=(tcpdump tshark tcpreplay iproute2 time sqlite3 gcc libc6-dev chromium chromium-driver python3-pip
               libmaxmind-db-writer-perl tmux screen)
    # Any installed PostgreSQL major version will do (scripts/pg-temp.sh finds it).
    if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then packages+=(postgresql); fi
    # Debian's ClickHouse (18.16 in Debian 12): scripts/ch-temp.sh runs it from a temporary folder.
    if [ ! -x /usr/sbin/clickhouse-server ]; then packages+=(clickhouse-server); fi
fi

missing=()
for p in "${packages[@]}"; do
    if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then missing+=("$p"); fi
done

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        echo "setup.sh: installing ${missing[*]} needs root: run this as root, or install sudo and" \
             "give $(id -un) sudo rights (as root: apt-get install sudo && adduser $(id -un) sudo)" >&2
        exit 1
    fi
}

if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup.sh: installing ${missing[*]}"
    # A fresh machine has no package lists: update first, or apt-get cannot find them.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ "$tests" = 1 ] && ! python3 -c "import selenium, openpyxl, openapi_spec_validator" 2>/dev/null; then
    echo "setup.sh: installing selenium, openpyxl and openapi-spec-validator (pip)"
    # For the user who runs the tests; Debian 12's own Python wants the second form (PEP 668).
    pip=(python3 -m pip install -q --no-warn-script-location)
    [ "$(id -u)" -eq 0 ] || pip+=(--user)
    modules=(selenium openpyxl openapi-spec-validator)
    "${pip[@]}" "${modules[@]}" 2>/dev/null || "${pip[@]}" --break-system-packages "${modules[@]}"
fi

command -v swift >/dev/null || echo "setup.sh: swift is not on PATH: install Swift (swift.org/install)" >&2
echo "setup.sh: ready"
