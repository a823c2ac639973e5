import CPrefetch
import SniffCore

/// Reads pcap and pcapng files (or standard input with path "-"), detecting the
/// format from the first four bytes.
///
/// `next()` returns borrowed frames and allocates nothing per packet. A file that ends
/// inside a record is not an error: the frames before it are returned and `warnings`
/// says where it ended. A length field that cannot be right stops reading with
/// `CaptureFileError.corrupt` rather than allocating what it claims.
public final class CaptureFileReader {
    public enum Format: String, Sendable { case pcap, pcapng }

    /// Larger records are treated as corrupt. libpcap's own limit is 256 KiB for most
    /// link types; 64 MiB leaves room for odd writers without trusting a 4 GB claim.
    public static let maximumRecordLength = 64 << 20

    public let path: String
    public let format: Format
    public private(set) var interfaces: [CaptureInterface] = []
    /// Warnings for the user (version oddities, truncation); each reported once.
    public private(set) var warnings: [String] = []
    public private(set) var packetsRead: UInt64 = 0
    public private(set) var sectionCount = 0
    public private(set) var versionMajor: UInt16 = 0
    public private(set) var versionMinor: UInt16 = 0

    private let source: ByteSource
    private var swapped = false
    // pcap specifics
    private var pcapRecordHeaderLength = 16
    private var pcapInterface = CaptureInterface(link: .ethernet, snaplen: 0)
    private var finished = false
    /// The interface of the last packet `next()` returned (pcapng), for `upcoming()`.
    private var lastInterfaceID: UInt32 = 0

    public var bytesRead: Int { source.offset }
    public var fileSize: Int? { source.totalSize }

    /// The link type of the first interface (pcap has exactly one).
    public var linkType: LinkType? { interfaces.first?.link }

    public init(path: String) throws {
        self.path = path
        source = try ByteSource(path: path)
        guard let head = try source.peek(4) else {
            if source.available == 0 { throw CaptureFileError.empty(path: path) }
            throw CaptureFileError.notACaptureFile(path: path, magic: 0)
        }
        let magicLE = head.loadUnaligned(as: UInt32.self)
        let magic = UInt32(littleEndian: magicLE)
        switch magic {
        case 0xA1B2_C3D4, 0xD4C3_B2A1, 0xA1B2_3C4D, 0x4D3C_B2A1, 0xA1B2_CD34, 0x34CD_B2A1:
            format = .pcap
            try readPcapHeader(magic: magic)
        case 0x0A0D_0D0A:
            format = .pcapng
            // Sections are read as they come; the first must be there now.
            guard try readPcapngBlockIfSection() else {
                throw CaptureFileError.corrupt(path: path, detail: "pcapng section header block is incomplete")
            }
        default:
            throw CaptureFileError.notACaptureFile(path: path, magic: UInt32(bigEndian: magicLE))
        }
    }

    // MARK: byte order helpers

    @inline(__always)
    private func u16(_ b: UnsafeRawBufferPointer, _ o: Int) -> UInt16 {
        let v = b.loadUnaligned(fromByteOffset: o, as: UInt16.self)
        return swapped ? v.byteSwapped : v
    }

    @inline(__always)
    private func u32(_ b: UnsafeRawBufferPointer, _ o: Int) -> UInt32 {
        let v = b.loadUnaligned(fromByteOffset: o, as: UInt32.self)
        return swapped ? v.byteSwapped : v
    }

    private func warnOnce(_ w: String) {
        if !warnings.contains(w) { warnings.append(w) }
    }

    // MARK: pcap

    private func readPcapHeader(magic: UInt32) throws {
        // Written in the opposite byte order if the magic reads reversed on this host.
        switch magic {
        case 0xD4C3_B2A1, 0x4D3C_B2A1, 0x34CD_B2A1: swapped = true
        default: swapped = false
        }
        guard let h = try source.peek(24) else {
            throw CaptureFileError.corrupt(
                path: path, detail: "pcap file header is incomplete (\(source.available) of 24 bytes)")
        }
        versionMajor = u16(h, 4)
        versionMinor = u16(h, 6)
        let snaplen = u32(h, 16)
        let network = u32(h, 20)
        let canonical = swapped ? magic.byteSwapped : magic
        var ups: UInt64 = 1_000_000
        if canonical == 0xA1B2_3C4D { ups = 1_000_000_000 }
        if canonical == 0xA1B2_CD34 { pcapRecordHeaderLength = 24 }  // Kuznetsov's patched format
        if versionMajor != 2 || versionMinor != 4 {
            if versionMajor != 2 {
                throw CaptureFileError.unsupportedVersion(
                    path: path, format: "pcap", major: versionMajor, minor: versionMinor)
            }
            warnOnce("pcap version \(versionMajor).\(versionMinor), expected 2.4; reading the records anyway")
        }
        // The upper bits of the link-type field carry FCS information (pcap spec).
        pcapInterface = CaptureInterface(link: LinkType(network & 0x03FF_FFFF), snaplen: snaplen, unitsPerSecond: ups)
        interfaces = [pcapInterface]
        source.advance(24)
    }

