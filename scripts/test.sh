#!/usr/bin/env bash
# Runs every test of Sniff. It starts what the tests need and stops it afterwards;
# today that is nothing beyond the Swift toolchain, libpcap-dev and (optionally)
# tcpdump/tshark, which .ci/run installs.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build first so that a compile error is reported on its own, then run every suite.
# Swift Testing prints the closing summary line ("Test run with N tests ... passed").
swift build --build-tests
swift test --skip-build "$@"

# Browser tests of the dashboard (headless Chromium + selenium, installed by .ci/run).
# They print "browser: N passed, N failed" and fail the run on any failure.
if command -v chromium >/dev/null && python3 -c "import selenium, openpyxl" 2>/dev/null; then
    python3 Tests/Browser/dashboard_test.py --sniff "$(swift build --show-bin-path)/sniff"
else
    echo "browser: skipped (needs chromium, chromium-driver and pip selenium openpyxl)"
fi
