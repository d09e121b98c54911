import FlowCodec

/// Keeps analysis from falling behind silently: when the backlog of records waiting for the
/// detectors grows past its capacity, only 1 in N (source, destination) address pairs are kept —
/// whole pairs, so a kept host's contacts with an endpoint stay complete and periodic — and what
/// is kept is scaled by N like any sampled export (bytes, packets, sampling interval). N doubles
/// while the backlog stays above capacity (up to 1024) and halves once it has drained below an
/// eighth of it.
public struct LoadShedder: Sendable {
    /// Current 1-in-N (1 = everything is analysed).
    public private(set) var interval: UInt32 = 1
    /// Backlog (records) above which shedding starts or deepens.
    public let capacity: Int
    public static let maximumInterval: UInt32 = 1024
    /// Secret mixed into the pair hash: without it, a sender who knows the hash could choose
    /// addresses whose pairs always survive shedding (or never do).
    @usableFromInline let key: UInt64

    /// - Parameters:
    ///   - capacity: backlog (records) above which shedding starts.
    ///   - key: the secret of the pair hash; the service draws a random one at start.
    public init(capacity: Int, key: UInt64) {
        self.capacity = max(1, capacity)
        self.key = key
    }

    /// Adapts N to the backlog the records would join.
    public mutating func adjust(backlog: Int) {
        if backlog > capacity {
            interval = min(Self.maximumInterval, interval * 2)
        } else if backlog < capacity / 8 && interval > 1 {
            interval /= 2
        }
    }

    /// A record's address pair, both directions alike (for counting the pairs shed; not the
    /// keyed hash that decides what is shed).
    public static func pairHash(_ r: FlowRecord) -> UInt64 {
        let a = r.sourceAddress.high ^ r.sourceAddress.low
        let b = r.destinationAddress.high ^ r.destinationAddress.low
        let (low, high) = a < b ? (a, b) : (b, a)
        return mix64(mix64(low) ^ high)
    }

    /// Whether a record is analysed; a kept record is scaled by the current interval.
    @inlinable public func admit(_ r: inout FlowRecord) -> Bool {
        guard interval > 1 else { return true }
        let a = r.sourceAddress.high ^ r.sourceAddress.low
        let b = r.destinationAddress.high ^ r.destinationAddress.low
        // Ordered, so both directions hash alike; each address mixed on its own, so that pairs
        // whose addresses differ in the same bits (a ^ b alike) do not share one fate.
        let (low, high) = a < b ? (a, b) : (b, a)
        guard mix64(mix64(low ^ key) ^ high) % UInt64(interval) == 0 else { return false }
        r.bytes &*= UInt64(interval)
        r.packets &*= UInt64(interval)
        r.samplingInterval = r.samplingInterval &* interval
        return true
    }
}
