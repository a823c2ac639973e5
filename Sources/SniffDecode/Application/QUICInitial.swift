#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Crypto
import _CryptoExtras
import SniffCore

/// The keys that protect Initial packets in one direction (RFC 9001 section 5.2, RFC 9369
/// section 3.3.1). Anyone who sees the client's first Destination Connection ID can derive
/// them, which is why a passive observer can read the ClientHello of a QUIC connection.
public struct QUICInitialKeys: Sendable {
    public let key: SymmetricKey
    public let iv: [UInt8]
    public let hp: SymmetricKey

    /// The keys of `version` (v1 or v2; nil for any other) for the client's packets, or
    /// the server's when `server` is true. `dcid` is the Destination Connection ID of the
    /// client's first Initial, at most 20 bytes.
    public init?(version: UInt32, dcid: UnsafeRawBufferPointer, server: Bool) {
        let salt: [UInt8]
        let labels: (key: String, iv: String, hp: String)
        switch version {
        case QUIC.version1:
            salt = QUICInitial.saltV1
            labels = ("quic key", "quic iv", "quic hp")
        case QUIC.version2:
            salt = QUICInitial.saltV2
            labels = ("quicv2 key", "quicv2 iv", "quicv2 hp")
        default:
            return nil
        }
        guard dcid.count <= QUIC.maximumCIDLength else { return nil }
        let initial = HKDF<SHA256>.extract(inputKeyMaterial: SymmetricKey(data: dcid), salt: salt)
        let secret = QUICInitial.expandLabel(initial, server ? "server in" : "client in", 32)
        key = QUICInitial.expandLabel(secret, labels.key, 16)
        iv = QUICInitial.expandLabel(secret, labels.iv, 12).withUnsafeBytes { Array($0) }
        hp = QUICInitial.expandLabel(secret, labels.hp, 16)
    }
}

/// An Initial packet with its protection removed.
public struct QUICInitialPacket: Sendable, Equatable {
    public var header: QUICLongHeader
    public var packetNumber: UInt64
    /// The frames, decrypted.
    public var payload: [UInt8]
    /// Where the packet ends in the datagram; a coalesced packet may follow (RFC 9000
    /// section 12.2).
    public var end: Int
}

/// One frame of an Initial packet (RFC 9000 section 19). Offsets point into the
/// buffer the frames were read from.
public enum QUICFrame: Sendable, Equatable {
    /// A run of PADDING bytes.
    case padding(count: Int)
    case ping
    case ack(largest: UInt64, ranges: Int)
    /// `offset` is the stream offset; the data is at `dataOffset` in the buffer.
    case crypto(offset: UInt64, dataOffset: Int, length: Int)
    /// `frameType` is nil for the application variant (0x1d).
    case connectionClose(errorCode: UInt64, frameType: UInt64?, reasonOffset: Int, reasonLength: Int)
}

/// Initial packet protection: header protection with the AES block function over a
/// sample of the ciphertext, then AEAD_AES_128_GCM over the payload (RFC 9001 sections
/// 5.3 and 5.4). Only the Initial packets of v1 and v2 are readable this way; everything
/// later is protected with keys from the TLS handshake.
public enum QUICInitial {
    static let saltV1: [UInt8] = [
        0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
        0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a,
    ]
    static let saltV2: [UInt8] = [
        0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
        0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9,
    ]
    static let tagLength = 16
    static let sampleLength = 16

    /// HKDF-Expand-Label of TLS 1.3 (RFC 8446 section 7.1) with an empty context.
    static func expandLabel(_ secret: some ContiguousBytes, _ label: String, _ length: Int) -> SymmetricKey {
        var info: [UInt8] = [UInt8(length >> 8), UInt8(length & 0xFF)]
        let full = Array("tls13 \(label)".utf8)
        info.append(UInt8(full.count))
        info += full
        info.append(0)
        return HKDF<SHA256>.expand(pseudoRandomKey: secret, info: info, outputByteCount: length)
    }

    /// A variable-length integer (RFC 9000 section 16) at `offset`: its value and size.
    public static func getVarInt(_ c: ByteCursor, at offset: Int) -> (value: UInt64, size: Int)? {
        guard let first = c.getUInt8(at: offset) else { return nil }
        let size = 1 << Int(first >> 6)
        guard c.has(size, at: offset) else { return nil }
        var v = UInt64(first & 0x3F)
        for i in 1..<size { v = v << 8 | UInt64(c.getUInt8(at: offset + i)!) }
        return (v, size)
    }

