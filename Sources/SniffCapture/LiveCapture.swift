import CPcap
import SniffCore
#if canImport(Glibc)
import Glibc
#endif

/// Why a live capture could not start, with the fix in the user's face.
public enum LiveCaptureError: SniffError {
    case noSuchDevice(name: String, available: [String])
    case permissionDenied(name: String, detail: String)
    case interfaceDown(name: String)
    case noInterface
    case failed(name: String, detail: String)

    public var userMessage: String {
        switch self {
        case .noSuchDevice(let name, let available):
            return """
                no such interface '\(name)'. Available interfaces: \(available.joined(separator: ", ")) (sniff -D \
                lists them with their addresses)
                """
        case .permissionDenied(let name, _):
            return """
                cannot capture on \(name): permission denied. Run sniff as root, or grant it the capture capabilities \
                once: sudo setcap cap_net_raw,cap_net_admin=eip \(CommandLine.arguments.first ?? "sniff")
                """
        case .interfaceDown(let name):
            return "interface \(name) is down; bring it up with: ip link set dev \(name) up"
        case .noInterface:
            return "no interface is up apart from loopback; give one with -i (sniff -D lists them)"
        case .failed(let name, let detail):
            return "cannot capture on \(name): \(detail)"
        }
    }

    public var logMessage: String {
        if case .permissionDenied(let name, let detail) = self { return "pcap_activate(\(name)): \(detail)" }
        return userMessage
    }
}

/// A live libpcap capture: opened with pcap_create so that the kernel buffer can be
/// sized (-B), with immediate mode off and TPACKET_V3 (libpcap's default on Linux).
///
/// `start(into:)` runs the capture loop on its own thread; it copies frames into
/// batches, waiting a bounded time for a free one when the consumer is behind (see
/// `BatchQueue`).
/// Unchecked Sendable: the pcap handle is used by the capture thread only; the stop flag is under `stopFlag`.
public final class LiveCapture: @unchecked Sendable {
    public enum Direction: String, Sendable, CaseIterable {
        case `in`, out, `inout`
    }

    public struct Options: Sendable {
        public var interface: String
        public var snaplen: Int32 = 262_144
        public var bufferMiB: Int = 64
        public var promiscuous = true
        public var direction: Direction? = nil
        public var filter: String? = nil
        public var timeoutMilliseconds: Int32 = 100
        public init(interface: String) { self.interface = interface }
    }

    public let options: Options
    public let link: LinkType
    private let handle: OpaquePointer
    private let nanoPrecision: Bool
    private var thread: WorkerThread?
    private let stopFlag = ConditionLock()
    private var _stop = false

