import Dnstap
import DnstapListener
import Foundation
import Logging
import MamoriCore
import MamoriTesting
import MetricsTestKit
import NIOConcurrencyHelpers
import ServiceLifecycle
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A writer on the listener's Unix socket, built from POSIX calls so the test does not share the
/// listener's code: every read waits at most 5 s.
final class UnixSocketWriter {
    let fd: Int32

    // Each init sets `fd` last: a class whose stored properties are all set runs its deinit when
    // its init throws, so a failure after setting it would close the descriptor twice (and the
    // second close could hit a socket another test was given the number for).
    init(path: String) throws {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PeerError("socket(AF_UNIX) failed") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in path.utf8.prefix(raw.count - 1).enumerated() { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw PeerError("connect(\(path)) failed: errno \(errno)")
        }
        Self.setTimeout(fd)
        self.fd = fd
    }

    /// Connects to 127.0.0.1:`tcpPort`.
    init(tcpPort: Int) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PeerError("socket(AF_INET) failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(tcpPort).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw PeerError("connect(127.0.0.1:\(tcpPort)) failed: errno \(errno)")
        }
        Self.setTimeout(fd)
        self.fd = fd
    }

    private static func setTimeout(_ fd: Int32) {
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func write(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Bytes until `count` arrived, the peer closed, or 5 s passed.
    func read(_ count: Int) -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while out.count < count {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, min($0.count, count - out.count), 0) }
            guard n > 0 else { break }
            out += buffer[0..<n]
        }
        return out
    }

    /// Whether the peer closed the connection (a read returns 0 or fails with a reset) within 5 s.
    func closedByPeer() -> Bool {
        var b: UInt8 = 0
        return recv(fd, &b, 1, 0) == 0 || errno == ECONNRESET
    }
}

/// The listener over its real Unix socket, fed by a hand-built writer: the handshake, events,
/// bad frames and the connection limit.
@Suite(.timeLimit(.minutes(5)))
struct DnstapListenerTests {
    let directory: TemporaryDirectory
    let metrics = TestMetrics()
    let events: NIOLockedValueBox<[ResolverEvent]>
    let listener: DnstapListener
    let path: String

    init() throws {
        directory = try TemporaryDirectory()
        path = directory.path + "/d.sock"
        var c = DnstapListener.Configuration()
        c.unixSocketPath = path
        c.unixSocketPermissions = 0o660
        c.tcp = SocketEndpoint(host: "127.0.0.1", port: 0)
        c.maximumConnections = 2
        c.maximumFrameSize = 1024
        let events = NIOLockedValueBox([ResolverEvent]())
        self.events = events
        listener = DnstapListener(configuration: c, logger: Logger(label: "test"), metricsFactory: metrics) { e in
            events.withLockedValue { $0.append(e) }
        }
    }

    func running(_ body: () async throws -> Void) async throws {
        let group = ServiceGroup(services: [listener], logger: Logger(label: "test"))
        let task = Task { try await group.run() }
        await listener.waitUntilReady()
        do { try await body() } catch {
            await group.triggerGracefulShutdown()
            throw error
        }
        await group.triggerGracefulShutdown()
        try await withTimeLimit(.seconds(60), "the listener's shutdown") { try await task.value }
    }

    static let type = Array(FrameStreamControl.dnstapContentType.utf8)
    static func data(_ payload: [UInt8]) -> [UInt8] {
        [UInt8(payload.count >> 24), UInt8(payload.count >> 16 & 0xFF), UInt8(payload.count >> 8 & 0xFF), UInt8(payload.count & 0xFF)]
            + payload
    }

    @Test("READY → ACCEPT, START, a frame that decodes and one that does not, STOP → FINISH")
    func handshake() async throws {
        try await running {
            let w = try UnixSocketWriter(path: path)
            w.write(FrameStreamControl(.ready, contentTypes: [Self.type]).encoded())
            let accept = FrameStreamControl.accept().encoded()
            #expect(w.read(accept.count) == accept)
            w.write(FrameStreamControl(.start, contentTypes: [Self.type]).encoded())
            // A minimal dnstap message: type MESSAGE, message { type CLIENT_QUERY }.
            w.write(Self.data([0x78, 0x01, 0x72, 0x02, 0x08, 0x05]))
            w.write(Self.data([0xFF, 0xFF]))
            w.write(FrameStreamControl(.stop).encoded())
            let finish = FrameStreamControl.finish.encoded()
            #expect(w.read(finish.count) == finish)
            #expect(w.closedByPeer())
            #expect(events.withLockedValue { $0.map(\.type) } == [.clientQuery])
            #expect(metrics.counterTotal("mamori_dnstap_frames_total") == 2)
            #expect(metrics.counterTotal("mamori_dnstap_events_total") == 1)
            #expect(metrics.counterTotal("mamori_dnstap_errors_total", ["reason": "bad_protobuf"]) == 1)
        }
    }

    @Test("the same over loopback TCP (unidirectional: START, data, STOP → close); the socket file has its mode")
    func tcp() async throws {
        try await running {
            let port = try #require(listener.boundTCPPort)
            let w = try UnixSocketWriter(tcpPort: port)
            w.write(FrameStreamControl(.start).encoded() + Self.data([0x78, 0x01, 0x72, 0x02, 0x08, 0x06]))
            w.write(FrameStreamControl(.stop).encoded())
            #expect(w.closedByPeer())
            #expect(events.withLockedValue { $0.map(\.type) } == [.clientResponse])
            var info = stat()
            #expect(stat(path, &info) == 0 && info.st_mode & 0o777 == 0o660)
        }
    }

    @Test("an oversized frame and a data frame before START close the connection")
    func badFrames() async throws {
        try await running {
            let a = try UnixSocketWriter(path: path)
            a.write(FrameStreamControl(.start).encoded() + [0, 0, 4, 1])
            #expect(a.closedByPeer())
            let b = try UnixSocketWriter(path: path)
            b.write(Self.data([1, 2, 3]))
            #expect(b.closedByPeer())
            #expect(metrics.counterTotal("mamori_dnstap_errors_total", ["reason": "frame_too_large"]) == 1)
            #expect(metrics.counterTotal("mamori_dnstap_errors_total", ["reason": "protocol_violation"]) == 1)
        }
    }

    @Test("writers beyond maximum_connections are closed and counted; the gauge follows")
    func connectionLimit() async throws {
        try await running {
            let a = try UnixSocketWriter(path: path)
            let b = try UnixSocketWriter(path: path)
            #expect(try await waitUntil { listener.connectionCount == 2 })
            let c = try UnixSocketWriter(path: path)
            #expect(c.closedByPeer())
            #expect(metrics.counterTotal("mamori_dnstap_errors_total", ["reason": "too_many_connections"]) == 1)
            #expect(try metrics.expectGauge("mamori_dnstap_connections").lastValue == 2)
            _ = (a, b)
        }
        #expect(!FileManager.default.fileExists(atPath: path), "the socket file is removed at shutdown")
    }
}
