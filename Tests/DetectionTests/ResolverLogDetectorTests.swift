import FlowCodec
import MamoriCore
import Testing

@testable import Detection

/// The detectors fed by the resolvers' dnstap log: lookups of sinkholed names (and connections to
/// the sinkhole), and domain generation algorithms.
@Suite struct ResolverLogDetectorTests {
    static let key = [UInt8](repeating: 7, count: 32)
    static let t0: Int64 = 1_796_000_000_000
    static let client = IPAddress("100.64.0.5")!

    static func answer(_ name: String, rcode: UInt8 = 0, at: Int64 = t0, sinkholed: Bool = false, client: IPAddress = client)
        -> ResolverObservation
    {
        ResolverObservation(client: client, name: name, responseCode: rcode, at: at, sinkholed: sinkholed)
    }

    @Test(
        "a device that asks for a sinkholed name, or connects to the sinkhole, becomes an infected-device finding of its own id, once per change"
    )
    func sinkholeContacts() throws {
        var tracker = SinkholeContactTracker(pseudonymKey: Self.key)
        tracker.lookup(Self.answer("www.example.com"))
        #expect(tracker.findings(now: Self.t0).isEmpty, "an answer that is not the sinkhole's is not evidence")
        tracker.lookup(Self.answer("cc.evil.example", sinkholed: true))
        tracker.lookup(Self.answer("cc.evil.example", at: Self.t0 + 60_000, sinkholed: true))
        tracker.connection(from: Self.client, name: "cc.evil.example", at: Self.t0 + 61_000)
        let f = try #require(tracker.findings(now: Self.t0 + 61_000).first)
        #expect(f.kind == .infectedDevice && f.family == "sinkhole")
        #expect(f.id == Finding.id(kind: .infectedDevice, subject: f.subject) + "-sinkhole", "never the flow detectors' id")
        #expect(f.subject.address == "100.64.0.5" && f.subject.type == .host)
        #expect(f.evidence.related == ["cc.evil.example"])
        #expect(f.evidence.features.contains { $0.name == .sinkholedLookups && $0.value == 2 })
        #expect(f.evidence.features.contains { $0.name == .sinkholeConnections && $0.value == 1 })
        #expect(f.evidence.features.contains { $0.name == .c2Contacts && $0.about == "dns:cc.evil.example" && $0.value == 3 })
        #expect(f.evidence.contacts?.first?.host.hasPrefix("h:") == true, "the host appears as a pseudonym")
        #expect(f.firstSeen == Self.t0 && f.lastSeen == Self.t0 + 61_000)
        #expect(tracker.findings(now: Self.t0 + 62_000).isEmpty, "nothing new, nothing reported")
        // Forgotten after the retention.
        #expect(tracker.findings(now: Self.t0 + 8 * 86_400_000).isEmpty)
        #expect(tracker.hosts.isEmpty)
    }

    @Test("the tracker's tables are bounded: clients beyond the cap are counted, names per client capped")
    func trackerBounds() {
        var tracker = SinkholeContactTracker(pseudonymKey: Self.key)
        for i in 0..<(SinkholeContactTracker.maximumHosts + 10) {
            let a = IPAddress.v6(high: 0x2001_0db8_0000_0000, low: UInt64(i))
            tracker.lookup(Self.answer("cc.evil.example", sinkholed: true, client: a))
        }
        #expect(tracker.hosts.count == SinkholeContactTracker.maximumHosts && tracker.droppedHosts == 10)
        var one = SinkholeContactTracker(pseudonymKey: Self.key)
        for i in 0..<100 { one.lookup(Self.answer("c\(i).evil.example", sinkholed: true)) }
        #expect(one.hosts[Self.client]?.names.count == SinkholeContactTracker.maximumNames)
        #expect(one.hosts[Self.client]?.lookups == 100)
    }

