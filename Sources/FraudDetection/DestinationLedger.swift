import MamoriCore
import Telephony

/// Per destination, how many calls were made to it and how many of them were fraudulent, in
/// ten-minute buckets over the last day: the seeds' "used almost exclusively for fraud" is the
/// fraudulent share of its calls, and its trend is that share hour by hour.
///
/// Two keys per international call: its range (the 1,000-number block) and its destination (the
/// number plan's row: a country, an area code of the NANP, a satellite network). Only buckets with
/// calls are kept, and at most ``maximumKeys`` destinations (the least recently called go first).
public struct DestinationLedger: Sendable {
    public static let bucketMilliseconds: Int64 = 600_000
    /// A day of buckets.
    public static let keptBuckets: Int64 = 144

    public enum Key: Sendable, Hashable, Comparable, CustomStringConvertible {
        /// A block of numbers, as its leading E.164 digits.
        case range(String)
        /// A row of the number plan, as its prefix.
        case destination(String)

        public var digits: String {
            switch self {
            case .range(let d), .destination(let d): d
            }
        }
        public var description: String {
            switch self {
            case .range(let d): "range +\(d)"
            case .destination(let d): "destination +\(d)"
            }
        }
    }

    struct Bucket: Sendable {
        var index: Int64
        var attempts: Int32
        var fraudulent: Int32
    }

    struct Entry: Sendable {
        var buckets: [Bucket] = []
        /// Accounts whose calls here were fraudulent, with their latest (bounded).
        var fraudAccounts: [String: Int64] = [:]
        var lastCall: Int64 = 0
        var lastFraud: Int64 = 0
    }

    public let maximumKeys: Int
    private var entries: [Key: Entry] = [:]
    public private(set) var keysDropped = 0

    public init(maximumKeys: Int = 500_000) { self.maximumKeys = maximumKeys }

    public var count: Int { entries.count }

    public static func keys(of call: Call) -> [Key] {
        guard call.isInternational || call.isHighCost, let range = call.range else { return [] }
        var keys = [Key.range(range.digits)]
        if let d = call.destination { keys.append(.destination(d.prefix)) }
        return keys
    }

    /// Counts a call (or an attempt the softswitch refused) to its destination.
    public mutating func count(_ call: Call) {
        for key in Self.keys(of: call) { add(key, at: call.record.start, fraudulent: false, account: nil) }
    }

    /// Marks a counted call as fraudulent (when its line was found hijacked, perhaps later).
    public mutating func markFraudulent(_ call: FraudulentCall) {
        guard !call.range.isEmpty else { return }
        add(.range(call.range), at: call.start, fraudulent: true, account: call.account)
        if !call.destinationPrefix.isEmpty {
            add(.destination(call.destinationPrefix), at: call.start, fraudulent: true, account: call.account)
        }
    }

    private mutating func add(_ key: Key, at time: Int64, fraudulent: Bool, account: String?) {
        let index = time / Self.bucketMilliseconds
        if entries[key] == nil {
            if entries.count >= maximumKeys {
                // The destination called least recently makes room.
                if let stale = entries.min(by: { $0.value.lastCall < $1.value.lastCall })?.key {
                    entries.removeValue(forKey: stale)
                    keysDropped += 1
                }
            }
            entries[key] = Entry()
        }
        entries[key]!.add(index: index, fraudulent: fraudulent, time: time, account: account)
    }

    /// Forgets buckets older than a day before `now`.
    public mutating func prune(now: Int64) {
        let oldest = now / Self.bucketMilliseconds - Self.keptBuckets
        for key in Array(entries.keys) {
            entries[key]!.buckets.removeAll { $0.index < oldest }
            if entries[key]!.buckets.isEmpty { entries.removeValue(forKey: key) }
        }
    }

    /// The figures of `key` over the `windowMinutes` before `now`, with the hourly trend.
    public func figures(_ key: Key, now: Int64, windowMinutes: Int64, trendHours: Int = 6) -> BlockFigures {
        let entry = entries[key] ?? Entry()
        let last = now / Self.bucketMilliseconds
        let span = max(1, windowMinutes * 60_000 / Self.bucketMilliseconds)
        var attempts = 0
        var fraudulent = 0
        var hourly = Array(repeating: (0, 0), count: trendHours)
        for b in entry.buckets where b.index <= last {
            if b.index > last - span {
                attempts += Int(b.attempts)
                fraudulent += Int(b.fraudulent)
            }
            let hour = Int((last - b.index) / 6)
            if hour < trendHours {
                hourly[hour].0 += Int(b.attempts)
                hourly[hour].1 += Int(b.fraudulent)
            }
        }
        let since = now - windowMinutes * 60_000
        return BlockFigures(
            attempts: attempts, fraudulentAttempts: min(fraudulent, attempts),
            accounts: entry.fraudAccounts.values.reduce(0) { $0 + ($1 >= since ? 1 : 0) }, windowMinutes: windowMinutes,
            hourlyShare: hourly.reversed().map { $0.0 > 0 ? min(1, Double($0.1) / Double($0.0)) : nil },
            lastFraudulent: entry.lastFraud == 0 ? nil : entry.lastFraud)
    }
}

extension DestinationLedger.Entry {
    mutating func add(index: Int64, fraudulent: Bool, time: Int64, account: String?) {
        if let i = buckets.lastIndex(where: { $0.index == index }) {
            if fraudulent { buckets[i].fraudulent += 1 } else { buckets[i].attempts += 1 }
        } else {
            let b = DestinationLedger.Bucket(index: index, attempts: fraudulent ? 0 : 1, fraudulent: fraudulent ? 1 : 0)
            if let after = buckets.firstIndex(where: { $0.index > index }) { buckets.insert(b, at: after) } else { buckets.append(b) }
        }
        if fraudulent {
            lastFraud = max(lastFraud, time)
            if let account, fraudAccounts[account] != nil || fraudAccounts.count < 256 {
                fraudAccounts[account] = max(fraudAccounts[account] ?? 0, time)
            }
        } else {
            lastCall = max(lastCall, time)
        }
    }
}

/// What a destination's calls looked like over a window: the figures a block rule stands on.
public struct BlockFigures: Sendable, Hashable, Codable {
    /// Calls and refused attempts to it.
    public var attempts: Int
    /// Of those, the fraudulent.
    public var fraudulentAttempts: Int
    /// Hijacked lines among its callers.
    public var accounts: Int
    public var windowMinutes: Int64
    /// The fraudulent share hour by hour, oldest first (nil: no calls that hour).
    public var hourlyShare: [Double?]
    /// The latest fraudulent call to it.
    public var lastFraudulent: Int64?

    public var share: Double { attempts > 0 ? Double(fraudulentAttempts) / Double(attempts) : 0 }
}
