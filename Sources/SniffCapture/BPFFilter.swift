import CPcap
import SniffCore

/// A tcpdump-style filter expression compiled by libpcap and applied with
/// pcap_offline_filter, one compiled program per link type (pcapng files can mix
/// link types across interfaces).
public final class BPFFilter {
    public struct CompileError: SniffError {
        public let expression: String
        public let linkType: LinkType
        public let message: String
        public var userMessage: String {
            "invalid filter expression '\(expression)' for link type \(linkType.name): \(message)"
        }
        public var exitCode: Int32 { 64 }
    }

    public let expression: String
    public let snaplen: Int32
    private var programs: [UInt32: UnsafeMutablePointer<bpf_program>] = [:]
    /// Link types for which the expression cannot compile; their packets never match.
    public private(set) var failedLinkTypes: [UInt32: String] = [:]
    private var header = pcap_pkthdr()

    public init(expression: String, snaplen: Int32 = 262_144) {
        self.expression = expression
        self.snaplen = snaplen
    }

    deinit {
        for (_, p) in programs {
            pcap_freecode(p)
            p.deallocate()
        }
    }

    /// Compiles for `link` now, so a bad expression is reported before any packet.
    public func compile(for link: LinkType) throws {
        if programs[link.rawValue] != nil { return }
        if let msg = failedLinkTypes[link.rawValue] {
            throw CompileError(expression: expression, linkType: link, message: msg)
        }
        guard let dead = pcap_open_dead(Int32(bitPattern: link.rawValue), snaplen) else {
            let msg = "libpcap cannot open a handle for this link type"
            failedLinkTypes[link.rawValue] = msg
            throw CompileError(expression: expression, linkType: link, message: msg)
        }
        defer { pcap_close(dead) }
        let prog = UnsafeMutablePointer<bpf_program>.allocate(capacity: 1)
        prog.initialize(to: bpf_program())
        if pcap_compile(dead, prog, expression, 1, PCAP_NETMASK_UNKNOWN) != 0 {
            let msg = String(cString: pcap_geterr(dead))
            prog.deallocate()
            failedLinkTypes[link.rawValue] = msg
            throw CompileError(expression: expression, linkType: link, message: msg)
        }
        programs[link.rawValue] = prog
    }

    /// True when the frame passes the filter. A link type the expression cannot be
    /// compiled for never matches (its failure is kept in `failedLinkTypes`).
    @inline(__always)
    public func matches(_ packet: RawPacket) -> Bool {
        var prog = programs[packet.link.rawValue]
        if prog == nil {
            if failedLinkTypes[packet.link.rawValue] != nil { return false }
            do { try compile(for: packet.link) } catch { return false }
            prog = programs[packet.link.rawValue]
        }
        header.caplen = UInt32(packet.bytes.count)
        header.len = packet.wireLength
        guard let base = packet.bytes.baseAddress else { return false }
        return pcap_offline_filter(prog!, &header, base.assumingMemoryBound(to: UInt8.self)) != 0
    }
}
