import DNSWire
import FlowCodec
import Foundation
import MamoriTesting
import NIOConcurrencyHelpers
import Testing
import ZoneTransfer

/// The server on its own, with the test zone as responder: transfers over TCP, queries over UDP,
/// and hostile input that must be cut off and counted while the server goes on serving.
@Suite(.timeLimit(.minutes(5)))
struct ZoneTransferServerTests {
    static func zone() -> TestZone {
        TestZone(serial: 7, records: (0..<40).map { TestZone.rule("host\($0).example", ".") })
    }

    /// An AXFR over TCP, with its answer messages: checks a complete transfer.
    static func transfer(port: Int, source: String? = nil, id: UInt16 = 0x1234) async throws -> [[UInt8]] {
        try await TCPExchange.run(port: port, source: source, sending: TCPExchange.framed(query("rpz.mamori.", .AXFR, id: id, rd: false))) {
            messages in
            // Done at the second SOA, or at a first message that is an error.
            let soas = messages.compactMap { try? DNSMessage.parse($0) }.flatMap(\.answers).filter { $0.type == .SOA }.count
            return soas >= 2 || (messages.first.map { rcode($0) != .noError } ?? false)
        }.messages
    }

    @Test("An AXFR comes back in several messages, SOA first and last, every record once; counted")
    func axfr() async throws {
        let zone = Self.zone()
        let running = try await RunningServer(responder: zone.respond)
        defer { Task { await running.stop() } }
        let messages = try await Self.transfer(port: running.port)
        #expect(messages.count > 2)
        let records = messages.map { try! DNSMessage.parse($0) }.flatMap(\.answers)
        #expect(records.first?.type == .SOA && records.last?.type == .SOA)
        #expect(records.count == 43)
        #expect(running.metrics.counterTotal("mamori_rpz_transfers_total", ["type": "axfr"]) == 1)
        await running.stop()
    }

    @Test("Over UDP a SOA query is answered; an AXFR gets TC and is not given to the responder")
    func udp() async throws {
        let zone = Self.zone()
        let running = try await RunningServer(responder: zone.respond)
        let client = try LoopbackDatagramSocket()
        client.send(query("rpz.mamori.", .SOA, id: 77), toPort: running.port)
        let soa = try await #require(client.drain(quietMilliseconds: 15000, limit: 1).first.map { try DNSMessage.parse($0) })
        #expect(soa.header.id == 77 && soa.header.aa && soa.answers.first?.type == .SOA)
        client.send(query("rpz.mamori.", .AXFR, id: 78), toPort: running.port)
        let axfr = try await #require(client.drain(quietMilliseconds: 15000, limit: 1).first.map { try DNSMessage.parse($0) })
        #expect(axfr.header.id == 78 && axfr.header.tc && axfr.answers.isEmpty)
        #expect(zone.seenTypes(.AXFR) == 0)
        #expect(try await waitUntil(timeout: .seconds(30)) { running.errors("udp_axfr") == 1 })
        await running.stop()
    }

    @Test("A client outside the allowlist gets REFUSED for an AXFR, counted as refused")
    func refused() async throws {
        let zone = Self.zone()
        let running = try await RunningServer(responder: zone.respond)
        let messages = try await Self.transfer(port: running.port, source: "127.0.0.2")
        #expect(messages.count == 1)
        #expect(messages.first.map(rcode) == .refused)
        #expect(try await waitUntil(timeout: .seconds(30)) { running.errors("refused") == 1 })
        #expect(running.metrics.counterTotal("mamori_rpz_transfers_total") == 0)
        await running.stop()
    }

