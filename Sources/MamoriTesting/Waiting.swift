/// Polls `condition` every 10 ms until it holds or `timeout` passes; returns whether it held.
/// For tests of running services (sockets, service groups); code that can run on a test clock
/// or an embedded event loop should not wait at all.
@discardableResult
public func waitUntil(timeout: Duration = .seconds(10), _ condition: () -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// Runs `body`, failing if it takes longer than `limit` (the body is cancelled then).
public func withTimeLimit<T: Sendable>(_ limit: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws
    -> T
{
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try? await Task.sleep(for: limit)
            return nil
        }
        guard let first = try await group.next(), let value = first else {
            group.cancelAll()
            throw TimeLimitExceeded(description: "\(what) took longer than \(limit)")
        }
        group.cancelAll()
        return value
    }
}

/// What ``withTimeLimit(_:_:_:)`` throws when the body runs too long.
public struct TimeLimitExceeded: Error, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}
