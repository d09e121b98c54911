import Logging
import MamoriTesting
import NATSClient
import NATSWire
import NIOCore

/// Runs `body` with a client of `servers` whose ``NATSClient/run()`` goes on beside it, then closes
/// the client and waits for `run()` to end.
func withClient<T: Sendable>(
    _ servers: [NATSServerPeer], name: String = "test", configure: (inout NATSClient.Configuration) -> Void = { _ in },
    _ body: @Sendable (NATSClient) async throws -> T
) async throws -> T {
    var configuration = NATSClient.Configuration(servers: try servers.map { try NATSServerAddress(parsing: $0.url) }, name: name)
    configuration.reconnectBackoff = .milliseconds(20)
    // The whole suite runs beside these tests: a connection may take a while to come up.
    configuration.connectionWait = .seconds(60)
    configure(&configuration)
    let client = NATSClient(configuration: configuration)
    let runner = Task { try await client.run() }
    do {
        let result = try await body(client)
        await client.close()
        _ = await runner.result
        return result
    } catch {
        await client.close()
        _ = await runner.result
        throw error
    }
}

/// Polls `condition` every 50 ms for at most `timeout`.
func eventually(_ timeout: Duration = .seconds(10), _ condition: @Sendable () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}

/// Messages of a subscription, at most `count`, waiting at most `timeout` in all.
func receive(_ count: Int, from subscription: NATSSubscription, timeout: Duration = .seconds(5)) async throws -> [NATSMessage] {
    try await withThrowingTaskGroup(of: [NATSMessage]?.self) { group in
        group.addTask {
            var out: [NATSMessage] = []
            for try await message in subscription {
                out.append(message)
                if out.count == count { break }
            }
            return out
        }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        let first = try await group.next() ?? nil
        group.cancelAll()
        guard let messages = first else { throw TimeLimitExceeded(description: "fewer than \(count) messages within \(timeout)") }
        return messages
    }
}
