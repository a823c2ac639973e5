import SniffCore
#if canImport(Glibc)
import Glibc
#endif

/// Which local process owns the socket of a conversation, for live capture.
///
/// A background thread reads the kernel's socket tables (/proc/net/tcp, tcp6, udp,
/// udp6, raw, raw6: the sockets of Sniff's own network namespace) and, when sockets it
/// has not placed appear, walks /proc/PID/fd for the processes of that namespace to
/// find which one holds each socket inode. Lookups (`owner`) read only the resulting
/// cache, so the analysis thread never touches /proc. Scans run every second, sooner
/// when `request()` says a flow is waiting, never more often than `minInterval`.
///
/// A socket stays in the cache for `keep` after it disappears, so that a flow reported
/// later still finds it; it matches only flows that began before it was gone.
/// Nothing is guessed: a socket nobody holds (closed, TIME_WAIT), a socket shared by
/// processes with different names, an unconnected socket whose address is not local,
/// or a process in another namespace all leave the flow without an owner.
///
/// Why /proc rather than netlink sock_diag: sock_diag gives a socket's inode by its
/// addresses, which is the cheap half; the owner still has to be found by walking
/// /proc/PID/fd, which is the expensive half, and only when unknown inodes appear.
/// Unchecked Sendable: shared tables are under `lock`; the scan thread keeps its caches to itself.
public final class ProcessTable: @unchecked Sendable {
    /// The local process, and whether the conversation's first endpoint is its socket.
    public struct Owner: Sendable, Equatable {
        public var process: LocalProcess
        public var firstIsLocal: Bool
        /// False when found through an unconnected socket (bound to the local address
        /// and port): a connected socket with both ends, if one exists, is the better
        /// answer, so callers accept this only once a scan after the flow began missed it.
        public var exact: Bool
    }

    /// Counters for tests and the report.
    public struct Stats: Sendable {
        public var scans = 0
        public var fdWalks = 0
        public var sockets = 0
        public var owned = 0
        /// Processes whose open files or namespace could not be read (other users').
        public var hidden = 0
        /// How long the last scan took, and the last fd walk within a scan (nanoseconds).
        public var scanNanos: Int64 = 0
        public var walkNanos: Int64 = 0
    }

    struct Tuple: Hashable {
        var proto: UInt8
        var local: IPAddress
        var localPort: UInt16
        var remote: IPAddress
        var remotePort: UInt16
    }

    /// An unconnected socket (UDP, raw): protocol, bound address and port.
    struct Bound: Hashable {
        var proto: UInt8
        var address: IPAddress
        var port: UInt16
    }

    struct Held {
        var process: LocalProcess
        /// When a scan first missed it (wall-clock nanoseconds); nil while present.
        var goneAt: Int64?
    }

    let root: String
    let minIntervalNanos: Int64
    let periodMilliseconds: Int
    let keepNanos: Int64

    private let lock = ConditionLock()
    // Guarded by `lock`.
    private var exact: [Tuple: Held] = [:]
    private var bound: [Bound: [Held]] = [:]
    private var localAddressSet: Set<IPAddress> = []
    private var wanted = false
    private var stopping = false
    private var notice: String? = nil
    private var noticeGiven = false
    private var stats = Stats()
    private var generationValue: UInt64 = 0
    private var lastScanStartValue: Int64 = 0

    // The scanning thread's own.
    private var inodeOwner: [UInt64: LocalProcess?] = [:]
    /// The inodes the last scan walked /proc/PID/fd for (empty when it did not walk).
    /// Only the scanning thread touches it; tests read it after driving scan() themselves.
    private(set) var lastWanted = Set<UInt64>()
    private var userNames: [UInt32: String] = [:]
    private let ownNamespace: String?
    private var thread: WorkerThread?

    /// `root` is normally /proc (tests may point elsewhere). Start with `start()`.
    public init(root: String = "/proc", minInterval: Double = 0.2, period: Double = 1, keep: Double = 120) {
        self.root = root
        minIntervalNanos = Int64(minInterval * 1e9)
        periodMilliseconds = Int(period * 1000)
        keepNanos = Int64(keep * 1e9)
        ownNamespace = ProcFile.link(root + "/self/ns/net")
    }

    deinit { stop() }

