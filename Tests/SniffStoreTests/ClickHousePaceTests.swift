import Testing
@testable import SniffStore

/// `ClickHousePace`: which write calls wait for the interval since the previous call
/// (no server needed). Only bounds that a loaded machine cannot break are asserted: a
/// held call waits at least the interval; a call that is not held returns long before
/// an interval of a minute.
@Suite("ClickHouse write pace")
struct ClickHousePaceTests {
    static func elapsed(_ body: () async -> Void) async -> Duration {
        let clock = ContinuousClock(), start = clock.now
        await body()
        return clock.now - start
    }

    @Test("calls of one batch, the first call, and calls near the coalescing limit are not held")
    func notHeld() async {
        let pace = ClickHousePace(interval: .seconds(60))
        #expect(await Self.elapsed { await pace.wait(rows: 10, batches: 5, limit: 1000) } < .seconds(30))
        #expect(await Self.elapsed { await pace.wait(rows: 10, batches: 1, limit: 1000) } < .seconds(30))
        #expect(await Self.elapsed { await pace.wait(rows: 500, batches: 5, limit: 1000) } < .seconds(30))
    }

    @Test("a call of several batches right after another waits until the interval since it began")
    func held() async {
        let pace = ClickHousePace(interval: .milliseconds(300))
        await pace.wait(rows: 10, batches: 5, limit: 1000)
        #expect(await Self.elapsed { await pace.wait(rows: 10, batches: 5, limit: 1000) } >= .milliseconds(250))
    }
}