    /// True when `count` bytes from `pos` end at or before `limit` (without overflow).
    static func fits(_ count: UInt64, from pos: Int, to limit: Int) -> Bool {
        pos <= limit && count <= UInt64(limit - pos)
    }

    /// Removes the protection of the Initial packet that starts at `offset` (at most
    /// `length` bytes: a datagram may hold coalesced packets). Returns nil when it is not
    /// a v1/v2 Initial, is cut short, or does not authenticate with `keys`.
    public static func open(_ c: ByteCursor, at offset: Int, length: Int, keys: QUICInitialKeys) -> QUICInitialPacket? {
        guard length > 0, let header = QUIC.parseLongHeader(c, at: offset, length: length), header.isInitial,
              header.version == QUIC.version1 || header.version == QUIC.version2 else { return nil }
        let limit = offset + Swift.min(length, c.count - offset)
        var pos = header.scidOffset + header.scidLength
        guard let token = getVarInt(c, at: pos), fits(token.value, from: pos + token.size, to: limit) else {
            return nil
        }
        pos += token.size + Int(token.value)
        guard let len = getVarInt(c, at: pos), fits(len.value, from: pos + len.size, to: limit) else { return nil }
        let pnOffset = pos + len.size
        let end = pnOffset + Int(len.value)
        // The sample starts 4 bytes after the packet number's first byte, whatever its
        // length, and must leave room for the tag.
        guard end - pnOffset >= 4 + sampleLength, let sample = c.slice(at: pnOffset + 4, count: sampleLength) else {
            return nil
        }
        var mask = Array(sample)
        do { try AES.permute(&mask, key: keys.hp) } catch { return nil }
        guard var first = c.getUInt8(at: offset) else { return nil }
        first ^= mask[0] & 0x0F
        let pnLength = Int(first & 0x03) + 1
        guard end - pnOffset - pnLength >= tagLength, var aad = c.slice(at: offset, count: pnOffset + pnLength - offset)
            .map(Array.init) else { return nil }
        aad[0] = first
        var pn: UInt64 = 0
        for i in 0..<pnLength {
            let b = aad[pnOffset - offset + i] ^ mask[1 + i]
            aad[pnOffset - offset + i] = b
            pn = pn << 8 | UInt64(b)
        }
        // The truncated number is the full one while it is below 2^(8*pnLength - 1), as
        // it is for the first packets of a connection; later ones fail to authenticate.
        var nonce = keys.iv
        for i in 0..<8 { nonce[4 + i] ^= UInt8(truncatingIfNeeded: pn >> (56 - 8 * i)) }
        let bodyStart = pnOffset + pnLength
        guard let ciphertext = c.slice(at: bodyStart, count: end - tagLength - bodyStart),
              let tag = c.slice(at: end - tagLength, count: tagLength) else { return nil }
        do {
            let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: nonce), ciphertext: ciphertext, tag: tag)
            let plain = try AES.GCM.open(box, using: keys.key, authenticating: aad)
            return QUICInitialPacket(header: header, packetNumber: pn, payload: Array(plain), end: end)
        } catch {
            return nil
        }
    }

    /// Calls `body` with each frame in `from..<to`, in order, until it returns false.
    /// Returns false when a frame is malformed, cut short, or of a type an Initial packet
    /// may not carry (RFC 9000 section 12.4); the frames before it were delivered.
    @discardableResult
    public static func forEachFrame(_ c: ByteCursor, from start: Int, to stop: Int,
                                    _ body: (QUICFrame) -> Bool) -> Bool {
        let end = Swift.min(stop, c.count)
        var pos = start
        while pos < end {
            guard let type = getVarInt(c, at: pos) else { return false }
            pos += type.size
            switch type.value {
            case 0x00:
                var n = 1
                while pos < end, c.getUInt8(at: pos) == 0 { pos += 1; n += 1 }
                if !body(.padding(count: n)) { return true }
            case 0x01:
                if !body(.ping) { return true }
            case 0x02, 0x03:
                guard let largest = getVarInt(c, at: pos), let delay = getVarInt(c, at: pos + largest.size),
                      let count = getVarInt(c, at: pos + largest.size + delay.size),
                      let first = getVarInt(c, at: pos + largest.size + delay.size + count.size) else { return false }
                pos += largest.size + delay.size + count.size + first.size
                // Each range is two varints of at least one byte, so a count larger than
                // what is left is a lie; this bounds the loop.
                guard pos <= end, count.value <= UInt64((end - pos) / 2) else { return false }
                let fields = Int(count.value) * 2 + (type.value == 0x03 ? 3 : 0)
                for _ in 0..<fields {
                    guard let v = getVarInt(c, at: pos), pos + v.size <= end else { return false }
                    pos += v.size
                }
                if !body(.ack(largest: largest.value, ranges: Int(count.value) + 1)) { return true }
            case 0x06:
                guard let off = getVarInt(c, at: pos), let len = getVarInt(c, at: pos + off.size) else { return false }
                pos += off.size + len.size
                guard fits(len.value, from: pos, to: end) else { return false }
                let n = Int(len.value)
                if !body(.crypto(offset: off.value, dataOffset: pos, length: n)) { return true }
                pos += n
            case 0x1C, 0x1D:
                guard let code = getVarInt(c, at: pos) else { return false }
                pos += code.size
                var frameType: UInt64?
                if type.value == 0x1C {
                    guard let ft = getVarInt(c, at: pos) else { return false }
                    frameType = ft.value
                    pos += ft.size
                }
                guard let len = getVarInt(c, at: pos) else { return false }
                pos += len.size
                guard fits(len.value, from: pos, to: end) else { return false }
                let n = Int(len.value)
                if !body(.connectionClose(errorCode: code.value, frameType: frameType, reasonOffset: pos,
                                          reasonLength: n)) { return true }
                pos += n
            default:
                return false
            }
        }
        return pos == end
    }
}