    public init(_ options: Options) throws {
        self.options = options
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let h = pcap_create(options.interface, &errbuf) else {
            throw LiveCaptureError.failed(name: options.interface, detail: String(nulTerminated: errbuf))
        }
        pcap_set_snaplen(h, options.snaplen)
        pcap_set_promisc(h, options.promiscuous ? 1 : 0)
        pcap_set_timeout(h, options.timeoutMilliseconds)
        pcap_set_buffer_size(h, Int32(clamping: options.bufferMiB << 20))
        pcap_set_immediate_mode(h, 0)
        // Ask for nanosecond timestamps; where the kernel cannot, libpcap says so and the
        // loop scales microseconds.
        nanoPrecision = pcap_set_tstamp_precision(h, Int32(PCAP_TSTAMP_PRECISION_NANO)) == 0
        let rc = pcap_activate(h)
        if rc < 0 {
            let detail = String(cString: pcap_geterr(h))
            pcap_close(h)
            switch rc {
            case PCAP_ERROR_NO_SUCH_DEVICE:
                let names = (try? Interfaces.list().map(\.name)) ?? []
                throw LiveCaptureError.noSuchDevice(name: options.interface, available: names)
            case PCAP_ERROR_PERM_DENIED, PCAP_ERROR_PROMISC_PERM_DENIED:
                throw LiveCaptureError.permissionDenied(name: options.interface, detail: detail)
            case PCAP_ERROR_IFACE_NOT_UP:
                throw LiveCaptureError.interfaceDown(name: options.interface)
            default:
                if detail.contains("No such device") {
                    let names = (try? Interfaces.list().map(\.name)) ?? []
                    throw LiveCaptureError.noSuchDevice(name: options.interface, available: names)
                }
                if detail.contains("ermission") || detail.contains("not permitted") {
                    throw LiveCaptureError.permissionDenied(name: options.interface, detail: detail)
                }
                throw LiveCaptureError.failed(name: options.interface, detail: detail)
            }
        }
        // Stored properties are set last: a throwing init that had set them all would run
        // deinit, which closes the handle a second time.
        let link = LinkType(UInt32(bitPattern: pcap_datalink(h)))
        if let d = options.direction {
            let dir: pcap_direction_t = d == .in ? PCAP_D_IN : (d == .out ? PCAP_D_OUT : PCAP_D_INOUT)
            if pcap_setdirection(h, dir) != 0 {
                let detail = String(cString: pcap_geterr(h))
                pcap_close(h)
                throw LiveCaptureError.failed(
                    name: options.interface, detail: "cannot set direction \(d.rawValue): \(detail)")
            }
        }
        if let f = options.filter {
            var prog = bpf_program()
            var net: bpf_u_int32 = 0, mask: bpf_u_int32 = 0
            if pcap_lookupnet(options.interface, &net, &mask, &errbuf) != 0 { mask = PCAP_NETMASK_UNKNOWN }
            if pcap_compile(h, &prog, f, 1, mask) != 0 {
                let detail = String(cString: pcap_geterr(h))
                pcap_close(h)
                throw BPFFilter.CompileError(expression: f, linkType: link, message: detail)
            }
            defer { pcap_freecode(&prog) }
            if pcap_setfilter(h, &prog) != 0 {
                let detail = String(cString: pcap_geterr(h))
                pcap_close(h)
                throw LiveCaptureError.failed(name: options.interface, detail: "cannot install the filter: \(detail)")
            }
        }
        self.link = link
        handle = h
    }

    deinit {
        stop()
        thread?.join()
        pcap_close(handle)
    }

    /// (received, dropped by the kernel, dropped by the interface) from pcap_stats.
    public func stats() -> (received: UInt64, dropped: UInt64, ifDropped: UInt64) {
        var st = pcap_stat()
        guard pcap_stats(handle, &st) == 0 else { return (0, 0, 0) }
        return (UInt64(st.ps_recv), UInt64(st.ps_drop), UInt64(st.ps_ifdrop))
    }

    /// Asks the capture loop to end; it finishes within one timeout.
    public func stop() {
        stopFlag.withLock { _stop = true }
        pcap_breakloop(handle)
    }

    private var shouldStop: Bool { stopFlag.withLock { _stop } }
    private var _abortReason: String?

    /// Stops the capture as failed. Called from the consumer thread when the interface
    /// went down: libpcap notices that only on kernels that wake the socket with
    /// ENETDOWN, and elsewhere keeps polling, so the check lives outside the loop.
    public func abort(_ reason: String) {
        stopFlag.withLock { if _abortReason == nil { _abortReason = reason } }
        stop()
    }

    /// Checks the interface's state; aborts the capture and returns the reason when it
    /// is gone or down.
    @discardableResult
    public func checkInterface() -> String? {
        guard let problem = LiveCapture.interfaceProblem(options.interface) else { return nil }
        abort(problem)
        return problem
    }

    /// Per-thread state reached from the C callback through its user pointer.
    final class LoopContext {
        let queue: BatchQueue
        var batch: PacketBatch?
        var drops: UInt64 = 0
        let scale: Int
        init(queue: BatchQueue, scale: Int) { self.queue = queue; self.scale = scale }
    }

