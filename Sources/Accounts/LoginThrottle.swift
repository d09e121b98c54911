/// Rate limits for logins, per client address and per account name, in bounded memory.
///
/// - Per address: at most ``Configuration/attemptsPerAddress`` attempts in each window of
///   ``Configuration/addressWindow`` (default 10 a minute). The caller chooses the key: an IPv4
///   address, or an IPv6 /64 so that one host cannot rotate through its prefix.
/// - Per name: after ``Configuration/freeFailures`` consecutive wrong passwords, each further
///   attempt waits ``Configuration/backoffBase`` × 2ⁿ (capped at ``Configuration/backoffCap``)
///   after the last failure. Names are counted alike whether or not an account has them, so the
///   throttle does not tell which names exist.
///
/// Each table holds at most ``Configuration/capacity`` keys. When one is full, the half used
/// least recently is forgotten at once (two generations, like a two-handed clock): no per-entry
/// bookkeeping, and a flood of a million addresses costs the memory of `capacity` entries. A
/// forgotten name loses only its back-off; an account's lockout is counted on the account itself.
public struct LoginThrottle: Sendable {
    public struct Configuration: Sendable, Hashable {
        public var attemptsPerAddress: Int
        /// ms.
        public var addressWindow: Int64
        public var freeFailures: Int
        /// ms.
        public var backoffBase: Int64
        /// ms.
        public var backoffCap: Int64
        /// Keys kept per table (addresses, names).
        public var capacity: Int

        public init(
            attemptsPerAddress: Int = 10, addressWindow: Int64 = 60_000, freeFailures: Int = 3, backoffBase: Int64 = 1_000,
            backoffCap: Int64 = 300_000, capacity: Int = 100_000
        ) {
            self.attemptsPerAddress = attemptsPerAddress
            self.addressWindow = addressWindow
            self.freeFailures = freeFailures
            self.backoffBase = backoffBase
            self.backoffCap = backoffCap
            self.capacity = capacity
        }
    }

    public enum Decision: Sendable, Hashable {
        case allowed
        /// Try again no earlier than this many ms from now.
        case throttled(retryAfter: Int64)
    }

    struct AddressWindow: Sendable, Hashable {
        var start: Int64
        var attempts: Int
    }

    struct NameFailures: Sendable, Hashable {
        var count: Int
        var last: Int64
    }

    public let configuration: Configuration
    var addresses: BoundedTable<AddressWindow>
    var names: BoundedTable<NameFailures>

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        addresses = BoundedTable(capacity: configuration.capacity)
        names = BoundedTable(capacity: configuration.capacity)
    }

    /// Keys longer than this are cut: an IPv6 address with a zone fits, a hostile megabyte does not.
    static let maximumKeyBytes = 64

    static func key(_ s: String) -> String {
        s.utf8.count <= maximumKeyBytes ? s : String(decoding: s.utf8.prefix(maximumKeyBytes), as: UTF8.self)
    }

    /// Whether an attempt for `name` from `address` may go ahead at `now`; an allowed attempt is
    /// counted against the address (a refused one is not, so a flood does not extend its own wait).
    public mutating func admit(name: String, address: String, at now: Int64) -> Decision {
        let addressKey = Self.key(address)
        var window = addresses[addressKey] ?? AddressWindow(start: now, attempts: 0)
        if now < window.start || now >= window.start &+ configuration.addressWindow { window = AddressWindow(start: now, attempts: 0) }
        if window.attempts >= configuration.attemptsPerAddress {
            return .throttled(retryAfter: max(1, window.start &+ configuration.addressWindow &- now))
        }
        if let earliest = earliestAttempt(name: name), now < earliest {
            return .throttled(retryAfter: earliest &- now)
        }
        window.attempts += 1
        addresses[addressKey] = window
        return .allowed
    }

    /// When the next attempt for `name` may be made, or nil when it may be made now.
    func earliestAttempt(name: String) -> Int64? {
        guard let f = names[Self.key(name)], f.count >= configuration.freeFailures else { return nil }
        let exponent = min(30, f.count - configuration.freeFailures)
        let delay = min(configuration.backoffCap, configuration.backoffBase.multipliedReportingOverflow(by: 1 << exponent).partialValue)
        return f.last &+ max(0, delay)
    }

    /// A wrong password (or an unknown name) for `name` at `now`.
    public mutating func recordFailure(name: String, at now: Int64) {
        let key = Self.key(name)
        var f = names[key] ?? NameFailures(count: 0, last: now)
        f.count = min(f.count + 1, 1_000_000)
        f.last = now
        names[key] = f
    }

    /// A successful login: the name's back-off ends.
    public mutating func recordSuccess(name: String) { names[Self.key(name)] = nil }

    /// When the last failure for `name` was counted (nil when none is remembered).
    func lastFailure(name: String) -> Int64? { names[Self.key(name)]?.last }

    /// Consecutive failures counted for `name` (0 when forgotten).
    public func consecutiveFailures(name: String) -> Int { names[Self.key(name)]?.count ?? 0 }

    /// Keys held, per table (for tests and metrics).
    public var size: (addresses: Int, names: Int) { (addresses.count, names.count) }
}

/// A dictionary that holds at most `capacity` keys, forgetting the least recently used half when
/// full: a young generation takes writes and hits, an old one is dropped whole when the young one
/// fills. Written by hand because the standard library and swift-collections have no bounded map.
struct BoundedTable<Value: Sendable>: Sendable {
    private var young: [String: Value] = [:]
    private var old: [String: Value] = [:]
    private let generation: Int

    init(capacity: Int) { generation = max(1, capacity / 2) }

    var count: Int { young.count + old.count }

    subscript(key: String) -> Value? {
        get { young[key] ?? old[key] }
        set {
            old[key] = nil
            guard let newValue else {
                young[key] = nil
                return
            }
            young[key] = newValue
            if young.count >= generation {
                old = young
                young = [:]
            }
        }
    }
}
