import Testing
import SniffDecode
import SniffAnalysis

/// The per-address set of apps holds every AppProtocol, including those past raw value
/// 64 (TLS is 64; IRC, XMPP and BitTorrent follow), which a single 64-bit word cannot.
@Suite struct AppSetTests {
    @Test func holdsEveryProtocol() {
        var set = AppSet()
        #expect(set.isEmpty && set.members.isEmpty)
        for a in AppProtocol.allCases { set.insert(a) }
        #expect(set.members == AppProtocol.allCases.filter { $0 != .unknown })
        #expect(!set.contains(.unknown))
    }

    @Test func wordsDoNotAlias() {
        var set = AppSet()
        set.insert(.irc)
        set.insert(.ftp)
        #expect(set.members == [.ftp, .irc])
        #expect(!set.contains(.tls) && !set.contains(.ssh) && !set.contains(.xmpp))
        set.insert(.tls)
        #expect(set.members == [.ftp, .tls, .irc])
        set.insert(.unknown)
        #expect(set.members.count == 3)
    }
}
