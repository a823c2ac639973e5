import ArgumentParser
import SniffCore
import SniffDecode
import SniffAnalysis

/// The report's filters, shared by file reading and live capture.
struct FilterOptions: ParsableArguments {
    @Option(
        name: .customLong("ip"),
        help: ArgumentHelp(
            "Keep packets whose source or destination is ADDR or inside CIDR (repeatable).", valueName: "ADDR|CIDR"),
        transform: OptionValue.network)
    var ips: [IPNetwork] = []

    @Option(
        name: .customLong("net"),
        help: ArgumentHelp("Keep only this IP version: ipv4 or ipv6.", valueName: "ipv4|ipv6"),
        transform: OptionValue.ipVersion)
    var net: PacketFilter.IPVersion?

    @Option(name: .customLong("transport"), help: ArgumentHelp(
        "Keep only this transport: " + TransportKind.userNames.joined(separator: ", ") + ".", valueName: "PROTO"),
            transform: OptionValue.transport)
    var transport: TransportKind?

    @Option(name: .customLong("lowest-port"), help: ArgumentHelp("Keep packets with either port >= N.", valueName: "N"),
            transform: OptionValue.port)
    var lowestPort: UInt16?

    @Option(
        name: .customLong("highest-port"), help: ArgumentHelp("Keep packets with either port <= N.", valueName: "N"),
        transform: OptionValue.port)
    var highestPort: UInt16?

    @Flag(name: .customLong("inner"), help: ArgumentHelp(
        """
            Match --ip, --net, --transport and the port range against the innermost packet a tunnel carries (VXLAN, \
            GENEVE, GRE, IP in IP, PIM Register, GTP-U); frames without a tunnel then do not match. A BPF filter \
            still sees the outer packet.
            """))
    var inner = false

    @Option(
        name: .customLong("min-packets"),
        help: ArgumentHelp("Report only address:port pairs with at least N packets.", valueName: "N"))
    var minPackets: Int = 0

    @Option(name: .customLong("country"), help: ArgumentHelp(
        "Keep packets with an end in one of these countries (ISO 3166 codes; needs a GeoIP Country or City database).",
        valueName: "CC[,CC]"), transform: OptionValue.countries)
    var countries: Set<String> = []

    @Option(name: .customLong("asn"), help: ArgumentHelp(
        "Keep packets with an end in one of these autonomous systems (15169 or AS15169; needs a GeoIP ASN database).",
        valueName: "N[,N]"), transform: OptionValue.asNumbers)
    var asns: Set<UInt32> = []

    func validate() throws {
        if let l = lowestPort, let h = highestPort, l > h {
            throw ValidationError("--lowest-port \(l) is greater than --highest-port \(h)")
        }
        if minPackets < 0 {
            throw ValidationError("invalid --min-packets \(minPackets): it must be 0 or more")
        }
    }

    /// The `--country`/`--asn` filter, on the run's host enrichment; nil without them. A
    /// filter no database can answer would keep nothing: a usage error instead.
    func geoFilter(hosts: HostEnrichment) throws -> GeoFilter? {
        guard !countries.isEmpty || !asns.isEmpty else { return nil }
        if !countries.isEmpty && !hosts.geo.answersCountries {
            throw GeoFilterError(option: "--country", kind: "Country or City")
        }
        if !asns.isEmpty && !hosts.geo.answersASNs {
            throw GeoFilterError(option: "--asn", kind: "ASN")
        }
        return GeoFilter(countries: countries, asns: asns, hosts: hosts)
    }

    var packetFilter: PacketFilter {
        var f = PacketFilter()
        f.networks = ips
        f.ipVersion = net
        f.transport = transport
        f.lowestPort = lowestPort ?? 0
        f.highestPort = highestPort ?? 65535
        f.inner = inner
        return f
    }
}

/// Where results go.
struct OutputOptions: ParsableArguments {
    @Flag(name: .customLong("json"), help: "Print one JSON object per packet (NDJSON) on stdout instead of the report.")
    var json = false

    @Option(name: .customLong("report"), help: ArgumentHelp(
        """
            Also write the whole report to FILE: at the end of a capture file (and every --interval seconds of \
            capture time when --interval is given); live, every --interval seconds and at the end.
            """,
        valueName: "FILE"))
    var reportFile: String?

    @Option(
        name: .customLong("interval"),
        help: ArgumentHelp("Seconds between report rewrites (default 5; capture time for files).", valueName: "SECONDS")
    )
    var interval: Int?

    @Option(name: .customLong("top"), help: ArgumentHelp(
        """
            Address:port pairs the report shows on stdout: a number, or all (default 20 on a terminal, all when \
            stdout is a file or pipe; --report FILE always has all).
            """,
        valueName: "N|all"))
    var top: ReportTop?

    /// Whether a report (with its Host lines) is written somewhere.
    var showsReport: Bool { reportFile != nil || (!json && !q) }

    /// Seconds between rewrites of the report file and of the live terminal view.
    var intervalSeconds: Int { interval ?? 5 }

    @Flag(name: .short, help: "Quiet: print nothing on stdout.")
    var q = false

    @Option(name: .short, help: ArgumentHelp("Stop after N matching packets.", valueName: "N"))
    var c: Int?

    func validate() throws {
        if let interval, interval < 1 {
            throw ValidationError("invalid --interval \(interval): it must be at least 1 second")
        }
        if let c, c < 1 {
            throw ValidationError("invalid -c \(c): the packet count must be at least 1")
        }
    }
}

/// `--top`: how many address:port pairs the report prints on stdout.
enum ReportTop: ExpressibleByArgument, Equatable {
    case all
    case count(Int)

    /// The terminal's default: enough to read without scrolling past the totals.
    static let terminalDefault = ReportTop.count(20)

    init?(argument: String) {
        if argument == "all" { self = .all; return }
        guard let n = Int(argument), n >= 1 else { return nil }
        self = .count(n)
    }

    var limit: Int? {
        if case .count(let n) = self { return n }
        return nil
    }
}

/// `--country` or `--asn`, or an alert rule naming countries or ASNs, with no database
/// of the kind that answers it (exit 64).
struct GeoFilterError: SniffError {
    let option: String
    let kind: String
    var userMessage: String {
        "\(option) needs a GeoIP \(kind) database: pass --geoip FILE|DIR, or put one in "
            + GeoIPDatabases.standardFolders.joined(separator: " or ")
    }
    var logMessage: String { userMessage }
    var exitCode: Int32 { 64 }
    var description: String { userMessage }
}
