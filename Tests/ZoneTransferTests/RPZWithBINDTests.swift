import DNSWire
import FlowCodec
import Foundation
import Logging
import MamoriTesting
import MetricsTestKit
import NIOConcurrencyHelpers
import RPZ
import Testing
import ZoneTransfer

/// The sinkhole end to end, with the real parts: the `RPZ` module's policy, zones, journal and
/// transfer answers served by `ZoneTransferServer` to a real BIND 9 that follows both policy zones
/// over TSIG. A C&C name entered in the policy is rewritten to the sinkhole for a client after a
/// NOTIFY, by an incremental transfer; an opted-out subscriber's address (a `rpz-client-ip`
/// PASSTHRU in the exemption zone, which BIND applies first) still gets the true answer; removing
/// the entry brings the true answer back. The seconds from publishing to the first rewritten answer
/// are printed, not asserted (the machine is shared; BENCHMARKS.md is where figures go).
@Suite(.timeLimit(.minutes(5)))
struct RPZWithBINDTests {
    static let secret = "mtJ+6YqXgR3lQd0c7lJ8dHk1m2b5x0WcC0i1Xv2Y3Zs="
    static let sinkhole = try! DNSName("rpz.mamori.")
    static let exempt = try! DNSName("exempt.mamori.")

    static func configuration(directory: String, port: Int, primaryPort: Int) -> String {
        """
        options {
            directory "\(directory)";
            pid-file "\(directory)/named.pid";
            session-keyfile "\(directory)/session.key";
            managed-keys-directory "\(directory)";
            listen-on port \(port) { 127.0.0.1; 127.0.0.2; };
            listen-on-v6 { none; };
            recursion yes;
            allow-query { 127.0.0.0/8; };
            allow-recursion { 127.0.0.0/8; };
            dnssec-validation no;
            forwarders { 127.0.0.1 port 9; };
            forward only;
            notify no;
            // The exemption zone first: the first zone that matches decides.
            response-policy {
                zone "exempt.mamori." min-update-interval 0;
                zone "rpz.mamori." min-update-interval 0;
            };
        };
        key "mamori-xfr" { algorithm hmac-sha256; secret "\(secret)"; };
        logging {
            channel file { file "\(directory)/named.log"; severity info; print-time yes; print-category yes; print-severity yes; };
            category default { file; };
            category rpz { file; };
        };
        controls { };
        zone "example." { type primary; file "\(directory)/example.db"; };
        zone "exempt.mamori." { type secondary; primaries { 127.0.0.1 port \(primaryPort) key "mamori-xfr"; }; file "\(directory)/exempt.db"; };
        zone "rpz.mamori." { type secondary; primaries { 127.0.0.1 port \(primaryPort) key "mamori-xfr"; }; file "\(directory)/rpz.db"; };

        """
    }

    static let exampleZone = """
        $TTL 300
        @ IN SOA ns.example. hostmaster.example. 1 3600 600 86400 60
        @ IN NS ns.example.
        ns IN A 192.0.2.1
        cc IN A 192.0.2.10
        sinkhole IN A 192.0.2.53

        """

    /// The primary's state: the policy, its publication and the responder that serves it.
    final class Primary: Sendable {
        struct State {
            var policy: SinkholePolicy
            var publication: RPZPublication
            var responder: ZoneTransferResponder
        }
        let state: NIOLockedValueBox<State>
        let outcomes = NIOLockedValueBox<[TransferOutcome.Kind]>([])
        let key: TSIGKey

        init(now: Int64) throws {
            key = try TSIGKey(name: try DNSName("mamori-xfr."), secretBase64: RPZWithBINDTests.secret)
            let policy = SinkholePolicy(
                configuration: .init(
                    zoneApex: RPZWithBINDTests.sinkhole, exemptionApex: RPZWithBINDTests.exempt,
                    sinkholeName: try DNSName("sinkhole.example.")))
            let zones = RPZZoneConfiguration(
                apex: RPZWithBINDTests.sinkhole, exemptionApex: RPZWithBINDTests.exempt, sinkholeName: try DNSName("sinkhole.example."),
                primaryName: try DNSName("ns.mamori.test."), responsibleName: try DNSName("hostmaster.mamori.test."), ttl: 5,
                exemptionTTL: 5)
            let publication = RPZPublication(
                policy: policy, configuration: zones, initialSerial: DNSSerial(UInt32(truncatingIfNeeded: now)))
            let responder = ZoneTransferResponder(
                zones: publication.zones, secondaries: [SecondaryPolicy(prefix: IPPrefix("127.0.0.1/32")!, tsigKey: key)])
            state = NIOLockedValueBox(State(policy: policy, publication: publication, responder: responder))
        }

        func respond(_ request: [UInt8], _ client: ZoneTransferClient, _ reply: ZoneTransferReplyWriter) async throws {
            let responder = state.withLockedValue { $0.responder }
            let outcome = responder.respond(
                to: request, from: client.address, now: Int64(Date().timeIntervalSince1970), overTCP: client.transport == .tcp)
            outcomes.withLockedValue { $0.append(outcome.kind) }
            for message in outcome.messages { try await reply.send(message) }
        }

