#!/usr/bin/env bash
# Live-capture benchmark (issues 17 and 21): offers traffic at several rates and runs the
# capturing tools one after the other on the same traffic, alternately at each rate, for
# several rounds; prints, per source, rate and tool, the medians of the packets offered,
# captured, dropped by the kernel and dropped by Sniff itself, with the machine's load.
#
# Tools (--tools):
#   sniff    sniff -i IF --direction in -q
#   top      sniff top -i IF --direction in: the terminal UI, drawing at 80x24 in a
#            pseudo-terminal this script opens (the "ui/s" column: the tenths of a second
#            in which it wrote to the terminal while the traffic ran, per second; about 4
#            when it redraws at every snapshot, which the capture publishes every 250 ms)
#   tcpdump  tcpdump -i IF -Q in -w /dev/null
#   serve    sniff -i IF --direction in -q --serve, storing into a fresh SQLite database
#            (--store-packets sets what; the "stored" column counts packet rows)
# Each keeps its own default kernel buffer (Sniff 64 MiB, tcpdump 2 MiB).
#
# Sources (--source):
#   lo       60-byte UDP frames on loopback from Benchmarks/livegen/udpgen.c (sendmmsg, paced;
#            bounded in count and time; the tools capture its port only)
#   replay   scripts/bench.sh's small-packets capture (1.5 M flows per 3.6 M packets, every
#            client distinct) replayed by tcpreplay (Debian's) over a veth pair whose two ends
#            are both in a network namespace this script makes and deletes, IPv6 off there:
#            the tools capture on the receiving end inside it, and no frame leaves it
#   Rate 0 is as fast as the generator goes: udpgen unpaced for the run's seconds, or one
#   pass over the whole capture with tcpreplay --topspeed --preload-pcap (3.6 M packets: a
#   preload of about 20 s and 2.5 GB, then about 8 s of sending). Its "offered/s" is the
#   generator's ceiling on this machine at that moment. Paced replays read the file as
#   they go (tcpreplay --pps R, looped for the run's seconds).
#
#   sudo scripts/bench-live.sh                        # both sources, 4 rates, 3 rounds (about 25 min)
#   sudo scripts/bench-live.sh --source lo --rates "100000 0" --seconds 5 --repeat 5
#   sudo scripts/bench-live.sh --serve                # adds the serve column
#   sudo scripts/bench-live.sh --small                # CI's mode: under a minute, judges nothing
#
# Options:
#   --source lo|replay|both     (both)
#   --rates "R ..."             packets per second offered (50000 100000 200000 0); also $RATES
#   --seconds N                 seconds of traffic per run (10); also $SECONDS_PER_RATE
#   --repeat N                  rounds (3); each runs every tool once at each rate, the tools'
#                               order at a rate rotating from round to round
#   --tools LIST                comma-separated, from sniff,top,tcpdump,serve (sniff,top,tcpdump)
#   --serve                     adds serve to the tools
#   --store-packets all|none|sample:N   what serve stores (sample:10: one packet row in 10,
#                               and every flow)
#   --replay-packets N          packets in the replayed capture (3600000, bench.sh's full
#                               one; generated once into $BENCH_DIR by sniff-bench)
#   --sniff-args "ARGS"         more options for every Sniff run (e.g. "--no-processes")
#   --raw FILE                  also keep one line per run in FILE
#   --small                     CI's mode (scripts/bench.sh --small runs it): both sources at
#                               20000 packets/s for 2 s, one round, every tool, the 100 k-packet
#                               capture of bench.sh --small; it proves the script works end to
#                               end and fails only when a Sniff run captured nothing or
#                               `sniff top` never drew
# Environment: SNIFF_BIN and BENCH_BIN (a sniff and a sniff-bench already built; otherwise
# release is built; figures compare only between release builds), BENCH_DIR (where bench.sh
# keeps its captures, /tmp/sniff-bench).
#
# Needs root (capture, namespaces). A tool or source that cannot run here (not root, no
# tcpdump, no tcpreplay, no ip) is skipped and said so; tcpdump and tcpreplay are installed
# with apt-get when missing and root (scripts/setup.sh --tests installs them too).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

