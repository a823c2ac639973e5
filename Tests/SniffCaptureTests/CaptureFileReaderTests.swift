import Foundation
import Testing
import SniffCore
import SniffCapture

@Suite struct PcapReaderTests {
    func readAll(
        _ url: URL
    ) throws -> (
        packets: [(ts: Timestamp, len: Int, wire: UInt32, iface: UInt32, link: UInt32, sport: UInt16)],
        reader: CaptureFileReader
    ) {
        let r = try CaptureFileReader(path: url.path)
        var out: [(Timestamp, Int, UInt32, UInt32, UInt32, UInt16)] = []
        while let p = try r.next() {
            let sport = p.bytes.count >= 36 ? UInt16(p.bytes[34]) << 8 | UInt16(p.bytes[35]) : 0
            out.append((p.timestamp, p.bytes.count, p.wireLength, p.interfaceID, p.link.rawValue, sport))
        }
        return (out.map { (ts: $0.0, len: $0.1, wire: $0.2, iface: $0.3, link: $0.4, sport: $0.5) }, r)
    }

    @Test(arguments: [false, true])
    func microsecondsInBothByteOrders(bigEndian: Bool) throws {
        let data = CaptureBytes.pcap(bigEndian: bigEndian, records: [
            (1_700_000_000, 123_456, udpFrame(sport: 1), nil),
            (1_700_000_001, 999_999, udpFrame(sport: 2), 1514),
        ])
        let (pk, r) = try readAll(try CaptureBytes(data: data).write())
        #expect(r.format == .pcap)
        #expect(pk.count == 2)
        #expect(pk[0].ts == Timestamp(seconds: 1_700_000_000, nanoseconds: 123_456_000))
        #expect(pk[1].ts.epochString == "1700000001.999999000")
        #expect(pk[1].wire == 1514 && pk[1].len == 60)
        #expect(pk.map(\.sport) == [1, 2])
    }

    @Test func nanosecondMagic() throws {
        let data = CaptureBytes.pcap(magic: 0xA1B2_3C4D, records: [(5, 123_456_789, udpFrame(sport: 9), nil)])
        let (pk, _) = try readAll(try CaptureBytes(data: data).write())
        #expect(pk[0].ts.epochString == "5.123456789")
    }

    @Test func secondsAreUnsignedUpTo2106() throws {
        let data = CaptureBytes.pcap(records: [(0xFFFF_FFFF, 0, udpFrame(sport: 1), nil)])
        let (pk, _) = try readAll(try CaptureBytes(data: data).write())
        #expect(pk[0].ts.seconds == 4_294_967_295)
    }

    @Test func otherVersionIsReadWithAWarning() throws {
        let data = CaptureBytes.pcap(minor: 5, records: [(1, 0, udpFrame(sport: 1), nil)])
        let (pk, r) = try readAll(try CaptureBytes(data: data).write())
        #expect(pk.count == 1)
        #expect(r.warnings.contains { $0.contains("pcap version 2.5") })
    }

    @Test func anySnaplenAndLinkType() throws {
        let data = CaptureBytes.pcap(link: 113, snaplen: 0xFFFF_FFFF, records: [(1, 0, [1, 2, 3], 1000)])
        let (pk, r) = try readAll(try CaptureBytes(data: data).write())
        #expect(r.linkType == LinkType.linuxSLL)
        #expect(pk.first?.link == 113 && pk.first?.len == 3)
    }

    @Test func truncatedLastRecordKeepsEarlierPacketsAndSaysWhere() throws {
        var data = CaptureBytes.pcap(records: [
            (1, 0, udpFrame(sport: 1), nil), (2, 0, udpFrame(sport: 2), nil), (3, 0, udpFrame(sport: 3), nil)
        ])
        data.removeLast(20)
        let (pk, r) = try readAll(try CaptureBytes(data: data).write())
        #expect(pk.map(\.sport) == [1, 2])
        #expect(r.warnings == ["file ends inside packet 3: 40 of 60 bytes"])
    }

    @Test func truncatedRecordHeader() throws {
        var data = CaptureBytes.pcap(records: [(1, 0, udpFrame(sport: 1), nil), (2, 0, udpFrame(sport: 2), nil)])
        data.removeLast(60 + 10)
        let (pk, r) = try readAll(try CaptureBytes(data: data).write())
        #expect(pk.count == 1)
        #expect(r.warnings == ["file ends inside the header of packet 2: 6 of 16 bytes"])
    }

    @Test func hugeCaplenIsCorruptNotAnAllocation() throws {
        var c = CaptureBytes()
        c.data = CaptureBytes.pcap(records: [(1, 0, udpFrame(sport: 1), nil)])
        c.u32(2); c.u32(0); c.u32(0xFFFF_FFF0); c.u32(0xFFFF_FFF0)
        c.bytes([1, 2, 3])
        let r = try CaptureFileReader(path: try c.write().path)
        #expect(try r.next() != nil)
        #expect(throws: CaptureFileError.self) { _ = try r.next() }
    }

