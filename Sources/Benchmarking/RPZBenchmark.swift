import DNSWire
import Dnstap
import FlowCodec
import Foundation
import MamoriCore
import RPZ

/// The DNS sinkhole at scale: building a policy of many entries and publishing its RPZ zones,
/// transferring the whole sinkhole zone (AXFR), publishing a batch of changes and transferring
/// it (IXFR), and reading resolvers' dnstap streams.
///
/// The entries are a mix of name triggers (random command-and-control-like names: algorithmic
/// labels under common and cheap TLDs, dynamic-DNS names, service hosts under random domains) and
/// address triggers (IPv4 hosts and /24s, IPv6 hosts), from a fixed seed. Everything runs on the
/// calling thread through the product's own components (`SinkholePolicy`, `RPZPublication`,
/// `ZoneTransferResponder`, `FrameStreamDecoder`, `ResolverEvent.decode`).
public struct RPZBenchmark: Sendable {
    /// Policy entries to build.
    public var entries: Int
    /// Changes per IXFR batch: half removals of present entries, half new entries.
    public var changes: Int
    /// Batches of changes published (each a new serial); the figures are the median.
    public var batches: Int
    /// Also publish each batch the old way (the whole zone re-rendered and diffed), side by side.
    public var fullRender: Bool
    /// Seconds of dnstap decoding.
    public var dnstapSeconds: Double

    public init(entries: Int, changes: Int = 100, batches: Int = 3, fullRender: Bool = false, dnstapSeconds: Double = 3) {
        self.entries = entries
        self.changes = changes
        self.batches = batches
        self.fullRender = fullRender
        self.dnstapSeconds = dnstapSeconds
    }

    /// Wall and CPU seconds of one step.
    public struct Timing: Sendable {
        public var wall: Double
        public var cpu: Double

        var json: String { "{\"wall_seconds\":\(Self.format(wall)),\"cpu_seconds\":\(Self.format(cpu))}" }
        var text: String { "\(Self.milliseconds(wall)) wall, \(Self.milliseconds(cpu)) CPU" }

        static func format(_ seconds: Double) -> String { String(format: "%.6f", seconds) }
        static func milliseconds(_ seconds: Double) -> String {
            seconds >= 10 ? String(format: "%.1f s", seconds) : String(format: "%.1f ms", seconds * 1000)
        }

        /// The median of timings, by wall time.
        static func median(_ timings: [Timing]) -> Timing {
            let sorted = timings.sorted { $0.wall < $1.wall }
            return sorted.isEmpty ? Timing(wall: 0, cpu: 0) : sorted[sorted.count / 2]
        }
    }

    /// A transfer's answer.
    public struct Transfer: Sendable {
        public var timing: Timing
        public var messages: Int
        public var records: Int
        public var bytes: Int

        var json: String {
            "{\"timing\":\(timing.json),\"messages\":\(messages),\"records\":\(records),\"bytes\":\(bytes)}"
        }
    }

    /// The figures.
    public struct Result: Sendable {
        public var entries: Int
        public var nameEntries: Int
        public var addressEntries: Int
        /// Records of the sinkhole zone (NS and policy records, the SOA not counted).
        public var zoneRecords: Int
        /// Adding every entry to the policy.
        public var buildPolicy: Timing
        /// Rendering both zones the first time (`RPZPublication.init`).
        public var firstPublish: Timing
        public var axfr: Transfer
        /// VmRSS before and after the AXFR, and VmHWM (the peak) after it, bytes.
        public var residentBeforeAXFR: Int
        public var residentAfterAXFR: Int
        public var peakAfterAXFR: Int
        public var changes: Int
        public var batches: Int
        /// Applying a batch to the policy (median).
        public var applyBatch: Timing
        /// Publishing a batch (median): `RPZPublication.publish`.
        public var publishBatch: Timing
        /// Publishing a batch the old way (median), when measured: the whole zone re-rendered and diffed.
        public var fullRenderPublishBatch: Timing?
        /// The IXFR from the serial before the last batch.
        public var ixfr: Transfer
        public var dnstapFrames: Int
        public var dnstapCPUSeconds: Double
        public var dnstapBytes: Int
        public var peakResidentBytes: Int

        public var dnstapRate: Double { Double(dnstapFrames) / max(dnstapCPUSeconds, 1e-9) }

