import Prometheus
import SniffStore

/// The Prometheus metrics at /metrics. Packet counters come from the live batches (four
/// updates a second, not one per packet); database figures are read at scrape time.
public final class ServerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let packets: Counter
    let bytes: Counter
    let drops: [String: Gauge]
    let activeFlows: Gauge
    let dbLag: Gauge
    let dbPackets: Gauge
    let wsClients: Gauge
    let feedClients: Gauge
    let requests: Counter

    public init() {
        packets = registry.makeCounter(name: "sniff_packets_total", help: "Packets analysed by the capture in this process")
        bytes = registry.makeCounter(name: "sniff_bytes_total", help: "Wire bytes of the packets analysed")
        var d: [String: Gauge] = [:]
        for where_ in ["kernel", "interface", "sniff"] {
            d[where_] = registry.makeGauge(name: "sniff_dropped_packets", labels: [("where", where_)], help: "Packets dropped since the capture started")
        }
        drops = d
        activeFlows = registry.makeGauge(name: "sniff_active_flows", help: "Flows in the flow table")
        dbLag = registry.makeGauge(name: "sniff_db_write_lag_seconds", help: "Time from a batch being handed to the writer to its commit (newest batch)")
        dbPackets = registry.makeGauge(name: "sniff_db_packets", help: "Packet rows in the database")
        wsClients = registry.makeGauge(name: "sniff_websocket_clients", help: "Connected /ws/live clients")
        feedClients = registry.makeGauge(name: "sniff_feed_clients", help: "Connected feed clients")
        requests = registry.makeCounter(name: "sniff_http_requests_total", help: "HTTP requests answered")
    }

    func recordLive(_ batches: [LiveBatch]) {
        var p: UInt64 = 0, b: UInt64 = 0
        for x in batches { p &+= x.packets; b &+= x.bytes }
        packets.increment(by: Int64(p)); bytes.increment(by: Int64(b))
        if let last = batches.last {
            drops["kernel"]?.set(Int64(last.kernelDropped))
            drops["interface"]?.set(Int64(last.interfaceDropped))
            drops["sniff"]?.set(Int64(last.sniffDropped))
            activeFlows.set(Int64(last.activeFlows))
        }
    }

    func setClients(_ kind: LiveClient.Kind, _ n: Int) {
        (kind == .webSocket ? wsClients : feedClients).set(Int64(n))
    }

    func recordStore(_ s: StoreStats) {
        dbLag.set(Double(s.lagNanos ?? 0) / 1e9)
        dbPackets.set(s.packets)
    }

    public func text() -> String { registry.emitToString() }
}
