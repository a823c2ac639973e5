import SniffCore
import SniffDecode
import SniffCapture
import SniffAnalysis
#if canImport(Glibc)
import Glibc
#endif

/// The allocation counter of Benchmarks/malloc-count, when it is preloaded.
func mallocCounter() -> (() -> UInt64)? {
    guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sniff_malloc_count") else { return nil }
    let f = unsafeBitCast(sym, to: (@convention(c) () -> UInt64).self)
    return { f() }
}

/// One committed limit: allocations allowed per packet, and whether it binds only a
/// release build (a debug build's unoptimised closures and generics allocate where the
/// optimiser removes the allocation).
struct AllocationLimit {
    var perPacket: Double
    var releaseOnly: Bool
}

/// Benchmarks/allocation-limits.txt, the only place the limits are written: "name limit"
/// lines, with "release" as a third word for a limit a debug build is not held to.
func allocationLimits() -> [String: AllocationLimit] {
    var root = #filePath
    for _ in 0..<3 { root = String(root[..<(root.lastIndex(of: "/") ?? root.endIndex)]) }
    let path = root + "/Benchmarks/allocation-limits.txt"
    guard let f = fopen(path, "r") else {
        print("allocation check: cannot read \(path); run sniff-bench from the checkout it was built in")
        exit(2)
    }
    defer { fclose(f) }
    var limits: [String: AllocationLimit] = [:]
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, 256, f) != nil {
        let text = String(nulTerminated: line)
        if text.hasPrefix("#") { continue }
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard parts.count >= 2, let v = Double(parts[1]) else { continue }
        limits[String(parts[0])] = AllocationLimit(perPacket: v, releaseOnly: parts.count > 2 && parts[2] == "release")
    }
    return limits
}

/// Whether this binary was built with optimisation (what "release" limits bind).
#if DEBUG
let optimisedBuild = false
#else
let optimisedBuild = true
#endif

/// Prints one measurement against its limit; false when it passes a limit that binds
/// this build. A scenario without a line in the file is an error of the file.
func checkAllocations(_ name: String, _ what: String, _ perPacket: Double, _ limits: [String: AllocationLimit]) -> Bool
{
    guard let limit = limits[name] else {
        print("allocations per packet, \(what): \(perPacket) (no \"\(name)\" line in allocation-limits.txt) FAILED")
        return false
    }
    if limit.releaseOnly && !optimisedBuild {
        print("allocations per packet, \(what): \(perPacket) (limit \(limit.perPacket) binds release builds only)")
        return true
    }
    let ok = perPacket <= limit.perPacket
    print("allocations per packet, \(what): \(perPacket) (limit \(limit.perPacket)) \(ok ? "ok" : "FAILED")")
    return ok
}

/// Counts allocations over the second half of the file for read + decode and for the
/// whole pipeline, and exits 1 when a count per packet passes its committed limit.
/// With `geoip` (a .mmdb file or folder), also passive DNS plus a GeoIP answer for
/// both ends of every packet, through the enrichment's cache.
func runAllocationCheck(path: String, geoip: String? = nil) throws {
    guard let count = mallocCounter() else {
        print("allocation check: run with LD_PRELOAD=libmalloccount.so (see Benchmarks/malloc-count); not measured")
        exit(2)
    }
    let limits = allocationLimits()
    var failed = false
    // How many packets the file holds, to find its half.
    var total: UInt64 = 0
    do {
        let r = try CaptureFileReader(path: path)
        while try r.next() != nil { total &+= 1 }
    }
    let half = total / 2

    // Read and decode every packet, then `after` on it; allocations per packet counted
    // over the second half of the file.
    func decoded(_ after: (DecodedPacket, RawPacket) -> Void) throws -> Double {
        let reader = try CaptureFileReader(path: path)
        var p = DecodedPacket()
        var n: UInt64 = 0
        var start: UInt64 = 0
        while let raw = try reader.next() {
            if n == half { start = count() }
            p.reset()
            p.capturedLength = UInt32(raw.bytes.count)
            p.wireLength = raw.wireLength
            p.timestamp = raw.timestamp
            PacketDecoder.decode(raw.bytes, link: raw.link, into: &p)
            after(p, raw)
            n &+= 1
        }
        return Double(count() - start) / Double(max(1, total - half))
    }
    do {
        let per = try decoded { _, _ in }
        failed = !checkAllocations("decode", "read + decode", per, limits) || failed
    }
    do {
        let reader = try CaptureFileReader(path: path)
        let pipeline = PacketPipeline()
        var n: UInt64 = 0
        var start: UInt64 = 0
        while let raw = try reader.next() {
            if n == half { start = count() }
            // As the file loop does (FileRun).
            let (next, after) = reader.upcoming()
            pipeline.prefetch(next: next, after: after, link: raw.link)
            pipeline.process(raw)
            n &+= 1
        }
        let per = Double(count() - start) / Double(max(1, total - half))
        failed = !checkAllocations("pipeline", "full pipeline", per, limits) || failed
    }
    do {
        // Passive DNS, which every `sniff` run feeds with each packet: a DNS response
        // whose names are known must cost nothing. Fed straight after decoding rather
        // than through a pipeline, so that a debug build measures it too (the pipeline's
        // consumer loop and packet accessor allocate there, not in release).
        let hosts = HostEnrichment()
        let per = try decoded { p, raw in hosts.consume(p, frame: raw.bytes) }
        failed = !checkAllocations("hosts", "decode + passive DNS", per, limits) || failed
    }
    if let geoip {
        // Both ends of every packet asked of GeoIP (what --country/--asn do, and more
        // than the flow writers and country/ASN rules, which ask once per flow end):
        // after the cache has seen an address, an answer is a probe and a move to the
        // front of the LRU list; a new address is one libmaxminddb lookup into a reused
        // slot once the cache is full.
        let hosts = HostEnrichment(geo: try GeoIPDatabases.open(path: geoip))
        let per = try decoded { p, raw in
            hosts.consume(p, frame: raw.bytes)
            if p.ipVersion != 0 { _ = hosts.geo(for: p.src); _ = hosts.geo(for: p.dst) }
        }
        failed = !checkAllocations("geoip", "decode + passive DNS + GeoIP of both ends", per, limits) || failed
    }
    do {
        // The Info line into a reused sink, as the NDJSON writer and the row builder
        // render it: names, SNI and paths are copied bytes, never a String.
        var sink = ByteSink(capacity: 1024)
        let per = try decoded { p, raw in
            sink.removeAll()
            PacketInfo.write(p, frame: raw.bytes, into: &sink)
        }
        failed = !checkAllocations("info", "decode + Info line", per, limits) || failed
    }
    if failed { exit(1) }
}
