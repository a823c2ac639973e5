#!/usr/bin/env bash
# check-warnings.sh LOG...: fails, listing them, when a build log holds compiler warnings
# from this repository's Sources/ (absolute paths, as swift build prints them).
# Dependencies' warnings (.build/checkouts) and SwiftPM's own notes are not ours.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
found=$(grep -hE "^${root}/Sources/[^:]+:[0-9]+:[0-9]+: warning:" "$@" | sed "s|^${root}/||" | sort -u || true)
if [ -n "$found" ]; then
    echo "compiler warnings in Sources/ (fix them; CI fails on any):"
    echo "$found"
    exit 1
fi
