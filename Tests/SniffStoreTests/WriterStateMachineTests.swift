import Testing
@testable import SniffStore

/// The store writer's decisions on their own: no database, no journal file, no clock.
@Suite("Store writer state machine")
struct WriterStateMachineTests {
    /// A batch reduced to what the machine reads of one.
    struct Item: WriterQueueItem, Equatable {
        var id: Int
        var rows: Int
        var memoryWeight: Int { rows }
        var packetCount: Int { rows }
        var storeRows: Int { rows }
    }

    typealias Machine = WriterStateMachine<Item>

    static func machine(memory: Int = 10, coalesce: Int = 0, migrate: Bool = false, adopted: [Int] = [],
                        pace: Int64 = 0) -> Machine {
        Machine(configuration: .init(memoryLimitRows: memory, coalesceRows: coalesce, retryInitialSeconds: 0.1,
                                     retryMaxSeconds: 0.5, maintenanceIntervalNanos: 1000, migrate: migrate,
                                     paceNanos: pace),
                adoptedPending: adopted)
    }

    /// The next action in a word: "wait", "finish", "hold until T", or the write's source
    /// and batch ids ("memory [1, 2]"; a journal's record is read by the writer: "journal []").
    static func next(_ m: inout Machine, now: Int64? = nil) -> String {
        switch m.nextWrite(now: now) {
        case .write(let w): return "\(w.source) \(w.batches.map(\.id))"
        case .wait: return "wait"
        case .hold(let until): return "hold until \(until)"
        case .finish: return "finish"
        }
    }

    @Test("""
        the pace holds a write from memory while few rows are queued and the last began less than \
        the pace ago; a close, half the coalescing bound, a failure, journals and no clock are never held
        """)
    func pace() {
        var m = Self.machine(memory: 1000, coalesce: 100, pace: 1000)
        _ = m.submitted(Item(id: 1, rows: 10), now: 0)
        // The first write is never held: there is no previous one.
        #expect(Self.next(&m, now: 5) == "memory [1]")
        _ = m.submitted(Item(id: 2, rows: 10), now: 6)
        _ = m.written()
        #expect(Self.next(&m, now: 300) == "hold until 1005")
        _ = m.submitted(Item(id: 3, rows: 10), now: 400)
        #expect(Self.next(&m, now: 400) == "hold until 1005")
        // Without a clock (the journal's unreadable-record path), nothing is held.
        #expect(Self.next(&m, now: nil) == "memory [2, 3]")
        _ = m.written()
        // Half the coalescing bound queued: written at once, in one call.
        for i in 4...8 { _ = m.submitted(Item(id: i, rows: 10), now: 500) }
        #expect(Self.next(&m, now: 500) == "memory [4, 5, 6, 7, 8]")
        _ = m.written()
        // Time up: written.
        _ = m.submitted(Item(id: 9, rows: 10), now: 600)
        #expect(Self.next(&m, now: 1499) == "hold until 1500")
        #expect(Self.next(&m, now: 1500) == "memory [9]")
        // After a failure the retry is not held (its backoff already waited).
        _ = m.failed()
        #expect(Self.next(&m, now: 1600) == "memory [9]")
        _ = m.written()
        // Closed: a finishing writer's last call never waits for the pace.
        _ = m.submitted(Item(id: 10, rows: 10), now: 1700)
        #expect(Self.next(&m, now: 1700) == "hold until 2600")
        m.close()
        #expect(Self.next(&m, now: 1700) == "memory [10]")
        _ = m.written()
        #expect(Self.next(&m, now: 1800) == "finish")
        #expect(m.memoryStoreRows == 0)
    }

    @Test("without a pace nothing is held")
    func noPace() {
        var m = Self.machine(memory: 1000, coalesce: 100)
        _ = m.submitted(Item(id: 1, rows: 10), now: 0)
        #expect(Self.next(&m, now: 1) == "memory [1]")
        _ = m.written()
        _ = m.submitted(Item(id: 2, rows: 10), now: 2)
        #expect(Self.next(&m, now: 3) == "memory [2]")
    }

