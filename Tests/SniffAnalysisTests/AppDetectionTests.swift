import Foundation
import Testing
import SniffCore
import SniffDecode
import SniffCapture
import SniffAnalysis
import SniffTestSupport

/// Application protocols named from payloads (`AppDetectors`), checked on real captures:
/// Tests/Fixtures/apps (one protocol each, recorded by scripts/record-fixtures.sh from
/// Debian's daemons and clients), the other fixtures and ../shared/pcaps, against
/// tshark's per-frame protocol in the truth files.
@Suite struct AppDetectionTests {
    /// Each capture with the protocol its main flow must be named, from its payload.
    static let namedFixtures: [(file: String, app: AppProtocol)] = [
        ("apps/coap.pcap", .coap), ("apps/dhcp.pcap", .dhcp), ("apps/dhcpv6.pcap", .dhcpv6), ("apps/ftp.pcap", .ftp),
        ("apps/imap.pcap", .imap),
        ("apps/isakmp.pcap", .isakmp), ("apps/ldap.pcap", .ldap), ("apps/memcached.pcap", .memcached),
        ("apps/mqtt.pcap", .mqtt), ("apps/mysql.pcap", .mysql), ("apps/netbios.pcap", .netbios),
        ("apps/ntp.pcap", .ntp), ("apps/openvpn.pcap", .openvpn), ("apps/pop3.pcap", .pop),
        ("apps/postgresql.pcap", .postgresql), ("apps/radius.pcap", .radius), ("apps/redis.pcap", .redis),
        ("apps/rtsp.pcap", .rtsp), ("apps/sip.pcap", .sip), ("apps/smtp.pcap", .smtp), ("apps/snmp.pcap", .snmp),
        ("apps/socks.pcap", .socks), ("apps/stun.pcap", .stun), ("apps/syslog.pcap", .syslog),
        ("apps/telnet.pcap", .telnet), ("apps/tftp.pcap", .tftp), ("apps/irc.pcap", .irc), ("apps/xmpp.pcap", .xmpp),
        ("apps/kerberos.pcap", .kerberos), ("apps/bittorrent.pcap", .bittorrent), ("apps/http2.pcap", .http),
    ]
    /// The same for ../shared/pcaps.
    static let namedShared: [(file: String, app: AppProtocol)] = [
        ("bgp-4byte-asn.pcap", .bgp), ("bgp-role.pcapng", .bgp), ("babel_rfc6126bis.pcap", .babel),
        ("pptp.pcap", .pptp), ("quic_handshake_truncated.pcap", .quic), ("eapon1.pcap", .netbios),
        ("eapon1.pcap", .ssdp), ("resp_1_benchmark.pcap", .redis),
        ("dhcp-rfc4388.pcap", .dhcp), ("dcb_ets.pcap", .dhcp), ("vxlan.pcap", .vxlan),
    ]

    /// Tunnel fixtures whose outer payload is named while tshark's Protocol column shows
    /// the protocol of the packet inside (UDP, TCP, ARP).
    static let namedTunnels: [(file: String, app: AppProtocol)] = [("tunnel-vxlan.pcap", .vxlan)]

