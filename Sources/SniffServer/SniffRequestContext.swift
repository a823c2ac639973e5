import Hummingbird
import HummingbirdWebSocket
import NIOCore
import SniffCore
import Synchronization

/// The router's request context: `BasicWebSocketRequestContext`, without its leak.
///
/// hummingbird-websocket 2.8.1 keeps the matched WebSocket handler in a box that the
/// context holds, and stores a copy of the context in that box: a reference cycle that
/// nothing breaks, so every upgraded connection left its context, request and logger
/// behind (about 500 bytes each, found by heaptrack after 1000 clients connected and
/// dropped, round after round). Here the context reaches the box through a slot that
/// lets go of it when the connection closes, whatever way the upgrade ended.
public struct SniffRequestContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    let slot: WebSocketSlot

    public init(source: Source) {
        coreContext = .init(source: source)
        slot = WebSocketSlot(channel: source.channel)
    }

    public var webSocket: WebSocketHandlerReference<SniffRequestContext> { slot.reference }
}

/// Holds a context's WebSocket handler reference until its connection closes. Plain
/// HTTP requests never ask for it, so they cost no close callback.
final class WebSocketSlot: Sendable {
    private struct Slot {
        var held: WebSocketHandlerReference<SniffRequestContext>? = nil
        var released = false
    }
    private let slot = Mutex(Slot())
    let channel: any Channel

    init(channel: any Channel) { self.channel = channel }

    var reference: WebSocketHandlerReference<SniffRequestContext> {
        let (reference, first) = slot.withLock { s -> (WebSocketHandlerReference<SniffRequestContext>, Bool) in
            if let held = s.held { return (held, false) }
            // After release: an empty reference, which upgrades nothing.
            if s.released { return (WebSocketHandlerReference(), false) }
            let r = WebSocketHandlerReference<SniffRequestContext>()
            s.held = r
            return (r, true)
        }
        // Outside the lock: the callback may run at once if the channel is closed.
        if first { channel.closeFuture.whenComplete { [self] _ in release() } }
        return reference
    }

    func release() {
        slot.withLock { s in
            s.held = nil
            s.released = true
        }
    }
}
