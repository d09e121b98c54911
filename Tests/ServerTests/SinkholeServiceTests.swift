import Accounts
import Attribution
import DNSWire
import FlowCodec
import Foundation
import Hummingbird
import HummingbirdTesting
import Lawful
import Logging
import MamoriCore
import MamoriTesting
import NIOCore
import RPZ
import Storage
import Testing

@testable import Server

/// The DNS sinkhole inside `mamori serve`: what puts entries in and takes them out, the audit
/// record of each, the opt-out exemptions, the state kept across restarts, and the API.
@Suite struct SinkholeServiceTests {
    static let now = Int64(Date().timeIntervalSince1970 * 1000)

    static func application(
        _ dir: TemporaryDirectory, clock: TestClock = TestClock(now), configure: (inout MamoriConfiguration) -> Void = { _ in }
    ) throws -> (
        some ApplicationProtocol, MamoriServices
    ) {
        var configuration = ServerTests.configuration(dataDirectory: dir.path)
        configuration.sinkhole.confirmScore = 0.9
        configure(&configuration)
        var dependencies = ApplicationDependencies(logger: LogStore().logger(level: .critical), clock: clock)
        dependencies.passwordHashing = BcryptPasswordHashing(cost: 4)
        return try buildApplication(configuration: configuration, dependencies: dependencies)
    }

    static func commandAndControl(_ address: String, score: Double, id: String? = nil) -> Finding {
        let subject = FindingSubject(type: .endpoint, address: address, port: 443, protocol: "tcp", ports: nil)
        return Finding(
            id: id ?? Finding.id(kind: .commandAndControl, subject: subject), kind: .commandAndControl, subject: subject, score: score,
            firstSeen: now - 3_600_000, lastSeen: now, detectedAt: now, updatedAt: now, family: nil,
            summary: "beacons every 60 s from 7 hosts",
            evidence: Evidence())
    }

    static func sinkholeAudit(_ services: MamoriServices) throws -> [AuditLine] {
        try services.lawful.audit.recent(limit: 100) { $0.kind == .sinkholeChange }
    }

    @Test(
        "a C&C finding at the confirmation score enters as an rpz-ip entry, below it does not, an analyst's true positive puts one in, a false positive takes it out; each change is audited"
    )
    func findingsAndVerdicts() async throws {
        let dir = try TemporaryDirectory()
        let clock = TestClock(Self.now)
        let (_, services) = try Self.application(dir, clock: clock)
        let sinkhole = try #require(services.sinkhole)
        let strong = Self.commandAndControl("203.0.113.7", score: 0.95)
        let weak = Self.commandAndControl("203.0.113.8", score: 0.5)
        await sinkhole.consider([strong, weak])
        let entry = try #require(sinkhole.entry(.address(IPPrefix("203.0.113.7/32")!)))
        #expect(entry.source == .finding(id: strong.id))
        #expect(entry.expiresAt == Self.now / 1000 + 30 * 86_400)
        #expect(sinkhole.entry(.address(IPPrefix("203.0.113.8/32")!)) == nil)
        #expect(sinkhole.status.entries == 1)
        let serialAfterFirst = sinkhole.status.serial

        // Reported again soon after: nothing written. Past half the entry's life: renewed, no new
        // zone version.
        let auditBefore = try Self.sinkholeAudit(services).count
        await sinkhole.consider([strong])
        #expect(try Self.sinkholeAudit(services).count == auditBefore, "no audit entry at every report")
        clock.advance(by: 16 * 86_400_000)
        await sinkhole.consider([strong])
        #expect(sinkhole.entry(.address(IPPrefix("203.0.113.7/32")!))?.expiresAt == (Self.now + 16 * 86_400_000) / 1000 + 30 * 86_400)
        #expect(sinkhole.status.serial == serialAfterFirst)

        // An analyst confirms the weak one; then calls the strong one a false positive.
        await sinkhole.verdict(weak, Verdict(verdict: .truePositive, analyst: "hana", note: "seen in a sandbox", at: Self.now))
        #expect(sinkhole.entry(.address(IPPrefix("203.0.113.8/32")!))?.reason.contains("confirmed by hana") == true)
        await sinkhole.verdict(strong, Verdict(verdict: .falsePositive, analyst: "hana", at: Self.now))
        #expect(sinkhole.entry(.address(IPPrefix("203.0.113.7/32")!)) == nil)
        #expect(sinkhole.status.entries == 1)

        let audit = try Self.sinkholeAudit(services).map { "\($0.record.actor) \($0.record.summary)" }
        #expect(audit.contains { $0.hasPrefix("mamori added: 203.0.113.7/32") }, "\(audit)")
        #expect(audit.contains { $0.hasPrefix("mamori renewed: 203.0.113.7/32") }, "\(audit)")
        #expect(audit.contains { $0.hasPrefix("analyst:hana added: 203.0.113.8/32") }, "\(audit)")
        #expect(audit.contains { $0.hasPrefix("analyst:hana removed: 203.0.113.7/32") }, "\(audit)")
    }