    /// tshark's Protocol column (4.0) for the protocols Sniff names, and the names Sniff
    /// may give them (one name per application: a port's more precise name counts).
    static let tsharkNames: [String: Set<AppProtocol>] = {
        let tls: Set<AppProtocol> = [.tls, .ldaps, .ftps, .dot, .smtps, .imaps, .pop3s]
        var m: [String: Set<AppProtocol>] = [
            "DNS": [.dns], "MDNS": [.mdns], "LLMNR": [.llmnr], "QUIC": [.quic], "SSH": [.ssh], "SSHv2": [.ssh],
            "HTTP": [.http, .prometheus, .elasticsearch], "HTTP/XML": [.http], "SMTP": [.smtp, .submission],
            "SMTP/IMF": [.smtp, .submission], "FTP": [.ftp], "IMAP": [.imap], "POP": [.pop], "POP/IMF": [.pop],
            "TELNET": [.telnet], "RESP": [.redis], "MQTT": [.mqtt], "PGSQL": [.postgresql], "MySQL": [.mysql],
            "DHCP": [.dhcp], "BOOTP": [.dhcp], "DHCPv6": [.dhcpv6], "TFTP": [.tftp], "NTP": [.ntp],
            "SNMP": [.snmp], "Syslog": [.syslog], "LDAP": [.ldap], "SIP": [.sip], "RTSP": [.rtsp],
            "RADIUS": [.radius], "MEMCACHE": [.memcached], "OpenVPN": [.openvpn], "ISAKMP": [.isakmp, .ipsecNAT],
            "CoAP": [.coap], "Socks": [.socks], "STUN": [.stun], "NBNS": [.netbios], "BROWSER": [.netbios],
            "NBDS": [.netbios], "NBSS": [.netbios], "SSDP": [.ssdp], "BGP": [.bgp], "Babel": [.babel],
            "PPTP": [.pptp], "IRC": [.irc], "XMPP/XML": [.xmpp], "KRB5": [.kerberos], "BitTorrent": [.bittorrent],
        ]
        for v in ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3", "SSL", "SSLv3"] { m[v] = tls }
        return m
    }()

    struct Frame {
        var app: AppProtocol
        var source: AppSource
        var udp: Bool
        var payload: [UInt8]
    }

    /// Every frame of a capture through the pipeline and a flow table, as `sniff -r` runs
    /// it: the app each frame is labelled with, and its TCP/UDP payload.
    static func frames(of file: URL) throws -> [Frame] {
        let reader = try CaptureFileReader(path: file.path)
        let pipeline = PacketPipeline()
        pipeline.consumers = [FlowTable(config: .noTimeouts)]
        var out: [Frame] = []
        while let raw = try reader.next() {
            pipeline.process(raw)
            let p = pipeline.packet
            var payload: [UInt8] = []
            if p.hasPorts, p.payloadCaptured > 0, p.payloadOffset > 0,
               let b = ByteCursor(raw.bytes).slice(at: p.payloadOffset, count: p.payloadCaptured) {
                payload = Array(b)
            }
            out.append(Frame(app: p.app, source: p.appSource, udp: p.ipProto == 17, payload: payload))
        }
        return out
    }

    /// tshark's Protocol column, one entry per frame, from FILE.truth.tsv.
    static func tsharkProtocols(of file: URL) throws -> [String] {
        let text = try String(contentsOf: URL(fileURLWithPath: file.path + ".truth.tsv"), encoding: .utf8)
        return text.split(separator: "\n").dropFirst().map { line in
            String(line.split(separator: "\t", omittingEmptySubsequences: false).last ?? "")
        }
    }

    static var sharedAvailable: Bool { TestPaths.sharedPcaps != nil }

    /// Every capture with a truth file: the fixtures, the app fixtures and the shared set.
    static var allCaptures: [URL] {
        var files = TestPaths.capturesWithTruth(in: TestPaths.fixtures)
        files += TestPaths.capturesWithTruth(in: TestPaths.fixtures.appendingPathComponent("apps"))
        if let shared = TestPaths.sharedPcaps { files += TestPaths.capturesWithTruth(in: shared) }
        return files
    }

    @Test("the detector table names each protocol once, on the right transports")
    func tableCoversTheProtocols() {
        let apps = AppDetectors.protocols
        #expect(Set(apps).count == apps.count)
        #expect(apps.count >= 35)
        // With the parsers that run first (and report details), 40 names come from payloads.
        #expect(Set(apps + [.dns, .tls, .http, .quic, .ssh]).count >= 40)
        #expect(AppDetectors.tcp.allSatisfy { $0.transport != .udp })
        #expect(AppDetectors.udp.allSatisfy { $0.transport != .tcp })
    }

