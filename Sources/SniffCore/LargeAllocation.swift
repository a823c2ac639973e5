#if canImport(Glibc)
import Glibc
#endif

/// Zeroed memory for large hash tables, from mmap with transparent huge pages
/// requested: tables of hundreds of megabytes are probed at random, and 2 MiB pages
/// spare most TLB misses. Zero pages come from the kernel, so the table needs no
/// initialising pass when all-zero bytes mean "empty".
///
/// Measured on `sniff -r -q` over 3.6 M packets (1.5 M endpoints and flows) on this
/// 2-core VM: without the huge-page advice, user time rose by about as much as system
/// time fell (compaction for 2 MiB pages), so the advice stays; the kernel's cost of
/// zeroing first-touched pages is a fifth of that run either way.
public enum LargeAllocation {
    /// Mappings from this size up get the huge-page advice.
    public static let hugePageThreshold = 4 << 20

    public static func allocateZeroed(bytes: Int) -> UnsafeMutableRawPointer {
        let length = max(bytes, 1)
        guard let p = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED
        else {
            // `free` unmaps, so memory from the allocator cannot be handed out instead.
            fatalError("sniff: out of memory: cannot map \(length) bytes for a table (errno \(errno))")
        }
        if length >= hugePageThreshold { madvise(p, length, MADV_HUGEPAGE) }
        return p
    }

    /// Faults in every page of `bytes` at `p` as a write would, without writing: the
    /// kernel zeroes them now, on the calling thread, instead of at their first write.
    /// A table's owner runs this on a helper thread for a table it will use soon
    /// (`EndpointTable`); since nothing is written, the owner may already be writing the
    /// same memory. Returns false where the kernel cannot (before Linux 5.14): the pages
    /// are then zeroed at first write, as without it.
    @discardableResult
    public static func prefault(_ p: UnsafeMutableRawPointer, bytes: Int) -> Bool {
        // MADV_POPULATE_WRITE (Linux 5.14), not in every Glibc's headers.
        madvise(p, max(bytes, 1), 23) == 0
    }

    public static func free(_ p: UnsafeMutableRawPointer, bytes: Int) {
        munmap(p, max(bytes, 1))
    }
}
