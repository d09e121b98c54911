import Collector
import FlowCodec
import Foundation
import Logging
import MamoriCore
import MamoriTesting
import Metrics
import MetricsTestKit
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle
import Testing

#if canImport(Glibc)
import Glibc
#endif

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
    ///
    /// 30 s: a bound against a hang, not a speed test. A shutdown takes well under a second alone,
    /// but 10 s was exceeded twice in full-suite runs on 2 cores while the API and pipeline fuzzers
    /// held both (session 10 and 11, IPFIX "data before template").
    func stop(within limit: Duration = .seconds(30)) async throws {
        await group.triggerGracefulShutdown()
        let task = self.task
        try await withTimeLimit(limit, "graceful shutdown") { try await task.value }
    }
}

// MARK: - Records and metrics

/// Fields every export protocol reproduces exactly (times and AS numbers differ by protocol).
struct FlowKey: Hashable, CustomStringConvertible {
    var source: IPAddress, destination: IPAddress
    var sourcePort: UInt16, destinationPort: UInt16
    var ipProtocol: UInt8, tcpFlags: UInt8, typeOfService: UInt8
    var inputInterface: UInt32, outputInterface: UInt32

    init(_ r: FlowRecord) {
        source = r.sourceAddress
        destination = r.destinationAddress
        sourcePort = r.sourcePort
        destinationPort = r.destinationPort
        ipProtocol = r.ipProtocol
        tcpFlags = r.tcpFlags
        typeOfService = r.typeOfService
        inputInterface = r.inputInterface
        outputInterface = r.outputInterface
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
