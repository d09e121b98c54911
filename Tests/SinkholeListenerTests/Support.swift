import FlowCodec
import Logging
import MamoriCore
import MamoriTesting
import MetricsTestKit
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle
import SinkholeListener
import SinkholeProbe

/// A running ``SinkholeListener`` on 127.0.0.1 (ephemeral ports) in a service group, with its
/// contacts, metrics and clock; stopped by ``stop()``.
final class RunningListener: Sendable {
    let listener: SinkholeListener
    let metrics: TestMetrics
    let clock: TestClock
    let task: Task<Void, any Error>
    let ports: [Int]
    private let received = NIOLockedValueBox<[SinkholeContact]>([])

    init(
        endpoints: Int = 1, logger: Logger = Logger(label: "test"), configure: (inout SinkholeListener.Configuration) -> Void = { _ in }
    ) async throws {
        var c = SinkholeListener.Configuration()
        // Long enough that a starved event loop (the whole suite runs beside these on two cores)
        // reads what a client sent before the timer fires; tests of the timeout set their own.
        c.firstBytesTimeout = .seconds(30)
        configure(&c)
        c.endpoints = (0..<endpoints).map { _ in .init(host: "127.0.0.1", port: 0) }
        let metrics = TestMetrics()
        let clock = TestClock()
        let received = self.received
        let listener = SinkholeListener(configuration: c, clock: clock, logger: logger, metricsFactory: metrics) { contact in
            received.withLockedValue { $0.append(contact) }
        }
        let group = ServiceGroup(services: [listener], gracefulShutdownSignals: [], logger: Logger(label: "test"))
        task = Task { try await group.run() }
        await listener.waitUntilReady()
        guard listener.boundPorts.count == endpoints else { throw PeerError("the sinkhole listener did not bind") }
        self.listener = listener
        self.metrics = metrics
        self.clock = clock
        self.ports = listener.boundPorts
    }

    var port: Int { ports[0] }
    var contacts: [SinkholeContact] { received.withLockedValue { $0 } }

    /// Waits until `count` contacts have arrived (at most 30 s) and returns them.
    func contacts(count: Int) async throws -> [SinkholeContact] {
        try await waitUntil(timeout: .seconds(30)) { self.contacts.count >= count }
        return contacts
    }

    func rejected(_ reason: String) -> Int64 { metrics.counterTotal("mamori_sinkhole_rejected_total", ["reason": reason]) }
    func served(_ kind: SinkholeProtocol) -> Int64 {
        metrics.counterTotal("mamori_sinkhole_connections_total", ["protocol": kind.rawValue])
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }
}

/// A raw TCP client: connects to 127.0.0.1, writes bytes, reads until the server closes or the time is up.
enum RawConnection {
    struct Result {
        var received: [UInt8]
        /// The server closed (or reset) the connection.
        var closed: Bool
    }

    /// - Parameters:
    ///   - pieces: writes of at most this many bytes each, one after the other (each flushed).
    ///   - timeout: how long the client waits for the close. Generous: the listener closes a
    ///     hostile connection at once (or at its first-bytes timeout), but with the whole suite
    ///     running at once on 2 cores this client's own tasks waited more than 30 s for a thread
    ///     (two runs of 849 tests on 2026-12-07, where the same tests pass alone in a second).
    static func run(port: Int, sending bytes: [UInt8], pieces: Int = .max, timeout: Duration = .seconds(90)) async throws -> Result {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port) {
            channel in
            channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
        }
        let box = NIOLockedValueBox(Result(received: [], closed: false))
        _ = try? await withTimeLimit(timeout, "raw connection") {
            try await channel.executeThenClose { inbound, outbound in
                var rest = bytes[...]
                while !rest.isEmpty {
                    let piece = rest.prefix(pieces)
                    rest = rest.dropFirst(piece.count)
                    try? await outbound.write(ByteBuffer(bytes: piece))
                }
                do {
                    for try await chunk in inbound { box.withLockedValue { $0.received += chunk.readableBytesView } }
                } catch {
                    // A reset is a close too.
                }
                if !Task.isCancelled { box.withLockedValue { $0.closed = true } }
                return true
            }
        }
        return box.withLockedValue { $0 }
    }
}

/// A program run to its end on a thread of its own (`ExternalPeer.runToExit` blocks).
func runPeer(_ peer: ExternalPeer, _ arguments: [String], timeout: Duration = .seconds(60)) async throws -> (
    status: Int32, stdout: String, stderr: String
) {
    try await offThePool { try peer.runToExit(arguments, timeout: timeout) }
}

/// A minimal ClientHello record (one cipher suite, a server_name extension with `serverName`).
func clientHello(serverName: String) -> [UInt8] {
    func u16(_ n: Int) -> [UInt8] { [UInt8(n >> 8), UInt8(n & 0xFF)] }
    let name = Array(serverName.utf8)
    let list = [0] + u16(name.count) + name
    let sni = u16(0) + u16(list.count + 2) + u16(list.count) + list
    let body = [3, 3] + [UInt8](repeating: 0xAB, count: 32) + [0] + u16(2) + [0x13, 0x01] + [1, 0] + u16(sni.count) + sni
    let handshake = [1, 0] + u16(body.count) + body
    return [22, 3, 1] + u16(handshake.count) + handshake
}
