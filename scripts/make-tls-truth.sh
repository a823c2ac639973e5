#!/usr/bin/env bash
# make-tls-truth.sh [-o DIR] FILE...
#
# Writes tshark's view of the TLS handshakes in each capture, for the golden
# tests of TLS and QUIC fingerprints (Tests/SniffAnalysisTests/TLSTsharkTests):
#   FILE.tls.tsv  one row per frame that carries a ClientHello (type 1) or a
#                 ServerHello (type 2), over TCP or inside decrypted QUIC
#                 Initial packets: frame number, handshake types, SNI, ALPN
#                 names (comma-separated), JA3, JA3S, QUIC version, then the
#                 cipher suites (a ClientHello's list, or the one a ServerHello
#                 chose), extension types, signature algorithms, supported
#                 versions and legacy version as tshark decodes them, from which
#                 the per-flow tests (FlowTLSTsharkTests) build JA4 (tshark 4.0
#                 has no JA4 field) and check the chosen cipher suite
# next to FILE, or in DIR with -o (for captures that are not ours to change,
# such as ../shared/pcaps). tshark decrypts QUIC Initials by itself and prints
# a hello in the frame that completes its CRYPTO data. Its tshark runs as
# scripts/truth-common.sh sets it up.
set -euo pipefail
# shellcheck source=scripts/truth-common.sh
. "$(dirname "$0")/truth-common.sh"
truth_init make-tls-truth.sh "[-o DIR] FILE..." "$@"

for path in "${TRUTH_FILES[@]}"; do
    f=$(basename "$path")
    truth_fields "$path" "${TRUTH_OUT:-$(dirname "$path")}/$f.tls.tsv" hellos \
        -Y 'tls.handshake.type == 1 || tls.handshake.type == 2' \
        -T fields -E header=y -E separator=/t -E aggregator=, \
        -e frame.number -e tls.handshake.type -e tls.handshake.extensions_server_name \
        -e tls.handshake.extensions_alpn_str -e tls.handshake.ja3 -e tls.handshake.ja3s -e quic.version \
        -e tls.handshake.ciphersuite -e tls.handshake.extension.type -e tls.handshake.sig_hash_alg \
        -e tls.handshake.extensions.supported_version -e tls.handshake.version
done
