import SniffCore
import Testing

@Suite("Timestamp")
struct TimestampTests {
    @Test func totalNanoseconds() {
        #expect(Timestamp(seconds: 1, nanoseconds: 5).totalNanoseconds == 1_000_000_005)
        #expect(Timestamp(seconds: 0, nanoseconds: 0).totalNanoseconds == 0)
        #expect(Timestamp(seconds: -1, nanoseconds: 999_999_999).totalNanoseconds == -1)
        #expect(
            Timestamp(seconds: 1_700_000_000, nanoseconds: 123_456_789).totalNanoseconds == 1_700_000_000_123_456_789)
    }

    @Test func totalNanosecondsSaturates() {
        #expect(Timestamp(seconds: Int64.max, nanoseconds: 0).totalNanoseconds == .max)
        #expect(Timestamp(seconds: Int64.min, nanoseconds: 0).totalNanoseconds == .min)
        #expect(Timestamp(seconds: 9_223_372_036, nanoseconds: 999_999_999).totalNanoseconds == .max)
        #expect(Timestamp(seconds: 9_223_372_036, nanoseconds: 854_775_807).totalNanoseconds == .max)
    }

    @Test(arguments: [
        (Int64(0), Int64(0), UInt32(0)), (1, 0, 1), (999_999_999, 0, 999_999_999), (1_000_000_000, 1, 0),
        (-1, -1, 999_999_999), (-999_999_999, -1, 1), (-1_000_000_000, -1, 0), (-1_000_000_001, -2, 999_999_999),
        (Int64.max, 9_223_372_036, 854_775_807), (Int64.min, -9_223_372_037, 145_224_192),
    ])
    func fromTotalNanoseconds(_ ns: Int64, _ s: Int64, _ frac: UInt32) {
        let t = Timestamp(totalNanoseconds: ns)
        #expect(t.seconds == s)
        #expect(t.nanoseconds == frac)
        #expect(t.nanoseconds < 1_000_000_000)
        #expect(t.totalNanoseconds == ns)
    }

    @Test func ordering() {
        let a = Timestamp(seconds: 1, nanoseconds: 999_999_999)
        let b = Timestamp(seconds: 2, nanoseconds: 0)
        let c = Timestamp(seconds: 2, nanoseconds: 1)
        #expect(a < b)
        #expect(b < c)
        #expect(!(c < a))
        #expect(Timestamp(seconds: -1, nanoseconds: 0) < .zero)
        #expect([c, a, b].sorted() == [a, b, c])
        #expect(b == Timestamp(seconds: 2, nanoseconds: 0))
        #expect(Set([a, b, Timestamp(seconds: 2, nanoseconds: 0)]).count == 2)
    }

    @Test func differences() {
        let a = Timestamp(seconds: 1, nanoseconds: 999_999_999)
        let b = Timestamp(seconds: 2, nanoseconds: 0)
        #expect(b.nanoseconds(since: a) == 1)
        #expect(a.nanoseconds(since: b) == -1)
        #expect(b.nanoseconds(since: b) == 0)
        let later = Timestamp(seconds: 1_700_000_100, nanoseconds: 250_000_000)
        let earlier = Timestamp(seconds: 1_700_000_000, nanoseconds: 750_000_000)
        #expect(later.nanoseconds(since: earlier) == 99_500_000_000)
        #expect(Timestamp(totalNanoseconds: earlier.totalNanoseconds + later.nanoseconds(since: earlier)) == later)
    }

    @Test func differencesSaturate() {
        let top = Timestamp(seconds: Int64.max / 2, nanoseconds: 0)
        let bottom = Timestamp(seconds: Int64.min / 2, nanoseconds: 0)
        #expect(top.nanoseconds(since: bottom) == .max)
        #expect(bottom.nanoseconds(since: top) == .min)
    }

    @Test func doubleValue() {
        #expect(Timestamp(seconds: 1, nanoseconds: 500_000_000).doubleValue == 1.5)
        #expect(Timestamp(seconds: -1, nanoseconds: 500_000_000).doubleValue == -0.5)
        #expect(Timestamp.zero.doubleValue == 0)
    }

    @Test func epochString() {
        #expect(Timestamp(seconds: 1_700_000_000, nanoseconds: 1).epochString == "1700000000.000000001")
    }
}