    @inline(__always)
    private func nextPcap() throws -> RawPacket? {
        let hl = pcapRecordHeaderLength
        guard let h = try source.peek(hl) else {
            let have = source.available
            if have > 0 {
                warnOnce("file ends inside the header of packet \(packetsRead + 1): \(have) of \(hl) bytes")
            }
            finished = true
            return nil
        }
        let sec = u32(h, 0)
        let frac = u32(h, 4)
        let caplen = Int(u32(h, 8))
        let wire = u32(h, 12)
        guard caplen <= CaptureFileReader.maximumRecordLength else {
            finished = true
            throw CaptureFileError.corrupt(
                path: path,
                detail: "packet \(packetsRead + 1) at offset \(source.offset) claims \(caplen) captured bytes")
        }
        guard let rec = try source.peek(hl + caplen) else {
            let have = max(0, source.available - hl)
            warnOnce("file ends inside packet \(packetsRead + 1): \(have) of \(caplen) bytes")
            finished = true
            return nil
        }
        // Seconds are unsigned in pcap (files run to 2106); a fraction at or past one
        // second is carried rather than rejected.
        let ups = pcapInterface.unitsPerSecond
        let ticks = UInt64(sec) &* ups &+ UInt64(frac)
        let ts = pcapInterface.timestamp(ticks: ticks)
        source.advance(hl + caplen)
        packetsRead &+= 1
        return RawPacket(bytes: UnsafeRawBufferPointer(rebasing: rec[hl...]), timestamp: ts,
                         wireLength: wire, interfaceID: 0, link: pcapInterface.link)
    }

    /// The frames of the next two records, as far as the bytes at hand hold them,
    /// without reading or consuming anything (nil past what is buffered): the file loop
    /// hands them to the flow table, which fetches the memory of their flows while the
    /// current packet is processed. Valid until the next call to `next()`.
    ///
    /// In pcapng, only Enhanced Packet Blocks of the interface the last packet came from
    /// are shown (the file loop reads them with that packet's link type); any other
    /// block ends the look ahead.
    public func upcoming() -> (next: UnsafeRawBufferPointer?, after: UnsafeRawBufferPointer?) {
        guard !finished else { return (nil, nil) }
        switch format {
        case .pcap: return upcomingPcap()
        case .pcapng: return upcomingPcapng()
        }
    }

    @inline(__always)
    private func upcomingPcap() -> (next: UnsafeRawBufferPointer?, after: UnsafeRawBufferPointer?) {
        let hl = pcapRecordHeaderLength
        guard let h1 = source.buffered(at: 0, count: hl) else { return (nil, nil) }
        let len1 = Int(u32(h1, 8))
        guard len1 <= CaptureFileReader.maximumRecordLength,
              let f1 = source.buffered(at: hl, count: len1) else { return (nil, nil) }
        guard let h2 = source.buffered(at: hl + len1, count: hl) else { return (f1, nil) }
        let len2 = Int(u32(h2, 8))
        guard len2 <= CaptureFileReader.maximumRecordLength else { return (f1, nil) }
        let f2 = source.buffered(at: 2 * hl + len1, count: len2)
        // The record after these two: its header and the frame's first headers, which
        // the next call reads. Frames of 1.5 KB leave the header of each record on a
        // line of its own that no hardware prefetcher sees coming.
        if f2 != nil, len2 > 64 { prefetchHeader(at: 2 * hl + len1 + len2) }
        return (f1, f2)
    }

    /// The header of the record after the two shown, and its frame's first headers,
    /// which the next call reads. Frames of 1.5 KB leave the header of each record on a
    /// line of its own that no hardware prefetcher sees coming.
    @inline(__always)
    private func prefetchHeader(at offset: Int) {
        guard let p = source.buffered(at: offset, count: 0)?.baseAddress else { return }
        sniff_prefetch_read(p)
        sniff_prefetch_read(p + 64)
    }