        /// One JSON object.
        public var json: String {
            let full = fullRenderPublishBatch.map { ",\"full_render_publish_batch\":\($0.json)" } ?? ""
            return
                "{\"benchmark\":\"rpz\",\"entries\":\(entries),\"name_entries\":\(nameEntries),\"address_entries\":\(addressEntries),\"zone_records\":\(zoneRecords),\"build_policy\":\(buildPolicy.json),\"first_publish\":\(firstPublish.json),\"axfr\":\(axfr.json),\"resident_bytes_before_axfr\":\(residentBeforeAXFR),\"resident_bytes_after_axfr\":\(residentAfterAXFR),\"peak_resident_bytes_after_axfr\":\(peakAfterAXFR),\"changes\":\(changes),\"batches\":\(batches),\"apply_batch\":\(applyBatch.json),\"publish_batch\":\(publishBatch.json)\(full),\"ixfr\":\(ixfr.json),\"dnstap_frames\":\(dnstapFrames),\"dnstap_cpu_seconds\":\(Timing.format(dnstapCPUSeconds)),\"dnstap_frames_per_cpu_second\":\(Int(dnstapRate)),\"dnstap_bytes\":\(dnstapBytes),\"peak_resident_bytes\":\(peakResidentBytes)}"
        }

        /// Lines for a person.
        public var text: String {
            func mib(_ bytes: Int) -> String { String(format: "%.0f MiB", Double(bytes) / 1_048_576) }
            var lines = [
                "entries:                 \(entries) (\(nameEntries) names, \(addressEntries) addresses); sinkhole zone \(zoneRecords) records",
                "build the policy:        \(buildPolicy.text)",
                "first publish (render):  \(firstPublish.text)",
                "AXFR of the zone:        \(axfr.timing.text); \(axfr.messages) messages, \(axfr.records) records, \(mib(axfr.bytes))",
                "memory around the AXFR:  VmRSS \(mib(residentBeforeAXFR)) before, \(mib(residentAfterAXFR)) after; VmHWM \(mib(peakAfterAXFR))",
                "apply \(changes) changes:       \(applyBatch.text) (median of \(batches) batches)",
                "publish the batch:       \(publishBatch.text) (median of \(batches))",
            ]
            if let full = fullRenderPublishBatch {
                lines.append("  old path (re-render):  \(full.text) (median of \(batches))")
            }
            lines += [
                "IXFR of the last batch:  \(ixfr.timing.text); \(ixfr.messages) message(s), \(ixfr.records) records, \(ixfr.bytes) bytes",
                "dnstap ingestion:        \(String(format: "%.0f", dnstapRate / 1000)) k frames per CPU second (\(dnstapFrames) frames, \(mib(dnstapBytes)) in \(String(format: "%.1f", dnstapCPUSeconds)) CPU s)",
                "peak resident:           \(mib(peakResidentBytes))",
            ]
            return lines.joined(separator: "\n")
        }
    }

    static let apex = name("rpz.mamori.")
    static let exemptionApex = name("exempt.rpz.mamori.")
    static let sinkholeName = name("sinkhole.mamori.example.")
    static let secondary = IPAddress("192.0.2.53")!
    static let now: Int64 = 1_795_000_000

    static func name(_ text: String) -> DNSName {
        do { return try DNSName(text) } catch { preconditionFailure("bad constant name \(text)") }
    }

    static var zoneConfiguration: RPZZoneConfiguration {
        RPZZoneConfiguration(
            apex: apex, exemptionApex: exemptionApex, sinkholeName: sinkholeName, primaryName: name("ns1.mamori.example."),
            responsibleName: name("hostmaster.mamori.example."))
    }

