import Foundation
import Hummingbird
import Logging
import SniffCore
import SniffDecode
import SniffStore
import ZIPFoundation

/// Export formats of GET /api/export and `sniff export`.
public enum ExportFormat: String, Sendable, CaseIterable {
    case csv, xlsx, ndjson, pcap

    var contentType: String {
        switch self {
        case .csv: return "text/csv; charset=utf-8; header=present"
        case .xlsx: return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        case .ndjson: return "application/x-ndjson"
        case .pcap: return "application/vnd.tcpdump.pcap"
        }
    }
}

/// Writes the packets that match a filter as CSV, NDJSON or an xlsx workbook, one page
/// of 1000 rows at a time, so memory stays flat however many rows there are. The xlsx
/// sheet is written to a temporary file first (a ZIP entry needs its size), then zipped
/// and streamed. pcap writes the kept bytes (`--store-raw`), oldest first; see
/// `PcapLayout` for pcap or pcapng.
public struct PacketExport: Sendable {
    public let store: any PacketStore
    public let query: PacketQuery
    public let format: ExportFormat
    public let limit: Int
    /// pcap only: the file's layout, from `PcapLayout.plan` (made by `run` when nil).
    public var pcapLayout: PcapLayout?

    /// Excel's last row is 1 048 576; one is the header.
    public static let xlsxRowLimit = 1_048_575

    public init(
        store: any PacketStore, filter: TrafficFilter, format: ExportFormat, limit: Int, pcapLayout: PcapLayout? = nil
    ) {
        self.store = store
        self.pcapLayout = pcapLayout
        self.query = PacketQuery(filter: filter, cursor: nil, limit: PacketQuery.maximumLimit)
        self.format = format
        self.limit = format == .xlsx ? min(limit, Self.xlsxRowLimit) : limit
    }

    /// pcap: what file the matching packets make, or `PcapUnavailable` when some were
    /// stored without their bytes.
    public static func pcapLayout(store: any PacketStore, filter: TrafficFilter) async throws -> PcapLayout {
        try PcapLayout.plan(try await store.frameSummary(filter))
    }

    public static let columns = [
        "time", "src", "sport", "dst", "dport", "transport", "app", "len", "caplen", "flags",
        "seq", "ack", "window", "payload_len", "icmp_type", "icmp_code", "dns_query", "flow_uid", "sensor", "capture",
        "n",
        "app_source", "info"
    ]

    /// Calls `write` with successive chunks of output. Returns the number of rows.
    @discardableResult
    public func run(_ write: (ByteSink) async throws -> Void) async throws -> Int {
        switch format {
        case .csv:
            var s = ByteSink(capacity: 1 << 16)
            s.append(Self.columns.joined(separator: ",")); s.append("\r\n" as StaticString)
            return try await pages { rows in
                for r in rows { CSVRow.write(r, into: &s) }
                try await write(s); s.removeAll()
            } header: { try await write(s); s.removeAll() }
        case .ndjson:
            var s = ByteSink(capacity: 1 << 16)
            return try await pages { rows in
                for r in rows { r.writeJSON(into: &s); s.append(0x0A) }
                try await write(s); s.removeAll()
            } header: {}
        case .xlsx:
            return try await XLSXWriter.write(self, output: write)
        case .pcap:
            let layout: PcapLayout
            if let l = pcapLayout {
                layout = l
            } else {
                layout = try await Self.pcapLayout(store: store, filter: query.filter)
            }
            return try await PcapStream(layout: layout).write(self, output: write)
        }
    }

    /// Runs `body` for each page, newest first, until `limit` rows.
    func pages(_ body: ([StoredPacket]) async throws -> Void, header: () async throws -> Void) async throws -> Int {
        try await header()
        var q = query
        var n = 0
        while n < limit {
            q.limit = min(PacketQuery.maximumLimit, limit - n)
            let page = try await store.packets(q)
            if page.rows.isEmpty { break }
            try await body(page.rows)
            n += page.rows.count
            guard let c = page.nextCursor else { break }
            q.cursor = c
        }
        return n
    }
}

