import SniffCore
import CMaxMindDB
#if canImport(Glibc)
import Glibc
#endif

/// What a MaxMind DB file says about one address. Fields the file does not have
/// stay nil.
public struct GeoRecord: Sendable, Equatable {
    /// ISO 3166-1 alpha-2, as GeoLite2 and DB-IP write it ("DE").
    public var countryCode: String?
    public var city: String?
    public var asn: UInt32?
    /// The ASN's organisation ("Deutsche Telekom AG").
    public var organization: String?

    public init(countryCode: String? = nil, city: String? = nil, asn: UInt32? = nil, organization: String? = nil) {
        self.countryCode = countryCode
        self.city = city
        self.asn = asn
        self.organization = organization
    }

    public var isEmpty: Bool { countryCode == nil && city == nil && asn == nil && organization == nil }

    /// Fills what this record lacks from `other` (a City file and an ASN file together).
    mutating func merge(_ other: GeoRecord) {
        countryCode = countryCode ?? other.countryCode
        city = city ?? other.city
        asn = asn ?? other.asn
        organization = organization ?? other.organization
    }
}

/// Why a MaxMind DB file cannot be used, with the file named.
public struct GeoIPError: SniffError, Equatable {
    public let path: String
    public let reason: String
    /// A readable MaxMind DB of another kind (Anonymous-IP, ISP ...): skipped in folders.
    public var isWrongKind = false
    public var userMessage: String { "cannot use GeoIP database \(path): \(reason)" }
    /// Only a file the user named reaches the user as an error: a usage error.
    public var exitCode: Int32 { 64 }
}

/// One open MaxMind DB file (GeoLite2 or DB-IP lite) of a kind Sniff reads: Country,
/// City or ASN, told by the file's `database_type`. The file is memory-mapped;
/// lookups are read-only and safe from any thread.
/// Unchecked Sendable: the mapped file is only read after open.
public final class MaxMindDatabase: @unchecked Sendable {
    public enum Kind: String, Sendable {
        case country, city, asn
    }
    public let path: String
    public let kind: Kind
    /// The file's own name for itself ("GeoLite2-City", "DBIP-ASN-Lite").
    public let databaseType: String
    private let mmdb: UnsafeMutablePointer<MMDB_s>
    /// The file's tree is an IPv6 one (IPv4 inside it under ::/96).
    private let isIPv6Tree: Bool

