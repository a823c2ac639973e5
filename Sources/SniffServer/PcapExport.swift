import SniffCore
import SniffStore

/// The file a pcap export writes, chosen before the first byte from what the matching
/// packets hold. One link type: a classic pcap with nanosecond timestamps (magic
/// 0xa1b23c4d), which every tool reads. Several link types (a pcapng capture of
/// Ethernet and loopback, say): a classic pcap cannot say so, so the export is a
/// pcapng with one interface per link type, in link type order.
public enum PcapLayout: Sendable, Equatable {
    case pcap(link: LinkType, snaplen: UInt32)
    case pcapng(links: [LinkType], snaplen: UInt32)

    /// Kept packets are never longer than this in Sniff's captures (its default -s).
    static let defaultSnaplen: UInt32 = 262_144

    public var fileExtension: String {
        if case .pcap = self { return "pcap" }
        return "pcapng"
    }

    public var contentType: String {
        if case .pcap = self { return "application/vnd.tcpdump.pcap" }
        return "application/x-pcapng"
    }

    /// The layout for the packets `summary` describes, or the reason there is none:
    /// packets stored without their bytes cannot be written, and leaving them out
    /// silently would hand over a capture with holes.
    public static func plan(_ summary: FrameSummary) throws(PcapUnavailable) -> PcapLayout {
        let missing = summary.withoutBytes
        if missing > 0 {
            throw PcapUnavailable(packets: summary.packets, withoutBytes: missing)
        }
        let snaplen = UInt32(clamping: max(Int64(defaultSnaplen), summary.links.map(\.maxCaplen).max() ?? 0))
        switch summary.links.count {
        case 0: return .pcap(link: .ethernet, snaplen: snaplen)
        case 1: return .pcap(link: summary.links[0].link, snaplen: snaplen)
        default: return .pcapng(links: summary.links.map(\.link), snaplen: snaplen)
        }
    }
}

/// Why the matching packets cannot be exported as pcap. The API answers 409 with
/// `message`; `sniff export` prints it.
public struct PcapUnavailable: Error, Sendable, Equatable {
    public var packets: Int64
    public var withoutBytes: Int64

    public var message: String {
        let which =
            withoutBytes == packets
            ? "the \(packets) packets that match were" : "\(withoutBytes) of the \(packets) packets that match were"
        return "\(which) stored without their bytes, so they cannot be written as pcap; "
            + "keep packet bytes with --store-raw when storing (sniff -r FILE --store-raw, sniff -i IFACE --store-raw), "
            + "or write a capture file while capturing with -w FILE; csv, xlsx and ndjson exports need no bytes"
    }
}

/// Writes kept packet bytes as a capture file, one page of frames at a time, so that
/// memory stays one page however many packets there are. Frames go oldest first, the
/// order capture files keep.
struct PcapStream {
    let layout: PcapLayout

    func write(_ export: PacketExport, output: (ByteSink) async throws -> Void) async throws -> Int {
        var s = ByteSink(capacity: 1 << 18)
        header(into: &s)
        try await output(s); s.removeAll()
        var q = PacketQuery(filter: export.query.filter, cursor: nil, limit: FramePage.pageSize)
        var n = 0
        while n < export.limit {
            q.limit = min(FramePage.pageSize, export.limit - n)
            let page = try await export.store.frames(q)
            if page.frames.isEmpty { break }
            page.bytes.withUnsafeBytes { all in
                for f in page.frames {
                    record(f, bytes: UnsafeRawBufferPointer(rebasing: all[f.offset..<(f.offset + f.count)]), into: &s)
                }
            }
            try await output(s); s.removeAll()
            n += page.frames.count
            guard let c = page.nextCursor else { break }
            q.cursor = c
        }
        return n
    }

    func header(into s: inout ByteSink) {
        switch layout {
        case .pcap(let link, let snaplen):
            PcapEncoding.u32(0xA1B2_3C4D, into: &s)  // nanosecond timestamps
            PcapEncoding.u16(2, into: &s); PcapEncoding.u16(4, into: &s)
            PcapEncoding.u32(0, into: &s); PcapEncoding.u32(0, into: &s)  // thiszone, sigfigs
            PcapEncoding.u32(snaplen, into: &s)
            PcapEncoding.u32(link.rawValue, into: &s)
        case .pcapng(let links, let snaplen):
            PcapEncoding.sectionHeader(into: &s)
            for l in links { PcapEncoding.interface(link: l, snaplen: snaplen, into: &s) }
        }
    }

