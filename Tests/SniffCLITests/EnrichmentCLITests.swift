import Foundation
import Testing
import SniffTestSupport

/// Names, countries, ASNs and MAC vendors beside addresses: `--geoip`, passive DNS and
/// ieee-data, as a user sees them in flows, conn.log, the report and packet NDJSON.
@Suite struct EnrichmentCLITests {
    static var dnsTCP: URL { (TestPaths.sharedPcaps ?? TestPaths.packageRoot).appendingPathComponent("dns_tcp.pcap") }
    static var hasDNSTCP: Bool { FileManager.default.fileExists(atPath: dnsTCP.path) }

    /// The sample's mDNS answer names 10.77.0.2: its flows and report entries say so.
    @Test func passiveDNSNamesInFlowsAndReport() throws {
        let flows = try CLI.run(["-r", TestPaths.sample.path, "--flows"])
        #expect(flows.status == 0, "\(flows.stderr)")
        let objects = try FlowsCLITests.objects(flows.stdout)
        let toServer = objects.filter { $0["id.resp_h"] as? String == "10.77.0.2" }
        #expect(!toServer.isEmpty)
        #expect(toServer.allSatisfy { $0["resp_name"] as? String == "sniffer.local" })
        // Nobody named the client, and without a database there is no country.
        #expect(objects.filter { $0["id.orig_h"] as? String == "10.77.0.1" }.allSatisfy { $0["orig_name"] == nil })
        #expect(objects.allSatisfy { $0["resp_cc"] == nil && $0["orig_cc"] == nil })

        let report = try CLI.run(["-r", TestPaths.sample.path, "--top", "all"])
        #expect(report.status == 0, "\(report.stderr)")
        #expect(report.stdout.contains("\n  10.77.0.2:80\n    Host:               sniffer.local (private, local)\n"),
                "\(report.stdout.prefix(4000))")
        #expect(report.stdout.contains("\n  10.77.0.1:42013\n    Host:               private, local\n"))
    }

    @Test(.enabled(if: TestMMDB.writerInstalled && hasDNSTCP, "needs libmaxmind-db-writer-perl and ../shared/pcaps"))
    func geoipInFlowsConnLogAndReport() throws {
        let dir = try TestMMDB.write()
        defer { try? FileManager.default.removeItem(at: dir) }
        let flows = try CLI.run(["-r", Self.dnsTCP.path, "--flows", "--geoip", dir.path])
        #expect(flows.status == 0, "\(flows.stderr)")
        let f = try #require(try FlowsCLITests.objects(flows.stdout).first)
        #expect(f["resp_cc"] as? String == "CA")
        #expect(f["resp_asn"] as? Int == 64500)
        #expect(f["resp_org"] as? String == "Sniff Test Network")
        // 192.168.1.11 is private: no database is asked about it.
        #expect(f["orig_cc"] == nil && f["orig_asn"] == nil)

        let log = dir.appendingPathComponent("conn.log").path
        let conn = try CLI.run(["-r", Self.dnsTCP.path, "-q", "--conn-log", log, "--geoip", dir.path])
        #expect(conn.status == 0, "\(conn.stderr)")
        let rows = FlowOutputCut.cut(try String(contentsOfFile: log, encoding: .utf8),
                                     ["orig_cc", "resp_cc", "orig_asn", "resp_asn", "resp_org", "resp_name"])
        #expect(rows == [["-", "CA", "-", "64500", "Sniff Test Network", "-"]])

        let report = try CLI.run(["-r", Self.dnsTCP.path, "--geoip", dir.path])
        #expect(
            report.stdout.contains("\n  209.87.249.18:53\n    Host:               CA, AS64500 Sniff Test Network\n"),
            "\(report.stdout)")
    }

    @Test func badGeoipIsAUsageErrorNamingTheFile() throws {
        let dir = try TestPaths.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let corrupt = dir.appendingPathComponent("GeoLite2-City.mmdb").path
        try Data("not a database".utf8).write(to: URL(fileURLWithPath: corrupt))
        let empty = dir.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        for path in [corrupt, dir.appendingPathComponent("missing.mmdb").path, empty.path] {
            let r = try CLI.run(["-r", TestPaths.sample.path, "--geoip", path])
            #expect(r.status == 64, "\(path): \(r.stderr)")
            #expect(r.stderr.contains("cannot use GeoIP database \(path):"), "\(r.stderr)")
            #expect(r.stdout.isEmpty)
        }
        let none = try CLI.run(["-r", TestPaths.sample.path, "--geoip", ""])
        #expect(none.status == 64 && none.stderr.contains("--geoip needs"), "\(none.stderr)")
    }

    @Test(.enabled(if: TestMMDB.writerInstalled, "libmaxmind-db-writer-perl is not installed"))
    func wrongKindIsNamed() throws {
        let dir = try TestMMDB.write()
        defer { try? FileManager.default.removeItem(at: dir) }
        let other = dir.appendingPathComponent("Test-Other.mmdb").path
        let r = try CLI.run(["-r", TestPaths.sample.path, "--geoip", other])
        #expect(r.status == 64)
        #expect(r.stderr.contains(other) && r.stderr.contains("not a Country, City or ASN database"), "\(r.stderr)")
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/share/ieee-data/oui.csv") && hasDNSTCP,
                   "needs ieee-data and ../shared/pcaps"))
    func macVendorsInPacketJSON() throws {
        let r = try CLI.run(["-r", Self.dnsTCP.path, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let first = try #require(try FlowsCLITests.objects(r.stdout).first)
        // 00:11:22 is registered to CIMSYS Inc.
        #expect(first["eth_src"] as? String == "00:11:22:33:44:55")
        #expect(first["eth_src_vendor"] as? String == "CIMSYS Inc")
        #expect(first["eth_dst_vendor"] as? String == "CIMSYS Inc")
        // The sample's veth addresses (02:77:...) are locally administered: no vendor.
        let sample = try CLI.run(["-r", TestPaths.sample.path, "--json", "-c", "5"])
        #expect(!sample.stdout.contains("_vendor"))
    }

    /// `--country` and `--asn` keep the packets (so the flows) with an end there, as the
    /// API's parameters keep flows; bad values and a missing database are usage errors.
    @Test(.enabled(if: TestMMDB.writerInstalled && hasDNSTCP, "needs libmaxmind-db-writer-perl and ../shared/pcaps"))
    func countryAndASNFilters() throws {
        let dir = try TestMMDB.write()
        defer { try? FileManager.default.removeItem(at: dir) }
        func flows(_ extra: [String]) throws -> [[String: Any]] {
            let r = try CLI.run(["-r", Self.dnsTCP.path, "--flows", "--geoip", dir.path] + extra)
            #expect(r.status == 0, "\(extra) \(r.stderr)")
            return try FlowsCLITests.objects(r.stdout)
        }
        // The capture's one flow: 192.168.1.11 (private) to 209.87.249.18 (CA, AS64500).
        #expect(try flows([]).count == 1)
        #expect(try flows(["--country", "CA"]).map { $0["resp_cc"] as? String } == ["CA"])
        #expect(try flows(["--country", "us,ca"]).count == 1)
        #expect(try flows(["--country", "US"]).isEmpty)
        #expect(try flows(["--asn", "AS64500"]).map { $0["resp_asn"] as? Int } == [64500])
        #expect(try flows(["--asn", "15169,64500", "--country", "CA"]).count == 1)
        #expect(try flows(["--asn", "64500", "--country", "GB"]).isEmpty, "both options must hold")
        // Packets: all 11 of the flow, or none.
        let packets = try CLI.run(["-r", Self.dnsTCP.path, "--json", "--geoip", dir.path, "--country", "CA"])
        #expect(packets.status == 0 && packets.stdout.split(separator: "\n").count == 11, "\(packets.stderr)")
        let none = try CLI.run(["-r", Self.dnsTCP.path, "--json", "--geoip", dir.path, "--asn", "1"])
        #expect(none.status == 0 && none.stdout.isEmpty)

        for (args, message) in [
            (["--country", "CAN"], "'--country <CC[,CC]>': 'CAN' is not a country"),
            (["--country", "C1"], "'C1' is not a country"), (["--country", "CA,"], "'' is not a country"),
            (["--asn", "x15169"], "'--asn <N[,N]>': 'x15169' is not an AS number"),
            (["--asn", "99999999999"], "'99999999999' is not an AS number")
        ] {
            let r = try CLI.run(["-r", Self.dnsTCP.path, "--geoip", dir.path] + args)
            #expect(r.status == 64 && r.stderr.contains(message), "\(args): \(r.status) \(r.stderr)")
        }
        // A filter no database answers would keep nothing: said, exit 64.
        let asnOnly = dir.appendingPathComponent("Test-ASN.mmdb").path
        let noCountry = try CLI.run(["-r", Self.dnsTCP.path, "--geoip", asnOnly, "--country", "CA"])
        #expect(noCountry.status == 64 && noCountry.stderr.contains("--country needs a GeoIP Country or City database"),
                "\(noCountry.stderr)")
        let cityOnly = dir.appendingPathComponent("Test-City.mmdb").path
        let noASN = try CLI.run(["-r", Self.dnsTCP.path, "--geoip", cityOnly, "--asn", "64500"])
        #expect(noASN.status == 64 && noASN.stderr.contains("--asn needs a GeoIP ASN database"), "\(noASN.stderr)")
    }

    /// Alert rules naming countries and ASes: the alert names the country or AS; a rule
    /// no database answers, or a bad code in the rules file, is exit 64 before any output.
    @Test(.enabled(if: TestMMDB.writerInstalled && hasDNSTCP, "needs libmaxmind-db-writer-perl and ../shared/pcaps"))
    func countryAndASNAlertRules() throws {
        let dir = try TestMMDB.write()
        defer { try? FileManager.default.removeItem(at: dir) }
        let rules = dir.appendingPathComponent("rules.yaml")
        try """
            rules:
              - name: canada
                kind: country
                countries: [ca]
                severity: high
              - name: from-test-network
                kind: asn
                asns: [AS64500]
                end: orig
              - name: to-test-network
                kind: asn
                asns: [AS64500]
                end: resp
            """.write(to: rules, atomically: true, encoding: .utf8)
        let alertsFile = dir.appendingPathComponent("alerts.ndjson").path
        let r = try CLI.run([
            "-r", Self.dnsTCP.path, "-q", "--geoip", dir.path, "--rules", rules.path, "--alerts", alertsFile
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let alerts = try FlowsCLITests.objects(try String(contentsOfFile: alertsFile, encoding: .utf8))
        #expect(
            alerts.map { $0["rule"] as? String }.sorted { ($0 ?? "") < ($1 ?? "") } == ["canada", "to-test-network"])
        #expect(
            alerts.contains {
                $0["kind"] as? String == "country" && $0["severity"] as? String == "high"
                    && ($0["message"] as? String ?? "").hasPrefix("flow to 209.87.249.18 in CA: ")
            })
        #expect(
            alerts.contains {
                ($0["message"] as? String ?? "").hasPrefix("flow to 209.87.249.18 in AS64500 (Sniff Test Network): ")
            })

        let asnOnly = dir.appendingPathComponent("Test-ASN.mmdb").path
        let noCountry = try CLI.run(["-r", Self.dnsTCP.path, "--geoip", asnOnly, "--rules", rules.path])
        #expect(noCountry.status == 64 && noCountry.stdout.isEmpty, "\(noCountry.stderr)")
        #expect(
            noCountry.stderr.contains("alert rule \"canada\" (kind country) needs a GeoIP Country or City database"),
            "\(noCountry.stderr)")
        try "rules:\n  - name: bad\n    kind: country\n    countries: [CAN]\n".write(
            to: rules, atomically: true, encoding: .utf8)
        let bad = try CLI.run(["-r", Self.dnsTCP.path, "--geoip", dir.path, "--rules", rules.path])
        #expect(
            bad.status == 64 && bad.stderr.contains("\"CAN\" is not a two-letter ISO 3166 country code"),
            "\(bad.stderr)")
    }
}

/// Columns of a Zeek TSV log by name, as zeek-cut picks them.
enum FlowOutputCut {
    static func cut(_ text: String, _ columns: [String]) -> [[String]] {
        var fields: [String] = []
        var rows: [[String]] = []
        for line in text.split(separator: "\n") {
            if line.hasPrefix("#fields\t") {
                fields = line.split(separator: "\t").dropFirst().map(String.init); continue
            }
            if line.hasPrefix("#") { continue }
            let cells = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            rows.append(columns.map { c in fields.firstIndex(of: c).map { cells[$0] } ?? "?" })
        }
        return rows
    }
}