/// The CRYPTO stream of one direction, reassembled by offset from frames that may come
/// out of order, repeated or overlapping, up to `capacity` bytes (the data beyond is
/// dropped: a ClientHello is a few KB).
public struct QUICCryptoStream: Sendable, Equatable {
    public let capacity: Int
    /// The bytes received so far; zero where nothing arrived yet.
    public private(set) var bytes: [UInt8] = []
    /// Received ranges, sorted and disjoint (few: frames arrive almost in order).
    private var ranges: [Range<Int>] = []
    static let maximumRanges = 16

    public init(capacity: Int = 16384) { self.capacity = capacity }

    /// How many bytes from offset 0 are present without a gap.
    public var contiguous: Int { ranges.first.map { $0.lowerBound == 0 ? $0.upperBound : 0 } ?? 0 }

    /// Adds the frame's data at stream offset `offset`. Returns false when nothing was
    /// stored (beyond the capacity, or too many gaps).
    @discardableResult
    public mutating func add(offset: UInt64, _ data: UnsafeRawBufferPointer) -> Bool {
        guard offset < UInt64(capacity), !data.isEmpty else { return false }
        let lower = Int(offset)
        let upper = Swift.min(capacity, lower + Swift.min(data.count, capacity))
        guard upper > lower else { return false }
        var merged = lower..<upper
        var kept: [Range<Int>] = []
        for r in ranges {
            if r.upperBound < merged.lowerBound || r.lowerBound > merged.upperBound {
                kept.append(r)
            } else {
                merged = Swift.min(r.lowerBound, merged.lowerBound)..<Swift.max(r.upperBound, merged.upperBound)
            }
        }
        kept.append(merged)
        kept.sort { $0.lowerBound < $1.lowerBound }
        guard kept.count <= Self.maximumRanges else { return false }
        if bytes.count < upper { bytes += repeatElement(0, count: upper - bytes.count) }
        for i in lower..<upper { bytes[i] = data[i - lower] }
        ranges = kept
        return true
    }
}

extension QUICInitial {
    /// Opens the Initial packets at the start of a datagram (coalesced ones included) with
    /// `keys` and adds their CRYPTO frames to `stream`. Returns how many packets opened;
    /// 0 when the first is not an Initial these keys open.
    @discardableResult
    public static func collectCrypto(_ c: ByteCursor, at offset: Int, length: Int, keys: QUICInitialKeys,
                                     into stream: inout QUICCryptoStream) -> Int {
        let end = offset + Swift.min(length, c.count - offset)
        var pos = offset
        var opened = 0
        // A datagram holds a handful of packets at most; the bound keeps hostile input cheap.
        while pos < end, opened < 4, let packet = open(c, at: pos, length: end - pos, keys: keys) {
            opened += 1
            packet.payload.withUnsafeBytes { buf in
                let pc = ByteCursor(buf)
                forEachFrame(pc, from: 0, to: buf.count) { frame in
                    if case .crypto(let off, let at, let n) = frame, let data = pc.slice(at: at, count: n) {
                        stream.add(offset: off, data)
                    }
                    return true
                }
            }
            pos = packet.end
        }
        return opened
    }