    /// Scans once on the caller's thread (so flows of the first moments find their
    /// sockets and the host's addresses are known), then starts the thread.
    public func start() {
        guard thread == nil else { return }
        scan(now: Timestamp.now().totalNanoseconds)
        thread = WorkerThread(name: "sniff-procs") { [self] in run() }
    }

    /// Stops the thread and waits for it. Safe to call more than once.
    public func stop() {
        lock.withLock { stopping = true; lock.signal() }
        thread?.join()
        thread = nil
    }

    /// Asks for a scan soon (a new flow found no owner). Cheap; called per flow.
    public func request() {
        lock.withLock {
            wanted = true
            lock.signal()
        }
    }

    /// Scans done so far; a caller retries waiting flows only when it changed.
    public var generation: UInt64 { lock.withLock { generationValue } }

    /// When the last completed scan began (wall-clock nanoseconds; 0 before the first).
    public var lastScanStart: Int64 { lock.withLock { lastScanStartValue } }

    /// Whether an address is one of this namespace's interfaces' (as of the last scan).
    public func isLocal(_ a: IPAddress) -> Bool { lock.withLock { localAddressSet.contains(a) } }

    /// Whether either address is this namespace's, under one lock (called per flow).
    public func isLocal(_ a: IPAddress, or b: IPAddress) -> Bool {
        lock.withLock { !localAddressSet.isEmpty && (localAddressSet.contains(a) || localAddressSet.contains(b)) }
    }

    /// This namespace's interface addresses as of the last scan, for a pass over many flows.
    public var localAddresses: Set<IPAddress> { lock.withLock { localAddressSet } }

    public var currentStats: Stats { lock.withLock { stats } }

    /// A sentence about what cannot be seen, once per run (nil before and after).
    public func takeNotice() -> String? {
        lock.withLock {
            let n = notice
            notice = nil
            return n
        }
    }

    /// The owner of a conversation between `first:firstPort` and `second:secondPort`
    /// that began at `startedAt` (wall-clock nanoseconds), from the cache. The first
    /// endpoint's socket is preferred when both are local. For ICMP and other protocols
    /// without ports, raw sockets of that protocol are looked up.
    public func owner(proto: UInt8, first: IPAddress, firstPort: UInt16, second: IPAddress, secondPort: UInt16,
                      startedAt: Int64) -> Owner? {
        lock.withLock {
            let ported = proto == 6 || proto == 17
            if ported {
                for (isFirst, l, lp, r, rp) in [(true, first, firstPort, second, secondPort),
                                                (false, second, secondPort, first, firstPort)] {
                    if let h = exact[Tuple(proto: proto, local: l, localPort: lp, remote: r, remotePort: rp)],
                       ProcessTable.valid(h, startedAt) {
                        return Owner(process: h.process, firstIsLocal: isFirst, exact: true)
                    }
                }
                if proto == 6 { return nil }
            }
            for (isFirst, a, p) in [(true, first, firstPort), (false, second, secondPort)] {
                // An unconnected socket receives for any of this host's addresses, but only those.
                guard localAddressSet.contains(a) else { continue }
                let port = ported ? p : 0
                var found: [Held] = []
                // A socket bound to :: receives IPv4 too (dual stack); one bound to 0.0.0.0
                // receives no IPv6.
                let any6 = IPAddress(v6High: 0, low: 0)
                for address in a.isIPv6 ? [a, any6] : [a, IPAddress(v4: 0), any6] {
                    for h in bound[Bound(proto: proto, address: address, port: port)] ?? []
                    where ProcessTable.valid(h, startedAt) {
                        found.append(h)
                    }
                }
                if let p = ProcessTable.single(found.map(\.process)) {
                    return Owner(process: p, firstIsLocal: isFirst, exact: false)
                }
            }
            return nil
        }
    }

    /// A socket matches a flow that began before the scan that found it gone.
    static func valid(_ h: Held, _ startedAt: Int64) -> Bool {
        guard let gone = h.goneAt else { return true }
        return startedAt < gone
    }

    /// The one process among candidates: the oldest (lowest pid) when all share a
    /// command name (a forked server's workers), nil when none or they differ.
    static func single(_ ps: [LocalProcess]) -> LocalProcess? {
        guard let first = ps.first else { return nil }
        guard ps.allSatisfy({ $0.command == first.command && $0.user == first.user }) else { return nil }
        return ps.min { $0.pid < $1.pid }
    }

