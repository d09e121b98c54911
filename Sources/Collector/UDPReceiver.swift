import CMamoriUDP
import FlowCodec
import MamoriCore
import NIOConcurrencyHelpers
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One UDP socket, read with `recvmmsg(2)` on a thread of its own.
///
/// Written against the socket API rather than SwiftNIO's datagram channel because the collector
/// is the hot path and NIO's channel costs more per datagram than decoding it: a heap-allocated
/// `AddressedEnvelope`, a `SocketAddress` whose host string is formatted with `inet_ntop` for
/// every datagram, and a pipeline hop. Here datagrams are decoded straight out of one
/// preallocated buffer and the peer address is read from the `sockaddr` without formatting.
/// (Measured in BENCHMARKS.md.)
final class UDPReceiver: @unchecked Sendable {
    // @unchecked: `fd` and the buffers are used only by the thread running `run`; `stopping` is atomic.
    let endpoint: SocketEndpoint
    let boundPort: Int
    let grantedReceiveBufferBytes: Int
    private let fd: Int32
    private let stopping = Atomic<Bool>(false)
    private let started = Atomic<Bool>(false)

    /// Opens and binds the socket. IPv6 sockets are IPv6-only, so that IPv4 and IPv6 listeners
    /// can share a port. No SO_REUSEADDR: a second collector must not silently share the port.
    init(endpoint: SocketEndpoint, receiveBufferBytes: Int) throws(UDPReceiverError) {
        self.endpoint = endpoint
        let family = endpoint.isIPv6 ? AF_INET6 : AF_INET
        let fd = socket(family, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw UDPReceiverError(errno: errno, "socket()") }
        var size = Int32(clamping: receiveBufferBytes)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var bound: Int32
        if endpoint.isIPv6 {
            var one: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = UInt16(endpoint.port).bigEndian
            guard inet_pton(AF_INET6, endpoint.host, &address.sin6_addr) == 1 else {
                close(fd)
                throw UDPReceiverError(errno: EINVAL, "'\(endpoint.host)' is not an IPv6 address")
            }
            bound = Self.bind(fd, &address)
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(endpoint.port).bigEndian
            guard inet_pton(AF_INET, endpoint.host, &address.sin_addr) == 1 else {
                close(fd)
                throw UDPReceiverError(errno: EINVAL, "'\(endpoint.host)' is not an IPv4 address")
            }
            bound = Self.bind(fd, &address)
        }
        guard bound == 0 else {
            let e = errno
            close(fd)
            throw UDPReceiverError(errno: e, "bind()")
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        boundPort = withUnsafeBytes(of: storage) { raw in
            Int(UInt16(bigEndian: raw.loadUnaligned(fromByteOffset: 2, as: UInt16.self))) // sin_port / sin6_port
        }
        var granted: Int32 = 0
        var grantedLength = socklen_t(MemoryLayout<Int32>.size)
        _ = getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &grantedLength)
        grantedReceiveBufferBytes = Int(granted)
        self.fd = fd
    }

