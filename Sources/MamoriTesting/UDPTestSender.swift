#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One UDP client socket (IPv6, dual-stack) that sends to 127.0.0.1 and ::1 alike, so that a
/// test exporter is one socket as a router's would be. Sends to IPv4 go out as IPv4 packets
/// (through the IPv4-mapped address), so the IPv4 listener sees 127.0.0.1.
public final class UDPTestSender {
    private let fd: Int32

    public init() throws {
        // `fd` is set last: once every stored property is set, a throwing init runs deinit, which
        // would close the descriptor a second time.
        let fd = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw PosixTestError("socket", errno) }
        var off: Int32 = 0
        guard setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &off, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            let e = errno
            close(fd)
            throw PosixTestError("setsockopt(IPV6_V6ONLY)", e)
        }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Sends one datagram to 127.0.0.1:`port` (or [::1]:`port`).
    public func send(_ bytes: [UInt8], toPort port: Int, ipv6: Bool) throws {
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = UInt16(port).bigEndian
        withUnsafeMutableBytes(of: &address.sin6_addr) { raw in
            for i in 0..<16 { raw[i] = 0 }
            if ipv6 {
                raw[15] = 1 // ::1
            } else {
                raw[10] = 0xFF
                raw[11] = 0xFF // ::ffff:127.0.0.1
                raw[12] = 127
                raw[15] = 1
            }
        }
        let sent = bytes.withUnsafeBytes { buffer in
            withUnsafePointer(to: &address) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    sendto(fd, buffer.baseAddress, buffer.count, 0, sa, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
        guard sent == bytes.count else { throw PosixTestError("sendto", errno) }
    }

    public func send(_ datagrams: [[UInt8]], toPort port: Int, ipv6: Bool) throws {
        for d in datagrams { try send(d, toPort: port, ipv6: ipv6) }
    }
}

/// A failed system call, with its errno in words.
public struct PosixTestError: Error, CustomStringConvertible {
    public var description: String
    public init(_ call: String, _ code: Int32) { description = "\(call): \(String(cString: strerror(code))) (errno \(code))" }
}
