#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SniffCore

/// Reads alert rules from a YAML file (the subset `YAMLValue` parses); see
/// docs/rules.example.yaml for every key.
///
///     defaults:
///       suppress: 60s
///       max_alerts_per_second: 20
///     rules:
///       - name: port-scan
///         kind: port_scan
///         ports: 20
///         window: 60s
public enum RulesFile {
    public struct Error: SniffError {
        public var userMessage: String
        public var exitCode: Int32 { 64 }
    }

    public static func load(path: String) throws -> AlertConfig {
        guard let text = readText(path) else {
            throw Error(userMessage: """
                cannot read rules file \(path): \(String(cString: strerror(errno))); check the path given to --rules
                """)
        }
        return try parse(text, source: path, baseDirectory: directory(of: path))
    }

    public static func parse(
        _ text: String, source: String = "rules", baseDirectory: String = "."
    ) throws -> AlertConfig {
        let root: YAMLValue
        do { root = try YAMLValue.parse(text) } catch let e as YAMLValue.ParseError {
            throw Error(userMessage: "\(source):\(e.line): \(e.message)")
        }
        var config = AlertConfig(rules: [])
        var defaultSuppress: Int64 = 60 * 1_000_000_000
        if let d = root["defaults"] {
            if let s = d["suppress"]?.string { defaultSuppress = try duration(s, "defaults.suppress", source) }
            if let m = d["max_alerts_per_second"]?.string {
                guard let n = Int(m), n > 0 else {
                    throw Error(userMessage: "\(source): defaults.max_alerts_per_second must be a positive integer")
                }
                config.maxAlertsPerSecond = n
            }
        }
        if root["builtin"]?.string == "true" || root["rules"] == nil { config.rules = AlertRule.defaults }
        guard let rules = root["rules"] else { return config }
        guard case .list(let items) = rules else {
            throw Error(userMessage: "\(source): \"rules\" must be a list of rules (\"- name: ...\")")
        }
        for (i, item) in items.enumerated() {
            config.rules.append(
                try rule(item, index: i, defaultSuppress: defaultSuppress, source: source, base: baseDirectory))
        }
        return config
    }

    static func rule(
        _ v: YAMLValue, index: Int, defaultSuppress: Int64, source: String, base: String
    ) throws -> AlertRule {
        let name = v["name"]?.string ?? "rule-\(index + 1)"
        let what = "\(source): rule \"\(name)\""
        guard let kindName = v["kind"]?.string else {
            throw Error(userMessage: "\(what) has no kind (\(AlertRule.kindNames.joined(separator: ", ")))")
        }
        func int(_ key: String, _ def: Int) throws -> Int {
            guard let s = v[key]?.string else { return def }
            guard let n = Int(s.replacingUnderscores()), n > 0 else {
                throw Error(userMessage: "\(what): \(key) must be a positive integer, not \"\(s)\"")
            }
            return n
        }
        func dur(_ key: String, _ def: Int64) throws -> Int64 {
            guard let s = v[key]?.string else { return def }
            return try duration(s, "\(name).\(key)", source)
        }
        /// The rule's `key` list, then the lines of the file its `file` names, each with
        /// where it came from (for the error that names a bad entry).
        func entries(_ key: String) throws -> [(text: String, origin: String)] {
            var out: [(text: String, origin: String)] = []
            switch v[key] {
            case nil: break
            case .list(let items)?: out = items.compactMap(\.string).map { ($0, "\(what), \(key)") }
            case .scalar(let s)?: if !s.isEmpty { out = [(s, "\(what), \(key)")] }
            case .map?: throw Error(userMessage: "\(what): \(key) must be a list")
            }
            guard let p = v["file"]?.string, !p.isEmpty else { return out }
            let path = p.hasPrefix("/") ? p : base + "/" + p
            guard let text = readText(path) else {
                throw Error(userMessage: "\(what): cannot read file \(path): \(String(cString: strerror(errno)))")
            }
            for (n, line) in listLines(text) { out.append((line, "\(path):\(n)")) }
            return out
        }
        var severity = AlertSeverity.medium
        if let s = v["severity"]?.string {
            guard let sev = AlertSeverity(name: s) else {
                throw Error(userMessage: "\(what): severity must be info, low, medium, high or critical")
            }
            severity = sev
        }
        let scopeLocal: Bool
        switch v["scope"]?.string ?? "local" {
        case "local": scopeLocal = true
        case "any", "all": scopeLocal = false
        case "host": scopeLocal = true
        case "total": scopeLocal = false
        case let other: throw Error(userMessage: "\(what): unknown scope \"\(other)\"")
        }
        /// The `key` entries (and the file's lines) through `parse`: at least one, and
        /// each one valid.
        func set<T: Hashable>(_ key: String, _ parse: (String) -> T?, _ expected: String) throws -> Set<T> {
            var out = Set<T>()
            for (s, origin) in try entries(key) {
                guard let value = parse(s) else { throw Error(userMessage: "\(origin): \"\(s)\" is not \(expected)") }
                out.insert(value)
            }
            guard !out.isEmpty else { throw Error(userMessage: "\(what) needs \(key) or a file") }
            return out
        }
        func end() throws -> AlertRule.FlowEnd {
            guard let s = v["end"]?.string else { return .any }
            guard let e = AlertRule.FlowEnd(rawValue: s) else {
                throw Error(
                    userMessage:
                        "\(what): end must be any, orig (flows from there) or resp (flows to there), not \"\(s)\"")
            }
            return e
        }
        let kind: AlertRule.Kind
        switch kindName {
        case "rate":
            guard let m = AlertRule.RateMetric(rawValue: v["metric"]?.string ?? "bytes") else {
                throw Error(userMessage: "\(what): metric must be bytes or packets")
            }
            let per = v["per"]?.string ?? "host"
            guard per == "host" || per == "total" else {
                throw Error(userMessage: "\(what): per must be host or total")
            }
            guard v["threshold"] != nil else { throw Error(userMessage: "\(what): a rate rule needs a threshold") }
            kind = .rate(metric: m, perHost: per == "host", threshold: UInt64(try int("threshold", 1)),
                         window: try dur("window", 10 * 1_000_000_000))
        case "new_host":
            kind = .newHost(localOnly: scopeLocal, learn: try dur("learn", 60 * 1_000_000_000))
        case "new_port":
            kind = .newPort(localOnly: scopeLocal, learn: try dur("learn", 60 * 1_000_000_000))
        case "port_scan":
            kind = .portScan(
                ports: try int("ports", 20), hosts: try int("hosts", 20), window: try dur("window", 60 * 1_000_000_000))
        case "syn_flood":
            kind = .synFlood(threshold: try int("threshold", 200), window: try dur("window", 10 * 1_000_000_000))
        case "blocklist":
            var nets: [IPNetwork] = []
            for (s, origin) in try entries("addresses") {
                guard let n = IPNetwork(s) else {
                    throw Error(userMessage: "\(origin): \"\(s)\" is not an IP address or CIDR network")
                }
                nets.append(n)
            }
            guard !nets.isEmpty else { throw Error(userMessage: "\(what): a blocklist needs addresses or a file") }
            kind = .blocklist(networks: nets)
        case "dns_domain":
            var domains: [String] = []
            for (s, origin) in try entries("domains") {
                let d = normalizeDomain(s)
                guard isDomain(d) else { throw Error(userMessage: "\(origin): \"\(s)\" is not a domain name") }
                domains.append(d)
            }
            guard !domains.isEmpty else {
                throw Error(userMessage: "\(what): a dns_domain rule needs domains or a file")
            }
            kind = .dnsDomain(domains: domains)
        case "country":
            let codes = try set("countries", GeoFilter.countryCode, "a two-letter ISO 3166 country code (DE, US ...)")
            kind = .country(codes: codes, end: try end())
        case "asn":
            kind = .asn(numbers: try set("asns", GeoFilter.asNumber, "an AS number (15169 or AS15169)"), end: try end())
        default:
            throw Error(
                userMessage: "\(what): unknown kind \"\(kindName)\" (\(AlertRule.kindNames.joined(separator: ", ")))")
        }
        return AlertRule(name: name, kind: kind, severity: severity, suppress: try dur("suppress", defaultSuppress))
    }

