import Hummingbird
import HummingbirdWebSocket
import NIOCore
import SniffCore

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
/// Unchecked Sendable: `held` and `released` are under `lock`; `channel` is Sendable.
final class WebSocketSlot: @unchecked Sendable {
    private let lock = ConditionLock()
    private var held: WebSocketHandlerReference<SniffRequestContext>? = nil
    private var released = false
    let channel: any Channel

    init(channel: any Channel) { self.channel = channel }

    var reference: WebSocketHandlerReference<SniffRequestContext> {
        let (reference, first) = lock.withLock { () -> (WebSocketHandlerReference<SniffRequestContext>, Bool) in
            if let held { return (held, false) }
            // After release: an empty reference, which upgrades nothing.
            if released { return (WebSocketHandlerReference(), false) }
            let r = WebSocketHandlerReference<SniffRequestContext>()
            held = r
            return (r, true)
        }
        // Outside the lock: the callback may run at once if the channel is closed.
        if first { channel.closeFuture.whenComplete { [self] _ in release() } }
        return reference
    }

    func release() {
        lock.withLock {
            held = nil
            released = true
        }
    }
}
