import SniffCore
import Testing

@Suite("ByteCursor")
struct ByteCursorTests {
    static let bytes: [UInt8] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A]

    @Test func absoluteReadsAreBigEndian() {
        Self.bytes.withUnsafeBytes { raw in
            let c = ByteCursor(raw)
            #expect(c.count == 10)
            #expect(c.getUInt8(at: 0) == 0x01)
            #expect(c.getUInt8(at: 9) == 0x0A)
            #expect(c.getUInt16(at: 0) == 0x0102)
            #expect(c.getUInt16(at: 8) == 0x090A)
            #expect(c.getUInt32(at: 1) == 0x0203_0405)
            #expect(c.getUInt64(at: 2) == 0x0304_0506_0708_090A)
            #expect(c.getUInt16LE(at: 0) == 0x0201)
            #expect(c.getUInt32LE(at: 6) == 0x0A09_0807)
        }
    }

    @Test func everyOutOfRangeReadIsNil() {
        Self.bytes.withUnsafeBytes { raw in
            let c = ByteCursor(raw)
            for offset in -3...13 {
                #expect((c.getUInt8(at: offset) != nil) == (offset >= 0 && offset + 1 <= 10), "u8 at \(offset)")
                #expect((c.getUInt16(at: offset) != nil) == (offset >= 0 && offset + 2 <= 10), "u16 at \(offset)")
                #expect((c.getUInt32(at: offset) != nil) == (offset >= 0 && offset + 4 <= 10), "u32 at \(offset)")
                #expect((c.getUInt64(at: offset) != nil) == (offset >= 0 && offset + 8 <= 10), "u64 at \(offset)")
                #expect((c.getUInt16LE(at: offset) != nil) == (offset >= 0 && offset + 2 <= 10))
                #expect((c.getUInt32LE(at: offset) != nil) == (offset >= 0 && offset + 4 <= 10))
            }
        }
    }

    @Test func extremeOffsetsAndCountsDoNotOverflow() {
        Self.bytes.withUnsafeBytes { raw in
            let c = ByteCursor(raw)
            for offset in [Int.min, Int.min + 1, -1, Int.max - 1, Int.max] {
                #expect(c.getUInt8(at: offset) == nil)
                #expect(c.getUInt64(at: offset) == nil)
                #expect(c.slice(at: offset, count: 1) == nil)
                #expect(!c.has(1, at: offset))
            }
            for n in [Int.min, -1, 11, Int.max] {
                #expect(c.slice(at: 0, count: n) == nil)
                #expect(!c.has(n, at: 0))
                #expect(!c.has(n, at: 5))
            }
        }
    }

    @Test func slices() {
        Self.bytes.withUnsafeBytes { raw in
            let c = ByteCursor(raw)
            #expect(c.slice(at: 2, count: 3).map(Array.init) == [0x03, 0x04, 0x05])
            #expect(c.slice(at: 0, count: 10).map(Array.init) == Self.bytes)
            #expect(c.slice(at: 10, count: 0).map(Array.init) == [])
            #expect(c.slice(at: 8, count: 3) == nil)
            #expect(c.slice(at: 11, count: 0) == nil)
        }
    }

    @Test func consumingReads() {
        Self.bytes.withUnsafeBytes { raw in
            var c = ByteCursor(raw)
            #expect(c.readUInt8() == 0x01)
            #expect(c.position == 1)
            #expect(c.peekUInt8() == 0x02)
            #expect(c.peekUInt16() == 0x0203)
            #expect(c.position == 1)
            #expect(c.readUInt16() == 0x0203)
            #expect(c.readUInt32() == 0x0405_0607)
            #expect(c.remaining == 3)
            // Too few left: nil, and the position stays where it was.
            #expect(c.readUInt32() == nil)
            #expect(c.position == 7)
            let skippedTooFar = c.skip(4)
            #expect(!skippedTooFar)
            #expect(c.position == 7)
            let skippedToEnd = c.skip(3)
            #expect(skippedToEnd)
            #expect(c.remaining == 0)
            #expect(c.readUInt8() == nil)
            #expect(c.peekUInt8() == nil)
            #expect(c.peekUInt16() == nil)
            let skippedBack = c.skip(-1)
            #expect(!skippedBack)
            let skippedNothing = c.skip(0)
            #expect(skippedNothing)
        }
    }

    @Test func positionOutsideTheBuffer() {
        Self.bytes.withUnsafeBytes { raw in
            var past = ByteCursor(raw, position: 50)
            #expect(past.remaining == 0)
            #expect(past.readUInt8() == nil)
            var before = ByteCursor(raw, position: -5)
            #expect(before.readUInt16() == nil)
            #expect(before.position == -5)
        }
    }

    @Test func emptyBuffer() {
        let empty: [UInt8] = []
        empty.withUnsafeBytes { raw in
            var c = ByteCursor(raw)
            #expect(c.count == 0)
            #expect(c.remaining == 0)
            #expect(c.getUInt8(at: 0) == nil)
            #expect(c.readUInt32() == nil)
            #expect(c.slice(at: 0, count: 1) == nil)
            #expect(c.slice(at: 0, count: 0)?.count == 0)
        }
        #expect(
            ByteCursor(UnsafeRawBufferPointer(start: nil, count: 0)).getUInt16(at: 0) == nil, "read from a nil buffer")
    }
}
