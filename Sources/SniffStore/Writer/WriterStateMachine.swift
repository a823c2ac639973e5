/// What the writer's state machine needs to know of a batch: its weight against the
/// memory bound, its packets (the pending count) and its rows (the coalescing bound).
protocol WriterQueueItem {
    var memoryWeight: Int { get }
    var packetCount: Int { get }
    var storeRows: Int { get }
}

extension StoreBatch: WriterQueueItem {
    var storeRows: Int { content.rowCount }
}

/// Every decision of the store writer, with no I/O: where a submitted batch goes
/// (memory or the journal), which batches the next write takes (earlier runs'
/// journals, then memory coalesced up to the store's bound, then this run's journal),
/// how long to wait after a failure (exponential backoff), when to migrate and to run
/// maintenance, and how a finish ends (everything stored, or the rest moved to the
/// journal). `StoreWriter` owns the journals and the database and does what the
/// returned actions say; it calls every event under its lock.
struct WriterStateMachine<Batch: WriterQueueItem> {
    struct Configuration {
        var memoryLimitRows: Int
        /// Rows a single write may take from memory (0: one batch at a time).
        var coalesceRows: Int
        var retryInitialSeconds: Double
        var retryMaxSeconds: Double
        var maintenanceIntervalNanos: Int64
        var migrate: Bool
        /// The least time between the starts of two writes from memory (0: none), while
        /// not closed and while what is queued is under half of `coalesceRows`.
        var paceNanos: Int64 = 0
    }

    /// Where a write's batches come from: the oldest journal of an earlier run, memory,
    /// or this run's journal.
    enum Source: Equatable { case adopted, memory, journal }

    struct Entry {
        var batch: Batch
        var submittedAt: Int64
    }

    enum SubmitAction: Equatable {
        case keepInMemory
        /// Append to this run's journal, then report `spilled()` if it took the batch.
        case spill
    }

    /// One write: from memory the batches themselves (coalesced); from a journal, the
    /// writer reads its next record.
    struct Write {
        var source: Source
        var batches: [Batch]
        /// When the oldest of `batches` was submitted (0 for journal records).
        var submittedAt: Int64
        /// Apply the schema migrations first (until they once succeed).
        var migrate: Bool
    }

    enum NextAction {
        case write(Write)
        /// Nothing queued: wait for a submit or a close.
        case wait
        /// Batches are queued but few, and the previous write from memory began less than
        /// the pace ago: wait for more (up to half the coalescing bound), a close, or
        /// this time (nanoseconds), then ask again.
        case hold(until: Int64)
        /// Closed with nothing left, or abandoned: the writer task ends.
        case finish
    }

    struct WrittenAction: Equatable {
        /// False when the writer was abandoned during the write: nothing is popped.
        var applied: Bool
        /// The earlier run's journal just emptied: close (and delete) it.
        var closeAdopted: Bool
        /// Failed attempts before this success, when the database had been failing.
        var recoveredAfter: Int?
    }

    struct FailedAction: Equatable {
        var retryAfterSeconds: Double
        /// The first failure of an outage (the one to log).
        var first: Bool
    }

    enum FinishAction {
        case done
        case keepWaiting
        /// Stopped before everything was stored: spill these (memory's rest, in order),
        /// sync the journal and stop the writer task.
        case abandon([Batch])
    }

    let configuration: Configuration
    private(set) var memory: [Entry] = []
    private(set) var memoryHead = 0
    private(set) var memoryRows = 0
    private(set) var memoryPackets = 0
    /// The queued batches' rows, against the coalescing bound (`storeRows`).
    private(set) var memoryStoreRows = 0
    /// When the last write from memory began (for the pace).
    private(set) var lastMemoryWriteAt: Int64? = nil
    /// Records left in each journal of an earlier run, oldest first.
    private(set) var adoptedPending: [Int]
    /// Records in this run's journal not yet stored.
    private(set) var journalPending = 0
    private(set) var closed = false
    private(set) var abandoned = false
    /// The write in progress: its source and how many batches it took.
    private(set) var inFlight: (source: Source, count: Int)? = nil
    private var migrated: Bool
    private var nextMaintenance: Int64 = 0
    private(set) var retryDelaySeconds: Double
    private(set) var failures = 0
    private(set) var failing = false

    init(configuration: Configuration, adoptedPending: [Int] = []) {
        self.configuration = configuration
        self.adoptedPending = adoptedPending.filter { $0 > 0 }
        migrated = !configuration.migrate
        retryDelaySeconds = configuration.retryInitialSeconds
    }

    /// True when nothing is queued anywhere.
    var queueEmpty: Bool { memoryHead >= memory.count && journalPending == 0 && adoptedPending.isEmpty }

    /// True when a waiting writer task has something to do.
    var hasWork: Bool { memoryHead < memory.count || journalPending > 0 || closed || abandoned }

    // MARK: submitting

    /// A batch handed over. Memory takes it while under the bound and while the journal
    /// is empty (so that order is kept once batches have gone to the journal).
    mutating func submitted(_ batch: Batch, now: Int64) -> SubmitAction {
        if abandoned { return .spill }
        guard journalPending == 0 && memoryRows + batch.memoryWeight <= configuration.memoryLimitRows else {
            return .spill
        }
        memory.append(Entry(batch: batch, submittedAt: now))
        memoryRows += batch.memoryWeight
        memoryPackets += batch.packetCount
        memoryStoreRows += batch.storeRows
        return .keepInMemory
    }

    /// The journal took a spilled batch (one it refused is lost and changes nothing here).
    mutating func spilled() {
        journalPending += 1
    }

