import Testing
import SniffCore
import SniffDecode
import SniffStore
@testable import SniffServer

/// The feed's `filter` command: tcpdump-like words into the API's filter fields.
struct LiveFilterTests {
    @Test func wordsBecomeTheAPIsFields() throws {
        let f = try LiveFilter(expression: "tcp port 80 host 10.0.0.1").filter
        #expect(f.transport == .tcp && f.port == 80 && f.ip == IPNetwork("10.0.0.1"))
        let g = try LiveFilter(expression: "src 192.0.2.0/24 and dst port 53 app dns").filter
        #expect(g.src == IPNetwork("192.0.2.0/24") && g.dport == 53 && g.app == .dns && g.ip == nil)
    }

    /// Every transport `--transport` and `transport=` accept is a word of its own, in
    /// any case, including the aliases (icmp6).
    @Test func everyTransportNameIsAWord() throws {
        for k in TransportKind.allCases where k != .none {
            let word = k.label.lowercased()
            #expect(try LiveFilter(expression: word).filter.transport == k, "\(word)")
            #expect(try LiveFilter(expression: word.uppercased()).filter.transport == k, "\(word)")
        }
        #expect(try LiveFilter(expression: "icmp6").filter.transport == .icmpv6)
    }

    @Test func unknownWordsAndMissingValuesAreRefused() {
        #expect(throws: APIError.self) { try LiveFilter(expression: "sctp") }
        #expect(throws: APIError.self) { try LiveFilter(expression: "tcp port") }
        #expect(throws: APIError.self) { try LiveFilter(expression: "colour=red") }
    }
}