    /// Names of the shape DGA families produce (random letters, letters and digits, consonant
    /// runs), and names people and services use, including long and odd ones.
    static let generated = [
        "vpjrmfhkqz.com", "qvyaxnknlmkxf.ru", "kqbpmmwqfvfyb.net", "x7kqpz3mvtw.info", "a1b2c3d4e5f6g7.biz", "wxkdhjqcvbnm.org",
        "zrtxqlmnbvcd.cc", "pqowmznxbcv.top", "h3k9x2m7q1z8.xyz", "lkjhgfdsqwrt.su",
    ]
    static let ordinary = [
        "shopping.example.com", "mailserver.isp.example", "wikipedia.org", "stackoverflow.com", "googleusercontent.com",
        "microsoftonline.com", "amazonaws.com", "cloudfront.net", "facebook.com", "yahoo.co.jp", "rakuten.co.jp", "nicovideo.jp",
        "weathernews.jp", "kakaku.com", "printerconfig.example.net", "tsutaya.co.jp",
    ]

    @Test("machine-made names look generated; the names people and services use do not")
    func generatedNames() {
        for name in Self.generated { #expect(DGADetector.looksGenerated(name), "\(name)") }
        for name in Self.ordinary { #expect(!DGADetector.looksGenerated(name), "\(name)") }
    }

    @Test(
        "a burst of NXDOMAIN answers to generated names is a DGA finding; typos, single-label probes, local names and old answers are not")
    func dga() throws {
        var detector = DGADetector(pseudonymKey: Self.key)
        // A browser's NXDOMAIN-hijack probes (single random labels), local names, and typos.
        for i in 0..<30 { detector.observe(Self.answer("qzkxjvbnwl\(i)", rcode: 3)) }
        for i in 0..<30 { detector.observe(Self.answer("printer\(i).lan", rcode: 3)) }
        for name in Self.ordinary { detector.observe(Self.answer("w" + name, rcode: 3)) }
        #expect(detector.findings(now: Self.t0).isEmpty)

        // A bot: 40 generated names, all NXDOMAIN, within minutes.
        var rng = SplitMix(seed: 42)
        for i in 0..<40 {
            let label = String((0..<12).map { _ in Array("abcdefghijklmnopqrstuvwxyz0123456789")[Int(rng.next() % 36)] })
            detector.observe(Self.answer("\(label).com", rcode: 3, at: Self.t0 + Int64(i) * 5_000, client: IPAddress("100.64.0.9")!))
            // NOERROR answers are not counted.
            detector.observe(Self.answer("\(label).net", rcode: 0, at: Self.t0, client: IPAddress("100.64.0.9")!))
        }
        let findings = detector.findings(now: Self.t0 + 200_000)
        let f = try #require(findings.first)
        #expect(findings.count == 1 && f.subject.address == "100.64.0.9")
        #expect(f.family == "dga" && f.id.hasSuffix("-dga") && f.kind == .infectedDevice)
        #expect(f.evidence.features.contains { $0.name == .generatedNames && $0.value >= 30 })
        #expect(f.evidence.related.count == 10)
        #expect(detector.findings(now: Self.t0 + 201_000).isEmpty, "not reported again without more names")
        // The window passes: the client is forgotten.
        #expect(detector.findings(now: Self.t0 + 2 * 3_600_000).isEmpty && detector.hosts.isEmpty)
    }

    @Test("hostile input: huge and odd names, a flood of clients and of names per client stay within bounds")
    func dgaBounds() {
        var detector = DGADetector(pseudonymKey: Self.key)
        detector.observe(Self.answer(String(repeating: "a.", count: 200), rcode: 3))
        detector.observe(Self.answer("", rcode: 3))
        detector.observe(Self.answer(".", rcode: 3))
        detector.observe(Self.answer("..x..", rcode: 3))
        for i in 0..<(DGADetector.maximumNamesPerHost + 100) {
            detector.observe(Self.answer("n\(i)x7kqpz3m.example", rcode: 3, at: Self.t0 + Int64(i)))
        }
        #expect(detector.hosts[Self.client]?.names.count == DGADetector.maximumNamesPerHost)
        for i in 0..<(DGADetector.maximumHosts + 5) {
            detector.observe(Self.answer("zz9x7kqpz3m.example", rcode: 3, client: .v6(high: 0x2001_0db8_0000_0000, low: UInt64(i))))
        }
        #expect(detector.hosts.count == DGADetector.maximumHosts && detector.droppedHosts >= 5)
    }
}

/// A small deterministic generator for the tests' random names.
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
