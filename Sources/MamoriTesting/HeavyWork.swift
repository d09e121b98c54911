import Foundation
import Testing

/// A trait for tests that spend seconds of CPU synchronously (simulated worlds, hundreds of
/// thousands of records): their body runs on a thread of the suite's own
/// (``HeavyWorkExecutor``), not on Swift's cooperative pool.
///
/// The pool has one thread per core, two on the CI machine, and Swift Testing runs every test on
/// it. A synchronous test that computes for thirty seconds holds a thread for thirty seconds; two
/// of them hold the pool, and every other test's tasks — servers answering, waits with deadlines —
/// stop until they finish (the pool watchdog, `MAMORI_POOL_WATCHDOG=1`, caught stalls of 10 to
/// 200 s). Marked `@Suite(.heavyWork)` or `@Test(.heavyWork)`, such a test still runs in the test's
/// own task (its expectations are recorded as usual), only elsewhere.
public struct HeavyWorkTrait: TestTrait, SuiteTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        // A suite's trait scopes each of its tests; the test itself needs no second scope.
        guard !test.isSuite else { return try await function() }
        try await withTaskExecutorPreference(HeavyWorkExecutor.shared) { try await onPreferredExecutor(function) }
    }
}

extension Trait where Self == HeavyWorkTrait {
    /// Runs the test (or each test of the suite) off Swift's cooperative pool (``HeavyWorkTrait``).
    public static var heavyWork: Self { HeavyWorkTrait() }
}

/// One thread that runs the jobs of heavy tests in turn (a task executor: SE-0417): heavy tests
/// take one core at most, one after another, and leave the other to the servers and peers the
/// other tests start (two threads made four busy threads on two cores, and peers slow to start).
public final class HeavyWorkExecutor: TaskExecutor, @unchecked Sendable {
    // @unchecked: `jobs` is guarded by `condition`.
    public static let shared = HeavyWorkExecutor(threads: 1)

    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []

    init(threads: Int) {
        for i in 0..<threads {
            let thread = Thread { [unowned self] in
                Thread.current.threadDictionary[Self.marker] = true
                self.work()
            }
            thread.name = "heavy-tests-\(i)"
            thread.start()
        }
    }

    private static let marker = "mamori.heavy-work"

    /// Whether the calling thread is one of the heavy-test threads.
    public static var isCurrentThread: Bool { Thread.current.threadDictionary[marker] as? Bool == true }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func work() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}

/// Hops to the task's preferred executor (a `@concurrent` function runs there, where a closure
/// that inherits its caller's isolation would stay on the pool) and runs `body`.
@concurrent
private func onPreferredExecutor(_ body: @Sendable () async throws -> Void) async throws {
    try await body()
}