    @inline(__always)
    private func upcomingPcapng() -> (next: UnsafeRawBufferPointer?, after: UnsafeRawBufferPointer?) {
        guard let b1 = upcomingPacketBlock(at: 0) else { return (nil, nil) }
        guard let b2 = upcomingPacketBlock(at: b1.total) else { return (b1.frame, nil) }
        if b2.frame.count > 64 { prefetchHeader(at: b1.total + b2.total) }
        return (b1.frame, b2.frame)
    }

    /// The frame and length of the Enhanced Packet Block `offset` bytes ahead, if the
    /// bytes at hand hold all of it and it is one that `nextPcapng` would return as is:
    /// lengths as it checks them, and the last packet's interface.
    @inline(__always)
    private func upcomingPacketBlock(at offset: Int) -> (frame: UnsafeRawBufferPointer, total: Int)? {
        guard let h = source.buffered(at: offset, count: 28) else { return nil }
        let rawType = h.loadUnaligned(fromByteOffset: 0, as: UInt32.self)
        guard (swapped ? rawType.byteSwapped : rawType) == 6, u32(h, 8) == lastInterfaceID else { return nil }
        let total = Int(u32(h, 4))
        let caplen = Int(u32(h, 20))
        guard total >= 32, total % 4 == 0, total <= CaptureFileReader.maximumRecordLength,
              28 + caplen <= total - 4, let blk = source.buffered(at: offset, count: total),
              u32(blk, total - 4) == UInt32(total)
        else { return nil }
        return source.buffered(at: offset + 28, count: caplen).map { ($0, total) }
    }

    // MARK: pcapng

    /// Reads one block if it is a section header; returns false at end of input.
    private func readPcapngBlockIfSection() throws -> Bool {
        guard let pre = try source.peek(12) else { return false }
        guard pre.loadUnaligned(fromByteOffset: 0, as: UInt32.self) == 0x0A0D_0D0A else { return false }
        let bom = pre.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
        switch bom {
        case 0x1A2B_3C4D: swapped = false
        case 0x4D3C_2B1A: swapped = true
        default:
            throw CaptureFileError.corrupt(
                path: path,
                detail:
                    "pcapng section header at offset \(source.offset) has byte-order magic 0x\(String(bom, radix: 16))")
        }
        let total = Int(u32(pre, 4))
        guard total >= 28, total % 4 == 0, total <= CaptureFileReader.maximumRecordLength else {
            throw CaptureFileError.corrupt(
                path: path, detail: "pcapng section header at offset \(source.offset) has length \(total)")
        }
        guard let blk = try source.peek(total) else {
            warnOnce("file ends inside a section header block: \(source.available) of \(total) bytes")
            finished = true
            return true
        }
        versionMajor = u16(blk, 12)
        versionMinor = u16(blk, 14)
        if versionMajor != 1 {
            throw CaptureFileError.unsupportedVersion(
                path: path, format: "pcapng", major: versionMajor, minor: versionMinor)
        }
        interfaces.removeAll(keepingCapacity: true)
        sectionCount += 1
        source.advance(total)
        return true
    }

    private func parseIDB(_ blk: UnsafeRawBufferPointer, total: Int) {
        let link = LinkType(UInt32(u16(blk, 8)))
        let snaplen = u32(blk, 12)
        var iface = CaptureInterface(link: link, snaplen: snaplen)
        // Options: code(2) length(2) value, padded to 4; end at opt_endofopt or block end.
        var o = 16
        let optEnd = total - 4
        while o + 4 <= optEnd {
            let code = u16(blk, o)
            let len = Int(u16(blk, o + 2))
            let v = o + 4
            if code == 0 || v + len > optEnd { break }
            switch code {
            case 2 where len > 0:  // if_name
                let nameBytes = UnsafeRawBufferPointer(rebasing: blk[v..<(v + len)])
                iface.name = String(decoding: nameBytes.prefix(while: { $0 != 0 }), as: UTF8.self)
            case 9 where len >= 1:  // if_tsresol
                let r = blk[v]
                let exp = Int(r & 0x7F)
                if r & 0x80 != 0 {
                    if exp < 64 {
                        iface.unitsPerSecond = UInt64(1) << UInt64(exp)
                    } else {
                        warnOnce(
                            "interface \(interfaces.count): if_tsresol 2^-\(exp) is out of range; using microseconds")
                    }
                } else {
                    if exp <= 19 {
                        var u: UInt64 = 1
                        for _ in 0..<exp { u &*= 10 }
                        iface.unitsPerSecond = u
                    } else {
                        warnOnce(
                            "interface \(interfaces.count): if_tsresol 10^-\(exp) is out of range; using microseconds")
                    }
                }
            case 14 where len == 8:  // if_tsoffset, signed seconds
                let raw = blk.loadUnaligned(fromByteOffset: v, as: UInt64.self)
                iface.offsetSeconds = Int64(bitPattern: swapped ? raw.byteSwapped : raw)
            default:
                break
            }
            o = v + ((len + 3) & ~3)
        }
        interfaces.append(iface)
    }

