import BGPSpeaker
import BGPWire
import Foundation
import Logging
import MetricsTestKit
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

/// A neighbour that answers Mamori's OPEN with something wrong, on loopback: Mamori sends the
/// NOTIFICATION RFC 4271 §6 prescribes for it, closes, and connects again later — with back-off,
/// so a broken neighbour is not hammered.
@Suite(.timeLimit(.minutes(5)))
struct HostileNeighborTests {
    /// What a connection to the hostile neighbour saw.
    struct Connection: Sendable {
        var opened: ContinuousClock.Instant
        var received: [UInt8] = []
        var closedByMamori = false
    }

    /// Accepts connections on 127.0.0.1; once Mamori's OPEN is in, writes `reply` and records
    /// everything Mamori sends until it closes.
    final class Neighbor: Sendable {
        let channel: any Channel
        let connections = NIOLockedValueBox<[Connection]>([])

        init(reply: [UInt8]) async throws {
            let connections = self.connections
            channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { child in
                    child.eventLoop.makeCompletedFuture {
                        try child.pipeline.syncOperations.addHandler(Handler(reply: reply, connections: connections))
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
        }

        var port: Int { channel.localAddress!.port! }

        func waitForConnections(_ count: Int, timeout: Duration = .seconds(90)) async throws -> [Connection] {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                let done = connections.withLockedValue { c in c.filter(\.closedByMamori) }
                if done.count >= count { return done }
                try await Task.sleep(for: .milliseconds(20))
            }
            Issue.record("only \(connections.withLockedValue { $0.count }) connections")
            throw CancellationError()
        }

        func close() { channel.close(promise: nil) }
    }

    final class Handler: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let reply: [UInt8]
        let connections: NIOLockedValueBox<[Connection]>
        let index = NIOLockedValueBox(0)
        let replied = NIOLockedValueBox(false)

        init(reply: [UInt8], connections: NIOLockedValueBox<[Connection]>) {
            self.reply = reply
            self.connections = connections
        }

