import Foundation
import Testing
import SniffCore
@testable import SniffStore
import SniffServer
import SniffTestSupport

/// The TLS/QUIC handshake columns of flows (migration 8): stored by both backends, read
/// back as --flows writes them, and searched with `tls` (server name substring or an
/// exact fingerprint). Values are tshark's (Tests/Fixtures/*.tls.tsv).
/// The PostgreSQL run is in `PostgresStoreTests` (the one suite that uses the server).
struct FlowHandshakeStoreTests {
    @Test func sqlite() async throws {
        try await TestDatabase.withSQLite("handshake") { try await Self.storedAndSearched($0) }
    }

    static func storedAndSearched(_ url: String) async throws {
        do {
            let store = StoreFactory.open(try StoreURL(url))
            defer { Task { await store.close() } }
            let fixtures = TestPaths.packageRoot.appendingPathComponent("Tests/Fixtures")
            let tls = try await load(fixtures.appendingPathComponent("tls.pcap"), into: store)
            _ = try await load(fixtures.appendingPathComponent("quic.pcap"), into: store)

            let all = try await allFlows(store, capture: tls.captureID)
            let t12 = try #require(all.first { $0.row.tlsSNI == "tls12.sniff.test" }).row
            #expect(t12.tlsChosenVersion == "TLSv12")
            #expect(t12.tlsCipher == "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384")
            #expect(t12.tlsNextProtocol == "http/1.1")
            #expect(t12.tlsClientALPN == "http/1.1")
            #expect(t12.ja3 == "22558766122974704364c9c75c5cce0a")
            #expect(t12.ja3s == "e195432758194ce2d482396b82e0d48e")

            func search(_ text: String) async throws -> [String] {
                try await store.flows(FlowQuery(parameters: ["tls": text])).rows.compactMap(\.row.tlsSNI).sorted()
            }
            // Case-insensitive substring of the server name, over TCP and QUIC flows.
            #expect(try await search("QUIC") == ["quic.sniff.test", "quic2.sniff.test"])
            #expect(try await search("curl1") == ["curl12.sniff.test", "curl13.sniff.test"])
            // Exact fingerprints: quic.pcap's three connections share a client, TLS 1.3
            // servers the JA3S.
            #expect(try await search("121f6e4f22ee3205214b0676ed64b9e2")
                    == ["big.sniff.test", "quic.sniff.test", "quic2.sniff.test"])
            #expect(try await search("E195432758194CE2D482396B82E0D48E") == ["tls12.sniff.test"])
            #expect(try await search("q13d0307h3_55b375c5d22e_1cecd519fee8").count == 3)
            #expect(try await search("121f6e4f22ee3205214b0676ed64b9e").isEmpty)  // no prefix match
            // LIKE's wildcards are literal.
            #expect(try await search("%").isEmpty)
            #expect(throws: APIError.self) { try FlowQuery(parameters: ["tls": ""]) }
        }
    }
}

extension FlowHandshakeStoreTests {
    /// Journals: flows are written as kind 5 (with the handshake) and read back equal;
    /// a kind 2 batch, as journals held before the handshake columns, still reads.
    @Test func journalCodec() throws {
        var f = FlowRow()
        f.uid = "Cabc"; f.proto = "udp"; f.connState = "SF"; f.communityID = "1:x"; f.app = "QUIC"
        f.appSource = "payload"; f.tlsSNI = "quic.sniff.test"
        f.tlsChosenVersion = "TLSv13"; f.tlsCipher = "TLS_AES_256_GCM_SHA384"; f.tlsClientVersions = "TLSv13"
        f.tlsClientALPN = "h3"; f.ja3 = "121f6e4f22ee3205214b0676ed64b9e2"; f.ja3s = "15af977ce25de452b96affa2addb1036"
        f.ja4 = "q13d0307h3_55b375c5d22e_1cecd519fee8"
        let batch = StoreBatch(id: BatchID(writer: 1, seq: 2), sensor: "s", captureID: 3, content: .flows([f]),
                               createdAt: 4)
        #expect(try JournalCodec.roundTrip(batch) == batch)

        // The same batch as an older Sniff wrote it: kind 2, rows without the handshake.
        var old = BinaryWriter()
        old.int64(1); old.int64(2); old.string("s"); old.int64(3); old.int64(4)
        old.uint8(2); old.uint32(1)
        BatchCodec.encode(f, into: &old)
        let oldBack = try JournalCodec.decode(old)
        var plain = f
        plain.handshakeColumns = Array(repeating: nil, count: Schema.flowHandshakeColumns.count)
        #expect(oldBack.content == .flows([plain]))
    }

    /// A journal's ssl.log row from before schema 17 has no certificate values: they
    /// read as unset; one with them reads back whole; a row longer than the columns is
    /// refused.
    @Test func journalTLSRowsBeforeCertificates() throws {
        let full: [LogValue] = [.text("TLSv12"), .text("TLS_AES_128_GCM_SHA256"), .text("a.test"), .null, .text("ja3"),
                                .text("ja3s"), .text("ja4"), .list(["TLSv12"]), .list(["h2"]), .null,
                                .text("CN=a.test"), .text("CN=ca"), .int(1_700_000_000), .int(253_402_300_799)]
        #expect(full.count == LogKind.tls.columns.count)
        func batch(_ values: [LogValue]) -> StoreBatch {
            StoreBatch(id: BatchID(writer: 1, seq: 2), sensor: "s", captureID: 3, content: .logs([
                LogRow(kind: .tls, ts: 5, uid: "Cabc", origH: IPAddress(v4: 0x0A00_0001), origP: 40000,
                       respH: IPAddress(v4: 0x0A00_0002), respP: 443, proto: "tcp", values: values)]), createdAt: 4)
        }
        #expect(try JournalCodec.roundTrip(batch(full)) == batch(full))
        let old = Array(full.prefix(10))
        #expect(try JournalCodec.roundTrip(batch(old)) == batch(old + Array(repeating: .null, count: 4)))
        #expect(throws: (any Error).self) { try JournalCodec.roundTrip(batch(full + [.null])) }
    }
}