    @Test(
        "matching resolver answers: a name entry covers its subdomains, an address entry and the sinkhole's own address cover answers; names seen resolving to a C&C address are learned, tied to its finding"
    )
    func matchingAndLearning() async throws {
        let dir = try TemporaryDirectory()
        let (_, services) = try Self.application(dir) { $0.sinkhole.addresses = [IPAddress("192.0.2.53")!] }
        let sinkhole = try #require(services.sinkhole)
        let c2 = Self.commandAndControl("203.0.113.70", score: 0.99)
        await sinkhole.consider([c2])
        try await sinkhole.change(
            [
                .add(
                    SinkholeEntry(
                        trigger: .name(try DNSName("evil.example.")), source: .analyst(operator: "hana"), reason: "x",
                        addedAt: Self.now / 1000, expiresAt: nil))
            ],
            actor: "analyst:hana")
        #expect(sinkhole.covers(name: "evil.example", answers: []))
        #expect(sinkhole.covers(name: "cdn.evil.example", answers: []), "subdomains are covered")
        #expect(!sinkhole.covers(name: "notevil.example", answers: []))
        #expect(!sinkhole.covers(name: "example", answers: []))
        #expect(sinkhole.covers(name: "anything.example", answers: [IPAddress("192.0.2.53")!]), "the sinkhole's own answer")
        #expect(sinkhole.covers(name: "anything.example", answers: [IPAddress("203.0.113.70")!]), "an answer into a C&C address")
        #expect(!sinkhole.covers(name: "anything.example", answers: [IPAddress("203.0.113.71")!]))

        await sinkhole.learn([
            ("update.botnet.example", IPAddress("203.0.113.70")!), ("www.google.com", IPAddress("203.0.113.70")!),
            ("other.example", IPAddress("198.51.100.1")!),
        ])
        let learned = try #require(sinkhole.entry(.name(try DNSName("update.botnet.example."))))
        #expect(learned.source == .learnedName(findingID: c2.id))
        #expect(sinkhole.entry(.name(try DNSName("www.google.com."))) == nil, "the guards apply to learned names")
        #expect(sinkhole.entry(.name(try DNSName("other.example."))) == nil, "only names that resolve to a C&C address in the policy")
    }

    @Test("the entry cap: a flood of findings beyond it is refused, counted and audited; the entries already in stay")
    func cap() async throws {
        let dir = try TemporaryDirectory()
        let (_, services) = try Self.application(dir) { $0.sinkhole.maximumEntries = 5 }
        let sinkhole = try #require(services.sinkhole)
        await sinkhole.consider((1...20).map { Self.commandAndControl("198.51.100.\($0)", score: 0.99) })
        #expect(sinkhole.status.entries == 5)
        #expect(sinkhole.status.refusedFull == 15)
        #expect(try Self.sinkholeAudit(services).filter { $0.record.summary.contains("the policy is full") }.count == 15)
    }

    @Test("an opted-out subscriber is exempted by the addresses attribution says they hold; cancelling the opt-out ends it; both audited")
    func exemptions() async throws {
        let dir = try TemporaryDirectory()
        let (_, services) = try Self.application(dir) { configuration in
            // Comprehensive consent with a real opt-out, so the engine allows the sinkhole unless opted out.
            configuration.lawful.policy.sinkhole.optOutMethod = "call 0120-000-000 or the web form"
            configuration.lawful.policy.terms = [
                LawfulPolicy.Terms(
                    version: "2026-04", effective: 0, discloses: [.sinkholeDNS],
                    observationStatement: "the names your devices look up are checked against known C&C servers as they are resolved")
            ]
        }
        let sinkhole = try #require(services.sinkhole)
        services.attribution.add([
            StaticAssignment(prefix: IPPrefix("100.64.0.5/32")!, subscriber: "alice@isp.example"),
            StaticAssignment(prefix: IPPrefix("2001:db8:aa00::/56")!, subscriber: "alice@isp.example"),
            StaticAssignment(prefix: IPPrefix("100.64.0.6/32")!, subscriber: "bob@isp.example"),
        ])
        let key = try KeyFile.loadOrCreate(path: dir.path + "/pseudonym.key", format: .raw)
        let alice = SubscriberPseudonymizer(key: key).pseudonym("alice@isp.example")
        try services.lawful.recordConsent(
            [
                ConsentEvent(
                    subscriber: alice, kind: .termsAccepted, termsVersion: "2026-04", at: Self.now - 86_400_000, method: "contract",
                    recordedBy: "crm"),
                ConsentEvent(
                    subscriber: alice, kind: .optedOut, action: .sinkholeDNS, at: Self.now - 1000, method: "call centre",
                    recordedBy: "agent-12"),
            ], actor: "test", at: Self.now)
        await sinkhole.refreshExemptions()
        #expect(sinkhole.status.exemptedSubscribers == 1)
        #expect(sinkhole.status.exemptedPrefixes == 2)
        var audit = try Self.sinkholeAudit(services)
        #expect(audit.contains { $0.record.subject == alice && $0.record.summary.hasPrefix("exempted from the sinkhole") }, "\(audit)")
        #expect(!audit.contains { $0.record.detail.contains("alice") }, "the audit names the pseudonym, not the subscriber")

        try services.lawful.recordConsent(
            [
                ConsentEvent(
                    subscriber: alice, kind: .optOutCancelled, action: .sinkholeDNS, at: Self.now, method: "web form", recordedBy: "alice")
            ],
            actor: "test", at: Self.now)
        await sinkhole.refreshExemptions()
        #expect(sinkhole.status.exemptedSubscribers == 0)
        audit = try Self.sinkholeAudit(services)
        #expect(audit.contains { $0.record.subject == alice && $0.record.summary.hasPrefix("exemption ended") }, "\(audit)")
    }

