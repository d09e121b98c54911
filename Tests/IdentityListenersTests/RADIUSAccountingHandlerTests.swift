import FlowCodec
import IdentityCodec
import MamoriCore
import Testing

@testable import IdentityListeners

/// The RADIUS handler's decisions, without sockets: Message-Authenticator, replays, stale
/// Event-Timestamps, the per-client rate, and the bounded tables.
@Suite struct RADIUSAccountingHandlerTests {
    static let secret = Array("handler-secret-0123456789".utf8)
    static let nas = IPAddress("192.0.2.10")!
    static let now: Int64 = 1_767_225_600_000

    static func record(_ session: String, eventTime: Int64? = 1_767_225_600) -> AccountingRecord {
        var r = AccountingRecord(status: .start, sessionID: session, eventTime: eventTime)
        r.userName = "cust-\(session)"
        r.framedIPAddress = IPAddress("100.64.0.1")
        return r
    }

    static func datagram(_ r: AccountingRecord, id: UInt8 = 1, messageAuthenticator: Bool = false, secret: [UInt8] = secret) throws
        -> [UInt8]
    {
        try RADIUSPacket.accountingRequest(
            identifier: id, attributes: r.attributes, secret: secret, messageAuthenticator: messageAuthenticator
        ).encoded()
    }

    static func handler(_ configure: (inout RADIUSAccountingHandler.Configuration) -> Void = { _ in }) -> RADIUSAccountingHandler {
        var c = RADIUSAccountingHandler.Configuration()
        c.clients = [.init(prefix: IPPrefix("192.0.2.0/24")!, secret: secret)]
        configure(&c)
        return RADIUSAccountingHandler(configuration: c)
    }

    @Test("a wrong Message-Authenticator is dropped even though the Request Authenticator holds")
    func wrongMessageAuthenticator() throws {
        var h = Self.handler()
        // Sign with the Message-Authenticator, flip a bit of it, then re-sign the Request
        // Authenticator so that only the HMAC is wrong: what an attacker who knows the secret
        // of another client, or a broken NAS, would send.
        var packet = try RADIUSPacket.accountingRequest(
            identifier: 3, attributes: Self.record("MA1").attributes, secret: Self.secret, messageAuthenticator: true)
        packet.attributes[packet.attributes.count - 1].value[0] ^= 0x80
        let bad = try RADIUSPacket.accountingRequest(identifier: 3, attributes: packet.attributes, secret: Self.secret).encoded()
        #expect(try RADIUSPacket.decode(bad).isValidAccountingRequest(secret: Self.secret))
        let outcome = h.handle(bad, from: Self.nas, port: 5000, now: Self.now)
        #expect(outcome.result == .badMessageAuthenticator)
        #expect(outcome.response == nil && outcome.record == nil)
        // The correctly signed one is taken.
        let good = try Self.datagram(Self.record("MA1"), id: 4, messageAuthenticator: true)
        #expect(h.handle(good, from: Self.nas, port: 5000, now: Self.now).result == .accepted)
    }

