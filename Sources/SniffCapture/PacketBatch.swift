import SniffCore
#if canImport(Glibc)
import Glibc
#endif

/// A block of captured frames copied out of libpcap's ring, handed from the capture
/// thread to the analysis thread as one unit.
/// Unchecked Sendable: owned by one thread at a time, handed over through BatchQueue's lock.
public final class PacketBatch: @unchecked Sendable {
    public struct Record {
        var offset: Int32
        var caplen: Int32
        var wireLength: UInt32
        var seconds: Int64
        var nanoseconds: UInt32
    }

    let data: UnsafeMutableRawPointer
    let dataCapacity: Int
    let records: UnsafeMutablePointer<Record>
    let recordCapacity: Int
    public private(set) var count = 0
    private(set) var used = 0

    init(dataCapacity: Int, recordCapacity: Int) {
        self.dataCapacity = dataCapacity
        self.recordCapacity = recordCapacity
        data = .allocate(byteCount: dataCapacity, alignment: 16)
        records = .allocate(capacity: recordCapacity)
    }

    deinit {
        data.deallocate()
        records.deallocate()
    }

    func reset() {
        count = 0
        used = 0
    }

    /// Copies one frame in; false when the batch has no room (the caller publishes it).
    @inline(__always)
    func append(_ bytes: UnsafeRawPointer, caplen: Int, wireLength: UInt32, seconds: Int64, nanoseconds: UInt32) -> Bool {
        guard count < recordCapacity, used + caplen <= dataCapacity else { return false }
        (data + used).copyMemory(from: bytes, byteCount: caplen)
        records[count] = Record(offset: Int32(used), caplen: Int32(caplen), wireLength: wireLength, seconds: seconds, nanoseconds: nanoseconds)
        used += (caplen + 7) & ~7
        count += 1
        return true
    }

    /// Calls `body` for each frame, as borrowed RawPackets valid during the call.
    @inline(__always)
    public func forEach(link: LinkType, _ body: (RawPacket) throws -> Void) rethrows {
        for i in 0..<count {
            let r = records[i]
            let bytes = UnsafeRawBufferPointer(start: data + Int(r.offset), count: Int(r.caplen))
            try body(RawPacket(bytes: bytes, timestamp: Timestamp(seconds: r.seconds, nanoseconds: r.nanoseconds),
                               wireLength: r.wireLength, interfaceID: 0, link: link))
        }
    }
}

/// Hands batches from one producer (the capture thread) to one consumer through a
/// fixed set of buffers. The producer never waits: with no free buffer, the frame is
/// dropped and counted in `sniffDropped`, kept apart from the kernel's drops.
/// Unchecked Sendable: every var is under `lock`.
public final class BatchQueue: @unchecked Sendable {
    private let lock = ConditionLock()
    private var free: [PacketBatch] = []
    private var full: [PacketBatch] = []
    private var fullHead = 0
    // Shared state, guarded by `lock`.
    private var _finished = false
    private var _error: String?
    private var _sniffDropped: UInt64 = 0
    private var _kernel = (received: UInt64(0), dropped: UInt64(0), ifDropped: UInt64(0))

    public init(batches: Int = 32, batchBytes: Int = 4 << 20, recordsPerBatch: Int = 32768) {
        for _ in 0..<max(2, batches) {
            free.append(PacketBatch(dataCapacity: batchBytes, recordCapacity: recordsPerBatch))
        }
        full.reserveCapacity(batches)
    }

    // MARK: producer side

    func acquireFree() -> PacketBatch? {
        lock.withLock { free.popLast() }
    }

    func publish(_ b: PacketBatch) {
        lock.withLock {
            full.append(b)
            lock.signal()
        }
    }

    /// The producer's own drops since the last call are added under the lock, once per
    /// dispatch cycle.
    func addDrops(_ n: UInt64) {
        guard n > 0 else { return }
        lock.withLock { _sniffDropped &+= n }
    }

    func setKernelStats(received: UInt64, dropped: UInt64, ifDropped: UInt64) {
        lock.withLock { _kernel = (received, dropped, ifDropped) }
    }

    func finish(error: String?) {
        lock.withLock {
            _finished = true
            if _error == nil { _error = error }
            lock.broadcast()
        }
    }

    // MARK: consumer side

    /// The next full batch, waiting up to `milliseconds`; nil on timeout or when the
    /// producer has finished and everything was taken.
    public func take(milliseconds: Int) -> PacketBatch? {
        lock.withLock {
            if fullHead >= full.count && !_finished { lock.wait(milliseconds: milliseconds) }
            guard fullHead < full.count else { return nil }
            let b = full[fullHead]
            fullHead += 1
            if fullHead == full.count {
                full.removeAll(keepingCapacity: true)
                fullHead = 0
            }
            return b
        }
    }

    public func release(_ b: PacketBatch) {
        b.reset()
        lock.withLock { free.append(b) }
    }

    /// True once the producer stopped and every batch has been taken.
    public var isDrained: Bool {
        lock.withLock { _finished && fullHead >= full.count }
    }

    public var error: String? { lock.withLock { _error } }
    public var sniffDropped: UInt64 { lock.withLock { _sniffDropped } }
    public var kernelStats: (received: UInt64, dropped: UInt64, ifDropped: UInt64) { lock.withLock { _kernel } }
}
