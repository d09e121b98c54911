import Testing

@testable import FlowBus

/// A detector owning several partitions puts each collector batch together again before analysing
/// it, whatever order its partitions' readers bring the parts in.
struct FlowBusReassemblyTests {
    typealias R = FlowBusReassembly<String>

    static func id(_ c: String, _ n: UInt64, _ parts: [Int]) -> FlowBusBatchIdentity {
        FlowBusBatchIdentity(collector: c, number: n, partitions: parts)
    }

    /// The message names of each group released.
    static func names(_ groups: [R.Group]) -> [[String]] { groups.map { $0.parts.map(\.message) } }

    @Test func aBatchWaitsForItsPartsThenGoesWholeInPartitionOrder() {
        var r = R(ownedPartitions: [0, 1, 2, 3])
        // Partition 2's reader runs ahead: it brings batches 0 and 1 before the others bring batch 0.
        r.add("2/b0", partition: 2, identity: Self.id("c", 0, [0, 2]), now: 0)
        r.add("2/b1", partition: 2, identity: Self.id("c", 1, [1, 2]), now: 0)
        #expect(r.release(now: 1).isEmpty, "batch 0 still lacks partition 0's part")
        r.add("1/b1", partition: 1, identity: Self.id("c", 1, [1, 2]), now: 2)
        #expect(r.release(now: 2).isEmpty, "batch 1 is complete but batch 0 goes first")
        r.add("0/b0", partition: 0, identity: Self.id("c", 0, [0, 2]), now: 3)
        let groups = r.release(now: 3)
        #expect(Self.names(groups) == [["0/b0", "2/b0"], ["1/b1", "2/b1"]])
        #expect(groups.allSatisfy { !$0.incomplete })
        #expect(r.buffered == 0 && !r.isWaiting)
    }

    @Test func partsOnOtherNodesAreNotWaitedFor() {
        var r = R(ownedPartitions: [0, 1])
        r.add("0/b0", partition: 0, identity: Self.id("c", 0, [0, 5, 6]), now: 0)
        #expect(Self.names(r.release(now: 0)) == [["0/b0"]], "partitions 5 and 6 belong to another detector")
    }

    @Test func aPartLostOnTheWayIsKnownByTheNextBatch() {
        var r = R(ownedPartitions: [0, 1])
        r.add("0/b0", partition: 0, identity: Self.id("c", 0, [0, 1]), now: 0)
        #expect(r.release(now: 0).isEmpty)
        // Partition 1 brings batch 1: its part of batch 0 never reached the stream.
        r.add("1/b1", partition: 1, identity: Self.id("c", 1, [1]), now: 1)
        let groups = r.release(now: 1)
        #expect(Self.names(groups) == [["0/b0"], ["1/b1"]])
        #expect(r.incompleteBatches == 0, "not waited for: known lost")
    }

    @Test func aBatchMissingPartsGoesAfterTheWaitMarkedIncomplete() {
        var r = R(ownedPartitions: [0, 1], partWaitMilliseconds: 5_000)
        r.add("0/b0", partition: 0, identity: Self.id("c", 0, [0, 1]), now: 1_000)
        #expect(r.release(now: 5_999).isEmpty)
        let groups = r.release(now: 6_000)
        #expect(Self.names(groups) == [["0/b0"]])
        #expect(groups.first?.incomplete == true)
        #expect(r.incompleteBatches == 1)
        // Its missing part turns up after all: analysed alone, at once, counted as late.
        r.add("1/b0", partition: 1, identity: Self.id("c", 0, [0, 1]), now: 7_000)
        #expect(Self.names(r.release(now: 7_000)) == [["1/b0"]])
        #expect(r.lateParts == 1)
    }

    @Test func collectorsInterleaveEachInItsOrder() {
        var r = R(ownedPartitions: [0, 1])
        r.add("0/a0", partition: 0, identity: Self.id("a", 0, [0, 1]), now: 0)
        r.add("0/b0", partition: 0, identity: Self.id("b", 0, [0]), now: 0)
        r.add("1/b1", partition: 1, identity: Self.id("b", 1, [1]), now: 0)
        // Collector b's batches do not wait for collector a's.
        #expect(Self.names(r.release(now: 0)) == [["0/b0"], ["1/b1"]])
        r.add("1/a0", partition: 1, identity: Self.id("a", 0, [0, 1]), now: 1)
        #expect(Self.names(r.release(now: 1)) == [["0/a0", "1/a0"]])
    }

    @Test func messagesWithoutAnIdentityGoAtOnce() {
        var r = R(ownedPartitions: [0])
        r.add("x", partition: 0, identity: nil, now: 0)
        let groups = r.release(now: 0)
        #expect(Self.names(groups) == [["x"]] && groups[0].identity == nil)
    }

    @Test func theBufferIsBounded() {
        var r = R(ownedPartitions: [0, 1], partWaitMilliseconds: 1_000_000, maximumBuffered: 100)
        // Partition 1 never brings anything: partition 0's parts wait, up to the bound.
        var released = 0
        for n in 0..<1_000 {
            r.add("0/\(n)", partition: 0, identity: Self.id("c", UInt64(n), [0, 1]), now: 0)
            released += r.release(now: 0).count
            #expect(r.buffered <= 101)
        }
        #expect(released >= 1_000 - 101)
        // A flood of collector names grows no table without bound either.
        var s = R(ownedPartitions: [0, 1], partWaitMilliseconds: 1_000_000, maximumBuffered: 50)
        for n in 0..<2_000 {
            s.add("m", partition: 0, identity: Self.id("c\(n)", 0, [0, 1]), now: 0)
            _ = s.release(now: 0)
        }
        #expect(s.pending.count <= 51 && s.released.count <= 51 && s.latest.count <= 102)
    }

    @Test func headersRoundTripAndHostileOnesAreIgnored() {
        let i = Self.id("collector-1-x9", 42, [0, 3, 7])
        let (batch, parts) = i.headerValues
        #expect(batch == "collector-1-x9/42" && parts == "0,3,7")
        #expect(FlowBusBatchIdentity(batch: batch, parts: parts, partitionCount: 8) == i)
        for (b, p) in [
            (nil, "0"), ("c/1", nil), ("c/x", "0"), ("/1", "0"), ("c/1", ""), ("c/1", "0,8"), ("c/1", "3,1"), ("c/1", "1,1"), ("c/1", "-1"),
            ("c/1", "0,,1"), (String(repeating: "c", count: 300) + "/1", "0"),
        ] as [(String?, String?)] {
            #expect(FlowBusBatchIdentity(batch: b, parts: p, partitionCount: 8) == nil, "\(String(describing: b)) \(String(describing: p))")
        }
    }
}