    public init(path: String) throws {
        self.path = path
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw GeoIPError(path: path, reason: "\(String(cString: strerror(errno))); check the path")
        }
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw GeoIPError(path: path, reason: "not a regular file; give an .mmdb file or a folder holding them")
        }
        mmdb = .allocate(capacity: 1)
        let status = MMDB_open(path, UInt32(MMDB_MODE_MMAP), mmdb)
        guard status == MMDB_SUCCESS else {
            mmdb.deallocate()
            let why = String(cString: MMDB_strerror(status))
            throw GeoIPError(path: path, reason: "\(why) (not a MaxMind DB file, or a damaged one); download it again")
        }
        let type = mmdb.pointee.metadata.database_type.map { String(cString: $0) } ?? ""
        databaseType = type
        isIPv6Tree = mmdb.pointee.metadata.ip_version == 6
        let lower = type.lowercased()
        if lower.contains("asn") {
            kind = .asn
        } else if lower.contains("city") {
            kind = .city
        } else if lower.contains("country") {
            kind = .country
        } else {
            MMDB_close(mmdb)
            mmdb.deallocate()
            throw GeoIPError(
                path: path, reason: "its database type is \"\(type)\", not a Country, City or ASN database",
                isWrongKind: true)
        }
    }

    deinit {
        MMDB_close(mmdb)
        mmdb.deallocate()
    }

    /// What the file says about `address`; an empty record when it has nothing.
    public func lookup(_ address: IPAddress) -> GeoRecord { lookupNetwork(address).record }

    /// What the file says about `address`, and the prefix length of the tree's network
    /// around it (an IPv4 length for IPv4 and IPv4-mapped addresses): every address of
    /// that network has the same answer, an empty one included. The address's full
    /// length when the file could not be asked (an IPv6 address in an IPv4-only file).
    func lookupNetwork(_ address: IPAddress) -> (record: GeoRecord, prefixLength: Int) {
        var mmdbError: Int32 = 0
        var result = address.withSockaddr { sa, _ in MMDB_lookup_sockaddr(mmdb, sa, &mmdbError) }
        var record = GeoRecord()
        let a = address.unmappedIPv4
        guard mmdbError == MMDB_SUCCESS else { return (record, a.isIPv6 ? 128 : 32) }
        // An IPv6 file keeps IPv4 under ::/96, and says the length in IPv6 bits; one
        // shorter than 96 is a record holding all of IPv4.
        var length = Int(result.netmask)
        if !a.isIPv6 && isIPv6Tree { length = max(length - 96, 0) }
        guard result.found_entry else { return (record, length) }
        switch kind {
        case .asn:
            record.asn = Self.uint32(&result.entry, MMDBPath.asNumber)
            record.organization = Self.string(&result.entry, MMDBPath.asOrganization)
        case .city, .country:
            record.countryCode = Self.string(&result.entry, MMDBPath.countryCode)
                ?? Self.string(&result.entry, MMDBPath.registeredCountryCode)
            if kind == .city { record.city = Self.string(&result.entry, MMDBPath.cityName) }
        }
        return (record, length)
    }

    private static func value(_ entry: inout MMDB_entry_s, _ path: MMDBPath) -> MMDB_entry_data_s? {
        var data = MMDB_entry_data_s()
        let status = MMDB_aget_value(&entry, &data, path.keys)
        guard status == MMDB_SUCCESS, data.has_data else { return nil }
        return data
    }

    private static func string(_ entry: inout MMDB_entry_s, _ path: MMDBPath) -> String? {
        guard let d = value(&entry, path), d.type == UInt32(MMDB_DATA_TYPE_UTF8_STRING),
              let p = d.utf8_string else { return nil }
        let bytes = UnsafeRawBufferPointer(start: p, count: Int(d.data_size))
        // Control bytes would break the text report's layout; writers escape the rest.
        // Most values have none: the String is then made from the mapped bytes directly
        // (no allocation at all for up to 15 bytes, as country codes and most city names).
        let isControl = { (b: UInt8) in b < 0x20 || b == 0x7F }
        guard bytes.contains(where: isControl) else { return String(decoding: bytes, as: UTF8.self) }
        return String(unsafeUninitializedCapacity: bytes.count) { out in
            for (i, b) in bytes.enumerated() { out[i] = isControl(b) ? UInt8(ascii: "?") : b }
            return bytes.count
        }
    }

    private static func uint32(_ entry: inout MMDB_entry_s, _ path: MMDBPath) -> UInt32? {
        guard let d = value(&entry, path) else { return nil }
        switch Int32(d.type) {
        case MMDB_DATA_TYPE_UINT32: return d.uint32
        case MMDB_DATA_TYPE_UINT16: return UInt32(d.uint16)
        default: return nil
        }
    }
}

/// A path into a MaxMind DB record as MMDB_aget_value takes it: a NULL-terminated array
/// of C strings. Built once per path for the process, so that a lookup allocates no
/// arrays (a lookup runs once per new address, which on busy links is per new flow).
/// Unchecked Sendable: the array is written once in init and only read after; it points
/// at static strings and lives as long as the process (never freed, like the statics).
struct MMDBPath: @unchecked Sendable {
    let keys: UnsafeMutablePointer<UnsafePointer<CChar>?>

    init(_ path: StaticString...) {
        keys = .allocate(capacity: path.count + 1)
        for (i, key) in path.enumerated() {
            // String literals are stored NUL-terminated.
            keys[i] = UnsafeRawPointer(key.utf8Start).assumingMemoryBound(to: CChar.self)
        }
        keys[path.count] = nil
    }

    static let asNumber = MMDBPath("autonomous_system_number")
    static let asOrganization = MMDBPath("autonomous_system_organization")
    static let countryCode = MMDBPath("country", "iso_code")
    static let registeredCountryCode = MMDBPath("registered_country", "iso_code")
    static let cityName = MMDBPath("city", "names", "en")
}

