import Attribution
import FlowCodec
import Foundation
import IdentityCodec
import IdentityListeners
import Logging
import MamoriCore
import Metrics
import NIOConcurrencyHelpers
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// RADIUS accounting requests ingested per second, over UDP on loopback into the attribution index.
///
/// Starts Mamori's RADIUS accounting server on a free 127.0.0.1 port, recording into an
/// attribution index as `mamori serve` does, and sends it ``requests`` signed Accounting-Requests
/// (Start, then Interim-Updates, of distinct sessions) from one client socket, keeping ``window``
/// requests outstanding. Counts the Accounting-Responses, the requests never answered (given up
/// after 200 ms of silence), the records that reached the index, and the wall time.
public struct RADIUSBenchmark: Sendable {
    /// Accounting-Requests to send.
    public var requests: Int
    /// Requests outstanding at once (a NAS's retransmission window).
    public var window: Int

    public init(requests: Int, window: Int) {
        self.requests = requests
        self.window = window
    }

    /// The figures.
    public struct Result: Sendable {
        public var requests: Int
        public var answered: Int
        public var unanswered: Int
        public var window: Int
        public var seconds: Double
        /// Claims in the attribution index at the end.
        public var claims: Int

        public var requestsPerSecond: Double { Double(requests) / seconds }

        /// One JSON object.
        public var json: String {
            "{\"benchmark\":\"radius\",\"requests\":\(requests),\"answered\":\(answered),\"unanswered\":\(unanswered),\"window\":\(window),\"seconds\":\(String(format: "%.2f", seconds)),\"requests_per_second\":\(Int(requestsPerSecond)),\"claims\":\(claims)}"
        }

        /// One line for a person.
        public var text: String {
            "RADIUS accounting: \(requests) requests in \(String(format: "%.2f", seconds)) s = \(String(format: "%.0f", requestsPerSecond)) requests/s (window \(window)); \(answered) answered, \(unanswered) unanswered; \(claims) claims in the index (\(requests / 4) sessions expected)"
        }
    }

    /// Runs the server and the sender; `progress` gets the requests answered so far, about once a
    /// second. Throws a ``BenchmarkError`` when the server does not bind.
    public func run(progress: (_ answered: Int) -> Void = { _ in }) async throws -> Result {
        let secret = Array("bench-secret-0123456789".utf8)
        let index = NIOLockedValueBox(AttributionIndex())
        var c = RADIUSAccountingServer.Configuration()
        c.listen = [SocketEndpoint(host: "127.0.0.1", port: 0)]
        c.handler.clients = [.init(prefix: IPPrefix("127.0.0.0/8")!, secret: secret)]
        c.handler.rateLimit = nil // the bench measures the server, not the per-client limit
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let server = RADIUSAccountingServer(configuration: c, logger: logger, metricsFactory: NOOPMetricsHandler.instance) {
            record, nas, at in
            index.withLockedValue { _ = $0.apply(record, from: nas, receivedAt: at) }
        }
        let group = ServiceGroup(services: [server], logger: logger)
        let task = Task { try await group.run() }
        await server.waitUntilReady()
        guard let port = server.boundPorts.first else { throw BenchmarkError("the RADIUS server did not bind") }

        // Requests prepared up front: 256 identifiers cycle; sessions are distinct.
        var packets: [[UInt8]] = []
        packets.reserveCapacity(requests)
        for i in 0..<requests {
            var r = AccountingRecord(
                status: i % 4 == 0 ? .start : .interimUpdate, sessionID: "B\(i / 4)", eventTime: 1_795_000_000 + Int64(i / 1000))
            r.userName = "cust-\(i / 4)"
            r.framedIPAddress = .v4(0x6440_0000 + UInt32(i / 4))
            r.nasIPAddress = .v4(0xC613_FC01)
            r.sessionTime = i % 4 == 0 ? nil : UInt32(600 * (i % 4))
            packets.append(
                try RADIUSPacket.accountingRequest(identifier: UInt8(truncatingIfNeeded: i), attributes: r.attributes, secret: secret)
                    .encoded())
        }
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var size: Int32 = 8 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }

        var sent = 0
        var answered = 0
        var lost = 0
        var buffer = [UInt8](repeating: 0, count: 4096)
        let start = Date()
        var lastProgress = start
        while answered + lost < requests {
            while sent < requests && sent - answered - lost < window {
                _ = packets[sent].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
                sent += 1
            }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            // A lost datagram would stall the window: give up on it after 200 ms and move on.
            guard poll(&p, 1, 200) > 0 else {
                lost += sent - answered - lost
                continue
            }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n >= 20 && buffer[0] == 5 { answered += 1 }
            if Date().timeIntervalSince(lastProgress) > 1 {
                lastProgress = Date()
                progress(answered)
            }
        }
        let seconds = Date().timeIntervalSince(start)
        let recorded = index.withLockedValue { $0.count }
        await group.triggerGracefulShutdown()
        _ = try? await task.value
        return Result(requests: requests, answered: answered, unanswered: lost, window: window, seconds: seconds, claims: recorded)
    }
}
