import Foundation
import Testing
import SniffCore
import SniffDecode
import SniffAnalysis
@testable import SniffStore
import SniffTestSupport

/// The report's protocol summary and the API's (`/api/protocol_summary` is the store's
/// `protocolSummary`, which the dashboard draws) give the same totals for one run.
@Suite("Report and API summaries agree")
struct SummaryConsistencyTests {
    /// Every shared capture, the fixtures and the sample.
    static var files: [URL] {
        StoreTestEnv.captures + [TestPaths.packageRoot.appendingPathComponent("samples/sample.pcapng")]
    }

    struct Totals: Equatable, CustomStringConvertible {
        var packets: UInt64, bytes: UInt64, flows: UInt64
        var description: String { "\(packets) packets, \(bytes) bytes, \(flows) flows" }
    }

    static func reportSide(_ s: ProtocolSummary) -> (transports: [String: Totals], apps: [String: Totals]) {
        var t: [String: Totals] = [:], a: [String: Totals] = [:]
        for k in TransportKind.allCases {
            let c = s.transport(k)
            if c.packets > 0 || c.flows > 0 { t[k.label] = Totals(packets: c.packets, bytes: c.bytes, flows: c.flows) }
        }
        for (k, c) in s.appsByBytes { a[k.name] = Totals(packets: c.packets, bytes: c.bytes, flows: c.flows) }
        return (t, a)
    }

    static func apiSide(_ s: ProtocolSummaryTable) -> (transports: [String: Totals], apps: [String: Totals]) {
        func map(_ e: [ProtocolSummaryTable.Entry]) -> [String: Totals] {
            Dictionary(uniqueKeysWithValues: e.map {
                ($0.name, Totals(packets: $0.packets, bytes: $0.bytes, flows: $0.flows))
            })
        }
        return (map(s.transports), map(s.apps))
    }

    @Test func sampleNamesEachAppOnce() async throws {
        try await TestDatabase.withSQLite("summary-sample") { url in
            let store = StoreFactory.open(try StoreURL(url))
            defer { Task { await store.close() } }
            let file = TestPaths.packageRoot.appendingPathComponent("samples/sample.pcapng")
            let loaded = try await load(file, into: store)
            let api = Self.apiSide(try await store.protocolSummary(RangeQuery()))
            // The case: TLS on 443 was "HTTPS" by port and "TLS" by payload.
            #expect(api.apps["HTTPS"] == nil)
            #expect(api.apps["TLS"] == Totals(packets: 31, bytes: 5546, flows: 2))
            #expect(Self.reportSide(loaded.summary).apps == api.apps)
            // Every packet is under one app: the apps add up to the capture.
            #expect(api.apps.values.reduce(0) { $0 + $1.packets } == loaded.totals.packetsMatched)
        }
    }

    @Test(.enabled(if: TestPaths.sharedPcaps != nil, "needs ../shared/pcaps beside the repository"))
    func reportEqualsAPIOnEveryCapture() async throws {
        try await TestDatabase.withSQLite("summary") { try await Self.expectReportEqualsAPI($0) }
    }

    /// Report totals = store totals for every capture, each loaded as its own capture
    /// into the database at `url`. PostgreSQL's run is in the serialized "PostgreSQL
    /// store" suite, whose kill test no other test may overlap.
    static func expectReportEqualsAPI(_ url: String) async throws {
        for file in files {
            let store = StoreFactory.open(try StoreURL(url))
            let loaded = try await load(file, into: store)
            let api = apiSide(try await store.protocolSummary(RangeQuery(capture: loaded.captureID)))
            await store.close()
            let report = reportSide(loaded.summary)
            let name = file.lastPathComponent
            #expect(report.transports == api.transports, "\(name) \(url.prefix(6)): transports")
            #expect(report.apps == api.apps, "\(name) \(url.prefix(6)): apps")
        }
    }
}