        /// Changes the policy, publishes, serves the new versions and returns the NOTIFYs to send.
        func change(_ body: (inout SinkholePolicy) -> Void) throws -> [[UInt8]] {
            let now = Int64(Date().timeIntervalSince1970)
            return try state.withLockedValue { s in
                body(&s.policy)
                s.publication.publish(s.policy)
                s.responder.update(s.publication.sinkhole)
                s.responder.update(s.publication.exemptions)
                return [
                    try ZoneTransferResponder.notify(zone: s.publication.sinkhole.zone, id: 0x5151, key: key, now: now).bytes,
                    try ZoneTransferResponder.notify(zone: s.publication.exemptions.zone, id: 0x5152, key: key, now: now).bytes,
                ]
            }
        }
    }

    static func notify(_ messages: [[UInt8]], port: Int, metrics: TestMetrics) async {
        var c = NotifySender.Configuration()
        c.bindHost = "127.0.0.1"
        let sender = NotifySender(configuration: c, logger: Logger(label: "test"), metricsFactory: metrics)
        for m in messages { _ = await sender.send(m, to: [.init(host: "127.0.0.1", port: port)]) }
    }

    static func sinkholed(_ m: DNSMessage) -> Bool { m.answers.contains { $0.rdata == .a([192, 0, 2, 53]) } }
    static func trueAnswer(_ m: DNSMessage) -> Bool { m.answers.contains { $0.rdata == .a([192, 0, 2, 10]) } }

    @Test(
        "a C&C name in the policy reaches BIND by IXFR after a NOTIFY and is sinkholed; an opted-out client gets the true answer; removal brings it back"
    )
    func sinkholeAndOptOut() async throws {
        let named = try ExternalPeer.require("named", debianPackage: "bind9")
        let primary = try Primary(now: Int64(Date().timeIntervalSince1970))
        let running = try await RunningServer(responder: primary.respond)
        let directory = try TemporaryDirectory()
        let port = try freeUDPPort()
        try Self.exampleZone.write(toFile: directory.path + "/example.db", atomically: true, encoding: .utf8)
        try Self.configuration(directory: directory.path, port: port, primaryPort: running.port)
            .write(toFile: directory.path + "/named.conf", atomically: true, encoding: .utf8)
        let peer = try named.start(["-f", "-4", "-n", "1", "-c", directory.path + "/named.conf"])
        defer { peer.stop() }
        let log = directory.path + "/named.log"
        let loaded = try await waitUntil(timeout: .seconds(30)) {
            let text = readLog(log)
            return text.contains("zone rpz.mamori/IN: transferred serial") && text.contains("zone exempt.mamori/IN: transferred serial")
        }
        try #require(
            loaded, "BIND did not load both policy zones; outcomes: \(primary.outcomes.withLockedValue { $0 }); log:\n\(readLog(log))")
        let before = try await askResolver(port: port, name: "cc.example", timeout: .seconds(10), accept: Self.trueAnswer)
        #expect(before.map(Self.trueAnswer) == true, "before the entry: \(String(describing: before))")

        // A confirmed C&C name, and a subscriber who opted out at 127.0.0.2.
        let notifies = try primary.change { policy in
            let change = policy.add(
                SinkholeEntry(
                    trigger: .name(try! DNSName("cc.example.")), source: .finding(id: "c2-server:test"), reason: "confirmed C&C",
                    addedAt: Int64(Date().timeIntervalSince1970), expiresAt: nil, ttl: 5),
                now: Int64(Date().timeIntervalSince1970))
            _ = change
            _ = policy.setExemption(pseudonym: "s:0000000000b2", addresses: [IPAddress("127.0.0.2")!])
        }
        let published = ContinuousClock.now
        await Self.notify(notifies, port: port, metrics: running.metrics)
        let rewritten = try await askResolver(port: port, name: "cc.example", timeout: .seconds(45), accept: Self.sinkholed)
        let toSinkhole = ContinuousClock.now - published
        #expect(
            rewritten.map(Self.sinkholed) == true, "cc.example was not sinkholed: \(String(describing: rewritten)); log:\n\(readLog(log))")
        let kinds = primary.outcomes.withLockedValue { $0 }
        #expect(kinds.contains(.ixfr), "the change went by IXFR: \(kinds)")
        let optedOut = try await askResolver(
            port: port, name: "cc.example", from: "127.0.0.2", timeout: .seconds(10), accept: Self.trueAnswer)
        #expect(optedOut.map(Self.trueAnswer) == true, "the opted-out client's answer: \(String(describing: optedOut))")

        // Another client, not exempted, is sinkholed: the exemption is by address, not a general miss.
        let other = try await askResolver(port: port, name: "cc.example", from: "127.0.0.3", timeout: .seconds(10), accept: Self.sinkholed)
        #expect(other.map(Self.sinkholed) == true, "127.0.0.3's answer: \(String(describing: other))")

        // Removed: the true answer again.
        let removal = try primary.change { policy in
            _ = policy.remove(trigger: .name(try! DNSName("cc.example.")), now: Int64(Date().timeIntervalSince1970))
        }
        let removed = ContinuousClock.now
        await Self.notify(removal, port: port, metrics: running.metrics)
        let restored = try await askResolver(port: port, name: "cc.example", timeout: .seconds(45), accept: Self.trueAnswer)
        let toRestore = ContinuousClock.now - removed
        #expect(restored.map(Self.trueAnswer) == true, "after removal: \(String(describing: restored))")
        print(
            "RPZ with BIND: publish → first sinkholed answer \(toSinkhole); removal → true answer \(toRestore); transfers: \(primary.outcomes.withLockedValue { $0 })"
        )
        await running.stop()
    }
}
