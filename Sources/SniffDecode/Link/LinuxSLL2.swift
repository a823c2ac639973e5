import SniffCore

/// Linux cooked capture header v2 (LINKTYPE_LINUX_SLL2, 276), 20 bytes:
///
///     protocol(2) reserved(2) interface index(4) ARPHRD type(2) packet type(1)
///     address length(1) address(8)
public enum LinuxSLL2 {
    public static let headerLength = 20

    public static func decode(_ c: ByteCursor, at start: Int, into p: inout DecodedPacket) -> LinkNext {
        guard c.has(headerLength, at: start), let proto = c.getUInt16(at: start),
              let hatype = c.getUInt16(at: start + 8), let halen = c.getUInt8(at: start + 11) else {
            p.markShort(.sll2, have: c.count - start, need: headerLength)
            return .end
        }
        LinuxSLL.source(c, at: start + 12, length: Int(halen), hatype: hatype, into: &p)
        return LinuxSLL.next(protocol: proto, hatype: hatype, offset: start + headerLength, c, &p)
    }
}
