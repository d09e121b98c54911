/// A set that holds at most `capacity` members, forgetting the oldest inserted first: for
/// "seen before?" questions about keys that outsiders choose (finding ids, addresses), so that
/// no stream of new keys can grow memory without bound. Insertion and lookup are O(1)
/// amortised; forgetting costs nothing extra.
public struct BoundedSet<Element: Hashable & Sendable>: Sendable {
    public let capacity: Int
    private var members: Set<Element> = []
    /// Members in insertion order from `head` on; the prefix before `head` is already forgotten.
    private var order: [Element] = []
    private var head = 0
    /// Members forgotten to make room, since creation.
    public private(set) var evicted = 0

    public init(capacity: Int) { self.capacity = max(1, capacity) }

    public var count: Int { members.count }

    public func contains(_ e: Element) -> Bool { members.contains(e) }

    /// Inserts `e`; true when it was not a member. Forgets the oldest member when full.
    @discardableResult
    public mutating func insert(_ e: Element) -> Bool {
        guard members.insert(e).inserted else { return false }
        order.append(e)
        if members.count > capacity {
            members.remove(order[head])
            head += 1
            evicted += 1
            // Compact once the forgotten prefix is as long as what is kept.
            if head >= capacity {
                order.removeFirst(head)
                head = 0
            }
        }
        return true
    }
}