enum CSVRow {
    static func write(_ p: StoredPacket, into s: inout ByteSink) {
        let r = p.row
        func num<T: BinaryInteger>(_ v: T, _ present: Bool = true) {
            if present { s.append(String(v)) }; s.append(0x2C)
        }
        func text(_ v: String?, last: Bool = false) {
            if let v { field(v, into: &s) }
            s.append(last ? 0x0D : 0x2C)
            if last { s.append(0x0A) }
        }
        text(Timestamp(totalNanoseconds: r.ts).utcString(fractionDigits: 9))
        text(r.has(.ip) ? r.src.description : nil)
        num(r.sport, r.has(.ports))
        text(r.has(.ip) ? r.dst.description : nil)
        num(r.dport, r.has(.ports))
        text(r.transport.name.map { "\($0)" })
        text(r.app == .unknown ? nil : r.app.name)
        num(r.len); num(r.caplen)
        text(r.has(.tcp) ? flags(r.tcpFlags) : nil)
        num(r.seq, r.has(.tcp)); num(r.ack, r.has(.tcp)); num(r.window, r.has(.tcp))
        num(r.payloadLen, r.has(.payloadLen))
        num(r.icmpType, r.has(.icmp)); num(r.icmpCode, r.has(.icmp))
        text(r.dnsQuery); text(r.flowUID); text(p.sensor)
        num(p.captureID)
        num(r.n)
        text(r.app == .unknown ? nil : "\(r.appSource.name)")
        text(r.infoLine, last: true)
    }

    static func flags(_ f: UInt16) -> String {
        var s = ByteSink(capacity: 8)
        TCP.writeFlagLetters(f, into: &s)
        return s.string
    }

    /// RFC 4180 quoting; text a spreadsheet would run as a formula (=, +, -, @ first)
    /// gets a leading apostrophe (OWASP's advice for CSV injection).
    static func field(_ v: String, into s: inout ByteSink) {
        var v = v
        if let f = v.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(f) { v = "'" + v }
        if v.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) {
            s.append(0x22)
            for u in v.utf8 { if u == 0x22 { s.append(0x22) }; s.append(u) }
            s.append(0x22)
        } else {
            s.append(v)
        }
    }
}

/// A minimal Office Open XML workbook: one sheet with a bold header row, numbers as
/// numeric cells, the time as a date cell (Excel serial days, UTC) in a date format.
enum XLSXWriter {
    static func write(_ export: PacketExport, output: (ByteSink) async throws -> Void) async throws -> Int {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sniff-export-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let sheetURL = dir.appendingPathComponent("sheet1.xml")
        // A failure shows as the FileHandle open below throwing.
        _ = FileManager.default.createFile(atPath: sheetURL.path, contents: nil)
        let sheet = try FileHandle(forWritingTo: sheetURL)
        var s = ByteSink(capacity: 1 << 16)
        s.append("""
            <?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<worksheet \
            xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetViews><sheetView \
            workbookViewId=\"0\"><pane ySplit=\"1\" topLeftCell=\"A2\" activePane=\"bottomLeft\" \
            state=\"frozen\"/></sheetView></sheetViews><cols><col min=\"1\" max=\"1\" width=\"26\" \
            customWidth=\"1\"/></cols><sheetData>
            """ as StaticString)
        s.append("<row r=\"1\">" as StaticString)
        for (i, c) in PacketExport.columns.enumerated() { inlineString(c, col: i, row: 1, style: 2, into: &s) }
        s.append("</row>" as StaticString)
        var rowNumber = 1
        let n = try await export.pages({ rows in
            for p in rows {
                rowNumber += 1
                row(p, number: rowNumber, into: &s)
            }
            sheet.write(Data(s.bytes)); s.removeAll()
        }, header: {})
        s.append("</sheetData></worksheet>" as StaticString)
        sheet.write(Data(s.bytes))
        try sheet.close()

        let zipURL = dir.appendingPathComponent("export.xlsx")
        let archive = try Archive(url: zipURL, accessMode: .create)
        for (name, text) in fixedParts {
            let d = Data(text.utf8)
            try archive.addEntry(with: name, type: .file, uncompressedSize: Int64(d.count), compressionMethod: .deflate)
            { pos, size in
                d.subdata(in: Int(pos)..<Int(pos) + size)
            }
        }
        try archive.addEntry(with: "xl/worksheets/sheet1.xml", fileURL: sheetURL, compressionMethod: .deflate)
        // Stream the finished file out.
        let h = try FileHandle(forReadingFrom: zipURL)
        defer { try? h.close() }
        while true {
            let chunk = h.readData(ofLength: 1 << 16)
            if chunk.isEmpty { break }
            var out = ByteSink(capacity: chunk.count)
            out.bytes.append(contentsOf: chunk)
            try await output(out)
        }
        return n
    }

