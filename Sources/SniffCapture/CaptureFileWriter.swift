import SniffCore
#if canImport(Glibc)
import Glibc
#endif

/// Writes packets to a pcapng file (default) or a classic pcap (when the name ends in
/// `.pcap`), both with nanosecond timestamps.
///
/// Records are whole in the buffer before they reach the file, and the buffer is
/// flushed on `close()`; SIGINT/SIGTERM end the capture loop normally so close runs,
/// and a file cut by a crash still ends on a record boundary up to the last flush.
public final class CaptureFileWriter {
    public enum Format: Sendable { case pcap, pcapng }

    public let path: String
    public let format: Format
    private let fd: Int32
    private var buffer = ByteSink(capacity: 1 << 20)
    /// pcapng interface ids assigned so far, by (input interface, link type).
    private var interfaceIDs: [UInt64: UInt32] = [:]
    private let snaplen: UInt32
    private let interfaceName: String?
    private var pcapLink: LinkType?
    public private(set) var bytesWritten: Int = 0
    public private(set) var packetsWritten: UInt64 = 0

    public static func format(forPath path: String) -> Format {
        path.lowercased().hasSuffix(".pcap") ? .pcap : .pcapng
    }

    /// With `link` known (live capture), the headers are written at once, so that even
    /// a capture that sees no packet leaves a valid file.
    public init(
        path: String, format: Format? = nil, snaplen: UInt32 = 262_144, interfaceName: String? = nil,
        link: LinkType? = nil
    ) throws {
        self.path = path
        self.format = format ?? CaptureFileWriter.format(forPath: path)
        self.snaplen = snaplen
        self.interfaceName = interfaceName
        let f = path == "-" ? dup(STDOUT_FILENO) : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard f >= 0 else {
            throw RuntimeFailure("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        fd = f
        if self.format == .pcapng { writeSectionHeader() }
        if let link {
            switch self.format {
            case .pcap:
                pcapLink = link
                writePcapHeader(link)
            case .pcapng:
                interfaceIDs[UInt64(link.rawValue)] = 0
                writeInterface(link: link)
            }
        }
    }

    private func writePcapHeader(_ link: LinkType) {
        u32(0xA1B2_3C4D); u16(2); u16(4); u32(0); u32(0); u32(snaplen); u32(link.rawValue)
    }

    deinit { try? close() }

    private var closed = false

    // MARK: encoding helpers (host order: readers detect it from the magic)

    private func u16(_ v: UInt16) { withUnsafeBytes(of: v) { buffer.append(bytes: $0) } }
    private func u32(_ v: UInt32) { withUnsafeBytes(of: v) { buffer.append(bytes: $0) } }
    private func pad(_ n: Int) { for _ in 0..<((4 - n % 4) % 4) { buffer.append(0) } }

    private func option(_ code: UInt16, _ bytes: [UInt8]) {
        u16(code); u16(UInt16(bytes.count))
        buffer.bytes.append(contentsOf: bytes)
        pad(bytes.count)
    }

    private func writeSectionHeader() {
        let app = Array("Sniff \(SniffBuild.version)".utf8)
        let optLen = 4 + app.count + (4 - app.count % 4) % 4 + 4
        let total = 28 + optLen
        u32(0x0A0D_0D0A); u32(UInt32(total)); u32(0x1A2B_3C4D); u16(1); u16(0)
        u32(0xFFFF_FFFF); u32(0xFFFF_FFFF)  // section length unknown
        option(4, app)                          // shb_userappl
        u32(0)                                  // opt_endofopt
        u32(UInt32(total))
    }

    private func writeInterface(link: LinkType) {
        var opts: [(UInt16, [UInt8])] = [(9, [9])]  // if_tsresol: nanoseconds
        if let name = interfaceName { opts.append((2, Array(name.utf8))) }
        var optLen = 4
        for (_, b) in opts { optLen += 4 + b.count + (4 - b.count % 4) % 4 }
        let total = 20 + optLen
        u32(1); u32(UInt32(total)); u16(UInt16(truncatingIfNeeded: link.rawValue)); u16(0); u32(snaplen)
        for (c, b) in opts { option(c, b) }
        u32(0)
        u32(UInt32(total))
    }

    /// Appends one packet. For pcap, every packet must share the first one's link type.
    public func write(_ p: RawPacket) throws {
        let ns = UInt64(bitPattern: p.timestamp.totalNanoseconds)
        let caplen = p.bytes.count
        switch format {
        case .pcap:
            if pcapLink == nil {
                pcapLink = p.link
                writePcapHeader(p.link)
            } else if pcapLink != p.link {
                throw RuntimeFailure("""
                    cannot write \(path): a pcap file holds one link type (\(pcapLink!.name)), and this packet is \
                    \(p.link.name); use a .pcapng name
                    """)
            }
            u32(UInt32(truncatingIfNeeded: p.timestamp.seconds)); u32(p.timestamp.nanoseconds)
            u32(UInt32(caplen)); u32(p.wireLength)
            buffer.append(bytes: p.bytes)
        case .pcapng:
            let key = UInt64(p.interfaceID) << 32 | UInt64(p.link.rawValue)
            var id = interfaceIDs[key]
            if id == nil {
                id = UInt32(interfaceIDs.count)
                interfaceIDs[key] = id
                writeInterface(link: p.link)
            }
            let total = 32 + caplen + (4 - caplen % 4) % 4
            u32(6); u32(UInt32(total)); u32(id!)
            u32(UInt32(truncatingIfNeeded: ns >> 32)); u32(UInt32(truncatingIfNeeded: ns))
            u32(UInt32(caplen)); u32(p.wireLength)
            buffer.append(bytes: p.bytes)
            pad(caplen)
            u32(UInt32(total))
        }
        packetsWritten &+= 1
        if buffer.count >= 1 << 20 { try flush() }
    }

    public func flush() throws {
        bytesWritten += buffer.count
        if !buffer.flush(to: fd) {
            throw RuntimeFailure("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Bytes in the file plus those still buffered.
    public var size: Int { bytesWritten + buffer.count }

    public func close() throws {
        guard !closed else { return }
        closed = true
        defer { Glibc.close(fd) }
        try flush()
    }
}

/// Build facts other modules print (the pcapng writer names its application).
public enum SniffBuild {
    public static let version = "0.1.0"
}

/// tcpdump's -w rotation: a new file every `seconds` (-G), or when the file passes
/// `megabytes` (-C, in units of 1,000,000 bytes as tcpdump counts), keeping at most
/// `maxFiles` (-W) by reusing names in a ring.
public final class RotatingCaptureWriter {
    public let basePath: String
    public let rotateSeconds: Int?
    public let rotateMegabytes: Int?
    public let maxFiles: Int?
    private let snaplen: UInt32
    private let interfaceName: String?
    private let link: LinkType?
    private var current: CaptureFileWriter?
    private var fileIndex = 0
    private var openedAt: Int64 = 0
    public private(set) var filesOpened: [String] = []

    public init(
        path: String, rotateSeconds: Int? = nil, rotateMegabytes: Int? = nil, maxFiles: Int? = nil,
        snaplen: UInt32 = 262_144, interfaceName: String? = nil, link: LinkType? = nil, startTime: Int64? = nil
    ) throws {
        basePath = path
        self.link = link
        self.rotateSeconds = rotateSeconds
        self.rotateMegabytes = rotateMegabytes
        self.maxFiles = maxFiles
        self.snaplen = snaplen
        self.interfaceName = interfaceName
        if let startTime { try open(at: startTime) }
    }

    /// The name of file number `index` (tcpdump's scheme): with -W, a zero-padded
    /// suffix on every file; otherwise the first file has no suffix; with -G and a
    /// strftime pattern in the name, the pattern is expanded at the rotation time.
    func name(index: Int, time: Int64) -> String {
        var base = basePath
        if rotateSeconds != nil && base.contains("%") {
            var t = time_t(time)
            var tmv = tm()
            gmtime_r(&t, &tmv)
            var out = [CChar](repeating: 0, count: 4096)
            let n = strftime(&out, out.count, base, &tmv)
            if n > 0 { base = String(nulTerminated: out) }
        }
        if let maxFiles {
            let width = String(max(0, maxFiles - 1)).count
            let num = String(index)
            return base + String(repeating: "0", count: max(0, width - num.count)) + num
        }
        // Without -W, the first file keeps the name and later ones get a counter (a -G
        // name with a strftime pattern is already unique).
        if index > 0 && (rotateMegabytes != nil || !base.contains("%")) && base == basePath {
            return base + String(index)
        }
        return base
    }

    private func open(at time: Int64) throws {
        try current?.close()
        let n = name(index: fileIndex, time: time)
        current = try CaptureFileWriter(path: n, format: CaptureFileWriter.format(forPath: basePath), snaplen: snaplen,
                                        interfaceName: interfaceName, link: link)
        filesOpened.append(n)
        openedAt = time
        fileIndex += 1
        if let maxFiles, fileIndex >= maxFiles { fileIndex = 0 }
    }

    public func write(_ p: RawPacket) throws {
        let now = p.timestamp.seconds
        if current == nil {
            try open(at: now)
        } else if let g = rotateSeconds, now - openedAt >= Int64(g) {
            try open(at: now)
        } else if let c = rotateMegabytes, current!.size >= c * 1_000_000 {
            try open(at: now)
        }
        try current!.write(p)
    }

    public func flush() throws { try current?.flush() }

    public func close() throws {
        try current?.close()
        current = nil
    }
}
