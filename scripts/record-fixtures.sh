#!/usr/bin/env bash
# record-fixtures.sh: re-record the real-traffic test fixtures.
#
#   sudo scripts/record-fixtures.sh            # everything
#   sudo scripts/record-fixtures.sh tls quic   # only these fixtures
#
# (Re)creates every capture in Tests/Fixtures/ and samples/sample.pcapng,
# then writes tshark ground truth next to each (scripts/make-truth.sh).
# Tests assert on these files, so re-record only on purpose and commit the
# captures together with their truth files.
#
# How the traffic is made
# - All traffic stays on this machine: every fixture is recorded in fresh
#   network namespaces (sfx-a, and sfx-b joined to it by the veth pair
#   sfx0/sfx1) that are deleted afterwards. "Loopback" below is the loopback
#   of namespace sfx-a, so nothing else running on the host can leak into a
#   capture and privileged ports (22, 53, 80, 443) are free. Addresses are
#   127.0.0.1, ::1, 10.77.0.0/24 and fd77::/64.
# - Real tools only: tcpdump or dumpcap record, the kernel's TCP/IP stack
#   carries the traffic, dig/ping/openssl and the small python programs in
#   scripts/gen/ (standard library, plus python3-cryptography for the QUIC
#   Initial) generate it. Client source ports are fixed where the tool
#   allows, so re-recordings differ mostly in timestamps, sequence numbers
#   and random bytes.
# - Every generator and capture runs under timeout(1); captures also stop
#   after a packet count. An EXIT trap kills what this script started (by
#   PID) and deletes its namespaces.
# - The veth pair has checksum offload, TSO, GSO and GRO turned off, so its
#   captures look like a wire: frames of at most 1514 bytes with correct
#   checksums. Loopback cannot do that (tx-checksum-ip-generic is fixed on):
#   as in any Linux loopback capture, TCP/UDP checksums there are not filled
#   in, and segments could exceed the MTU (the fixtures send none that big).
# - IPv6 on the veth has no link-local address (addrgenmode none) and DAD is
#   off (nodad); veth captures use the filter "not ip6 proto 0" to leave out
#   the kernel's MLD reports, and "not igmp" where a multicast group is
#   joined, because how many of those reports fall into a capture depends on
#   timing.
#
# Deviations from the plan, and why
# - vlan.pcap: this kernel has no CONFIG_VLAN_8021Q (`ip link add ... type
#   vlan` fails: "Unknown device type", and bridge VLAN filtering depends on
#   it), so the tagged frames are written and answered by
#   scripts/gen/sfxvlan.py through AF_PACKET sockets on the two ends of the
#   veth pair. tcpdump records them on the parent veth as usual.
# - tcp-states.pcap (e) "SYN-ACK seen first": one connection (client port
#   41004) is recorded with a capture filter that leaves out its SYN, which is
#   exactly what a capture started mid-handshake sees.
# - lo-nano.pcapng is recorded by dumpcap itself; dumpcap 4.0 asks libpcap
#   for nanosecond time stamps and writes if_tsresol=9 (no conversion).
set -euo pipefail

[[ $EUID -eq 0 ]] || { echo "record-fixtures.sh: must run as root (sudo $0)" >&2; exit 1; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GEN=$ROOT/scripts/gen
FIX=$ROOT/Tests/Fixtures
SAMPLES=$ROOT/samples
PY=${PYTHON:-python3}

for tool in ip ethtool nft tcpdump dumpcap tshark capinfos dig ping openssl curl ss timeout "$PY"; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "record-fixtures.sh: $tool not found (Debian: apt-get install iproute2 ethtool nftables" \
             "tcpdump tshark bind9-dnsutils iputils-ping openssl python3 python3-cryptography)" >&2
        exit 1
    }
done
"$PY" "$GEN/sfxquic.py" >/dev/null   # checks the QUIC key schedule against RFC 9001

# SFX_NS_A / SFX_NS_B rename the namespaces, so that two recordings can run at once.
NS_A=${SFX_NS_A:-sfx-a}
NS_B=${SFX_NS_B:-sfx-b}
MAC_A=02:77:00:00:00:01
MAC_B=02:77:00:00:00:02
WORK=$(mktemp -d /tmp/sfx-record.XXXXXX)
PIDS=()
CAP_PID=
CAP_DROPS=0
RETRY=0

log() { printf '== %s\n' "$*" >&2; }

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
    CAP_PID=
    ip netns del "$NS_A" 2>/dev/null || true
    ip netns del "$NS_B" 2>/dev/null || true
}
trap 'cleanup; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- plumbing

# Fresh namespace sfx-a with only loopback (multicast enabled for mDNS).
ns_lo() {
    cleanup
    ip netns add "$NS_A"
    ip -n "$NS_A" link set lo up
    ip -n "$NS_A" link set lo multicast on
    ip -n "$NS_A" route add 224.0.0.0/4 dev lo
}

# sfx-a and sfx-b joined by sfx0 (10.77.0.1, fd77::1) -- sfx1 (10.77.0.2, fd77::2).
# With "bare", the veth gets no addresses (for the VLAN fixture).
ns_pair() {
    cleanup
    ip netns add "$NS_A"
    ip netns add "$NS_B"
    ip link add sfx0 address "$MAC_A" netns "$NS_A" type veth peer name sfx1 address "$MAC_B" netns "$NS_B"
    local ns dev n
    for n in 1 2; do
        ns=$([[ $n == 1 ]] && echo "$NS_A" || echo "$NS_B")
        dev=sfx$((n - 1))
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
        ip -n "$ns" link set lo up
        ip -n "$ns" link set "$dev" addrgenmode none
        # wire-like frames: no TSO/GSO/GRO super-packets, checksums filled in
        ip netns exec "$ns" ethtool -K "$dev" tx off rx off tso off gso off gro off >/dev/null
        if [[ ${1:-} != bare ]]; then
            ip -n "$ns" addr add "10.77.0.$n/24" dev "$dev"
            ip -n "$ns" addr add "fd77::$n/64" dev "$dev" nodad
        fi
        ip -n "$ns" link set "$dev" up
    done
    sleep 0.5
}

# Forget a PID once it has been waited for, so cleanup never signals a
# number the kernel may have handed to another process since.
untrack() {
    local pid keep=()
    for pid in "${PIDS[@]}"; do
        [[ $pid == "$1" ]] || keep+=("$pid")
    done
    PIDS=("${keep[@]}")
}

# Run a background service in a namespace; it is killed by cleanup.
bg() {
    local ns=$1
    shift
    ip netns exec "$ns" timeout 120 "$@" </dev/null >>"$WORK/bg.log" 2>&1 &
    PIDS+=("$!")
}

serve() { local ns=$1; shift; bg "$ns" "$PY" "$GEN/sfx.py" serve --timeout 110 "$@"; }

# One bounded client action of scripts/gen/sfx.py.
cl() { local ns=$1; shift; ip netns exec "$ns" timeout 15 "$PY" "$GEN/sfx.py" "$@"; }

in_ns() { local ns=$1; shift; ip netns exec "$ns" timeout 15 "$@"; }

# wait_listen NS t|u PORT: until something listens on PORT in NS.
wait_listen() {
    local i
    for i in $(seq 100); do
        ip netns exec "$1" ss -Hln"$2" "sport = :$3" | grep -q . && return 0
        sleep 0.05
    done
    echo "record-fixtures.sh: nothing listening on $2 port $3 in $1" >&2
    exit 1
}

# cap_start NS FILE tcpdump|dumpcap ARGS...: start recording, wait until ready.
# tcpdump runs in immediate mode, where libpcap uses TPACKET_V2 with ring
# slots as large as the snaplen (256 KiB on "any"); the default 2 MiB ring
# then holds 8 packets and a loopback burst overflows it, hence -B 65536.
cap_start() {
    local ns=$1 out=$2 tool=$3 i
    shift 3
    : >"$WORK/cap.log"
    case $tool in
        tcpdump)
            ip netns exec "$ns" timeout -s INT 120 tcpdump -Z root -n -U --immediate-mode \
                -B 65536 -c 20000 -w "$out" "$@" 2>"$WORK/cap.log" &
            ;;
        dumpcap)
            ip netns exec "$ns" timeout -s INT 120 dumpcap -q -B 64 -c 20000 -a duration:115 \
                -w "$out" "$@" 2>"$WORK/cap.log" &
            ;;
    esac
    CAP_PID=$!
    PIDS+=("$CAP_PID")
    for i in $(seq 100); do
        grep -qE 'listening on|Capturing on' "$WORK/cap.log" && { sleep 0.3; return 0; }
        sleep 0.05
    done
    cat "$WORK/cap.log" >&2
    echo "record-fixtures.sh: capture did not start" >&2
    exit 1
}

