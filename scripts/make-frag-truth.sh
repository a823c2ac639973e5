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
# first value is the outermost header's. Like make-truth.sh, it runs with -n,
# LC_ALL=C and an empty private config dir; the committed files come from tshark
# 4.0.17.
set -euo pipefail

command -v tshark >/dev/null 2>&1 || { echo "make-frag-truth.sh: tshark not found" >&2; exit 1; }
out=
if [[ ${1:-} == -o ]]; then out=$2; shift 2; fi
[[ $# -ge 1 ]] || { echo "usage: make-frag-truth.sh [-o DIR] FILE..." >&2; exit 2; }

export LC_ALL=C TZ=UTC
cfg=$(mktemp -d)
export WIRESHARK_CONFIG_DIR=$cfg
trap 'rm -rf "$cfg"' EXIT

for path in "$@"; do
    [[ -f $path ]] || { echo "make-frag-truth.sh: no such file: $path" >&2; exit 1; }
    dir=${out:-$(dirname "$path")}
    f=$(basename "$path")
    dest=$dir/$f.frag.tsv
    tshark -n -r "$path" \
        -Y 'ip.flags.mf == 1 || ip.frag_offset > 0 || ipv6.fraghdr || ip.fragment || ipv6.fragment' \
        -T fields -E header=y -E separator=/t -E aggregator=, -E occurrence=a \
        -e frame.number -e frame.len -e ip.src -e ipv6.src -e ip.dst -e ipv6.dst \
        -e ip.fragment -e ipv6.fragment -e ip.reassembled.length -e ipv6.reassembled.length \
        -e udp.srcport -e udp.dstport -e tcp.srcport -e tcp.dstport -e icmp.type -e icmpv6.type \
        -e dns.qry.name -e dns.count.answers \
        2> >(grep -v 'Running as user' >&2) > "$dest.tmp"
    mv "$dest.tmp" "$dest"
    printf '%s\t%d frames\n' "$dest" "$(($(wc -l < "$dest") - 1))"
done
