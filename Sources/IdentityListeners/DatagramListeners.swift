import Logging
import MamoriCore
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The UDP sockets of a listener service (RADIUS, syslog): binds every endpoint with a handler,
/// says when they are bound, and closes them on graceful shutdown or cancellation.
final class DatagramListeners: Sendable {
    private let channels = NIOLockedValueBox([any Channel]())
    private let ready = NIOLockedValueBox<[CheckedContinuation<Void, Never>]?>([])

    /// The ports actually bound, in the order of the endpoints.
    var boundPorts: [Int] { channels.withLockedValue { $0.compactMap { $0.localAddress?.port } } }

    /// Returns once every endpoint is bound (or binding failed).
    func waitUntilReady() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = ready.withLockedValue { waiting -> Bool in
                guard waiting != nil else { return true }
                waiting!.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    private func markReady() {
        let waiting = ready.withLockedValue { w -> [CheckedContinuation<Void, Never>] in
            defer { w = nil }
            return w ?? []
        }
        for c in waiting { c.resume() }
    }

    /// Binds `endpoints` (each channel gets `makeHandler()`), then runs until graceful shutdown.
    func run(_ endpoints: [SocketEndpoint], name: String, logger: Logger, makeHandler: @escaping @Sendable () -> any ChannelHandler)
        async throws
    {
        do {
            for endpoint in endpoints {
                let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(makeHandler()) }
                    }
                    .bind(host: endpoint.host, port: endpoint.port).get()
                channels.withLockedValue { $0.append(channel) }
                logger.info("\(name) listening", metadata: ["listen": "\(endpoint.host):\(channel.localAddress?.port ?? endpoint.port)"])
            }
        } catch {
            markReady()
            for c in channels.withLockedValue({ $0 }) { try? await c.close() }
            throw error
        }
        markReady()
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                for c in self.channels.withLockedValue({ $0 }) { try? await c.closeFuture.get() }
            } onGracefulShutdown: {
                for c in self.channels.withLockedValue({ $0 }) { c.close(promise: nil) }
            }
        } onCancel: {
            for c in self.channels.withLockedValue({ $0 }) { c.close(promise: nil) }
        }
    }
}
