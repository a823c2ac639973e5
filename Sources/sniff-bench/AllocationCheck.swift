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

/// Limits from Benchmarks/allocation-limits.txt ("name limit" lines).
func allocationLimits() -> [String: Double] {
    var limits: [String: Double] = ["decode": 0, "pipeline": 0.0001, "hosts": 0, "geoip": 0]
    var url = #filePath
    for _ in 0..<3 { url = String(url[..<(url.lastIndex(of: "/") ?? url.endIndex)]) }
    guard let f = fopen(url + "/Benchmarks/allocation-limits.txt", "r") else { return limits }
    defer { fclose(f) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, 256, f) != nil {
        let text = String(nulTerminated: line)
        if text.hasPrefix("#") { continue }
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        if parts.count == 2, let v = Double(parts[1]) { limits[String(parts[0])] = v }
    }
    return limits
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
        let ok = per <= limits["decode", default: 0]
        failed = failed || !ok
        print("allocations per packet, read + decode: \(per) (limit \(limits["decode", default: 0])) \(ok ? "ok" : "FAILED")")
    }
    do {
        let reader = try CaptureFileReader(path: path)
        let pipeline = PacketPipeline()
        var n: UInt64 = 0
        var start: UInt64 = 0
        while let raw = try reader.next() {
            if n == half { start = count() }
            pipeline.process(raw)
            n &+= 1
        }
        let per = Double(count() - start) / Double(max(1, total - half))
        let ok = per <= limits["pipeline", default: 0]
        failed = failed || !ok
        print("allocations per packet, full pipeline: \(per) (limit \(limits["pipeline", default: 0])) \(ok ? "ok" : "FAILED")")
    }
    do {
        // Passive DNS, which every `sniff` run feeds with each packet: a DNS response
        // whose names are known must cost nothing. Fed straight after decoding rather
        // than through a pipeline, so that a debug build measures it too (the pipeline's
        // consumer loop and packet accessor allocate there, not in release).
        let hosts = HostEnrichment()
        let per = try decoded { p, raw in hosts.consume(p, frame: raw.bytes) }
        let ok = per <= limits["hosts", default: 0]
        failed = failed || !ok
        print("allocations per packet, decode + passive DNS: \(per) (limit \(limits["hosts", default: 0])) \(ok ? "ok" : "FAILED")")
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
        let limit = limits["geoip", default: 0]
        let ok = per <= limit
        failed = failed || !ok
        print("allocations per packet, decode + passive DNS + GeoIP of both ends: \(per) (limit \(limit)) \(ok ? "ok" : "FAILED")")
    }
    do {
        // The Info line into a reused sink, as the NDJSON writer and the row builder
        // render it: names, SNI and paths are copied bytes, never a String.
        var sink = ByteSink(capacity: 1024)
        let per = try decoded { p, raw in
            sink.removeAll()
            PacketInfo.write(p, frame: raw.bytes, into: &sink)
        }
        // Gated once allocation-limits.txt has an "info" line (measured in a release build).
        if let limit = limits["info"] {
            let ok = per <= limit
            failed = failed || !ok
            print("allocations per packet, decode + Info line: \(per) (limit \(limit)) \(ok ? "ok" : "FAILED")")
        } else {
            print("allocations per packet, decode + Info line: \(per) (no limit yet)")
        }
    }
    if failed { exit(1) }
}
