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
    func append(_ bytes: UnsafeRawPointer, caplen: Int, wireLength: UInt32, seconds: Int64, nanoseconds: UInt32) -> Bool
    {
        guard count < recordCapacity, used + caplen <= dataCapacity else { return false }
        (data + used).copyMemory(from: bytes, byteCount: caplen)
        records[count] = Record(
            offset: Int32(used), caplen: Int32(caplen), wireLength: wireLength, seconds: seconds,
            nanoseconds: nanoseconds)
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
/// fixed set of buffers. With no free buffer the producer waits, up to `waitMilliseconds`,
/// for the consumer to release one: meanwhile the kernel's ring (64 MiB by default, about
/// a second of a 300 k packets/s burst of small frames) keeps receiving, so a burst the
/// consumer catches up with is not lost, and what the ring cannot hold is the kernel's
/// drop, counted there. When a wait runs out (the consumer is stuck), the producer stops
/// waiting and drops frames, counted in `sniffDropped`, until a buffer is free again, so
/// that a stall costs one wait, not one per frame.
///
/// The buffers are many and small (128 of 1 MiB and 8,192 frames; 128 MiB in all, as
/// 32 of 4 MiB and 32,768 frames were): the capture loop hands its batch over after
/// every `pcap_dispatch` cycle, full or not, so that a quiet link is not delayed, and a
/// cycle brings what the ring holds at that moment (3,000 to 6,000 small frames while
/// the consumer keeps up under a flood). So the queue holds its number of batches
/// times a few thousand frames when the consumer stalls, far below its capacity in
/// frames: in `sniff top` on a loaded machine, stalls of the analysis thread of about
/// 2 s filled all 32 batches, outlasted the 1 s wait and dropped frames while the
/// kernel's ring was far from full; 128 batches held them (docs/PERFORMANCE.md).
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
    private var _waits: UInt64 = 0
    /// The producer's own: set when a wait ran out, cleared when a buffer was free.
    private var gaveUp = false
    let waitMilliseconds: Int
    private var _kernel = (received: UInt64(0), dropped: UInt64(0), ifDropped: UInt64(0))

    public init(
        batches: Int = 128, batchBytes: Int = 1 << 20, recordsPerBatch: Int = 8192, waitMilliseconds: Int = 1000
    ) {
        self.waitMilliseconds = waitMilliseconds
        for _ in 0..<max(2, batches) {
            free.append(PacketBatch(dataCapacity: batchBytes, recordCapacity: recordsPerBatch))
        }
        full.reserveCapacity(batches)
    }

    // MARK: producer side

    /// A free buffer, waiting for one (see the type's comment); nil when the wait ran out
    /// now or before and none was freed since.
    func acquireFree() -> PacketBatch? {
        lock.withLock {
            if let b = free.popLast() { gaveUp = false; return b }
            if gaveUp { return nil }
            _waits &+= 1
            var now = ConditionLock.monotonicNanos()
            let deadline = now + Int64(waitMilliseconds) * 1_000_000
            while free.isEmpty && now < deadline {
                lock.wait(milliseconds: max(1, Int((deadline - now) / 1_000_000)))
                now = ConditionLock.monotonicNanos()
            }
            guard let b = free.popLast() else { gaveUp = true; return nil }
            return b
        }
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
        lock.withLock {
            free.append(b)
            // The producer may be waiting for it (the consumer never waits while it holds one).
            lock.signal()
        }
    }

    /// True once the producer stopped and every batch has been taken.
    public var isDrained: Bool {
        lock.withLock { _finished && fullHead >= full.count }
    }

    public var error: String? { lock.withLock { _error } }
    public var sniffDropped: UInt64 { lock.withLock { _sniffDropped } }
    /// How many times the producer found every buffer full and waited.
    public var producerWaits: UInt64 { lock.withLock { _waits } }
    public var kernelStats: (received: UInt64, dropped: UInt64, ifDropped: UInt64) { lock.withLock { _kernel } }
}