    /// Runs every step on the calling thread; `progress` gets a line before each step.
    public func run(progress: ((String) -> Void)? = nil) throws -> Result {
        var rng = SplitMix64(seed: 20)
        progress?("generating \(entries) entries")
        var generated: [SinkholeEntry] = []
        generated.reserveCapacity(entries)
        for _ in 0..<entries { generated.append(Self.randomEntry(&rng)) }
        let configuration = SinkholePolicy.Configuration(
            zoneApex: Self.apex, exemptionApex: Self.exemptionApex, sinkholeName: Self.sinkholeName,
            maximumEntries: entries + changes * batches, protectedNames: [Self.name("google.com"), Self.name("mamori.example")],
            protectedPrefixes: [IPPrefix("192.0.2.0/24")!])

        progress?("building the policy")
        var policy = SinkholePolicy(configuration: configuration)
        let buildPolicy = Self.measure {
            for entry in generated { _ = policy.add(entry, now: Self.now) }
        }
        generated = []
        let names = policy.entries.keys.reduce(0) { n, t in if case .name = t { n + 1 } else { n } }

        progress?("rendering the zones")
        var first: RPZPublication?
        let firstPublish = Self.measure {
            first = RPZPublication(policy: policy, configuration: Self.zoneConfiguration, initialSerial: DNSSerial(1_795_000_000))
        }
        guard var publication = first else { throw BenchmarkError("no publication") }
        first = nil
        var responder = ZoneTransferResponder(
            zones: publication.zones, secondaries: [SecondaryPolicy(prefix: IPPrefix("192.0.2.0/24")!, tsigKey: nil)])

        progress?("AXFR of \(publication.sinkhole.zone.records.count) records")
        let residentBefore = BenchMeasure.statusBytes("VmRSS")
        let axfrRequest = try Self.request(.AXFR, serial: nil)
        var axfrOutcome: TransferOutcome?
        let axfrTiming = Self.measure {
            axfrOutcome = responder.respond(to: axfrRequest, from: Self.secondary, now: Self.now)
        }
        guard let axfrOutcome, axfrOutcome.kind == .axfr else {
            throw BenchmarkError("the AXFR failed: \(String(describing: axfrOutcome?.kind))")
        }
        let axfr = Transfer(
            timing: axfrTiming, messages: axfrOutcome.messages.count, records: axfrOutcome.records,
            bytes: axfrOutcome.messages.reduce(0) { $0 + $1.count })
        let residentAfter = BenchMeasure.statusBytes("VmRSS")
        let peakAfter = BenchMeasure.statusBytes("VmHWM")
        let zoneRecords = publication.sinkhole.zone.records.count

        var applyTimings: [Timing] = []
        var publishTimings: [Timing] = []
        var fullTimings: [Timing] = []
        var ixfr: Transfer?
        for batch in 1...max(1, batches) {
            progress?("batch \(batch): \(changes) changes")
            let operations = Self.batch(of: changes, in: policy, &rng)
            let before = publication.sinkhole
            let applyBatch = Self.measure { _ = policy.apply(operations, now: Self.now) }
            let publishBatch = Self.measure { publication.publish(policy) }
            applyTimings.append(applyBatch)
            publishTimings.append(publishBatch)
            if fullRender {
                progress?("batch \(batch): the old path, the whole zone re-rendered")
                var old = before
                let oldPath = Self.measure {
                    old.update(
                        to: RPZRenderer.sinkholeZone(policy, configuration: Self.zoneConfiguration, serial: old.zone.serial))
                }
                fullTimings.append(oldPath)
                guard old.zone == publication.sinkhole.zone, old.journal.last == publication.sinkhole.journal.last else {
                    throw BenchmarkError("the incremental zone differs from the re-rendered one after batch \(batch)")
                }
            }
            responder.update(publication.sinkhole)
            let ixfrRequest = try Self.request(.IXFR, serial: before.zone.serial)
            var ixfrOutcome: TransferOutcome?
            let ixfrTiming = Self.measure {
                ixfrOutcome = responder.respond(to: ixfrRequest, from: Self.secondary, now: Self.now)
            }
            guard let ixfrOutcome, ixfrOutcome.kind == .ixfr else {
                throw BenchmarkError("the IXFR failed: \(String(describing: ixfrOutcome?.kind))")
            }
            ixfr = Transfer(
                timing: ixfrTiming, messages: ixfrOutcome.messages.count, records: ixfrOutcome.records,
                bytes: ixfrOutcome.messages.reduce(0) { $0 + $1.count })
        }
        guard let ixfr else { throw BenchmarkError("no IXFR") }

        progress?("dnstap decoding for \(dnstapSeconds) s")
        let (frames, cpu, bytes) = try Self.dnstap(seconds: dnstapSeconds, &rng)

        return Result(
            entries: policy.count, nameEntries: names, addressEntries: policy.count - names, zoneRecords: zoneRecords,
            buildPolicy: buildPolicy, firstPublish: firstPublish, axfr: axfr, residentBeforeAXFR: residentBefore,
            residentAfterAXFR: residentAfter, peakAfterAXFR: peakAfter, changes: changes, batches: max(1, batches),
            applyBatch: Timing.median(applyTimings), publishBatch: Timing.median(publishTimings),
            fullRenderPublishBatch: fullRender ? Timing.median(fullTimings) : nil, ixfr: ixfr, dnstapFrames: frames,
            dnstapCPUSeconds: cpu, dnstapBytes: bytes, peakResidentBytes: BenchMeasure.statusBytes("VmHWM"))
    }

    /// Wall and CPU time of `body` on the calling thread.
    static func measure(_ body: () throws -> Void) rethrows -> Timing {
        let wall0 = DispatchTime.now().uptimeNanoseconds
        let cpu0 = BenchMeasure.threadCPUSeconds()
        try body()
        let cpu = BenchMeasure.threadCPUSeconds() - cpu0
        return Timing(wall: Double(DispatchTime.now().uptimeNanoseconds - wall0) / 1e9, cpu: cpu)
    }