    // MARK: the scanning thread

    private func run() {
        var lastScan: Int64 = Timestamp.now().totalNanoseconds
        while true {
            let stop: Bool = lock.withLock {
                if !wanted && !stopping { lock.wait(milliseconds: periodMilliseconds) }
                wanted = false
                return stopping
            }
            if stop { return }
            let now = Timestamp.now().totalNanoseconds
            let since = now - lastScan
            if since < minIntervalNanos {
                usleep(useconds_t((minIntervalNanos - since) / 1000))
            }
            lastScan = Timestamp.now().totalNanoseconds
            scan(now: lastScan)
        }
    }

    /// One pass: read the socket tables, place new inodes, and merge into the cache.
    /// Internal so tests can drive it without the thread.
    func scan(now: Int64) {
        var entries: [SocketEntry] = []
        for t in ProcNet.tables {
            if let e = ProcNet.read(path: root + "/net/" + t.name, proto: t.proto) { entries += e }
        }
        var present = Set<UInt64>()
        var unknown = Set<UInt64>()
        for e in entries where e.inode != 0 {
            present.insert(e.inode)
            if inodeOwner[e.inode] == nil { unknown.insert(e.inode) }
        }
        var hidden: Int? = nil
        var walkNanos: Int64 = 0
        lastWanted = unknown
        if !unknown.isEmpty {
            let t = Timestamp.now().totalNanoseconds
            hidden = walk(wanted: unknown)
            walkNanos = Timestamp.now().totalNanoseconds - t
        }
        for inode in inodeOwner.keys where !present.contains(inode) { inodeOwner[inode] = nil }

        var freshExact: [Tuple: LocalProcess] = [:]
        var freshBound: [Bound: [LocalProcess]] = [:]
        var owned = 0
        for e in entries where e.inode != 0 {
            guard let p = inodeOwner[e.inode] ?? nil else { continue }
            owned += 1
            if e.proto == 6 {
                // A listener carries no packets: its accepted sockets do, with both ends.
                guard e.state != SocketEntry.tcpListen, !e.isUnconnected else { continue }
                freshExact[Tuple(proto: 6, local: e.local, localPort: e.localPort, remote: e.remote,
                                 remotePort: e.remotePort)] = p
            } else if e.isUnconnected {
                freshBound[Bound(proto: e.proto, address: e.local, port: e.localPort), default: []].append(p)
            } else if e.proto == 17 {
                freshExact[Tuple(proto: 17, local: e.local, localPort: e.localPort, remote: e.remote,
                                 remotePort: e.remotePort)] = p
            }
        }
        let addresses = ProcessTable.interfaceAddresses()
        let took = Timestamp.now().totalNanoseconds - now
        lock.withLock {
            for (k, var h) in exact where freshExact[k] == nil {
                if h.goneAt == nil {
                    h.goneAt = now; exact[k] = h
                } else if now - h.goneAt! > keepNanos {
                    exact[k] = nil
                }
            }
            for (k, p) in freshExact { exact[k] = Held(process: p, goneAt: nil) }
            for (k, list) in bound where freshBound[k] == nil {
                let kept = list.compactMap { h -> Held? in
                    guard let g = h.goneAt else { return Held(process: h.process, goneAt: now) }
                    return now - g > keepNanos ? nil : h
                }
                bound[k] = kept.isEmpty ? nil : kept
            }
            for (k, ps) in freshBound { bound[k] = ps.map { Held(process: $0, goneAt: nil) } }
            localAddressSet = addresses
            stats.scans += 1
            stats.sockets = entries.count
            stats.owned = owned
            stats.scanNanos = took
            if let hidden {
                stats.fdWalks += 1
                stats.walkNanos = walkNanos
                stats.hidden = hidden
                if hidden > 0 && !noticeGiven {
                    noticeGiven = true
                    // Root is refused only by a security module or a sandbox (PID 1 of some
                    // containers); telling root to run as root would be no help.
                    notice = getuid() == 0
                        ? "process attribution: cannot read the open files of \(hidden) processes even as root "
                            + "(a security module or sandbox refuses it); flows of their sockets have no process"
                        : "process attribution: cannot read the open files of \(hidden) processes of other users "
                            + "(Sniff runs as \(ProcFile.userName(getuid()))); flows of their sockets have no process. "
                            + "Run as root, without --user, to see them"
                }
            }
            lastScanStartValue = now
            generationValue &+= 1
        }
    }

