import Foundation
import MamoriCore

/// A clock that only moves when the test moves it.
public final class TestClock: WallClock, @unchecked Sendable {
    private let lock = NSLock()
    private var now: Int64

    /// Starts at `milliseconds` since the Unix epoch (default 2026-01-01T00:00:00Z).
    public init(_ milliseconds: Int64 = 1_767_225_600_000) { now = milliseconds }

    public var milliseconds: Int64 { lock.withLock { now } }

    /// Moves the clock forward (or back, for tests of clocks that jump).
    public func advance(by milliseconds: Int64) { lock.withLock { now += milliseconds } }

    public func set(_ milliseconds: Int64) { lock.withLock { now = milliseconds } }
}
