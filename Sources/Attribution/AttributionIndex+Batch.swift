import FlowCodec
import MamoriCore

/// Many lookups at once, for callers that have them in hand (attributing a window of findings).
///
/// A single lookup is a chain of dependent cache misses — translation table, link, translation
/// claim, holding claims, name — and the core waits out each in turn. Independent lookups can
/// wait together: ``resolve(_:into:)`` walks a group of them side by side, one step of each per
/// round, loading only the next cache line each one will need, so the misses of the group
/// overlap; then it resolves each query with ``resolve(_:port:at:)``, now mostly from cache. The
/// walk only reads (it decides nothing), so the answers are those of ``resolve(_:port:at:)``
/// by construction.
extension AttributionIndex {
    public typealias Resolution = (outcome: Attribution.Outcome, subscriber: String?, confidence: Double)

    /// Lookups walked side by side: enough to keep the core's outstanding misses busy.
    static let batchGroup = 16
    /// Rounds of the walk: a CGNAT lookup needs about six (table, link, translation claim, two
    /// holding claims, name); longer chains are finished by the resolve itself.
    static let batchRounds = 8

    /// ``resolve(_:port:at:)`` for every query, in order, appended to `answers`.
    public func resolve(_ queries: [AttributionQuery], into answers: inout [Resolution]) {
        answers.reserveCapacity(answers.count + queries.count)
        var sink: UInt64 = 0
        withUnsafeTemporaryAllocation(of: PrefetchWalk.self, capacity: Self.batchGroup) { walks in
            var start = 0
            while start < queries.count {
                let n = min(Self.batchGroup, queries.count - start)
                for k in 0..<n { (walks.baseAddress! + k).initialize(to: begin(queries[start + k], sink: &sink)) }
                for _ in 0..<Self.batchRounds {
                    var busy = false
                    for k in 0..<n where walks[k].step != .done {
                        advance(&walks[k], sink: &sink)
                        busy = true
                    }
                    if !busy { break }
                }
                for k in 0..<n {
                    let q = queries[start + k]
                    answers.append(resolve(q.address, port: q.port, at: q.time))
                }
                start += n
            }
        }
        // Keeps the loads of the walk: the optimiser cannot know this is never true.
        if sink == 0x9E37_79B9_7F4A_7C15 { answers.reserveCapacity(0) }
    }

    /// Where one lookup of a batch has got to, and which cache line it loaded last.
    struct PrefetchWalk {
        enum Step: UInt8 { case translationTable, links, translationClaim, holdingTables, holdingChain, done }
        var step: Step
        var address: IPAddress
        var time: Int64
        var port: UInt16
        /// A link (`links`), a translation claim (`translationClaim`) or a holding claim (`holdingChain`).
        var cursor: Int32 = -1
    }

    @inline(__always)
    func begin(_ q: AttributionQuery, sink: inout UInt64) -> PrefetchWalk {
        // A time outside 1970–2100 is answered by ``resolve(_:port:at:)`` without a walk.
        guard FlowTimeWindow.isSane(q.time) else { return PrefetchWalk(step: .done, address: q.address, time: 0, port: 0) }
        if let port = q.port, mayBeTranslated(q.address) {
            sink &+= translationHeads.touch(Self.translationSlot(q.address, bucket: Self.bucket(port)))
            return PrefetchWalk(step: .translationTable, address: q.address, time: q.time, port: port)
        }
        touchHoldingTables(q.address, sink: &sink)
        return PrefetchWalk(step: .holdingTables, address: q.address, time: q.time, port: 0)
    }

    /// One step: use the line loaded last round (now in cache) and load the next.
    @inline(__always)
    func advance(_ w: inout PrefetchWalk, sink: inout UInt64) {
        switch w.step {
        case .translationTable:
            guard let head = translationHeads[Self.translationSlot(w.address, bucket: Self.bucket(w.port))] else {
                w.step = .done
                return
            }
            w.cursor = head
            w.step = .links
            sink &+= UInt64(truncatingIfNeeded: translationLinks[Int(head)].claim)
        case .links:
            let link = translationLinks[Int(w.cursor)]
            if link.portLow <= w.port && w.port <= link.portHigh {
                w.cursor = link.claim
                w.step = .translationClaim
                sink &+= UInt64(bitPattern: claims[Int(link.claim)].start)
            } else if link.next >= 0 {
                w.cursor = link.next
                sink &+= UInt64(truncatingIfNeeded: translationLinks[Int(link.next)].claim)
            } else {
                w.step = .done
            }
        case .translationClaim:
            let c = claims[Int(w.cursor)]
            if c.insideHead >= 0 {
                // Possibly stale: then this load is wasted and the resolve probes; nothing else.
                w.cursor = c.insideHead
                w.step = .holdingChain
                sink &+= UInt64(bitPattern: claims[Int(c.insideHead)].start)
            } else {
                w.address = inside(of: c)
                w.step = .holdingTables
                touchHoldingTables(w.address, sink: &sink)
            }
        case .holdingTables:
            w.step = .done
            for length in w.address.isIPv6 ? holdingLengthsV6 : holdingLengthsV4 {
                if let head = holdingHeads[Slot(w.address, length: length)] {
                    w.cursor = head
                    w.step = .holdingChain
                    sink &+= UInt64(bitPattern: claims[Int(head)].start)
                    break
                }
            }
        case .holdingChain:
            let c = claims[Int(w.cursor)]
            if c.start <= w.time + skew && w.time - skew <= effectiveEnd(c) { sink &+= touchName(c.target) }
            if c.next >= 0 {
                w.cursor = c.next
                sink &+= UInt64(bitPattern: claims[Int(c.next)].start)
            } else {
                w.step = .done
            }
        case .done:
            break
        }
    }

    @inline(__always)
    func touchHoldingTables(_ address: IPAddress, sink: inout UInt64) {
        for length in address.isIPv6 ? holdingLengthsV6 : holdingLengthsV4 {
            sink &+= holdingHeads.touch(Slot(address, length: length))
        }
    }

    /// Loads the first word of subscriber `t`'s name (the string itself, for short names).
    @inline(__always)
    func touchName(_ t: UInt32) -> UInt64 {
        subscriberNames.withUnsafeBufferPointer { names in
            guard Int(t) < names.count, let base = names.baseAddress else { return 0 }
            return UnsafeRawPointer(base + Int(t)).load(as: UInt64.self)
        }
    }
}
