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
