import FlowCodec

/// A set of prefixes with a fast membership test. Small sets (the usual case: a few of the
/// carrier's own blocks) are scanned linearly; the check is on the per-flow hot path.
public struct PrefixSet: Sendable, Hashable {
    public private(set) var prefixes: [IPPrefix]

    public init(_ prefixes: [IPPrefix] = []) {
        self.prefixes = prefixes.sorted { $0.storedLength > $1.storedLength }
    }

    public var isEmpty: Bool { prefixes.isEmpty }

    /// The longest prefix containing `address`, if any.
    public func match(_ address: IPAddress) -> IPPrefix? {
        prefixes.first { $0.contains(address) }
    }

    public func contains(_ address: IPAddress) -> Bool { match(address) != nil }
}
