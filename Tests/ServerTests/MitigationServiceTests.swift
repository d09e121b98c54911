import Accounts
import BGPSpeaker
import BGPWire
import FlowCodec
import Foundation
import Hummingbird
import HummingbirdTesting
import Lawful
import Logging
import MamoriCore
import MamoriTesting
import Mitigation
import NIOCore
import Testing

@testable import Server

/// BGP mitigation inside `mamori serve`, against a real BIRD on loopback: attack findings become
/// routes in BIRD's RIB, the rails refuse what they must, the kill switch and expiry withdraw,
/// every change is audited, and the API and metrics tell the operator.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct MitigationServiceTests {
    static let now = Int64(Date().timeIntervalSince1970 * 1000)

    static func application(
        _ dir: TemporaryDirectory, bird: BIRDPeer, clock: TestClock, configure: (inout MamoriConfiguration) -> Void = { _ in }
    ) throws -> (some ApplicationProtocol, MamoriServices) {
        var configuration = ServerTests.configuration(dataDirectory: dir.path)
        configuration.bgp.localAS = 65002
        configuration.bgp.routerID = "127.0.0.2"
        var neighbor = BGPSettings.Neighbor(name: "bird", address: "127.0.0.1", peerAS: 65001)
        neighbor.port = bird.port
        neighbor.localAddress = "127.0.0.2"
        configuration.bgp.neighbors = [neighbor]
        configuration.bgp.blackholeCommunities = [BGPCommunity(65002, 666)]
        configuration.bgp.policy.protected = PrefixSet([IPPrefix("198.51.100.0/24")!])
        for t in MitigationTrigger.allCases {
            configuration.bgp.policy.triggers[t] = .init(mode: .automatic, ttlMilliseconds: 10 * 60_000)
        }
        configure(&configuration)
        var dependencies = ApplicationDependencies(logger: LogStore().logger(level: .critical), clock: clock)
        dependencies.passwordHashing = BcryptPasswordHashing(cost: 4)
        return try buildApplication(configuration: configuration, dependencies: dependencies)
    }

    static func flow(from source: String, _ sourcePort: UInt16, to destination: String, _ proto: String, bytes: UInt64) -> FlowSample {
        FlowSample(
            start: now, end: now + 1000, source: source, sourcePort: sourcePort, destination: destination, destinationPort: 40_000,
            protocol: proto, tcpFlags: 0, packets: 1000, bytes: bytes, samplingInterval: 1)
    }

    /// An inbound flood on `victim`: NTP reflection (468-byte answers from port 123) or a plain
    /// flood from random ports.
    static func inbound(victim: String, reflection: Bool) -> Finding {
        let subject = FindingSubject(type: .host, address: victim, port: nil, protocol: nil, ports: nil)
        var e = Evidence()
        e.features = [Feature(.peakPacketsPerSecond, 120_000), Feature(.peakBitsPerSecond, 900_000_000)]
        e.flows =
            reflection
            ? ["192.0.2.1", "192.0.2.2", "192.0.2.3"].map { flow(from: $0, 123, to: victim, "udp", bytes: 468_000) }
            : (0..<4).map { flow(from: "192.0.2.\($0 + 1)", UInt16(30_000 + $0), to: victim, $0 % 2 == 0 ? "tcp" : "udp", bytes: 60_000) }
        return Finding(
            id: Finding.id(kind: .inboundDDoS, subject: subject), kind: .inboundDDoS, subject: subject, score: 0.9, firstSeen: now,
            lastSeen: now + 10_000, detectedAt: now, updatedAt: now, family: nil, summary: "Inbound DDoS against \(victim)", evidence: e)
    }

    static func audit(_ services: MamoriServices, limit: Int = 200) throws -> [String] {
        try services.lawful.audit.recent(limit: limit) { $0.kind == .mitigationChange }.map { "\($0.record.actor) \($0.record.summary)" }
    }

    static func waitEstablished(_ m: MitigationService) async throws {
        let deadline = ContinuousClock.now + .seconds(90)
        while m.speaker.status().first?.state != "established", ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(m.speaker.status().first?.state == "established", "\(m.speaker.status())")
    }

    @Test("findings become RTBH and FlowSpec routes in BIRD, audited with finding and basis; the kill switch withdraws them all")
    func findingsToBIRDAndKillSwitch() async throws {
        let bird = try await BIRDPeer(BIRDPeer.Configuration())
        defer { bird.stop() }
        let dir = try TemporaryDirectory()
        let clock = TestClock(Self.now)
        let (app, services) = try Self.application(dir, bird: bird, clock: clock)
        let m = try #require(services.mitigation)
        let running = Task { try await m.run() }
        defer { running.cancel() }
        try await Self.waitEstablished(m)

        let reflection = Self.inbound(victim: "203.0.113.7", reflection: true)
        let flood = Self.inbound(victim: "203.0.113.9", reflection: false)
        m.handle([reflection, flood])
        let flows = try await bird.waitForRoutes(table: "flowtab4") { $0.count == 1 }
        #expect(flows.first?.network.hasPrefix("flow4 { dst 203.0.113.7/32; proto 17; sport 123;") == true, "\(flows)")
        #expect(flows.first?.trafficRate == 0)
        let rtbh = try await bird.waitForRoutes(table: "master4") { $0.count == 1 }
        #expect(rtbh.first?.network == "203.0.113.9/32")
        #expect(rtbh.first?.nextHop == "192.0.2.1")
        #expect(Set(rtbh.first?.communities ?? []) == ["65535:666", "65535:65281", "65002:666"])

        let audit = try Self.audit(services)
        #expect(
            audit.contains { $0.contains("flowspec announced") && $0.contains("finding \(reflection.id)") && $0.contains("basis ") },
            "\(audit)")
        #expect(audit.contains { $0.contains("blackhole announced") && $0.contains("finding \(flood.id)") }, "\(audit)")

        // Seen again: extended, nothing new on the wire or in the log.
        let announcementsBefore = m.speaker.status().first?.announcements
        clock.advance(by: 5 * 60_000)
        m.handle([reflection, flood])
        #expect(try Self.audit(services).count == audit.count)
        #expect(m.speaker.status().first?.announcements == announcementsBefore)
        #expect(m.snapshot.active.values.first { $0.rule.kind == .flowSpec }?.rule.expiresAt == Self.now + 15 * 60_000)

        let admin = try await services.operatorHeaders(role: .admin, name: "aiko")
        let analyst = try await services.operatorHeaders(role: .analyst, name: "hana")
        try await app.test(.router) { client in
            try await client.execute(uri: "/api/v1/bgp", method: .get, headers: analyst) { r in
                #expect(r.status == .ok)
                let text = String(buffer: r.body)
                #expect(text.contains("\"state\":\"established\"") && text.contains("\"active\":2"), "\(text) \(bird.log)")
                // Times in ISO 8601, as everywhere else in the API.
                #expect(text.range(of: #""since":"20\d\d-\d\d-\d\dT"#, options: .regularExpression) != nil, "\(text)")
            }
            try await client.execute(uri: "/api/v1/bgp/rules", method: .get, headers: analyst) { r in
                let text = String(buffer: r.body)
                #expect(text.contains("\"summary\":\"dst ") && !text.contains("src any"), "\(text)")
            }
            try await client.execute(uri: "/metrics", method: .get) { r in
                let text = String(buffer: r.body)
                #expect(
                    text.contains("mamori_bgp_rules_active{kind=\"flowspec\"} 1"),
                    "\(text.split(separator: "\n").filter { $0.contains("bgp") })")
                #expect(text.contains("mamori_bgp_session_state{neighbor=\"bird\"} 6"))
            }
            try await client.execute(
                uri: "/api/v1/bgp/kill", method: .post, headers: analyst, body: ByteBuffer(string: #"{"reason": "test"}"#)
            ) { r in
                #expect(r.status == .forbidden, "the kill switch is an admin's")
            }
            try await client.execute(
                uri: "/api/v1/bgp/kill", method: .post, headers: admin, body: ByteBuffer(string: #"{"reason": "rules misbehaving"}"#)
            ) { r in
                #expect(r.status == .ok, "\(String(buffer: r.body))")
                #expect(String(buffer: r.body).contains("\"withdrawn\":2"))
            }
        }
        try await bird.waitForRoutes(table: "master4") { $0.isEmpty }
        try await bird.waitForRoutes(table: "flowtab4") { $0.isEmpty }
        // Engaged: nothing is announced.
        m.handle([Self.inbound(victim: "203.0.113.10", reflection: false)])
        #expect(m.snapshot.active.isEmpty)
        #expect(m.snapshot.refusals.last?.rail == .killSwitch)
        try await app.test(.router) { client in
            try await client.execute(uri: "/api/v1/bgp/kill", method: .delete, headers: admin) { r in #expect(r.status == .ok) }
        }
        m.handle([flood])
        try await bird.waitForRoutes(table: "master4") { $0.count == 1 }
        let after = try Self.audit(services)
        #expect(after.contains { $0.hasPrefix("operator:aiko") && $0.contains("kill switch engaged: rules misbehaving") }, "\(after)")
        #expect(after.contains { $0.contains("withdrawn (kill_switch)") })
        #expect(after.contains { $0.hasPrefix("operator:aiko") && $0.contains("kill switch released") })

        // Time up: withdrawn by the timer's work.
        clock.advance(by: 11 * 60_000)
        m.expire()
        try await bird.waitForRoutes(table: "master4") { $0.isEmpty }
        #expect(try Self.audit(services).contains { $0.contains("withdrawn (expired)") })
    }

    @Test("an admin announces and withdraws by hand; protected, too-short and malformed rules are refused with the rail and audited")
    func manualRulesAndRails() async throws {
        let bird = try await BIRDPeer(BIRDPeer.Configuration())
        defer { bird.stop() }
        let dir = try TemporaryDirectory()
        let (app, services) = try Self.application(dir, bird: bird, clock: TestClock(Self.now))
        let m = try #require(services.mitigation)
        let running = Task { try await m.run() }
        defer { running.cancel() }
        try await Self.waitEstablished(m)
        let admin = try await services.operatorHeaders(role: .admin, name: "aiko")
        let analyst = try await services.operatorHeaders(role: .analyst, name: "hana")
        try await app.test(.router) { client in
            let rule =
                #"{"kind": "flowspec", "destination": "203.0.113.20", "protocols": [17], "destination_ports": [53, "1000-2000"], "action": "rate-limit", "rate_bytes_per_second": 125000, "reason": "DNS flood on the customer's resolver", "minutes": 30}"#
            try await client.execute(uri: "/api/v1/bgp/rules", method: .post, headers: analyst, body: ByteBuffer(string: rule)) { r in
                #expect(r.status == .forbidden)
            }
            try await client.execute(uri: "/api/v1/bgp/rules", method: .post, headers: admin, body: ByteBuffer(string: rule)) { r in
                #expect(r.status == .created, "\(String(buffer: r.body))")
                #expect(String(buffer: r.body).contains("\"event\":\"announced\""))
            }
            for (json, status, rail) in [
                (
                    #"{"kind": "blackhole", "destination": "198.51.100.7", "reason": "x"}"#, HTTPResponse.Status.unprocessableContent,
                    "protected_prefix"
                ),
                (
                    #"{"kind": "blackhole", "destination": "127.0.0.1", "reason": "the router itself"}"#, .unprocessableContent,
                    "protected_prefix"
                ),
                (
                    #"{"kind": "flowspec", "destination": "10.0.0.0/8", "protocols": [6], "reason": "too wide"}"#, .unprocessableContent,
                    "minimum_length"
                ),
                (
                    #"{"kind": "blackhole", "destination": "203.0.113.0/24", "reason": "not a host"}"#, .unprocessableContent,
                    "host_route_only"
                ),
                (#"{"kind": "flowspec", "destination": "203.0.113.5", "destination_ports": ["99999"], "reason": "x"}"#, .badRequest, ""),
                (#"{"kind": "teleport", "destination": "203.0.113.5", "reason": "x"}"#, .badRequest, ""),
                (#"{"kind": "flowspec", "destination": "203.0.113.5", "reason": ""}"#, .badRequest, ""),
                (#"{"kind": "flowspec", "destination": "203.0.113.5", "action": "rate-limit", "reason": "x"}"#, .badRequest, ""),
                ("[]", .badRequest, ""),
                (
                    #"{"kind": "flowspec", "destination": "203.0.113.5", "protocols": [1], "destination_ports": [80], "reason": "x"}"#,
                    .badRequest, ""
                ),
            ] {
                try await client.execute(uri: "/api/v1/bgp/rules", method: .post, headers: admin, body: ByteBuffer(string: json)) { r in
                    #expect(r.status == status, "\(json): \(String(buffer: r.body))")
                    if !rail.isEmpty { #expect(String(buffer: r.body).contains("\"rail\":\"\(rail)\""), "\(json)") }
                }
            }
        }
        let flows = try await bird.waitForRoutes(table: "flowtab4") { $0.count == 1 }
        #expect(flows.first?.network == "flow4 { dst 203.0.113.20/32; proto 17; dport 53,1000..2000; }", "\(flows)")
        #expect(flows.first?.trafficRate == 125_000)
        let ruleID = try #require(m.snapshot.active.keys.first)
        try await app.test(.router) { client in
            try await client.execute(uri: "/api/v1/bgp/rules/\(ruleID)", method: .delete, headers: admin) { r in
                #expect(r.status == .ok, "\(ruleID): \(String(buffer: r.body))")
            }
            try await client.execute(uri: "/api/v1/bgp/rules/\(ruleID)", method: .delete, headers: admin) { r in
                #expect(r.status == .notFound)
            }
            try await client.execute(uri: "/api/v1/bgp/rules", method: .get, headers: analyst) { r in
                let text = String(buffer: r.body)
                #expect(text.contains("\"active\":[]") && text.contains("\"rail\":\"protected_prefix\""), "\(text)")
            }
        }
        try await bird.waitForRoutes(table: "flowtab4") { $0.isEmpty }
        let audit = try Self.audit(services)
        #expect(audit.contains { $0.hasPrefix("operator:aiko") && $0.contains("flowspec announced") }, "\(audit)")
        #expect(audit.contains { $0.hasPrefix("operator:aiko") && $0.contains("withdrawn (manual)") }, "\(audit)")
        #expect(
            audit.contains { $0.contains("refused (protected_prefix: 198.51.100.7/32 overlaps protected 198.51.100.0/24)") }, "\(audit)")
    }

    @Test("rules in manual-approval mode wait; an admin approves one (announced) and rejects another; both audited")
    func manualApproval() async throws {
        let bird = try await BIRDPeer(BIRDPeer.Configuration())
        defer { bird.stop() }
        let dir = try TemporaryDirectory()
        let (app, services) = try Self.application(dir, bird: bird, clock: TestClock(Self.now)) { c in
            c.bgp.policy.triggers[.inboundFlood] = .init(mode: .manualApproval, ttlMilliseconds: 10 * 60_000)
            c.bgp.policy.triggers[.inboundReflection] = .init(mode: .dryRun, ttlMilliseconds: 10 * 60_000)
        }
        let m = try #require(services.mitigation)
        let running = Task { try await m.run() }
        defer { running.cancel() }
        try await Self.waitEstablished(m)
        m.handle([
            Self.inbound(victim: "203.0.113.30", reflection: false), Self.inbound(victim: "203.0.113.31", reflection: false),
            Self.inbound(victim: "203.0.113.32", reflection: true),
        ])
        #expect(m.snapshot.pending.count == 2)
        #expect(m.snapshot.dryRuns.count == 1)
        #expect(m.snapshot.active.isEmpty)
        let ids = m.snapshot.pending.values.map(\.rule).sorted { $0.match.description < $1.match.description }.map(\.id)
        let admin = try await services.operatorHeaders(role: .admin, name: "aiko")
        try await app.test(.router) { client in
            try await client.execute(uri: "/api/v1/bgp/rules/\(ids[0])/approve", method: .post, headers: admin) { r in
                #expect(r.status == .ok, "\(String(buffer: r.body))")
            }
            try await client.execute(
                uri: "/api/v1/bgp/rules/\(ids[1])/reject", method: .post, headers: admin,
                body: ByteBuffer(string: #"{"reason": "the customer asked us not to"}"#)
            ) { r in #expect(r.status == .ok) }
            try await client.execute(uri: "/api/v1/bgp/rules/\(ids[1])/approve", method: .post, headers: admin) { r in
                #expect(r.status == .notFound)
            }
        }
        let routes = try await bird.waitForRoutes(table: "master4") { $0.count == 1 }
        #expect(routes.first?.network == "203.0.113.30/32")
        #expect(try await bird.routes(table: "flowtab4").isEmpty, "a dry run announces nothing")
        let audit = try Self.audit(services)
        #expect(audit.filter { $0.contains("awaiting approval") }.count == 2, "\(audit)")
        #expect(audit.contains { $0.contains("dry run") })
        #expect(
            audit.contains { $0.hasPrefix("operator:aiko") && $0.contains("blackhole announced") && $0.contains("approver operator:aiko") },
            "\(audit)")
        #expect(audit.contains { $0.contains("refused (rejected: rejected by operator:aiko: the customer asked us not to)") }, "\(audit)")
    }

    @Test(
        "announced rules stay at the router over a restart (on_shutdown: leave, graceful restart) and go out again; withdraw_all withdraws them at shutdown"
    )
    func restartAndShutdown() async throws {
        let bird = try await BIRDPeer(BIRDPeer.Configuration())
        defer { bird.stop() }
        let dir = try TemporaryDirectory()
        let clock = TestClock(Self.now)
        do {
            let (_, services) = try Self.application(dir, bird: bird, clock: clock) { $0.bgp.policy.shutdown = .leave }
            let m = try #require(services.mitigation)
            let running = Task { try await m.run() }
            try await Self.waitEstablished(m)
            m.handle([Self.inbound(victim: "203.0.113.40", reflection: false)])
            try await bird.waitForRoutes(table: "master4") { $0.count == 1 }
            running.cancel()
            _ = try? await running.value
        }
        // The session closed without a NOTIFICATION (graceful restart, 120 s by default): while
        // Mamori is away BIRD keeps the rule.
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline, try await bird.sessionState == "Established" {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(try await bird.sessionState != "Established")
        for _ in 0..<5 {
            #expect(try await bird.routes(table: "master4").map(\.network) == ["203.0.113.40/32"], "\(bird.log)")
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(try await bird.lastError?.contains("Cease") != true)
        let (_, services) = try Self.application(dir, bird: bird, clock: clock)
        let m = try #require(services.mitigation)
        #expect(m.snapshot.active.count == 1, "restored from mitigations.json")
        let running = Task { try await m.run() }
        try await Self.waitEstablished(m)
        let routes = try await bird.waitForRoutes(table: "master4") { $0.count == 1 }
        #expect(routes.first?.network == "203.0.113.40/32")
        running.cancel()
        _ = try? await running.value
        #expect(m.snapshot.active.isEmpty, "withdraw_all at shutdown")
        #expect(try Self.audit(services).contains { $0.contains("withdrawn (shutdown)") })
        #expect(m.speaker.status().first?.lastNotificationSent?.hasPrefix("6/2") == true)
    }

    @Test(
        "a flood of findings cannot push past the caps: 30 new rules a minute, 60 active; refusals are counted every time and audited once per storm"
    )
    func findingsFloodMeetsTheCaps() async throws {
        let bird = try await BIRDPeer(BIRDPeer.Configuration())
        defer { bird.stop() }
        let dir = try TemporaryDirectory()
        let clock = TestClock(Self.now)
        let (app, services) = try Self.application(dir, bird: bird, clock: clock) { $0.bgp.policy.maximumActive = 60 }
        let m = try #require(services.mitigation)
        let running = Task { try await m.run() }
        defer { running.cancel() }
        try await Self.waitEstablished(m)
        let victims = (0..<500).map { Self.inbound(victim: "203.0.\(112 + $0 / 250).\($0 % 250 + 1)", reflection: false) }
        for _ in 0..<3 { m.handle(victims) }
        #expect(m.snapshot.active.count == 30)
        try await bird.waitForRoutes(table: "master4") { $0.count == 30 }
        let firstMinute = try Self.audit(services, limit: 5000)
        #expect(firstMinute.filter { $0.contains("blackhole announced") }.count == 30)
        #expect(
            firstMinute.filter { $0.contains("refused 470 rule(s) (rate_cap") }.count == 1,
            "one entry for the storm, not one per rule and attempt: \(firstMinute.filter { $0.contains("refused") })")
        #expect(firstMinute.count == 31)
        // Minutes pass with the flood going on: the active cap holds.
        for _ in 0..<4 {
            clock.advance(by: 61_000)
            m.handle(victims)
        }
        #expect(m.snapshot.active.count == 60)
        try await bird.waitForRoutes(table: "master4") { $0.count == 60 }
        try await app.test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { r in
                let text = String(buffer: r.body)
                let line = text.split(separator: "\n").first { $0.hasPrefix("mamori_bgp_rules_refused_total{rail=\"rate_cap\"}") }
                #expect(line.map { Int($0.split(separator: " ").last ?? "") ?? 0 } ?? 0 >= 3 * 470, "\(line ?? "no line")")
                #expect(text.contains("mamori_bgp_rules_active{kind=\"blackhole\"} 60"))
            }
        }
    }

    @Test("a rule stays while the detectors keep reporting its attack and is withdrawn once they fall quiet (attack_ended)")
    func attackEndWithdraws() async throws {
        let bird = try await BIRDPeer(BIRDPeer.Configuration())
        defer { bird.stop() }
        let dir = try TemporaryDirectory()
        let clock = TestClock(Self.now)
        let (_, services) = try Self.application(dir, bird: bird, clock: clock) { $0.bgp.quietMinutes = 5 }
        let m = try #require(services.mitigation)
        let running = Task { try await m.run() }
        defer { running.cancel() }
        try await Self.waitEstablished(m)
        let flood = Self.inbound(victim: "203.0.113.50", reflection: false)
        m.handle([flood])
        try await bird.waitForRoutes(table: "master4") { $0.count == 1 }
        for _ in 0..<3 {
            clock.advance(by: 4 * 60_000)
            m.handle([flood]) // still going on
            m.expire()
        }
        #expect(m.snapshot.active.count == 1, "reported every 4 minutes: never quiet for 5")
        clock.advance(by: 5 * 60_000)
        m.expire()
        #expect(m.snapshot.active.isEmpty)
        try await bird.waitForRoutes(table: "master4") { $0.isEmpty }
        #expect(try Self.audit(services).contains { $0.contains("withdrawn (attack_ended)") && $0.contains("finding \(flood.id)") })
    }

    @Test("the kill switch survives a restart until released; releasing it twice audits once; without bgp: the API says so")
    func killSwitchIsKeptAndUnconfiguredServerSaysSo() async throws {
        let bird = try await BIRDPeer(BIRDPeer.Configuration())
        defer { bird.stop() }
        let dir = try TemporaryDirectory()
        let clock = TestClock(Self.now)
        do {
            let (_, services) = try Self.application(dir, bird: bird, clock: clock)
            let m = try #require(services.mitigation)
            _ = m.engageKillSwitch(operator: "operator:aiko", reason: "maintenance")
            _ = m.engageKillSwitch(operator: "operator:ken", reason: "again")
            #expect(m.snapshot.killSwitch?.reason == "maintenance")
        }
        do {
            let (_, services) = try Self.application(dir, bird: bird, clock: clock)
            let m = try #require(services.mitigation)
            #expect(m.snapshot.killSwitch?.engagedBy == "operator:aiko", "kept in mitigations.json")
            #expect(m.releaseKillSwitch(operator: "operator:aiko"))
            #expect(!m.releaseKillSwitch(operator: "operator:aiko"))
            let audit = try Self.audit(services)
            #expect(audit.filter { $0.contains("kill switch engaged") }.count == 1, "\(audit)")
            #expect(audit.filter { $0.contains("kill switch released") }.count == 1, "\(audit)")
        }
        let (_, services) = try Self.application(dir, bird: bird, clock: clock)
        #expect(services.mitigation?.snapshot.killSwitch == nil, "the release was kept too")

        var configuration = ServerTests.configuration(dataDirectory: try TemporaryDirectory().path)
        configuration.bgp.enabled = false
        var dependencies = ApplicationDependencies(logger: LogStore().logger(level: .critical), clock: clock)
        dependencies.passwordHashing = BcryptPasswordHashing(cost: 4)
        let (app, plain) = try buildApplication(configuration: configuration, dependencies: dependencies)
        #expect(plain.mitigation == nil)
        let viewer = try await plain.operatorHeaders(role: .viewer, name: "ken")
        try await app.test(.router) { client in
            try await client.execute(uri: "/api/v1/bgp", method: .get, headers: viewer) { r in
                #expect(r.status == .notFound)
                #expect(String(buffer: r.body).contains("not configured"))
            }
        }
    }

    /// An infected subscriber's device flooding a target on the Internet, at 50,000 packets/s.
    static func device(host: String, target: String) -> Finding {
        let subject = FindingSubject(type: .host, address: host, port: nil, protocol: nil, ports: nil)
        var e = Evidence()
        e.features = [Feature(.attackPacketsPerSecond, 50_000, unit: "packets/s", about: target)]
        e.flows = [
            FlowSample(
                start: now, end: now + 1000, source: host, sourcePort: 5555, destination: target, destinationPort: 53, protocol: "udp",
                tcpFlags: 0, packets: 5000, bytes: 300_000, samplingInterval: 1)
        ]
        var f = Finding(
            id: Finding.id(kind: .infectedDevice, subject: subject), kind: .infectedDevice, subject: subject, score: 0.9, firstSeen: now,
            lastSeen: now + 10_000, detectedAt: now, updatedAt: now, family: nil, summary: "Likely infected: \(host)", evidence: e)
        f.subscriber = FindingSubscriber(
            outcome: .attributed, pseudonym: "s:00000000000000aa", candidates: [], confidence: 1, source: "radius", reason: "test",
            at: [now])
        return f
    }

    @Test(
        "an infected subscriber's flood becomes a FlowSpec rule on its source in BIRD when the terms disclose it; without them the legal-basis engine refuses it, audited"
    )
    func outboundAttackFollowsTheLegalBasis() async throws {
        let bird = try await BIRDPeer(BIRDPeer.Configuration())
        defer { bird.stop() }
        // Terms that disclose BGP filtering of attacks: the legitimate-business route is open.
        let permitted = try TemporaryDirectory()
        let (_, services) = try Self.application(permitted, bird: bird, clock: TestClock(Self.now)) {
            $0.lawful.policy = LawfulPolicy(terms: [LawfulPolicy.Terms(version: "v1", effective: 0, discloses: [.mitigateAttack])])
        }
        let m = try #require(services.mitigation)
        let running = Task { try await m.run() }
        try await Self.waitEstablished(m)
        m.handle([Self.device(host: "198.18.0.5", target: "240.0.0.9")])
        let rules = try await bird.waitForRoutes(table: "flowtab4") { $0.count == 1 }
        #expect(rules.first?.network == "flow4 { dst 240.0.0.9/32; src 198.18.0.5/32; proto 17; }", "\(rules)")
        let audit = try Self.audit(services)
        #expect(audit.contains { $0.contains("flowspec announced") && $0.contains("basis legitimate_business_act") }, "\(audit)")
        running.cancel()
        _ = try? await running.value

        // No terms: no ground for filtering a subscriber's own traffic.
        let strict = try TemporaryDirectory()
        let (_, refusing) = try Self.application(strict, bird: bird, clock: TestClock(Self.now))
        let r = try #require(refusing.mitigation)
        r.handle([Self.device(host: "198.18.0.5", target: "240.0.0.9")])
        #expect(r.snapshot.active.isEmpty)
        #expect(r.snapshot.refusals.last?.rail == .lawful)
        let refusals = try Self.audit(refusing)
        #expect(refusals.contains { $0.contains("refused (lawful:") }, "\(refusals)")
    }
}