    @Test func notACaptureFileAndEmptyFile() throws {
        let text = try CaptureBytes(data: Data("hello world".utf8)).write()
        #expect(throws: CaptureFileError.self) { _ = try CaptureFileReader(path: text.path) }
        let empty = try CaptureBytes(data: Data()).write()
        #expect(throws: CaptureFileError.empty(path: empty.path)) { _ = try CaptureFileReader(path: empty.path) }
        #expect(throws: CaptureFileError.self) { _ = try CaptureFileReader(path: "/nonexistent/file.pcap") }
    }
}

@Suite struct PcapngReaderTests {
    func readAll(_ c: CaptureBytes) throws -> ([RawSummary], CaptureFileReader) {
        let r = try CaptureFileReader(path: try c.write().path)
        var out: [RawSummary] = []
        while let p = try r.next() {
            let sport = p.bytes.count >= 36 ? UInt16(p.bytes[34]) << 8 | UInt16(p.bytes[35]) : 0
            out.append(
                RawSummary(
                    ts: p.timestamp, len: p.bytes.count, wire: p.wireLength, iface: p.interfaceID,
                    link: p.link.rawValue, sport: sport))
        }
        return (out, r)
    }

    struct RawSummary: Equatable {
        var ts: Timestamp, len: Int, wire: UInt32, iface: UInt32, link: UInt32, sport: UInt16
    }

    @Test(arguments: [false, true])
    func sectionInBothByteOrdersWithEPB(bigEndian: Bool) throws {
        var c = CaptureBytes(bigEndian: bigEndian)
        c.sectionHeader()
        c.interface(link: 1)
        c.enhancedPacket(interface: 0, ticks: 1_700_000_000_123_456, bytes: udpFrame(sport: 7))
        let (pk, r) = try readAll(c)
        #expect(r.format == .pcapng)
        #expect(pk.count == 1)
        #expect(pk[0].ts.epochString == "1700000000.123456000")  // default resolution: microseconds
        #expect(pk[0].sport == 7)
    }

    @Test func tsresolDecimalAndPowerOfTwo() throws {
        var c = CaptureBytes()
        c.sectionHeader()
        c.interface(link: 1, tsresol: 9)                // 10^-9
        c.interface(link: 1, tsresol: 0x80 | 10)        // 2^-10
        c.enhancedPacket(interface: 0, ticks: 1_000_000_000 * 3 + 7, bytes: udpFrame(sport: 1))
        c.enhancedPacket(interface: 1, ticks: 1024 * 5 + 512, bytes: udpFrame(sport: 2))  // 5.5 s
        let (pk, _) = try readAll(c)
        #expect(pk[0].ts.epochString == "3.000000007")
        #expect(pk[1].ts.epochString == "5.500000000")
        #expect(pk.map(\.iface) == [0, 1])
    }

    @Test func tsoffsetAddsSeconds() throws {
        var c = CaptureBytes()
        c.sectionHeader()
        c.interface(link: 1, tsresol: 6, tsoffset: 1_000_000_000)
        c.enhancedPacket(interface: 0, ticks: 2_000_000, bytes: udpFrame(sport: 1))
        let (pk, _) = try readAll(c)
        #expect(pk[0].ts.epochString == "1000000002.000000000")
    }

    @Test func severalSectionsWithDifferentByteOrdersAndInterfaces() throws {
        var a = CaptureBytes()
        a.sectionHeader()
        a.interface(link: 1)
        a.enhancedPacket(interface: 0, ticks: 1, bytes: udpFrame(sport: 1))
        var b = CaptureBytes(bigEndian: true)
        b.sectionHeader()
        b.interface(link: 101)
        b.interface(link: 1)
        b.enhancedPacket(interface: 1, ticks: 2, bytes: udpFrame(sport: 2))
        b.enhancedPacket(interface: 0, ticks: 3, bytes: [0x45, 0, 0, 20])
        var whole = CaptureBytes()
        whole.data = a.data + b.data
        let (pk, r) = try readAll(whole)
        #expect(pk.map(\.link) == [1, 1, 101])
        #expect(pk[1].sport == 2)
        #expect(r.sectionCount == 2)
    }

    @Test func simpleAndObsoletePacketBlocks() throws {
        var c = CaptureBytes()
        c.sectionHeader()
        c.interface(link: 1, snaplen: 50)
        c.simplePacket(bytes: udpFrame(sport: 3), wire: 60)
        c.obsoletePacket(interface: 0, ticks: 42, bytes: udpFrame(sport: 4))
        let (pk, _) = try readAll(c)
        #expect(pk.count == 2)
        #expect(pk[0].len == 50 && pk[0].wire == 60, "SPB caplen is limited by the snaplen")
        #expect(pk[1].sport == 4 && pk[1].ts == Timestamp(seconds: 0, nanoseconds: 42_000))
    }