    @Test("memory takes batches up to its bound; past it, and while the journal holds any, they spill")
    func submitSpillsPastTheBoundAndKeepsOrder() {
        var m = Self.machine(memory: 10)
        do {
            let got = m.submitted(Item(id: 1, rows: 4), now: 1)
            #expect(got == .keepInMemory)
        }
        do {
            let got = m.submitted(Item(id: 2, rows: 6), now: 2)
            #expect(got == .keepInMemory)
        }
        #expect(m.memoryRows == 10 && m.memoryPackets == 10)
        do {
            let got = m.submitted(Item(id: 3, rows: 1), now: 3)
            #expect(got == .spill)
        }
        m.spilled()
        // Memory has room again after a write, but the journal is not empty: order first.
        guard case .write(let w) = m.nextWrite() else { Issue.record("no write"); return }
        #expect(w.source == .memory && w.batches.map(\.id) == [1] && w.submittedAt == 1)
        do {
            let got = m.written()
            #expect(got == .init(applied: true, closeAdopted: false, recoveredAfter: nil))
        }
        do {
            let got = m.submitted(Item(id: 4, rows: 1), now: 4)
            #expect(got == .spill)
        }
        m.spilled()
        #expect(m.journalPending == 2)
        // A batch the journal refused (lost) changes nothing: no `spilled()`.
        do {
            let got = m.submitted(Item(id: 5, rows: 1), now: 5)
            #expect(got == .spill)
        }
        #expect(m.journalPending == 2)
    }

    @Test("a write from memory coalesces the batches behind the head up to the store's rows; 0 takes one")
    func coalescing() {
        var m = Self.machine(memory: 100, coalesce: 10)
        for i in 1...5 { _ = m.submitted(Item(id: i, rows: 4), now: Int64(i)) }
        // 4, 8 (< 10: take another), 12: stop.
        do {
            let got = Self.next(&m)
            #expect(got == "memory [1, 2, 3]")
        }
        _ = m.written()
        #expect(m.memoryRows == 8)
        do {
            let got = Self.next(&m)
            #expect(got == "memory [4, 5]")
        }
        var one = Self.machine(memory: 100, coalesce: 0)
        for i in 1...3 { _ = one.submitted(Item(id: i, rows: 1), now: 0) }
        do {
            let got = Self.next(&one)
            #expect(got == "memory [1]")
        }
    }

    @Test("journal records go one at a time and never coalesce")
    func journalOneAtATime() {
        var m = Self.machine(memory: 0, coalesce: 1000)
        for i in 1...3 {
            do {
                let got = m.submitted(Item(id: i, rows: 1), now: 0)
                #expect(got == .spill)
            }
            m.spilled()
        }
        for _ in 1...3 {
            guard case .write(let w) = m.nextWrite() else { Issue.record("no write"); return }
            #expect(w.source == .journal && w.batches.isEmpty && w.submittedAt == 0)
            _ = m.written()
        }
        #expect(m.journalPending == 0)
        do {
            let got = Self.next(&m)
            #expect(got == "wait")
        }
    }

    @Test("an outage: the same batches are retried with doubling backoff up to the maximum, spilled batches wait, and after the recovery earlier runs' journals, memory and this run's journal go in that order")
    func outageSpillRetryReplayOrder() {
        var m = Self.machine(memory: 8, coalesce: 100, adopted: [2, 0, 1])
        #expect(m.adoptedPending == [2, 1], "an empty adopted journal is not a source")
        _ = m.submitted(Item(id: 1, rows: 4), now: 10)
        _ = m.submitted(Item(id: 2, rows: 4), now: 11)
        do {
            let got = m.submitted(Item(id: 3, rows: 4), now: 12)
            #expect(got == .spill)
        }
        m.spilled()
        // The database is down: the first adopted record fails again and again.
        var delays: [Double] = []
        var firsts: [Bool] = []
        for _ in 0..<5 {
            do {
                let got = Self.next(&m)
                #expect(got == "adopted []")
            }
            let f = m.failed()
            delays.append(f.retryAfterSeconds)
            firsts.append(f.first)
        }
        #expect(delays == [0.1, 0.2, 0.4, 0.5, 0.5])
        #expect(firsts == [true, false, false, false, false])
        #expect(m.failing && m.failures == 5)
        // Meanwhile submits keep going to the journal, behind what it holds.
        do {
            let got = m.submitted(Item(id: 4, rows: 1), now: 13)
            #expect(got == .spill)
        }
        m.spilled()
        // Back: the order of the writes.
        var order: [String] = []
        var closes: [Bool] = []
        var recovered: [Int?] = []
        while case let step = Self.next(&m), step != "wait" {
            order.append(step)
            let done = m.written()
            closes.append(done.closeAdopted)
            recovered.append(done.recoveredAfter)
        }
        #expect(order == ["adopted []", "adopted []", "adopted []", "memory [1, 2]", "journal []", "journal []"])
        #expect(closes == [false, true, true, false, false, false])
        #expect(recovered == [5, nil, nil, nil, nil, nil])
        #expect(m.retryDelaySeconds == 0.1 && !m.failing && m.queueEmpty)
    }