    // MARK: writing

    /// The next write: earlier runs' journals first, then memory, then this run's journal.
    /// With `now` (nanoseconds) a write from memory follows the pace: it is held while
    /// the capture goes on, what is queued is under half the coalescing bound, and the
    /// previous one began less than `paceNanos` ago. Never held: a closed writer's writes
    /// (a finishing writer's last call must not wait), journals, retries after a failure.
    mutating func nextWrite(now: Int64? = nil) -> NextAction {
        if abandoned { return .finish }
        let source: Source
        if !adoptedPending.isEmpty {
            source = .adopted
        } else if memoryHead < memory.count {
            source = .memory
        } else if journalPending > 0 {
            source = .journal
        } else {
            return closed ? .finish : .wait
        }
        if source == .memory, let until = holdUntil(now: now) { return .hold(until: until) }
        var write = Write(source: source, batches: [], submittedAt: 0, migrate: !migrated)
        if source == .memory {
            write.batches = coalesced()
            write.submittedAt = memory[memoryHead].submittedAt
            if let now { lastMemoryWriteAt = now }
        }
        inFlight = (source, source == .memory ? write.batches.count : 1)
        return .write(write)
    }

    /// When a write from memory is held (`nextWrite`), until when; nil: write now.
    private func holdUntil(now: Int64?) -> Int64? {
        let pace = configuration.paceNanos
        guard pace > 0, let now, let last = lastMemoryWriteAt, !closed, !failing,
              memoryStoreRows < configuration.coalesceRows / 2, now < last + pace else { return nil }
        return last + pace
    }

    /// The memory head and, when the store takes several at once, the batches queued
    /// behind it up to `coalesceRows` rows.
    private func coalesced() -> [Batch] {
        var batches = [memory[memoryHead].batch]
        let limit = configuration.coalesceRows
        guard limit > 0 else { return batches }
        var rows = batches[0].storeRows
        var i = memoryHead + 1
        while i < memory.count && rows < limit {
            batches.append(memory[i].batch)
            rows += memory[i].batch.storeRows
            i += 1
        }
        return batches
    }

    /// The journal record a write was to take could not be read. An earlier run's
    /// journal is given up (the writer keeps its file for a look) and the next source
    /// is tried; this run's journal is tried again after the next submit.
    mutating func unreadable() -> NextAction {
        guard let flight = inFlight else { return nextWrite() }
        inFlight = nil
        switch flight.source {
        case .adopted:
            adoptedPending.removeFirst()
            return nextWrite()
        case .journal, .memory:
            return closed ? .finish : .wait
        }
    }

    /// The migrations succeeded: later writes skip them.
    mutating func migrationsApplied() {
        migrated = true
    }

    /// True when partitions and retention are due (at the first write, then every
    /// interval); the next one is scheduled from `now`, whether or not this one works.
    mutating func maintenanceDue(now: Int64) -> Bool {
        guard now >= nextMaintenance else { return false }
        nextMaintenance = now + configuration.maintenanceIntervalNanos
        return true
    }

    /// The database committed the write in flight: its batches leave their queue.
    mutating func written() -> WrittenAction {
        guard let flight = inFlight else {
            return WrittenAction(applied: false, closeAdopted: false, recoveredAfter: nil)
        }
        inFlight = nil
        guard !abandoned else { return WrittenAction(applied: false, closeAdopted: false, recoveredAfter: nil) }
        var action = WrittenAction(applied: true, closeAdopted: false, recoveredAfter: failing ? failures : nil)
        switch flight.source {
        case .adopted:
            adoptedPending[0] -= 1
            if adoptedPending[0] == 0 {
                adoptedPending.removeFirst()
                action.closeAdopted = true
            }
        case .memory:
            popMemory(flight.count)
        case .journal:
            journalPending -= 1
        }
        failing = false
        failures = 0
        retryDelaySeconds = configuration.retryInitialSeconds
        return action
    }

    private mutating func popMemory(_ count: Int) {
        for _ in 0..<count {
            let e = memory[memoryHead]
            memoryHead += 1
            memoryRows -= e.batch.memoryWeight
            memoryPackets -= e.batch.packetCount
            memoryStoreRows -= e.batch.storeRows
        }
        if memoryHead >= 1024 && memoryHead * 2 >= memory.count {
            memory.removeFirst(memoryHead)
            memoryHead = 0
        }
    }

    /// The write in flight (or its migrations) failed: retry the same batches after the
    /// returned delay, which doubles up to `retryMaxSeconds` while the failures go on.
    mutating func failed() -> FailedAction {
        inFlight = nil
        failures += 1
        let action = FailedAction(retryAfterSeconds: retryDelaySeconds, first: !failing)
        failing = true
        retryDelaySeconds = min(retryDelaySeconds * 2, configuration.retryMaxSeconds)
        return action
    }

    // MARK: finishing

    /// No more submits are coming: the writer task ends once the queue is empty.
    mutating func close() {
        closed = true
    }

    /// Whether a finish is over: everything stored, or (with `stop`: the time ran out or
    /// the user gave up) the writer abandons and memory's rest goes to the journal.
    mutating func finishCheck(stop: Bool) -> FinishAction {
        if queueEmpty && inFlight == nil { return .done }
        guard stop else { return .keepWaiting }
        abandoned = true
        let rest = memory[memoryHead...].map(\.batch)
        memory.removeAll()
        memoryHead = 0
        memoryRows = 0
        memoryPackets = 0
        memoryStoreRows = 0
        return .abandon(rest)
    }
}