    static func columnName(_ i: Int) -> String {
        var i = i
        var s = ""
        repeat {
            s = String(UnicodeScalar(UInt8(65 + i % 26))) + s
            i = i / 26 - 1
        } while i >= 0
        return s
    }
    static let columnNames = (0..<32).map(columnName)

    static func cellStart(_ col: Int, _ row: Int, into s: inout ByteSink) {
        s.append("<c r=\"" as StaticString); s.append(columnNames[col]); s.append(decimal: Int64(row)); s.append(0x22)
    }

    static func number<T: BinaryInteger>(_ v: T, col: Int, row: Int, into s: inout ByteSink) {
        cellStart(col, row, into: &s); s.append("><v>" as StaticString); s.append(String(v));
        s.append("</v></c>" as StaticString)
    }

    static func inlineString(_ v: String, col: Int, row: Int, style: Int = 0, into s: inout ByteSink) {
        cellStart(col, row, into: &s)
        if style != 0 { s.append(" s=\"" as StaticString); s.append(decimal: Int64(style)); s.append(0x22) }
        s.append(" t=\"inlineStr\"><is><t xml:space=\"preserve\">" as StaticString)
        xmlEscape(v, into: &s)
        s.append("</t></is></c>" as StaticString)
    }

    static func xmlEscape(_ v: String, into s: inout ByteSink) {
        for u in v.unicodeScalars {
            switch u {
            case "&": s.append("&amp;" as StaticString)
            case "<": s.append("&lt;" as StaticString)
            case ">": s.append("&gt;" as StaticString)
            case "\"": s.append("&quot;" as StaticString)
            default:
                // XML 1.0 forbids most control characters even when escaped.
                if (u.value < 0x20 && u != "\t" && u != "\n" && u != "\r") || u.value == 0xFFFE || u.value == 0xFFFF {
                    s.append("\u{FFFD}")
                } else {
                    s.append(String(u))
                }
            }
        }
    }

    static func row(_ p: StoredPacket, number n: Int, into s: inout ByteSink) {
        let r = p.row
        s.append("<row r=\"" as StaticString); s.append(decimal: Int64(n)); s.append("\">" as StaticString)
        // Excel serial date: days since 1899-12-30, UTC.
        let days = Double(r.ts) / 86_400e9 + 25_569
        cellStart(0, n, into: &s); s.append(" s=\"1\"><v>" as StaticString); s.append(String(days));
        s.append("</v></c>" as StaticString)
        if r.has(.ip) { inlineString(r.src.description, col: 1, row: n, into: &s) }
        if r.has(.ports) { number(r.sport, col: 2, row: n, into: &s) }
        if r.has(.ip) { inlineString(r.dst.description, col: 3, row: n, into: &s) }
        if r.has(.ports) { number(r.dport, col: 4, row: n, into: &s) }
        if let t = r.transport.name { inlineString("\(t)", col: 5, row: n, into: &s) }
        if r.app != .unknown { inlineString(r.app.name, col: 6, row: n, into: &s) }
        number(r.len, col: 7, row: n, into: &s)
        number(r.caplen, col: 8, row: n, into: &s)
        if r.has(.tcp) {
            inlineString(CSVRow.flags(r.tcpFlags), col: 9, row: n, into: &s)
            number(r.seq, col: 10, row: n, into: &s); number(r.ack, col: 11, row: n, into: &s);
            number(r.window, col: 12, row: n, into: &s)
        }
        if r.has(.payloadLen) { number(r.payloadLen, col: 13, row: n, into: &s) }
        if r.has(.icmp) { number(r.icmpType, col: 14, row: n, into: &s); number(r.icmpCode, col: 15, row: n, into: &s) }
        if let d = r.dnsQuery { inlineString(d, col: 16, row: n, into: &s) }
        if let u = r.flowUID { inlineString(u, col: 17, row: n, into: &s) }
        inlineString(p.sensor, col: 18, row: n, into: &s)
        // Text: Excel keeps 15 significant digits, and capture ids are 63-bit numbers.
        inlineString(String(p.captureID), col: 19, row: n, into: &s)
        number(r.n, col: 20, row: n, into: &s)
        if r.app != .unknown { inlineString("\(r.appSource.name)", col: 21, row: n, into: &s) }
        let info = r.infoLine
        if !info.isEmpty { inlineString(info, col: 22, row: n, into: &s) }
        s.append("</row>" as StaticString)
    }

