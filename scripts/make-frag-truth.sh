#!/usr/bin/env bash
# make-frag-truth.sh [-o DIR] FILE...
#
# Writes tshark's view of IP fragment reassembly in each capture, for the golden
# test of Sniff's reassembly (Tests/SniffAnalysisTests/FragmentTsharkTests):
#   FILE.frag.tsv  one row per frame that is an IPv4 or IPv6 fragment, or that
#                  completes a reassembled datagram: frame number and length,
#                  addresses, the frames of the datagram it completes (tshark's
#                  ip.fragment / ipv6.fragment, listed on the completing frame in a
#                  single pass), the reassembled length, TCP/UDP ports, ICMP type
#                  and DNS question as tshark decodes them from the whole datagram.
# next to FILE, or in DIR with -o (for captures that are not ours to change, such
# as ../shared/pcaps). tshark reassembles by default (ip.defragment and
# ipv6.defragment are on). Lists are comma-separated; for the other columns the
# first value is the outermost header's. Its tshark runs as
# scripts/truth-common.sh sets it up.
set -euo pipefail
# shellcheck source=scripts/truth-common.sh
. "$(dirname "$0")/truth-common.sh"
truth_init make-frag-truth.sh "[-o DIR] FILE..." "$@"

for path in "${TRUTH_FILES[@]}"; do
    f=$(basename "$path")
    truth_fields "$path" "${TRUTH_OUT:-$(dirname "$path")}/$f.frag.tsv" frames \
        -Y 'ip.flags.mf == 1 || ip.frag_offset > 0 || ipv6.fraghdr || ip.fragment || ipv6.fragment' \
        -T fields -E header=y -E separator=/t -E aggregator=, -E occurrence=a \
        -e frame.number -e frame.len -e ip.src -e ipv6.src -e ip.dst -e ipv6.dst \
        -e ip.fragment -e ipv6.fragment -e ip.reassembled.length -e ipv6.reassembled.length \
        -e udp.srcport -e udp.dstport -e tcp.srcport -e tcp.dstport -e icmp.type -e icmpv6.type \
        -e dns.qry.name -e dns.count.answers
done
