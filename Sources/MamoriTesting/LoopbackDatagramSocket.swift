#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A UDP socket on 127.0.0.1 that keeps what a peer sends it, for tests that feed a real
/// exporter's datagrams to code under test without running the collector.
///
/// ```swift
/// let socket = try LoopbackDatagramSocket()
/// try softflowd.run(["-r", capture, "-n", "127.0.0.1:\(socket.port)", "-v", "9", "-d"])
/// let datagrams = socket.drain()
/// ```
public final class LoopbackDatagramSocket {
    public let port: Int
    private let fd: Int32

    /// Binds an ephemeral port with a receive buffer large enough for a whole offline export.
    public init(receiveBufferBytes: Int32 = 16 << 20) throws {
        let (fd, port) = try bindLoopback(type: Int32(SOCK_DGRAM.rawValue))
        var size = receiveBufferBytes
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        self.fd = fd
        self.port = port
    }

    deinit { close(fd) }

    /// Every datagram received so far, waiting up to `quietMilliseconds` for stragglers
    /// (bounded: at most `limit` datagrams).
    public func drain(quietMilliseconds: Int32 = 300, limit: Int = 1_000_000) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while out.count < limit {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, quietMilliseconds) > 0 else { break }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { break }
            out.append(Array(buffer[0..<n]))
        }
        return out
    }
}
