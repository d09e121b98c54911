import Foundation
import MamoriTesting
import Testing

/// The trait that keeps heavy tests off Swift's cooperative pool does move them.
@Suite struct HeavyWorkTraitTests {
    /// Whether this runs on a heavy-test thread (`Thread.current` is not for async code).
    static func onHeavyThread() -> Bool { HeavyWorkExecutor.isCurrentThread }

    @Test("a test marked .heavyWork runs on the heavy-test threads, across awaits", .heavyWork)
    func runsOnItsOwnThreads() async throws {
        #expect(Self.onHeavyThread())
        try await Task.sleep(for: .milliseconds(10))
        #expect(Self.onHeavyThread())
    }

    @Test("a synchronous test marked .heavyWork runs there too", .heavyWork)
    func synchronousTestsToo() {
        #expect(Self.onHeavyThread())
    }

    @Test("an unmarked test does not")
    func othersStayOnThePool() {
        #expect(!Self.onHeavyThread())
    }
}
