#if canImport(Glibc)
import Glibc
#endif
import SniffCore

/// Moves batches from the analysis thread to the database without ever blocking the
/// analysis thread and without losing a batch.
///
/// `submit` puts a batch in a bounded in-memory queue; past the bound (the database is
/// slow or gone) batches go to a journal file instead, and keep going there until the
/// writer has caught up, so that order is kept. One writer task takes the oldest batch,
/// writes it, and removes it only once the database has committed it; a failure is
/// retried with exponential backoff, reconnecting as needed. Batches carry ids that the
/// store records with the rows, so a batch written twice (a commit whose answer was
/// lost, a journal replayed after a crash) is stored once.
///
/// The one way to lose rows: the database is behind, memory is at its bound, and the
/// journal cannot be written (its disk is full). Holding on in memory would trade a
/// counted loss for an out-of-memory kill of the whole capture, so such a batch is
/// dropped, counted (`packetsLost`, `rowsLost`) and logged; the capture goes on, and
/// the journal is tried again with the next batch.
///
/// The decisions (memory or journal, which batches a write takes, backoff, finishing)
/// are `WriterStateMachine`'s; this class does the I/O they call for.
/// Unchecked Sendable: the state machine, journals and counters are under `lock`; the rest is set in init.
public final class StoreWriter: @unchecked Sendable {
    public struct Configuration: Sendable {
        /// Rows kept in memory before batches spill to the journal.
        public var memoryLimitRows = 1_000_000
        /// Where journals are written, and where journals of earlier runs are looked for.
        public var journalDirectory = "sniff-journal"
        /// Replay journals that earlier runs left in `journalDirectory`.
        public var replayOldJournals = true
        public var retryInitialSeconds = 0.1
        public var retryMaxSeconds = 5.0
        /// Rows older than this (nanoseconds) are deleted, or their partitions dropped.
        public var retentionNanos: Int64? = nil
        /// Partitions ahead and retention run at start and then this often.
        public var maintenanceIntervalSeconds = 3600.0
        /// Apply the schema migrations before the first write.
        public var migrate = true
        /// The least time between two writes from memory during the capture
        /// (nanoseconds); nil: the store's `writePaceNanos`.
        public var paceNanos: Int64? = nil
        /// Called with one line when the database fails or recovers.
        public var log: @Sendable (String) -> Void = { _ in }
        public init() {}
    }

    /// A snapshot of the writer's counters.
    public struct Stats: Sendable, Equatable {
        public var packetsSubmitted: UInt64 = 0
        /// Packet rows the database holds (a replayed duplicate counts once).
        public var packetsStored: UInt64 = 0
        /// Packet rows not yet stored: in memory, in flight, or in a journal.
        public var packetsPending: UInt64 = 0
        public var batchesStored: UInt64 = 0
        /// Batches the database already had (replays).
        public var batchesDuplicate: UInt64 = 0
        public var rowsStored: UInt64 = 0
        public var memoryRows = 0
        public var journalBatches = 0
        public var journalPaths: [String] = []
        /// Packet rows, rows of any kind, and batches dropped because neither memory
        /// nor the journal could take them.
        public var packetsLost: UInt64 = 0
        public var rowsLost: UInt64 = 0
        public var batchesLost: UInt64 = 0
        /// Why the journal last refused a batch (nil once it takes writes again).
        public var journalFailure: String? = nil
        /// The last journal error of the run, kept for the final report.
        public var lastJournalFailure: String? = nil
        public var failing = false
        public var lastError: String? = nil
        /// Seconds spent in successful writes (for rows/s), and how many there were.
        public var writeSeconds: Double = 0
        public var writes: UInt64 = 0
        /// Nanoseconds between a batch being handed over and being committed, for the
        /// last batch stored: the database write lag.
        public var lagNanos: Int64 = 0
        public init() {}
    }

    /// How `finish` ended.
    public struct FinishReport: Sendable {
        public var stats: Stats
        /// True when every batch was stored.
        public var complete: Bool {
            stats.packetsPending == 0 && stats.journalBatches == 0 && pendingBatches == 0 && !lost
        }
        /// True when some rows could be neither stored nor kept in the journal.
        public var lost: Bool { stats.batchesLost > 0 }
        public var pendingBatches: Int
        /// Journals holding what could not be stored.
        public var journalPaths: [String]
    }

