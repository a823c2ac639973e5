#!/usr/bin/env bash
# check-warnings.sh LOG...: fails, listing them, when a build log holds compiler warnings
# from this repository's code: Sources/, Tests/, Benchmarks/, Fuzz/ and Soak/ (absolute
# paths, as swift build prints them). Test code counts too: a warning there is as often a
# real slip (an unused result, a deprecated call) as in the product.
# Dependencies' warnings (.build/checkouts) and SwiftPM's own notes are not ours.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ours="^${root}/(Sources|Tests|Benchmarks|Fuzz|Soak)/[^:]+:[0-9]+:[0-9]+: warning:"
found=$(grep -hE "$ours" "$@" | sed "s|^${root}/||" | sort -u || true)
if [ -n "$found" ]; then
    echo "compiler warnings in this repository's code (fix them; CI fails on any):"
    echo "$found"
    exit 1
fi