# cap_stop: let the last packets reach the file, stop the recorder, and set
# CAP_DROPS to the number of packets it reports as dropped.
cap_stop() {
    sleep 1.2
    kill -INT "$CAP_PID"
    wait "$CAP_PID" || true
    untrack "$CAP_PID"
    CAP_DROPS=$(awk '
        / packets? dropped by kernel/ { n += $1 }
        /^Packets received\/dropped on interface/ { split($NF, a, "/"); n += a[2] }
        END { print n + 0 }' "$WORK/cap.log")
}

# install WORKFILE DEST: atomically replace the committed file, unless the
# recorder dropped packets (then RETRY=1 and record() runs the fixture again).
install_capture() {
    [[ -s $1 ]] || { echo "record-fixtures.sh: $1 is empty" >&2; exit 1; }
    if [[ $CAP_DROPS != 0 ]]; then
        log "$(basename "$2"): recorder dropped $CAP_DROPS packets, recording again"
        RETRY=1
        return 0
    fi
    chmod 0644 "$1"
    mv -f "$1" "$2"
    log "$(basename "$2"): $(capinfos -c -M "$2" | sed -n 's/^Number of packets: *//p') packets"
}

# record FUNCTION: run one fixture recorder, at most three times.
record() {
    local try
    for try in 1 2 3; do
        RETRY=0
        "$1"
        [[ $RETRY == 0 ]] && return 0
    done
    echo "record-fixtures.sh: $1: packets dropped in every attempt" >&2
    exit 1
}

CERT=$WORK/tls
make_cert() {
    mkdir -p "$CERT"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj /CN=sniff.example.test -keyout "$CERT/key.pem" -out "$CERT/cert.pem" 2>/dev/null
}

# tls_server NS ADDR:PORT N: openssl s_server for N connections.
tls_server() {
    bg "$1" openssl s_server -accept "$2" -cert "$CERT/cert.pem" -key "$CERT/key.pem" -naccept "$3" -quiet
}

# tls_client NS HOST:PORT SNI SRC:SPORT: full TLS 1.3 handshake, then close
# (stdin is empty).
tls_client() {
    in_ns "$1" openssl s_client -connect "$2" -servername "$3" -bind "$4" </dev/null >/dev/null 2>&1
}

# dig with a fixed source port, one try.
dg() {
    local ns=$1
    shift
    in_ns "$ns" dig +tries=1 +time=2 "$@" >/dev/null
}

# ---------------------------------------------------------------- fixtures

# 5 UDP datagrams (payload lengths 8, 64, 200, 512, 1200) to 127.0.0.1:47001
# from port 40001, then one TCP connection 40002 -> 47002: client sends
# "hello from the sniff fixture client\n" (36 bytes), server answers
# "pong from the sniff fixture server\n" (35 bytes), client then server close.
lo_small_traffic() {
    local sizes=$1
    cl "$NS_A" udp-send 127.0.0.1 47001 --sport 40001 --sizes "$sizes" --gap 0.05
    sleep 0.1
    cl "$NS_A" tcp-exchange 127.0.0.1 47002 --sport 40002
}

lo_small_servers() {
    serve "$NS_A" udp-sink@127.0.0.1:47001 tcp-reply@127.0.0.1:47002
    wait_listen "$NS_A" u 47001
    wait_listen "$NS_A" t 47002
}

rec_lo_udp_tcp() {
    ns_lo
    lo_small_servers
    cap_start "$NS_A" "$WORK/lo-udp-tcp.pcap" tcpdump -i lo
    lo_small_traffic 8,64,200,512,1200
    cap_stop
    install_capture "$WORK/lo-udp-tcp.pcap" "$FIX/lo-udp-tcp.pcap"
}

# Same kind of traffic (UDP payloads 16, 300, 1000), nanosecond pcap.
rec_lo_nano() {
    ns_lo
    lo_small_servers
    cap_start "$NS_A" "$WORK/lo-nano.pcap" tcpdump -i lo --time-stamp-precision=nano
    lo_small_traffic 16,300,1000
    cap_stop
    install_capture "$WORK/lo-nano.pcap" "$FIX/lo-nano.pcap"
}

# Same traffic, written by dumpcap as pcapng (if_tsresol = 9, nanoseconds).
rec_lo_nano_pcapng() {
    ns_lo
    lo_small_servers
    cap_start "$NS_A" "$WORK/lo-nano.pcapng" dumpcap -i lo
    lo_small_traffic 16,300,1000
    cap_stop
    install_capture "$WORK/lo-nano.pcapng" "$FIX/lo-nano.pcapng"
}

# Untagged kernel ping, then 802.1Q VLAN 100 and 802.1ad 200 / 802.1Q 300
# frames from scripts/gen/sfxvlan.py (see the header for why user space).
rec_vlan() {
    ns_pair bare
    ip -n "$NS_A" addr add 10.77.0.1/24 dev sfx0
    ip -n "$NS_B" addr add 10.77.0.2/24 dev sfx1
    bg "$NS_B" "$PY" "$GEN/sfxvlan.py" respond sfx1 --timeout 30
    sleep 0.5
    cap_start "$NS_A" "$WORK/vlan.pcap" tcpdump -i sfx0 'not ip6 proto 0'
    in_ns "$NS_A" ping -n -q -c 2 -i 0.2 10.77.0.2 >/dev/null
    in_ns "$NS_A" "$PY" "$GEN/sfxvlan.py" send sfx0 "$MAC_B" --gap 0.05
    cap_stop
    install_capture "$WORK/vlan.pcap" "$FIX/vlan.pcap"
}

# tcpdump -i any -y LINUX_SLL2 in sfx-a: loopback UDP/TCP/ICMP/UDPv6 and an
# ICMP echo over the veth (a second interface index in the SLL2 header).
rec_sll2() {
    ns_pair
    serve "$NS_A" udp-sink@127.0.0.1:47001 tcp-reply@127.0.0.1:47002 "udp-sink@[::1]:47003"
    wait_listen "$NS_A" t 47002
    wait_listen "$NS_A" u 47003
    cap_start "$NS_A" "$WORK/sll2.pcap" tcpdump -i any -y LINUX_SLL2 'not ip6 proto 0'
    cl "$NS_A" udp-send 127.0.0.1 47001 --sport 40001 --sizes 10,100,1000
    cl "$NS_A" tcp-exchange 127.0.0.1 47002 --sport 40002
    in_ns "$NS_A" ping -n -q -c 2 -i 0.2 127.0.0.1 >/dev/null
    cl "$NS_A" udp-send ::1 47003 --sport 40003 --sizes 20,400
    in_ns "$NS_A" ping -n -q -c 1 10.77.0.2 >/dev/null
    cap_stop
    install_capture "$WORK/sll2.pcap" "$FIX/sll2.pcap"
}

# dumpcap -i lo -i sfx0: two IDBs, both Ethernet; sfx0 has snaplen 200, so its
# 1000-byte UDP datagram is truncated (cap_len < len) on interface 1 only.
rec_multi_iface() {
    ns_pair
    serve "$NS_A" udp-sink@127.0.0.1:47001 tcp-reply@127.0.0.1:47002
    serve "$NS_B" udp-sink@10.77.0.2:47010
    wait_listen "$NS_A" t 47002
    wait_listen "$NS_B" u 47010
    cap_start "$NS_A" "$WORK/multi-iface.pcapng" dumpcap -i lo -i sfx0 -s 200 -f 'not ip6 proto 0'
    cl "$NS_A" udp-send 127.0.0.1 47001 --sport 40001 --sizes 32,64,128
    in_ns "$NS_A" ping -n -q -c 2 -i 0.2 10.77.0.2 >/dev/null
    cl "$NS_A" tcp-exchange 127.0.0.1 47002 --sport 40002
    cl "$NS_A" udp-send 10.77.0.2 47010 --sport 40010 --sizes 64,1000
    in_ns "$NS_A" ping -n -q -6 -c 2 -i 0.2 fd77::2 >/dev/null
    cap_stop
    install_capture "$WORK/multi-iface.pcapng" "$FIX/multi-iface.pcapng"
}

# DNS over UDP and TCP on loopback: the sfxdns responder on 127.0.0.1 / ::1,
# ports 5300 and 53, queried by dig with fixed source ports; plus an mDNS
# query from port 5353 to 224.0.0.251 answered by multicast.
rec_dns() {
    ns_lo
    serve "$NS_A" dns@127.0.0.1:5300 "dns@[::1]:5300" dns@127.0.0.1:53 "dns@[::1]:53" mdns@127.0.0.1:5353
    wait_listen "$NS_A" t 5300
    wait_listen "$NS_A" t 53
    wait_listen "$NS_A" u 5353
    # not igmp: the responder's group join is re-reported on a timer
    cap_start "$NS_A" "$WORK/dns.pcap" tcpdump -i lo 'not igmp'
    dg "$NS_A" -b '127.0.0.1#40531' @127.0.0.1 -p 5300 www.sniff.test A
    dg "$NS_A" -b '::1#40532' @::1 -p 5300 www.sniff.test AAAA
    dg "$NS_A" -b '127.0.0.1#40533' @127.0.0.1 -p 53 alias.sniff.test A      # CNAME, CNAME, A
    dg "$NS_A" -b '127.0.0.1#40534' @127.0.0.1 -p 53 nx.sniff.test A         # NXDOMAIN + SOA
    dg "$NS_A" -b '::1#40535' @::1 -p 53 multi.sniff.test A                  # 3 A, owners 0xc00c
    dg "$NS_A" -b '127.0.0.1#40536' @127.0.0.1 -p 53 +tcp alias.sniff.test A # over TCP
    dg "$NS_A" -b '::1#40537' @::1 -p 5300 +tcp mail.sniff.test MX           # MX + additional A
    dg "$NS_A" -b '127.0.0.1#40538' @127.0.0.1 -p 5300 txt.sniff.test TXT
    dg "$NS_A" -b '127.0.0.1#40539' @127.0.0.1 -p 53 www.example.com A       # REFUSED (not our zone)
    cl "$NS_A" mdns-query 127.0.0.1 sniffer.local
    cap_stop
    install_capture "$WORK/dns.pcap" "$FIX/dns.pcap"
}

# TCP cases on loopback, client ports 41000-41006:
#  (a) 41000 -> 47100 complete connection, data both ways, FIN both ways
#  (b) 41001 -> 47101 closed port: SYN, RST-ACK
#  (c) 41002 -> 47102 data both ways, then the client aborts (SO_LINGER 0): RST
#  (d) 41003 -> 47103 SYN dropped by an nft input rule; the client gives up
#      after 0.5 s, before the first retransmission: one unanswered SYN
#  (e) 41004 -> 47104 complete connection whose SYN the capture filter leaves
#      out, so the flow starts with the SYN-ACK
#  (f) 41005 -> 47105 complete connection over IPv6 (::1)
#  (g) 41006 -> 47106 IPv6 closed port: SYN, RST-ACK
rec_tcp_states() {
    ns_lo
    ip netns exec "$NS_A" nft -f - <<'EOF'
table inet sfx {
    chain input {
        type filter hook input priority 0; policy accept;
        tcp dport 47103 drop
    }
}
EOF
    serve "$NS_A" tcp-reply@127.0.0.1:47100 tcp-reply@127.0.0.1:47102 tcp-reply@127.0.0.1:47104 \
        "tcp-reply@[::1]:47105"
    wait_listen "$NS_A" t 47105
    cap_start "$NS_A" "$WORK/tcp-states.pcap" tcpdump -i lo \
        'not (ip and tcp src port 41004 and tcp[tcpflags] == tcp-syn)'
    cl "$NS_A" tcp-exchange 127.0.0.1 47100 --sport 41000
    sleep 0.1
    cl "$NS_A" tcp-refused 127.0.0.1 47101 --sport 41001
    sleep 0.1
    cl "$NS_A" tcp-exchange 127.0.0.1 47102 --sport 41002 --abort
    sleep 0.1
    cl "$NS_A" tcp-syn-only 127.0.0.1 47103 --sport 41003 --wait 0.5
    sleep 0.1
    cl "$NS_A" tcp-exchange 127.0.0.1 47104 --sport 41004
    sleep 0.1
    cl "$NS_A" tcp-exchange ::1 47105 --sport 41005
    sleep 0.1
    cl "$NS_A" tcp-refused ::1 47106 --sport 41006
    cap_stop
    install_capture "$WORK/tcp-states.pcap" "$FIX/tcp-states.pcap"
}

# Application payloads on loopback: HTTP/1.1 GET (high port, port 80, IPv6),
# TLS 1.3 ClientHello with SNI sniff.example.test (openssl), SSH banners on
# port 22, QUIC v1 Initials to udp/443 (nobody listens: ICMP and ICMPv6 port
# unreachable quote them), ICMP and ICMPv6 echo.
rec_app() {
    ns_lo
    make_cert
    serve "$NS_A" http@127.0.0.1:48080 http@127.0.0.1:80 "http@[::1]:80" ssh@127.0.0.1:22
    tls_server "$NS_A" 127.0.0.1:443 1
    wait_listen "$NS_A" t 48080
    wait_listen "$NS_A" t 22
    wait_listen "$NS_A" t 443
    cap_start "$NS_A" "$WORK/app.pcap" tcpdump -i lo
    cl "$NS_A" http-get 127.0.0.1 48080 --sport 42001 --host 127.0.0.1:48080 --path /index.html
    cl "$NS_A" http-get 127.0.0.1 80 --sport 42002 --host www.sniff.test --path /
    cl "$NS_A" http-get ::1 80 --sport 42003 --host '[::1]' --path /v6
    tls_client "$NS_A" 127.0.0.1:443 sniff.example.test 127.0.0.1:42004
    cl "$NS_A" ssh-banner 127.0.0.1 22 --sport 42005
    cl "$NS_A" quic-initial 127.0.0.1 443 --sport 42006
    cl "$NS_A" quic-initial ::1 443 --sport 42007 --dcid 5f1ff00d5f1ff00d
    in_ns "$NS_A" ping -n -q -c 2 -i 0.2 127.0.0.1 >/dev/null
    in_ns "$NS_A" ping -n -q -6 -c 2 -i 0.2 ::1 >/dev/null
    cap_stop
    install_capture "$WORK/app.pcap" "$FIX/app.pcap"
}

# Hostile strings in names a UI will display: DNS question names with HTML
# in their labels (hand-built queries; the responder answers NXDOMAIN and
# echoes the name), HTTP Host headers, a path, a User-Agent and a TLS SNI.
rec_xss() {
    ns_lo
    make_cert
    serve "$NS_A" dns@127.0.0.1:53 http@127.0.0.1:80
    tls_server "$NS_A" 127.0.0.1:443 1
    wait_listen "$NS_A" u 53
    wait_listen "$NS_A" t 80
    wait_listen "$NS_A" t 443
    cap_start "$NS_A" "$WORK/xss.pcap" tcpdump -i lo
    cl "$NS_A" dns-query 127.0.0.1 53 --sport 43001 --id 0x1337 \
        --label '<img src=x onerror=alert(1)>' --label '<script>' --label xss --label sniff --label test
    cl "$NS_A" dns-query 127.0.0.1 53 --sport 43002 --id 0x1338 --qtype AAAA \
        --label '<script>alert(1)</script>' --label sniff --label test
    cl "$NS_A" http-get 127.0.0.1 80 --sport 43003 --host '<script>alert(1)</script>.example'
    cl "$NS_A" http-get 127.0.0.1 80 --sport 43004 --host '<img src=x onerror=alert(1)>' \
        --path '/?q=<svg/onload=alert(1)>' --user-agent '"><script>alert(document.domain)</script>'
    tls_client "$NS_A" 127.0.0.1:443 '<script>alert(1)</script>' 127.0.0.1:43005
    cap_stop
    install_capture "$WORK/xss.pcap" "$FIX/xss.pcap"
}

# TLS handshakes on loopback, each with SNI and ALPN: openssl s_client to
# openssl s_server with TLS 1.3 (port 8443, client port 42201) and with TLS 1.2
# (42202), and curl with TLS 1.2 (42203) and TLS 1.3 (42204), then close.
rec_tls() {
    ns_lo
    make_cert
    bg "$NS_A" openssl s_server -accept 127.0.0.1:8443 -cert "$CERT/cert.pem" -key "$CERT/key.pem" \
        -naccept 4 -alpn h2,http/1.1 -www -quiet
    wait_listen "$NS_A" t 8443
    cap_start "$NS_A" "$WORK/tls.pcap" tcpdump -i lo
    in_ns "$NS_A" openssl s_client -connect 127.0.0.1:8443 -servername tls13.sniff.test -alpn h2,http/1.1 \
        -tls1_3 -bind 127.0.0.1:42201 </dev/null >/dev/null 2>&1
    in_ns "$NS_A" openssl s_client -connect 127.0.0.1:8443 -servername tls12.sniff.test -alpn http/1.1 \
        -tls1_2 -bind 127.0.0.1:42202 </dev/null >/dev/null 2>&1
    in_ns "$NS_A" curl -sk --tlsv1.2 --tls-max 1.2 --http1.1 --local-port 42203 \
        --resolve curl12.sniff.test:8443:127.0.0.1 https://curl12.sniff.test:8443/ >/dev/null
    in_ns "$NS_A" curl -sk --tlsv1.3 --http1.1 --local-port 42204 \
        --resolve curl13.sniff.test:8443:127.0.0.1 https://curl13.sniff.test:8443/ >/dev/null
    cap_stop
    install_capture "$WORK/tls.pcap" "$FIX/tls.pcap"
}

# Server certificates of TLS 1.2 on the veth pair with a 1000-byte MTU, so that the
# RSA leaf certificate spans TCP segments and the ECDSA one does not: tls-cert.pcap.
#  - client port 40700 to 10.77.0.2:8443: an RSA 3072 leaf signed by a test CA and sent
#    with it (leaf, CA); its subject has six RDNs, UTF8Strings with non-ASCII letters,
#    a comma, a literal plus and a two-valued RDN (OU+UID); the CA's CN has quotes
#  - client port 40701 to 10.77.0.2:8444: a self-signed ECDSA P-384 leaf valid for
#    36500 days (notAfter past 2049: a GeneralizedTime) with an emailAddress
#  - client port 40702 to 8443 again with TLS 1.3: the certificate is encrypted
rec_tls_cert() {
    ns_pair
    ip -n "$NS_A" link set sfx0 mtu 1000
    ip -n "$NS_B" link set sfx1 mtu 1000
    local d=$WORK/tlscert
    mkdir -p "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -utf8 -subj '/C=US/O=Sniff Test CA/CN=Sniff Root "R1"' \
        -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
    openssl req -new -newkey rsa:3072 -nodes -utf8 \
        -subj '/C=DE/ST=Baden-Württemberg/L=Zürich, Süd/O=Sniff\+Partner, Inc./OU=Tests+UID=42/CN=cert.sniff.test' \
        -keyout "$d/rsa.key" -out "$d/rsa.csr" 2>/dev/null
    openssl x509 -req -in "$d/rsa.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 825 \
        -out "$d/rsa.pem" 2>/dev/null
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -days 36500 -utf8 \
        -subj '/emailAddress=ops@sniff.test/O=Sniff/CN=ecdsa.sniff.test' -keyout "$d/ec.key" -out "$d/ec.pem" 2>/dev/null
    bg "$NS_B" openssl s_server -accept 10.77.0.2:8443 -cert "$d/rsa.pem" -key "$d/rsa.key" -cert_chain "$d/ca.pem" \
        -naccept 2 -quiet
    bg "$NS_B" openssl s_server -accept 10.77.0.2:8444 -cert "$d/ec.pem" -key "$d/ec.key" -naccept 1 -quiet
    wait_listen "$NS_B" t 8443
    wait_listen "$NS_B" t 8444
    cap_start "$NS_A" "$WORK/tls-cert.pcap" tcpdump -i sfx0 'not ip6 proto 0'
    in_ns "$NS_A" openssl s_client -connect 10.77.0.2:8443 -servername cert.sniff.test -tls1_2 \
        -bind 10.77.0.1:40700 </dev/null >/dev/null 2>&1
    in_ns "$NS_A" openssl s_client -connect 10.77.0.2:8444 -servername ecdsa.sniff.test -tls1_2 \
        -bind 10.77.0.1:40701 </dev/null >/dev/null 2>&1
    in_ns "$NS_A" openssl s_client -connect 10.77.0.2:8443 -servername cert.sniff.test -tls1_3 \
        -bind 10.77.0.1:40702 </dev/null >/dev/null 2>&1
    cap_stop
    install_capture "$WORK/tls-cert.pcap" "$FIX/tls-cert.pcap"
}

# QUIC handshakes on loopback between aioquic's client and server
# (scripts/gen/sfxaioquic.py): v1 with SNI quic.sniff.test (client port
# 42301), v2 (42302), and v1 with a ClientHello that spans two Initial
# packets (42303); each client pings once and closes.
rec_quic() {
    "$PY" -c 'import aioquic' 2>/dev/null || { echo "record-fixtures.sh: needs aioquic (pip install aioquic)" >&2; exit 1; }
    ns_lo
    make_cert
    bg "$NS_A" "$PY" "$GEN/sfxaioquic.py" serve 127.0.0.1 4433 "$CERT/cert.pem" "$CERT/key.pem" --timeout 60
    wait_listen "$NS_A" u 4433
    cap_start "$NS_A" "$WORK/quic.pcap" tcpdump -i lo
    in_ns "$NS_A" "$PY" "$GEN/sfxaioquic.py" connect 127.0.0.1 4433 --sni quic.sniff.test --sport 42301
    in_ns "$NS_A" "$PY" "$GEN/sfxaioquic.py" connect 127.0.0.1 4433 --sni quic2.sniff.test --version 2 \
        --sport 42302
    in_ns "$NS_A" "$PY" "$GEN/sfxaioquic.py" connect 127.0.0.1 4433 --sni big.sniff.test --big --sport 42303
    cap_stop
    install_capture "$WORK/quic.pcap" "$FIX/quic.pcap"
}

# The newcomer's sample: client sfx-a talks to services in sfx-b over the
# veth; dumpcap records sfx0 (pcapng, Ethernet, nanoseconds).
rec_sample() {
    ns_pair
    make_cert
    ip netns exec "$NS_B" nft -f - <<'EOF'
table inet sfx {
    chain input {
        type filter hook input priority 0; policy accept;
        tcp dport 8443 drop
    }
}
EOF
    serve "$NS_B" dns@10.77.0.2:53 "dns@[fd77::2]:53" mdns@10.77.0.2:5353 \
        http@10.77.0.2:80 "http@[fd77::2]:80" ssh@10.77.0.2:22 tcp-reply@10.77.0.2:7000 \
        udp-echo@10.77.0.2:7 "udp-echo@[fd77::2]:7"
    tls_server "$NS_B" 10.77.0.2:443 2
    wait_listen "$NS_B" t 7000
    wait_listen "$NS_B" u 5353
    wait_listen "$NS_B" t 443
    cap_start "$NS_A" "$WORK/sample.pcapng" dumpcap -i sfx0 -f 'not ip6 proto 0 and not igmp'
    local a=10.77.0.2 a6=fd77::2 i
    in_ns "$NS_A" ping -n -q -c 3 -i 0.2 "$a" >/dev/null
    in_ns "$NS_A" ping -n -q -6 -c 3 -i 0.2 "$a6" >/dev/null
    dg "$NS_A" -b '10.77.0.1#40531' @"$a" www.sniff.test A
    dg "$NS_A" -b 'fd77::1#40532' @"$a6" www.sniff.test AAAA
    dg "$NS_A" -b '10.77.0.1#40533' @"$a" alias.sniff.test A
    dg "$NS_A" -b '10.77.0.1#40534' @"$a" nx.sniff.test A
    dg "$NS_A" -b 'fd77::1#40535' @"$a6" multi.sniff.test A
    dg "$NS_A" -b '10.77.0.1#40536' @"$a" +tcp mail.sniff.test MX
    dg "$NS_A" -b '10.77.0.1#40537' @"$a" txt.sniff.test TXT
    cl "$NS_A" mdns-query 10.77.0.1 sniffer.local
    for i in 1 2 3 4 5 6; do
        cl "$NS_A" http-get "$a" 80 --sport $((42000 + i)) --host www.sniff.test --path "/page/$i"
    done
    cl "$NS_A" http-get "$a6" 80 --sport 42010 --host '[fd77::2]' --path /v6
    cl "$NS_A" http-get "$a" 80 --sport 42013 --host www.sniff.test --path /big/1
    cl "$NS_A" http-get "$a6" 80 --sport 42014 --host '[fd77::2]' --path /big/2
    dg "$NS_A" -b 'fd77::1#40538' @"$a6" alias.sniff.test AAAA
    dg "$NS_A" -b 'fd77::1#40539' @"$a6" +tcp multi.sniff.test AAAA
    dg "$NS_A" -b '10.77.0.1#40540' @"$a" www.example.com A
    tls_client "$NS_A" "$a:443" sniff.example.test 10.77.0.1:42011
    tls_client "$NS_A" "$a:443" api.sniff.test 10.77.0.1:42012
    cl "$NS_A" ssh-banner "$a" 22 --sport 42020
    cl "$NS_A" quic-initial "$a" 443 --sport 42021
    cl "$NS_A" quic-initial "$a6" 443 --sport 42022 --dcid 5f1ff00d5f1ff00d
    cl "$NS_A" tcp-exchange "$a" 7000 --sport 41000
    cl "$NS_A" tcp-exchange "$a" 7000 --sport 41002 --abort
    cl "$NS_A" tcp-refused "$a" 9999 --sport 41001
    cl "$NS_A" tcp-refused "$a6" 9999 --sport 41006
    cl "$NS_A" tcp-syn-only "$a" 8443 --sport 41003 --wait 0.5
    cl "$NS_A" udp-send "$a" 7 --sport 40007 --expect-echo --gap 0.01 \
        --sizes 1,2,4,8,16,32,64,100,128,200,256,300,400,512,600,700,800,900,1000,1200,1400,1472
    cl "$NS_A" udp-send "$a6" 7 --sport 40008 --expect-echo --gap 0.01 --sizes 8,64,512,1024,1452
    cap_stop
    install_capture "$WORK/sample.pcapng" "$SAMPLES/sample.pcapng"
}

# IP fragments over the veth with MTU 1280 on both ends (IPv6's minimum), so that
# the kernel fragments what it sends: ICMP echo with 3000 bytes of data (IPv4 and
# IPv6, requests and replies), UDP datagrams of 4000 bytes to the echo service
# (client ports 40200 and 40201; echoed back, fragmented too), and a DNS answer
# with 200 A records (about 3.2 kB, dig with a 4096-byte EDNS buffer, client port
# 40541) over IPv4 and IPv6.
rec_frag() {
    ns_pair
    ip -n "$NS_A" link set sfx0 mtu 1280
    ip -n "$NS_B" link set sfx1 mtu 1280
    serve "$NS_B" udp-echo@10.77.0.2:7 "udp-echo@[fd77::2]:7" dns@10.77.0.2:53 "dns@[fd77::2]:53"
    wait_listen "$NS_B" u 7
    wait_listen "$NS_B" t 53
    cap_start "$NS_A" "$WORK/frag.pcap" tcpdump -i sfx0 'not ip6 proto 0'
    in_ns "$NS_A" ping -n -q -c 2 -i 0.2 -s 3000 10.77.0.2 >/dev/null
    in_ns "$NS_A" ping -n -q -6 -c 2 -i 0.2 -s 3000 fd77::2 >/dev/null
    cl "$NS_A" udp-send 10.77.0.2 7 --sport 40200 --expect-echo --gap 0.05 --sizes 4000
    cl "$NS_A" udp-send fd77::2 7 --sport 40201 --expect-echo --gap 0.05 --sizes 4000
    dg "$NS_A" -b '10.77.0.1#40541' +bufsize=4096 +ignore @10.77.0.2 big.sniff.test A
    dg "$NS_A" -b 'fd77::1#40542' +bufsize=4096 +ignore @fd77::2 big.sniff.test A
    cap_stop
    install_capture "$WORK/frag.pcap" "$FIX/frag.pcap"
}

# TCP streams whose application data spans segments: the veth pair with MTU 256 on
# both ends (MSS 216), so that a TLS ClientHello (openssl s_client, SNI
# long.example.test, client port 40600), a DNS query with a 190-byte name over TCP
# (dig +tcp +keepopen: three queries on one connection, client port 40601) and an HTTP
# request with a 1500-byte URI and a 3000-byte header (curl to python3 -m http.server,
# client port 40602) each take several segments.
rec_tcp_reasm() {
    ns_pair
    ip -n "$NS_A" link set sfx0 mtu 256
    ip -n "$NS_B" link set sfx1 mtu 256
    make_cert
    mkdir -p "$WORK/www"
    tls_server "$NS_B" 10.77.0.2:8443 1
    serve "$NS_B" dns@10.77.0.2:53
    bg "$NS_B" "$SYSPY" -m http.server --bind 10.77.0.2 --directory "$WORK/www" 8080
    wait_listen "$NS_B" t 8443
    wait_listen "$NS_B" t 53
    wait_listen "$NS_B" t 8080
    cap_start "$NS_A" "$WORK/tcp-reasm.pcap" tcpdump -i sfx0 'not ip6 proto 0'
    tls_client "$NS_A" 10.77.0.2:8443 long.example.test 10.77.0.1:40600
    local long
    long=$(printf 'l%.0s' $(seq 60)).$(printf 'm%.0s' $(seq 60)).$(printf 'n%.0s' $(seq 60)).sniff.test
    dg "$NS_A" -b '10.77.0.1#40601' +tcp +keepopen @10.77.0.2 "$long" A www.sniff.test A alias.sniff.test A
    local uri header
    uri=/$(printf 'u%.0s' $(seq 1500))
    header=$(printf 'x%.0s' $(seq 3000))
    in_ns "$NS_A" curl -s -o /dev/null --local-port 40602 -H "X-Long: $header" "http://10.77.0.2:8080$uri" || true
    cap_stop
    install_capture "$WORK/tcp-reasm.pcap" "$FIX/tcp-reasm.pcap"
}

# Protocol logs (dns.log, http.log) on the veth pair: logs.pcap.
#  - client port 40620: six HTTP/1.1 requests written at once (pipelined) to a
#    keep-alive server: GET, POST with a 300-byte body, GET of 48 KiB (many segments),
#    GET in chunked coding, HEAD, and a 404 with Connection: close
#  - client port 40621: a second connection, one GET
#  - DNS over UDP: NS, SOA, MX and NXDOMAIN queries (client ports 40622-40625)
#  - DNS over TCP: three queries on one connection (+keepopen, client port 40626)
rec_logs() {
    ns_pair
    serve "$NS_B" http-keepalive@10.77.0.2:8080 dns@10.77.0.2:53
    wait_listen "$NS_B" t 8080
    wait_listen "$NS_B" t 53
    cap_start "$NS_A" "$WORK/logs.pcap" tcpdump -i sfx0 'not ip6 proto 0'
    cl "$NS_A" http-pipeline 10.77.0.2 8080 --sport 40620 --host www.sniff.test \
        "GET /index.html" "POST /form" "GET /big.bin" "GET /chunked.txt" "HEAD /index.html" "GET /missing/x"
    cl "$NS_A" http-pipeline 10.77.0.2 8080 --sport 40621 --host www.sniff.test --user-agent "other agent/2.0" \
        "GET /second?q=a,b"
    dg "$NS_A" -b '10.77.0.1#40622' @10.77.0.2 sniff.test NS
    dg "$NS_A" -b '10.77.0.1#40623' @10.77.0.2 sniff.test SOA
    dg "$NS_A" -b '10.77.0.1#40624' @10.77.0.2 mail.sniff.test MX
    dg "$NS_A" -b '10.77.0.1#40625' @10.77.0.2 nothing.sniff.test A
    dg "$NS_A" -b '10.77.0.1#40626' +tcp +keepopen @10.77.0.2 www.sniff.test AAAA multi.sniff.test A nx2.sniff.test A
    cap_stop
    install_capture "$WORK/logs.pcap" "$FIX/logs.pcap"
}

# Retransmissions and a content gap. tcp-loss.pcap: curl fetches a 64 kB file from
# python3 -m http.server (client port 40610) while nftables in the client's
# namespace drops one in five of the server's data segments on input (this kernel
# has no netem): the capture, on the client's veth, sees each dropped segment and
# later its retransmission. tcp-gap.pcap: a clean fetch of the same file (client port 40611),
# with editcap cutting out the server's 10th data segment: the client's acks then
# cover bytes the capture never saw, a gap of one segment.
rec_tcp_loss() {
    ns_pair
    mkdir -p "$WORK/www"
    head -c 65536 /dev/urandom >"$WORK/www/blob.bin"
    bg "$NS_B" "$SYSPY" -m http.server --bind 10.77.0.2 --directory "$WORK/www" 8080
    wait_listen "$NS_B" t 8080
    cap_start "$NS_A" "$WORK/tcp-gap-full.pcap" tcpdump -i sfx0 'not ip6 proto 0'
    in_ns "$NS_A" curl -s -o /dev/null --local-port 40611 "http://10.77.0.2:8080/blob.bin"
    cap_stop
    [[ $CAP_DROPS == 0 ]] || { RETRY=1; return 0; }
    ip netns exec "$NS_A" nft -f - <<'NFT'
table inet sfxloss {
    chain in {
        type filter hook input priority 0;
        tcp sport 8080 ip length > 100 numgen random mod 5 == 0 drop
    }
}
NFT
    cap_start "$NS_A" "$WORK/tcp-loss.pcap" tcpdump -i sfx0 'not ip6 proto 0'
    in_ns "$NS_A" curl -s -o /dev/null --local-port 40610 "http://10.77.0.2:8080/blob.bin"
    cap_stop
    local cut
    cut=$(tshark -n -r "$WORK/tcp-gap-full.pcap" -Y 'tcp.srcport == 8080 && tcp.len > 0' -T fields -e frame.number \
          2>/dev/null | sed -n 10p)
    [[ -n $cut ]] || { echo "record-fixtures.sh: tcp-gap: no 10th data segment" >&2; exit 1; }
    editcap -d "$WORK/tcp-gap-full.pcap" "$WORK/tcp-gap.pcap" "$cut"
    install_capture "$WORK/tcp-loss.pcap" "$FIX/tcp-loss.pcap"
    install_capture "$WORK/tcp-gap.pcap" "$FIX/tcp-gap.pcap"
}

# ---------------------------------------------------------------- application fixtures
# Tests/Fixtures/apps/NAME.pcap: one application protocol each, spoken by the Debian
# daemon and client named in each function, on the loopback of a fresh namespace (or
# the veth pair for DHCP and the tunnels). Servers run in the foreground under
# timeout(1) from bg(), with their state in $WORK; clients run under in_ns's timeout.
# `sudo scripts/record-fixtures.sh apps` records all of them.
APPS=$FIX/apps
# Debian's python3, for its packaged servers (python3-aiosmtpd, python3-pyftpdlib).
SYSPY=/usr/bin/python3

# app_capture NAME FUNCTION ARGS...: record what FUNCTION does on the loopback.
app_lo() {
    local name=$1
    shift
    cap_start "$NS_A" "$WORK/$name.pcap" tcpdump -i lo -s 2048
    "$@"
    cap_stop
    install_capture "$WORK/$name.pcap" "$APPS/$name.pcap"
}

rec_app_redis() {
    ns_lo
    bg "$NS_A" redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK"
    wait_listen "$NS_A" t 6379
    app_lo redis redis_talk
}
redis_talk() {
    in_ns "$NS_A" redis-cli -h 127.0.0.1 -p 6379 SET sniff:key hello >/dev/null
    in_ns "$NS_A" redis-cli -h 127.0.0.1 -p 6379 GET sniff:key >/dev/null
}

# HTTP/2 with prior knowledge: curl --http2-prior-knowledge (client port 41080) sends the
# connection preface and its SETTINGS to python3 -m http.server on port 5080, a port
# without a name, which answers HTTP/1.0 400: the flow is named from the preface.
rec_app_http2() {
    ns_lo
    mkdir -p "$WORK/www"
    bg "$NS_A" "$SYSPY" -m http.server --bind 127.0.0.1 --directory "$WORK/www" 5080
    wait_listen "$NS_A" t 5080
    app_lo http2 http2_talk
}
http2_talk() {
    in_ns "$NS_A" curl -s -o /dev/null --http2-prior-knowledge --local-port 41080 http://127.0.0.1:5080/ || true
}

rec_app_mqtt() {
    ns_lo
    printf 'listener 1883 127.0.0.1\nallow_anonymous true\npersistence false\n' >"$WORK/mosquitto.conf"
    bg "$NS_A" mosquitto -c "$WORK/mosquitto.conf"
    wait_listen "$NS_A" t 1883
    app_lo mqtt mqtt_talk
}
mqtt_talk() {
    in_ns "$NS_A" mosquitto_pub -h 127.0.0.1 -p 1883 -V mqttv311 -t sniff/test -m hello
    in_ns "$NS_A" mosquitto_pub -h 127.0.0.1 -p 1883 -V mqttv5 -t sniff/test -m hello5
}

rec_app_postgresql() {
    ns_lo
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    mkdir -p "$WORK/pg"
    chown postgres "$WORK/pg"
    chmod o+x "$WORK"   # the server runs as postgres (initdb refuses root)
    runuser -u postgres -- "$bin/initdb" -D "$WORK/pg/data" -U postgres -A trust --no-sync >/dev/null
    ip netns exec "$NS_A" timeout 120 runuser -u postgres -- "$bin/postgres" -D "$WORK/pg/data" \
        -c listen_addresses=127.0.0.1 -c port=5432 -c unix_socket_directories="$WORK/pg" \
        </dev/null >>"$WORK/bg.log" 2>&1 &
    PIDS+=("$!")
    wait_listen "$NS_A" t 5432
    app_lo postgresql pg_talk
}
pg_talk() {
    # sslmode=prefer sends an SSLRequest first (the server says N), disable does not.
    in_ns "$NS_A" psql "host=127.0.0.1 port=5432 user=postgres dbname=postgres sslmode=prefer" -c 'select 1' >/dev/null
    in_ns "$NS_A" psql "host=127.0.0.1 port=5432 user=postgres dbname=postgres sslmode=disable" -c 'select 2' >/dev/null
}

rec_app_mysql() {
    ns_lo
    mkdir -p "$WORK/my"
    mariadb-install-db --user=root --datadir="$WORK/my/data" --auth-root-authentication-method=normal \
        --skip-test-db >/dev/null 2>&1
    bg "$NS_A" mariadbd --user=root --datadir="$WORK/my/data" --socket="$WORK/my/sock" --port=3306 \
        --bind-address=127.0.0.1 --skip-grant-tables --skip-log-bin --pid-file="$WORK/my/pid"
    wait_listen "$NS_A" t 3306
    app_lo mysql mysql_talk
}
mysql_talk() {
    in_ns "$NS_A" mariadb --protocol=tcp -h 127.0.0.1 -P 3306 -u root --skip-ssl -e 'select 1' >/dev/null
}

rec_app_smtp() {
    ns_lo
    bg "$NS_A" "$SYSPY" -m aiosmtpd -n -l 127.0.0.1:25
    wait_listen "$NS_A" t 25
    printf 'Subject: sniff\r\n\r\nhello\r\n' >"$WORK/mail.txt"
    app_lo smtp in_ns "$NS_A" curl -s smtp://127.0.0.1:25 --mail-from a@sniff.test --mail-rcpt b@sniff.test \
        -T "$WORK/mail.txt"
}

rec_app_ftp() {
    ns_lo
    mkdir -p "$WORK/ftp"
    echo hello >"$WORK/ftp/hello.txt"
    bg "$NS_A" "$SYSPY" -m pyftpdlib -i 127.0.0.1 -p 21 -d "$WORK/ftp"
    wait_listen "$NS_A" t 21
    app_lo ftp in_ns "$NS_A" curl -s -o /dev/null ftp://127.0.0.1:21/hello.txt
}

rec_app_mail() {
    ns_lo
    mkdir -p "$WORK/dovecot/mail"
    chmod 0777 "$WORK/dovecot/mail"
    chmod o+x "$WORK"
    echo "sniff:{PLAIN}secret:$(id -u dovecot):$(id -g dovecot)::$WORK/dovecot/mail" >"$WORK/dovecot/passwd"
    cat >"$WORK/dovecot/dovecot.conf" <<EOC
protocols = imap pop3
listen = 127.0.0.1
base_dir = $WORK/dovecot/run
ssl = no
disable_plaintext_auth = no
first_valid_uid = 100
log_path = $WORK/dovecot/log
mail_location = maildir:$WORK/dovecot/mail
passdb {
  driver = passwd-file
  args = $WORK/dovecot/passwd
}
userdb {
  driver = passwd-file
  args = $WORK/dovecot/passwd
}
EOC
    bg "$NS_A" dovecot -F -c "$WORK/dovecot/dovecot.conf"
    wait_listen "$NS_A" t 143
    wait_listen "$NS_A" t 110
    app_lo imap in_ns "$NS_A" curl -s -o /dev/null imap://sniff:secret@127.0.0.1:143/
    app_lo pop3 in_ns "$NS_A" curl -s -o /dev/null pop3://sniff:secret@127.0.0.1:110/
}

rec_app_telnet() {
    ns_lo
    bg "$NS_A" socat TCP-LISTEN:23,bind=127.0.0.1,reuseaddr EXEC:"/usr/sbin/telnetd -h"
    wait_listen "$NS_A" t 23
    app_lo telnet telnet_talk
}
telnet_talk() {
    { sleep 1; printf 'exit\r\n'; sleep 1; } | ip netns exec "$NS_A" timeout 5 busybox telnet 127.0.0.1 23 \
        >/dev/null 2>&1 || true
}

rec_app_snmp() {
    ns_lo
    printf 'agentaddress udp:127.0.0.1:161\nrocommunity public 127.0.0.1\n' >"$WORK/snmpd.conf"
    bg "$NS_A" env MIBS= snmpd -f -Lf /dev/null -C -c "$WORK/snmpd.conf" -p "$WORK/snmpd.pid"
    wait_listen "$NS_A" u 161
    app_lo snmp snmp_talk
}
snmp_talk() {
    in_ns "$NS_A" snmpget -v1 -c public -t 2 -r 0 127.0.0.1 1.3.6.1.2.1.1.5.0 >/dev/null
    in_ns "$NS_A" snmpget -v2c -c public -t 2 -r 0 127.0.0.1 1.3.6.1.2.1.1.3.0 >/dev/null
}

rec_app_ntp() {
    ns_lo
    printf 'port 123\nbindaddress 127.0.0.1\nallow 127.0.0.1\nlocal stratum 8\ncmdport 0\n' >"$WORK/chrony.conf"
    bg "$NS_A" chronyd -d -x -f "$WORK/chrony.conf" -r -n
    wait_listen "$NS_A" u 123
    sleep 1
    app_lo ntp in_ns "$NS_A" ntpdate -q 127.0.0.1
}

rec_app_syslog() {
    ns_lo
    bg "$NS_A" socat -u UDP-RECV:514,bind=127.0.0.1 OPEN:/dev/null
    wait_listen "$NS_A" u 514
    app_lo syslog syslog_talk
}
syslog_talk() {
    in_ns "$NS_A" logger --udp -n 127.0.0.1 -P 514 --rfc5424 -t sniff 'hello from logger (RFC 5424)'
    in_ns "$NS_A" logger --udp -n 127.0.0.1 -P 514 --rfc3164 -t sniff 'hello from logger (RFC 3164)'
}

rec_app_ldap() {
    ns_lo
    mkdir -p "$WORK/ldap"
    printf 'include /etc/ldap/schema/core.schema\npidfile %s/ldap/pid\n' "$WORK" >"$WORK/ldap/slapd.conf"
    bg "$NS_A" slapd -d 0 -f "$WORK/ldap/slapd.conf" -h ldap://127.0.0.1:389/
    wait_listen "$NS_A" t 389
    app_lo ldap in_ns "$NS_A" ldapsearch -x -H ldap://127.0.0.1:389 -b '' -s base '(objectClass=*)' namingContexts >/dev/null
}

rec_app_sip() {
    ns_lo
    # Nothing answers: sipsak's OPTIONS requests and the kernel's port unreachable.
    app_lo sip sip_talk
}
sip_talk() {
    in_ns "$NS_A" sipsak -s sip:sniff@127.0.0.1:5060 -l 45060 >/dev/null 2>&1 || true
}

rec_app_radius() {
    ns_lo
    bg "$NS_A" freeradius -f -d /etc/freeradius/3.0 -l stdout
    wait_listen "$NS_A" u 1812
    app_lo radius radius_talk
}
radius_talk() {
    in_ns "$NS_A" radtest sniff secret 127.0.0.1 0 testing123 >/dev/null || true
}

rec_app_memcached() {
    ns_lo
    bg "$NS_A" memcached -u root -l 127.0.0.1 -p 11211 -U 0
    wait_listen "$NS_A" t 11211
    app_lo memcached memcached_talk
}
memcached_talk() {
    in_ns "$NS_A" memcstat --servers=127.0.0.1:11211 >/dev/null
    echo hello >"$WORK/sniff-key"
    in_ns "$NS_A" memccp --servers=127.0.0.1:11211 "$WORK/sniff-key"
    in_ns "$NS_A" memccat --servers=127.0.0.1:11211 sniff-key >/dev/null
}

rec_app_openvpn() {
    ns_lo
    make_cert
    app_lo openvpn openvpn_talk
}
openvpn_talk() {
    # A client with no server: its hard-reset requests, retried, and port unreachable.
    ip netns exec "$NS_A" timeout 4 openvpn --client --dev null --proto udp --remote 127.0.0.1 1194 \
        --lport 41194 --ca "$CERT/cert.pem" --cert "$CERT/cert.pem" --key "$CERT/key.pem" \
        --connect-retry-max 1 --verb 0 >/dev/null 2>&1 || true
}

rec_app_isakmp() {
    ns_lo
    app_lo isakmp isakmp_talk
}
isakmp_talk() {
    in_ns "$NS_A" ike-scan -q -r 1 127.0.0.1 >/dev/null || true
    in_ns "$NS_A" ike-scan -q -r 1 --ikev2 127.0.0.1 >/dev/null || true
}

rec_app_coap() {
    ns_lo
    bg "$NS_A" coap-server-notls -A 127.0.0.1 -p 5683
    wait_listen "$NS_A" u 5683
    app_lo coap in_ns "$NS_A" coap-client-notls -m get -B 3 coap://127.0.0.1/.well-known/core
}

rec_app_socks() {
    ns_lo
    bg "$NS_A" microsocks -i 127.0.0.1 -p 1080
    serve "$NS_A" http@127.0.0.1:48080
    wait_listen "$NS_A" t 1080
    wait_listen "$NS_A" t 48080
    app_lo socks in_ns "$NS_A" curl -s -o /dev/null --socks5 127.0.0.1:1080 http://127.0.0.1:48080/
}

rec_app_stun() {
    ns_lo
    bg "$NS_A" turnserver -n --listening-ip 127.0.0.1 --listening-port 3478 --no-tls --no-dtls --stun-only \
        --log-file stdout --pidfile "$WORK/turn.pid" --no-cli
    wait_listen "$NS_A" u 3478
    app_lo stun in_ns "$NS_A" turnutils_stunclient -p 3478 127.0.0.1
}

rec_app_rtsp() {
    ns_lo
    # The server side is socat answering with a fixed RTSP/1.0 reply; the client is curl.
    bg "$NS_A" socat TCP-LISTEN:554,bind=127.0.0.1,reuseaddr \
        SYSTEM:"sleep 0.2; printf 'RTSP/1.0 200 OK\\\\r\\\\nCSeq: 1\\\\r\\\\nPublic: OPTIONS, DESCRIBE\\\\r\\\\n\\\\r\\\\n'"
    wait_listen "$NS_A" t 554
    app_lo rtsp rtsp_talk
}
rtsp_talk() {
    in_ns "$NS_A" curl -s -o /dev/null --request OPTIONS rtsp://127.0.0.1:554/stream || true
}

rec_app_netbios() {
    ns_lo
    app_lo netbios nmb_talk
}
nmb_talk() {
    in_ns "$NS_A" nmblookup --unicast=127.0.0.1 SNIFF >/dev/null 2>&1 || true
}

rec_app_irc() {
    ns_lo
    mkdir -p "$WORK/ngircd"
    cat >"$WORK/ngircd/ngircd.conf" <<EOC
[Global]
Name = irc.sniff.test
Info = Sniff fixture
Listen = 127.0.0.1
Ports = 6667
PidFile = $WORK/ngircd/pid
MotdPhrase = hello
[Options]
PAM = no
Ident = no
DNS = no
EOC
    bg "$NS_A" ngircd -n -f "$WORK/ngircd/ngircd.conf"
    wait_listen "$NS_A" t 6667
    app_lo irc irc_talk
}
irc_talk() {
    # ii: the connection's commands are lines written to FIFOs under its directory.
    local dir=$WORK/ii/127.0.0.1 i pid
    ip netns exec "$NS_A" timeout 10 ii -s 127.0.0.1 -p 6667 -n sniff -i "$WORK/ii" >/dev/null 2>&1 &
    pid=$!
    for i in $(seq 50); do [[ -p $dir/in ]] && break; sleep 0.1; done
    sleep 1
    echo "/j #sniff" >"$dir/in"
    for i in $(seq 30); do [[ -p $dir/#sniff/in ]] && break; sleep 0.1; done
    echo "hello from ii" >"$dir/#sniff/in"
    sleep 0.5
    echo "/q" >"$dir/in"
    wait "$pid" 2>/dev/null || true
}

rec_app_xmpp() {
    ns_lo
    mkdir -p "$WORK/prosody/data"
    cat >"$WORK/prosody/prosody.cfg.lua" <<EOC
daemonize = false
pidfile = "$WORK/prosody/pid"
data_path = "$WORK/prosody/data"
interfaces = { "127.0.0.1" }
c2s_ports = { 5222 }
s2s_ports = { }
modules_enabled = { "roster", "saslauth", "disco", "ping" }
modules_disabled = { "s2s" }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_plain"
log = { info = "$WORK/prosody/log" }
VirtualHost "sniff.test"
EOC
    chown -R prosody "$WORK/prosody"
    chmod o+x "$WORK"
    ip netns exec "$NS_A" runuser -u prosody -- prosodyctl --config "$WORK/prosody/prosody.cfg.lua" \
        register sniff sniff.test secret
    ip netns exec "$NS_A" timeout 120 runuser -u prosody -- prosody --config "$WORK/prosody/prosody.cfg.lua" \
        </dev/null >>"$WORK/bg.log" 2>&1 &
    PIDS+=("$!")
    wait_listen "$NS_A" t 5222
    app_lo xmpp xmpp_talk
}
xmpp_talk() {
    echo "hello from sendxmpp" | in_ns "$NS_A" sendxmpp -u sniff -p secret -j 127.0.0.1:5222 -o sniff.test \
        sniff@sniff.test >/dev/null 2>&1 || true
}

rec_app_kerberos() {
    ns_lo
    local k=$WORK/krb5
    mkdir -p "$k"
    cat >"$k/krb5.conf" <<EOC
[libdefaults]
    default_realm = SNIFF.TEST
    dns_lookup_kdc = false
    dns_lookup_realm = false
[realms]
    SNIFF.TEST = {
        kdc = 127.0.0.1:88
    }
EOC
    # The same, but every request over TCP (RFC 4120 §7.2.2's length prefix).
    sed 's/dns_lookup_kdc = false/dns_lookup_kdc = false\n    udp_preference_limit = 1/' "$k/krb5.conf" >"$k/krb5-tcp.conf"
    cat >"$k/kdc.conf" <<EOC
[kdcdefaults]
    kdc_ports = 88
    kdc_tcp_ports = 88
[realms]
    SNIFF.TEST = {
        database_name = $k/principal
        key_stash_file = $k/stash
        acl_file = $k/kadm5.acl
    }
[logging]
    kdc = FILE:$k/kdc.log
EOC
    export KRB5_CONFIG=$k/krb5.conf KRB5_KDC_PROFILE=$k/kdc.conf
    kdb5_util create -s -r SNIFF.TEST -P master-secret >/dev/null
    kadmin.local -q "addprinc -pw secret sniff" >/dev/null
    bg "$NS_A" krb5kdc -n
    wait_listen "$NS_A" u 88
    wait_listen "$NS_A" t 88
    app_lo kerberos kerberos_talk
    unset KRB5_CONFIG KRB5_KDC_PROFILE
}
kerberos_talk() {
    local k=$WORK/krb5
    echo secret | KRB5CCNAME=$k/cc in_ns "$NS_A" kinit sniff >/dev/null
    echo secret | KRB5CCNAME=$k/cc KRB5_CONFIG=$k/krb5-tcp.conf in_ns "$NS_A" kinit sniff >/dev/null
}

rec_app_bittorrent() {
    ns_lo
    app_lo bittorrent in_ns "$NS_A" "$SYSPY" "$GEN/sfxtorrent.py" "$WORK/torrent" 10
}

# DHCP and TFTP from dnsmasq on the veth pair; busybox udhcpc and curl are the clients.
rec_app_dhcp() {
    ns_pair
    mkdir -p "$WORK/tftp"
    echo hello >"$WORK/tftp/hello.txt"
    bg "$NS_A" dnsmasq -d -C /dev/null --port=0 --interface=sfx0 --bind-interfaces --dhcp-range=10.77.0.50,10.77.0.60,1h \
        --enable-tftp --tftp-root="$WORK/tftp" --pid-file="$WORK/dnsmasq.pid" --dhcp-leasefile="$WORK/leases"
    wait_listen "$NS_A" u 67
    cap_start "$NS_A" "$WORK/dhcp.pcap" tcpdump -i sfx0 -s 2048 'udp port 67 or udp port 68'
    ip netns exec "$NS_B" timeout 10 busybox udhcpc -i sfx1 -n -q -f -s /bin/true >/dev/null 2>&1
    cap_stop
    install_capture "$WORK/dhcp.pcap" "$APPS/dhcp.pcap"
    cap_start "$NS_A" "$WORK/tftp.pcap" tcpdump -i sfx0 -s 2048 'udp and not port 67 and not port 68'
    in_ns "$NS_B" curl -s -o /dev/null tftp://10.77.0.1/hello.txt
    cap_stop
    install_capture "$WORK/tftp.pcap" "$APPS/tftp.pcap"
}

# DHCPv6 from dnsmasq on the veth pair; ISC dhclient -6 is the client (one exchange).
rec_app_dhcpv6() {
    ns_pair
    bg "$NS_A" dnsmasq -d -C /dev/null --port=0 --interface=sfx0 --bind-interfaces \
        --dhcp-range=fd77::50,fd77::60,64,1h --pid-file="$WORK/dnsmasq6.pid" --dhcp-leasefile="$WORK/leases6"
    wait_listen "$NS_A" u 547
    # dhclient needs a link-local source address; the veth has none (addrgenmode none).
    ip -n "$NS_B" addr add fe80::77:2/64 dev sfx1 nodad
    ip -n "$NS_A" addr add fe80::77:1/64 dev sfx0 nodad
    cap_start "$NS_A" "$WORK/dhcpv6.pcap" tcpdump -i sfx0 -s 2048 'udp port 546 or udp port 547'
    ip netns exec "$NS_B" timeout 10 dhclient -6 -1 -sf /bin/true -lf "$WORK/dhclient6.leases" \
        -pf "$WORK/dhclient6.pid" sfx1 >/dev/null 2>&1 || true
    [[ -s $WORK/dhclient6.pid ]] && kill "$(cat "$WORK/dhclient6.pid")" 2>/dev/null || true
    cap_stop
    install_capture "$WORK/dhcpv6.pcap" "$APPS/dhcpv6.pcap"
}

# ---------------------------------------------------------------- tunnels

# Traffic carried in a tunnel between sfx-a (10.88.0.1, fd88::1) and sfx-b
# (10.88.0.2, fd88::2), the tunnel's ends being the veth addresses: 3 UDP
# datagrams 41201 -> 47201 (payloads 20, 300, 900), one TCP exchange 41202 ->
# 47202 as in lo-udp-tcp.pcap, and 2 pings; over 6in4 the same in IPv6; over
# PIM, 3 multicast datagrams 41203 -> 239.1.2.3:47203 (a Register carries only
# multicast data). The capture is the veth sfx0, so every frame is a tunnel's.
tunnel_traffic() {
    local mode=$1 dst=10.88.0.2
    [[ $mode == 6in4 ]] && dst=fd88::2
    if [[ $mode == pim ]]; then
        cl "$NS_A" udp-send 239.1.2.3 47203 --sport 41203 --sizes 20,300,900 --gap 0.05
        return 0
    fi
    cl "$NS_A" udp-send "$dst" 47201 --sport 41201 --sizes 20,300,900 --gap 0.05
    sleep 0.1
    cl "$NS_A" tcp-exchange "$dst" 47202 --sport 41202
    in_ns "$NS_A" ping -n -q -c 2 -i 0.2 "$dst" >/dev/null
}

# rec_tunnel MODE ID: one tunnel-MODE.pcap. VXLAN is the kernel's (id 42, UDP
# 4789); the others are scripts/gen/sfxtunnel.py in each namespace (this kernel
# has no geneve, gre, ipip or sit devices): GRE key 7001, GENEVE VNI 4242,
# GTP-U TEID 0x1234567.
rec_tunnel() {
    local mode=$1 id=$2 out=$WORK/tunnel-$1.pcap
    ns_pair
    if [[ $mode == vxlan ]]; then
        local n ns dev
        for n in 1 2; do
            ns=$([[ $n == 1 ]] && echo "$NS_A" || echo "$NS_B")
            dev=sfx$((n - 1))
            ip -n "$ns" link add sfxt0 address "02:78:00:00:00:0$n" type vxlan id "$id" \
                remote "10.77.0.$((3 - n))" local "10.77.0.$n" dstport 4789 dev "$dev"
            ip -n "$ns" link set sfxt0 mtu 1400 addrgenmode none
            ip -n "$ns" addr add "10.88.0.$n/24" dev sfxt0
            ip -n "$ns" addr add "fd88::$n/64" dev sfxt0 nodad
            ip -n "$ns" link set sfxt0 up
        done
    else
        bg "$NS_A" "$PY" "$GEN/sfxtunnel.py" "$mode" 10.77.0.1 10.77.0.2 10.88.0.1 fd88::1 --id "$id" --timeout 60
        bg "$NS_B" "$PY" "$GEN/sfxtunnel.py" "$mode" 10.77.0.2 10.77.0.1 10.88.0.2 fd88::2 --id "$id" --timeout 60
    fi
    local i
    for i in $(seq 100); do
        ip -n "$NS_B" link show sfxt0 2>/dev/null | grep -q UP && break
        sleep 0.05
    done
    local bind=10.88.0.2
    [[ $mode == 6in4 ]] && bind='[fd88::2]'
    if [[ $mode == pim ]]; then
        serve "$NS_B" udp-sink@0.0.0.0:47203
        wait_listen "$NS_B" u 47203
    else
        serve "$NS_B" "udp-sink@$bind:47201" "tcp-reply@$bind:47202"
        wait_listen "$NS_B" u 47201
        wait_listen "$NS_B" t 47202
    fi
    sleep 0.3
    cap_start "$NS_A" "$out" tcpdump -i sfx0 'not ip6 proto 0 and not arp'
    tunnel_traffic "$mode"
    cap_stop
    install_capture "$out" "$FIX/tunnel-$mode.pcap"
}
rec_tunnel_vxlan() { rec_tunnel vxlan 42; }
rec_tunnel_geneve() { rec_tunnel geneve 4242; }
rec_tunnel_gre() { rec_tunnel gre 7001; }
rec_tunnel_ipip() { rec_tunnel ipip 0; }
rec_tunnel_6in4() { rec_tunnel 6in4 0; }
rec_tunnel_pim() { rec_tunnel pim 0; }
rec_tunnel_gtpu() { rec_tunnel gtpu 19088743; }

# ---------------------------------------------------------------- main

# With arguments, only the named fixtures are recorded (e.g. `tls quic`), so that
# adding one does not re-record the others; the checks below run on all of them.
mkdir -p "$FIX" "$FIX/apps" "$SAMPLES"
ALL=(lo_udp_tcp:lo-udp-tcp.pcap lo_nano:lo-nano.pcap lo_nano_pcapng:lo-nano.pcapng vlan:vlan.pcap
     sll2:sll2.pcap multi_iface:multi-iface.pcapng dns:dns.pcap tcp_states:tcp-states.pcap app:app.pcap
     xss:xss.pcap tls:tls.pcap tls_cert:tls-cert.pcap quic:quic.pcap frag:frag.pcap tcp_reasm:tcp-reasm.pcap tcp_loss:tcp-loss.pcap
     tcp_loss:tcp-gap.pcap logs:logs.pcap sample:../../samples/sample.pcapng
     tunnel_vxlan:tunnel-vxlan.pcap tunnel_geneve:tunnel-geneve.pcap tunnel_gre:tunnel-gre.pcap
     tunnel_ipip:tunnel-ipip.pcap tunnel_6in4:tunnel-6in4.pcap tunnel_pim:tunnel-pim.pcap
     tunnel_gtpu:tunnel-gtpu.pcap)
# Application fixtures: `apps` records all of them.
APP_FIXTURES=(redis mqtt postgresql mysql smtp ftp mail:imap,pop3 telnet snmp ntp syslog ldap sip radius memcached
              openvpn isakmp coap socks stun rtsp netbios dhcp:dhcp,tftp dhcpv6 irc xmpp kerberos bittorrent http2)
for entry in "${APP_FIXTURES[@]}"; do
    IFS=, read -ra outs <<<"${entry#*:}"
    for out in "${outs[@]}"; do ALL+=("app_${entry%%:*}:apps/$out.pcap"); done
done
TRUTH=()
DONE=()
for entry in "${ALL[@]}"; do
    name=${entry%%:*}
    if [[ $# -gt 0 ]]; then
        want=0
        for arg in "$@"; do
            [[ $arg == "$name" || $arg == "${name//_/-}" || ($arg == apps && $name == app_*) || ($arg == tunnels && $name == tunnel_*) ]] && want=1
        done
        [[ $want == 1 ]] || continue
    fi
    # One recorder may write several captures (app_mail: imap and pop3).
    [[ " ${DONE[*]} " == *" $name "* ]] || record "rec_$name"
    DONE+=("$name")
    TRUTH+=("$FIX/${entry#*:}")
done
cleanup
[[ ${#TRUTH[@]} -gt 0 ]] || { echo "record-fixtures.sh: no such fixture: $*" >&2; exit 2; }

"$ROOT/scripts/make-truth.sh" "${TRUTH[@]}"
# TLS and QUIC handshakes as tshark sees them (SNI, ALPN, JA3, JA3S, QUIC version).
TLS_TRUTH=()
for f in "${TRUTH[@]}"; do
    case $(basename "$f") in app.pcap|xss.pcap|tls.pcap|tls-cert.pcap|quic.pcap|sample.pcapng) TLS_TRUTH+=("$f") ;; esac
done
[[ ${#TLS_TRUTH[@]} -eq 0 ]] || "$ROOT/scripts/make-tls-truth.sh" "${TLS_TRUTH[@]}"
# Server certificates as tshark reads them (subject, issuer, validity).
CERT_TRUTH=()
for f in "${TRUTH[@]}"; do
    case $(basename "$f") in tls.pcap|tls-cert.pcap) CERT_TRUTH+=("$f") ;; esac
done
[[ ${#CERT_TRUTH[@]} -eq 0 ]] || "$ROOT/scripts/make-cert-truth.sh" "${CERT_TRUTH[@]}"
# IP fragments as tshark reassembles them.
for f in "${TRUTH[@]}"; do
    if [[ $(basename "$f") == frag.pcap ]]; then "$ROOT/scripts/make-frag-truth.sh" "$f"; fi
done
# TCP streams as tshark reassembles and analyses them.
for f in "${TRUTH[@]}"; do
    case $(basename "$f") in tcp-reasm.pcap|tcp-loss.pcap|tcp-gap.pcap) "$ROOT/scripts/make-tcp-truth.sh" "$f" ;; esac
done

# DNS and HTTP messages as tshark reads them, for dns.log and http.log.
LOGS_TRUTH=()
for f in "${TRUTH[@]}"; do
    case $(basename "$f") in dns.pcap|tcp-reasm.pcap|app.pcap|logs.pcap|sample.pcapng) LOGS_TRUTH+=("$f") ;; esac
done
[[ ${#LOGS_TRUTH[@]} -eq 0 ]] || "$ROOT/scripts/make-logs-truth.sh" "${LOGS_TRUTH[@]}"

# ---------------------------------------------------------------- checks
# Each capture must still show what tests and the README rely on. A failed
# check means a recording went wrong; fix it before committing the files.

mkdir -p "$WORK/wsconfig"
export WIRESHARK_CONFIG_DIR=$WORK/wsconfig LC_ALL=C
FAILED=0

fail() { echo "CHECK FAILED: $*" >&2; FAILED=1; }

# check FILE FILTER OP N: the number of frames matching FILTER must be OP N.
check() {
    local n
    n=$(tshark -n -r "$1" -Y "$2" 2>/dev/null | wc -l)
    [ "$n" "$3" "$4" ] || fail "$(basename "$1"): [$2] matched $n frames, expected $3 $4"
}

# check_bytes FILE OFFSET HEX: the file has these bytes at OFFSET.
check_bytes() {
    local got
    got=$(od -An -tx1 -j "$2" -N $((${#3} / 2)) "$1" | tr -d ' \n')
    [[ $got == "$3" ]] || fail "$(basename "$1"): bytes at $2 are $got, expected $3"
}

# check_info FILE TEXT: capinfos output contains TEXT.
check_info() {
    capinfos "$1" 2>/dev/null | grep -qF "$2" || fail "$(basename "$1"): capinfos lacks '$2'"
}

F=$FIX
PCAP_US=d4c3b2a1 PCAP_NS=4d3cb2a1 PCAPNG=0a0d0d0a

check_bytes "$F/lo-udp-tcp.pcap" 0 $PCAP_US
check_bytes "$F/lo-udp-tcp.pcap" 20 01000000                      # LINKTYPE_ETHERNET
check "$F/lo-udp-tcp.pcap" 'udp.dstport == 47001' -eq 5
for n in 8 64 200 512 1200; do
    check "$F/lo-udp-tcp.pcap" "udp.length == $((n + 8))" -eq 1
done
check "$F/lo-udp-tcp.pcap" 'tcp.flags == 0x002' -eq 1
check "$F/lo-udp-tcp.pcap" 'tcp.flags.fin == 1' -eq 2
check "$F/lo-udp-tcp.pcap" 'tcp.len == 36 || tcp.len == 35' -eq 2

check_bytes "$F/lo-nano.pcap" 0 $PCAP_NS
check "$F/lo-nano.pcap" 'udp.dstport == 47001' -eq 3
check "$F/lo-nano.pcap" 'tcp.flags.fin == 1' -eq 2
check_bytes "$F/lo-nano.pcapng" 0 $PCAPNG
check_info "$F/lo-nano.pcapng" 'Time precision = nanoseconds (9)'
check "$F/lo-nano.pcapng" 'udp.dstport == 47001' -eq 3

check "$F/vlan.pcap" 'eth.type == 0x8100 && vlan.id == 100' -eq 14
check "$F/vlan.pcap" 'eth.type == 0x88a8 && ieee8021ad.id == 200 && vlan.id == 300' -eq 10
check "$F/vlan.pcap" 'vlan.id == 100 && icmpv6.type == 129' -eq 1
check "$F/vlan.pcap" 'vlan.priority == 3 || ieee8021ad.priority == 5' -eq 4
check "$F/vlan.pcap" 'not vlan && not ieee8021ad && icmp' -eq 4

check_bytes "$F/sll2.pcap" 20 14010000                             # LINKTYPE_LINUX_SLL2 (276)
check "$F/sll2.pcap" 'sll.ifindex == 1' -ge 18
check "$F/sll2.pcap" 'sll.ifindex != 1' -ge 4
check "$F/sll2.pcap" 'icmp.type == 8' -eq 3
check "$F/sll2.pcap" 'ipv6 && udp' -eq 2
check "$F/sll2.pcap" 'tcp.flags.fin == 1' -eq 2

check_bytes "$F/multi-iface.pcapng" 0 $PCAPNG
check_info "$F/multi-iface.pcapng" 'Number of interfaces in file: 2'
check "$F/multi-iface.pcapng" 'frame.interface_id == 0' -ge 13
check "$F/multi-iface.pcapng" 'frame.interface_id == 1' -ge 12
check "$F/multi-iface.pcapng" 'frame.interface_id == 1 && frame.cap_len < frame.len' -eq 1

check "$F/dns.pcap" 'dns.flags.response == 0 && udp.dstport == 53' -eq 4
check "$F/dns.pcap" 'dns.flags.response == 1 && dns.resp.type == 5' -ge 2   # CNAME chain
check "$F/dns.pcap" 'dns.flags.rcode == 3' -eq 1                           # NXDOMAIN
check "$F/dns.pcap" 'dns.flags.rcode == 5' -eq 1                           # REFUSED
check "$F/dns.pcap" 'tcp.port == 53 && dns' -eq 2
check "$F/dns.pcap" 'ipv6 && dns' -ge 4
check "$F/dns.pcap" 'mdns && ip.dst == 224.0.0.251' -eq 2
check "$F/dns.pcap" 'dns.flags.response == 1 && udp.payload contains c0:0c' -eq 5  # -> question name
check "$F/dns.pcap" 'dns.flags.rcode == 3 && udp.payload contains c0:0f' -eq 1       # -> its suffix

check "$F/tcp-states.pcap" 'tcp.flags == 0x014' -eq 3                    # refused v4/v6, abort
check "$F/tcp-states.pcap" 'tcp.srcport == 41002 && tcp.flags.reset == 1' -eq 1
check "$F/tcp-states.pcap" 'tcp.port == 47103' -eq 1                     # lone SYN
check "$F/tcp-states.pcap" 'tcp.port == 41004 && tcp.flags == 0x002' -eq 0
check "$F/tcp-states.pcap" 'tcp.port == 41004 && tcp.flags == 0x012' -eq 1
check "$F/tcp-states.pcap" 'tcp.flags.fin == 1' -eq 6
check "$F/tcp-states.pcap" 'ipv6 && tcp' -eq 12

check "$F/app.pcap" 'http.host == "www.sniff.test" && tcp.dstport == 80' -eq 1
check "$F/app.pcap" 'http.host == "127.0.0.1:48080"' -eq 1
check "$F/app.pcap" 'ipv6 && http.request' -eq 1
check "$F/app.pcap" 'tls.handshake.type == 1 && tls.handshake.extensions_server_name == "sniff.example.test"' -eq 3
check "$F/app.pcap" 'ssh.protocol == "SSH-2.0-OpenSSH_9.2"' -eq 1
check "$F/app.pcap" 'udp.dstport == 443 && quic.long.packet_type == 0 && !icmp && !icmpv6' -eq 2
check "$F/app.pcap" 'icmp.type == 3 && icmp.code == 3' -eq 1
check "$F/app.pcap" 'icmpv6.type == 1 && icmpv6.code == 4' -eq 1
check "$F/app.pcap" 'icmp.type == 8 || icmpv6.type == 128' -eq 4

check "$F/xss.pcap" 'dns.qry.name contains "<img src=x onerror=alert(1)>" && dns.qry.name contains "<script>"' -eq 2
check "$F/xss.pcap" 'dns.qry.name == "<script>alert(1)</script>.sniff.test"' -eq 2
check "$F/xss.pcap" 'http.host == "<script>alert(1)</script>.example"' -eq 1
check "$F/xss.pcap" 'http.host == "<img src=x onerror=alert(1)>"' -eq 1
check "$F/xss.pcap" 'tls.handshake.extensions_server_name == "<script>alert(1)</script>"' -eq 1

check "$F/tls.pcap" 'tls.handshake.type == 1 && tls.handshake.extensions_alpn_str' -eq 4
check "$F/tls.pcap" 'tls.handshake.type == 2 && tls.handshake.version == 0x0303 && !tls.handshake.extensions.supported_version' -eq 2
check "$F/tls.pcap" 'tls.handshake.extensions.supported_version == 0x0304 && tls.handshake.type == 2' -eq 2
check "$F/tls-cert.pcap" 'tls.handshake.type == 11' -eq 2
check "$F/tls-cert.pcap" 'tls.handshake.type == 11 && tcp.reassembled.length' -eq 1
check "$F/tls-cert.pcap" 'x509af.generalizedTime' -eq 1
check "$F/quic.pcap" 'tls.handshake.type == 1 && quic.version == 1' -eq 2
check "$F/quic.pcap" 'tls.handshake.type == 1 && quic.version == 0x6b3343cf' -eq 1
check "$F/quic.pcap" 'tls.handshake.extensions_server_name == "big.sniff.test"' -eq 1

check "$F/frag.pcap" 'ip.fragment && icmp.type == 8' -eq 2
check "$F/frag.pcap" 'ip.fragment && icmp.type == 0' -eq 2
check "$F/frag.pcap" 'ipv6.fragment && icmpv6.type == 128' -eq 2
check "$F/frag.pcap" 'ipv6.fragment && icmpv6.type == 129' -eq 2
check "$F/frag.pcap" '(ip.fragment || ipv6.fragment) && udp.length == 4008' -eq 4
check "$F/frag.pcap" '(ip.fragment || ipv6.fragment) && dns.count.answers == 200' -eq 2
check "$F/frag.pcap" 'frame.len > 1294' -eq 0

S=$SAMPLES/sample.pcapng
check_bytes "$S" 0 $PCAPNG
[[ $(stat -c %s "$S") -lt 500000 ]] || fail "sample.pcapng is 500 kB or more"
check "$S" 'frame' -ge 300
check "$S" 'frame' -le 2000
check "$S" 'frame.len > 1514' -eq 0
check "$S" 'dns.flags.rcode == 3' -ge 1
check "$S" 'http.request' -eq 9
check "$S" 'tls.handshake.extensions_server_name == "sniff.example.test"' -ge 2
check "$S" 'tcp.flags.reset == 1' -eq 3
check "$S" 'tcp.dstport == 8443' -eq 1
check "$S" 'icmp.type == 3 || icmpv6.type == 1' -eq 2
check "$S" 'ipv6' -ge 50
check "$S" 'icmp.type == 8 || icmpv6.type == 128' -eq 6

[[ $FAILED == 0 ]] || { echo "record-fixtures.sh: some checks failed (see above)" >&2; exit 1; }
log "all checks passed"
