import Attribution
import FlowCodec
import Foundation
import IdentityCodec
import MamoriCore

/// Attribution lookups per core with millions of mapping records loaded, and memory per record.
///
/// Builds an index of about ``records`` claims the way a large carrier's feeds would fill it: per
/// subscriber line a closed earlier RADIUS session on another address, the current session
/// (Framed-IP-Address in 100.64.0.0/10 and a Delegated-IPv6-Prefix /56), and a CGNAT port block
/// on a public address (syslog allocation). Then it answers random lookups on the calling thread
/// — public address + port behind the CGNAT, IPv6 addresses inside delegated prefixes, inside
/// addresses, in equal shares, every answer checked — one at a time and through the batch API,
/// 1,024 at a time, in ``rounds`` interleaved passes.
public struct AttributionBenchmark: Sendable {
    /// Mapping records (claims) to load; four per subscriber line, at most 16,000,000 (the
    /// 100.64.0.0/10 inside pool holds 4 M lines).
    public var records: Int
    /// CPU seconds of lookups per measurement (mixed; each kind gets a third).
    public var seconds: Double
    /// Passes each measurement is split into; the median is reported.
    public var rounds: Int

    public init(records: Int, seconds: Double, rounds: Int) {
        self.records = records
        self.seconds = seconds
        self.rounds = rounds
    }

    /// The figures.
    public struct Result: Sendable {
        public var claims: Int
        public var subscribers: Int
        public var openSessions: Int
        public var buildSeconds: Double
        /// Mean probes per key in the holding and translation tables, and the translation chains.
        public var probes: (holding: Double, translation: Double, translationChains: Int)
        /// Growth of the resident set while building, bytes.
        public var residentGrowth: Int
        public var rounds: Int
        /// Lookups per CPU-second, one per round: mixed, CGNAT, IPv6, IPv4.
        public var singleRuns: [[Double]]
        /// The same through the batch API.
        public var batchedRuns: [[Double]]

        /// One JSON object.
        public var json: String {
            let rate = median(singleRuns[0])
            let kinds = singleRuns[1...].map(median)
            let batchedRate = median(batchedRuns[0])
            let batchedKinds = batchedRuns[1...].map(median)
            return
                "{\"benchmark\":\"attribution\",\"claims\":\(claims),\"subscribers\":\(subscribers),\"lookups_per_cpu_second\":\(Int(rate)),\"ns_per_lookup\":\(String(format: "%.1f", 1e9 / rate)),\"resident_bytes_per_claim\":\(Int(perClaim)),\"build_seconds\":\(String(format: "%.1f", buildSeconds)),\"cgnat_lookups_per_cpu_second\":\(Int(kinds[0])),\"ipv6_lookups_per_cpu_second\":\(Int(kinds[1])),\"ipv4_lookups_per_cpu_second\":\(Int(kinds[2])),\"batched_lookups_per_cpu_second\":\(Int(batchedRate)),\"batched_cgnat_lookups_per_cpu_second\":\(Int(batchedKinds[0])),\"batched_ipv6_lookups_per_cpu_second\":\(Int(batchedKinds[1])),\"batched_ipv4_lookups_per_cpu_second\":\(Int(batchedKinds[2]))}"
        }