    @Test(
        "a sharing feed's names: the feed's whole set each time — new names added, dropped ones removed, a popular name refused and audited once, a name held from another source left alone, renewals only when due"
    )
    func indicatorNames() async throws {
        let dir = try TemporaryDirectory()
        let clock = TestClock(Self.now)
        let (_, services) = try Self.application(dir, clock: clock)
        let sinkhole = try #require(services.sinkhole)
        func offer(_ name: String, until: Int64? = nil) throws -> SinkholeService.IndicatorName {
            SinkholeService.IndicatorName(name: try DNSName(name + "."), expiresAt: until, reason: "shared by taxii:isac")
        }
        let feed = "taxii:isac"
        try await sinkhole.change(
            [
                .add(
                    SinkholeEntry(
                        trigger: .name(try DNSName("mine.example.")), source: .analyst(operator: "hana"), reason: "x",
                        addedAt: Self.now / 1000, expiresAt: nil))
            ],
            actor: "analyst:hana")
        let until = Self.now / 1000 + 7 * 86_400
        let first = await sinkhole.replaceIndicatorNames(
            feed: feed, with: [try offer("c2.example", until: until), try offer("www.google.com"), try offer("mine.example")])
        #expect(first.count == 2, "\(first)")
        #expect(sinkhole.entry(.name(try DNSName("c2.example.")))?.source == .indicator(feed: feed))
        #expect(sinkhole.entry(.name(try DNSName("c2.example.")))?.expiresAt == until)
        #expect(sinkhole.entry(.name(try DNSName("www.google.com."))) == nil, "the popular-name guard applies")
        #expect(sinkhole.entry(.name(try DNSName("mine.example.")))?.source == .analyst(operator: "hana"), "another source's entry stays")

        // The same set again: nothing to do, nothing audited (the refusal is not repeated).
        let auditBefore = try Self.sinkholeAudit(services).count
        let again = await sinkhole.replaceIndicatorNames(
            feed: feed, with: [try offer("c2.example", until: until), try offer("www.google.com"), try offer("mine.example")])
        let auditAfter = try Self.sinkholeAudit(services).count
        #expect(again.isEmpty && auditAfter == auditBefore, "\(again)")

        // A later valid_until renews; a name the feed stops offering leaves; the analyst's stays.
        let later = until + 86_400
        let third = await sinkhole.replaceIndicatorNames(
            feed: feed, with: [try offer("c2.example", until: later), try offer("new.example")])
        #expect(sinkhole.entry(.name(try DNSName("c2.example.")))?.expiresAt == later, "\(third)")
        #expect(sinkhole.entry(.name(try DNSName("new.example.")))?.expiresAt == Self.now / 1000 + 30 * 86_400)
        let fourth = await sinkhole.replaceIndicatorNames(feed: feed, with: [])
        let c2 = try DNSName("c2.example.")
        #expect(fourth.count == 2 && sinkhole.entry(.name(c2)) == nil, "\(fourth)")
        #expect(sinkhole.entry(.name(try DNSName("mine.example."))) != nil)

        let audit = try Self.sinkholeAudit(services).map { "\($0.record.actor) \($0.record.summary)" }
        #expect(audit.filter { $0.hasPrefix("sharing:taxii:isac refused: www.google.com.") }.count == 1, "\(audit)")
        #expect(audit.contains { $0.hasPrefix("sharing:taxii:isac removed: c2.example.") }, "\(audit)")
    }

