import Foundation
import Hummingbird
import HummingbirdWebSocket
import SniffCore
import SniffStore

/// One /ws/live connection: a writer task draining the client's queue, a reader task
/// applying filter messages, and a watchdog that ends the connection when the
/// broadcaster closed the client (slow or shutting down).
enum LiveSocket {
    /// The filter of the connection's query: the filter message's fields; `token` is
    /// the API's. Throws the API's 400 for a bad value.
    static func initialFilter(_ query: Parameters) throws -> (filter: LiveFilter, capture: Int64?) {
        var p: [String: String] = [:]
        for (k, v) in query where k != "token" { p[String(k)] = String(v) }
        let capture = try parseCapture(p.removeValue(forKey: "capture"))
        return (try LiveFilter(parameters: p), capture)
    }

    /// A capture id (a string of digits, as the API writes ids); empty means all.
    static func parseCapture(_ v: String?) throws -> Int64? {
        guard let v, !v.isEmpty else { return nil }
        guard let id = Int64(v) else { throw APIError.badParameter("capture", "a capture id is a number") }
        return id
    }

    static func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, broadcaster: LiveBroadcaster,
                    first: (filter: LiveFilter, capture: Int64?) = (LiveFilter(), nil)) async throws {
        guard let client = broadcaster.register(.webSocket) else {
            var o = JSONObject()
            o.string("type", "error")
            o.string(
                "error", "too many clients (\(broadcaster.configuration.maxLiveClients) connected); try again later")
            try await outbound.write(.text(o.finish().string))
            return
        }
        defer { broadcaster.unregister(client) }
        client.filter = first.filter; client.capture = first.capture
        client.enqueue(broadcaster.helloMessage())
        let history = broadcaster.recentStats
        if !history.isEmpty {
            client.enqueue("{\"type\":\"history\",\"stats\":[" + history.joined(separator: ",") + "]}")
        }
        await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await client.writeMessages { try await outbound.write(.text($0)) }
            }
            group.addTask {
                for try await message in inbound.messages(maxSize: 4096) {
                    guard case .text(let text) = message else { continue }
                    client.enqueue(apply(text, to: client, running: broadcaster.outbox?.captureID))
                }
            }
            group.addTask {
                while !client.isClosed { try await Task.sleep(for: .milliseconds(200)) }
            }
            _ = try? await group.next()
            client.close()
            group.cancelAll()
        }
    }

    /// A filter message: {"ip": "10.0.0.0/8", "port": 53, "transport": "udp"}; also
    /// {"paused": true}; {"capture": "12"} shows one capture ("" or null: all). Answers
    /// with the filter in force, and whether the chosen capture's rows stream here
    /// (`streaming`: false when it is another capture than the one running), or an error.
    static func apply(_ text: String, to client: LiveClient, running: Int64? = nil) -> String {
        func failure(_ message: String, _ parameter: String?) -> String {
            var o = JSONObject()
            o.string("type", "error"); o.string("error", message)
            if let parameter { o.string("parameter", parameter) }
            return o.finish().string
        }
        guard let data = text.data(using: .utf8),
            let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else {
            return failure("a filter message is a JSON object such as {\"ip\":\"10.0.0.0/8\",\"port\":53}", nil)
        }
        var p: [String: String] = [:]
        var paused: Bool? = nil
        for (k, v) in obj {
            if k == "type" { continue }
            if k == "paused" {
                guard let b = v as? Bool else { return failure("paused is true or false", "paused") }
                paused = b; continue
            }
            switch v {
            case let s as String: p[k] = s
            case let n as NSNumber: p[k] = n.stringValue
            case is NSNull: continue
            default: return failure("\(k.prefix(40)) must be a string or a number", String(k.prefix(40)))
            }
        }
        let capture: Int64?
        do { capture = try parseCapture(p.removeValue(forKey: "capture")) } catch let e as APIError {
            return failure(e.message, "capture")
        } catch { return failure("invalid capture", "capture") }
        do {
            let f = try LiveFilter(parameters: p)
            client.filter = f
            client.capture = capture
            if let paused { client.paused = paused }
            var o = JSONObject()
            o.string("type", "filter")
            o.raw("filter") { s in
                var x = JSONObject()
                for (k, v) in p.sorted(by: { $0.key < $1.key }) where !v.isEmpty { x.string(k, v) }
                if let capture { x.string("capture", String(capture)) }
                s.bytes.append(contentsOf: x.finish().bytes)
            }
            o.bool("paused", client.paused)
            o.bool("streaming", running != nil && (capture == nil || capture == running))
            return o.finish().string
        } catch let e as APIError {
            return failure(e.message, e.parameter)
        } catch {
            return failure("invalid filter", nil)
        }
    }
}