    @Test("migrations are asked for until they succeed; maintenance at the first write, then once per interval")
    func migrationAndMaintenance() {
        var m = Self.machine(migrate: true)
        _ = m.submitted(Item(id: 1, rows: 1), now: 0)
        guard case .write(let first) = m.nextWrite() else { Issue.record("no write"); return }
        #expect(first.migrate)
        _ = m.failed()
        guard case .write(let again) = m.nextWrite() else { Issue.record("no write"); return }
        #expect(again.migrate, "a failed migration is tried again")
        m.migrationsApplied()
        do {
            let got = m.maintenanceDue(now: 5000)
            #expect(got)
        }
        do {
            let got = m.maintenanceDue(now: 5999)
            #expect(!got)
        }
        do {
            let got = m.maintenanceDue(now: 6000)
            #expect(got)
        }
        _ = m.written()
        _ = m.submitted(Item(id: 2, rows: 1), now: 0)
        guard case .write(let later) = m.nextWrite() else { Issue.record("no write"); return }
        #expect(!later.migrate)
    }

    @Test("closing with an empty queue finishes; with batches queued, the writer drains them first")
    func closeDrains() {
        var m = Self.machine()
        do {
            let got = Self.next(&m)
            #expect(got == "wait", "nothing queued")
        }
        #expect(!m.hasWork)
        _ = m.submitted(Item(id: 1, rows: 1), now: 0)
        #expect(m.hasWork)
        m.close()
        guard case .keepWaiting = m.finishCheck(stop: false) else {
            Issue.record("finished with a batch queued"); return
        }
        do {
            let got = Self.next(&m)
            #expect(got == "memory [1]")
        }
        guard case .keepWaiting = m.finishCheck(stop: false) else {
            Issue.record("finished with a write in flight"); return
        }
        _ = m.written()
        guard case .done = m.finishCheck(stop: false) else { Issue.record("not done once stored"); return }
        do {
            let got = Self.next(&m)
            #expect(got == "finish", "closed and empty: the task ends")
        }
    }

    @Test("closing while the database is down: at the deadline memory's rest (in flight too) is handed to the journal in order, a late success pops nothing, and later submits spill")
    func closeWhileDown() {
        var m = Self.machine(memory: 100, coalesce: 2)
        for i in 1...4 { _ = m.submitted(Item(id: i, rows: 1), now: 0) }
        m.close()
        do {
            let got = Self.next(&m)
            #expect(got == "memory [1, 2]")
        }
        guard case .abandon(let rest) = m.finishCheck(stop: true) else { Issue.record("not abandoned"); return }
        #expect(rest.map(\.id) == [1, 2, 3, 4])
        #expect(m.abandoned && m.memoryRows == 0 && m.memoryPackets == 0)
        do {
            let got = m.written()
            #expect(got == .init(applied: false, closeAdopted: false, recoveredAfter: nil))
        }
        do {
            let got = Self.next(&m)
            #expect(got == "finish", "abandoned: the task ends")
        }
        do {
            let got = m.submitted(Item(id: 5, rows: 1), now: 0)
            #expect(got == .spill)
        }
    }

    @Test("an unreadable record: an earlier run's journal is given up for the next source; this run's waits for the next submit")
    func unreadableRecords() {
        var m = Self.machine(memory: 0, adopted: [3])
        do {
            let got = m.submitted(Item(id: 1, rows: 1), now: 0)
            #expect(got == .spill)
        }
        m.spilled()
        do {
            let got = Self.next(&m)
            #expect(got == "adopted []")
        }
        guard case .write(let w) = m.unreadable() else { Issue.record("no next source"); return }
        #expect(w.source == .journal && m.adoptedPending.isEmpty)
        guard case .wait = m.unreadable() else { Issue.record("an unreadable journal did not wait"); return }
        #expect(m.journalPending == 1 && m.inFlight == nil)
        m.close()
        _ = m.nextWrite()
        guard case .finish = m.unreadable() else {
            Issue.record("closed: an unreadable journal did not finish"); return
        }
    }

    @Test("memory's array is compacted once its head passes half of it, with the counts kept")
    func compaction() {
        var m = Self.machine(memory: 10_000)
        for i in 0..<3000 { _ = m.submitted(Item(id: i, rows: 1), now: 0) }
        for _ in 0..<2000 {
            _ = m.nextWrite()
            _ = m.written()
        }
        #expect(m.memoryHead < 1024 && m.memory.count == 3000 - 2000 + m.memoryHead)
        #expect(m.memoryRows == 1000)
        do {
            let got = Self.next(&m)
            #expect(got == "memory [2000]")
        }
    }
}
