import DNSWire
import FlowCodec
import Foundation
import Logging
import MamoriTesting
import MetricsTestKit
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle
import ZoneTransfer

/// A small RPZ zone served by a responder written here with DNSWire (the real policy lives in
/// the RPZ module): SOA queries, AXFR (and IXFR answered with the whole zone, RFC 1995 §4) split
/// over several messages, TSIG when keys are given, REFUSED for everything else and for clients
/// outside the allowlist.
final class TestZone: Sendable {
    static let origin = try! DNSName("rpz.mamori.")

    struct Seen: Sendable, Hashable {
        var type: DNSType
        var transport: ZoneTransferClient.Transport
        var client: IPAddress
    }

    struct Contents: Sendable {
        var serial: UInt32
        var records: [DNSRecord]
    }

    let contents: NIOLockedValueBox<Contents>
    let seen = NIOLockedValueBox<[Seen]>([])
    let keys: [DNSName: TSIGKey]
    let allowed: Set<IPAddress>
    /// The largest message of a transfer: small, so that even a small zone takes several.
    let messageSize: Int

    init(
        serial: UInt32, records: [DNSRecord], keys: [TSIGKey] = [], allowed: Set<IPAddress> = [IPAddress("127.0.0.1")!],
        messageSize: Int = 300
    ) {
        contents = NIOLockedValueBox(Contents(serial: serial, records: records))
        self.keys = Dictionary(uniqueKeysWithValues: keys.map { ($0.name, $0) })
        self.allowed = allowed
        self.messageSize = messageSize
    }

    func replace(serial: UInt32, records: [DNSRecord]) {
        contents.withLockedValue { $0 = Contents(serial: serial, records: records) }
    }

    func seenTypes(_ type: DNSType) -> Int { seen.withLockedValue { $0.filter { $0.type == type }.count } }

    var soa: DNSRecord {
        let serial = contents.withLockedValue { $0.serial }
        return DNSRecord(
            name: Self.origin, type: .SOA, ttl: 60,
            rdata: .soa(
                DNSSOA(
                    mname: try! DNSName("ns.mamori.test."), rname: try! DNSName("hostmaster.mamori.test."), serial: DNSSerial(serial),
                    refresh: 3600, retry: 600, expire: 86400, minimum: 60)))
    }

    /// An RPZ QNAME trigger: `name` CNAME `target` (`.` → NXDOMAIN).
    static func rule(_ name: String, _ target: String) -> DNSRecord {
        DNSRecord(name: try! DNSName(name + ".rpz.mamori."), type: .CNAME, ttl: 60, rdata: .cname(try! DNSName(target)))
    }

    func respond(_ request: [UInt8], _ client: ZoneTransferClient, _ reply: ZoneTransferReplyWriter) async throws {
        let now = Int64(Date().timeIntervalSince1970)
        var signer: TSIGSigner?
        if !keys.isEmpty {
            switch try DNSMessage.checkTSIG(request, keys: keys, now: now) {
            case .rejected(let rejection):
                try await reply.send(try rejection.response(now: now))
                return
            case .verified(let key, let mac): signer = TSIGSigner(key: key, requestMAC: mac)
            case .unsigned: break
            }
        }
        let message = try DNSMessage.parse(request)
        guard let question = message.questions.first else { return }
        seen.withLockedValue { $0.append(Seen(type: question.type, transport: client.transport, client: client.address)) }
        func send(_ bytes: [UInt8]) async throws {
            if var s = signer {
                try await reply.send(try s.sign(bytes, now: now))
                signer = s
            } else {
                try await reply.send(bytes)
            }
        }
        var header = DNSHeader(id: message.header.id, qr: true, opcode: message.header.opcode, aa: true, rd: message.header.rd)
        let authorised = allowed.contains(client.address) && (keys.isEmpty || signer != nil)
        guard authorised, question.name == Self.origin, message.header.opcode == .query,
            [DNSType.SOA, .AXFR, .IXFR].contains(question.type)
        else {
            header.aa = false
            header.rcode = .refused
            try await send(try DNSMessage(header: header, questions: message.questions).serialize())
            return
        }
        if question.type == .SOA {
            try await send(try DNSMessage(header: header, questions: message.questions, answers: [soa]).serialize())
            return
        }
        // BIND rejects a transferred zone without NS records at its apex ("has no NS records",
        // "bad zone"); Unbound does not mind.
        let ns = DNSRecord(name: Self.origin, type: .NS, ttl: 60, rdata: .ns(try DNSName("localhost.")))
        let zone = [soa, ns] + contents.withLockedValue { $0.records } + [soa]
        let room = messageSize - (signer == nil ? 0 : 100)
        var builder = try DNSMessageBuilder(header: header, questions: message.questions, maxSize: room)
        for record in zone {
            if try !builder.append(record) {
                try await send(builder.finish())
                builder = try DNSMessageBuilder(header: header, questions: message.questions, maxSize: room)
                _ = try builder.append(record)
            }
        }
        try await send(builder.finish())
    }
}

/// A running ``ZoneTransferServer`` in a service group, stopped by ``stop()``.
final class RunningServer: Sendable {
    let server: ZoneTransferServer
    let metrics: TestMetrics
    let task: Task<Void, any Error>
    let port: Int

