/// Application protocols, first guessed from ports (sniffnet's table plus the common
/// modern ones) and later confirmed or corrected from payloads.
///
/// One table of names serves both: a port guess is named as the payload finding on
/// that port would be (443/tcp is TLS, 443/udp QUIC, 8080 HTTP), so a flow's packets
/// keep one name when its payload confirms the guess. The table is in docs/FLOWS.md.
///
/// Raw values are stored in journals: they never change meaning. 16 (once "HTTPS") and
/// 47 (once "HTTP-Alt") are retired; `stored(rawValue:)` reads them as TLS and HTTP.
public enum AppProtocol: UInt8, Sendable, CaseIterable {
    case unknown = 0
    case ftp, ssh, telnet, smtp, dns, dhcp, tftp, http, pop, ntp, netbios, imap, snmp, bgp, ldap
    case ldaps = 17, ftps
    case mdns, llmnr, quic, dot, rdp, postgresql, mysql, redis, mqtt, kafka, submission, smtps
    case imaps, pop3s, syslog, dhcpv6, ssdp, sip, rtsp, openvpn, wireguard, ipsecNAT, isakmp
    case memcached, mongodb, elasticsearch, amqp, vnc
    case kerberos = 48, smb, rpcbind, nfs
    case babel, ldp, radius, bfd, stun, gtp, vxlan, geneve, coap, prometheus, pptp, socks, tls
    case irc, xmpp, bittorrent

    /// One past the largest raw value: the size of arrays indexed by raw value. Stores
    /// keep the raw value in one byte, and `AppSet` has a bit for each below 129.
    public static let rawValueBound = Int(AppProtocol.bittorrent.rawValue) + 1

    /// Reads a raw value written by any version, mapping the retired ones.
    public static func stored(rawValue: UInt8) -> AppProtocol? {
        switch rawValue {
        case 16: return .tls
        case 47: return .http
        default: return AppProtocol(rawValue: rawValue)
        }
    }

    /// The name a payload finding gets on a flow whose port guess is `port`: the port's
    /// name when it is a more precise member of the same family (IMAPS is TLS, mDNS is
    /// DNS), else the finding's.
    public static func payloadName(_ found: AppProtocol, portGuess port: AppProtocol) -> AppProtocol {
        switch found {
        case .tls:
            switch port {
            case .ldaps, .ftps, .dot, .smtps, .imaps, .pop3s: return port
            default: return .tls
            }
        case .dns: return port == .mdns || port == .llmnr ? port : .dns
        case .http: return port == .prometheus || port == .elasticsearch ? port : .http
        case .smtp: return port == .submission ? port : .smtp
        case .isakmp: return port == .ipsecNAT ? port : .isakmp
        default: return found
        }
    }

    /// The label shown in outputs.
    public var name: String {
        switch self {
        case .unknown: return "unknown"
        case .ftp: return "FTP"
        case .ssh: return "SSH"
        case .telnet: return "Telnet"
        case .smtp: return "SMTP"
        case .dns: return "DNS"
        case .dhcp: return "DHCP"
        case .tftp: return "TFTP"
        case .http: return "HTTP"
        case .pop: return "POP"
        case .ntp: return "NTP"
        case .netbios: return "NetBIOS"
        case .imap: return "IMAP"
        case .snmp: return "SNMP"
        case .bgp: return "BGP"
        case .ldap: return "LDAP"
        case .ldaps: return "LDAPS"
        case .ftps: return "FTPS"
        case .mdns: return "mDNS"
        case .llmnr: return "LLMNR"
        case .quic: return "QUIC"
        case .dot: return "DoT"
        case .rdp: return "RDP"
        case .postgresql: return "PostgreSQL"
        case .mysql: return "MySQL"
        case .redis: return "Redis"
        case .mqtt: return "MQTT"
        case .kafka: return "Kafka"
        case .submission: return "SMTP-Submission"
        case .smtps: return "SMTPS"
        case .imaps: return "IMAPS"
        case .pop3s: return "POP3S"
        case .syslog: return "Syslog"
        case .dhcpv6: return "DHCPv6"
        case .ssdp: return "SSDP"
        case .sip: return "SIP"
        case .rtsp: return "RTSP"
        case .openvpn: return "OpenVPN"
        case .wireguard: return "WireGuard"
        case .ipsecNAT: return "IPsec-NAT-T"
        case .isakmp: return "ISAKMP"
        case .memcached: return "Memcached"
        case .mongodb: return "MongoDB"
        case .elasticsearch: return "Elasticsearch"
        case .amqp: return "AMQP"
        case .vnc: return "VNC"
        case .kerberos: return "Kerberos"
        case .smb: return "SMB"
        case .rpcbind: return "RPCbind"
        case .nfs: return "NFS"
        case .babel: return "Babel"
        case .ldp: return "LDP"
        case .radius: return "RADIUS"
        case .bfd: return "BFD"
        case .stun: return "STUN"
        case .gtp: return "GTP"
        case .vxlan: return "VXLAN"
        case .geneve: return "GENEVE"
        case .coap: return "CoAP"
        case .prometheus: return "Prometheus"
        case .pptp: return "PPTP"
        case .socks: return "SOCKS"
        case .tls: return "TLS"
        case .irc: return "IRC"
        case .xmpp: return "XMPP"
        case .bittorrent: return "BitTorrent"
        }
    }