    @Test func unknownStatisticsNameResolutionAndSecretsBlocksAreSkipped() throws {
        var c = CaptureBytes()
        c.sectionHeader()
        c.interface(link: 1)
        c.opaque(type: 4)           // NRB
        c.enhancedPacket(interface: 0, ticks: 1, bytes: udpFrame(sport: 1))
        c.opaque(type: 5, size: 24) // ISB
        c.opaque(type: 10)          // DSB
        c.opaque(type: 0x0000_0BAD) // custom
        c.opaque(type: 0x7777)      // unknown
        c.enhancedPacket(interface: 0, ticks: 2, bytes: udpFrame(sport: 2))
        let (pk, r) = try readAll(c)
        #expect(pk.map(\.sport) == [1, 2])
        #expect(r.warnings.isEmpty)
    }

    @Test func truncatedLastBlockKeepsEarlierPackets() throws {
        var c = CaptureBytes()
        c.sectionHeader()
        c.interface(link: 1)
        c.enhancedPacket(interface: 0, ticks: 1, bytes: udpFrame(sport: 1))
        c.enhancedPacket(interface: 0, ticks: 2, bytes: udpFrame(sport: 2))
        c.data.removeLast(10)
        let (pk, r) = try readAll(c)
        #expect(pk.map(\.sport) == [1])
        #expect(r.warnings == ["file ends inside packet 2: 82 of 92 bytes"])
    }

    @Test func hugeBlockLengthIsCorruptNotAnAllocation() throws {
        var c = CaptureBytes()
        c.sectionHeader()
        c.interface(link: 1)
        c.u32(6); c.u32(0xFFFF_FFF0); c.bytes([1, 2, 3, 4])
        let r = try CaptureFileReader(path: try c.write().path)
        #expect(throws: CaptureFileError.self) { _ = try r.next() }
    }

    @Test func packetNamingAnUndescribedInterfaceIsKeptWithUnknownLink() throws {
        var c = CaptureBytes()
        c.sectionHeader()
        c.interface(link: 1)
        c.enhancedPacket(interface: 5, ticks: 1, bytes: udpFrame(sport: 1))
        let (pk, r) = try readAll(c)
        #expect(pk.count == 1 && pk[0].link == 0xFFFF)
        #expect(r.warnings.first?.contains("interface 5") == true)
    }

    @Test func standardInputIsReadAsAStream() throws {
        // A FIFO behaves like a pipe: no size, no mmap, reads in chunks.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sniff-fifo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let fifo = dir.appendingPathComponent("pipe").path
        #expect(mkfifo(fifo, 0o600) == 0)
        var c = CaptureBytes()
        c.sectionHeader()
        c.interface(link: 1)
        for i in 0..<2000 { c.enhancedPacket(interface: 0, ticks: UInt64(i), bytes: udpFrame(sport: UInt16(i))) }
        let data = c.data
        let writer = Thread {
            if let h = FileHandle(forWritingAtPath: fifo) {
                // Several writes, so the reader sees the stream in pieces.
                var off = 0
                while off < data.count {
                    let n = min(7919, data.count - off)
                    h.write(data.subdata(in: off..<(off + n)))
                    off += n
                }
                try? h.close()
            }
        }
        writer.start()
        let r = try CaptureFileReader(path: fifo)
        var n = 0
        var last: UInt16 = 0
        while let p = try r.next() {
            last = UInt16(p.bytes[34]) << 8 | UInt16(p.bytes[35])
            n += 1
        }
        #expect(n == 2000 && last == 1999)
        #expect(r.fileSize == nil)
    }
}

@Suite struct CaptureFileWriterTests {
    @Test(arguments: ["out.pcapng", "out.pcap"])
    func writeThenReadBack(name: String) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sniff-w-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent(name).path
        let w = try CaptureFileWriter(path: path, interfaceName: "test0")
        for i in 0..<10 {
            let f = udpFrame(sport: UInt16(i))
            try f.withUnsafeBytes { b in
                try w.write(RawPacket(bytes: b, timestamp: Timestamp(seconds: 100 + Int64(i), nanoseconds: 123_456_789),
                                      wireLength: 60, interfaceID: 0, link: .ethernet))
            }
        }
        try w.close()
        let r = try CaptureFileReader(path: path)
        var n = 0
        while let p = try r.next() {
            #expect(p.timestamp == Timestamp(seconds: 100 + Int64(n), nanoseconds: 123_456_789), "nanoseconds survive")
            #expect(UInt16(p.bytes[35]) == UInt16(n))
            n += 1
        }
        #expect(n == 10)
        #expect(r.format == (name.hasSuffix(".pcap") ? .pcap : .pcapng))
    }

    @Test func pcapRefusesASecondLinkType() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mixed-\(UUID().uuidString).pcap").path
        let w = try CaptureFileWriter(path: path)
        let f = udpFrame(sport: 1)
        try f.withUnsafeBytes { b in
            try w.write(RawPacket(bytes: b, timestamp: .zero, wireLength: 60, interfaceID: 0, link: .ethernet))
            #expect(throws: (any Error).self) {
                try w.write(RawPacket(bytes: b, timestamp: .zero, wireLength: 60, interfaceID: 0, link: .raw))
            }
        }
        try w.close()
    }
}