    init(configuration: ZoneTransferServer.Configuration? = nil, responder: @escaping ZoneTransferServer.Responder) async throws {
        var c = configuration ?? ZoneTransferServer.Configuration()
        c.host = "127.0.0.1"
        c.port = 0
        let metrics = TestMetrics()
        let server = ZoneTransferServer(configuration: c, logger: Logger(label: "test"), metricsFactory: metrics, responder: responder)
        let group = ServiceGroup(services: [server], gracefulShutdownSignals: [], logger: Logger(label: "test"))
        task = Task { try await group.run() }
        await server.waitUntilReady()
        guard let port = server.boundTCPPort else { throw PeerError("the zone transfer server did not bind") }
        self.server = server
        self.metrics = metrics
        self.port = port
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }

    func errors(_ reason: String) -> Int64 { metrics.counterTotal("mamori_rpz_transfer_errors_total", ["reason": reason]) }
}

/// A DNS-over-TCP client for the tests: sends raw bytes and reads length-prefixed messages.
enum TCPExchange {
    struct Result {
        var messages: [[UInt8]]
        /// The server closed the connection.
        var closed: Bool
    }

    /// A request message, length-prefixed.
    static func framed(_ message: [UInt8]) -> [UInt8] { [UInt8(message.count >> 8), UInt8(message.count & 0xFF)] + message }

    /// Connects (from `source` if given), writes `bytes`, and reads until `done` says so, the
    /// server closes, or `timeout` passes.
    static func run(
        port: Int, source: String? = nil, sending bytes: [UInt8], halfClose: Bool = false, receiveBuffer: Int? = nil,
        timeout: Duration = .seconds(60),
        until done: @escaping @Sendable ([[UInt8]]) -> Bool = { _ in false }
    ) async throws -> Result {
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        if let source { bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: source, port: 0)) }
        if let receiveBuffer { bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: .init(receiveBuffer)) }
        let channel = try await bootstrap.channelOption(.allowRemoteHalfClosure, value: true).connect(host: "127.0.0.1", port: port) {
            channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                    wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
            }
        }
        let box = NIOLockedValueBox(Result(messages: [], closed: false))
        _ = try? await withTimeLimit(timeout, "TCP exchange") {
            try await channel.executeThenClose { inbound, outbound in
                // The server may already have closed (a refused connection): a failed write is
                // not the test's concern, the read below sees the close.
                try? await outbound.write(ByteBuffer(bytes: bytes))
                if halfClose { outbound.finish() }
                var pending: [UInt8] = []
                do {
                    for try await chunk in inbound {
                        pending += chunk.readableBytesView
                        while pending.count >= 2 {
                            let length = Int(pending[0]) << 8 | Int(pending[1])
                            guard pending.count >= 2 + length else { break }
                            let message = Array(pending[2..<(2 + length)])
                            pending.removeFirst(2 + length)
                            let all = box.withLockedValue { r in
                                r.messages.append(message)
                                return r.messages
                            }
                            if done(all) { return true }
                        }
                    }
                } catch {
                    // A reset is a close too.
                }
                if !Task.isCancelled { box.withLockedValue { $0.closed = true } }
                return true
            }
        }
        return box.withLockedValue { $0 }
    }
}

/// A query message for `name` and `type` (RD set unless told), built with DNSWire.
func query(_ name: String, _ type: DNSType, id: UInt16, rd: Bool = true) -> [UInt8] {
    try! DNSMessage(header: DNSHeader(id: id, rd: rd), questions: [DNSQuestion(name: try! DNSName(name), type: type)]).serialize()
}

/// The RCODE of a message in wire form.
func rcode(_ message: [UInt8]) -> DNSRCode { DNSRCode(rawValue: UInt16(message[3] & 0x0F)) }

/// Polls UDP `port` with a query for `name` until `accept` takes the answer, within `timeout`.
func askResolver(
    port: Int, name: String, from source: String = "127.0.0.1", timeout: Duration, accept: (DNSMessage) -> Bool
) async throws -> DNSMessage? {
    let client = try LoopbackDatagramSocket(address: source)
    let deadline = ContinuousClock.now + timeout
    var last: DNSMessage?
    var id: UInt16 = 0x4000
    while ContinuousClock.now < deadline {
        id &+= 1
        client.send(query(name, .A, id: id), toPort: port)
        for bytes in await client.drain(quietMilliseconds: 300, limit: 4) {
            guard let m = try? DNSMessage.parse(bytes), m.header.id == id else { continue }
            last = m
            if accept(m) { return m }
        }
        try await Task.sleep(for: .milliseconds(200))
    }
    return last
}

/// Reads a peer's log file, for failure messages.
/// A peer's log file `NAME.log`, and what the peer printed before it opened it (`NAME.out`,
/// when the test kept its output there).
func readLog(_ path: String) -> String {
    let log = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "(no log at \(path))"
    guard path.hasSuffix(".log") else { return log }
    let out = (try? String(contentsOfFile: String(path.dropLast(4)) + ".out", encoding: .utf8)) ?? ""
    return out.isEmpty ? log : log + "\nit printed: " + String(out.suffix(2000))
}