    @Test("required Message-Authenticator: globally, and per client overriding the global setting")
    func requiredMessageAuthenticator() throws {
        var strict = Self.handler { $0.requireMessageAuthenticator = true }
        #expect(
            strict.handle(try Self.datagram(Self.record("R1")), from: Self.nas, port: 1, now: Self.now).result
                == .missingMessageAuthenticator)
        #expect(
            strict.handle(try Self.datagram(Self.record("R1"), messageAuthenticator: true), from: Self.nas, port: 1, now: Self.now).result
                == .accepted)
        var mixed = Self.handler {
            $0.clients.append(.init(prefix: IPPrefix("192.0.2.99/32")!, secret: Self.secret, requireMessageAuthenticator: true))
        }
        #expect(mixed.handle(try Self.datagram(Self.record("R2")), from: Self.nas, port: 1, now: Self.now).result == .accepted)
        #expect(
            mixed.handle(try Self.datagram(Self.record("R3")), from: IPAddress("192.0.2.99")!, port: 1, now: Self.now).result
                == .missingMessageAuthenticator)
        var lenient = Self.handler {
            $0.requireMessageAuthenticator = true
            $0.clients[0].requireMessageAuthenticator = false
        }
        #expect(lenient.handle(try Self.datagram(Self.record("R4")), from: Self.nas, port: 1, now: Self.now).result == .accepted)
    }

    @Test(
        "a repeat past the duplicate window is a replay: not answered, not applied, from any port; after the replay window it is new again")
    func replays() throws {
        var h = Self.handler {
            $0.duplicateWindowMilliseconds = 30_000
            $0.replayWindowMilliseconds = 600_000
        }
        let d = try Self.datagram(Self.record("P1"))
        #expect(h.handle(d, from: Self.nas, port: 4000, now: Self.now).result == .accepted)
        let retransmission = h.handle(d, from: Self.nas, port: 4000, now: Self.now + 10_000)
        #expect(retransmission.result == .duplicate && retransmission.response != nil && retransmission.record == nil)
        // Another source port within the duplicate window is no retransmission (RFC 5080): replay.
        #expect(h.handle(d, from: Self.nas, port: 4001, now: Self.now + 10_000).result == .replay)
        let late = h.handle(d, from: Self.nas, port: 4000, now: Self.now + 120_000)
        #expect(late.result == .replay && late.response == nil && late.record == nil)
        #expect(h.handle(d, from: Self.nas, port: 4000, now: Self.now + 700_000).result == .accepted)
    }

    @Test("Event-Timestamp + Acct-Delay-Time far from now is stale when the check is on; absent or off, not judged")
    func staleEventTime() throws {
        var h = Self.handler { $0.maximumEventAgeMilliseconds = 3_600_000 }
        let t = Self.now / 1000
        #expect(
            h.handle(try Self.datagram(Self.record("E1", eventTime: t - 7200)), from: Self.nas, port: 1, now: Self.now).result == .stale)
        #expect(
            h.handle(try Self.datagram(Self.record("E2", eventTime: t + 7200)), from: Self.nas, port: 1, now: Self.now).result == .stale)
        var delayed = Self.record("E3", eventTime: t - 7200)
        delayed.delayTime = 7190 // buffered by the NAS through an outage, and said so
        #expect(h.handle(try Self.datagram(delayed), from: Self.nas, port: 1, now: Self.now).result == .accepted)
        #expect(h.handle(try Self.datagram(Self.record("E4", eventTime: nil)), from: Self.nas, port: 1, now: Self.now).result == .accepted)
        var off = Self.handler()
        #expect(
            off.handle(try Self.datagram(Self.record("E5", eventTime: t - 86_400 * 300)), from: Self.nas, port: 1, now: Self.now).result
                == .accepted)
    }

    @Test("the per-client token bucket: a burst, then the sustained rate; spoofed packets do not spend it; clients are separate")
    func rateLimit() throws {
        var h = Self.handler {
            $0.rateLimit = .init(requestsPerSecond: 10, burst: 5)
            $0.clients.append(.init(prefix: IPPrefix("198.51.100.1/32")!, secret: Self.secret))
        }
        let wrongSecret = try Self.datagram(Self.record("X"), secret: Array("not-the-secret-0123".utf8))
        for _ in 0..<20 { #expect(h.handle(wrongSecret, from: Self.nas, port: 1, now: Self.now).result == .badAuthenticator) }
        var results: [RADIUSAccountingHandler.Result] = []
        for i in 0..<8 {
            results.append(h.handle(try Self.datagram(Self.record("B\(i)"), id: UInt8(i)), from: Self.nas, port: 1, now: Self.now).result)
        }
        #expect(results == Array(repeating: .accepted, count: 5) + Array(repeating: .rateLimited, count: 3))
        // The other client has its own bucket.
        #expect(
            h.handle(try Self.datagram(Self.record("O1")), from: IPAddress("198.51.100.1")!, port: 1, now: Self.now).result == .accepted)
        // 300 ms later: 3 tokens.
        results = []
        for i in 8..<12 {
            results.append(
                h.handle(try Self.datagram(Self.record("B\(i)"), id: UInt8(i)), from: Self.nas, port: 1, now: Self.now + 300).result)
        }
        #expect(results == [.accepted, .accepted, .accepted, .rateLimited])
        // A rate-limited request is not remembered: its retransmission is taken once there is room.
        let dropped = try Self.datagram(Self.record("B11"), id: 11)
        #expect(h.handle(dropped, from: Self.nas, port: 1, now: Self.now + 10_000).result == .accepted)
    }

    @Test("the duplicate cache and the replay memory stay within their bounds and count what they forget early")
    func boundedTables() throws {
        var h = Self.handler {
            $0.maximumRemembered = 100
            $0.maximumReplayMemory = 150
            $0.rateLimit = nil
        }
        for i in 0..<1000 {
            // One NAS source port per request, as a flood of Starts from many ports would be.
            let d = try Self.datagram(Self.record("F\(i)"), id: UInt8(truncatingIfNeeded: i))
            #expect(h.handle(d, from: Self.nas, port: 10_000 + i, now: Self.now + Int64(i)).result == .accepted)
        }
        #expect(h.rememberedCount == 100)
        #expect(h.replayMemoryCount == 150)
        #expect(h.evictions == .init(duplicate: 900, replay: 850))
        // What the windows forget by age is not an eviction.
        var aged = Self.handler {
            $0.maximumRemembered = 100
            $0.duplicateWindowMilliseconds = 1000
            $0.replayWindowMilliseconds = 1000
            $0.rateLimit = nil
        }
        for i in 0..<300 {
            _ = aged.handle(
                try Self.datagram(Self.record("A\(i)"), id: UInt8(truncatingIfNeeded: i)), from: Self.nas, port: 1,
                now: Self.now + Int64(i) * 100)
        }
        #expect(aged.rememberedCount <= 11 && aged.evictions == .init())
    }

    @Test("secrets shorter than 16 characters are a configuration problem naming the rule")
    func shortSecret() {
        var c = RADIUSAccountingHandler.Configuration()
        c.clients = [.init(prefix: IPPrefix("192.0.2.1/32")!, secret: Array("testing123".utf8))]
        #expect(c.problem?.contains("at least 16") == true)
        c.clients[0].secret = Array("sixteen-chars-ok".utf8)
        #expect(c.problem == nil)
    }

    @Test("the log throttle: once per key per interval, a bounded table, evictions counted")
    func logThrottle() {
        var t = LogThrottle(interval: 1000, maximumKeys: 3)
        var logged: [Bool] = []
        for (key, now) in [("a", 0), ("a", 999), ("a", 1000), ("b", 1000), ("c", 1000), ("d", 1001)] as [(String, Int64)] {
            logged.append(t.shouldLog(key, now: now))
        }
        #expect(logged == [true, false, true, true, true, true])
        // "d" came when the table was full and nothing had expired: the oldest key went.
        #expect(t.count == 3 && t.evictions == 1)
        let late = t.shouldLog("e", now: 5000) // full, all expired: no eviction
        #expect(late)
        #expect(t.count == 1 && t.evictions == 1)
    }
}