    /// bind(2) with a `sockaddr_in` or `sockaddr_in6`.
    private static func bind<Address>(_ fd: Int32, _ address: inout Address) -> Int32 {
        withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<Address>.size)) }
        }
    }

    /// Longest pause (µs) a reader takes before reading a stream that is still arriving, so that
    /// it reads many datagrams per wake-up instead of one or two.
    static let maxPauseMicroseconds = 2000

    /// Kernel memory per µs that export traffic filling a 10 Gbit/s link takes (1,250 bytes of
    /// datagrams, counted twice for the kernel's per-datagram overhead): the burst a pause must
    /// survive without filling the socket buffer.
    static let burstBytesPerMicrosecond = 2500

    /// Longest wait for a datagram when no decoded record is waiting to be handed on.
    static let idleWaitMilliseconds: Int32 = 250

    /// The pause before the next read (µs), from what the last read found: long enough for
    /// `target` datagrams to queue at the rate they arrived since the read before, less the time
    /// spent decoding them, and at most `limit`.
    ///
    /// - Parameters:
    ///   - drained: datagrams the last read found (0: the stream stopped, no pause).
    ///   - interval: µs between the starts of the last two reads.
    ///   - busy: µs the last read and its decoding took.
    static func pause(drained: Int, interval: Int, busy: Int, target: Int, limit: Int) -> Int {
        guard drained > 0, interval > 0 else { return 0 }
        let untilTarget = interval.multipliedReportingOverflow(by: target)
        let wait = (untilTarget.overflow ? Int.max : untilTarget.partialValue / drained) - busy
        return max(0, min(limit, wait))
    }

    /// Asks ``run(datagramsPerRead:maxDatagramBytes:processor:)`` to return; it does within
    /// ``idleWaitMilliseconds``.
    func stop() {
        stopping.store(true, ordering: .releasing)
    }

    /// Receives until ``stop()``, handing every datagram to `processor` (with its lock held for
    /// each burst), then closes the socket.
    func run(datagramsPerRead: Int, maxDatagramBytes: Int, processor: DatagramProcessor) {
        // Once only, and never after closeUnused(): the socket is closed exactly once.
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let count = max(1, datagramsPerRead)
        let slot = max(1500, maxDatagramBytes)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: slot * count, alignment: 16)
        let iovecs = UnsafeMutablePointer<iovec>.allocate(capacity: count)
        let names = UnsafeMutablePointer<sockaddr_storage>.allocate(capacity: count)
        let messages = UnsafeMutablePointer<mamori_mmsghdr>.allocate(capacity: count)
        defer {
            buffer.deallocate()
            iovecs.deallocate()
            names.deallocate()
            messages.deallocate()
            close(fd)
        }
        for i in 0..<count {
            iovecs[i] = iovec(iov_base: buffer + i * slot, iov_len: slot)
            names[i] = sockaddr_storage()
            messages[i] = mamori_mmsghdr()
            messages[i].msg_hdr.msg_name = UnsafeMutableRawPointer(names + i)
            messages[i].msg_hdr.msg_iov = iovecs + i
            messages[i].msg_hdr.msg_iovlen = 1
        }
        // Wait briefly while decoded records wait to be handed on (they leave within
        // ``DatagramProcessor/flushDelayMilliseconds``), long when there are none: an idle
        // listener wakes four times a second (to notice ``stop()``), not a hundred.
        var holding = false
        // An exporter pacing its datagrams evenly wakes a reader that answers at once for every
        // one or two of them (measured: 2 datagrams per wake at 3 M records/s), and the wake-ups,
        // not the datagrams, then cost most of the CPU. So while a stream is arriving, the reader
        // sleeps instead of polling, for as long as `target` datagrams take to arrive at the
        // rate just seen (``pause(drained:interval:busy:target:limit:)``). Two bounds keep the
        // socket buffer from filling meanwhile: `target` is at most an eighth of the granted
        // buffer at a pessimistic 4 KiB of kernel memory per datagram, and the pause is at most
        // as long as a quarter of the buffer takes to fill at 10 Gbit/s (2 ms with the default
        // 32 MiB, 40 µs with the kernel's default buffer), whatever the rate before.
        let target = max(1, min(3 * count, grantedReceiveBufferBytes / (8 * 4096)))
        let limit = min(Self.maxPauseMicroseconds, grantedReceiveBufferBytes / (4 * Self.burstBytesPerMicrosecond))
        var pause = 0
        var lastReadStart = Self.monotonicMicroseconds()
        while !stopping.load(ordering: .acquiring) {
            if pause > 0 {
                usleep(UInt32(pause))
            } else {
                var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&descriptor, 1, holding ? Int32(DatagramProcessor.flushDelayMilliseconds) : Self.idleWaitMilliseconds)
                if ready <= 0 {
                    let now = DatagramProcessor.wallClockMilliseconds()
                    holding = processor.lock.withLock {
                        processor.tick(now: now)
                        return processor.hasPending
                    }
                    continue
                }
            }
            let readStart = Self.monotonicMicroseconds()
            let now = DatagramProcessor.wallClockMilliseconds()
            var drained = 0
            holding = processor.lock.withLock {
                // Drain what is queued, up to 16 system calls, before looking at the clock again.
                for _ in 0..<16 {
                    // The kernel overwrites only the name length and flags of each header.
                    for i in 0..<count {
                        messages[i].msg_hdr.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
                        messages[i].msg_hdr.msg_flags = 0
                    }
                    let received = mamori_recvmmsg(fd, messages, UInt32(count), Int32(MSG_DONTWAIT))
                    guard received > 0 else { break }
                    drained += Int(received)
                    for i in 0..<Int(received) {
                        let length = Int(messages[i].msg_len)
                        let truncated = messages[i].msg_hdr.msg_flags & Int32(MSG_TRUNC) != 0
                        let exporter = Self.address(names + i)
                        processor.process(
                            UnsafeRawBufferPointer(start: buffer + i * slot, count: length), from: exporter, now: now, truncated: truncated)
                    }
                    if Int(received) < count { break }
                }
                processor.tick(now: now)
                return processor.hasPending
            }
            pause = Self.pause(
                drained: drained, interval: readStart - lastReadStart, busy: Self.monotonicMicroseconds() - readStart,
                target: target, limit: limit
            )
            lastReadStart = readStart
        }
        processor.lock.withLock { processor.flush() }
    }

    /// A monotonic clock in µs, for pacing reads.
    static func monotonicMicroseconds() -> Int {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return t.tv_sec * 1_000_000 + t.tv_nsec / 1000
    }

    /// Closes the socket of a receiver whose ``run(datagramsPerRead:maxDatagramBytes:processor:)``
    /// was never called (run closes it itself).
    func closeUnused() {
        if !started.exchange(true, ordering: .acquiringAndReleasing) { close(fd) }
    }

    /// The peer address of a received datagram, without formatting it as text.
    static func address(_ storage: UnsafeMutablePointer<sockaddr_storage>) -> IPAddress {
        let raw = UnsafeRawPointer(storage)
        switch Int32(storage.pointee.ss_family) {
        case AF_INET:
            return .v4(UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
        case AF_INET6:
            return .v6(
                high: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                low: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
            )
        default:
            return .unspecifiedV4
        }
    }
}

/// A socket call of the receiver failed.
struct UDPReceiverError: Error, CustomStringConvertible {
    let errno: Int32
    let call: String

    init(errno: Int32, _ call: String) {
        self.errno = errno
        self.call = call
    }

    /// The address family (IPv6) is not available on this host.
    var isAddressFamilyUnsupported: Bool { [EAFNOSUPPORT, EADDRNOTAVAIL, EPROTONOSUPPORT].contains(errno) }

    var description: String { "\(call): \(String(cString: strerror(errno)))" }
}
