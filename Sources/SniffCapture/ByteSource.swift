import SniffCore
#if canImport(Glibc)
import Glibc
#endif

/// Bytes of a capture file, seen through a sliding window.
///
/// Regular files are mapped whole, so every record is a view into the mapping and
/// nothing is copied; pages already read are given back as reading goes on. Pipes and
/// standard input are read in large chunks into one buffer that grows only as real data
/// arrives; a corrupt length field therefore cannot make Sniff allocate more than twice
/// what the input actually contained.
final class ByteSource {
    let path: String
    private let fd: Int32
    private var mapped: UnsafeRawPointer?
    private var mappedLength = 0
    private var buffer: UnsafeMutableRawPointer?
    private var bufferCapacity = 0
    /// Window [start, end) of valid bytes; `start` is the read position.
    private var start = 0
    private var end = 0
    private var eof = false
    /// Bytes consumed before the current window (for progress and error offsets).
    private(set) var consumedBefore: Int = 0
    let totalSize: Int?
    static let chunk = 4 << 20

    init(path: String) throws {
        self.path = path
        if path == "-" {
            fd = STDIN_FILENO
            totalSize = nil
        } else {
            let f = open(path, O_RDONLY | O_CLOEXEC)
            guard f >= 0 else { throw CaptureFileError.cannotOpen(path: path, errno: errno) }
            fd = f
            var st = stat()
            guard fstat(f, &st) == 0 else {
                let e = errno
                close(f)
                throw CaptureFileError.cannotOpen(path: path, errno: e)
            }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                close(f)
                throw CaptureFileError.isDirectory(path: path)
            }
            if (st.st_mode & S_IFMT) == S_IFREG {
                totalSize = Int(st.st_size)
                if st.st_size > 0, let m = mmap(nil, Int(st.st_size), PROT_READ, MAP_PRIVATE, f, 0), m != MAP_FAILED {
                    madvise(m, Int(st.st_size), MADV_SEQUENTIAL)
                    mapped = UnsafeRawPointer(m)
                    mappedLength = Int(st.st_size)
                    end = mappedLength
                    eof = true
                }
            } else {
                totalSize = nil
            }
        }
    }

    deinit {
        if let m = mapped { munmap(UnsafeMutableRawPointer(mutating: m), mappedLength) }
        buffer?.deallocate()
        if fd != STDIN_FILENO { close(fd) }
    }

    private var base: UnsafeRawPointer? { mapped ?? UnsafeRawPointer(buffer) }

    /// Position in the file of the next unread byte.
    var offset: Int { consumedBefore + start }

    /// Bytes available now without reading further.
    var available: Int { end - start }

    /// Makes at least `n` bytes available and returns them, or nil when the input ends
    /// first (then `available` tells how many were there).
    func peek(_ n: Int) throws -> UnsafeRawBufferPointer? {
        if end - start >= n {
            return UnsafeRawBufferPointer(start: base! + start, count: n)
        }
        while end - start < n {
            if eof { return nil }
            try fill(minimum: n)
        }
        return UnsafeRawBufferPointer(start: base! + start, count: n)
    }

    /// The `n` bytes that begin `offset` bytes past the read position, if the window
    /// holds them already; reads and consumes nothing.
    func buffered(at offset: Int, count n: Int) -> UnsafeRawBufferPointer? {
        guard offset >= 0, n >= 0, end - start - offset >= n, let b = base else { return nil }
        return UnsafeRawBufferPointer(start: b + start + offset, count: n)
    }

    func advance(_ n: Int) {
        start += n
        if mapped != nil && start &- released >= ByteSource.releaseStep { releaseConsumed() }
    }

    /// Read so far: the mapping before this offset has been given back.
    private var released = 0
    /// How far behind the read position pages are given back, and in what steps.
    static let releaseLag = 16 << 20
    static let releaseStep = 64 << 20

    /// Drops the pages of the mapping already read, except the last `releaseLag` bytes,
    /// from this process's resident set. Without it a 1 GB capture read to the end holds
    /// 1 GB of resident file pages, which made Sniff's peak RSS look like tshark's. The
    /// mapping is private, read-only and never written, so MADV_DONTNEED cannot change
    /// what it holds: a view still in use (a batch on another thread) faults the page
    /// back in from the file, which is still in the page cache.
    private func releaseConsumed() {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let upTo = (start &- ByteSource.releaseLag) / page * page
        guard upTo > released, let m = mapped else { return }
        madvise(UnsafeMutableRawPointer(mutating: m) + released, upTo - released, MADV_DONTNEED)
        released = upTo
    }

    /// Reads more input, compacting the window to the front and growing the buffer by
    /// doubling only when it is full of unread data.
    private func fill(minimum n: Int) throws {
        if buffer == nil {
            bufferCapacity = ByteSource.chunk
            buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferCapacity, alignment: 16)
        }
        if start > 0 {
            let live = end - start
            if live > 0 { memmove(buffer!, buffer! + start, live) }
            consumedBefore += start
            start = 0
            end = live
        }
        if end == bufferCapacity {
            let newCap = bufferCapacity * 2
            let nb = UnsafeMutableRawPointer.allocate(byteCount: newCap, alignment: 16)
            nb.copyMemory(from: buffer!, byteCount: end)
            buffer!.deallocate()
            buffer = nb
            bufferCapacity = newCap
        }
        let r = read(fd, buffer! + end, bufferCapacity - end)
        if r < 0 {
            if errno == EINTR { return }
            throw CaptureFileError.readFailed(path: path, errno: errno)
        }
        if r == 0 { eof = true } else { end += r }
    }
}