    @Test("entries and serials outlive a restart; a damaged state file is set aside and the server starts empty")
    func restart() async throws {
        let dir = try TemporaryDirectory()
        var serial: UInt32 = 0
        do {
            let (_, services) = try Self.application(dir)
            let sinkhole = try #require(services.sinkhole)
            await sinkhole.consider([Self.commandAndControl("203.0.113.9", score: 0.97)])
            serial = sinkhole.status.serial
        }
        do {
            let (_, services) = try Self.application(dir)
            let sinkhole = try #require(services.sinkhole)
            #expect(sinkhole.entry(.address(IPPrefix("203.0.113.9/32")!)) != nil)
            #expect(sinkhole.status.serial > serial, "a restart never goes back in serial")
        }
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: dir.path + "/sinkhole.json"))
        let (_, services) = try Self.application(dir)
        #expect(services.sinkhole?.status.entries == 0)
        #expect(FileManager.default.fileExists(atPath: dir.path + "/sinkhole.json.damaged"))
    }

    @Test(
        "the API: an analyst adds, shows, lists and removes entries; guards refuse protected and popular names with 422; bad input gets 400"
    )
    func api() async throws {
        let dir = try TemporaryDirectory()
        let (app, services) = try Self.application(dir)
        let analyst = try await services.operatorHeaders(role: .analyst, name: "hana")
        let viewer = try await services.operatorHeaders(role: .viewer, name: "ken")
        @Sendable func body(_ json: String) -> ByteBuffer { ByteBuffer(string: json) }
        try await app.test(.router) { client in
            try await client.execute(
                uri: "/api/v1/sinkhole/entries", method: .post, headers: analyst,
                body: body(#"{"trigger": "c2.Example.net", "reason": "ISAC indicator 2026-12-01", "days": 7}"#)
            ) { r in
                #expect(r.status == .created, "\(String(buffer: r.body))")
                #expect(String(buffer: r.body).contains("\"trigger\":\"c2.example.net.\""), "names are kept lower-case")
            }
            try await client.execute(uri: "/api/v1/sinkhole/entry?trigger=c2.example.net", method: .get, headers: viewer) { r in
                #expect(r.status == .ok)
                let text = String(buffer: r.body)
                #expect(text.contains("\"source\":\"analyst\"") && text.contains("\"source_id\":\"hana\""), "\(text)")
            }
            for (json, status) in [
                (#"{"trigger": "www.google.com", "reason": "x"}"#, HTTPResponse.Status.unprocessableContent),
                (#"{"trigger": "com", "reason": "a TLD"}"#, .unprocessableContent),
                (#"{"trigger": "10.0.0.0/8", "reason": "too broad"}"#, .unprocessableContent),
                (#"{"trigger": "bad name!", "reason": "x"}"#, .badRequest),
                (#"{"trigger": "c3.example", "reason": ""}"#, .badRequest),
                (#"{"trigger": "c3.example", "reason": "x", "action": "explode"}"#, .badRequest),
                (#"{"trigger": "c3.example", "reason": "x", "days": 99999}"#, .badRequest),
                ("not json", .badRequest),
            ] {
                try await client.execute(uri: "/api/v1/sinkhole/entries", method: .post, headers: analyst, body: body(json)) { r in
                    #expect(r.status == status, "\(json): \(String(buffer: r.body))")
                }
            }
            try await client.execute(uri: "/api/v1/sinkhole/entries", method: .get, headers: viewer) { r in
                #expect(r.status == .ok)
                #expect(String(buffer: r.body).contains("\"total\":1"))
            }
            try await client.execute(uri: "/api/v1/sinkhole/entry?trigger=c2.example.net.", method: .delete, headers: analyst) { r in
                #expect(r.status == .ok)
            }
            try await client.execute(uri: "/api/v1/sinkhole/entry?trigger=c2.example.net", method: .delete, headers: analyst) { r in
                #expect(r.status == .notFound)
            }
            try await client.execute(uri: "/api/v1/sinkhole", method: .get, headers: viewer) { r in
                #expect(r.status == .ok)
                #expect(String(buffer: r.body).contains("\"entries\":0"))
            }
        }
        let audit = try Self.sinkholeAudit(services).map { "\($0.record.actor) \($0.record.summary)" }
        #expect(audit.contains { $0.hasPrefix("analyst:hana added: c2.example.net.") }, "\(audit)")
        #expect(audit.contains { $0.hasPrefix("analyst:hana refused: www.google.com.") }, "\(audit)")
        #expect(audit.contains { $0.hasPrefix("analyst:hana removed: c2.example.net.") }, "\(audit)")
    }
}