source_arg=both
rates=${RATES:-"50000 100000 200000 0"}
secs=${SECONDS_PER_RATE:-10}
repeat=3
tools=sniff,top,tcpdump
store_packets=sample:10
replay_packets=3600000
raw_out=""
sniff_args=()
small=0
while [ $# -gt 0 ]; do
    case "$1" in
        --source) source_arg=${2:?}; shift ;;
        --rates) rates=${2:?}; shift ;;
        --seconds) secs=${2:?}; shift ;;
        --repeat) repeat=${2:?}; shift ;;
        --tools) tools=${2:?}; shift ;;
        --serve) tools="$tools,serve" ;;
        --store-packets) store_packets=${2:?}; shift ;;
        --replay-packets) replay_packets=${2:?}; shift ;;
        --sniff-args) read -r -a sniff_args <<<"${2:?}"; shift ;;
        --raw) raw_out=${2:?}; shift ;;
        # CI's preset; options after it still apply.
        --small) small=1; rates=20000; secs=2; repeat=1; tools=sniff,top,tcpdump,serve; replay_packets=100000 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench-live.sh: unknown option '$1' (--help lists them)" >&2; exit 64 ;;
    esac
    shift
done
case "$source_arg" in lo) sources=(lo) ;; replay) sources=(replay) ;; both) sources=(lo replay) ;;
    *) echo "bench-live.sh: --source takes lo, replay or both" >&2; exit 64 ;; esac
for n in $rates "$secs" "$repeat" "$replay_packets"; do
    case "$n" in ''|*[!0-9]*) echo "bench-live.sh: '$n' is not a whole number" >&2; exit 64 ;; esac
done
[ "$secs" -ge 1 ] && [ "$secs" -le 60 ] || { echo "bench-live.sh: --seconds takes 1 to 60" >&2; exit 64; }
IFS=, read -r -a tool_list <<<"$tools"
for t in "${tool_list[@]}"; do
    case "$t" in sniff|top|tcpdump|serve) ;; *) echo "bench-live.sh: unknown tool '$t' (sniff, top, tcpdump, serve)" >&2; exit 64 ;; esac
done
case "$store_packets" in all|none|sample:[0-9]*) ;; *) echo "bench-live.sh: --store-packets takes all, none or sample:N" >&2; exit 64 ;; esac

if [ "$(id -u)" != 0 ]; then
    echo "live benchmark skipped: it needs root (live capture, network namespaces)"
    exit 0
fi

scratch=$(mktemp -d /tmp/sniff-bench-live.XXXXXX)
ns=""
running=""   # the pid of the tool now running, which this script started
cleanup() {
    if [ -n "$running" ]; then kill -KILL "$running" 2>/dev/null || true; fi
    if [ -n "$ns" ]; then ip netns del "$ns" 2>/dev/null || true; fi
    rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

apt_install() {  # installs Debian packages; false when apt-get cannot
    command -v apt-get >/dev/null || return 1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1; }
}

# --- what can run -------------------------------------------------------------------
command -v tcpdump >/dev/null || apt_install tcpdump || true
run_tools=()
for t in "${tool_list[@]}"; do
    if [ "$t" = tcpdump ] && ! command -v tcpdump >/dev/null; then echo "tcpdump skipped: not installed and apt-get could not install it"; continue; fi
    if [ "$t" = top ] && ! command -v python3 >/dev/null; then echo "top skipped: python3 (the pseudo-terminal) is missing"; continue; fi
    run_tools+=("$t")
done
run_sources=()
for s in "${sources[@]}"; do
    if [ "$s" = replay ]; then
        command -v tcpreplay >/dev/null || apt_install tcpreplay || true
        if ! command -v tcpreplay >/dev/null; then echo "replay skipped: tcpreplay is not installed and apt-get could not install it"; continue; fi
        if ! command -v ip >/dev/null; then echo "replay skipped: ip (iproute2) is missing"; continue; fi
    fi
    run_sources+=("$s")
