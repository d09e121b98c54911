import Collector
import FlowCodec
import Foundation
import Logging
import MamoriCore
import Metrics
import MetricsTestKit
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle
import Testing

#if canImport(Glibc)
import Glibc
#endif

// MARK: - Sending

/// One UDP client socket (IPv6, dual-stack) that sends to 127.0.0.1 and ::1 alike, so that a
/// test exporter is one socket as a router's would be. Sends to IPv4 go out as IPv4 packets
/// (through the IPv4-mapped address), so the IPv4 listener sees 127.0.0.1.
final class UDPTestSender {
    private let fd: Int32

    init() throws {
        fd = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw PosixTestError("socket", errno) }
        var off: Int32 = 0
        guard setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &off, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            let e = errno
            close(fd)
            throw PosixTestError("setsockopt(IPV6_V6ONLY)", e)
        }
    }

    deinit { close(fd) }

    /// Sends one datagram to 127.0.0.1:`port` (or [::1]:`port`).
    func send(_ bytes: [UInt8], toPort port: Int, ipv6: Bool) throws {
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = UInt16(port).bigEndian
        withUnsafeMutableBytes(of: &address.sin6_addr) { raw in
            for i in 0..<16 { raw[i] = 0 }
            if ipv6 {
                raw[15] = 1                                  // ::1
            } else {
                raw[10] = 0xFF; raw[11] = 0xFF               // ::ffff:127.0.0.1
                raw[12] = 127; raw[15] = 1
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

    func send(_ datagrams: [[UInt8]], toPort port: Int, ipv6: Bool) throws {
        for d in datagrams { try send(d, toPort: port, ipv6: ipv6) }
    }
}

struct PosixTestError: Error, CustomStringConvertible {
    var description: String
    init(_ call: String, _ code: Int32) { description = "\(call): \(String(cString: strerror(code))) (errno \(code))" }
}

/// Whether the loopback interface has ::1 (IPv6 tests are skipped without it).
let loopbackIPv6Available: Bool = {
    let fd = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var a = sockaddr_in6()
    a.sin6_family = sa_family_t(AF_INET6)
    withUnsafeMutableBytes(of: &a.sin6_addr) { $0[15] = 1 }
    return withUnsafePointer(to: &a) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) == 0 }
    }
}()

// MARK: - Waiting

/// Polls `condition` every 10 ms until it holds or `timeout` passes; returns whether it held.
@discardableResult
func waitUntil(timeout: Duration = .seconds(10), _ condition: () -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// Runs `body`, failing if it takes longer than `limit` (the body is cancelled then).
func withTimeLimit<T: Sendable>(_ limit: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try? await Task.sleep(for: limit)
            return nil
        }
        guard let first = try await group.next(), let value = first else {
            group.cancelAll()
            throw TimeLimitExceeded(description: "\(what) took longer than \(limit)")
        }
        group.cancelAll()
        return value
    }
}

struct TimeLimitExceeded: Error, CustomStringConvertible { var description: String }

// MARK: - Sinks

/// Keeps every record, remembers whether `finish()` was called and, when `gate` is closed,
/// blocks in `consume` until it is opened.
final class ProbeSink: FlowSink {
    private struct State {
        var records: [FlowRecord] = []
        var batches = 0
        var finished = false
        var recordsAtFinish: Int? = nil
        var gateOpen = true
        var waiters: [CheckedContinuation<Void, Never>] = []
        var blockedCalls = 0
    }
    private let state: NIOLockedValueBox<State>

    init(gateOpen: Bool = true) {
        state = NIOLockedValueBox(State(gateOpen: gateOpen))
    }

    func consume(_ batch: FlowBatch) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLockedValue { s -> Bool in
                if s.gateOpen { return true }
                s.blockedCalls += 1
                s.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
        state.withLockedValue {
            $0.records += batch.records
            $0.batches += 1
        }
    }

    func finish() async {
        state.withLockedValue {
            $0.finished = true
            $0.recordsAtFinish = $0.records.count
        }
    }

    /// Lets blocked and future `consume` calls proceed.
    func open() {
        let waiters = state.withLockedValue { s -> [CheckedContinuation<Void, Never>] in
            s.gateOpen = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.resume() }
    }

    var records: [FlowRecord] { state.withLockedValue { $0.records } }
    var count: Int { state.withLockedValue { $0.records.count } }
    var finished: Bool { state.withLockedValue { $0.finished } }
    var recordsAtFinish: Int? { state.withLockedValue { $0.recordsAtFinish } }
    var blockedCalls: Int { state.withLockedValue { $0.blockedCalls } }
}

// MARK: - Logging

/// Log lines kept in memory (swift-log `InMemoryLogHandler` pattern).
final class LogStore: Sendable {
    struct Entry: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }
    private let box = NIOLockedValueBox([Entry]())

    func append(_ e: Entry) { box.withLockedValue { $0.append(e) } }
    var entries: [Entry] { box.withLockedValue { $0 } }
    func entries(_ message: String) -> [Entry] { entries.filter { $0.message == message } }

    /// A logger writing here, at `level` and above.
    func logger(label: String = "test", level: Logger.Level = .trace) -> Logger {
        var l = Logger(label: label) { _ in InMemoryLogHandler(store: self) }
        l.logLevel = level
        return l
    }
}

