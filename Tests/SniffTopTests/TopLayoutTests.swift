import Foundation
import Testing
import SniffCore
import SniffDecode
import SniffCapture
import SniffAnalysis
import SniffStore
import SniffServer
@testable import SniffTop
import SniffTestSupport

/// The pure layer of `sniff top`: a real capture through the pipeline and the
/// collector, then the model and layout as the terminal would draw them.
struct TopLayoutTests {
    static let sample = TestPaths.sample.path

    /// samples/sample.pcapng read as `sniff top -r` reads it.
    static func model(filter: PacketFilter = PacketFilter()) throws -> TopModel {
        let reader = try CaptureFileReader(path: sample)
        let pipeline = PacketPipeline(filter: filter)
        let table = FlowTable()
        let summary = ProtocolSummaryCollector()
        let sinks = AlertSinkList([])
        let engine = AlertEngine(sink: sinks)
        table.observer = FlowObserverList([summary, engine])
        pipeline.consumers = [engine, table, summary]
        let collector = TopCollector(
            pipeline: pipeline, table: table, summary: summary, engine: engine, format: FlowFormat(),
            source: "file sample.pcapng", live: false, sampleCapacity: 100_000, finishedFlowLimit: 100_000)
        collector.attach(alertSinks: sinks)
        while let raw = try reader.next() { pipeline.process(raw) }
        table.flush()
        engine.finish()
        collector.publish(state: "finished", force: true)
        var m = TopModel(keepNewest: false)
        m.ingest(try #require(collector.take()))
        m.ingest(collector.hub.outbox.drain())
        #expect(collector.take() == nil, "a snapshot is taken once")
        return m
    }

    static func screen(_ m: inout TopModel, _ w: Int = 80, _ h: Int = 24) -> TopGrid {
        TopLayout.render(&m, width: w, height: h)
    }

    @Test func overviewShowsTotalsAndTransports() throws {
        var m = try Self.model()
        let g = Self.screen(&m)
        let text = g.text
        #expect(g.line(0).hasPrefix(" sniff top | file sample.pcapng | finished | 391 pkts"))
        #expect(text.contains("391 matched of 391 seen"))
        #expect(text.contains("open 0, started 39, finished 39"))
        // tshark -r samples/sample.pcapng -qz io,phs: 299 TCP, 74 UDP frames.
        #expect(text.range(of: #"\n tcp +299 +"#, options: .regularExpression) != nil, "\(text)")
        #expect(text.range(of: #"\n udp +74 +"#, options: .regularExpression) != nil, "\(text)")
        #expect(g.line(23).hasPrefix("1 Overview 2 Talkers 3 Flows 4 Apps 5 Alerts 6 Packets"))
        #expect(g.style(row: 23, col: 0) == .tabActive)
    }

    @Test func everyViewFitsBothSizes() throws {
        var m = try Self.model()
        for (w, h) in [(80, 24), (200, 60)] {
            for v in TopView.allCases {
                m.view = v
                let g = Self.screen(&m, w, h)
                #expect(g.height == h && g.width == w)
                for r in 0..<h { #expect(g.line(r).unicodeScalars.count <= w) }
                #expect(g.line(h - 1).contains("\(v.rawValue + 1) \(v.title)"))
            }
        }
    }

    @Test func talkersFlowsAppsAndPacketsShowTheCapture() throws {
        var m = try Self.model()
        #expect(m.handle(.char("2")) == .none)
        var g = Self.screen(&m)
        #expect(g.line(1).hasPrefix("address:port"))
        #expect(g.line(2).hasPrefix("10.77.0.2:80 "), "busiest by bytes first:\n\(g.text)")
        #expect(g.style(row: 2, col: 0) == .selected)
        #expect(g.line(22).hasPrefix("row 1/52"))

        _ = m.handle(.char("3"))
        g = Self.screen(&m)
        #expect(g.line(1).hasPrefix("ts"))
        #expect(g.text.contains("[fd77::1]:40008"))
        #expect(g.line(22).hasPrefix("row 1/39"))
        let wide = Self.screen(&m, 200, 60)
        for field in [
            "uid", "id.orig_h:p", "id.resp_h:p", "proto", "service", "duration", "orig_bytes", "resp_bytes",
            "conn_state", "history"
        ] {
            #expect(wide.line(1).contains(field), "\(field) in \(wide.line(1))")
        }
        #expect(wide.text.contains("ShADadFf"))

        _ = m.handle(.char("4"))
        g = Self.screen(&m)
        #expect(g.line(2).hasPrefix("HTTP "), "\(g.text)")

        _ = m.handle(.char("6"))
        g = Self.screen(&m)
        #expect(g.text.contains("-- Frame 391 "))
        #expect(g.text.contains("UDP: 7 -> 40008, payload 1452 bytes"))
        _ = m.handle(.home)
        g = Self.screen(&m)
        #expect(g.text.contains("-- Frame 1 "), "\(g.text)")
        #expect(!m.followPackets)
    }

    @Test func processesViewIsForLiveCapture() throws {
        var m = try Self.model()
        _ = m.handle(.char("7"))
        #expect(m.view == .processes)
        let g = Self.screen(&m)
        #expect(g.text.contains("processes are known for live capture only"), "\(g.text)")
        #expect(g.line(23).hasPrefix("1 Overview 2 Talkers 3 Flows 4 Apps 5 Alerts 6 Packets 7 Procs"))
        #expect(g.line(23).hasSuffix("? help  q quit"), "the keys still fit 80 columns")
    }

    @Test func processesViewListsBandwidthPerProcess() throws {
        var snap = TopSnapshot()
        snap.live = true
        snap.processesShown = true
        snap.processes = [
            TopProcess(pid: 4242, command: "curl", user: "root", container: "-", flows: 3, sent: 1200, received: 50_000,
                       sentPerSecond: 100, receivedPerSecond: 25_000),
            TopProcess(pid: 77, command: "sshd", user: "root", container: "ssh.service", flows: 1, sent: 9_000_000,
                       received: 20_000, sentPerSecond: 4_000, receivedPerSecond: 50),
            TopProcess(pid: 0, command: "(unknown)", user: "-", container: "-", flows: 2, sent: 0, received: 640),
        ]
        var m = TopModel()
        m.ingest(snap)
        _ = m.handle(.char("n"))
        for (w, h) in [(80, 24), (200, 60)] {
            let g = Self.screen(&m, w, h)
            let lines = (0..<h).map { g.line($0) }
            let header = try #require(lines.first { $0.contains("pid") && $0.contains("process") })
            #expect(header.contains("recv/s") && header.contains("sent/s"), "\(header)")
            // Sorted by received per second, the busiest first.
            let rows = lines.filter { $0.contains("curl") || $0.contains("sshd") || $0.contains("(unknown)") }
            #expect(rows.count == 3)
            #expect(rows.first?.contains("curl") == true && rows.first?.contains("25.0 kB/s") == true, "\(rows)")
            #expect(rows.first?.hasPrefix("   4242 ") == true, "\(rows)")
            if w == 200 { #expect(rows.contains { $0.contains("ssh.service") && $0.contains("9.00 MB") }, "\(rows)") }
        }
        // Sort by sent per second: sshd first.
        _ = m.handle(.char(">"))
        let g = Self.screen(&m)
        let first = (0..<24).map { g.line($0) }.first { $0.contains("curl") || $0.contains("sshd") }
        #expect(first?.contains("sshd") == true, "\(g.text)")
    }

    @Test func keysSortAndReverse() throws {
        var m = try Self.model()
        _ = m.handle(.tab)
        #expect(m.view == .talkers)
        _ = m.handle(.char(">"))
        var g = Self.screen(&m)
        #expect(m.sorts[.talkers] == TopSort(column: 6, descending: true))
        #expect(g.text.contains("sort: pkts desc"))
        // By packets: 10.77.0.2:80 has 138.
        #expect(g.line(2).hasSuffix(" 138"))
        _ = m.handle(.char("i"))
        g = Self.screen(&m)
        #expect(g.text.contains("sort: pkts asc"))
        #expect(g.line(2).hasSuffix(" 1"))
        _ = m.handle(.char("<")); _ = m.handle(.char("<")); _ = m.handle(.char("<")); _ = m.handle(.char("<"))
        _ = m.handle(.char("<")); _ = m.handle(.char("<"))
        g = Self.screen(&m)
        #expect(m.sorts[.talkers]?.column == 0)
        #expect(g.text.contains("sort: address:port asc"))
        _ = m.handle(.backTab)
        #expect(m.view == .overview)
    }

    @Test func slashFiltersWithTheFeedWords() throws {
        var m = try Self.model()
        _ = m.handle(.char("3"))
        _ = m.handle(.char("/"))
        for c in "tcp port 53" { _ = m.handle(.char(c)) }
        var g = Self.screen(&m)
        #expect(g.line(22).hasPrefix("filter (Enter applies, Esc cancels): tcp port 53_"))
        _ = m.handle(.enter)
        g = Self.screen(&m)
        #expect(m.filterText == "tcp port 53")
        // tshark -Y tcp.port==53: two connections (IPv4 and IPv6) of 10 packets each.
        #expect(g.line(22).hasPrefix("row 1/2"), "\(g.text)")
        #expect(g.line(2).contains("[fd77::2]:53"))
        #expect(g.line(3).contains("10.77.0.2:53"))
        #expect(g.line(0).contains("filter: tcp port"))
        _ = m.handle(.char("6"))
        g = Self.screen(&m)
        #expect(g.line(22).hasPrefix("row 20/20"), "\(g.text)")

        _ = m.handle(.char("/"))
        for _ in 0..<20 { _ = m.handle(.backspace) }
        for c in "port banana" { _ = m.handle(.char(c)) }
        _ = m.handle(.enter)
        #expect(m.filterText == "tcp port 53", "a bad filter keeps the old one")
        #expect(Self.screen(&m).line(22).hasPrefix("invalid port"), "\(m.message ?? "")")
        #expect(m.message?.contains("port") == true)
        _ = m.handle(.escape)
        #expect(m.filter == nil)
    }

    @Test func pauseResumeStopAndQuit() throws {
        var m = try Self.model()
        #expect(m.handle(.char("p")) == .pause)
        #expect(Self.screen(&m).line(22).hasPrefix("paused"))
        #expect(m.handle(.char("r")) == .resume)
        #expect(m.handle(.char("s")) == .stop)
        #expect(m.handle(.char("p")) == .none, "nothing to pause once stopped")
        #expect(m.handle(.char("?")) == .none)
        #expect(Self.screen(&m).text.contains("reverse the sort"))
        #expect(m.handle(.char("x")) == .none)
        #expect(!m.showHelp)
        #expect(m.handle(.char("q")) == .quit)
    }

    @Test func gridKeepsPacketTextFromMovingTheCursor() {
        var g = TopGrid(width: 10, height: 1)
        g.put("a\u{1B}[2Jb\u{7}c\u{4E00}", row: 0, col: 0)
        #expect(g.line(0) == "a?[2Jb?c?")
        #expect(PacketLine.printable("x\u{1B}y") == "x\\x1by")
    }

    @Test func formats() {
        #expect(TopFormat.count(9999) == "9999")
        #expect(TopFormat.count(12_345) == "12.3k")
        #expect(TopFormat.bytes(999) == "999 B")
        #expect(TopFormat.bytes(1_234_567) == "1.23 MB")
        #expect(TopFormat.bytes(999_960) == "1.00 MB")
        #expect(TopFormat.sparkline([0, 1, 2, 4, 8], unicode: true) == " ▂▃▅█")
        #expect(TopFormat.sparkline([0, 8], unicode: false) == " #")
        #expect(TopFormat.relative(nanos: 1_500_000_000, origin: 0) == "1.500000")
        #expect(TopFormat.fit("abcdef", 4) == "abc~")
        #expect(TopFormat.fit("12", 4, right: true) == "  12")
    }

    /// The time cursor over samples/sample.pcapng: 7 windows of 1 s from 00:14:22 UTC.
    /// Per second (tshark -T fields -e frame.time_epoch -e frame.protocols): 12, 28, 60,
    /// 200, 32, 5 and 54 frames; TCP 0, 10, 60, 196, 28, 5, 0.
    @Test func timeCursorMovesThroughTheFile() throws {
        var m = try Self.model()
        #expect(m.cursorStep == 1)
        #expect(m.cursorWindowCount == 7)
        #expect(m.cursor == nil)
        #expect(Self.screen(&m).text.contains("391 matched of 391 seen"))
        // Forward from the whole file starts at the first window.
        #expect(m.handle(.char("]")) == .none)
        var g = Self.screen(&m)
        #expect(m.cursor == 0)
        #expect(g.line(0).contains("| cursor 00:14:22 +1 s"), "\(g.text)")
        #expect(g.text.contains("12 by the cursor, of 391 matched"), "\(g.text)")
        #expect(g.text.contains("12 pkt/s, 1.08 kB/s in the window"), "\(g.text)")
        #expect(g.line(22).hasPrefix("cursor 00:14:22 +1 s, window 1/7"), "\(g.text)")
        // No TCP in the first second; the marker is over the first column.
        #expect(g.text.range(of: #"\n tcp +0 +0 B"#, options: .regularExpression) != nil, "\(g.text)")
        let header = try #require((0..<24).first { g.line($0).hasPrefix(" transport packets") })
        #expect(g.scalar(row: header, col: 34) == "↓")
        #expect(g.style(row: header + 1, col: 34) == .selected)
        _ = m.handle(.char("]"))
        g = Self.screen(&m)
        #expect(g.text.contains("40 by the cursor, of 391 matched"), "\(g.text)")
        #expect(g.text.range(of: #"\n tcp +10 +"#, options: .regularExpression) != nil, "\(g.text)")
        #expect(g.scalar(row: header, col: 35) == "↓")
        _ = m.handle(.char("]")); _ = m.handle(.char("]"))
        g = Self.screen(&m)
        #expect(g.text.contains("300 by the cursor, of 391 matched"), "\(g.text)")
        #expect(g.text.contains("200 pkt/s, 118 kB/s in the window"), "\(g.text)")
        #expect(g.text.range(of: #"\n tcp +196 +"#, options: .regularExpression) != nil, "\(g.text)")
        // Ten forward stops at the last window, one more is the whole file again.
        _ = m.handle(.char("}"))
        #expect(m.cursor == 6)
        #expect(Self.screen(&m).text.contains("391 by the cursor, of 391 matched"))
        _ = m.handle(.char("]"))
        #expect(m.cursor == nil)
        #expect(Self.screen(&m).text.contains("391 matched of 391 seen"))
        // Back from the whole file starts at the last window; { stops at the first.
        _ = m.handle(.char("["))
        #expect(m.cursor == 6)
        _ = m.handle(.char("{"))
        #expect(m.cursor == 0)
        _ = m.handle(.end)
        #expect(m.cursor == 6)
        _ = m.handle(.home)
        #expect(m.cursor == 0)
        _ = m.handle(.char("$"))
        #expect(m.cursor == 6)
        _ = m.handle(.char("^"))
        #expect(m.cursor == 0)
        _ = m.handle(.char("c"))
        #expect(m.cursor == nil)
    }

    @Test func timeCursorWindowsTheTables() throws {
        var m = try Self.model()
        let allFlows = TopLayout.rowCount(m, .flows)
        #expect(allFlows == 39)
        _ = m.handle(.char("^"))
        // The first second: ARP, ICMP and ICMPv6 only (tcpdump -tt): no port in any view.
        let flows = TopLayout.flows(m)
        #expect(!flows.isEmpty && flows.count < allFlows)
        #expect(flows.allSatisfy { $0.row.proto == "icmp" }, "\(flows.map(\.row.proto))")
        #expect(flows.contains { $0.row.origH.description == "10.77.0.1" && $0.row.respH.description == "10.77.0.2" })
        let talkers = TopLayout.talkers(m)
        #expect(
            Set(talkers.map(\.endpoint.description)).isSuperset(of: ["10.77.0.1", "10.77.0.2", "fd77::1", "fd77::2"]),
            "\(talkers.map(\.endpoint.description))")
        #expect(talkers.allSatisfy { $0.endpoint.port == -1 })
        let packets = TopLayout.packetItems(m)
        #expect(packets.count == 12)
        #expect(packets.map(\.n) == Array(1...12))
        m.view = .flows
        var g = Self.screen(&m)
        #expect(g.text.contains("row 1/\(flows.count)"), "\(g.text)")
        #expect(!g.text.contains(":80"))
        // At 00:14:25 (200 frames, the HTTP transfers): the web server's ports are the
        // busiest, each with its two flows of that second whole (54.1 + 1.15 kB over IPv6,
        // 52.9 + 0.916 kB over IPv4, as the whole file's flows view lists them).
        _ = m.handle(.char("]")); _ = m.handle(.char("]")); _ = m.handle(.char("]"))
        m.view = .talkers
        g = Self.screen(&m)
        #expect(g.line(2).hasPrefix("[fd77::2]:80 ") && g.line(2).contains(" 55.2 kB"), "\(g.text)")
        #expect(
            (3..<22).contains { g.line($0).hasPrefix("10.77.0.2:80 ") && g.line($0).contains(" 53.8 kB") }, "\(g.text)")
        #expect(TopLayout.packetItems(m).count == 200)
        #expect(
            TopLayout.packetItems(m).allSatisfy {
                $0.ts >= 1_795_306_465_000_000_000 && $0.ts < 1_795_306_466_000_000_000
            })
        m.view = .apps
        g = Self.screen(&m)
        #expect(g.line(2).hasPrefix("HTTP "), "\(g.text)")
    }

    @Test func timelineCoarsensLongFiles() {
        var t = TopTimeline()
        t.add(second: 1000, transport: .tcp, wireLength: 100)
        t.add(second: 1000 + Int64(TopTimeline.maxBins), transport: .udp, wireLength: 50)
        #expect(t.binSeconds == 2)
        #expect(t.bins == TopTimeline.maxBins / 2 + 1)
        t.add(second: 999, transport: .tcp, wireLength: 10)  // out of order, before the first: bin 0
        let all = t.sum(from: 0, to: .max / 2)
        #expect(all.packets[Int(TransportKind.tcp.rawValue)] == 2)
        #expect(all.bytes[Int(TransportKind.udp.rawValue)] == 50)
        #expect(t.sum(from: 1002, to: 1000 + Int64(TopTimeline.maxBins)).packets.reduce(0, +) == 0)
    }
}