    @Test("Hostile TCP input closes its connection, is counted, and the server goes on serving")
    func hostile() async throws {
        let zone = Self.zone()
        var c = ZoneTransferServer.Configuration()
        c.maximumMessageSize = 512
        c.maximumConnections = 3
        // Long enough that a starved event loop (the whole suite runs beside this on two cores)
        // reads the hostile bytes before the idle timer fires.
        c.idleTimeout = .seconds(30)
        c.maximumRequestsPerConnection = 2
        let running = try await RunningServer(configuration: c, responder: zone.respond)
        func stillServes(_ what: String) async throws {
            let messages = try await Self.transfer(port: running.port, id: 0x5555)
            #expect(messages.count > 2, "no transfer after \(what)")
        }

        // A length prefix over the cap: closed before anything is read.
        let tooLarge = try await TCPExchange.run(port: running.port, sending: [0xFF, 0xFF] + [UInt8](repeating: 0, count: 100))
        #expect(tooLarge.closed && tooLarge.messages.isEmpty)
        #expect(try await waitUntil(timeout: .seconds(30)) { running.errors("message_too_large") == 1 })
        try await stillServes("a message too large")

        // A message cut short, then the client's end of the stream.
        let request = TCPExchange.framed(query("rpz.mamori.", .SOA, id: 9))
        let cut = try await TCPExchange.run(port: running.port, sending: Array(request.prefix(10)), halfClose: true)
        #expect(cut.closed && cut.messages.isEmpty)
        #expect(try await waitUntil(timeout: .seconds(30)) { running.errors("truncated") == 1 })
        try await stillServes("a truncated message")

        // 1000 seeded garbage bytes: whatever they frame, no answer, and the connection ends
        // (over the cap, malformed, or idle).
        var rng = SplitMix(seed: 42)
        let garbage = (0..<1000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let junk = try await TCPExchange.run(port: running.port, sending: garbage, timeout: .seconds(60))
        #expect(junk.closed)
        #expect(junk.messages.allSatisfy { rcode($0) != .noError })
        try await stillServes("garbage")

        // A well-framed message that does not parse: counted as malformed, connection closed.
        let malformed = try await TCPExchange.run(port: running.port, sending: TCPExchange.framed([1, 2, 3, 4, 5]))
        #expect(malformed.closed && malformed.messages.isEmpty)
        #expect(try await waitUntil(timeout: .seconds(30)) { running.errors("malformed") >= 1 })

        // Idle: a connection that says nothing is closed after the idle timeout.
        let idle = try await TCPExchange.run(port: running.port, sending: [], timeout: .seconds(60))
        #expect(idle.closed)
        #expect(try await waitUntil(timeout: .seconds(60)) { running.errors("idle_timeout") >= 1 })

        // More requests than allowed on one connection: the first two are answered, then it closes.
        let three = (1...3).flatMap { TCPExchange.framed(query("rpz.mamori.", .SOA, id: UInt16($0))) }
        let many = try await TCPExchange.run(port: running.port, sending: three)
        #expect(many.closed && many.messages.count == 2)
        #expect(try await waitUntil(timeout: .seconds(30)) { running.errors("too_many_requests") == 1 })

        // More connections than allowed: the fourth is closed at once and counted.
        let holders = try await withThrowingTaskGroup(of: TCPExchange.Result.self) { group in
            for _ in 0..<3 {
                group.addTask { try await TCPExchange.run(port: running.port, sending: [], timeout: .seconds(3)) }
            }
            #expect(try await waitUntil(timeout: .seconds(3)) { running.server.connectionCount == 3 })
            let extra = try await TCPExchange.run(port: running.port, sending: [], timeout: .seconds(2))
            #expect(extra.closed)
            var all: [TCPExchange.Result] = []
            for try await r in group { all.append(r) }
            return all
        }
        #expect(holders.count == 3)
        #expect(try await waitUntil(timeout: .seconds(30)) { running.errors("too_many_connections") >= 1 })
        #expect(try await waitUntil(timeout: .seconds(30)) { running.server.connectionCount == 0 })
        try await stillServes("too many connections")
        await running.stop()
    }

    @Test("A responder that streams a large transfer is held back by the socket, and it all arrives")
    func backPressure() async throws {
        let produced = NIOLockedValueBox(0)
        let message = try DNSMessage(
            header: DNSHeader(id: 1, qr: true, aa: true),
            answers: (0..<300).map { TestZone.rule("n\($0).example", ".") }
        ).serialize()
        let running = try await RunningServer { _, _, reply in
            for _ in 0..<8000 {
                try await reply.send(message)
                produced.withLockedValue { $0 += 1 }
            }
        }
        // Connect without reading for a while: the responder must be held back well before 8000.
        let count = NIOLockedValueBox(0)
        let result = try await TCPExchange.run(
            port: running.port, sending: TCPExchange.framed(query("rpz.mamori.", .AXFR, id: 3)), receiveBuffer: 65536,
            timeout: .seconds(60)
        ) { messages in
            if messages.count == 1 {
                // Held at the first message: see how far the producer got.
                Thread.sleep(forTimeInterval: 1)
                count.withLockedValue { $0 = produced.withLockedValue { $0 } }
            }
            return messages.count == 8000
        }
        #expect(result.messages.count == 8000)
        #expect(count.withLockedValue { $0 } < 8000, "the responder ran ahead of the socket by \(count.withLockedValue { $0 }) messages")
        await running.stop()
    }
}

extension ZoneTransferServerTests {
    @Test("Stopping the service closes the listener and the open connections")
    func stop() async throws {
        let zone = Self.zone()
        let running = try await RunningServer(responder: zone.respond)
        let port = running.port
        let holder = Task { try await TCPExchange.run(port: port, sending: [], timeout: .seconds(90)) }
        #expect(try await waitUntil(timeout: .seconds(30)) { running.server.connectionCount == 1 })
        try await withTimeLimit(.seconds(60), "stopping the server") { await running.stop() }
        let held = try await holder.value
        #expect(held.closed)
        #expect(running.server.connectionCount == 0)
    }
}

/// A seeded generator for garbage bytes.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
