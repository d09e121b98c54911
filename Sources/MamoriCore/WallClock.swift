import Foundation

/// Where the server's services read the time: the system's clock in production, a clock the
/// test moves in tests (`MamoriTesting.TestClock`). Passed in by the composition root, never
/// read from `Date()` inside a service, so that retention, expiries, reminders and audit times
/// can be tested without sleeping.
///
/// Not Swift's `Clock` protocol: Mamori's times are wall-clock instants (ms since the Unix
/// epoch) that are stored, compared with flow records' times and shown to people.
public protocol WallClock: Sendable {
    /// Milliseconds since the Unix epoch.
    var milliseconds: Int64 { get }
}

/// The system's wall clock.
public struct SystemClock: WallClock {
    public init() {}
    public var milliseconds: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}
