import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import ZIPFoundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import SniffCore
import SniffStore
@testable import SniffServer
import SniffTestSupport

/// Minimal RFC 4180 reader, to check the writer independently.
func parseCSV(_ text: String) -> [[String]] {
    var rows: [[String]] = []
    var row: [String] = []
    var field = ""
    var quoted = false
    var it = Array(text.unicodeScalars)[...]
    while let c = it.popFirst() {
        if quoted {
            if c == "\"" {
                if it.first == "\"" { field.unicodeScalars.append("\""); it.removeFirst() } else { quoted = false }
            } else { field.unicodeScalars.append(c) }
        } else if c == "\"" { quoted = true
        } else if c == "," { row.append(field); field = ""
        } else if c == "\r" && it.first == "\n" {
            it.removeFirst(); row.append(field); rows.append(row); row = []; field = ""
        } else { field.unicodeScalars.append(c) }
    }
    if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
    return rows
}

@Suite("Exports")
struct ExportTests {
    @Test("CSV round trip: header, rows and values equal the API's", arguments: bothSetups)
    func csvRoundTrip(_ setup: TestingSetup) async throws {
        let db = try await SharedDatabase.shared.get()
        let (_, app) = makeApp(db.store)
        try await app.test(setup) { client in
            let csv = try await client.execute(uri: "/api/export?format=csv&transport=udp", method: .get) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.contentDisposition]?.contains("sniff-packets.csv") == true)
                return String(buffer: r.body)
            }
            let rows = parseCSV(csv)
            #expect(rows.first == PacketExport.columns)
            let api = try await APITests.allPages(client, "transport=udp", limit: 1000)
            #expect(rows.count - 1 == api.count)
            #expect(rows.dropFirst().allSatisfy { $0.count == PacketExport.columns.count })
            let col = Dictionary(uniqueKeysWithValues: PacketExport.columns.enumerated().map { ($1, $0) })
            for (line, p) in zip(rows.dropFirst(), api) {
                #expect(line[col["src"]!] == p["src"] as? String ?? "")
                #expect(line[col["dport"]!] == (p["dport"] as? Int).map(String.init) ?? "")
                #expect(line[col["len"]!] == (p["len"] as? Int).map(String.init))
                let q = p["dns_query"] as? String ?? ""
                let want = q.unicodeScalars.first.map { "=+-@\t\r".unicodeScalars.contains($0) } == true ? "'" + q : q
                #expect(line[col["dns_query"]!] == want)
                // The Info line and the app's source, as the API gives them.
                let info = p["info"] as? String ?? ""
                #expect(
                    line[col["info"]!]
                        == (info.unicodeScalars.first.map { "=+-@\t\r".unicodeScalars.contains($0) } == true
                            ? "'" + info : info))
                #expect(line[col["app_source"]!] == p["app_source"] as? String ?? "")
            }
        }
    }

    @Test("NDJSON export equals the API's rows")
    func ndjson() async throws {
        let db = try await SharedDatabase.shared.get()
        let (_, app) = makeApp(db.store)
        try await app.test(.router) { client in
            let text = try await client.execute(uri: "/api/export?format=ndjson&transport=tcp", method: .get) {
                String(buffer: $0.body)
            }
            let lines = text.split(separator: "\n")
            #expect(lines.count == db.packets.filter { $0["transport"]?.lowercased() == "tcp" }.count)
            #expect(lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil })
        }
    }

    @Test("xlsx is a workbook with a header, numeric cells and dates", arguments: bothSetups)
    func xlsx(_ setup: TestingSetup) async throws {
        let db = try await SharedDatabase.shared.get()
        let (_, app) = makeApp(db.store)
        try await app.test(setup) { client in
            let bytes = try await client.execute(uri: "/api/export?format=xlsx", method: .get) { r in
                #expect(r.status == .ok)
                return Data(r.body.readableBytesView)
            }
            let archive = try Archive(data: bytes, accessMode: .read)
            for part in [
                "[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/styles.xml",
                "xl/worksheets/sheet1.xml"
            ] {
                #expect(archive[part] != nil, "\(part)")
            }
            var sheet = Data()
            _ = try archive.extract(archive["xl/worksheets/sheet1.xml"]!) { sheet.append($0) }
            let xml = String(decoding: sheet, as: UTF8.self)
            #expect(xml.components(separatedBy: "<row ").count - 1 == db.packets.count + 1)
            #expect(xml.contains("<c r=\"A2\" s=\"1\"><v>"))   // a date cell
            #expect(xml.contains("<c r=\"H2\"><v>"))           // len, numeric
            #expect(!xml.contains("<script>"))                 // packet text escaped
            #expect(xml.contains("<c r=\"W"))                 // info, the last column
            // Parse the whole sheet as XML.
            let parser = XMLParser(data: sheet)
            #expect(parser.parse(), "\(parser.parserError.map(String.init(describing:)) ?? "")")
            // When python3 with openpyxl is present (CI installs it), read it back there too.
            let file = ServerTestEnv.tempDirectory("xlsx") + "/x.xlsx"
            try bytes.write(to: URL(fileURLWithPath: file))
            if let out = runPython("import openpyxl,sys\nwb=openpyxl.load_workbook(sys.argv[1]);ws=wb.active\nrows=list(ws.iter_rows(values_only=True))\nimport datetime\nassert rows[0][0]=='time' and isinstance(rows[1][0], datetime.datetime) and isinstance(rows[1][7], int), rows[:2]\nprint(len(rows)-1)", file) {
                #expect(out.trimmingCharacters(in: .whitespacesAndNewlines) == String(db.packets.count))
            }
        }
    }

    @Test("export size limit")
    func limit() async throws {
        let db = try await SharedDatabase.shared.get()
        let (_, app) = makeApp(db.store) { $0.exportLimit = 10 }
        try await app.test(.router) { client in
            let text = try await client.execute(uri: "/api/export?format=ndjson", method: .get) {
                String(buffer: $0.body)
            }
            #expect(text.split(separator: "\n").count == 10)
            try await client.execute(uri: "/api/export?format=csv&limit=11", method: .get) {
                #expect($0.status == .badRequest)
            }
        }
    }
}

/// Runs a Python snippet with one argument; nil when python3 or the module is missing.
func runPython(_ code: String, _ arg: String) -> String? {
    guard let r = try? Command.run("/usr/bin/python3", ["-c", code, arg]) else { return nil }
    if r.status != 0 {
        if r.stderr.contains("ModuleNotFoundError") { return nil }
        Issue.record("python: \(r.stderr)")
        return ""
    }
    return r.stdout
}