done
if [ ${#run_tools[@]} = 0 ] || [ ${#run_sources[@]} = 0 ]; then echo "live benchmark skipped: nothing to run"; exit 0; fi

if [ -z "${SNIFF_BIN:-}" ]; then swift build -c release --product sniff >/dev/null; fi
sniff=$(realpath "${SNIFF_BIN:-.build/release/sniff}")
cc -O2 -o "$scratch/udpgen" Benchmarks/livegen/udpgen.c

# The replayed capture: bench.sh's, by the same name, so that either script reuses it.
capture=""
if [[ " ${run_sources[*]} " == *" replay "* ]]; then
    bench_dir=${BENCH_DIR:-/tmp/sniff-bench}
    mkdir -p "$bench_dir"
    capture=$bench_dir/small-packets-$replay_packets.pcap
    if [ ! -f "$capture" ]; then
        if [ -z "${BENCH_BIN:-}" ]; then swift build -c release --product sniff-bench >/dev/null; fi
        "${BENCH_BIN:-.build/release/sniff-bench}" --generate-only --profile small --packets "$replay_packets" --file "$capture" >/dev/null
    fi
    # Both ends of the pair in one namespace: tcpreplay sends on one, the tools capture on
    # the other, and nothing routes out of it.
    ns=sniff-bench-live-$$
    va=blv$$a; vb=blv$$b
    ip netns add "$ns"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$ns" link add "$va" type veth peer name "$vb"
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "$va" up
    ip -n "$ns" link set "$vb" up
fi

# --- the pseudo-terminal for sniff top ------------------------------------------------
# ptyrun.py ERR STATS CMD...: runs CMD with a pseudo-terminal of 80x24 as its standard input
# and output (standard error into ERR) and reads everything it draws; SIGUSR1 and SIGUSR2
# mark the start and end of the traffic; SIGTERM types q and waits for CMD to end. STATS
# gets "bytes tenths seconds": the bytes drawn in all, and the tenths of a second in which
# something was drawn between the marks, and the seconds between them. The file
# STATS.drawing appears at the first byte drawn.
cat >"$scratch/ptyrun.py" <<'PY'
import fcntl, os, pty, select, signal, struct, sys, termios, time
err, stats, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    e = os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(e, 2)
    os.environ["TERM"] = "xterm-256color"
    os.environ.pop("NO_COLOR", None)
    os.execvp(cmd[0], cmd)
marks = {}
def mark(name):
    def handler(signum, frame):
        marks.setdefault(name, time.monotonic())
        if name == "quit":
            try: os.write(fd, b"q")
            except OSError: pass
    return handler
signal.signal(signal.SIGUSR1, mark("start"))
signal.signal(signal.SIGUSR2, mark("end"))
signal.signal(signal.SIGTERM, mark("quit"))
signal.signal(signal.SIGINT, mark("quit"))
drawn, tenths = 0, set()
while True:
    r, _, _ = select.select([fd], [], [], 0.5)
    if not r:
        if "quit" in marks and time.monotonic() - marks["quit"] > 120: os.kill(pid, signal.SIGKILL)
        continue
    try:
        data = os.read(fd, 65536)
    except OSError:
        break
    if not data: break
    now = time.monotonic()
    if drawn == 0: open(stats + ".drawing", "w").close()
    drawn += len(data)
    if "start" in marks and "end" not in marks: tenths.add(int(now * 10))
os.waitpid(pid, 0)
span = marks.get("end", 0) - marks.get("start", 0)
with open(stats, "w") as f: f.write(f"{drawn} {len(tenths)} {max(span, 0):.2f}\n")
PY

# --- one run ------------------------------------------------------------------------
# run_one SOURCE TOOL RATE ROUND: appends one line to $raw:
# source rate tool round offered seconds iface_rx captured kernel sniff ui_per_s stored load status
raw=$scratch/raw.txt
: >"$raw"
run_one() {
    local src=$1 tool=$2 rate=$3 round=$4
    local err=$scratch/run.err stats=$scratch/top.stats pid iface port="" in_ns=() filter=()
    rm -f "$err" "$stats" "$stats.drawing"
    if [ "$src" = lo ]; then
        iface=lo; port=$((40000 + RANDOM % 20000)); filter=("udp dst port $port")
    else
        iface=$vb; in_ns=(ip netns exec "$ns")
    fi
    local load; load=$(cut -d' ' -f1 /proc/loadavg)
    case "$tool" in
        sniff) "${in_ns[@]}" "$sniff" -i "$iface" --direction in -q "${sniff_args[@]}" "${filter[@]}" 2>"$err" & pid=$! ;;
        top) python3 "$scratch/ptyrun.py" "$err" "$stats" "${in_ns[@]}" "$sniff" top -i "$iface" --direction in "${sniff_args[@]}" \
                 "${filter[@]}" & pid=$! ;;
        tcpdump) "${in_ns[@]}" tcpdump -i "$iface" -Q in -w /dev/null "${filter[@]}" 2>"$err" & pid=$! ;;
        serve)
            rm -f "$scratch"/serve.db*
            # In the namespace the server listens on the namespace's own loopback.
            "${in_ns[@]}" "$sniff" -i "$iface" --direction in -q --serve --db "sqlite:$scratch/serve.db" \
                --store-packets "$store_packets" --journal "$scratch/journal" --listen "127.0.0.1:$((20000 + RANDOM % 10000))" \
                "${sniff_args[@]}" "${filter[@]}" 2>"$err" & pid=$! ;;
    esac
    running=$pid
    local ready=0
    # Up to 30 s: a debug build on a loaded machine starts slowly.
    for _ in $(seq 300); do
        if grep -q "listening on" "$err" 2>/dev/null; then
            if [ "$tool" != top ] || [ -f "$stats.drawing" ]; then ready=1; break; fi
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    sleep 0.5
    [ "$tool" = serve ] && sleep 1
    local rx0 rx1 sent=0 took=0
    rx0=$("${in_ns[@]}" cat "/sys/class/net/$iface/statistics/rx_packets")
    if [ "$ready" = 1 ]; then
        local gen_out=$scratch/gen.out gen
        if [ "$src" = lo ]; then
            "$scratch/udpgen" 127.0.0.1 "$port" "$rate" "$secs" >"$gen_out" & gen=$!
        elif [ "$rate" = 0 ]; then
            # One pass over the whole capture, preloaded so that reading the file does not
            # set the pace (the preload takes a while before the first frame).
            ip netns exec "$ns" timeout 300 tcpreplay -i "$va" --preload-pcap --topspeed --loop=1 "$capture" >"$gen_out" 2>&1 & gen=$!
        else
            ip netns exec "$ns" timeout $((secs + 30)) tcpreplay -i "$va" --pps="$rate" --loop=0 --limit=$((rate * secs)) \
                --duration="$secs" "$capture" >"$gen_out" 2>&1 & gen=$!
        fi
        if [ "$tool" = top ]; then
            # The drawing is counted from the first frame on.
            while kill -0 "$gen" 2>/dev/null && [ "$("${in_ns[@]}" cat "/sys/class/net/$iface/statistics/rx_packets")" = "$rx0" ]; do
                sleep 0.05
            done
            kill -USR1 "$pid"
        fi
        wait "$gen" || true
        [ "$tool" = top ] && kill -USR2 "$pid"
        if [ "$src" = lo ]; then
            read -r sent took _ <"$gen_out" || true
        else
            sent=$(awk '/Actual:/{print $2; exit}' "$gen_out")
            took=$(awk '/Actual:/{for(i=1;i<=NF;i++) if($i=="in") {print $(i+1); exit}}' "$gen_out")
        fi
        sent=${sent:-0}; took=${took:-0}
    fi
    rx1=$("${in_ns[@]}" cat "/sys/class/net/$iface/statistics/rx_packets")
    sleep 1
    if [ "$tool" = top ]; then kill -TERM "$pid" 2>/dev/null || true; else kill -INT "$pid" 2>/dev/null || true; fi
    # A serving run stores what is still queued before it ends: give it time.
    local waited=0 limit_tenths=600
    [ "$tool" = serve ] && limit_tenths=3000
    while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt "$limit_tenths" ]; do sleep 0.1; waited=$((waited + 1)); done
    local status=ok
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; status=killed; fi
    wait "$pid" 2>/dev/null || true
    running=""
    [ "$ready" = 1 ] || status=not-ready
    local cap kd sd ui=- stored=-
    cap=$(awk '/^[0-9]+ packets captured/{print $1; exit}' "$err" 2>/dev/null); cap=${cap:--}
    kd=$(awk '/^[0-9]+ packets dropped by kernel/{print $1; exit}' "$err" 2>/dev/null); kd=${kd:--}
    sd=$(awk '/^[0-9]+ packets dropped by sniff/{print $1; exit}' "$err" 2>/dev/null)
    [ "$tool" = tcpdump ] && sd=${sd:-0}; sd=${sd:--}
    if [ "$tool" = top ] && [ -f "$stats" ]; then
        ui=$(awk '{ if ($3 > 0) printf "%.1f", $2 / $3; else print 0 }' "$stats")
    fi
    [ "$tool" = serve ] && { stored=$(sed -n 's/.*store: [0-9]* packets captured, \([0-9]*\) stored.*/\1/p' "$err" | tail -1); stored=${stored:--}; }
    if [ "$cap" = - ] && [ "$status" = ok ]; then status=no-counts; fi
    if [ "$status" != ok ]; then
        echo "  $src $rate $tool: $status; its standard error ends:" >&2
        tail -5 "$err" >&2 || true
    fi
    echo "$src $rate $tool $round $sent $took $((rx1 - rx0)) $cap $kd $sd $ui $stored $load $status" >>"$raw"
}

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo "== live capture: $(nproc) cores, $cpu, $(uname -r); sniff $sniff; $(tcpdump --version 2>&1 | head -1); $(tcpreplay --version 2>&1 | head -1 | sed 's/ (.*//')"
echo "== sources ${run_sources[*]}; rates $rates; ${secs} s per run; $repeat round(s); tools ${run_tools[*]}${sniff_args[*]:+; sniff options ${sniff_args[*]}}; load at start $(cut -d' ' -f1-3 /proc/loadavg)"
[ -n "$capture" ] && echo "== replayed: $capture ($(( $(stat -c %s "$capture") / 1000000 )) MB), over a veth pair in namespace $ns"
start=$SECONDS
for round in $(seq "$repeat"); do
    for src in "${run_sources[@]}"; do
        for rate in $rates; do
            n=${#run_tools[@]}
            for k in $(seq 0 $((n - 1))); do
                run_one "$src" "${run_tools[$(( (k + round - 1) % n ))]}" "$rate" "$round"
            done
        done
    done
    echo "   round $round of $repeat done after $((SECONDS - start)) s, load $(cut -d' ' -f1-3 /proc/loadavg)"
done
[ -n "$raw_out" ] && cp "$raw" "$raw_out"

python3 - "$raw" "$small" <<'PY'
import statistics, sys
raw, small = sys.argv[1], sys.argv[2] == "1"
runs = {}
order = []
bad = []
for line in open(raw):
    src, rate, tool, rnd, sent, took, rx, cap, kd, sd, ui, stored, load, status = line.split()
    key = (src, int(rate), tool)
    if key not in runs: runs[key] = []; order.append(key)
    runs[key].append(dict(sent=int(sent), took=float(took), rx=int(rx), cap=cap, kd=kd, sd=sd, ui=ui, stored=stored,
                          load=float(load), status=status))
    if tool in ("sniff", "top", "serve") and (cap == "-" or int(cap) == 0): bad.append(f"{src} {rate} {tool}: captured nothing ({status})")
    if tool == "top" and (ui == "-" or float(ui) == 0): bad.append(f"{src} {rate} top: never drew")
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None
def num(v): return None if v == "-" else int(v)
def f(v, fmt="{:.0f}"): return "-" if v is None else fmt.format(v)
hdr = f"{'source':<7} {'rate':>7} {'tool':<8} {'runs':>4} {'offered':>9} {'offered/s':>9} {'iface rx':>9} {'captured':>9} {'kernel drop':>11} {'sniff drop':>10} {'loss %':>7} {'loss % range':>14} {'ui/s':>5} {'stored':>8} {'load':>5}"
print(hdr)
for key in order:
    src, rate, tool = key
    rs = runs[key]
    ok = [r for r in rs if r["status"] == "ok"]
    use = ok or rs
    losses = [100.0 * (r["sent"] - num(r["cap"])) / r["sent"] for r in use if r["sent"] > 0 and num(r["cap"]) is not None]
    pps = [r["sent"] / r["took"] for r in use if r["took"] > 0]
    print(f"{src:<7} {('max' if rate == 0 else str(rate)):>7} {tool:<8} {len(ok):>4} "
          f"{f(med([r['sent'] for r in use])):>9} {f(med(pps)):>9} {f(med([r['rx'] for r in use])):>9} "
          f"{f(med([num(r['cap']) for r in use])):>9} {f(med([num(r['kd']) for r in use])):>11} {f(med([num(r['sd']) for r in use])):>10} "
          f"{f(med(losses), '{:.2f}'):>7} {(f(min(losses), '{:.2f}') + '-' + f(max(losses), '{:.2f}')) if losses else '-':>14} "
          f"{f(med([float(r['ui']) for r in use if r['ui'] != '-']), '{:.1f}'):>5} {f(med([num(r['stored']) for r in use])):>8} "
          f"{f(med([r['load'] for r in use]), '{:.1f}'):>5}")
print("loss % = (offered - captured) / offered, median over the runs; load = 1-minute load average at each run's start, median")
if bad:
    print("PROBLEMS: " + "; ".join(bad))
    sys.exit(1)
if small: print("(small mode: proves the benchmark runs; figures are judged on a full run)")
PY
