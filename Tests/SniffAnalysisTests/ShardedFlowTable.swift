import SniffCore
import SniffDecode
import SniffAnalysis

// This lives with the analysis tests, not in SniffAnalysis: no command and no benchmark
// runs flows on shards (the CLI runs one FlowTable on the analysis thread, which is
// faster on this machine, docs/FLOWS.md "Sharding"). The tests keep it, and with it
// the proof that FlowKey's hash splits flows cleanly, so that a two-thread engine can
// move it back into the product target when it needs it.

/// N flow tables chosen by the direction-independent key hash, so that both directions
/// of a flow always reach the same table and the tables never share state. Each table
/// can then be owned by its own thread (see `ParallelFlowTables`); this type dispatches
/// on the caller's thread, which is also what the equivalence test runs.
///
/// The cap is split evenly between the shards.
final class ShardedFlowTable: PacketConsumer {
    let shards: [FlowTable]
    var useWallClock = false
    private var sinceExpiry = 0

    init(shards n: Int, config: FlowTableConfig = FlowTableConfig(), observer: FlowObserver? = nil) {
        var c = config
        c.maxFlows = Swift.max(1, config.maxFlows / Swift.max(1, n))
        c.initialCapacity = Swift.max(16, config.initialCapacity / Swift.max(1, n))
        shards = (0..<Swift.max(1, n)).map { _ in FlowTable(config: c, observer: observer) }
    }

    /// The shard for a packet: the same for both directions of its flow. Packets with no
    /// flow go to shard 0, which only counts them.
    static func shard(of p: DecodedPacket, count: Int) -> Int {
        guard count > 1, let key = FlowKey(packet: p) else { return 0 }
        return Int(truncatingIfNeeded: (key.fastHash >> 40) % UInt64(count))
    }

    func consume(_ packet: DecodedPacket, frame: UnsafeRawBufferPointer) {
        let now = useWallClock ? Timestamp.now() : packet.timestamp
        shards[ShardedFlowTable.shard(of: packet, count: shards.count)].process(packet, frame: frame, now: now)
        // Quiet shards still need their timers to run.
        sinceExpiry += 1
        if sinceExpiry >= 1024 {
            sinceExpiry = 0
            for s in shards { s.expire(now: now) }
        }
    }

    func expire(now: Timestamp) { for s in shards { s.expire(now: now) } }

    func flush(reason: FlowEndReason = .end) { for s in shards { s.flush(reason: reason) } }

    var count: Int { shards.reduce(0) { $0 + $1.count } }
}
