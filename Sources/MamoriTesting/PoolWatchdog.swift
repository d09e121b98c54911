import Foundation

/// A diagnostic for the test suite on a small machine: with `MAMORI_POOL_WATCHDOG=1` set, a
/// thread of its own schedules an empty task on Swift's cooperative pool every half second and
/// measures how long the task waits to run. A wait longer than 3 s means every pool thread is
/// held (by blocking or long synchronous work); the watchdog then writes every thread's stack
/// (gdb attached to this process) to `/tmp/mamori-pool-stall-<pid>-<n>.txt`, at most three
/// times, so that the test holding the pool can be named. Off by default: gdb pauses the process.
public enum PoolWatchdog {
    private static let started: Bool = {
        guard ProcessInfo.processInfo.environment["MAMORI_POOL_WATCHDOG"] == "1" else { return false }
        Thread.detachNewThread { watch() }
        return true
    }()

    /// Starts the watchdog once per process when the environment asks for it.
    public static func startIfAsked() { _ = started }

    private static func watch() {
        let pid = getpid()
        var dumps = 0
        while true {
            let ran = Flag()
            let sent = ContinuousClock.now
            Task.detached { ran.set() }
            while !ran.isSet, ContinuousClock.now - sent < .seconds(3) { Thread.sleep(forTimeInterval: 0.01) }
            if !ran.isSet {
                dumps += 1
                let file = "/tmp/mamori-pool-stall-\(pid)-\(dumps).txt"
                FileHandle.standardError.write(Data("pool watchdog: a task waited over 3 s for a thread; stacks in \(file)\n".utf8))
                // gdb stops every thread of this process, this one too: its output goes to the
                // file, not to a pipe that only a stopped thread would read.
                _ = try? ExternalPeer(path: "/bin/sh").runToExit(
                    ["-c", "exec /usr/bin/gdb -p \(pid) -batch -ex 'thread apply all bt 25' > \(file) 2>&1 < /dev/null"],
                    timeout: .seconds(600))
                while !ran.isSet { Thread.sleep(forTimeInterval: 0.05) }
                FileHandle.standardError.write(Data("pool watchdog: the task ran after \(ContinuousClock.now - sent)\n".utf8))
                if dumps >= 3 { return }
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
    }

    private final class Flag: @unchecked Sendable {
        private let lock = NSLock()
        private var value = false
        func set() { lock.withLock { value = true } }
        var isSet: Bool { lock.withLock { value } }
    }
}