    @Test("each application fixture's flow is named from its payload", arguments: namedFixtures.map { $0.file })
    func fixtureNamed(_ name: String) throws {
        let app = Self.namedFixtures.first { $0.file == name }!.app
        try Self.expectNamed(TestPaths.fixtures.appendingPathComponent(name), app)
    }

    @Test("shared captures' flows are named from their payloads", .enabled(if: sharedAvailable, "no ../shared/pcaps"),
          arguments: namedShared.map { "\($0.file):\($0.app.name)" })
    func sharedNamed(_ entry: String) throws {
        let (file, app) = Self.namedShared.first { "\($0.file):\($0.app.name)" == entry }!
        try Self.expectNamed(TestPaths.sharedPcaps!.appendingPathComponent(file), app)
    }

    /// A flow of the capture is named `app` from its payload (Zeek's `service` too), and
    /// its frames carry that name.
    static func expectNamed(_ file: URL, _ app: AppProtocol) throws {
        let all = try flows(of: file)
        let named = all.filter { $0.app == app && $0.appSource == .payload }
        #expect(!named.isEmpty, """
            \(file.lastPathComponent): no flow named \(app.name) from its payload; \
            got \(all.map { "\($0.app.name)/\($0.appSource.name)" })
            """)
        #expect(named.allSatisfy { $0.service != nil })
        let frames = try frames(of: file)
        #expect(frames.contains { $0.app == app && $0.source == .payload })
    }

    @Test("no detector claims a payload from a capture where tshark never sees its protocol")
    func detectorsRefuseOtherProtocols() throws {
        var checked = 0
        for file in Self.allCaptures {
            let protocols = try Self.tsharkProtocols(of: file)
            var present = Set<AppProtocol>()
            for p in protocols { present.formUnion(Self.tsharkNames[p] ?? []) }
            // Ports name a few protocols tshark shows under another name; their payloads
            // are theirs (eapon1's SSDP replies are plain HTTP/1.1 to tshark, ...).
            present.formUnion(Self.namedShared.filter { $0.file == file.lastPathComponent }.map { $0.app })
            present.formUnion(Self.namedFixtures.filter { $0.file == "apps/" + file.lastPathComponent }.map { $0.app })
            present.formUnion(Self.namedTunnels.filter { $0.file == file.lastPathComponent }.map { $0.app })
            guard let frames = try? Self.frames(of: file) else { continue }
            for (i, f) in frames.enumerated() where !f.payload.isEmpty {
                f.payload.withUnsafeBytes { raw in
                    let c = ByteCursor(raw)
                    for d in f.udp ? AppDetectors.udp : AppDetectors.tcp where d.matches(c) {
                        #expect(
                            present.contains(d.app),
                            "\(file.lastPathComponent) frame \(i + 1): \(d.app.name) claims a payload (\(d.checks))")
                    }
                    checked += 1
                }
            }
        }
        #expect(checked > 1000)
    }

    @Test("Sniff's app agrees with tshark's protocol on at least 95% of the frames where tshark names one of Sniff's")
    func agreementWithTshark() throws {
        var agree = 0, total = 0
        var misses: [String: Int] = [:]
        for file in Self.allCaptures {
            let protocols = try Self.tsharkProtocols(of: file)
            guard let frames = try? Self.frames(of: file) else { continue }
            for (i, f) in frames.enumerated() where i < protocols.count {
                guard let accepted = Self.tsharkNames[protocols[i]] else { continue }
                total += 1
                if accepted.contains(f.app) {
                    agree += 1
                } else {
                    misses["\(protocols[i]) as \(f.app.name)", default: 0] += 1
                }
            }
        }
        let share = total == 0 ? 0 : Double(agree) / Double(total)
        print("app agreement with tshark: \(agree) of \(total) frames (\(String(format: "%.1f", share * 100))%);"
              + " differences: \(misses.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" })")
        #expect(total >= 500)
        #expect(share >= 0.95)
    }
}
