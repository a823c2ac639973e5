import SniffCore
import Testing

@Suite("MACAddress and LinkType")
struct MACAddressTests {
    @Test func text() {
        #expect(MACAddress(0x0000_5E00_5301).description == "00:00:5e:00:53:01")
        #expect(MACAddress(0xFFFF_FFFF_FFFF).description == "ff:ff:ff:ff:ff:ff")
        #expect(MACAddress(0).description == "00:00:00:00:00:00")
        // Only 48 bits are kept.
        #expect(MACAddress(0xABCD_0000_5E00_5301) == MACAddress(0x0000_5E00_5301))
    }

    @Test func readFromBytes() {
        let bytes: [UInt8] = [0xAA, 0x00, 0x04, 0x00, 0x14, 0x0E, 0x08]
        bytes.withUnsafeBytes { raw in
            let c = ByteCursor(raw)
            #expect(MACAddress(c, at: 0)?.description == "aa:00:04:00:14:0e")
            #expect(MACAddress(c, at: 1)?.description == "00:04:00:14:0e:08")
            #expect(MACAddress(c, at: 2) == nil)
            #expect(MACAddress(c, at: -1) == nil)
        }
    }

    @Test func linkTypeNames() {
        #expect(LinkType.ethernet.name == "ethernet")
        #expect(LinkType.null.name == "null")
        #expect(LinkType.raw.name == "raw")
        #expect(LinkType.rawOpenBSD.name == "raw")
        #expect(LinkType.rawBSDOS.name == "raw")
        #expect(LinkType.loop.name == "loop")
        #expect(LinkType.linuxSLL.name == "linux_sll")
        #expect(LinkType.linuxSLL2.name == "linux_sll2")
        #expect(LinkType.ipv4.name == "ipv4")
        #expect(LinkType.ipv6.name == "ipv6")
        #expect(LinkType(147).name == "linktype_147")
        #expect(!LinkType(147).isKnown)
        for known in [
            LinkType.null, .ethernet, .rawOpenBSD, .rawBSDOS, .raw, .loop, .linuxSLL, .ipv4, .ipv6, .linuxSLL2
        ] {
            #expect(known.isKnown)
        }
        #expect(LinkType.linuxSLL.description == "linux_sll (113)")
    }
}
