import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import SniffCore
import SniffCapture
import SniffStore
@testable import SniffServer
import SniffTestSupport

/// One frame of a capture file, as Sniff's reader returns it.
struct FileFrame: Equatable, CustomStringConvertible {
    var ts: Int64
    var wireLength: UInt32
    var link: LinkType
    var bytes: [UInt8]
    var description: String { "\(ts) len \(wireLength) caplen \(bytes.count) \(link.name)" }
}

/// Every frame of a capture file, through `CaptureFileReader`.
func readFrames(_ path: String) throws -> (format: CaptureFileReader.Format, links: [LinkType], frames: [FileFrame]) {
    let r = try CaptureFileReader(path: path)
    var out: [FileFrame] = []
    while let p = try r.next() {
        out.append(
            FileFrame(ts: p.timestamp.totalNanoseconds, wireLength: p.wireLength, link: p.link, bytes: Array(p.bytes)))
    }
    return (r.format, r.interfaces.map(\.link), out)
}

/// The frames of several files in the order a pcap export writes them: by time, ties
/// in file order (a stable sort; the store breaks ties by insertion order).
func exportOrder(_ files: [URL]) throws -> [FileFrame] {
    let all = try files.flatMap { try readFrames($0.path).frames }
    return all.enumerated().sorted { ($0.element.ts, $0.offset) < ($1.element.ts, $1.offset) }.map(\.element)
}

/// Databases loaded with `--store-raw`, made once.
actor RawDatabases {
    static let shared = RawDatabases()
    /// Two Ethernet captures, one of them pcapng with two interfaces, frames out of
    /// time order and a frame cut by the snaplen.
    static let ethernetFiles = ["lo-udp-tcp.pcap", "multi-iface.pcapng"].map {
        TestPaths.fixtures.appendingPathComponent($0)
    }
    /// Ethernet and Linux cooked v2: two link types.
    static let mixedFiles = ["lo-udp-tcp.pcap", "sll2.pcap"].map { TestPaths.fixtures.appendingPathComponent($0) }
    private var loaded: [String: LoadedDatabase] = [:]

    func get(_ name: String, _ files: [URL]) async throws -> LoadedDatabase {
        if let db = loaded[name] { return db }
        let db = try await loadDatabase(
            files, path: ServerTestEnv.tempDirectory("raw-\(name)") + "/raw.db", storeFrames: true)
        loaded[name] = db
        return db
    }
}

/// Runs the `sniff` executable built beside the tests, in a folder of its own.
func runSniff(_ args: [String]) throws -> (status: Int32, stderr: String) {
    let r = try CLI.run(args, currentDirectory: URL(fileURLWithPath: ServerTestEnv.tempDirectory("cli")))
    return (r.status, r.stderr)
}

/// The frames tshark reads in a capture file; nil when tshark is not installed, -1 when
/// it refuses the file.
func tsharkCount(_ path: String) -> Int? {
    guard Tshark.installed, let r = try? Tshark.run(["-n", "-r", path, "-T", "fields", "-e", "frame.number"]) else {
        return nil
    }
    guard r.status == 0 else { return -1 }
    return r.stdout.split(separator: "\n").count
}

@Suite("pcap export")
struct PcapExportTests {
    func download(
        _ client: some TestClientProtocol, _ query: String
    ) async throws -> (HTTPResponse.Status, HTTPFields, [UInt8]) {
        try await client.execute(uri: "/api/export?format=pcap" + query, method: .get) { r in
            (r.status, r.headers, Array(r.body.readableBytesView))
        }
    }

