import Foundation
import Testing
import SniffTestSupport

/// `--resolve`: PTR lookups through the system resolver, against a real DNS server
/// (scripts/gen/ptr-resolver.py) on 127.0.0.1:53 of a network namespace of its own, with
/// /etc/resolv.conf replaced by a bind mount inside a mount namespace of its own
/// (`unshare --mount --net`): the host's resolver is neither asked nor changed.
@Suite(.serialized) struct ResolveCLITests {
    static let canUnshare = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare")
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")
        && (FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")
            || FileManager.default.isExecutableFile(atPath: "/sbin/ip"))
    static let why: Comment = "needs root, unshare, ip and python3 for a resolver in a namespace of its own"

    /// One query the server saw: when it started and ended (monotonic seconds), how many
    /// were outstanding when it started (itself included), and the name asked.
    struct Query {
        var start: Double
        var end: Double
        var outstanding: Int
        var name: String
    }

    /// Runs sniff with `args` where the system resolver is ptr-resolver.py answering
    /// `names` (address → name; NXDOMAIN for others) after `delay` seconds each.
    static func run(_ args: [String], names: [String: String], delay: Double = 0) throws -> (CommandResult, [Query]) {
        let dir = try TestPaths.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try JSONSerialization.data(withJSONObject: names).write(to: dir.appendingPathComponent("names.json"))
        try "nameserver 127.0.0.1\noptions timeout:3 attempts:1\n".write(to: dir.appendingPathComponent("resolv.conf"),
                                                                          atomically: true, encoding: .utf8)
        let server = TestPaths.packageRoot.appendingPathComponent("scripts/gen/ptr-resolver.py").path
        let script = """
            set -e
            D="\(dir.path)"
            ip link set lo up
            mount --bind "$D/resolv.conf" /etc/resolv.conf
            python3 "\(server)" serve "$D/names.json" "$D/queries.log" "$D/ready" \(delay) &
            server=$!
            trap 'kill $server' EXIT
            i=0
            while [ ! -e "$D/ready" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
            [ -e "$D/ready" ] || { echo "ptr-resolver.py did not start" >&2; exit 99; }
            "$@"
            """
        let scriptURL = dir.appendingPathComponent("run.sh")
        try script.write(to: scriptURL, atomically: true, encoding: .utf8)
        let r = try CLI.run(args, timeout: 60,
                            launcher: ["/usr/bin/unshare", "--mount", "--net", "--fork", "/bin/sh", scriptURL.path])
        let log = (try? String(contentsOf: dir.appendingPathComponent("queries.log"), encoding: .utf8)) ?? ""
        let queries = log.split(separator: "\n").compactMap { line -> Query? in
            let f = line.split(separator: " ")
            guard f.count == 4, let s = Double(f[0]), let e = Double(f[1]), let n = Int(f[2]) else { return nil }
            return Query(start: s, end: e, outstanding: n, name: String(f[3]))
        }
        return (r, queries)
    }