        /// Lines for a person.
        public var text: String {
            let rate = median(singleRuns[0])
            let kinds = singleRuns[1...].map(median)
            let batchedRate = median(batchedRuns[0])
            let batchedKinds = batchedRuns[1...].map(median)
            var lines: [String] = []
            lines.append(
                "claims loaded:        \(claims) (\(subscribers) subscribers, \(openSessions) open sessions), built in \(String(format: "%.1f", buildSeconds)) s"
            )
            lines.append(
                "table probes per key: holding \(String(format: "%.2f", probes.holding)), translation \(String(format: "%.2f", probes.translation)) (\(probes.translationChains) address × port-bucket chains)"
            )
            lines.append(
                "memory:               \(String(format: "%.0f", perClaim)) bytes per claim resident (\(String(format: "%.2f", Double(residentGrowth) / 1_073_741_824)) GiB)"
            )
            if rounds > 1 {
                lines.append("rates:                median of \(rounds) rounds [lowest–highest], single and batched interleaved")
            }
            lines.append(
                "lookups per core:     \(String(format: "%.2f", rate / 1e6)) M/s\(spread(singleRuns[0])) (\(String(format: "%.0f", 1e9 / rate)) ns each; CGNAT port, IPv6 prefix, inside address in equal shares)"
            )
            lines.append(
                "  by kind:            CGNAT address+port \(String(format: "%.2f", kinds[0] / 1e6)) M/s\(spread(singleRuns[1])), IPv6 in a /56 \(String(format: "%.2f", kinds[1] / 1e6)) M/s\(spread(singleRuns[2])), IPv4 address \(String(format: "%.2f", kinds[2] / 1e6)) M/s\(spread(singleRuns[3]))"
            )
            lines.append(
                "batched, per core:    \(String(format: "%.2f", batchedRate / 1e6)) M/s\(spread(batchedRuns[0])) (\(String(format: "%.0f", 1e9 / batchedRate)) ns each; resolve(_:into:) over 1,024 queries at a time, same mix)"
            )
            lines.append(
                "  by kind:            CGNAT address+port \(String(format: "%.2f", batchedKinds[0] / 1e6)) M/s\(spread(batchedRuns[1])), IPv6 in a /56 \(String(format: "%.2f", batchedKinds[1] / 1e6)) M/s\(spread(batchedRuns[2])), IPv4 address \(String(format: "%.2f", batchedKinds[2] / 1e6)) M/s\(spread(batchedRuns[3]))"
            )
            return lines.joined(separator: "\n")
        }

        /// Resident bytes per claim.
        var perClaim: Double { Double(max(0, residentGrowth)) / Double(max(1, claims)) }

        func median(_ v: [Double]) -> Double {
            let s = v.sorted()
            return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        }

        func spread(_ v: [Double]) -> String {
            rounds == 1 ? "" : " [\(String(format: "%.2f", v.min()! / 1e6))–\(String(format: "%.2f", v.max()! / 1e6))]"
        }
    }