    static let fixedParts: [(String, String)] = [
        ("[Content_Types].xml", """
        <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
        <Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>
        """),
        ("_rels/.rels", """
        <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
        <Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>
        """),
        ("xl/workbook.xml", """
        <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
        <workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="packets" sheetId="1" r:id="rId1"/></sheets></workbook>
        """),
        ("xl/_rels/workbook.xml.rels", """
        <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
        <Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>
        """),
        ("xl/styles.xml", """
        <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
        <styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm:ss.000"/></numFmts><fonts count="2"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs></styleSheet>
        """),
    ]
}

/// GET /api/export?format=...&<packet filters>.
struct Exporter {
    let store: any PacketStore
    let limit: Int
    let logger: Logger

    func response(_ req: Request) async throws -> Response {
        var p = try APIRoutes.parameters(req, allowed: APIRoutes.filterNames + ["format", "limit"])
        guard let f = p.removeValue(forKey: "format") else {
            throw APIError.badParameter("format", "give format=csv, xlsx, ndjson or pcap")
        }
        guard let format = ExportFormat(rawValue: f.lowercased()) else {
            throw APIError.badParameter("format", "valid values are csv, xlsx, ndjson, pcap")
        }
        var rows = limit
        if let l = p.removeValue(forKey: "limit") {
            guard let v = Int(l), v >= 1, v <= limit else {
                throw APIError.badParameter("limit", "between 1 and \(limit)")
            }
            rows = v
        }
        let filter = try TrafficFilter(parameters: p)
        var layout: PcapLayout? = nil
        if format == .pcap {
            // Decided before the answer starts: a 409 when bytes are missing, and the
            // file type (pcap or pcapng) for the headers.
            do { layout = try await PacketExport.pcapLayout(store: store, filter: filter) } catch let e
                as PcapUnavailable {
                throw APIError(.conflict, e.message, parameter: "format")
            }
        }
        let export = PacketExport(store: store, filter: filter, format: format, limit: rows, pcapLayout: layout)
        // Ask for the first page now, so that a database error is a clean 503 rather
        // than a cut-off download.
        _ = try await store.packets(PacketQuery(filter: filter, cursor: nil, limit: 1))
        let logger = self.logger
        let body = ResponseBody { writer in
            do {
                let n = try await export.run { chunk in try await writer.write(ByteBuffer(bytes: chunk.bytes)) }
                logger.info("export \(format.rawValue): \(n) rows")
            } catch {
                logger.error("export \(format.rawValue) failed: \(String(describing: error))")
                throw error
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [
            .contentType: layout?.contentType ?? format.contentType,
            .contentDisposition: "attachment; filename=\"sniff-packets.\(layout?.fileExtension ?? format.rawValue)\"",
            .cacheControl: "no-store",
        ], body: body)
    }
}
