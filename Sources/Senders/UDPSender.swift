// Senders: connected UDP sockets on the BSD socket API that send what `mamori replay` and
// `mamori simulate` produce — export datagrams as fast as asked (UDPSender) and signed RADIUS
// Accounting-Requests as a NAS would (RADIUSAccountingClient) — and the monotonic clock they pace
// with. It may import the C library (Glibc), MamoriCore (SocketEndpoint) and IdentityCodec (RADIUS
// packets); no SwiftNIO: a paced send() loop on one thread needs no event loop. Used by the
// `mamori replay` and `mamori simulate` commands.

import MamoriCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A connected UDP socket for sending datagrams fast (replay, simulation).
///
/// Plain BSD sockets rather than SwiftNIO: replay is a tight, paced `send()` loop on one
/// thread, where an event loop adds nothing but latency.
public final class UDPSender {
    private let fd: Int32

    public init(to endpoint: SocketEndpoint, sendBufferBytes: Int = 4 << 20) throws {
        fd = try connectedUDPSocket(to: endpoint)
        var size = Int32(sendBufferBytes)
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Sends one datagram; retries briefly when the socket buffer is full. Returns false on error.
    @discardableResult
    public func send(_ bytes: UnsafeRawBufferPointer) -> Bool {
        for _ in 0..<1000 {
            let n = Glibc.send(fd, bytes.baseAddress, bytes.count, 0)
            if n >= 0 { return true }
            if errno == ENOBUFS || errno == EAGAIN {
                usleep(50)
                continue
            }
            // ECONNREFUSED: nobody listening yet (ICMP port unreachable); the datagram is gone.
            return false
        }
        return false
    }

    deinit { close(fd) }
}

/// A socket that could not be made or connected.
public struct SenderError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}

/// Monotonic seconds, for pacing.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// A UDP socket connected to `endpoint` (resolved with getaddrinfo, IPv4 or IPv6).
func connectedUDPSocket(to endpoint: SocketEndpoint) throws -> Int32 {
    #if canImport(Glibc)
    try connectedSocket(to: endpoint, type: Int32(SOCK_DGRAM.rawValue))
    #else
    try connectedSocket(to: endpoint, type: SOCK_DGRAM)
    #endif
}

private func connectedSocket(to endpoint: SocketEndpoint, type: Int32) throws -> Int32 {
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    hints.ai_socktype = type
    var result: UnsafeMutablePointer<addrinfo>?
    let rc = getaddrinfo(endpoint.host, String(endpoint.port), &hints, &result)
    guard rc == 0, let info = result else { throw SenderError("cannot resolve \(endpoint): \(String(cString: gai_strerror(rc)))") }
    defer { freeaddrinfo(result) }
    let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, 0)
    guard fd >= 0 else { throw SenderError("socket(): \(String(cString: strerror(errno)))") }
    guard connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
        let message = String(cString: strerror(errno))
        close(fd)
        throw SenderError("connect(\(endpoint)): \(message)")
    }
    return fd
}
