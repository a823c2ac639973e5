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
