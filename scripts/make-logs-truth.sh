#!/usr/bin/env bash
# make-logs-truth.sh [--dest DIR] FILE...
#
# Writes tshark's view of every DNS and HTTP message in each capture, for the golden
# tests of dns.log and http.log (Tests/SniffAnalysisTests/TransactionTsharkTests):
#   FILE.dns.json and FILE.http.json, JSON lines made by scripts/gen/logs-truth.py
# next to FILE, or in DIR (for captures outside the repository, such as
# ../shared/pcaps). tshark reassembles TCP (DNS over TCP, HTTP header blocks and bodies
# over segments) by default. Like make-truth.sh it runs with -n, LC_ALL=C and an empty
# private config dir; the committed files come from tshark 4.0.17.
set -euo pipefail

command -v tshark >/dev/null 2>&1 || { echo "make-logs-truth.sh: tshark not found" >&2; exit 1; }
dest=
if [[ ${1:-} == --dest ]]; then dest=$2; shift 2; fi
[[ $# -ge 1 ]] || { echo "usage: make-logs-truth.sh [--dest DIR] FILE..." >&2; exit 2; }

export LC_ALL=C TZ=UTC
cfg=$(mktemp -d)
export WIRESHARK_CONFIG_DIR=$cfg
trap 'rm -rf "$cfg"' EXIT
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

for path in "$@"; do
    [[ -f $path ]] || { echo "make-logs-truth.sh: no such file: $path" >&2; exit 1; }
    prefix=${dest:+$dest/$(basename "$path")}
    prefix=${prefix:-$path}
    # Port 8080 is HTTP (tshark's default already says so; stated for clarity).
    tshark -n -r "$path" -d tcp.port==8080,http -Y 'dns || http' -T json --no-duplicate-keys \
        2> >(grep -v 'Running as user' >&2) | python3 "$here/gen/logs-truth.py" "$path" "$prefix"
    printf '%s\t%d dns, %d http messages\n' "$prefix" "$(wc -l < "$prefix.dns.json")" "$(wc -l < "$prefix.http.json")"
done
