import SniffCore
import SniffDecode
import SniffCapture
import SniffAnalysis
#if canImport(Glibc)
import Glibc
#endif

// sniff-bench: release-build throughput figures for the packet path.
//
//   swift run -c release sniff-bench [--packets N] [--profile small|mixed] [--file PATH] [--keep]
//   sniff-bench --generate-only --profile mixed --file PATH    (scripts/bench.sh's captures)
//
// Generates a deterministic synthetic pcap (see SyntheticCapture for the mix), then
// times (1) read + decode and (2) the full `sniff -r FILE -q` pipeline (decode,
// filters, counters, address:port table), each best of 3, and prints packets/s and MB/s.

func monotonicNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func peakRSSMiB() -> Double {
    var ru = rusage()
    getrusage(RUSAGE_SELF.rawValue, &ru)
    return Double(ru.ru_maxrss) / 1024
}

var packets: Int? = nil
var path = "/tmp/sniff-bench-small.pcap"
var keep = false
var only: String? = nil
var allocCheck = false
var profile = SyntheticCapture.Profile.small
var generateOnly = false
var geoip: String? = nil
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    switch a {
    case "--packets":
        guard let n = Int(args.popFirst() ?? ""), n > 0 else {
            print("sniff-bench: --packets takes a positive count"); exit(64)
        }
        packets = n
    case "--file": path = args.popFirst() ?? path
    case "--keep": keep = true
    case "--only": only = args.popFirst()
    case "--alloc-check": allocCheck = true
    case "--profile":
        guard let p = SyntheticCapture.Profile(rawValue: args.popFirst() ?? "") else {
            print("sniff-bench: --profile takes small or mixed"); exit(64)
        }
        profile = p
    case "--generate-only": generateOnly = true; keep = true
    case "--geoip": geoip = args.popFirst()
    default:
        print("""
            usage: sniff-bench [--packets N] [--profile small|mixed] [--file PATH] [--keep] [--generate-only] \
            [--only decode|pipeline] [--alloc-check [--geoip FILE|DIR]]
            """)
        exit(64)
    }
}

if access(path, R_OK) != 0 || !keep {
    let t0 = monotonicNow()
    // The small profile's 3.6 M packets make ~1.5 M flows; the mixed one's 1.5 M ~1 GB.
    var gen = SyntheticCapture(packets: packets ?? (profile == .small ? 3_600_000 : 1_500_000), profile: profile)
    let (n, bytes) = try gen.write(to: path)
    print(
        "generated \(path): \(n) packets, \(bytes / 1_000_000) MB of frames in \(Int((monotonicNow() - t0) * 1000)) ms")
}

if generateOnly { exit(0) }

var st = stat()
stat(path, &st)
let fileMB = Double(st.st_size) / 1e6

func bestOf(_ n: Int, _ body: () throws -> UInt64) rethrows -> (Double, UInt64) {
    var best = Double.infinity
    var count: UInt64 = 0
    for _ in 0..<n {
        let t0 = monotonicNow()
        count = try body()
        best = min(best, monotonicNow() - t0)
    }
    return (best, count)
}


func format(_ name: String, _ seconds: Double, _ count: UInt64) -> String {
    let pps = Double(count) / seconds
    func f(_ v: Double, _ d: Int) -> String {
        var s = ByteSink(capacity: 16)
        let scale: Double = [1.0, 10, 100, 1000][d]
        let r = (v * scale).rounded()
        s.append(decimal: Int64(r / scale))
        if d > 0 {
            s.append(UInt8(ascii: "."))
            s.append(decimal: UInt64(abs(r).truncatingRemainder(dividingBy: scale)), width: d)
        }
        return s.string
    }
    let pad = String(repeating: " ", count: max(1, 24 - name.count))
    return "\(name)\(pad)\(f(seconds, 3)) s   \(f(pps / 1e6, 2)) M packets/s   \(f(fileMB / seconds, 1)) MB/s"
}

if only == nil || only == "decode" {
    let (t, n) = try bestOf(3) {
        let reader = try CaptureFileReader(path: path)
        var p = DecodedPacket()
        var count: UInt64 = 0
        var sink: UInt64 = 0
        while let raw = try reader.next() {
            p.reset()
            p.capturedLength = UInt32(raw.bytes.count)
            p.wireLength = raw.wireLength
            PacketDecoder.decode(raw.bytes, link: raw.link, into: &p)
            sink &+= UInt64(p.sport) &+ UInt64(p.ipProto)
            count &+= 1
        }
        if sink == 42 { print("") }
        return count
    }
    print(format("read + decode", t, n))
}
if only == nil || only == "pipeline" {
    let (t, n) = try bestOf(3) {
        let reader = try CaptureFileReader(path: path)
        let pipeline = PacketPipeline()
        while let raw = try reader.next() { pipeline.process(raw) }
        return pipeline.totals.packetsSeen
    }
    print(format("full pipeline (-q)", t, n))
}
print("peak RSS \(Int(peakRSSMiB())) MiB")

if allocCheck {
    try runAllocationCheck(path: path, geoip: geoip)
}
if !keep { unlink(path) }