/// The MaxMind DB files of a run: a Country or City file, and an ASN file.
public struct GeoIPDatabases: Sendable {
    public private(set) var databases: [MaxMindDatabase] = []

    /// Where Debian's geoipupdate and the geoip packages put them.
    public static let standardFolders = ["/usr/share/GeoIP", "/var/lib/GeoIP"]

    /// How to get one, said once when none was found.
    public static let howToGet = """
        no GeoIP database found (looked in \(standardFolders.joined(separator: " and "))); for countries \
        and ASNs, download GeoLite2 Country/City and ASN (free account at maxmind.com, or Debian's \
        geoipupdate) or DB-IP's lite .mmdb files (db-ip.com/db/lite.php), and pass --geoip FILE|DIR
        """

    public init(_ databases: [MaxMindDatabase] = []) {
        for d in databases { add(d) }
    }

    public var isEmpty: Bool { databases.isEmpty }

    /// Keeps one file per role: City over Country for the country, one ASN file.
    mutating func add(_ d: MaxMindDatabase) {
        switch d.kind {
        case .asn:
            if databases.contains(where: { $0.kind == .asn }) { return }
        case .city:
            databases.removeAll { $0.kind == .country }
            if databases.contains(where: { $0.kind == .city }) { return }
        case .country:
            if databases.contains(where: { $0.kind == .city || $0.kind == .country }) { return }
        }
        databases.append(d)
    }

    public func lookup(_ address: IPAddress) -> GeoRecord { lookupNetwork(address).record }

    /// What the files say about `address`, and the prefix length of the network around
    /// it that has that answer throughout: the longest of the files' networks, which is
    /// their intersection (prefixes holding one address are nested), and disjoint from
    /// the network of any address with another answer.
    func lookupNetwork(_ address: IPAddress) -> (record: GeoRecord, prefixLength: Int) {
        var r = GeoRecord()
        // Without a file nothing is known of any network: only the address itself.
        var length = databases.isEmpty ? (address.unmappedIPv4.isIPv6 ? 128 : 32) : 0
        for d in databases {
            let (record, l) = d.lookupNetwork(address)
            r.merge(record)
            length = max(length, l)
        }
        return (r, length)
    }

    /// `--geoip PATH`: a file, or a folder whose .mmdb files are read (those of other
    /// kinds are skipped). Anything wrong with what the user named is an error naming
    /// the file.
    public static func open(path: String) throws -> GeoIPDatabases {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw GeoIPError(path: path, reason: "\(String(cString: strerror(errno))); check the path")
        }
        guard st.st_mode & S_IFMT == S_IFDIR else { return GeoIPDatabases([try MaxMindDatabase(path: path)]) }
        var found = GeoIPDatabases()
        for file in mmdbFiles(in: path) {
            do {
                found.add(try MaxMindDatabase(path: file))
            } catch let e as GeoIPError where e.isWrongKind {
                continue
            }
        }
        if found.isEmpty {
            throw GeoIPError(path: path, reason: "no Country, City or ASN .mmdb file in this folder")
        }
        return found
    }

    /// The databases in the standard folders, and a warning for each file there that
    /// cannot be read (a damaged download must not stop a capture nobody asked geo of).
    public static func discover(folders: [String] = standardFolders) -> (GeoIPDatabases, warnings: [String]) {
        var found = GeoIPDatabases()
        var warnings: [String] = []
        for folder in folders {
            for file in mmdbFiles(in: folder) {
                do {
                    found.add(try MaxMindDatabase(path: file))
                } catch let e as GeoIPError {
                    if !e.isWrongKind { warnings.append(e.userMessage + "; skipped") }
                } catch {}
            }
        }
        return (found, warnings)
    }

    /// The `*.mmdb` files directly in `folder`, sorted; none when it cannot be read.
    static func mmdbFiles(in folder: String) -> [String] {
        guard let dir = opendir(folder) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let e = readdir(dir) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasSuffix(".mmdb") && !name.hasPrefix(".") { names.append(folder + "/" + name) }
        }
        return names.sorted()
    }
}
