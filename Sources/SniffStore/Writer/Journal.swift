#if canImport(Glibc)
import Glibc
#endif
import SniffCore

/// A local file of batches waiting for the database: appended to when the in-memory
/// queue is full, read back in order once the database takes writes again.
///
/// Layout: an 8-byte magic, then records of [payload length u32][FNV-1a of the payload
/// u32][packet rows u32][payload]. A record cut short by a crash is ignored on replay;
/// the file is held with `flock` so that two processes never replay it at once.
final class Journal {
    static let magic: [UInt8] = Array("SNIFFJ1\n".utf8)
    static let fileExtension = "sniffj"
    static let recordHeader = 12

    let path: String
    private var fd: Int32
    private var readOffset: Int
    private var writeOffset: Int
    /// Records appended and not yet consumed, and the packet rows in them.
    private(set) var pendingRecords = 0
    private(set) var pendingPackets = 0
    private var peekedSize = 0
    private var peekedPackets = 0

    private init(path: String, fd: Int32, readOffset: Int, writeOffset: Int) {
        self.path = path
        self.fd = fd
        self.readOffset = readOffset
        self.writeOffset = writeOffset
    }

    deinit { if fd >= 0 { _ = Glibc.close(fd) } }

    /// Creates a new journal (the directory is created when missing).
    static func create(path: String) throws -> Journal {
        if let slash = path.lastIndex(of: "/") {
            let dir = String(path[..<slash])
            if !dir.isEmpty { _ = mkdir(dir, 0o755) }
        }
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw failure(creating: true, path: path, errno: errno)
        }
        _ = flock(fd, LOCK_EX | LOCK_NB)
        let j = Journal(path: path, fd: fd, readOffset: magic.count, writeOffset: magic.count)
        do {
            try j.writeAll(magic, at: 0)
        } catch {
            // A file without its magic would be refused as "not a Sniff journal" by the
            // next run: leave nothing behind.
            unlink(path)
            throw error
        }
        return j
    }

    /// A failed write or create, with the words a user looks for when the disk is full.
    static func failure(creating: Bool, path: String, errno e: Int32) -> StoreError {
        let reason = String(cString: strerror(e))
        let verb = creating ? "create" : "write"
        if e == ENOSPC || e == EDQUOT {
            let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
            return StoreError.journal("the journal's disk is full: cannot \(verb) \(path) (\(reason)); free space in \(dir.isEmpty ? "/" : dir) or pass --journal DIR on a disk with room")
        }
        return StoreError.journal(
            "cannot \(verb) the journal \(path): \(reason); check the directory or pass --journal DIR")
    }

    /// Opens a journal left by an earlier run; nil when another process holds it.
    static func adopt(path: String) throws -> Journal? {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else {
            throw StoreError.journal("cannot open the journal \(path): \(String(cString: strerror(errno)))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 { _ = Glibc.close(fd); return nil }
        var st = stat()
        fstat(fd, &st)
        let size = Int(st.st_size)
        var head = [UInt8](repeating: 0, count: magic.count)
        let n = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, magic.count, 0) }
        guard n == magic.count, head == magic else {
            _ = Glibc.close(fd)
            throw StoreError.journal("\(path) is not a Sniff journal")
        }
        let j = Journal(path: path, fd: fd, readOffset: magic.count, writeOffset: size)
        // Count the whole records; a torn tail is cut off.
        var off = magic.count
        while let (len, _, packets) = j.recordHeader(at: off), off + recordHeader + len <= size {
            j.pendingRecords += 1
            j.pendingPackets += packets
            off += recordHeader + len
        }
        j.writeOffset = off
        return j
    }

    var isEmpty: Bool { pendingRecords == 0 }
    var fileBytes: Int { writeOffset }

    func append(_ batch: StoreBatch) throws {
        var w = BinaryWriter(capacity: 64 + batch.content.rowCount * 64)
        BatchCodec.encode(batch, into: &w)
        var rec = BinaryWriter(capacity: w.bytes.count + Journal.recordHeader)
        rec.uint32(UInt32(w.bytes.count))
        rec.uint32(Journal.fnv(w.bytes))
        rec.uint32(UInt32(batch.packetCount))
        rec.bytes.append(contentsOf: w.bytes)
        do {
            try writeAll(rec.bytes, at: writeOffset)
        } catch {
            // Cut the torn record off: the file stays a valid journal of the batches
            // before it, and the blocks it took go back to the disk.
            _ = ftruncate(fd, off_t(writeOffset))
            throw error
        }
        writeOffset += rec.bytes.count
        pendingRecords += 1
        pendingPackets += batch.packetCount
    }

    /// The oldest unconsumed batch, without consuming it.
    func peek() throws -> StoreBatch? {
        guard pendingRecords > 0, let (len, sum, packets) = recordHeader(at: readOffset) else { return nil }
        var payload = [UInt8](repeating: 0, count: len)
        let got = payload.withUnsafeMutableBytes {
            pread(fd, $0.baseAddress, len, off_t(readOffset + Journal.recordHeader))
        }
        guard got == len, Journal.fnv(payload) == sum else {
            throw StoreError.journal(
                "the journal \(path) is damaged at byte \(readOffset); the batches before it were replayed")
        }
        let batch = try payload.withUnsafeBytes { raw -> StoreBatch in
            var r = BinaryReader(raw)
            do { return try BatchCodec.decode(&r) } catch {
                throw StoreError.journal("the journal \(path) has an unreadable batch at byte \(readOffset)")
            }
        }
        peekedSize = Journal.recordHeader + len
        peekedPackets = packets
        return batch
    }

    /// Consumes the batch returned by the last `peek`; empties the file when all are.
    func advance() {
        guard peekedSize > 0 else { return }
        readOffset += peekedSize
        pendingRecords -= 1
        pendingPackets -= peekedPackets
        peekedSize = 0
        if pendingRecords == 0 {
            _ = ftruncate(fd, off_t(Journal.magic.count))
            readOffset = Journal.magic.count
            writeOffset = Journal.magic.count
        }
    }

    func sync() { _ = fsync(fd) }

    /// Closes the file, deleting it when nothing is left in it.
    func close(removeIfEmpty: Bool = true) {
        guard fd >= 0 else { return }
        if removeIfEmpty && pendingRecords == 0 { unlink(path) } else { _ = fsync(fd) }
        _ = Glibc.close(fd)
        fd = -1
    }

    private func recordHeader(at off: Int) -> (Int, UInt32, Int)? {
        var h = [UInt8](repeating: 0, count: Journal.recordHeader)
        let n = h.withUnsafeMutableBytes { pread(fd, $0.baseAddress, Journal.recordHeader, off_t(off)) }
        guard n == Journal.recordHeader else { return nil }
        return h.withUnsafeBytes { raw in
            var r = BinaryReader(raw)
            let len = Int((try? r.uint32()) ?? 0)
            let sum = (try? r.uint32()) ?? 0
            let packets = Int((try? r.uint32()) ?? 0)
            return (len, sum, packets)
        }
    }

    private func writeAll(_ bytes: [UInt8], at offset: Int) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes {
                pwrite(fd, $0.baseAddress! + done, bytes.count - done, off_t(offset + done))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw Journal.failure(creating: false, path: path, errno: errno)
            }
            done += n
        }
    }

    static func fnv(_ bytes: [UInt8]) -> UInt32 {
        var h: UInt32 = 0x811C_9DC5
        for b in bytes { h = (h ^ UInt32(b)) &* 0x0100_0193 }
        return h
    }

    /// Journal files in `dir` (oldest name first).
    static func files(in dir: String) -> [String] {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasSuffix("." + fileExtension) { out.append(dir + "/" + name) }
        }
        return out.sorted()
    }
}