    public let store: any PacketStore
    public let writerID: Int64
    public let configuration: Configuration
    private let lock = ConditionLock()
    // Guarded by `lock`.
    private var machine: WriterStateMachine<StoreBatch>
    private var journal: Journal? = nil
    private var adopted: [Journal] = []
    private var nextSeq: Int64 = 0
    private var waiter: CheckedContinuation<Void, Never>? = nil
    /// Counts the events that wake the writer task (a submit, a close, an abandon), so
    /// that one coming between its decision to wait and its parking is not missed.
    private var wakeups: UInt64 = 0
    /// The pace's clock: monotonic, so that a step of the wall clock (NTP, a changed
    /// date) neither holds writes for as long as it stepped back nor skips the pace.
    private let paceOrigin = ContinuousClock.now
    private var stats = Stats()
    private var task: Task<Void, Never>? = nil
    private var lastLossLog: Int64 = 0

    public init(store: any PacketStore, configuration: Configuration = Configuration(), writerID: Int64? = nil) {
        self.store = store
        self.configuration = configuration
        var id = writerID ?? 0
        while id == 0 { id = Int64.random(in: 1...Int64.max) }
        self.writerID = id
        machine = WriterStateMachine(
            configuration: .init(
                memoryLimitRows: configuration.memoryLimitRows, coalesceRows: store.coalesceRows,
                retryInitialSeconds: configuration.retryInitialSeconds, retryMaxSeconds: configuration.retryMaxSeconds,
                maintenanceIntervalNanos: Int64(configuration.maintenanceIntervalSeconds * 1e9),
                migrate: configuration.migrate, paceNanos: configuration.paceNanos ?? store.writePaceNanos))
    }

    /// Starts the writer task (and the replay of earlier journals).
    public func start() {
        if configuration.replayOldJournals {
            for path in Journal.files(in: configuration.journalDirectory) {
                do {
                    if let j = try Journal.adopt(path: path) {
                        if j.isEmpty { j.close() } else {
                            adopted.append(j)
                            configuration.log("replaying \(j.pendingRecords) batches (\(j.pendingPackets) packets) from the journal \(path)")
                        }
                    }
                } catch {
                    configuration.log("\(error)")
                }
            }
        }
        machine = WriterStateMachine(
            configuration: machine.configuration, adoptedPending: adopted.map(\.pendingRecords))
        task = Task.detached { [self] in await self.run() }
    }

    /// A new batch id; ids increase in submission order.
    public func makeBatchID() -> BatchID {
        lock.withLock {
            nextSeq += 1
            return BatchID(writer: writerID, seq: nextSeq)
        }
    }

    /// Hands a batch over. Never blocks on the database: past the memory bound the
    /// batch is appended to the journal file.
    public func submit(_ batch: StoreBatch) {
        let now = Timestamp.now().totalNanoseconds
        // Kept packet bytes (--store-raw) weigh in too (`memoryWeight`), or a million
        // rows of them could hold over a gigabyte before the journal takes over.
        var resume: CheckedContinuation<Void, Never>? = nil
        lock.withLock {
            stats.packetsSubmitted &+= UInt64(batch.packetCount)
            if machine.submitted(batch, now: now) == .spill { spill(batch) }
            wakeups &+= 1
            resume = waiter
            waiter = nil
        }
        resume?.resume()
    }

    /// Appends to this run's journal (lock held); past that, the batch is lost and
    /// counted.
    private func spill(_ batch: StoreBatch) {
        do {
            if journal == nil {
                let name = "\(configuration.journalDirectory)/\(StoreWriter.safeFileName(batch.sensor))-\(String(UInt64(bitPattern: writerID), radix: 16)).\(Journal.fileExtension)"
                journal = try Journal.create(path: name)
                configuration.log("the database is behind; batches now go to the journal \(name)")
            }
            try journal!.append(batch)
            machine.spilled()
            // Quietly: a small batch that fits says little about the next big one, and
            // the losses are reported at most every 30 s and at the end.
            stats.journalFailure = nil
        } catch {
            lose(batch, because: (error as? SniffError)?.userMessage ?? "\(error)")
        }
    }

    /// Drops a batch that neither memory nor the journal can take (lock held). Never
    /// silent: the first loss is logged as an error, later ones every 30 s, and the
    /// counts reach the final report.
    private func lose(_ batch: StoreBatch, because reason: String) {
        stats.packetsLost &+= UInt64(batch.packetCount)
        stats.rowsLost &+= UInt64(batch.content.rowCount)
        stats.batchesLost &+= 1
        let now = Timestamp.now().totalNanoseconds
        stats.journalFailure = reason
        if stats.lastJournalFailure == nil {
            stats.lastJournalFailure = reason
            lastLossLog = now
            configuration.log("error: \(reason). Capture goes on, but batches that fit neither in memory (\(configuration.memoryLimitRows) rows) nor in the journal are lost and counted")
        } else if now - lastLossLog >= 30_000_000_000 {
            lastLossLog = now
            stats.lastJournalFailure = reason
            configuration.log("error: the journal still cannot take every batch (\(reason)); \(stats.packetsLost) packets (\(stats.rowsLost) rows) lost so far")
        }
    }

