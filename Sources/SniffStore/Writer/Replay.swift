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
