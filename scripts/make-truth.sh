#!/usr/bin/env bash
# make-truth.sh FILE...
#
# Writes tshark's view of each capture next to it, in the format of the
# project's shared truth files (/work/shared/pcaps/*.truth.tsv):
#   FILE.truth.tsv  one row per frame, tab-separated; the alternative columns
#                   (ip.src|ipv6.src, ...) hold the first non-empty of the two,
#                   i.e. the IPv4 value if the frame has any IPv4 header,
#                   else the IPv6 value; every field is its first occurrence
#                   (outermost header)
#   FILE.conv.txt   tshark -n -q -r FILE -z conv,tcp -z conv,udp
#
# All dissection is tshark's; awk only merges column pairs. tshark runs with
# -n, LC_ALL=C, TZ=UTC and an empty private config dir, so personal
# preferences cannot change the output. tshark is run on the bare file name
# from the file's directory, so no path ends up in the outputs. The output
# depends on the tshark version (4.0.17 for the committed files).
set -euo pipefail

# shellcheck source=scripts/truth-common.sh
. "$(dirname "$0")/truth-common.sh"
truth_init make-truth.sh "FILE..." "$@"

HEADER=$'frame.number\tframe.time_epoch\tframe.len\tframe.cap_len\tip.src|ipv6.src\tip.dst|ipv6.dst\tip.proto|ipv6.nxt\ttcp.srcport|udp.srcport\ttcp.dstport|udp.dstport\ttcp.seq_raw\ttcp.ack_raw\ttcp.flags\ttcp.window_size_value\tdns.qry.name\ticmp.type|icmpv6.type\tvlan.id\t_ws.col.Protocol'

truth() {
    local f=$1
    tshark -n -r "$f" -T fields -E header=y -E separator=/t -E occurrence=f \
        -e frame.number -e frame.time_epoch -e frame.len -e frame.cap_len \
        -e ip.src -e ipv6.src -e ip.dst -e ipv6.dst -e ip.proto -e ipv6.nxt \
        -e tcp.srcport -e udp.srcport -e tcp.dstport -e udp.dstport \
        -e tcp.seq_raw -e tcp.ack_raw -e tcp.flags -e tcp.window_size_value \
        -e dns.qry.name -e icmp.type -e icmpv6.type -e vlan.id -e _ws.col.Protocol \
        2> >(grep -v 'Running as user' >&2) |
    awk -F'\t' -v OFS='\t' -v header="$HEADER" '
        function pick(a, b) { return a != "" ? a : b }
        NR == 1 { print header; next }
        { print $1, $2, $3, $4, pick($5, $6), pick($7, $8), pick($9, $10),
                pick($11, $12), pick($13, $14), $15, $16, $17, $18, $19,
                pick($20, $21), $22, $23 }'
}

for path in "${TRUTH_FILES[@]}"; do
    dir=$(dirname "$path")
    f=$(basename "$path")
    (
        cd "$dir"
        truth "$f" > "$f.truth.tsv.tmp"
        mv "$f.truth.tsv.tmp" "$f.truth.tsv"
        tshark -n -q -r "$f" -z conv,tcp -z conv,udp 2>/dev/null > "$f.conv.txt.tmp"
        mv "$f.conv.txt.tmp" "$f.conv.txt"
        printf '%s\t%d frames\n' "$path" "$(($(wc -l < "$f.truth.tsv") - 1))"
    )
done