    static func safeFileName(_ s: String) -> String {
        let cleaned = String(
            s.unicodeScalars.map { c -> Character in
                (c.properties.isAlphabetic && c.isASCII) || ("0"..."9").contains(c) || c == "-" || c == "_"
                    ? Character(c) : "_"
            })
        return cleaned.isEmpty ? "sniff" : String(cleaned.prefix(64))
    }

    public var currentStats: Stats {
        lock.withLock { snapshotLocked() }
    }

    private func snapshotLocked() -> Stats {
        var s = stats
        s.memoryRows = machine.memoryRows
        var packets = machine.memoryPackets
        var batches = 0
        var paths: [String] = []
        for j in adopted where !j.isEmpty {
            packets += j.pendingPackets; batches += j.pendingRecords; paths.append(j.path)
        }
        if let j = journal, !j.isEmpty {
            packets += j.pendingPackets; batches += j.pendingRecords; paths.append(j.path)
        }
        s.packetsPending = UInt64(packets)
        s.journalBatches = batches
        s.journalPaths = paths
        return s
    }

    // MARK: the writer task

    /// The next write with its batches read: from memory as the state machine took them,
    /// from a journal its next record. Waits for `submit` when nothing is queued, and
    /// for a submit, a close or the time when the pace holds the write; nil once
    /// finished or abandoned.
    private func nextWrite() async -> WriterStateMachine<StoreBatch>.Write? {
        while true {
            let (next, seen) = lock.withLock { (readNextLocked(), wakeups) }
            switch next {
            case .write(let w): return w
            case .finish: return nil
            case .wait: await park(seen: seen, until: nil)
            case .hold(let until): await park(seen: seen, until: until)
            }
        }
    }

