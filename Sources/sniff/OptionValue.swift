import ArgumentParser
import SniffCore
import SniffDecode
import SniffAnalysis

/// Option values parsed once, where ArgumentParser reads them (`transform:`): a bad
/// value is refused with the option's name, the value and what the option takes
/// (exit 64), and `run` receives typed values instead of parsing the strings again.
enum OptionValue {
    static func network(_ text: String) throws -> IPNetwork {
        guard let n = IPNetwork(text) else {
            throw ValidationError("expected an IPv4 or IPv6 address or CIDR such as 10.0.0.0/8 or 2001:db8::/32")
        }
        return n
    }

    static func ipVersion(_ text: String) throws -> PacketFilter.IPVersion {
        guard let v = PacketFilter.IPVersion(userValue: text) else {
            throw ValidationError(
                "valid values are " + PacketFilter.IPVersion.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return v
    }

    static func transport(_ text: String) throws -> TransportKind {
        guard let t = TransportKind(userValue: text) else {
            throw ValidationError("valid values are " + TransportKind.userNames.joined(separator: ", "))
        }
        return t
    }

    static func port(_ text: String) throws -> UInt16 {
        guard let v = Int(text), (0...65535).contains(v) else { throw ValidationError("a port is between 0 and 65535") }
        return UInt16(v)
    }

    /// `DE,us`: upper-case two-letter codes, as the API's `country` takes one.
    static func countries(_ text: String) throws -> Set<String> {
        try commaSeparated(text, { GeoFilter.countryCode($0) }) {
            "'\($0)' is not a country: expected two-letter ISO 3166 codes such as DE or US, comma-separated"
        }
    }

    /// `15169,AS3320`: AS numbers, with or without the AS prefix (the API's `asn`).
    static func asNumbers(_ text: String) throws -> Set<UInt32> {
        try commaSeparated(text, { GeoFilter.asNumber($0) }) {
            "'\($0)' is not an AS number: expected numbers such as 15169 or AS15169, comma-separated"
        }
    }

    /// Each comma-separated item parsed; the first that does not parse (an empty one
    /// included) is refused with `message`.
    private static func commaSeparated<T: Hashable>(_ text: String, _ parse: (Substring) -> T?,
                                                    message: (Substring) -> String) throws -> Set<T> {
        var out = Set<T>()
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let v = parse(item) else { throw ValidationError(message(item)) }
            out.insert(v)
        }
        return out
    }
}