    /// An AXFR or IXFR request for the sinkhole zone (IXFR with the client's serial).
    static func request(_ type: DNSType, serial: DNSSerial?) throws -> [UInt8] {
        var authorities: [DNSRecord] = []
        if let serial {
            let soa = DNSSOA(mname: apex, rname: apex, serial: serial, refresh: 0, retry: 0, expire: 0, minimum: 0)
            authorities.append(DNSRecord(name: apex, type: .SOA, ttl: 0, rdata: .soa(soa)))
        }
        return try DNSMessage(
            header: DNSHeader(id: 4242), questions: [DNSWire.DNSQuestion(name: apex, type: type)], authorities: authorities
        ).serialize()
    }

    // MARK: The entries

    static let tlds = ["com", "net", "org", "info", "biz", "ru", "cn", "top", "xyz", "online", "site", "club", "pw", "su", "cc", "ws"]
    static let dynamicDNS = ["duckdns.org", "no-ip.biz", "ddns.net", "hopto.org", "dyndns.info", "zapto.org"]
    static let services = ["api", "update", "cdn", "gate", "panel", "c2", "mail", "img", "static", "ns1"]
    static let feeds: [SinkholeSource] = [
        .indicator(feed: "abuse.ch-feodo"), .indicator(feed: "urlhaus"), .indicator(feed: "spamhaus-dbl"), .finding(id: "f-20"),
        .learnedName(findingID: "f-21"), .analyst(operator: "noc"),
    ]

    /// An algorithmic label: `length` random letters and digits, mostly letters.
    static func label(_ length: Int, _ rng: inout SplitMix64) -> [UInt8] {
        let letters = Array("abcdefghijklmnopqrstuvwxyz".utf8)
        let digits = Array("0123456789".utf8)
        return (0..<length).map { _ in
            rng.next() % 8 == 0 ? digits[Int(rng.next() % 10)] : letters[Int(rng.next() % 26)]
        }
    }

    /// A command-and-control-like name: a DGA domain, a dynamic-DNS host, or a service host under a random domain.
    static func randomName(_ rng: inout SplitMix64) -> DNSName {
        let kind = rng.next() % 10
        let tld = tlds[Int(rng.next() % UInt64(tlds.count))]
        var text: String
        switch kind {
        case 0..<6: text = String(decoding: label(8 + Int(rng.next() % 12), &rng), as: UTF8.self) + "." + tld
        case 6..<8:
            text =
                String(decoding: label(6 + Int(rng.next() % 10), &rng), as: UTF8.self) + "."
                + dynamicDNS[Int(rng.next() % UInt64(dynamicDNS.count))]
        default:
            text =
                services[Int(rng.next() % UInt64(services.count))] + "."
                + String(decoding: label(6 + Int(rng.next() % 8), &rng), as: UTF8.self)
                + "." + tld
        }
        return name(text)
    }

    /// A public-looking IPv4 address outside 192.0.2.0/24 (protected here).
    static func randomIPv4(_ rng: inout SplitMix64) -> UInt32 {
        while true {
            let a = UInt32(truncatingIfNeeded: rng.next())
            let first = a >> 24
            if first >= 1 && first < 224 && first != 10 && first != 127 && a >> 8 != 0xC0_0002 { return a }
        }
    }

    /// One entry: 80 % names, 20 % addresses (IPv4 hosts, some /24s, some IPv6 hosts).
    static func randomEntry(_ rng: inout SplitMix64) -> SinkholeEntry {
        let trigger: SinkholeTrigger
        let r = rng.next() % 100
        if r < 80 {
            trigger = .name(randomName(&rng))
        } else if r < 94 {
            trigger = .address(IPPrefix(address: .v4(randomIPv4(&rng)), length: 32)!)
        } else if r < 97 {
            trigger = .address(IPPrefix(address: .v4(randomIPv4(&rng)), length: 24)!)
        } else {
            let high = 0x2A00_0000_0000_0000 | (rng.next() >> 8)
            trigger = .address(IPPrefix(address: .v6(high: high, low: rng.next() % 65_536), length: 128)!)
        }
        let a = rng.next() % 100
        let action: SinkholeAction = a < 90 ? .sinkhole : (a < 98 ? .nxdomain : .passthru)
        let expires: Int64? = rng.next() % 10 < 7 ? now + 86_400 * Int64(7 + rng.next() % 24) : nil
        return SinkholeEntry(
            trigger: trigger, action: action, source: feeds[Int(rng.next() % UInt64(feeds.count))], reason: "bench",
            addedAt: now, expiresAt: expires, ttl: 300)
    }

