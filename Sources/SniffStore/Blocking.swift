import SniffCore

/// Runs async work from synchronous code and waits for it on the calling thread, which
/// is not one of the cooperative pool's. Used only where the caller cannot become
/// async: `sniff`'s main thread running an async command (an async main would end that
/// thread, which then keeps uid 0 after `--user`), and the capture's own threads
/// (`-r/-i --store`, `--serve`), which block in their packet loops by design.
public enum Blocking {
    /// Unchecked Sendable: `result` is written and read under the lock `run` shares with the task.
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
