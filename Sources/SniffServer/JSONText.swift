import SniffCore
import SniffDecode
import SniffStore

/// Small JSON helpers over `ByteSink`: every string is escaped, numbers are written as
/// numbers, nothing from a packet reaches the output unescaped.
struct JSONObject {
    var sink: ByteSink
    private var first = true

    init(capacity: Int = 256) { sink = ByteSink(capacity: capacity); sink.append(0x7B) }

    private mutating func key(_ k: String) {
        if !first { sink.append(0x2C) }
        first = false
        sink.append(0x22); sink.appendJSONEscaped(k); sink.append("\":" as StaticString)
    }

    mutating func string(_ k: String, _ v: String?) {
        key(k)
        guard let v else { sink.append("null" as StaticString); return }
        sink.append(0x22); sink.appendJSONEscaped(v); sink.append(0x22)
    }
    mutating func number(_ k: String, _ v: UInt64) { key(k); sink.append(decimal: v) }
    mutating func number(_ k: String, _ v: Int64?) {
        key(k)
        if let v { sink.append(decimal: v) } else { sink.append("null" as StaticString) }
    }
    mutating func number(_ k: String, _ v: Int) { key(k); sink.append(decimal: Int64(v)) }
    mutating func double(_ k: String, _ v: Double) {
        key(k)
        if v.isFinite { sink.append(String(v)) } else { sink.append("null" as StaticString) }
    }
    mutating func bool(_ k: String, _ v: Bool) { key(k); sink.append(v ? "true" as StaticString : "false") }
    mutating func seconds(_ k: String, nanos: Int64?) {
        key(k)
        if let nanos {
            sink.appendEpoch(Timestamp(totalNanoseconds: nanos))
        } else {
            sink.append("null" as StaticString)
        }
    }
    /// A value already rendered as JSON.
    mutating func raw(_ k: String, _ json: (inout ByteSink) -> Void) { key(k); json(&sink) }

    mutating func finish() -> ByteSink { sink.append(0x7D); return sink }

    /// Closes the object and appends it to `s`, for an object inside a longer text.
    mutating func finish(into s: inout ByteSink) {
        let done = finish()
        s.bytes.append(contentsOf: done.bytes)
    }

    /// Where a stored row came from: its sensor and its capture's id, as a string like
    /// `CaptureInfo`'s id.
    mutating func origin(sensor: String, captureID: Int64) {
        string("sensor", sensor)
        string("capture", String(captureID))
    }
}

enum JSONArray {
    static func write<S: Sequence>(_ items: S, into s: inout ByteSink, _ each: (S.Element, inout ByteSink) -> Void) {
        s.append(0x5B)
        var first = true
        for i in items {
            if !first { s.append(0x2C) }
            first = false
            each(i, &s)
        }
        s.append(0x5D)
    }
}

extension StoredAlert {
    func writeJSON(into s: inout ByteSink) {
        var o = JSONObject()
        o.string("id", row.id)
        o.seconds("ts", nanos: row.ts)
        o.string("severity", row.severity)
        o.string("rule", row.rule)
        o.string("kind", row.kind)
        o.string("message", row.message)
        if let u = row.uid { o.string("uid", u) }
        o.raw("hosts") { s in
            JSONArray.write(row.hosts, into: &s) { h, s in
                s.append(0x22); s.append(h.description); s.append(0x22)
            }
        }
        o.number("suppressed", row.suppressed)
        o.origin(sensor: sensor, captureID: captureID)
        o.finish(into: &s)
    }
}

extension StoredLog {
    /// The row's columns under their names (`LogKind.columns`), unset ones null;
    /// vectors as arrays (the TTLs as numbers).
    func writeJSON(into s: inout ByteSink) {
        var o = JSONObject()
        o.seconds("ts", nanos: row.ts)
        o.string("uid", row.uid)
        o.string("orig_h", row.origH.description); o.number("orig_p", Int(row.origP))
        o.string("resp_h", row.respH.description); o.number("resp_p", Int(row.respP))
        o.string("proto", row.proto)
        for (c, v) in zip(row.kind.columns, row.values) {
            switch v {
            case .null: o.raw(c.name) { $0.append("null" as StaticString) }
            case .int(let x): o.number(c.name, x)
            case .text(let t): o.string(c.name, t)
            case .bool(let b): o.bool(c.name, b)
            case .list(let items):
                o.raw(c.name) { s in
                    JSONArray.write(items, into: &s) { item, s in
                        if c.kind == .ints, let n = Int64(item) {
                            s.append(decimal: n)
                        } else {
                            s.append(0x22); s.appendJSONEscaped(item); s.append(0x22)
                        }
                    }
                }
            }
        }
        o.origin(sensor: sensor, captureID: captureID)
        o.finish(into: &s)
    }
}

extension CaptureInfo {
    func writeJSON(into s: inout ByteSink) {
        var o = JSONObject()
        // A string: capture ids are random 63-bit numbers that JavaScript would round.
        o.string("id", String(id))
        o.string("sensor", sensor)
        o.string("source", source)
        o.seconds("start", nanos: start)
        o.seconds("end", nanos: end)
        o.bool("running", end == nil)
        o.string("filters", filters)
        o.seconds("first_packet", nanos: firstPacket)
        o.seconds("last_packet", nanos: lastPacket)
        o.number("packets_seen", packetsSeen)
        o.number("packets_matched", packetsMatched)
        o.number("bytes_seen", bytesSeen)
        o.number("packets_stored", packetsStored)
        o.number("flows", flows)
        o.number("alerts", alerts)
        o.number("kernel_dropped", kernelDropped)
        o.number("interface_dropped", interfaceDropped)
        o.number("sniff_dropped", sniffDropped)
        o.string("store_packets", storePackets)
        o.finish(into: &s)
    }
}
