import SniffCore

/// Runs blocking SQLite work on a thread of its own, so that async callers (the
/// writer task, the server's handlers) never block the cooperative thread pool. The
/// thread owns one connection, opened on first use and reopened after a failure to open.
/// Unchecked Sendable: the job list and flags are under `lock`; the connection is the thread's.
final class SQLiteExecutor: @unchecked Sendable {
    private let lock = ConditionLock()
    private var jobs: [(SQLiteConnection?, Error?) -> Void] = []
    private var stopped = false
    private var thread: WorkerThread? = nil
    private let open: () throws -> SQLiteConnection

    init(name: String, open: @escaping () throws -> SQLiteConnection) {
        self.open = open
        thread = WorkerThread(name: name) { [unowned self] in self.loop() }
    }

    private func loop() {
        var connection: SQLiteConnection? = nil
        while true {
            let job: ((SQLiteConnection?, Error?) -> Void)? = lock.withLock {
                while jobs.isEmpty && !stopped { lock.wait(milliseconds: 1000) }
                if jobs.isEmpty { return nil }
                return jobs.removeFirst()
            }
            guard let job else { break }
            var openError: Error? = nil
            if connection == nil {
                do { connection = try open() } catch { openError = error }
            }
            job(connection, openError)
        }
        connection = nil
    }

    /// Runs `body` with the connection on the executor's thread.
    func run<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, Error>) in
            let accepted: Bool = lock.withLock {
                guard !stopped else { return false }
                jobs.append { conn, openError in
                    guard let conn else {
                        c.resume(
                            throwing: openError ?? StoreError.unreachable("the SQLite database is closed", detail: ""))
                        return
                    }
                    do { c.resume(returning: try body(conn)) } catch { c.resume(throwing: error) }
                }
                lock.signal()
                return true
            }
            if !accepted {
                c.resume(throwing: StoreError.unreachable("the SQLite store is closed", detail: "executor stopped"))
            }
        }
    }

    /// Finishes the queued jobs, closes the connection and ends the thread.
    func stop() {
        lock.withLock {
            stopped = true
            lock.broadcast()
        }
        thread?.join()
        thread = nil
    }
}