    /// Walks /proc/PID/fd of the processes in Sniff's network namespace, recording the
    /// holder of each inode in `wanted` (nil for those nobody here holds). Returns how
    /// many processes could not be read.
    private func walk(wanted: Set<UInt64>) -> Int {
        var holders: [UInt64: [Int32]] = [:]
        var hidden = 0
        guard let dir = opendir(root) else { return 0 }
        defer { closedir(dir) }
        while let ent = readdir(dir) {
            let name = withUnsafeBytes(of: ent.pointee.d_name) { raw -> String in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let pid = Int32(name) else { continue }
            let base = root + "/" + name
            // A process in another network namespace has other sockets: never ours.
            guard let ns = ProcFile.link(base + "/ns/net") else {
                if errno == EACCES || errno == EPERM { hidden += 1 }
                continue
            }
            if let own = ownNamespace, ns != own { continue }
            guard let fds = opendir(base + "/fd") else {
                if errno == EACCES || errno == EPERM { hidden += 1 }
                continue
            }
            while let f = readdir(fds) {
                let fdName = withUnsafeBytes(of: f.pointee.d_name) { raw -> String in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                guard fdName.first != ".", let target = ProcFile.link(base + "/fd/" + fdName),
                      target.hasPrefix("socket:["), target.hasSuffix("]"),
                      let inode = UInt64(target.dropFirst(8).dropLast()), wanted.contains(inode) else { continue }
                holders[inode, default: []].append(pid)
            }
            closedir(fds)
        }
        var infos: [Int32: LocalProcess?] = [:]
        for inode in wanted {
            guard let pids = holders[inode] else { inodeOwner[inode] = .some(nil); continue }
            var ps: [LocalProcess] = []
            for pid in Set(pids) {
                if infos[pid] == nil { infos[pid] = .some(process(pid)) }
                if let p = infos[pid] ?? nil { ps.append(p) }
            }
            inodeOwner[inode] = .some(ProcessTable.single(ps))
        }
        return hidden
    }

    /// Reads a process's name, user and cgroup; nil when it has exited meanwhile.
    private func process(_ pid: Int32) -> LocalProcess? {
        let base = root + "/" + String(pid)
        var st = stat()
        guard stat(base, &st) == 0, var comm = ProcFile.read(base + "/comm") else { return nil }
        if comm.hasSuffix("\n") { comm.removeLast() }
        let uid = UInt32(st.st_uid)
        let user: String
        if let u = userNames[uid] { user = u } else { user = ProcFile.userName(uid); userNames[uid] = user }
        let container = ProcFile.read(base + "/cgroup").flatMap { CgroupName.parse(cgroupFile: $0) }
        return LocalProcess(pid: pid, command: comm, user: user, container: container)
    }

    /// This namespace's interface addresses (unconnected sockets receive for these).
    static func interfaceAddresses() -> Set<IPAddress> {
        var out = Set<IPAddress>()
        var list: UnsafeMutablePointer<ifaddrs>? = nil
        guard getifaddrs(&list) == 0 else { return out }
        defer { freeifaddrs(list) }
        var p = list
        while let ifa = p {
            defer { p = ifa.pointee.ifa_next }
            guard let sa = ifa.pointee.ifa_addr else { continue }
            if Int32(sa.pointee.sa_family) == AF_INET {
                _ = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    out.insert(IPAddress(v4: UInt32(bigEndian: $0.pointee.sin_addr.s_addr)))
                }
            } else if Int32(sa.pointee.sa_family) == AF_INET6 {
                sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { s in
                    withUnsafeBytes(of: s.pointee.sin6_addr) { b in
                        var high: UInt64 = 0, low: UInt64 = 0
                        for i in 0..<8 { high = high << 8 | UInt64(b[i]) }
                        for i in 8..<16 { low = low << 8 | UInt64(b[i]) }
                        out.insert(IPAddress(v6High: high, low: low))
                    }
                }
            }
        }
        return out
    }
}
