/// Decides when a repeated problem is logged again: once per key (a sender's address and a
/// reason) per ``interval``, with at most ``maximumKeys`` keys remembered. When the table is full
/// the key logged longest ago is forgotten and ``evictions`` counts it — so a flood of spoofed
/// source addresses costs a bounded table and a counter, not memory and not a log line per packet.
/// No clock: the caller passes the time.
///
/// ```swift
/// var throttle = LogThrottle(interval: 600_000, maximumKeys: 1024)
/// if throttle.shouldLog("unknown_client|192.0.2.7", now: nowMilliseconds) { logger.notice(…) }
/// ```
public struct LogThrottle: Sendable {
    /// Milliseconds before the same key is logged again.
    public let interval: Int64
    public let maximumKeys: Int
    /// Keys forgotten to make room (each may be logged again sooner than ``interval``).
    public private(set) var evictions: Int = 0
    private var lastLogged: [String: Int64] = [:]

    public init(interval: Int64 = 600_000, maximumKeys: Int = 1024) {
        self.interval = interval
        self.maximumKeys = max(1, maximumKeys)
    }

    /// Whether `key` should be logged at `now` (ms); if so, remembers that it was.
    public mutating func shouldLog(_ key: String, now: Int64) -> Bool {
        if let last = lastLogged[key], now - last < interval { return false }
        if lastLogged[key] == nil, lastLogged.count >= maximumKeys {
            // Forget what expired; if nothing did, the oldest key.
            let before = lastLogged.count
            lastLogged = lastLogged.filter { now - $0.value < interval }
            if lastLogged.count == before, let oldest = lastLogged.min(by: { $0.value < $1.value })?.key {
                lastLogged[oldest] = nil
                evictions += 1
            }
        }
        lastLogged[key] = now
        return true
    }

    /// Keys remembered now.
    public var count: Int { lastLogged.count }
}