    func record(_ f: FramePage.Frame, bytes: UnsafeRawBufferPointer, into s: inout ByteSink) {
        switch layout {
        case .pcap:
            let sec = f.ts >= 0 ? f.ts / 1_000_000_000 : (f.ts + 1) / 1_000_000_000 - 1
            let nsec = f.ts - sec * 1_000_000_000
            PcapEncoding.u32(UInt32(truncatingIfNeeded: sec), into: &s)
            PcapEncoding.u32(UInt32(truncatingIfNeeded: nsec), into: &s)
            PcapEncoding.u32(UInt32(bytes.count), into: &s)
            PcapEncoding.u32(max(f.wireLength, UInt32(bytes.count)), into: &s)
            s.append(bytes: bytes)
        case .pcapng(let links, _):
            // Every frame's link type is in the plan unless a capture wrote a new one
            // since; such a frame has no interface to name and is left out.
            guard let iface = links.firstIndex(of: f.link) else { return }
            PcapEncoding.enhancedPacket(
                interface: UInt32(iface), ts: f.ts, wireLength: f.wireLength, bytes: bytes, into: &s)
        }
    }
}

/// pcap and pcapng structures in little-endian (the byte order is the magic's).
enum PcapEncoding {
    static func u16(_ v: UInt16, into s: inout ByteSink) { s.append(UInt8(v & 0xFF)); s.append(UInt8(v >> 8)) }
    static func u32(_ v: UInt32, into s: inout ByteSink) {
        s.append(UInt8(v & 0xFF)); s.append(UInt8((v >> 8) & 0xFF)); s.append(UInt8((v >> 16) & 0xFF));
        s.append(UInt8(v >> 24))
    }
    static func pad(_ n: Int, into s: inout ByteSink) { for _ in 0..<((4 - n % 4) % 4) { s.append(0) } }

    /// Section header block: version 1.0, section length unknown (-1).
    static func sectionHeader(into s: inout ByteSink) {
        u32(0x0A0D_0D0A, into: &s); u32(28, into: &s)
        u32(0x1A2B_3C4D, into: &s)
        u16(1, into: &s); u16(0, into: &s)
        u32(0xFFFF_FFFF, into: &s); u32(0xFFFF_FFFF, into: &s)
        u32(28, into: &s)
    }

    /// Interface description block with if_tsresol = 9 (nanoseconds).
    static func interface(link: LinkType, snaplen: UInt32, into s: inout ByteSink) {
        let length: UInt32 = 20 + 8 + 4
        u32(1, into: &s); u32(length, into: &s)
        u16(UInt16(truncatingIfNeeded: link.rawValue), into: &s); u16(0, into: &s)
        u32(snaplen, into: &s)
        u16(9, into: &s); u16(1, into: &s); s.append(9); s.append(0); s.append(0); s.append(0)  // if_tsresol
        u32(0, into: &s)  // opt_endofopt
        u32(length, into: &s)
    }

    /// Enhanced packet block; the timestamp is nanoseconds since the epoch (unsigned:
    /// a time before 1970 cannot be written and becomes 0).
    static func enhancedPacket(
        interface: UInt32, ts: Int64, wireLength: UInt32, bytes: UnsafeRawBufferPointer, into s: inout ByteSink
    ) {
        let padded = (bytes.count + 3) & ~3
        let length = UInt32(32 + padded)
        let t = UInt64(max(0, ts))
        u32(6, into: &s); u32(length, into: &s)
        u32(interface, into: &s)
        u32(UInt32(t >> 32), into: &s); u32(UInt32(t & 0xFFFF_FFFF), into: &s)
        u32(UInt32(bytes.count), into: &s); u32(max(wireLength, UInt32(bytes.count)), into: &s)
        s.append(bytes: bytes)
        pad(bytes.count, into: &s)
        u32(length, into: &s)
    }
}