        func channelActive(context: ChannelHandlerContext) {
            index.withLockedValue { i in
                connections.withLockedValue { c in
                    i = c.count
                    c.append(Connection(opened: .now))
                }
            }
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            let i = index.withLockedValue { $0 }
            let all = connections.withLockedValue { c in
                c[i].received += buffer.readBytes(length: buffer.readableBytes) ?? []
                return c[i].received
            }
            // Mamori's OPEN is in: answer.
            let openLength = all.count >= 19 ? Int(all[16]) << 8 | Int(all[17]) : Int.max
            if all.count >= openLength, !replied.withLockedValue({ $0 }) {
                replied.withLockedValue { $0 = true }
                context.writeAndFlush(NIOAny(context.channel.allocator.buffer(bytes: reply)), promise: nil)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            let i = index.withLockedValue { $0 }
            connections.withLockedValue { $0[i].closedByMamori = true }
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var reply: [UInt8]
        var expected: BGPNotification
        var testDescription: String { name }
    }

    static let marker = [UInt8](repeating: 0xFF, count: 16)
    static func open(as asn: UInt32 = 65002, hold: UInt16 = 90) -> [UInt8] {
        var o = BGPOpen(localAS: asn, holdTime: 90, identifier: 0x7F00_0063)
        o.holdTime = hold
        return BGPMessage.open(o).encoded()!
    }
    static let keepalive = BGPMessage.keepalive.encoded()!
    /// An UPDATE with a route but no ORIGIN, AS_PATH or NEXT_HOP.
    static let updateWithoutOrigin: [UInt8] = marker + [0, 27, 2, 0, 0, 0, 0, 24, 10, 0, 0]
    /// An UPDATE whose withdrawn-routes length runs past the message.
    static let updateOverrun: [UInt8] = marker + [0, 27, 2, 0, 0xFF, 24, 10, 0, 0, 0, 0]

    /// An UPDATE whose ORIGIN says it is optional (flags 0xC0): a well-known attribute with the
    /// wrong flags (RFC 4271 §6.3: Attribute Flags Error, the attribute as data).
    static let updateWrongFlags: [UInt8] = marker + [0, 27, 2, 0, 0, 0, 4, 0xC0, 1, 1, 0]
    /// An UPDATE of a well-known attribute type nobody knows (type 99, flags 0x40).
    static let updateUnknownWellKnown: [UInt8] = marker + [0, 27, 2, 0, 0, 0, 4, 0x40, 99, 1, 0]
    /// An UPDATE cut short: its attribute claims 9 octets, the message holds 1.
    static let updateTruncated: [UInt8] = marker + [0, 27, 2, 0, 0, 0, 4, 0x40, 1, 9, 0]

    static let cases: [Case] = [
        Case(
            name: "well-known attribute with optional flags", reply: open() + keepalive + updateWrongFlags,
            expected: .attributeFlagsError([0xC0, 1, 1, 0])),
        Case(
            name: "unknown well-known attribute", reply: open() + keepalive + updateUnknownWellKnown,
            expected: .unrecognizedWellKnownAttribute([0x40, 99, 1, 0])),
        Case(name: "truncated attribute", reply: open() + keepalive + updateTruncated, expected: .malformedAttributeList()),
        Case(name: "marker not all ones", reply: [UInt8](repeating: 0, count: 16) + [0, 19, 4], expected: .connectionNotSynchronized()),
        Case(name: "length below the minimum", reply: marker + [0, 18, 4], expected: .badMessageLength(18)),
        Case(name: "unknown message type", reply: marker + [0, 19, 9], expected: .badMessageType(9)),
        Case(name: "OPEN from the wrong AS", reply: open(as: 65099), expected: .badPeerAS()),
        Case(name: "hold time of 2 s", reply: open(hold: 2), expected: .unacceptableHoldTime()),
        Case(
            name: "UPDATE without mandatory attributes", reply: open() + keepalive + updateWithoutOrigin,
            expected: .missingWellKnownAttribute(1)),
        Case(name: "UPDATE lengths that overrun", reply: open() + keepalive + updateOverrun, expected: .malformedAttributeList()),
        Case(name: "OPEN again once established", reply: open() + keepalive + open(), expected: .unexpectedMessage(inState: 3)),
        Case(name: "KEEPALIVE before OPEN", reply: keepalive, expected: .unexpectedMessage(inState: 1)),
    ]

    static func speaker(port: Int, metrics: TestMetrics, retryInitial: Duration, retryMaximum: Duration) -> BGPSpeaker {
        BGPSpeaker(
            configuration: BGPSpeakerConfiguration(
                localAS: 65001, routerID: 0x7F00_0001,
                neighbors: [BGPNeighborConfiguration(name: "hostile", address: "127.0.0.1", port: port, peerAS: 65002)],
                retryInitial: retryInitial, retryMaximum: retryMaximum),
            logger: Logger(label: "test.bgp.hostile"), metricsFactory: metrics)
    }

    /// Every message in `bytes`, decoded (Mamori's side of one connection).
    static func messages(_ bytes: [UInt8]) throws -> [BGPMessage] {
        var out: [BGPMessage] = []
        var rest = bytes[...]
        while rest.count >= 19 {
            let length = Int(rest[rest.startIndex + 16]) << 8 | Int(rest[rest.startIndex + 17])
            guard rest.count >= length, length >= 19 else { break }
            out.append(try BGPMessage.decode(Array(rest.prefix(length))))
            rest = rest.dropFirst(length)
        }
        #expect(rest.isEmpty, "trailing bytes \(Array(rest))")
        return out
    }

    @Test(arguments: cases)
    func answersWithTheRightNotificationAndReconnects(_ c: Case) async throws {
        let neighbor = try await Neighbor(reply: c.reply)
        defer { neighbor.close() }
        let metrics = TestMetrics()
        let speaker = Self.speaker(port: neighbor.port, metrics: metrics, retryInitial: .milliseconds(100), retryMaximum: .seconds(1))
        let running = Task { try await speaker.run() }
        defer { running.cancel() }
        // Two connections: the answer on the first, and the reconnection after it.
        let connections = try await neighbor.waitForConnections(2)
        let sent = try Self.messages(connections[0].received)
        guard case .open(let open)? = sent.first else {
            Issue.record("first message \(String(describing: sent.first))")
            return
        }
        #expect(open.autonomousSystem == 65001)
        #expect(sent.last == .notification(c.expected), "\(sent)")
        #expect(sent.filter { if case .notification = $0 { true } else { false } }.count == 1)
        #expect(speaker.status().first?.lastNotificationSent == c.expected.description)
        let counter = try metrics.expectCounter(
            "mamori_bgp_notifications_total", [("neighbor", "hostile"), ("direction", "sent"), ("code", String(c.expected.code))])
        #expect(counter.totalValue >= 1)
    }

    /// A NOTIFICATION from the neighbour closes the session without an answer; Mamori logs it
    /// and reports it in the status.
    @Test func aNotificationFromTheNeighborIsRecordedNotAnswered() async throws {
        let cease = BGPNotification.administrativeShutdown("maintenance")
        let neighbor = try await Neighbor(reply: BGPMessage.notification(cease).encoded()!)
        defer { neighbor.close() }
        let speaker = Self.speaker(port: neighbor.port, metrics: TestMetrics(), retryInitial: .milliseconds(100), retryMaximum: .seconds(1))
        let running = Task { try await speaker.run() }
        defer { running.cancel() }
        let connections = try await neighbor.waitForConnections(1)
        let sent = try Self.messages(connections[0].received)
        #expect(sent.count == 1, "only the OPEN: \(sent)")
        let deadline = ContinuousClock.now + .seconds(60)
        while speaker.status().first?.lastNotificationReceived == nil, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(speaker.status().first?.lastNotificationReceived == "6/2 Cease / Administrative Shutdown: \"maintenance\"")
    }

    /// Each failure doubles the wait (100, 200, 400, 800 ms … to the 800 ms ceiling, plus up to a
    /// quarter of spread): the gaps between attempts are at least those waits — a busy machine
    /// only makes them longer — and in 3 s a broken neighbour sees a handful of attempts, not dozens.
    @Test func reconnectsWithBackoff() async throws {
        let neighbor = try await Neighbor(reply: [UInt8](repeating: 0, count: 19))
        defer { neighbor.close() }
        let speaker = Self.speaker(
            port: neighbor.port, metrics: TestMetrics(), retryInitial: .milliseconds(100), retryMaximum: .milliseconds(800))
        let running = Task { try await speaker.run() }
        let connections = try await neighbor.waitForConnections(5)
        let window = ContinuousClock.now - connections[0].opened
        if window < .seconds(3) { try await Task.sleep(for: .seconds(3) - window) }
        running.cancel()
        let all = neighbor.connections.withLockedValue { $0 }
        let gaps = zip(all.dropFirst(), all).map { $0.opened - $1.opened }
        for (k, gap) in gaps.prefix(4).enumerated() {
            #expect(gap >= .milliseconds(min(800, 100 << k)), "attempt \(k + 2) came \(gap) after the one before: \(gaps)")
        }
        let inThreeSeconds = all.filter { $0.opened - all[0].opened <= .seconds(3) }.count
        #expect(inThreeSeconds <= 8, "\(inThreeSeconds) attempts in 3 s: \(gaps)")
        #expect((speaker.status().first?.consecutiveFailures ?? 0) >= 4)
    }
}
