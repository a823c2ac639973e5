import Foundation
import SniffCore
import SniffDecode
import SniffCapture
import SniffAnalysis

/// Runs a capture through the packet pipeline into a flow table and returns every flow
/// (flushed at the end), in the order they ended. `setUp` may change the pipeline first.
func flows(of file: URL, config: FlowTableConfig = .noTimeouts,
           setUp: (PacketPipeline) -> Void = { _ in }) throws -> [Flow] {
    let reader = try CaptureFileReader(path: file.path)
    let pipeline = PacketPipeline()
    setUp(pipeline)
    let collector = FlowCollector()
    let table = FlowTable(config: config, observer: collector)
    pipeline.consumers = [table]
    while let raw = try reader.next() { pipeline.process(raw) }
    table.flush()
    return collector.flows
}

/// A compact, comparable description of a flow for assertions.
struct FlowSummary: Hashable, CustomStringConvertible {
    var orig: String
    var resp: String
    var proto: String
    var state: String
    var history: String
    var origPkts: UInt32
    var respPkts: UInt32

    init(_ f: Flow) {
        orig = "\(f.origAddress):\(f.origPort)"
        resp = "\(f.respAddress):\(f.respPort)"
        proto = "\(f.transportName)"
        state = f.connState.string
        history = f.history.string
        origPkts = f.orig.packets
        respPkts = f.resp.packets
    }

    var description: String { "\(proto) \(orig) -> \(resp) \(state) \(history) \(origPkts)/\(respPkts)" }
}

/// Builds a decoded TCP packet for driving the table without a capture.
func tcpPacket(
    _ src: String, _ sport: UInt16, _ dst: String, _ dport: UInt16, flags: UInt16,
    seq: UInt32 = 0, ack: UInt32 = 0, payload: Int = 0, at seconds: Double, window: UInt16 = 1024
) -> DecodedPacket {
    var p = DecodedPacket()
    p.timestamp = Timestamp(totalNanoseconds: Int64(seconds * 1e9))
    p.ipVersion = IPAddress(src)!.isIPv6 ? 6 : 4
    p.src = IPAddress(src)!
    p.dst = IPAddress(dst)!
    p.ipProto = 6
    p.transport = .tcp
    p.hasPorts = true
    p.sport = sport
    p.dport = dport
    p.hasTCP = true
    p.tcp.flags = flags
    p.tcp.seq = seq
    p.tcp.ack = ack
    p.tcp.window = window
    p.ipHeaderLength = 20
    p.ipTotalLength = UInt32(40 + payload)
    p.wireLength = UInt32(54 + payload)
    p.capturedLength = p.wireLength
    p.hasPayloadLength = true
    p.payloadLength = UInt32(payload)
    return p
}

func udpPacket(
    _ src: String, _ sport: UInt16, _ dst: String, _ dport: UInt16, payload: Int = 10, at seconds: Double
) -> DecodedPacket {
    var p = DecodedPacket()
    p.timestamp = Timestamp(totalNanoseconds: Int64(seconds * 1e9))
    p.ipVersion = IPAddress(src)!.isIPv6 ? 6 : 4
    p.src = IPAddress(src)!
    p.dst = IPAddress(dst)!
    p.ipProto = 17
    p.transport = .udp
    p.hasPorts = true
    p.sport = sport
    p.dport = dport
    p.ipHeaderLength = 20
    p.ipTotalLength = UInt32(28 + payload)
    p.wireLength = UInt32(42 + payload)
    p.capturedLength = p.wireLength
    p.hasPayloadLength = true
    p.payloadLength = UInt32(payload)
    return p
}

var emptyFrame: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: nil, count: 0) }

/// The same run through `ShardedFlowTable` with `shards` tables.
func shardedFlows(of file: URL, shards: Int, config: FlowTableConfig = FlowTableConfig()) throws -> [Flow] {
    let reader = try CaptureFileReader(path: file.path)
    let pipeline = PacketPipeline()
    let collector = FlowCollector()
    let table = ShardedFlowTable(shards: shards, config: config, observer: collector)
    pipeline.consumers = [table]
    while let raw = try reader.next() { pipeline.process(raw) }
    table.flush()
    return collector.flows
}