struct InMemoryLogHandler: LogHandler {
    let store: LogStore
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let m = event.metadata { all.merge(m) { _, new in new } }
        store.append(.init(level: event.level, message: "\(event.message)", metadata: all.mapValues { "\($0)" }))
    }
}

// MARK: - A running collector

/// A FlowCollector in its own ServiceGroup, listening on the given loopback endpoints (port 0).
final class RunningCollector: Sendable {
    let collector: FlowCollector
    let group: ServiceGroup
    let task: Task<Void, any Error>

    static func start(
        listen: [SocketEndpoint],
        sinks: [any FlowSink],
        metrics: TestMetrics,
        logger: Logger = LogStore().logger(level: .warning),
        configure: (inout FlowCollector.Configuration) -> Void = { _ in }
    ) async throws -> RunningCollector {
        var configuration = FlowCollector.Configuration(listen: listen)
        configuration.receiveBufferBytes = 4 << 20
        configure(&configuration)
        let collector = FlowCollector(configuration: configuration, sinks: sinks, metricsFactory: metrics, logger: logger)
        let group = ServiceGroup(services: [collector], gracefulShutdownSignals: [], logger: logger)
        let task = Task { try await group.run() }
        try await withTimeLimit(.seconds(60), "binding") { await collector.waitUntilReady() }
        return RunningCollector(collector: collector, group: group, task: task)
    }

    private init(collector: FlowCollector, group: ServiceGroup, task: Task<Void, any Error>) {
        self.collector = collector
        self.group = group
        self.task = task
    }

    /// The port bound for the listener on `host` (e.g. "127.0.0.1" or "::1").
    func port(_ host: String) throws -> Int {
        guard let p = collector.boundAddresses.first(where: { $0.key.host == host })?.value.port else {
            throw PosixTestError("no listener on \(host)", 0)
        }
        return p
    }

    /// Triggers graceful shutdown and waits (at most `limit`) for run() to return.
    func stop(within limit: Duration = .seconds(10)) async throws {
        await group.triggerGracefulShutdown()
        let task = self.task
        try await withTimeLimit(limit, "graceful shutdown") { try await task.value }
    }
}

// MARK: - Records and metrics

/// Deterministic, distinct test flows (IPv4 or IPv6), fields in ranges every protocol carries.
func testFlows(_ count: Int, ipv6: Bool = false, base: Int64 = Int64(Date().timeIntervalSince1970 * 1000) - 60_000, tag: UInt32 = 0) -> [FlowRecord] {
    (0..<count).map { i in
        let n = UInt32(i) + tag * 1000
        let src: IPAddress = ipv6 ? .v6(high: 0x2001_0db8_0000_0000, low: UInt64(n) + 1) : .v4(0x0A00_0000 | (n + 1))
        let dst: IPAddress = ipv6 ? .v6(high: 0x2001_0db8_ffff_0000, low: UInt64(n) + 7) : .v4(0xC633_6400 | (n & 0xFF))
        return FlowRecord(
            sourceAddress: src, destinationAddress: dst,
            sourcePort: UInt16(40_000 + i), destinationPort: i % 2 == 0 ? 443 : 53,
            ipProtocol: i % 2 == 0 ? 6 : 17, tcpFlags: i % 2 == 0 ? 0x1B : 0, typeOfService: UInt8(i % 4) << 2,
            bytes: UInt64(1000 + 100 * i), packets: UInt64(2 + i),
            startMilliseconds: base + Int64(i) * 1000, endMilliseconds: base + Int64(i) * 1000 + 500,
            inputInterface: UInt32(10 + i % 3), outputInterface: UInt32(20 + i % 5),
            sourceAS: 64_500 + UInt32(i % 7), destinationAS: 64_510
        )
    }
}

/// Fields every export protocol reproduces exactly (times and AS numbers differ by protocol).
struct FlowKey: Hashable, CustomStringConvertible {
    var source: IPAddress, destination: IPAddress
    var sourcePort: UInt16, destinationPort: UInt16
    var ipProtocol: UInt8, tcpFlags: UInt8, typeOfService: UInt8
    var inputInterface: UInt32, outputInterface: UInt32

    init(_ r: FlowRecord) {
        source = r.sourceAddress; destination = r.destinationAddress
        sourcePort = r.sourcePort; destinationPort = r.destinationPort
        ipProtocol = r.ipProtocol; tcpFlags = r.tcpFlags; typeOfService = r.typeOfService
        inputInterface = r.inputInterface; outputInterface = r.outputInterface
    }

    var description: String { "\(source):\(sourcePort) → \(destination):\(destinationPort)/\(ipProtocol)" }
}

extension TestMetrics {
    func counter(_ label: String, exporter: String, _ more: [(String, String)] = []) -> Int64 {
        counterTotal(label: label, dimensions: [("exporter", exporter)] + more)
    }

    func gauge(_ label: String) -> Double? {
        (try? expectGauge(label))?.lastValue
    }
}
