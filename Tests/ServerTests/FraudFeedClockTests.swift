import Foundation
import Logging
import MamoriCore
import MamoriTesting
import Server
import Telephony
import Testing

/// Clock skew between call-record sources, through the service: a softswitch whose clock runs
/// twenty minutes ahead has its records refused as from the future only until its offset is
/// known, then moved back and kept; a PBX whose records arrive half an hour late is reported,
/// its records kept as they are.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct FraudFeedClockTests {
    @Test("a feed ahead is corrected once its offset is firm; a feed behind is reported; each is logged once")
    func feedsAheadAndBehind() throws {
        let dir = try TemporaryDirectory()
        var configuration = ServerTests.configuration(dataDirectory: dir.path)
        configuration.telephony = try FraudServiceTests.telephony(
            """
            feeds:
              - {name: fast, format: kamailio, path: \(dir.path)/fast.log}
              - {name: slow, format: kamailio, path: \(dir.path)/slow.log}
            read_feeds_from_start: true
            clock_skew_seconds: 300
            """)
        let t0 = FraudServiceTests.monday + 4 * 24 * FraudServiceTests.hour
        let clock = TestClock(t0)
        let logs = LogStore()
        let dependencies = ApplicationDependencies(logger: logs.logger(level: .warning), clock: clock)
        let (_, services) = try buildApplication(configuration: configuration, dependencies: dependencies)
        let fraud = try #require(services.fraud)

        var read = (fast: 0, slow: 0)
        var refused = 0
        for second in 0..<8 {
            let now = t0 + Int64(second) * 1000
            clock.set(now)
            // Each read brings two calls of a minute that ended just now, by each source's clock.
            let fast = (0..<2).map { FraudServiceTests.cdr("10\($0)", "0312345678", at: now + 20 * 60_000 - 60_000, seconds: 60) }
            let slow = (0..<2).map { FraudServiceTests.cdr("20\($0)", "0312345678", at: now - 30 * 60_000 - 60_000, seconds: 60) }
            let a = fraud.ingest(feed: "fast", bytes: Array(fast.joined().utf8))
            let b = fraud.ingest(feed: "slow", bytes: Array(slow.joined().utf8))
            read.fast += a.read
            read.slow += b.read
            refused += a.rejected["future", default: 0]
            #expect(b.rejected.isEmpty)
        }
        // Five reads to be firm: the first five reads' calls are from the future; the last three are moved back.
        #expect(refused == 10 && read.fast == 6 && read.slow == 16, "\(refused) \(read)")
        let clocks = Dictionary(uniqueKeysWithValues: fraud.status.clocks.map { ($0.feed, $0) })
        let fast = try #require(clocks["fast"])
        let slow = try #require(clocks["slow"])
        #expect(fast.state == .ahead && fast.offsetSeconds == 1200 && fast.recordsCorrected == 6, "\(fast)")
        #expect(slow.state == .behind && slow.offsetSeconds == -1800 && slow.recordsCorrected == 0, "\(slow)")
        #expect(logs.entries.filter { $0.message.hasPrefix("a call-record feed's clock runs ahead") }.count == 1)
        #expect(logs.entries.filter { $0.message.hasPrefix("a call-record feed's records arrive late") }.count == 1)
        #expect(logs.entries.filter { $0.message.hasPrefix("call records refused") }.count == 1, "the future records, logged once")
    }
}