    /// The sample's client 10.77.0.1, which no DNS answer names, gets its PTR name in the
    /// flows and the report; 10.77.0.2 keeps the name its mDNS answer gave.
    @Test(.enabled(if: canUnshare, why)) func ptrNamesInFlowsAndReport() throws {
        let names = ["10.77.0.1": "client.sniff.test", "10.77.0.2": "ptr-would-be-wrong.sniff.test"]
        let (flows, queries) = try Self.run(["-r", TestPaths.sample.path, "--resolve", "--flows"], names: names)
        #expect(flows.status == 0, "\(flows.stderr)")
        #expect(queries.contains { $0.name == "1.0.77.10.in-addr.arpa" }, "\(queries.map(\.name))")
        let objects = try FlowsCLITests.objects(flows.stdout)
        let fromClient = objects.filter { $0["id.orig_h"] as? String == "10.77.0.1" }
        #expect(!fromClient.isEmpty)
        // Flows that ended before the answer came carry no name; none carries another.
        #expect(fromClient.contains { $0["orig_name"] as? String == "client.sniff.test" })
        #expect(fromClient.allSatisfy { $0["orig_name"] == nil || $0["orig_name"] as? String == "client.sniff.test" })
        #expect(objects.filter { $0["id.resp_h"] as? String == "10.77.0.2" }.allSatisfy {
            $0["resp_name"] as? String == "sniffer.local"
        })

        let (report, _) = try Self.run(["-r", TestPaths.sample.path, "--resolve", "--top", "all"], names: names)
        #expect(report.status == 0, "\(report.stderr)")
        #expect(
            report.stdout.contains("\n  10.77.0.1:42013\n    Host:               client.sniff.test (private, local)\n"),
            "\(report.stdout.prefix(4000))")
        #expect(report.stdout.contains("\n  10.77.0.2:80\n    Host:               sniffer.local (private, local)\n"))

        // Off for a file unless asked: not one query, and no PTR name.
        let (plain, none) = try Self.run(["-r", TestPaths.sample.path, "--flows"], names: names)
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(none.isEmpty, "\(none.map(\.name))")
        #expect(try FlowsCLITests.objects(plain.stdout).filter { $0["id.orig_h"] as? String == "10.77.0.1" }
            .allSatisfy { $0["orig_name"] == nil })
    }

    /// `--db`: the PTR name goes into host_names with source 'ptr', beside the mDNS
    /// answer's name with source 'dns' (read back with Python's sqlite3, as any reader would).
    @Test(.enabled(if: canUnshare, why)) func ptrNamesStored() throws {
        let dir = try TestPaths.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("ptr.db").path
        let names = ["10.77.0.1": "client.sniff.test", "10.77.0.2": "ptr-would-be-wrong.sniff.test"]
        let (r, _) = try Self.run(
            ["-r", TestPaths.sample.path, "--resolve", "-q", "--db", "sqlite:" + db], names: names)
        #expect(r.status == 0, "\(r.stderr)")
        let read = try Command.run("/usr/bin/python3", [
            "-c",
            "import sqlite3, sys; print('\\n'.join('|'.join(map(str, row)) for row in sqlite3.connect(sys.argv[1])"
                + ".execute('SELECT address, name, source FROM host_names_v ORDER BY address, name')))", db,
        ])
        #expect(read.status == 0, "\(read.stderr)")
        let rows = read.stdout.split(separator: "\n")
        #expect(rows.contains("10.77.0.1|client.sniff.test|ptr"), "\(rows)")
        #expect(rows.contains("10.77.0.2|sniffer.local|dns"), "\(rows)")
        #expect(!rows.contains { $0.contains("ptr-would-be-wrong") }, "\(rows)")
    }

    /// Nine addresses, answers taking 0.4 s, two queries at once: the server never sees
    /// more than two outstanding, it does see two, and every flow gets its name (the
    /// file's end waits for the lookups, up to 3 s).
    @Test(.enabled(if: canUnshare, why)) func boundedInFlight() throws {
        let dir = try TestPaths.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pcap = dir.appendingPathComponent("udp.pcap")
        try JournalFaultTests.udpCapture(count: 8).write(to: pcap)
        var names = ["10.1.0.1": "server.sniff.test"]
        for i in 0..<8 { names["10.0.0.\(i)"] = "h\(i).sniff.test" }
        let (r, queries) = try Self.run(
            [
                "-r", pcap.path, "--resolve", "--resolve-in-flight", "2", "--resolve-rate", "1000",
                "--flows"
            ], names: names, delay: 0.4)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(queries.count == 9, "\(queries.map(\.name))")
        #expect(queries.map(\.outstanding).max() == 2)
        let objects = try FlowsCLITests.objects(r.stdout)
        #expect(objects.count == 8)
        for o in objects {
            let a = try #require(o["id.orig_h"] as? String)
            #expect(o["orig_name"] as? String == names[a], "\(a)")
            #expect(o["resp_name"] as? String == "server.sniff.test")
        }
    }

    /// Four queries per second: nine addresses' queries start at least about 0.25 s apart.
    @Test(.enabled(if: canUnshare, why)) func rateLimited() throws {
        let dir = try TestPaths.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pcap = dir.appendingPathComponent("udp.pcap")
        try JournalFaultTests.udpCapture(count: 8).write(to: pcap)
        let (r, queries) = try Self.run(["-r", pcap.path, "--resolve", "--resolve-rate", "4", "-q"], names: [:])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(queries.count == 9, "\(queries.map(\.name))")
        let starts = queries.map(\.start).sorted()
        let gaps = zip(starts.dropFirst(), starts).map { $0 - $1 }
        // 4 per second: starts 0.25 s apart at the sender. The server sees them with the
        // scheduling jitter of a loaded machine, so a gap may shrink a little; without the
        // limit they would come together. The span bounds the rate over all nine.
        #expect(gaps.allSatisfy { $0 > 0.1 }, "\(gaps)")
        #expect((starts.last ?? 0) - (starts.first ?? 0) > 1.8)
    }

    @Test func badValues() throws {
        for (args, message) in [
            (["--resolve", "--resolve-rate", "0"], "invalid --resolve-rate 0: it must be 1 to 10000"),
            (["--resolve", "--resolve-in-flight", "65"], "invalid --resolve-in-flight 65: it must be 1 to 64"),
            (["--resolve-rate", "5"], "--resolve-rate is for --resolve; give --resolve too"),
            (["--resolve", "--resolve-in-flight", "many"], "--resolve-in-flight"),
        ] {
            let r = try CLI.run(["-r", TestPaths.sample.path] + args)
            #expect(r.status == 64, "\(args)")
            #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
        }
    }
}
