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
# a hello in the frame that completes its CRYPTO data. Like make-truth.sh, it
# runs with -n, LC_ALL=C and an empty private config dir; the committed files
# come from tshark 4.0.17.
set -euo pipefail

command -v tshark >/dev/null 2>&1 || { echo "make-tls-truth.sh: tshark not found" >&2; exit 1; }
out=
if [[ ${1:-} == -o ]]; then out=$2; shift 2; fi
[[ $# -ge 1 ]] || { echo "usage: make-tls-truth.sh [-o DIR] FILE..." >&2; exit 2; }

export LC_ALL=C TZ=UTC
cfg=$(mktemp -d)
export WIRESHARK_CONFIG_DIR=$cfg
trap 'rm -rf "$cfg"' EXIT

for path in "$@"; do
    [[ -f $path ]] || { echo "make-tls-truth.sh: no such file: $path" >&2; exit 1; }
    dir=${out:-$(dirname "$path")}
    f=$(basename "$path")
    dest=$dir/$f.tls.tsv
    tshark -n -r "$path" -Y 'tls.handshake.type == 1 || tls.handshake.type == 2' \
        -T fields -E header=y -E separator=/t -E aggregator=, \
        -e frame.number -e tls.handshake.type -e tls.handshake.extensions_server_name \
        -e tls.handshake.extensions_alpn_str -e tls.handshake.ja3 -e tls.handshake.ja3s -e quic.version \
        -e tls.handshake.ciphersuite -e tls.handshake.extension.type -e tls.handshake.sig_hash_alg \
        -e tls.handshake.extensions.supported_version -e tls.handshake.version \
        2> >(grep -v 'Running as user' >&2) > "$dest.tmp"
    mv "$dest.tmp" "$dest"
    printf '%s\t%d hellos\n' "$dest" "$(($(wc -l < "$dest") - 1))"
done
