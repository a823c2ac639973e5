#if canImport(Glibc)
import Glibc
#endif

/// Zeroed memory for large hash tables, from mmap with transparent huge pages
/// requested: tables of hundreds of megabytes are probed at random, and 2 MiB pages
/// spare most TLB misses. Zero pages come from the kernel, so the table needs no
/// initialising pass when all-zero bytes mean "empty".
public enum LargeAllocation {
    public static func allocateZeroed(bytes: Int) -> UnsafeMutableRawPointer {
        let length = max(bytes, 1)
        guard let p = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else {
            // Out of address space: fall back to the allocator, zeroed by hand.
            let q = UnsafeMutableRawPointer.allocate(byteCount: length, alignment: 64)
            q.initializeMemory(as: UInt8.self, repeating: 0, count: length)
            return q
        }
        if length >= 4 << 20 { madvise(p, length, MADV_HUGEPAGE) }
        return p
    }

    public static func free(_ p: UnsafeMutableRawPointer, bytes: Int) {
        munmap(p, max(bytes, 1))
    }
}
