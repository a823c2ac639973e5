import SniffCore
#if canImport(Glibc)
import Glibc
#endif

extension IPAddress {
    /// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 address it carries;
    /// any other address as it is. GeoIP, categories and PTR lookups treat the two alike.
    var unmappedIPv4: IPAddress {
        isIPv6 && high == 0 && low >> 32 == 0xFFFF ? IPAddress(v4: UInt32(truncatingIfNeeded: low)) : self
    }

    /// The address as a C socket address (port 0) and its length, for the C libraries
    /// that take one (libmaxminddb, getnameinfo). An IPv4-mapped IPv6 address is given
    /// as IPv4: not every GeoIP file aliases ::ffff:0:0/96, and its PTR record is the
    /// IPv4 one.
    func withSockaddr<T>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        let unmapped = unmappedIPv4
        if unmapped.isIPv6 != isIPv6 { return unmapped.withSockaddr(body) }
        if isIPv6 {
            var sa = sockaddr_in6()
            sa.sin6_family = sa_family_t(AF_INET6)
            withUnsafeMutableBytes(of: &sa.sin6_addr) { b in
                for i in 0..<8 { b[i] = UInt8(truncatingIfNeeded: high >> UInt64(56 - 8 * i)) }
                for i in 0..<8 { b[8 + i] = UInt8(truncatingIfNeeded: low >> UInt64(56 - 8 * i)) }
            }
            return withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    body($0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_addr.s_addr = v4.bigEndian
        return withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
}