    private func nextPcapng() throws -> RawPacket? {
        while true {
            guard let pre = try source.peek(8) else {
                let have = source.available
                if have > 0 {
                    warnOnce("file ends inside a block header after packet \(packetsRead): \(have) of 8 bytes")
                }
                finished = true
                return nil
            }
            let rawType = pre.loadUnaligned(fromByteOffset: 0, as: UInt32.self)
            if rawType == 0x0A0D_0D0A {
                // A new section: byte order and interfaces start over.
                guard try readPcapngBlockIfSection() else { finished = true; return nil }
                if finished { return nil }
                continue
            }
            let type = swapped ? rawType.byteSwapped : rawType
            let total = Int(u32(pre, 4))
            guard total >= 12, total % 4 == 0, total <= CaptureFileReader.maximumRecordLength else {
                finished = true
                throw CaptureFileError.corrupt(
                    path: path,
                    detail: "block at offset \(source.offset) (after packet \(packetsRead)) has length \(total)")
            }
            guard let blk = try source.peek(total) else {
                let what =
                    (type == 6 || type == 3 || type == 2) ? "packet \(packetsRead + 1)" : "a block of type \(type)"
                warnOnce("file ends inside \(what): \(source.available) of \(total) bytes")
                finished = true
                return nil
            }
            if u32(blk, total - 4) != UInt32(total) {
                finished = true
                throw CaptureFileError.corrupt(
                    path: path,
                    detail:
                        "block at offset \(source.offset) has mismatched lengths \(total) and \(u32(blk, total - 4))")
            }
            switch type {
            case 1:  // Interface Description Block
                if total >= 20 { parseIDB(blk, total: total) }
                source.advance(total)
            case 6, 2:  // Enhanced Packet Block, obsolete Packet Block
                guard total >= 32 else {
                    finished = true
                    throw CaptureFileError.corrupt(
                        path: path, detail: "packet block at offset \(source.offset) is only \(total) bytes")
                }
                let ifid = type == 6 ? u32(blk, 8) : UInt32(u16(blk, 8))
                let tsHigh = u32(blk, 12)
                let tsLow = u32(blk, 16)
                let caplen = Int(u32(blk, 20))
                let wire = u32(blk, 24)
                guard 28 + caplen <= total - 4 else {
                    finished = true
                    throw CaptureFileError.corrupt(
                        path: path, detail: "packet \(packetsRead + 1) claims \(caplen) bytes in a block of \(total)")
                }
                let iface: CaptureInterface
                if Int(ifid) < interfaces.count {
                    iface = interfaces[Int(ifid)]
                } else {
                    warnOnce("""
                        packet \(packetsRead + 1) names interface \(ifid), but the section describes \
                        \(interfaces.count); its link type is unknown
                        """)
                    iface = CaptureInterface(link: LinkType(0xFFFF), snaplen: 0)
                }
                let ts = iface.timestamp(ticks: UInt64(tsHigh) << 32 | UInt64(tsLow))
                source.advance(total)
                packetsRead &+= 1
                lastInterfaceID = ifid
                return RawPacket(bytes: UnsafeRawBufferPointer(rebasing: blk[28..<(28 + caplen)]), timestamp: ts,
                                 wireLength: wire, interfaceID: ifid, link: iface.link)
            case 3:  // Simple Packet Block: interface 0, no timestamp
                guard total >= 16 else {
                    source.advance(total)
                    continue
                }
                let wire = u32(blk, 8)
                var caplen = min(Int(wire), total - 16)
                let iface = interfaces.first ?? CaptureInterface(link: LinkType(0xFFFF), snaplen: 0)
                if iface.snaplen > 0 { caplen = min(caplen, Int(iface.snaplen)) }
                source.advance(total)
                packetsRead &+= 1
                lastInterfaceID = 0
                return RawPacket(bytes: UnsafeRawBufferPointer(rebasing: blk[12..<(12 + caplen)]), timestamp: .zero,
                                 wireLength: wire, interfaceID: 0, link: iface.link)
            default:
                // ISB, NRB, DSB, custom and unknown blocks carry no packets.
                source.advance(total)
            }
        }
    }

    /// The next frame, or nil at the end of the input.
    @inline(__always)
    public func next() throws -> RawPacket? {
        if finished { return nil }
        switch format {
        case .pcap: return try nextPcap()
        case .pcapng: return try nextPcapng()
        }
    }
}
