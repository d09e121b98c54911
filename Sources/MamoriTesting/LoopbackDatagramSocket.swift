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
public final class LoopbackDatagramSocket: @unchecked Sendable {
    // @unchecked: the descriptor is used by one test at a time; the kernel serialises its calls.
    public let port: Int
    private let fd: Int32

    /// Binds an ephemeral port with a receive buffer large enough for a whole offline export, on
    /// 127.0.0.1 or another loopback address (`127.0.0.2` …, for a second client).
    public init(receiveBufferBytes: Int32 = 16 << 20, address: String = "127.0.0.1") throws {
        let (fd, port) = try bindLoopback(type: Int32(SOCK_DGRAM.rawValue), address: address)
        var size = receiveBufferBytes
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        self.fd = fd
        self.port = port
    }

    deinit { close(fd) }

    /// Sends `bytes` from this socket to 127.0.0.1:`port` (so answers come back here).
    @discardableResult
    public func send(_ bytes: [UInt8], toPort port: Int) -> Bool {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let sent = withUnsafePointer(to: &address) { a in
            a.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, sa, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        return sent == bytes.count
    }

    /// ``drain(quietMilliseconds:limit:)`` from async code: the wait for stragglers happens on a
    /// thread of its own (``offThePool(_:)``), so the server that should send them can still run
    /// on the cooperative pool.
    public func drain(quietMilliseconds: Int32 = 300, limit: Int = 1_000_000) async -> [[UInt8]] {
        (try? await offThePool { self.drain(quietMilliseconds: quietMilliseconds, limit: limit) }) ?? []
    }

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
