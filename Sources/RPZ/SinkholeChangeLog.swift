import Synchronization

/// The recent changes of a policy that alter its sinkhole zone, each with the entry its trigger
/// had before, so that `RPZPublication` renders only what changed since it last published
/// instead of the whole zone.
///
/// A policy is a value and can be copied and changed along two paths; each change gets an id
/// unique in the process, so a publication that last saw change `x` finds `x` only in the logs of
/// the policies that descend from the one it rendered, and renders the whole zone for any other
/// (a policy of another lineage, one that forked before `x`, one whose log no longer reaches
/// back to `x`). The log keeps at most `capacity` changes, dropping the older half beyond.
struct SinkholeChangeLog: Sendable {
    /// One change: the trigger, and its entry before the change (nil when it had none).
    struct Change: Sendable {
        let id: UInt64
        let trigger: SinkholeTrigger
        let before: SinkholeEntry?
    }

    /// Where a reader of the log is: after the change `last` of the lineage (nil: at its start).
    struct Position: Hashable, Sendable {
        let lineage: UInt64
        let last: UInt64?
    }

    /// The most changes kept.
    static let capacity = 65_536
    private static let counter = Atomic<UInt64>(0)

    /// The policy's lineage: an id given when the policy was made, kept by its copies.
    let lineage: UInt64
    /// The kept changes, oldest first (ids increasing).
    private(set) var changes: [Change] = []
    /// Whether older changes were dropped.
    private(set) var trimmed = false

    init() {
        lineage = Self.nextID()
    }

    static func nextID() -> UInt64 { counter.add(1, ordering: .relaxed).newValue }

    /// The position after the last change.
    var position: Position { Position(lineage: lineage, last: changes.last?.id) }

    /// Records a change of `trigger`, whose entry was `before`.
    mutating func record(_ trigger: SinkholeTrigger, before: SinkholeEntry?) {
        changes.append(Change(id: Self.nextID(), trigger: trigger, before: before))
        if changes.count > Self.capacity {
            changes.removeFirst(Self.capacity / 2)
            trimmed = true
        }
    }

    /// The changes after `position`, oldest first; nil when this log does not continue from it.
    func changes(since position: Position) -> ArraySlice<Change>? {
        guard position.lineage == lineage else { return nil }
        guard let last = position.last else { return trimmed ? nil : changes[...] }
        var low = 0
        var high = changes.count
        while low < high {
            let middle = (low + high) / 2
            if changes[middle].id < last { low = middle + 1 } else { high = middle }
        }
        guard low < changes.count, changes[low].id == last else { return nil }
        return changes[(low + 1)...]
    }
}