    func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let path = ServerTestEnv.tempDirectory("pcap") + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test(
        "Stored with --store-raw, the API's pcap holds every frame's bytes and time, and tshark reads it",
        arguments: bothSetups)
    func wholeCapture(_ setup: TestingSetup) async throws {
        let db = try await RawDatabases.shared.get("ethernet", RawDatabases.ethernetFiles)
        let (_, app) = makeApp(db.store)
        try await app.test(setup) { client in
            let (status, headers, body) = try await download(client, "")
            #expect(status == .ok)
            #expect(headers[.contentType] == "application/vnd.tcpdump.pcap")
            #expect(headers[.contentDisposition]?.contains("sniff-packets.pcap\"") == true)
            #expect(Array(body.prefix(4)) == [0x4D, 0x3C, 0xB2, 0xA1], "nanosecond pcap magic, little-endian")
            let path = try write(body, "all.pcap")
            let back = try readFrames(path)
            #expect(back.format == .pcap)
            #expect(back.links == [.ethernet])
            let want = try exportOrder(RawDatabases.ethernetFiles)
            #expect(back.frames.count == want.count)
            for (got, expected) in zip(back.frames, want) { #expect(got == expected) }
            // The cut frame keeps its wire length.
            #expect(back.frames.contains { $0.bytes.count == 200 && $0.wireLength > 200 })
            if let n = tsharkCount(path) { #expect(n == want.count, "tshark -r") }
        }
    }

    @Test("Filters and limit apply to the pcap as to the rows")
    func filtered() async throws {
        let db = try await RawDatabases.shared.get("ethernet", RawDatabases.ethernetFiles)
        let (_, app) = makeApp(db.store)
        try await app.test(.router) { client in
            let (status, _, body) = try await download(client, "&transport=udp&port=47001")
            #expect(status == .ok)
            let back = try readFrames(try write(body, "udp.pcap"))
            let want = try exportOrder(RawDatabases.ethernetFiles)
            let api = try await APITests.allPages(client, "transport=udp&port=47001", limit: 1000)
            #expect(back.frames.count == api.count)
            let ndjson = db.packets.filter {
                $0["transport"] == "UDP" && ($0["sport"] == "47001" || $0["dport"] == "47001")
            }
            #expect(back.frames.count == ndjson.count && ndjson.count >= 5, "counted from the NDJSON")
            #expect(back.frames.allSatisfy { want.contains($0) })
            // Oldest first, the API's times.
            let apiTimes = api.compactMap { $0["ts"] as? Double }.sorted()
            #expect(zip(back.frames.map { Double($0.ts) / 1e9 }, apiTimes).allSatisfy { abs($0 - $1) < 1e-6 })

            let (s2, _, limited) = try await download(client, "&limit=3")
            #expect(s2 == .ok)
            #expect(try readFrames(try write(limited, "three.pcap")).frames == Array(want.prefix(3)))

            let (s3, _, none) = try await download(client, "&port=1")
            #expect(s3 == .ok)
            #expect(try readFrames(try write(none, "empty.pcap")).frames.isEmpty, "no match: a valid empty capture")

            try await client.execute(uri: "/api/export?format=pcap&port=70000", method: .get) { r in
                #expect(r.status == .badRequest)
                #expect(jsonObject(r.body)["parameter"] as? String == "port")
            }
        }
    }

    @Test(
        "Two link types make a pcapng with one interface each; one capture of them alone is a pcap",
        arguments: bothSetups)
    func mixedLinkTypes(_ setup: TestingSetup) async throws {
        let db = try await RawDatabases.shared.get("mixed", RawDatabases.mixedFiles)
        let (_, app) = makeApp(db.store)
        try await app.test(setup) { client in
            let (status, headers, body) = try await download(client, "")
            #expect(status == .ok)
            #expect(headers[.contentType] == "application/x-pcapng")
            #expect(headers[.contentDisposition]?.contains("sniff-packets.pcapng\"") == true)
            let path = try write(body, "mixed.pcapng")
            let back = try readFrames(path)
            #expect(back.format == .pcapng)
            #expect(back.links == [.ethernet, .linuxSLL2])
            let want = try exportOrder(RawDatabases.mixedFiles)
            #expect(back.frames.count == want.count)
            for (got, expected) in zip(back.frames, want) { #expect(got == expected) }
            if let n = tsharkCount(path) { #expect(n == want.count, "tshark -r") }

            let captures = try await client.execute(uri: "/api/captures", method: .get) {
                jsonObject($0.body)["rows"] as? [[String: Any]] ?? []
            }
            let sll2 = try #require(
                (captures.first { ($0["source"] as? String)?.contains("sll2") == true }?["id"] as? String).flatMap {
                    Int64($0)
                })
            let (s2, h2, one) = try await download(client, "&capture=\(sll2)")
            #expect(s2 == .ok)
            #expect(h2[.contentType] == "application/vnd.tcpdump.pcap")
            let alone = try readFrames(try write(one, "sll2.pcap"))
            #expect(alone.links == [.linuxSLL2])
            #expect(alone.frames == (try exportOrder([RawDatabases.mixedFiles[1]])))
        }
    }

    @Test("Without kept bytes the answer is 409 and names --store-raw and -w")
    func noBytes() async throws {
        let db = try await SharedDatabase.shared.get()
        let (_, app) = makeApp(db.store)
        try await app.test(.router) { client in
            try await client.execute(uri: "/api/export?format=pcap&transport=udp", method: .get) { r in
                #expect(r.status == .conflict)
                let o = jsonObject(r.body)
                let message = o["error"] as? String ?? ""
                #expect(message.contains("--store-raw") && message.contains("-w FILE"), "\(message)")
                #expect(o["parameter"] as? String == "format")
            }
        }
    }

    @Test("sniff -r FILE --store-raw, then sniff export --format pcap, gives the file's frames back")
    func commandLine() async throws {
        let dir = ServerTestEnv.tempDirectory("cli-pcap")
        let file = TestPaths.fixtures.appendingPathComponent("multi-iface.pcapng")
        let raw = "sqlite:\(dir)/raw.db", plain = "sqlite:\(dir)/plain.db"
        var r = try runSniff(["-r", file.path, "-q", "--db", raw, "--store-raw", "--journal", dir + "/j"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("with their bytes"))
        r = try runSniff(["export", "--db", raw, "--format", "pcap", "-o", dir + "/out.pcap"])
        #expect(r.status == 0, "\(r.stderr)")
        let back = try readFrames(dir + "/out.pcap")
        #expect(back.format == .pcap)
        #expect(back.frames == (try exportOrder([file])))
        if let n = tsharkCount(dir + "/out.pcap") { #expect(n == back.frames.count) }

        r = try runSniff(["export", "--db", raw, "--format", "pcap", "--transport", "icmp", "-o", dir + "/icmp.pcap"])
        #expect(r.status == 0, "\(r.stderr)")
        let icmp = try readFrames(dir + "/icmp.pcap").frames
        #expect(!icmp.isEmpty)
        // Ethernet, IPv4 (0x0800), protocol 1: ICMP and nothing else.
        #expect(
            icmp.allSatisfy { $0.bytes.count > 23 && $0.bytes[12] == 0x08 && $0.bytes[13] == 0x00 && $0.bytes[23] == 1 }
        )
        #expect(icmp.allSatisfy { back.frames.contains($0) })

        // Stored without bytes: a refusal that says what to do, and no output file.
        r = try runSniff(["-r", file.path, "-q", "--db", plain, "--journal", dir + "/j"])
        #expect(r.status == 0, "\(r.stderr)")
        r = try runSniff(["export", "--db", plain, "--format", "pcap", "-o", dir + "/none.pcap"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("--store-raw") && r.stderr.contains("-w FILE"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/none.pcap"))

        // --store-raw is a storage option.
        r = try runSniff(["-r", file.path, "-q", "--store-raw"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("--store-raw applies to storage"), "\(r.stderr)")
        r = try runSniff(["-r", file.path, "-q", "--db", plain, "--store-raw", "--store-packets", "none"])
        #expect(r.status == 64)
    }
}