    /// A batch: `count / 2` removals of present entries, the rest new entries.
    static func batch(of count: Int, in policy: SinkholePolicy, _ rng: inout SplitMix64) -> [SinkholePolicy.Operation] {
        var operations: [SinkholePolicy.Operation] = []
        var removed = Set<SinkholeTrigger>()
        // Present triggers, picked by random offsets into the dictionary (O(count) each, no copy of the keys).
        let keys = policy.entries.keys
        while removed.count < count / 2 && removed.count < policy.count {
            let offset = Int(rng.next() % UInt64(policy.count))
            let trigger = keys[keys.index(keys.startIndex, offsetBy: offset)]
            if removed.insert(trigger).inserted { operations.append(.remove(trigger)) }
        }
        while operations.count < count {
            let entry = randomEntry(&rng)
            if policy.entries[entry.trigger] == nil && !removed.contains(entry.trigger) { operations.append(.add(entry)) }
        }
        return operations
    }

    // MARK: dnstap

    /// Decodes a Frame Streams stream of CLIENT_QUERY and CLIENT_RESPONSE frames for `seconds` of
    /// CPU time: the frames, the CPU seconds and the bytes read.
    static func dnstap(seconds: Double, _ rng: inout SplitMix64) throws -> (frames: Int, cpu: Double, bytes: Int) {
        var stream: [UInt8] = []
        var expected = 0
        for k in 0..<20_000 {
            let qname = randomName(&rng)
            let type: DNSType = rng.next() % 4 == 0 ? .AAAA : .A
            let id = UInt16(truncatingIfNeeded: rng.next())
            let client = IPAddress.v4(0x6440_0000 | UInt32(truncatingIfNeeded: rng.next() % 4_000_000))
            let port = UInt16(1024 + rng.next() % 60_000)
            let t = (now + Int64(k / 100)) * 1000 + Int64(rng.next() % 1000)
            let question = DNSWire.DNSQuestion(name: qname, type: type)
            let query = try DNSMessageBuilder(header: DNSHeader(id: id, rd: true), questions: [question]).finish()
            let nx = rng.next() % 10 == 0
            var builder = try DNSMessageBuilder(
                header: DNSHeader(id: id, qr: true, rd: true, ra: true, rcode: nx ? .nxDomain : .noError), questions: [question])
            if !nx {
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    let rdata: DNSRData =
                        type == .A
                        ? .a(IPAddress.v4(randomIPv4(&rng)).bytes)
                        : .aaaa(IPAddress.v6(high: 0x2A00_0000_0000_0000 | (rng.next() >> 8), low: rng.next()).bytes)
                    _ = try builder.append(DNSRecord(name: qname, type: type, ttl: 300, rdata: rdata))
                }
            }
            let response = builder.finish()
            let resolver = IPAddress("100.127.255.53")!
            let queryEvent = ResolverEvent(
                type: .clientQuery, queryTimeMilliseconds: t, queryAddress: client, queryPort: port, responseAddress: resolver,
                identity: "resolver-1")
            var responseEvent = queryEvent
            responseEvent.type = .clientResponse
            responseEvent.responseTimeMilliseconds = t + 12
            for payload in [
                try queryEvent.encodedPayload(queryMessage: query),
                try responseEvent.encodedPayload(queryMessage: query, responseMessage: response),
            ] {
                let n = UInt32(payload.count)
                stream += [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)]
                stream += payload
                expected += 1
            }
        }
        var frames = 0
        var bytes = 0
        let chunk = 64 * 1024
        let cpu0 = BenchMeasure.threadCPUSeconds()
        var cpu = 0.0
        while cpu < seconds {
            var decoder = FrameStreamDecoder()
            var start = 0
            var decoded = 0
            while start < stream.count {
                let end = min(stream.count, start + chunk)
                decoder.append(stream[start..<end])
                start = end
                while let frame = try decoder.next() {
                    guard case .data(let payload) = frame, let event = try ResolverEvent.decode(payload), event.question != nil else {
                        throw BenchmarkError("a dnstap frame did not decode to an event with a question")
                    }
                    decoded += 1
                }
            }
            guard decoded == expected else { throw BenchmarkError("\(decoded) dnstap frames decoded of \(expected)") }
            frames += decoded
            bytes += stream.count
            cpu = BenchMeasure.threadCPUSeconds() - cpu0
        }
        return (frames, cpu, bytes)
    }
}
