import Accounts
import DNSWire
import FlowCodec
import Foundation
import Hummingbird
import Logging
import MamoriCore
import MamoriTesting
import RPZ
import Testing

@testable import Server

/// A MISP feed as MISP publishes it (written by PyMISP's feed generator, served by a web server on
/// loopback: Python's http.server) is read into the detectors and the sinkhole: the events' to_ids
/// attributes become indicators of source misp:<name> with the feed's confidence, the event's info
/// as their name and its TLP; a changed event replaces its indicators, an event gone from the
/// manifest takes its own away; an unreadable manifest changes nothing.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct MISPFeedPullTests {
    static let now = Int64(Date().timeIntervalSince1970 * 1000)

    /// `misp-feed.py DIRECTORY STEP` with PyMISP from the test tools.
    static func writeFeed(_ directory: String, step: Int) async throws {
        let python = try ExternalPeer.pythonTool("python")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("misp-feed.py").path
        let result = try await python.runToExit([script, directory, String(step)], timeout: .seconds(60))
        #expect(result.status == 0, "misp-feed.py (PyMISP): \(result.stderr)")
    }

    @Test func aMISPFeedIsReadIntoTheDetectorsAndTheSinkhole() async throws {
        let python3 = try ExternalPeer.require("python3", debianPackage: "python3")
        let dir = try TemporaryDirectory()
        let feedDirectory = dir.path + "/feed"
        try await Self.writeFeed(feedDirectory, step: 1)
        let port = try freeTCPPort()
        let server = try python3.start(
            ["-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", feedDirectory], outputFile: dir.path + "/http.log")
        defer { server.stop() }
        try #require(try await waitForTCPListener(port: port, while: { server.isRunning }), "http.server did not listen")

        var configuration = ServerTests.configuration(dataDirectory: dir.path)
        var feed = MISPFeedSettings(name: "circl", url: "http://127.0.0.1:\(port)/")
        feed.confidence = 80
        feed.timeoutSeconds = 10
        configuration.sharing.mispFeeds = [feed]
        configuration.sharing.sinkhole = SharingSinkholeSettings(minimumConfidence: 70)
        var dependencies = ApplicationDependencies(logger: LogStore().logger(level: .critical), clock: TestClock(Self.now))
        dependencies.passwordHashing = BcryptPasswordHashing(cost: 4)
        let (_, services) = try buildApplication(configuration: configuration, dependencies: dependencies)
        let sharing = try #require(services.sharing)

        let first = await sharing.pull("circl")
        #expect(first.error == nil && first.objects == 2 && first.imported == 3 && first.held == 3, "\(first)")
        #expect(first.skipped["not_evaluable"] == 2, "the URL and the attribute without to_ids: \(first)")
        let held = sharing.heldIndicators()
        let c2 = try #require(held.first { $0.addresses == ["198.51.100.90/32"] }, "\(held.map(\.addresses))")
        #expect(c2.source == "misp:circl" && c2.name == "Emotet C2 servers" && c2.confidence == 80 && c2.ports == [8080])
        #expect(c2.tlp == "TLP:GREEN", "\(String(describing: c2.tlp))")
        let sinkholed = try #require(services.sinkhole?.entry(.name(try DNSName("c2.emotet.example."))), "confidence 80 ≥ 70")
        #expect(sinkholed.source == .indicator(feed: "misp:circl"))

        // A subscriber's device talking to the C&C becomes an infected-device finding, said to be shared by the feed.
        await services.detection.consume(
            SharingServiceTests.contacts(from: "198.18.0.5", to: "198.51.100.90", port: 8080, start: Self.now - 600_000))
        await services.detection.evaluate()
        let known = try await services.detection.store.findings(matching: FindingQuery(kind: .knownIndicator))
        let finding = try #require(known.first { $0.subject.address == "198.51.100.90" }, "\(known.map(\.summary))")
        #expect(finding.evidence.reasons.first?.contains("shared by misp:circl") == true, "\(finding.evidence.reasons)")

        // Unchanged: nothing fetched again.
        let again = await sharing.pull("circl")
        #expect(again.error == nil && again.objects == 0 && again.held == 3, "\(again)")

        // The Emotet event changes (its address replaced); the phishing event is withdrawn.
        try await Self.writeFeed(feedDirectory, step: 2)
        let second = await sharing.pull("circl")
        #expect(second.error == nil && second.objects == 1 && second.revoked == 1 && second.held == 2, "\(second)")
        let addresses = Set(sharing.heldIndicators().flatMap(\.addresses))
        #expect(addresses == ["198.51.100.92/32"], "\(addresses)")
        #expect(services.sinkhole?.entry(.name(try DNSName("c2.emotet.example."))) != nil, "the name is still offered")

        // A manifest that is not one: an error, and nothing changes.
        try Data("<html>maintenance</html>".utf8).write(to: URL(fileURLWithPath: feedDirectory + "/manifest.json"))
        let broken = await sharing.pull("circl")
        #expect(broken.error != nil && sharing.heldIndicators().count == 2, "\(broken)")

        // A restart holds what was read.
        let (_, restarted) = try buildApplication(configuration: configuration, dependencies: dependencies)
        #expect(try #require(restarted.sharing).heldIndicators().count == 2)
    }

    @Test("sharing.misp_feeds: parsed, with clear refusals")
    func configuration() throws {
        let parsed = try MamoriConfiguration.parse(
            yaml: """
                sharing:
                  misp_feeds:
                    - name: circl-osint
                      url: https://www.circl.lu/doc/misp/feed-osint
                      confidence: 60
                      max_events_per_pull: 100
                """)
        let feed = try #require(parsed.sharing.mispFeeds.first)
        #expect(feed.name == "circl-osint" && feed.url == "https://www.circl.lu/doc/misp/feed-osint" && feed.confidence == 60)
        #expect(feed.maximumEventsPerPull == 100 && feed.pullMinutes == 60)
        for (yaml, says) in [
            ("sharing:\n  misp_feeds:\n    - name: x\n", "needs a 'name' and a 'url'"),
            ("sharing:\n  misp_feeds:\n    - name: x\n      url: ftp://a.example/\n", "must be an http(s) URL"),
            ("sharing:\n  misp_feeds:\n    - name: x\n      url: https://a.example/\n      confidence: 101\n", "confidence"),
            (
                "sharing:\n  peers:\n    - name: x\n      api_root: https://a.example/api/\n      collection: c\n  misp_feeds:\n    - name: x\n      url: https://a.example/\n",
                "names another sharing peer"
            ),
        ] {
            do {
                _ = try MamoriConfiguration.parse(yaml: yaml)
                Issue.record("accepted: \(yaml)")
            } catch {
                #expect(error.description.contains(says), "\(error)")
            }
        }
    }
}