    /// Starts the capture thread. Frames go into `queue`; at the end (stop, error or
    /// interface gone) the queue is marked finished, with the error if there was one.
    public func start(into queue: BatchQueue) {
        let h = handle
        let scale: Int = nanoPrecision ? 1 : 1000
        thread = WorkerThread(name: "sniff-capture") { [self] in
            let ctx = LoopContext(queue: queue, scale: scale)
            let user = Unmanaged.passUnretained(ctx).toOpaque().assumingMemoryBound(to: UInt8.self)
            var failure: String? = nil
            let onPacket: pcap_handler = { user, hdr, bytes in
                let ctx = Unmanaged<LoopContext>.fromOpaque(UnsafeRawPointer(user!)).takeUnretainedValue()
                let caplen = Int(hdr!.pointee.caplen)
                let ts = hdr!.pointee.ts
                let sec = Int64(ts.tv_sec)
                let nsec = UInt32(clamping: Int(ts.tv_usec) * ctx.scale)
                if ctx.batch == nil { ctx.batch = ctx.queue.acquireFree() }
                guard let b = ctx.batch else { ctx.drops &+= 1; return }
                if !b.append(bytes!, caplen: caplen, wireLength: hdr!.pointee.len, seconds: sec, nanoseconds: nsec) {
                    ctx.queue.publish(b)
                    ctx.batch = ctx.queue.acquireFree()
                    guard let nb = ctx.batch,
                        nb.append(bytes!, caplen: caplen, wireLength: hdr!.pointee.len, seconds: sec, nanoseconds: nsec)
                    else {
                        ctx.drops &+= 1
                        return
                    }
                }
            }
            var lastStats = Timestamp.now()
            while !shouldStop {
                let n = pcap_dispatch(h, -1, onPacket, user)
                if n == PCAP_ERROR {
                    failure = String(cString: pcap_geterr(h))
                    break
                }
                if n == PCAP_ERROR_BREAK { break }
                // Hand over what is there after every cycle, so that a quiet link still
                // reaches the report within one timeout.
                if let b = ctx.batch, b.count > 0 {
                    queue.publish(b)
                    ctx.batch = nil
                }
                queue.addDrops(ctx.drops)
                ctx.drops = 0
                let now = Timestamp.now()
                if now.nanoseconds(since: lastStats) > 200_000_000 {
                    let s = self.stats()
                    queue.setKernelStats(received: s.received, dropped: s.dropped, ifDropped: s.ifDropped)
                    lastStats = now
                }
            }
            // Stopped (SIGINT, -c, a control): one last non-blocking pass takes what the
            // kernel has already queued in the ring, so that packets it counted as
            // received are analysed rather than dropped with the ring. The first call
            // may only clear the flag pcap_breakloop left (PCAP_ERROR_BREAK).
            if failure == nil {
                var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
                if pcap_setnonblock(h, 1, &errbuf) == 0 {
                    for _ in 0..<64 {
                        let n = pcap_dispatch(h, -1, onPacket, user)
                        if n == PCAP_ERROR_BREAK { continue }
                        if n <= 0 { break }
                    }
                }
            }
            if let b = ctx.batch {
                if b.count > 0 { queue.publish(b) } else { queue.release(b) }
            }
            queue.addDrops(ctx.drops)
            let s = self.stats()
            queue.setKernelStats(received: s.received, dropped: s.dropped, ifDropped: s.ifDropped)
            queue.finish(error: failure ?? stopFlag.withLock { _abortReason })
        }
    }

    /// "went down" or "disappeared" for a named interface that is no longer usable;
    /// nil while it is up (and always for the "any" pseudo-device).
    static func interfaceProblem(_ name: String) -> String? {
        guard name != "any", !name.isEmpty, name.utf8.count < Int(IFNAMSIZ) else { return nil }
        if if_nametoindex(name) == 0 { return "the interface disappeared" }
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var req = ifreq()
        withUnsafeMutableBytes(of: &req.ifr_ifrn.ifrn_name) { buf in
            for (i, b) in name.utf8.enumerated() { buf[i] = b }
        }
        guard ioctl(fd, UInt(SIOCGIFFLAGS), &req) == 0 else { return nil }
        return Int32(req.ifr_ifru.ifru_flags) & Int32(IFF_UP) == 0 ? "the interface went down" : nil
    }

    public func join() {
        thread?.join()
        thread = nil
    }
}
