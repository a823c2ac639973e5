import Foundation
import Testing
import SniffCore
import SniffDecode
import SniffAnalysis
import SniffCapture
@testable import SniffStore

/// The NDJSON fields the packets table keeps (the rest, such as ttl or dns_answers,
/// are not columns).
let storedPacketKeys: Set<String> = [
    "n", "ts", "len", "caplen", "iface", "link", "eth_src", "eth_dst", "vlan", "ip", "src", "dst", "proto",
    "transport", "sport", "dport", "seq", "ack", "tcp_flags", "flags", "window", "payload_len", "icmp_type",
    "icmp_code", "dns_query", "app", "app_source", "info",
]

/// The NDJSON fields of flows compared exactly (times are compared to the microsecond,
/// which is what the flow NDJSON prints).
let storedFlowKeys: Set<String> = [
    "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service", "orig_bytes", "resp_bytes",
    "conn_state", "local_orig", "local_resp", "missed_bytes", "history", "orig_pkts", "orig_ip_bytes", "resp_pkts",
    "resp_ip_bytes", "community_id", "vlan", "app", "app_source", "dns_query", "tls_sni", "tls_version", "http_host",
    "http_method", "http_uri", "ssh_client", "ssh_server", "quic_version", "orig_tcp_flags", "resp_tcp_flags",
    "orig_l2_bytes", "resp_l2_bytes", "end_reason", "server_name", "version", "cipher", "next_protocol",
    "client_versions", "client_alpn", "ja3", "ja3s", "ja4",
]

/// Checks that what the store holds for one loaded capture is what the NDJSON writers
/// print for it: every packet, every field, and every flow.
func expectRoundTrip(_ file: URL, _ url: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let store = StoreFactory.open(try StoreURL(url))
    defer { Task { await store.close() } }
    let loaded = try await load(file, into: store)
    let name = file.lastPathComponent
    #expect(loaded.report?.complete == true, "\(name): pending rows", sourceLocation: sourceLocation)
    #expect(
        loaded.report?.stats.packetsStored == UInt64(loaded.packetLines.count), "\(name)",
        sourceLocation: sourceLocation)

    // In frame order, as the NDJSON (files need not be in time order).
    let stored = try await allPackets(store, capture: loaded.captureID).sorted { $0.row.n < $1.row.n }
    #expect(
        stored.count == loaded.packetLines.count,
        "\(name): \(stored.count) rows for \(loaded.packetLines.count) packets",
        sourceLocation: sourceLocation)
    // Independently of the store's reading code.
    #expect(
        try await TestDatabase.count(url, "packets", where: "capture_id = \(loaded.captureID)")
            == loaded.packetLines.count,
        "\(name)", sourceLocation: sourceLocation)
    let flowUIDs = Set(loaded.flowLines.compactMap { jsonFields($0)["uid"] })
    var mismatches = 0
    for (row, line) in zip(stored, loaded.packetLines) {
        var want = jsonFields(line).filter { storedPacketKeys.contains($0.key) }
        // NUL cannot be stored in PostgreSQL text; both stores keep U+FFFD instead.
        if let q = want["dns_query"] { want["dns_query"] = q.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}") }
        var got = jsonFields(row.json)
        let uid = got.removeValue(forKey: "flow_uid")
        #expect(got.removeValue(forKey: "sensor") == "test", sourceLocation: sourceLocation)
        #expect(got.removeValue(forKey: "capture") == String(loaded.captureID), sourceLocation: sourceLocation)
        if want["iface"] == nil { got.removeValue(forKey: "iface") }
        if got != want && mismatches < 5 {
            mismatches += 1
            Issue.record("\(name) packet \(want["n"] ?? "?"):\n stored \(got.sorted { $0.key < $1.key })\n ndjson \(want.sorted { $0.key < $1.key })",
                         sourceLocation: sourceLocation)
        }
        // A packet that belongs to a flow carries the flow's uid.
        if let uid { #expect(flowUIDs.contains(uid), "\(name): uid \(uid) of no flow", sourceLocation: sourceLocation) }
    }

    let flows = try await allFlows(store, capture: loaded.captureID)
    #expect(flows.count == loaded.flowLines.count, "\(name): \(flows.count) flows stored of \(loaded.flowLines.count)",
            sourceLocation: sourceLocation)
    // Flows as multisets of their fields (a uid can repeat when a flow is split with
    // the same start time, so rows are not matched by uid alone).
    func canonical(_ fields: [String: String]) -> String {
        fields.filter { storedFlowKeys.contains($0.key) }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            .joined(separator: "|")
    }
    let got = flows.map { canonical(jsonFields($0.json)) }.sorted()
    let want = loaded.flowLines.map { canonical(jsonFields($0)) }.sorted()
    #expect(got == want, "\(name): stored flows differ from the flow NDJSON", sourceLocation: sourceLocation)
    // ts: nanoseconds stored, microseconds printed.
    let gotTimes = flows.map { Double($0.row.ts) / 1e9 }.sorted()
    let wantTimes = loaded.flowLines.compactMap { jsonFields($0)["ts"].flatMap(Double.init) }.sorted()
    #expect(
        zip(gotTimes, wantTimes).allSatisfy { abs($0 - $1) < 2e-6 }, "\(name): flow times",
        sourceLocation: sourceLocation)
}

@Suite("Round trip into SQLite")
struct SQLiteRoundTripTests {
    @Test("every field of every shared capture and fixture equals the NDJSON output")
    func everyCapture() async throws {
        let files = StoreTestEnv.captures
        #expect(files.count >= 10)
        try await TestDatabase.withSQLite("roundtrip") { url in
            for f in files { try await expectRoundTrip(f, url) }
            // All captures in one file: per-capture counts stay separate.
            let store = StoreFactory.open(try StoreURL(url))
            let captures = try await store.captures(CaptureQuery(limit: 1000))
            #expect(captures.count == files.filter { (try? CaptureFileReader(path: $0.path)) != nil }.count)
            await store.close()
        }
    }
}
