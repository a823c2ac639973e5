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
        // Names are given whole (no namespace or unit parts), so they read as in the docs.
        func d(_ name: String, _ help: String) -> MetricNameDescriptor {
            .init(metricName: name, unitName: "", helpText: help)
        }
        packets = registry.makeCounter(
            descriptor: d("sniff_packets_total", "Packets analysed by the capture in this process"))
        bytes = registry.makeCounter(descriptor: d("sniff_bytes_total", "Wire bytes of the packets analysed"))
        var drop: [String: Gauge] = [:]
        for where_ in ["kernel", "interface", "sniff"] {
            drop[where_] = registry.makeGauge(
                descriptor: d("sniff_dropped_packets", "Packets dropped since the capture started"),
                labels: [("where", where_)])
        }
        drops = drop
        activeFlows = registry.makeGauge(descriptor: d("sniff_active_flows", "Flows in the flow table"))
        dbLag = registry.makeGauge(
            descriptor: d(
                "sniff_db_write_lag_seconds",
                "Time from a batch being handed to the writer to its commit (newest batch)"))
        dbPackets = registry.makeGauge(descriptor: d("sniff_db_packets", "Packet rows in the database"))
        wsClients = registry.makeGauge(descriptor: d("sniff_websocket_clients", "Connected /ws/live clients"))
        feedClients = registry.makeGauge(descriptor: d("sniff_feed_clients", "Connected feed clients"))
        requests = registry.makeCounter(descriptor: d("sniff_http_requests_total", "HTTP requests answered"))
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