    /// Waits until an event after `seen` (`wakeups`) or, with `until`, that time
    /// (`paceNow`), whichever comes first.
    private func park(seen: UInt64, until: Int64?) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let parked: Bool = lock.withLock {
                if wakeups != seen { return false }
                waiter = c
                return true
            }
            guard parked else { return c.resume() }
            guard let until else { return }
            Task.detached { [self] in
                let wait = until - paceNow()
                if wait > 0 { try? await Task.sleep(nanoseconds: UInt64(wait)) }
                // Still parked on this wait (no event came): wake it.
                let resume: CheckedContinuation<Void, Never>? = lock.withLock {
                    guard wakeups == seen, let w = waiter else { return nil }
                    wakeups &+= 1
                    waiter = nil
                    return w
                }
                resume?.resume()
            }
        }
    }

    /// Nanoseconds on the pace's clock.
    private func paceNow() -> Int64 {
        let (s, atto) = (ContinuousClock.now - paceOrigin).components
        return s * 1_000_000_000 + atto / 1_000_000_000
    }

    private func readNextLocked() -> WriterStateMachine<StoreBatch>.NextAction {
        var next = machine.nextWrite(now: paceNow())
        while case .write(var w) = next, w.source != .memory {
            let j = w.source == .adopted ? adopted[0] : journal!
            do {
                if let b = try j.peek() {
                    w.batches = [b]
                    return .write(w)
                }
            } catch {
                configuration.log("\(error)")
            }
            if w.source == .adopted {
                // Unreadable from here on: keep the file for a look, move on.
                j.close(removeIfEmpty: false)
                adopted.removeFirst()
            }
            next = machine.unreadable()
        }
        return next
    }

    private func run() async {
        while let write = await nextWrite() {
            do {
                if write.migrate {
                    let applied = try await store.migrate()
                    lock.withLock { machine.migrationsApplied() }
                    if !applied.isEmpty {
                        configuration.log("schema migrated to version \(applied.last!.version) (\(applied.map { "\($0.version) \($0.name)" }.joined(separator: ", ")))")
                    }
                }
                let now = Timestamp.now().totalNanoseconds
                if lock.withLock({ machine.maintenanceDue(now: now) }) { await maintain(now: now) }
                let t0 = Timestamp.now()
                let stored = try await store.write(write.batches)
                let t1 = Timestamp.now()
                lock.withLock {
                    recordWritten(write, stored: stored, seconds: Double(t1.nanoseconds(since: t0)) / 1e9, at: t1)
                }
            } catch {
                let message = (error as? SniffError)?.userMessage ?? "\(error)"
                let failed = lock.withLock {
                    stats.failing = true
                    stats.lastError = message
                    lock.broadcast()
                    return machine.failed()
                }
                if failed.first {
                    configuration.log("cannot write to the database: \(message); capture goes on, retrying")
                }
                try? await Task.sleep(nanoseconds: UInt64(failed.retryAfterSeconds * 1e9))
            }
        }
        lock.withLock { lock.broadcast() }
    }

    /// The database committed `write` (lock held): its batches leave their queue.
    private func recordWritten(
        _ write: WriterStateMachine<StoreBatch>.Write, stored: [Bool], seconds: Double, at t1: Timestamp
    ) {
        let done = machine.written()
        guard done.applied else { return }
        switch write.source {
        case .adopted:
            adopted[0].advance()
            if done.closeAdopted { adopted.removeFirst().close() }
        case .journal:
            journal?.advance()
        case .memory:
            break
        }
        for (b, new) in zip(write.batches, stored) {
            stats.batchesStored &+= 1
            if !new { stats.batchesDuplicate &+= 1 }
            stats.packetsStored &+= UInt64(b.packetCount)
            stats.rowsStored &+= UInt64(b.content.rowCount)
        }
        stats.writeSeconds += seconds
        stats.writes &+= 1
        if write.submittedAt > 0 { stats.lagNanos = t1.totalNanoseconds - write.submittedAt }
        if let failures = done.recoveredAfter {
            stats.failing = false
            configuration.log("the database is back after \(failures) failed attempts; writing the queued batches")
        }
        lock.broadcast()
    }

    private func maintain(now: Int64) async {
        do {
            let r = try await store.maintain(now: now, retentionCutoff: configuration.retentionNanos.map { now - $0 })
            if !r.partitionsDropped.isEmpty || r.rowsDeleted > 0 {
                configuration.log(
                    "retention: dropped \(r.partitionsDropped.count) day partitions, deleted \(r.rowsDeleted) rows")
            }
        } catch {
            configuration.log(
                "maintenance failed: \((error as? SniffError)?.userMessage ?? "\(error)"); writing goes on")
        }
    }

    /// Waits until everything submitted is stored, or until `timeoutSeconds` pass or
    /// `giveUp` returns true; then whatever is left goes to the journal. Blocks the
    /// calling thread (not for use on the cooperative pool: see `finishing`).
    /// `progress` is called about once a second while waiting.
    public func finish(timeoutSeconds: Double, giveUp: () -> Bool = { false },
                       progress: (Stats) -> Void = { _ in }) -> FinishReport {
        beginFinish()
        // The timeout counts time without progress: a slow database that is still storing
        // batches (a large file loaded into SQLite) is waited for; an unreachable one is not.
        var start = Timestamp.now()
        var lastProgress = start
        var storedSeen = lock.withLock { stats.batchesStored }
        while true {
            let now = Timestamp.now()
            let stop = Double(now.nanoseconds(since: start)) / 1e9 >= timeoutSeconds || giveUp()
            let (done, stored): (Bool, UInt64) = lock.withLock {
                if doneLocked(stop: stop) { return (true, stats.batchesStored) }
                lock.wait(milliseconds: 100)
                return (false, stats.batchesStored)
            }
            if done { break }
            if stored != storedSeen { storedSeen = stored; start = now }
            if now.nanoseconds(since: lastProgress) >= 1_000_000_000 {
                lastProgress = now
                progress(currentStats)
            }
        }
        return endFinish()
    }

    /// `finish` for async callers: polls instead of blocking a thread.
    public func finishing(timeoutSeconds: Double) async -> FinishReport {
        beginFinish()
        var start = Timestamp.now()
        var storedSeen = lock.withLock { stats.batchesStored }
        while true {
            let now = Timestamp.now()
            let stop = Double(now.nanoseconds(since: start)) / 1e9 >= timeoutSeconds
            let (done, stored) = lock.withLock { (doneLocked(stop: stop), stats.batchesStored) }
            if done { break }
            if stored != storedSeen { storedSeen = stored; start = now }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        return endFinish()
    }

    private func beginFinish() {
        var resume: CheckedContinuation<Void, Never>? = nil
        lock.withLock {
            machine.close()
            wakeups &+= 1
            resume = waiter
            waiter = nil
        }
        resume?.resume()
    }

    /// True when everything is stored, or (with `stop`) after moving the rest to the
    /// journal and stopping the writer task.
    private func doneLocked(stop: Bool) -> Bool {
        switch machine.finishCheck(stop: stop) {
        case .done:
            return true
        case .keepWaiting:
            return false
        case .abandon(let rest):
            for b in rest { spill(b) }
            journal?.sync()
            wakeups &+= 1
            waiter?.resume()
            waiter = nil
            task?.cancel()
            return true
        }
    }

    private func endFinish() -> FinishReport {
        let s = currentStats
        lock.withLock {
            journal?.close()
            for j in adopted { j.close() }
        }
        return FinishReport(stats: s, pendingBatches: s.journalBatches, journalPaths: s.journalPaths)
    }
}