    /// Looks a protocol up by its label, case-insensitively (for `--app` style filters).
    public init?(name: String) {
        let lower = name.lowercased()
        guard let found = AppProtocol.allCases.first(where: { $0.name.lowercased() == lower }) else { return nil }
        self = found
    }

    /// The guess for one port. `udp` selects the transport-specific entries (QUIC on
    /// udp/443, for instance); nil-like `.unknown` when the port is not in the table.
    @inlinable
    public static func forPort(_ port: UInt16, udp: Bool) -> AppProtocol {
        switch port {
        case 20, 21: return .ftp
        case 22: return .ssh
        case 23: return .telnet
        case 25: return .smtp
        case 53: return .dns
        case 67, 68: return .dhcp
        case 69: return .tftp
        case 80: return .http
        case 88: return .kerberos
        case 110: return .pop
        case 111: return .rpcbind
        case 123: return .ntp
        case 137, 138, 139: return .netbios
        case 143: return .imap
        case 161, 162: return .snmp
        case 179: return .bgp
        case 389: return .ldap
        case 443: return udp ? .quic : .tls
        case 445: return .smb
        case 465: return .smtps
        case 500: return .isakmp
        case 514: return udp ? .syslog : .unknown
        case 546, 547: return .dhcpv6
        case 554: return .rtsp
        case 587: return .submission
        case 636: return .ldaps
        case 646: return .ldp
        case 853: return .dot
        case 989, 990: return .ftps
        case 993: return .imaps
        case 995: return .pop3s
        case 1080: return .socks
        case 1194: return .openvpn
        case 1723: return .pptp
        case 1812, 1813: return .radius
        case 1883, 8883: return .mqtt
        case 1900: return udp ? .ssdp : .unknown
        case 2049: return .nfs
        case 2123, 2152: return udp ? .gtp : .unknown
        case 3306: return .mysql
        case 3389: return .rdp
        case 3478: return .stun
        case 3784, 3785: return udp ? .bfd : .unknown
        case 4500: return udp ? .ipsecNAT : .unknown
        case 4789: return udp ? .vxlan : .unknown
        case 5060, 5061: return .sip
        case 5222, 5269: return udp ? .unknown : .xmpp
        case 5353: return .mdns
        case 5355: return .llmnr
        case 5432: return .postgresql
        case 5672: return .amqp
        case 5683: return udp ? .coap : .unknown
        case 5900: return .vnc
        case 6081: return udp ? .geneve : .unknown
        case 6379: return .redis
        case 6667: return udp ? .unknown : .irc
        case 6696: return .babel
        case 6881...6889: return udp ? .unknown : .bittorrent
        case 8080: return .http
        case 9090: return .prometheus
        case 9092: return .kafka
        case 9200: return .elasticsearch
        case 11211: return .memcached
        case 27017: return .mongodb
        case 51820: return udp ? .wireguard : .unknown
        default: return .unknown
        }
    }

    /// The guess for a port pair: the lower port first, since servers listen on the
    /// lower, well-known one and clients use ephemeral ports.
    @inlinable
    public static func forPorts(_ a: UInt16, _ b: UInt16, udp: Bool) -> AppProtocol {
        let (lo, hi) = a <= b ? (a, b) : (b, a)
        let first = forPort(lo, udp: udp)
        return first != .unknown ? first : forPort(hi, udp: udp)
    }

    /// True for the ports whose payload is decoded as DNS.
    @inlinable
    public static func isDNSPort(_ p: UInt16) -> Bool { p == 53 || p == 5353 || p == 5355 }
}

/// Where a packet's or flow's `app` came from.
public enum AppSource: UInt8, Sendable {
    /// Guessed from the port numbers.
    case port
    /// Shown by the payload (TLS, HTTP, SSH, DNS, QUIC, and the protocols of
    /// `AppDetectors`).
    case payload

    public var name: StaticString { self == .port ? "port" : "payload" }
}