    /// The ClientHello in a client's CRYPTO stream, once its bytes from offset 0 are all
    /// there; nil before.
    public static func clientHello(in stream: QUICCryptoStream) -> (hello: TLSClientHello, bytes: [UInt8])? {
        let n = stream.contiguous
        guard n >= 4 else { return nil }
        let bytes = Array(stream.bytes[0..<n])
        let hello = bytes.withUnsafeBytes { TLS.parseClientHelloMessage(ByteCursor($0), at: 0, length: $0.count) }
        guard let hello, hello.complete else { return nil }
        return (hello, bytes)
    }
}

/// The Initial packets of one QUIC connection as a passive observer sees them: the
/// client's first Initial fixes the version and the Destination Connection ID the keys of
/// both directions derive from; each direction's CRYPTO data is reassembled until its
/// hello is complete. Bounded: it gives up after a few datagrams each way.
public struct QUICHandshake: Sendable {
    public enum Event: Sendable, Equatable { case none, clientHello, serverHello }

    public private(set) var version: UInt32 = 0
    private var dcid: [UInt8] = []
    private var clientKeys: QUICInitialKeys?
    private var serverKeys: QUICInitialKeys?
    private var clientStream = QUICCryptoStream()
    private var serverStream = QUICCryptoStream()
    private var datagrams = (client: 0, server: 0)
    /// The complete ClientHello and the bytes its offsets point into.
    public private(set) var clientHello: (hello: TLSClientHello, bytes: [UInt8])?
    /// The ServerHello, and the bytes of the server's CRYPTO stream.
    public private(set) var serverHello: (hello: TLSServerHello, bytes: [UInt8])?
    /// Initial packets carry the handshake's first flight only; more is retransmission.
    public static let maximumDatagrams = 8

    public init() {}

    /// True once both hellos were read or the datagram budget is spent.
    public var isDone: Bool {
        (clientHello != nil && serverHello != nil)
            || datagrams.client >= Self.maximumDatagrams && datagrams.server >= Self.maximumDatagrams
    }

    /// Feeds the UDP payload at `offset` of a datagram the client (or the server) sent.
    public mutating func add(_ c: ByteCursor, at offset: Int, length: Int, fromClient: Bool) -> Event {
        guard let header = QUIC.parseLongHeader(c, at: offset, length: length), header.isInitial else { return .none }
        if fromClient {
            guard clientHello == nil, datagrams.client < Self.maximumDatagrams else { return .none }
            datagrams.client += 1
            if clientKeys == nil {
                guard let id = c.slice(at: header.dcidOffset, count: header.dcidLength),
                      let keys = QUICInitialKeys(version: header.version, dcid: id, server: false) else { return .none }
                version = header.version
                dcid = Array(id)
                clientKeys = keys
            }
            guard let keys = clientKeys, header.version == version,
                  QUICInitial.collectCrypto(c, at: offset, length: length, keys: keys, into: &clientStream) > 0,
                  let hello = QUICInitial.clientHello(in: clientStream) else { return .none }
            clientHello = hello
            clientStream = QUICCryptoStream(capacity: 0)  // the bytes live on in clientHello
            return .clientHello
        }
        guard serverHello == nil, !dcid.isEmpty, header.version == version,
              datagrams.server < Self.maximumDatagrams else { return .none }
        datagrams.server += 1
        if serverKeys == nil {
            serverKeys = dcid.withUnsafeBytes { QUICInitialKeys(version: version, dcid: $0, server: true) }
        }
        guard let keys = serverKeys,
              QUICInitial.collectCrypto(c, at: offset, length: length, keys: keys, into: &serverStream) > 0 else {
            return .none
        }
        let n = serverStream.contiguous
        guard n >= 4 else { return .none }
        let bytes = Array(serverStream.bytes[0..<n])
        guard
            let hello = bytes.withUnsafeBytes({ TLS.parseServerHelloMessage(ByteCursor($0), at: 0, length: $0.count) }),
            hello.complete
        else { return .none }
        serverHello = (hello, bytes)
        serverStream = QUICCryptoStream(capacity: 0)
        return .serverHello
    }
}
