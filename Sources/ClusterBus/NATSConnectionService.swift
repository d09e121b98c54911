import Logging
import NATSClient
import ServiceLifecycle

/// Keeps a ``NATSClient``'s connection up for as long as the server runs (a service of its group):
/// reconnects across the configured servers, and closes at shutdown.
public struct NATSConnectionService: Service {
    public let client: NATSClient
    let logger: Logger

    public init(client: NATSClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            do {
                try await client.run()
            } catch {
                logger.error("NATS: no server reachable; the bus is down", metadata: ["error": "\(error)"])
                throw error
            }
        } onGracefulShutdown: {
            Task { await client.close() }
        }
    }
}