    /// The entries of a list file, with their line numbers: one per line, after
    /// removing what follows a `#` (FireHOL's .netset and .ipset, hosts-style comments)
    /// or a `;` (Spamhaus DROP: `1.10.16.0/20 ; SBL256894`, and its `;` header lines),
    /// and the spaces around it. LF or CRLF line ends.
    public static func listLines(_ text: String) -> [(line: Int, text: String)] {
        var out: [(line: Int, text: String)] = []
        // "\r\n" is one Character in Swift: a file with CRLF endings splits on it too.
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        for (i, raw) in lines.enumerated() {
            let content = raw.prefix { $0 != "#" && $0 != ";" }
            let trimmed = content.drop { $0 == " " || $0 == "\t" }.reversed().drop {
                $0 == " " || $0 == "\t" || $0 == "\r"
            }
            if !trimmed.isEmpty { out.append((i + 1, String(trimmed.reversed()))) }
        }
        return out
    }

    /// Letters, digits, `-` and `_` in dot-separated labels of 1 to 63 bytes, 253 at
    /// most in all (after `normalizeDomain`).
    static func isDomain(_ d: String) -> Bool {
        guard !d.isEmpty, d.utf8.count <= 253 else { return false }
        for label in d.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty, label.utf8.count <= 63,
                label.utf8.allSatisfy({ b in
                    (0x61...0x7A).contains(b) || (0x30...0x39).contains(b) || b == 0x2D || b == 0x5F
                })
            else { return false }
        }
        return true
    }

    /// Lower case, without a trailing dot.
    public static func normalizeDomain(_ s: String) -> String {
        var d = s.lowercased()
        while d.hasSuffix(".") { d.removeLast() }
        while d.hasPrefix("*.") { d.removeFirst(2) }
        return d
    }

    /// "500ms", "10s", "5m", "2h", "1d", or a plain number of seconds.
    public static func duration(_ s: String, _ what: String, _ source: String) throws -> Int64 {
        let units: [(String, Double)] = [("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9), ("d", 86400e9)]
        for (u, mult) in units where s.hasSuffix(u) {
            let num = s.dropLast(u.count)
            if let v = Double(num), v >= 0, !(u == "s" && num.hasSuffix("m")) { return Int64(v * mult) }
        }
        if let v = Double(s), v >= 0 { return Int64(v * 1e9) }
        throw Error(userMessage: "\(source): \(what) must be a duration such as 10s, 5m or 1h, not \"\(s)\"")
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return String(path[..<slash])
    }

    static func readText(_ path: String) -> String? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n > 0 { bytes.append(contentsOf: buf[0..<n]) }
            if n < buf.count { break }
            if bytes.count > 64 << 20 { return nil }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension String {
    func replacingUnderscores() -> String { String(filter { $0 != "_" }) }
}
