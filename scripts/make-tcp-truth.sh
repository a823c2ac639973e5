#!/usr/bin/env bash
# make-tcp-truth.sh FILE...
#
# Writes tshark's view of TCP streams in each capture, for the golden tests of Sniff's
# TCP reassembly (Tests/SniffAnalysisTests/TCPReassemblyTsharkTests):
#   FILE.tcp.tsv  one row per TCP frame: frame number, tcp.stream, ports, payload
#                 length, relative sequence number and the next one (tcp.nxtseq),
#                 tshark's analysis flags (retransmission, lost segment: the
#                 previous segment was not captured, out of order), and what tshark
#                 reads from the reassembled stream, on the frame that completes it:
#                 TLS SNI, JA3 and JA3S, DNS question name (over TCP), HTTP host and
#                 request URI.
# next to FILE. tshark reassembles TCP by default (tcp.desegment_tcp_streams). Lists
# are comma-separated. Its tshark runs as
# scripts/truth-common.sh sets it up.
set -euo pipefail
# shellcheck source=scripts/truth-common.sh
. "$(dirname "$0")/truth-common.sh"
truth_init make-tcp-truth.sh "FILE..." "$@"

for path in "${TRUTH_FILES[@]}"; do
    # Port 8080 is HTTP, 8443 TLS (tshark's defaults already say so; stated for clarity).
    truth_fields "$path" "$path.tcp.tsv" frames -d tcp.port==8443,tls -d tcp.port==8080,http -Y tcp \
        -T fields -E header=y -E separator=/t -E aggregator=, -E occurrence=a \
        -e frame.number -e tcp.stream -e tcp.srcport -e tcp.dstport -e tcp.len -e tcp.seq -e tcp.nxtseq \
        -e tcp.analysis.retransmission -e tcp.analysis.lost_segment -e tcp.analysis.out_of_order \
        -e tls.handshake.extensions_server_name -e tls.handshake.ja3 -e tls.handshake.ja3s \
        -e dns.qry.name -e http.host -e http.request.uri
done
