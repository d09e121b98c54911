import FlowCodec
import MamoriCore
import NIOCore
import Testing

/// Templates announced by spoofed exporters: the cache holds at most its limit, forgets the
/// template refreshed longest ago (counted), and a real exporter that keeps refreshing its
/// template still has its data decoded.
@Suite struct SpoofedTemplateFloodTests {
    static let now: Int64 = 1_764_547_200_000

    static func template(id: UInt16, domain: UInt32 = 0, exportTime: UInt32 = UInt32(now / 1000)) -> [UInt8] {
        var m = IPFIXMessageBuilder(exportTime: exportTime, domain: domain)
        m.template(id: id, fields: StandardTemplate.ipv4)
        return m.bytes()
    }

    @Test(
        "100,000 template ids from 10,000 spoofed exporters: at most the limit held, every eviction counted, a real exporter still decoded")
    func templateFlood() {
        var configuration = FlowDecoder.Configuration()
        configuration.maxTemplates = 5_000
        var decoder = FlowDecoder(configuration: configuration)
        let real = IPAddress("192.0.2.1")!
        var records: [FlowRecord] = []
        var g = SplitMix64(seed: 16)
        // The real exporter announces its template first, then refreshes it every 1,000 spoofed
        // announcements (real exporters re-send templates every few seconds).
        _ = decoder.decode(Self.template(id: 300), from: real, at: Self.now)
        var announced = 0
        for exporter in 0..<10_000 {
            let spoofed = IPAddress.v4(0x0A00_0000 | UInt32(exporter))
            for k in 0..<10 {
                _ = decoder.decode(
                    Self.template(id: UInt16(256 + k), domain: UInt32(g.next() % 4)), from: spoofed, at: Self.now + Int64(announced))
                announced += 1
                if announced % 1_000 == 0 { _ = decoder.decode(Self.template(id: 300), from: real, at: Self.now + Int64(announced)) }
            }
            #expect(decoder.templates.count <= 5_000)
        }
        #expect(announced == 100_000)
        #expect(decoder.templates.count == 5_000)
        #expect(decoder.templates.evictions == 100_000 + 1 - 5_000, "every template beyond the limit was forgotten and counted")
        // The real exporter's data still decodes with its (refreshed, so kept) template.
        var m = IPFIXMessageBuilder(exportTime: UInt32(Self.now / 1000))
        let flows = (0..<5).map { i -> FlowRecord in
            var g = SplitMix64(seed: UInt64(i))
            var r = StandardTemplate.random(ipv6: false, using: &g)
            r.startMilliseconds = Self.now - 1000
            r.endMilliseconds = Self.now
            return r
        }
        m.data(templateID: 300, records: flows.map(StandardTemplate.encode))
        let (report, decoded) = decoder.decode(m.bytes(), from: real, at: Self.now + 200_000)
        records += decoded
        #expect(report.templateMisses == 0)
        #expect(records.count == 5)
    }

    @Test("session eviction forgets the evicted sessions' templates without walking every template")
    func sessionEvictionIsBounded() {
        var configuration = FlowDecoder.Configuration()
        configuration.maxSessions = 1_000
        configuration.maxTemplates = 1_000_000
        var decoder = FlowDecoder(configuration: configuration)
        let clock = ContinuousClock()
        let started = clock.now
        let real = IPAddress("192.0.2.1")!
        for exporter in 0..<20_000 {
            _ = decoder.decode(Self.template(id: 256), from: .v4(0x0A00_0000 | UInt32(exporter)), at: Self.now + Int64(exporter))
            // A real exporter sending every 200 spoofed sessions keeps its session and template.
            if exporter % 200 == 0 { _ = decoder.decode(Self.template(id: 300), from: real, at: Self.now + Int64(exporter)) }
        }
        // At most the sessions kept hold templates: evicted sessions took theirs with them.
        #expect(decoder.templates.count <= 1_000)
        let key = TemplateKey(session: ExportSessionKey(exporter: real, observationDomain: 0, exportProtocol: .ipfix), templateID: 300)
        #expect(decoder.templates.lookup(key, now: Self.now + 20_000) != nil, "the real exporter's session was evicted by spoofed ones")
        #expect(clock.now - started < .seconds(60), "20,000 sessions through a table of 1,000 took \(clock.now - started)")
    }

    @Test("BoundedSet keeps at most its capacity, forgets the oldest first and counts it")
    func boundedSet() {
        var s = BoundedSet<Int>(capacity: 100)
        var inserted = 0
        for i in 0..<1_000 where s.insert(i) { inserted += 1 }
        #expect(inserted == 1_000)
        #expect(s.count == 100)
        #expect(s.evicted == 900)
        #expect(!s.contains(899) && s.contains(900) && s.contains(999))
        let again = s.insert(999)
        #expect(!again, "a member is not inserted twice")
        let forgotten = s.insert(0)
        #expect(forgotten, "a forgotten member is new again")
        #expect(!s.contains(900))
    }
}
