import Foundation
import Testing
import SniffTestSupport

/// `sniff -r` as a user runs it: outputs, filters, and every error case with its exit
/// status (64 for usage errors, 1 for run-time failures) and message.
@Suite(.serialized)
struct ReadFileCLITests {
    var sample: String { TestPaths.sample.path }

    @Test func reportOnSample() throws {
        let r = try CLI.run(["-r", sample])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("Sniff report"))
        #expect(r.stdout.contains("Address:port list"))
        #expect(r.stdout.contains("Packets seen:"))
    }

    @Test func jsonIsOneObjectPerPacket() throws {
        let r = try CLI.run(["-r", sample, "--json"])
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count > 10)
        for (i, line) in lines.enumerated() {
            let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(obj?["n"] as? Int == i + 1)
            #expect(obj?["ts"] != nil && obj?["len"] != nil && obj?["link"] != nil)
        }
    }

    @Test func countStopsEarly() throws {
        let r = try CLI.run(["-r", sample, "--json", "-c", "3"])
        #expect(r.status == 0)
        #expect(r.stdout.split(separator: "\n").count == 3)
    }

    @Test func quietPrintsNothing() throws {
        let dir = try TestPaths.tempDir()
        let report = dir.appendingPathComponent("report.txt").path
        let r = try CLI.run(["-r", sample, "-q", "--report", report])
        #expect(r.status == 0)
        #expect(r.stdout.isEmpty)
        let text = try String(contentsOfFile: report, encoding: .utf8)
        #expect(text.contains("Sniff report") && text.contains("Finished"))
        // -q alone skips the address:port table; with --report it must still be filled,
        // and the same as without -q.
        let plain = try CLI.run(["-r", sample])
        // From "Address:port list" on: the list itself, which both outputs print the same.
        let endpointList = { (t: String) -> [Substring] in
            t.split(separator: "\n").drop { !$0.contains("Address:port list:") }.filter { !$0.contains("Last update") }
        }
        let fromReport = endpointList(text)
        #expect(
            fromReport.contains {
                $0.hasPrefix("  ") && ($0.dropFirst(2).first?.isNumber == true || $0.dropFirst(2).first == "[")
            },
            "the report lists address:port entries")
        #expect(!fromReport.contains { $0.contains(" of 0 endpoints") })
        #expect(fromReport == endpointList(plain.stdout))
    }

    @Test func standardInput() throws {
        let data = try Data(contentsOf: TestPaths.sample)
        let fromFile = try CLI.run(["-r", sample, "--json"])
        let fromStdin = try CLI.run(["-r", "-", "--json"], stdin: data)
        #expect(fromStdin.status == 0, "\(fromStdin.stderr)")
        #expect(fromStdin.stdout == fromFile.stdout)
    }

    @Test func bpfAndTransportFiltersNarrow() throws {
        let all = try CLI.run(["-r", sample, "--json"]).stdout.split(separator: "\n")
        let udp = try CLI.run(["-r", sample, "--json", "udp"]).stdout.split(separator: "\n")
        let udp2 = try CLI.run(["-r", sample, "--json", "--transport", "UDP"]).stdout.split(separator: "\n")
        #expect(!udp.isEmpty && udp.count < all.count)
        #expect(udp.allSatisfy { $0.contains("\"transport\":\"UDP\"") })
        #expect(udp2.count == udp.count)
    }

    @Test func portRangeAndIPFilters() throws {
        let dns = try CLI.run(["-r", sample, "--json", "--lowest-port", "53", "--highest-port", "53"]).stdout.split(
            separator: "\n")
        #expect(!dns.isEmpty)
        #expect(dns.allSatisfy { $0.contains("\"sport\":53,") || $0.contains("\"dport\":53,") })
        let lo = try CLI.run(["-r", sample, "--json", "--ip", "127.0.0.0/8"]).stdout.split(separator: "\n")
        #expect(lo.allSatisfy { $0.contains("\"src\":\"127.") || $0.contains("\"dst\":\"127.") })
        let v6 = try CLI.run(["-r", sample, "--json", "--net", "IPv6"]).stdout.split(separator: "\n")
        #expect(v6.allSatisfy { $0.contains("\"ip\":6") })
    }

    // MARK: errors

    @Test func missingFile() throws {
        let r = try CLI.run(["-r", "/nonexistent/x.pcap"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("cannot open /nonexistent/x.pcap: no such file"))
    }

    @Test func unreadableFile() throws {
        // A directory cannot be read as a file even by root.
        let r = try CLI.run(["-r", "/tmp"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("is a directory"))
    }

    @Test func notACaptureFile() throws {
        let dir = try TestPaths.tempDir()
        let f = dir.appendingPathComponent("notes.txt")
        try Data("hello, this is text\n".utf8).write(to: f)
        let r = try CLI.run(["-r", f.path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("is not a pcap or pcapng capture file"))
    }

    @Test func unknownLinkTypeIsCountedNotAnError() throws {
        let dir = try TestPaths.tempDir()
        let f = dir.appendingPathComponent("user0.pcap")
        try CLI.pcap(linkType: 147, frames: [[1, 2, 3, 4], [5, 6, 7, 8, 9]]).write(to: f)
        let r = try CLI.run(["-r", f.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.range(of: #"Undecoded:\s+2\n"#, options: .regularExpression) != nil, "\(r.stdout)")
        let j = try CLI.run(["-r", f.path, "--json"])
        #expect(
            j.stdout.split(separator: "\n").allSatisfy {
                $0.contains("\"undecoded\":true") && $0.contains("\"link\":\"linktype_147\"")
            })
    }

    @Test func truncatedFileKeepsPacketsAndWarnsOnce() throws {
        // A classic pcap ends with a packet record, so cutting 30 bytes cuts the last packet.
        let original = TestPaths.fixtures.appendingPathComponent("lo-udp-tcp.pcap")
        var data = try Data(contentsOf: original)
        let full = try CLI.run(["-r", original.path, "--json"]).stdout.split(separator: "\n").count
        data.removeLast(30)
        let dir = try TestPaths.tempDir()
        let f = dir.appendingPathComponent("cut.pcap")
        try data.write(to: f)
        let r = try CLI.run(["-r", f.path, "--json"])
        #expect(r.status == 0)
        #expect(r.stdout.split(separator: "\n").count == full - 1)
        #expect(r.stderr.components(separatedBy: "file ends inside packet \(full)").count == 2, "\(r.stderr)")
    }

    @Test(arguments: [
        (["--lowest-port", "70000"], "--lowest-port"),
        (["--highest-port", "-1"], "--highest-port"),
        (["--lowest-port", "100", "--highest-port", "10"], "greater than"),
        (["--net", "ipv5"], "ipv4, ipv6"),
        (["--transport", "sctp"], "tcp, udp, icmp"),
        (["--interval", "0"], "--interval"),
        (["--ip", "300.1.1.1"], "--ip"),
        (["-c", "0"], "-c"),
    ])
    func usageErrorsExit64(args: [String], message: String) throws {
        let r = try CLI.run(["-r", sample] + args)
        #expect(r.status == 64, "\(args): \(r.stderr)")
        #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
    }

    @Test func invalidBPFExits64WithLibpcapMessage() throws {
        let r = try CLI.run(["-r", sample, "tcp", "port", "banana"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("invalid filter expression 'tcp port banana'"))
        #expect(r.stderr.contains("port"))  // libpcap's own words follow
    }

    @Test func transportIsCaseInsensitive() throws {
        #expect(try CLI.run(["-r", sample, "-q", "--transport", "Tcp"]).status == 0)
        #expect(try CLI.run(["-r", sample, "-q", "--net", "IPV4"]).status == 0)
    }

    @Test func helpListsTheOptions() throws {
        let r = try CLI.run(["capture", "--help"])
        #expect(r.status == 0)
        for opt in [
            "-r <FILE>", "--json", "--report", "--interval", "--ip", "--net", "--transport", "--lowest-port",
            "--highest-port", "--min-packets", "--inner", "--country", "--asn"
        ] {
            #expect(r.stdout.contains(opt), "\(opt) missing from help")
        }
    }
}
