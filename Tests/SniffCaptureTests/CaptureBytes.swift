import Foundation
import SniffCore
import SniffTestSupport

/// Builds capture files byte by byte for reader tests, in either byte order, so that
/// every block type and option can be exercised without a recorder that writes it.
struct CaptureBytes {
    var data = Data()
    var bigEndian = false

    mutating func u8(_ v: UInt8) { data.append(v) }
    mutating func u16(_ v: UInt16) {
        withUnsafeBytes(of: bigEndian ? v.bigEndian : v.littleEndian) { data.append(contentsOf: $0) }
    }
    mutating func u32(_ v: UInt32) {
        withUnsafeBytes(of: bigEndian ? v.bigEndian : v.littleEndian) { data.append(contentsOf: $0) }
    }
    mutating func bytes(_ b: [UInt8]) { data.append(contentsOf: b) }
    mutating func pad() { while data.count % 4 != 0 { data.append(0) } }

    // MARK: pcap

    static func pcap(magic: UInt32 = 0xA1B2_C3D4, bigEndian: Bool = false, major: UInt16 = 2, minor: UInt16 = 4,
                     link: UInt32 = 1, snaplen: UInt32 = 65535,
                     records: [(sec: UInt32, frac: UInt32, bytes: [UInt8], wire: UInt32?)]) -> Data {
        var c = CaptureBytes(bigEndian: bigEndian)
        c.u32(magic); c.u16(major); c.u16(minor); c.u32(0); c.u32(0); c.u32(snaplen); c.u32(link)
        for r in records {
            c.u32(r.sec); c.u32(r.frac); c.u32(UInt32(r.bytes.count)); c.u32(r.wire ?? UInt32(r.bytes.count))
            c.bytes(r.bytes)
        }
        return c.data
    }

    // MARK: pcapng

    mutating func block(_ type: UInt32, _ body: (inout CaptureBytes) -> Void) {
        var inner = CaptureBytes(bigEndian: bigEndian)
        body(&inner)
        inner.pad()
        let total = UInt32(12 + inner.data.count)
        u32(type); u32(total)
        data.append(inner.data)
        u32(total)
    }

    mutating func sectionHeader() {
        block(0x0A0D_0D0A) { b in
            b.u32(0x1A2B_3C4D); b.u16(1); b.u16(0)
            b.u32(0xFFFF_FFFF); b.u32(0xFFFF_FFFF)
        }
    }

    /// An IDB with optional if_tsresol and if_tsoffset options.
    mutating func interface(
        link: UInt16, snaplen: UInt32 = 0, tsresol: UInt8? = nil, tsoffset: Int64? = nil, name: String? = nil
    ) {
        block(1) { b in
            b.u16(link); b.u16(0); b.u32(snaplen)
            if let name {
                b.u16(2); b.u16(UInt16(name.utf8.count)); b.bytes(Array(name.utf8)); b.pad()
            }
            if let tsresol {
                b.u16(9); b.u16(1); b.u8(tsresol); b.pad()
            }
            if let tsoffset {
                b.u16(14); b.u16(8)
                let v = UInt64(bitPattern: tsoffset)
                b.u32(b.bigEndian ? UInt32(v >> 32) : UInt32(truncatingIfNeeded: v))
                b.u32(b.bigEndian ? UInt32(truncatingIfNeeded: v) : UInt32(v >> 32))
            }
            if name != nil || tsresol != nil || tsoffset != nil { b.u16(0); b.u16(0) }
        }
    }

    mutating func enhancedPacket(interface: UInt32, ticks: UInt64, bytes: [UInt8], wire: UInt32? = nil) {
        block(6) { b in
            b.u32(interface); b.u32(UInt32(ticks >> 32)); b.u32(UInt32(truncatingIfNeeded: ticks))
            b.u32(UInt32(bytes.count)); b.u32(wire ?? UInt32(bytes.count))
            b.bytes(bytes)
        }
    }

    mutating func simplePacket(bytes: [UInt8], wire: UInt32? = nil) {
        block(3) { b in
            b.u32(wire ?? UInt32(bytes.count))
            b.bytes(bytes)
        }
    }

    mutating func obsoletePacket(interface: UInt16, ticks: UInt64, bytes: [UInt8]) {
        block(2) { b in
            b.u16(interface); b.u16(0); b.u32(UInt32(ticks >> 32)); b.u32(UInt32(truncatingIfNeeded: ticks))
            b.u32(UInt32(bytes.count)); b.u32(UInt32(bytes.count))
            b.bytes(bytes)
        }
    }

    /// A block of a type the reader must skip (ISB 5, NRB 4, DSB 10, custom 0xBAD).
    mutating func opaque(type: UInt32, size: Int = 16) {
        block(type) { b in b.bytes([UInt8](repeating: 0x5A, count: size)) }
    }

    func write() throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("sniff-cap-\(UUID().uuidString)")
        try data.write(to: u)
        return u
    }
}

/// A 60-byte Ethernet/IPv4/UDP frame whose UDP source port tells frames apart.
func udpFrame(sport: UInt16) -> [UInt8] { Frames.udp([1, 2, 3, 4], sport: sport, dport: 53, minimumLength: 60) }