    /// Builds the index, checks every answer, measures. Throws a ``BenchmarkError`` on a wrong
    /// answer or too many records.
    public func run() throws -> Result {
        let lines = max(1, records / 4)
        guard lines <= 4_000_000 else { throw BenchmarkError("at most 16,000,000 records (the 100.64.0.0/10 inside pool holds 4 M lines)") }
        let t0: Int64 = 1_795_000_000_000
        let nas = IPAddress.v4(0xC613_FC01)
        let rssBefore = BenchMeasure.residentBytes()
        let buildStart = Date()
        var index = AttributionIndex()
        // Public addresses: 63 blocks of 1008 ports from port 1024 on each (the simulator's layout).
        let blocksPerAddress = 63
        for i in 0..<lines {
            let inside = IPAddress.v4(0x6440_0000 + UInt32(i))
            let earlier = IPAddress.v4(0x6440_0000 + UInt32((i + lines / 2) % lines))
            let user = "cust-" + String(i)
            var old = AccountingRecord(status: .start, sessionID: "o\(i)", eventTime: (t0 - 86_400_000) / 1000)
            old.userName = user
            old.framedIPAddress = earlier
            index.apply(old, from: nas, receivedAt: t0 - 86_400_000)
            old.status = .stop
            old.eventTime = (t0 - 43_200_000) / 1000
            old.sessionTime = 43_200
            index.apply(old, from: nas, receivedAt: t0 - 43_200_000)
            var now = AccountingRecord(status: .start, sessionID: "s\(i)", eventTime: (t0 - 3_600_000) / 1000)
            now.userName = user
            now.framedIPAddress = inside
            now.delegatedIPv6Prefixes = [IPPrefix(address: .v6(high: 0x2001_0DB8_0000_0000 | UInt64(i) << 8, low: 0), length: 56)!]
            index.apply(now, from: nas, receivedAt: t0 - 3_600_000)
            let first = UInt16(1024 + (i % blocksPerAddress) * 1008)
            index.apply(
                NATPortBlockEvent(
                    kind: .allocate, timeMilliseconds: t0 - 3_600_000, host: "cgnat1", insideAddress: inside,
                    outsideAddress: .v4(0xC612_0000 + UInt32(i / blocksPerAddress)), firstPort: first, lastPort: first + 1007,
                    allocatedAt: 0))
        }
        let buildSeconds = Date().timeIntervalSince(buildStart)
        let rssAfter = BenchMeasure.residentBytes()
        let claims = index.count

        // Queries prepared up front so the loop measures lookups only.
        var rng = SplitMix64(seed: 7)
        var queries: [AttributionQuery] = []
        var expected: [String] = []
        queries.reserveCapacity(1 << 16)
        for q in 0..<(1 << 16) {
            let i = Int(rng.next() % UInt64(lines))
            let at = t0 - Int64(rng.next() % 3_000_000)
            switch q % 3 {
            case 0:
                let port = UInt16(1024 + (i % blocksPerAddress) * 1008 + Int(rng.next() % 1008))
                queries.append(AttributionQuery(.v4(0xC612_0000 + UInt32(i / blocksPerAddress)), port: port, at: at))
            case 1:
                queries.append(
                    AttributionQuery(.v6(high: 0x2001_0DB8_0000_0000 | UInt64(i) << 8 | (rng.next() & 0xFF), low: rng.next()), at: at))
            default:
                queries.append(AttributionQuery(.v4(0x6440_0000 + UInt32(i)), at: at))
            }
            expected.append("cust-\(i)")
        }
        // Every answer checked once, one at a time and batched; the timed passes count attributed answers.
        var batchAnswers: [AttributionIndex.Resolution] = []
        index.resolve(queries, into: &batchAnswers)
        for (k, q) in queries.enumerated() {
            let r = index.resolve(q.address, port: q.port, at: q.time)
            guard r.outcome == .attributed, r.subscriber == expected[k], batchAnswers[k] == r else {
                throw BenchmarkError(
                    "wrong answer for \(q.address) port \(q.port.map(String.init) ?? "-"): \(r.outcome) \(r.subscriber ?? "") (expected \(expected[k])), batched \(batchAnswers[k].subscriber ?? "-")"
                )
            }
        }
        let built = index // a constant: a captured `var` would be copied (retains and all) at every call
        func measure(_ queries: [AttributionQuery], batched: Bool, seconds: Double) -> Double {
            var done = 0
            var attributed = 0
            var answers: [AttributionIndex.Resolution] = []
            // As a caller with a window of findings in hand would: 1,024 at a time (cut up before timing).
            let chunks =
                batched ? stride(from: 0, to: queries.count, by: 1024).map { Array(queries[$0..<min($0 + 1024, queries.count)]) } : []
            let cpu0 = BenchMeasure.threadCPUSeconds()
            var cpu = 0.0
            repeat {
                if batched {
                    for chunk in chunks {
                        answers.removeAll(keepingCapacity: true)
                        built.resolve(chunk, into: &answers)
                        for a in answers where a.outcome == .attributed { attributed += 1 }
                    }
                } else {
                    for q in queries where built.resolve(q.address, port: q.port, at: q.time).outcome == .attributed {
                        attributed += 1
                    }
                }
                done += queries.count
                cpu = BenchMeasure.threadCPUSeconds() - cpu0
            } while cpu < seconds
            precondition(attributed == done, "a lookup failed during the run")
            return Double(done) / cpu
        }
        _ = measure(queries, batched: false, seconds: min(1, seconds / 4)) // warm-up: the first pass runs into a cold cache and TLB
        // Mixed, CGNAT, IPv6, IPv4 — each single, then batched, back to back, `rounds` times: a
        // change of load on the shared machine hits both modes alike instead of one of them.
        let sets = [queries] + (0..<3).map { k in queries.enumerated().filter { $0.offset % 3 == k }.map(\.element) }
        var singleRuns = [[Double]](repeating: [], count: 4)
        var batchedRuns = [[Double]](repeating: [], count: 4)
        for _ in 0..<rounds {
            for (k, set) in sets.enumerated() {
                let share = (k == 0 ? seconds : seconds / 3) / Double(rounds)
                singleRuns[k].append(measure(set, batched: false, seconds: share))
                batchedRuns[k].append(measure(set, batched: true, seconds: share))
            }
        }
        return Result(
            claims: claims, subscribers: index.subscriberCount, openSessions: index.openSessionCount, buildSeconds: buildSeconds,
            probes: built.meanProbes, residentGrowth: rssAfter - rssBefore, rounds: rounds, singleRuns: singleRuns, batchedRuns: batchedRuns
        )
    }
}
