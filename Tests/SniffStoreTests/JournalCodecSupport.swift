import Testing
@testable import SniffStore

/// Journal batches through `BatchCodec`, as the journal writes and replays them.
enum JournalCodec {
    /// The batch written and read back; the reader must end where the batch ends.
    static func roundTrip(_ batch: StoreBatch) throws -> StoreBatch {
        var w = BinaryWriter()
        BatchCodec.encode(batch, into: &w)
        return try decode(w, whole: true)
    }

    /// The batch held by bytes written by hand (e.g. as an older Sniff wrote them).
    static func decode(_ w: BinaryWriter, whole: Bool = false) throws -> StoreBatch {
        try w.bytes.withUnsafeBytes { raw -> StoreBatch in
            var r = BinaryReader(raw)
            let d = try BatchCodec.decode(&r)
            if whole { #expect(r.isAtEnd) }
            return d
        }
    }
}
