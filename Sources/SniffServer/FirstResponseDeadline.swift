import HummingbirdCore
import Logging
import NIOCore

/// Wraps the HTTP child channel so that a connection must be answered once within a
/// deadline. Hummingbird closes idle keep-alive connections, but only after a request
/// head has arrived: without this, a client that connects and sends nothing (or sends
/// its head one byte a minute) would hold its descriptor for ever.
struct FirstResponseDeadline<Inner: ServerChildChannel>: ServerChildChannel {
    typealias Value = Inner.Value
    let inner: Inner
    let timeout: TimeAmount

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let timeout = self.timeout
        return channel.eventLoop.makeCompletedFuture {
            // First in the pipeline, next to the socket: it sees every byte written.
            try channel.pipeline.syncOperations.addHandler(DeadlineHandler(timeout: timeout), position: .first)
            try channel.pipeline.syncOperations.addHandler(RefusedUpgradeAnswer(), position: .first)
        }.flatMap {
            inner.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

/// Closes the channel when nothing has been written to it `timeout` after it was added;
/// the first write (a response head, or the WebSocket upgrade's 101) disarms it.
final class DeadlineHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = Any
    typealias OutboundOut = Any
    let timeout: TimeAmount
    private var task: Scheduled<Void>? = nil

    init(timeout: TimeAmount) { self.timeout = timeout }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        task = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        task?.cancel()
        task = nil
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if let t = task {
            t.cancel()
            task = nil
        }
        context.write(data, promise: promise)
    }
}
