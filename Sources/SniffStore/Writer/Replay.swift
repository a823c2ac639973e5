import SniffCore

/// Writes a journal left by an earlier run into a store. Batches the store already
/// holds are skipped by their ids, so replaying twice, or replaying a journal whose
/// run had stored part of it, stores each batch once. The file is deleted when all of
/// it is stored.
public enum JournalReplay {
    public struct Result: Sendable, Equatable {
        public var batches = 0
        public var duplicates = 0
        public var packets = 0
        /// False when another process holds the journal.
        public var replayed = true
    }

    public static func replay(path: String, into store: any PacketStore) async throws -> Result {
        var result = Result()
        guard let j = try Journal.adopt(path: path) else {
            result.replayed = false
            return result
        }
        defer { j.close() }
        while let batch = try j.peek() {
            let stored = try await store.write(batch)
            j.advance()
            result.batches += 1
            if !stored { result.duplicates += 1 }
            result.packets += batch.packetCount
        }
        return result
    }
}

/// `--retention 7d`: a duration in s, m, h, d or w.
public enum RetentionText {
    public static func nanoseconds(_ text: String) -> Int64? {
        guard let unit = text.last, let n = Int64(text.dropLast()), n > 0 else { return nil }
        let seconds: Int64
        switch unit {
        case "s": seconds = 1
        case "m": seconds = 60
        case "h": seconds = 3600
        case "d": seconds = 86_400
        case "w": seconds = 604_800
        default: return nil
        }
        let (v, o) = n.multipliedReportingOverflow(by: seconds * 1_000_000_000)
        return o ? nil : v
    }
}

/// Runs async work from synchronous code (the command line's commands) and waits for
/// it on the calling thread, which is not one of the cooperative pool's.
public enum Blocking {
    final class Box<T>: @unchecked Sendable { var result: Swift.Result<T, Error>? }

    public static func run<T>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let box = Box<T>()
        let lock = ConditionLock()
        Task.detached {
            let r: Swift.Result<T, Error>
            do { r = .success(try await body()) } catch { r = .failure(error) }
            lock.withLock {
                box.result = r
                lock.broadcast()
            }
        }
        return try lock.withLock {
            while box.result == nil { lock.wait(milliseconds: 100) }
            return try box.result!.get()
        }
    }
}

/// Runs `body` with a time limit, for database operations that a dead connection
/// could leave waiting forever (postgres-nio 1.33 does not always fail a COPY whose
/// server went away). On timeout `onTimeout` runs (close the connection) and the
/// caller gets `StoreError.unreachable` at once; the abandoned operation is cancelled
/// and left to end on its own.
enum Deadline {
    final class State<T: Sendable>: @unchecked Sendable {
        private let lock = ConditionLock()
        private var continuation: CheckedContinuation<T, Error>?
        init(_ c: CheckedContinuation<T, Error>) { continuation = c }

        /// Resumes the caller once; true for the first result.
        func finish(_ r: Result<T, Error>) -> Bool {
            let c: CheckedContinuation<T, Error>? = lock.withLock {
                defer { continuation = nil }
                return continuation
            }
            c?.resume(with: r)
            return c != nil
        }
    }

    final class Handle: @unchecked Sendable {
        private let lock = ConditionLock()
        private var task: Task<Void, Never>?
        private var cancelled = false
        func set(_ t: Task<Void, Never>) {
            let cancelNow: Bool = lock.withLock { task = t; return cancelled }
            if cancelNow { t.cancel() }
        }
        func cancel() {
            let t: Task<Void, Never>? = lock.withLock { cancelled = true; return task }
            t?.cancel()
        }
    }

    static func run<T: Sendable>(seconds: Double, what: String, onTimeout: @escaping @Sendable () -> Void,
                                 _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, Error>) in
            let state = State(c)
            let work = Handle()
            // The timer's sleep ends early when the work finishes and cancels it.
            let timer = Task {
                try? await Task.sleep(nanoseconds: UInt64(max(0, seconds) * 1e9))
                if Task.isCancelled { return }
                let message = "the database did not answer within \(Int(seconds)) s (\(what)); retrying on a new connection"
                if state.finish(.failure(StoreError.unreachable(message, detail: "deadline"))) {
                    work.cancel()
                    onTimeout()
                }
            }
            work.set(Task {
                let r: Result<T, Error>
                do { r = .success(try await body()) } catch { r = .failure(error) }
                if state.finish(r) { timer.cancel() }
            })
        }
    }
}
