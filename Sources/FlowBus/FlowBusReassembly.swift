/// Which collector batch a message of the bus is a part of: the collector splits each batch it
/// decoded into one part per partition, and says in every part which partitions got one, so that
/// a detector owning several partitions can put the batch together again before analysing it.
///
/// Carried in two NATS headers: `Mamori-Batch: <collector>/<number>` and
/// `Mamori-Parts: <partition>,<partition>,…`.
public struct FlowBusBatchIdentity: Hashable, Sendable {
    /// The publishing process (node name and a random instance, unique per start).
    public var collector: String
    /// The collector's batch number, from 0, one per batch it decoded.
    public var number: UInt64
    /// The partitions that have a part of this batch, ascending.
    public var partitions: [Int]

    public static let batchHeader = "Mamori-Batch"
    public static let partsHeader = "Mamori-Parts"

    public init(collector: String, number: UInt64, partitions: [Int]) {
        self.collector = collector
        self.number = number
        self.partitions = partitions
    }

    /// The two header values.
    public var headerValues: (batch: String, parts: String) {
        ("\(collector)/\(number)", partitions.map(String.init).joined(separator: ","))
    }

    /// Read from the two header values; nil when either is missing or malformed (the message is
    /// then analysed on its own, as it comes).
    public init?(batch: String?, parts: String?, partitionCount: Int) {
        guard let batch, let parts, batch.utf8.count <= 200, parts.utf8.count <= 8 * partitionCount,
            let slash = batch.lastIndex(of: "/"), let number = UInt64(batch[batch.index(after: slash)...])
        else { return nil }
        let collector = String(batch[..<slash])
        guard !collector.isEmpty else { return nil }
        var list: [Int] = []
        for token in parts.split(separator: ",", omittingEmptySubsequences: false) {
            guard let p = Int(token), (0..<partitionCount).contains(p), list.last.map({ $0 < p }) ?? true else { return nil }
            list.append(p)
        }
        guard !list.isEmpty else { return nil }
        self.init(collector: collector, number: number, partitions: list)
    }
}

/// Puts the collectors' batches together again on a detector that owns several partitions, so
/// that it analyses each batch whole and in each collector's order — as one process fed by the
/// collector directly would — however far one partition's reader runs ahead of another's.
///
/// Messages are added as they are pulled (each partition's in its order); ``release(now:)`` hands
/// back groups to analyse:
/// - a batch once every owned partition it names has given its part, or has moved past it (a
///   later batch of the same collector: that part was lost on the way, and counted there);
/// - a batch still missing parts after `partWait` milliseconds (its collector died mid-batch),
///   marked incomplete;
/// - a message without a batch identity, or a part of a batch already released, at once, alone.
///
/// A collector's batches are released in its order; different collectors' interleave. Pure and
/// bounded: at most `maximumBuffered` messages wait; beyond that the oldest batch goes as it is.
public struct FlowBusReassembly<Message> {
    public struct Group {
        /// The parts, in partition order (each partition's messages in the order they came).
        public var parts: [(partition: Int, message: Message)]
        /// Whether a part it named never came (released by the wait or the bound).
        public var incomplete: Bool
        public var identity: FlowBusBatchIdentity?
    }

    struct Pending {
        var identity: FlowBusBatchIdentity
        var parts: [(partition: Int, message: Message)] = []
        var firstSeen: Int64
        /// The owned partitions it names.
        var expected: [Int]
    }

    let owned: Set<Int>
    let partWait: Int64
    public let maximumBuffered: Int
    /// Per collector, its batches being put together, by number.
    var pending: [String: [UInt64: Pending]] = [:]
    /// Per collector and partition, the latest batch number a part came for.
    var latest: [String: [Int: UInt64]] = [:]
    /// Per collector, the highest batch number released.
    var released: [String: UInt64] = [:]
    /// Messages to hand back at once (no identity, or late parts).
    var immediate: [Group] = []
    public private(set) var buffered = 0

    /// Counts since the start.
    public private(set) var incompleteBatches = 0
    public private(set) var lateParts = 0

    public init(ownedPartitions: [Int], partWaitMilliseconds: Int64 = 5_000, maximumBuffered: Int = 4_096) {
        owned = Set(ownedPartitions)
        partWait = partWaitMilliseconds
        self.maximumBuffered = max(1, maximumBuffered)
    }

    /// One message pulled from `partition`.
    public mutating func add(_ message: Message, partition: Int, identity: FlowBusBatchIdentity?, now: Int64) {
        guard let identity else {
            immediate.append(Group(parts: [(partition, message)], incomplete: false, identity: nil))
            return
        }
        let c = identity.collector
        if let done = released[c], identity.number <= done {
            lateParts += 1
            immediate.append(Group(parts: [(partition, message)], incomplete: true, identity: identity))
            return
        }
        if pending[c] == nil && pending.count >= maximumBuffered {
            // A flood of collector names: no table grows without bound.
            immediate.append(Group(parts: [(partition, message)], incomplete: true, identity: identity))
            return
        }
        latest[c, default: [:]][partition] = max(latest[c]?[partition] ?? 0, identity.number)
        pending[c, default: [:]][
            identity.number,
            default: Pending(
                identity: identity, firstSeen: now, expected: identity.partitions.filter { owned.contains($0) })
        ]
        .parts.append((partition, message))
        buffered += 1
    }

    /// The groups ready to analyse, in the order to analyse them.
    public mutating func release(now: Int64) -> [Group] {
        var out = immediate
        immediate = []
        for c in pending.keys.sorted() {
            while let batches = pending[c], let n = batches.keys.min(), let p = batches[n] {
                let complete = p.expected.allSatisfy { q in
                    p.parts.contains { $0.partition == q } || (latest[c]?[q] ?? 0) > n
                }
                let overdue = now - p.firstSeen >= partWait
                let crowded = buffered > maximumBuffered
                guard complete || overdue || crowded else { break }
                pending[c]?[n] = nil
                if pending[c]?.isEmpty == true { pending[c] = nil }
                buffered -= p.parts.count
                released[c] = n
                let missing = !p.expected.allSatisfy { q in p.parts.contains { $0.partition == q } }
                if !complete { incompleteBatches += 1 }
                out.append(
                    Group(parts: p.parts.sorted { $0.partition < $1.partition }, incomplete: missing && !complete, identity: p.identity))
            }
        }
        // What is remembered of collectors that have nothing pending is bounded too (each
        // collector start is a new name).
        if released.count > maximumBuffered {
            for c in released.keys where pending[c] == nil {
                released[c] = nil
                latest[c] = nil
            }
        }
        return out
    }

    /// Whether a batch waits for parts.
    public var isWaiting: Bool { buffered > 0 }
}
