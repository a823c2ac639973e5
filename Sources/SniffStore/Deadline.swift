import SniffCore

/// Runs `body` with a time limit, for database operations that a dead connection
/// could leave waiting forever (postgres-nio 1.33 does not always fail a COPY whose
/// server went away). On timeout `onTimeout` runs (close the connection) and the
/// caller gets `StoreError.unreachable` at once; the abandoned operation is cancelled
/// and left to end on its own.
enum Deadline {
    /// Unchecked Sendable: `continuation` is under `lock`.
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

    /// Unchecked Sendable: `task` and `cancelled` are under `lock`.
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
                let message =
                    "the database did not answer within \(Int(seconds)) s (\(what)); retrying on a new connection"
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
