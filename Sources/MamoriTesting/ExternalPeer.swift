import Foundation
import Synchronization

/// A real program used as a test peer (softflowd, nfcapd, radclient …).
///
/// Tests must not pass silently when a peer is missing: ``require(_:)`` throws an error that
/// says which Debian package to install.
public struct ExternalPeer: Sendable {
    public let path: String

    /// A program at a known path (a tool of the project's own, like `.build/pytools/bin/python`).
    public init(path: String) {
        self.path = path
        PoolWatchdog.startIfAsked()
    }

    /// Finds `name` on PATH or in the sbin directories; throws a clear error when absent.
    public static func require(_ name: String, debianPackage: String) throws -> ExternalPeer {
        let env = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let dirs = env.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin"]
        for d in dirs {
            let candidate = d + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return ExternalPeer(path: candidate) }
        }
        throw PeerError("test peer '\(name)' is not installed: run `apt-get install \(debianPackage)` (scripts/test installs it)")
    }

    /// Runs the program to completion (bounded by `timeout`), returning its standard output;
    /// throws when it exits with another status than 0.
    ///
    /// `environment` is added to (and overrides) the test process's environment — the way to
    /// hand a program a secret (`MAMORI_TOKEN`) that its arguments, and so this error's message
    /// and `ps`, must not show.
    @discardableResult
    public func run(_ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(60)) throws -> String {
        let result = try runToExit(arguments, environment: environment, timeout: timeout)
        guard result.status == 0 else {
            throw PeerError("\(path) \(arguments.joined(separator: " ")) exited with \(result.status): \(result.stderr)")
        }
        return result.stdout
    }

    /// Runs the program to completion (bounded by `timeout`) whatever its exit status: the
    /// status, standard output and standard error — for tests of how a program fails.
    /// `environment` as in ``run(_:environment:timeout:)``.
    public func runToExit(_ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(60)) throws -> (
        status: Int32, stdout: String, stderr: String
    ) {
        // posix_spawn with pipes this function owns and closes exactly once, not Foundation's
        // Process: with hundreds of short runs (birdc, gobgp) beside SwiftNIO in one test process,
        // Process's pipe handling closed a descriptor number twice, and the second close hit a
        // socket NIO had been given the number for (NIO's selector then asserts). The pipes are
        // close-on-exec, so no other child started later holds their write ends open.
        var out: [Int32] = [-1, -1]
        var err: [Int32] = [-1, -1]
        guard cloexecPipe(&out) else { throw PeerError("pipe failed: \(String(cString: strerror(errno)))") }
        guard cloexecPipe(&err) else {
            close(out[0])
            close(out[1])
            throw PeerError("pipe2 failed: \(String(cString: strerror(errno)))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, out[1], 1)
        posix_spawn_file_actions_adddup2(&actions, err[1], 2)
        let env = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }.map { "\($0.key)=\($0.value)" }
        let spawned = Result { try spawn(arguments, actions: &actions, environment: env) }
        close(out[1])
        close(err[1])
        let collected = DescriptorCollector(out[0])
        let collectedErrors = DescriptorCollector(err[0])
        guard case .success(let pid) = spawned else {
            _ = collected.finish()
            _ = collectedErrors.finish()
            if case .failure(let e) = spawned { throw e }
            throw PeerError("cannot start \(path)")
        }
        let deadline = ContinuousClock.now + timeout
        var status: Int32 = 0
        while waitpid(pid, &status, WNOHANG) != pid {
            if ContinuousClock.now > deadline {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                _ = collected.finish()
                _ = collectedErrors.finish()
                throw PeerError("\(path) \(arguments.joined(separator: " ")) did not finish within \(timeout)")
            }
            Thread.sleep(forTimeInterval: 0.005)
        }
        // Exited: the code; killed by a signal: 128 + the signal, as a shell says.
        let code = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return (code, collected.finish(), collectedErrors.finish())
    }

    /// posix_spawn with an empty signal mask and default dispositions (see ``start(_:outputFile:)``).
    private func spawn(_ arguments: [String], actions: inout posix_spawn_file_actions_t, environment: [String]? = nil) throws -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGUSR1, SIGUSR2] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        let rc: Int32
        if let environment {
            let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
            defer { for e in envp { free(e) } }
            rc = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        } else {
            rc = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
        }
        guard rc == 0 else { throw PeerError("cannot start \(path): \(String(cString: strerror(rc)))") }
        return pid
    }

    /// ``run(_:environment:timeout:)`` from async code: the wait happens on a thread of its own
    /// (``offThePool(_:)``), not on one of the cooperative pool's few threads, so a long peer run
    /// does not stall every other test's tasks. Swift picks this overload in async contexts.
    @discardableResult
    public func run(_ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(60)) async throws -> String {
        try await offThePool { try self.run(arguments, environment: environment, timeout: timeout) }
    }

    /// ``runToExit(_:environment:timeout:)`` from async code, waiting off the cooperative pool.
    public func runToExit(_ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(60)) async throws -> (
        status: Int32, stdout: String, stderr: String
    ) {
        try await offThePool { try self.runToExit(arguments, environment: environment, timeout: timeout) }
    }

    /// Starts the program in the background; stop it with ``RunningPeer/stop(signal:)``.
    ///
    /// Spawned with `posix_spawn` and an empty signal mask: Foundation's `Process` passes on the
    /// test runner's blocked signals, and a peer with SIGTERM blocked (nfcapd) never shuts down cleanly.
    /// `outputFile`, when given, receives the program's standard output and error (for the
    /// message of a test that fails because the peer did).
    public func start(_ arguments: [String], outputFile: String? = nil) throws -> RunningPeer {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if let outputFile {
            posix_spawn_file_actions_addopen(&actions, 1, outputFile, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        let pid = try spawn(arguments, actions: &actions)
        return RunningPeer(pid: pid, description: ([path] + arguments).joined(separator: " "))
    }
}

extension ExternalPeer {
    /// Starts a peer that listens on a UDP port of 127.0.0.1 it is told (`arguments(port)`) and
    /// says nothing when ready (nfcapd): picks a free port, starts the peer, and waits until the
    /// port is bound. A port is free only when it is picked: if the peer exits first (another
    /// test took the port), it is started again on another one, three times at most. The error
    /// says what the peer printed.
    public func startUDPListener(_ arguments: (Int) -> [String]) async throws -> (peer: RunningPeer, port: Int) {
        var output = ""
        for _ in 0..<3 {
            let port = try freeUDPPort()
            let log = FileManager.default.temporaryDirectory.appendingPathComponent("mamori-peer-\(UUID().uuidString).log").path
            defer { try? FileManager.default.removeItem(atPath: log) }
            let peer = try start(arguments(port), outputFile: log)
            if try await waitForUDPListener(port: port, while: { peer.isRunning }) { return (peer, port) }
            peer.stop()
            output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        }
        throw PeerError("\(path) did not listen on UDP after three tries; it printed:\n\(output.suffix(2000))")
    }
}

/// A peer running in the background.
public final class RunningPeer: @unchecked Sendable {
    // @unchecked: used from one test task at a time.
    let pid: pid_t
    public let description: String
    private var exited = false

    init(pid: pid_t, description: String) {
        self.pid = pid
        self.description = description
    }

    public var isRunning: Bool {
        if exited { return false }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { exited = true }
        return !exited
    }

    /// Sends `signal` (SIGTERM by default) and waits up to 10 s for exit, then kills it.
    public func stop(signal: Int32 = SIGTERM) {
        guard isRunning else { return }
        kill(pid, signal)
        let sent = ContinuousClock.now
        let deadline = sent + .seconds(10)
        while isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.02) }
        // This wait holds its thread (a defer cannot await): say so when it is long.
        if ContinuousClock.now - sent > .seconds(1) {
            FileHandle.standardError.write(
                Data("ExternalPeer.stop: \(description) (pid \(pid)) took \(ContinuousClock.now - sent) to exit\n".utf8))
        }
        if isRunning {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            exited = true
        }
    }

    deinit { stop(signal: SIGKILL) }
}

/// A test peer failed or is missing.
public struct PeerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A pipe whose two ends are close-on-exec (Glibc's module has no pipe2).
func cloexecPipe(_ fds: inout [Int32]) -> Bool {
    guard pipe(&fds) == 0 else { return false }
    for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    return true
}

/// Reads a descriptor to its end on a background thread, then closes it (once).
final class DescriptorCollector: @unchecked Sendable {
    private var data = [UInt8]()
    private let done = DispatchSemaphore(value: 0)

    init(_ fd: Int32) {
        Thread.detachNewThread { [self] in
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    data += buffer[0..<n]
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            close(fd)
            done.signal()
        }
    }

    func finish() -> String {
        done.wait()
        return String(decoding: data, as: UTF8.self)
    }
}

/// A UDP port that was free a moment ago on 127.0.0.1 (for peers that cannot bind port 0 and report it).
/// Free for TCP too (a DNS server binds both), and below the kernel's ephemeral range.
public func freeUDPPort() throws -> Int { try freePort() }

/// A TCP port that was free a moment ago on 127.0.0.1 (for servers started as subprocesses).
/// Free for UDP too, and below the kernel's ephemeral range.
public func freeTCPPort() throws -> Int { try freePort() }

/// A port of 127.0.0.1 free for both UDP and TCP a moment ago, picked at random below the kernel's
/// ephemeral range: a port handed out by `bind(0)` is one an outgoing connection of the busy test
/// process may take as its local port before the peer binds it (Unbound, which binds UDP and TCP,
/// once failed to start that way under the whole suite's load), while ports below the range are
/// only ever taken on purpose. Falls back to the kernel's choice when the range leaves no room.
///
/// A port is handed out once per test process (``HandedOutPorts``): free a moment ago is not free
/// when the peer binds it seconds later if another test drew the same port meanwhile (a full run
/// on two cores: `mamori serve` found its collector's port taken after an operator bootstrap).
func freePort() throws -> Int {
    let range = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8))?
        .split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
    let low = range?.first ?? 32_768
    if low > 12_000 {
        for _ in 0..<500 {
            let port = Int.random(in: 10_000..<low)
            guard HandedOutPorts.claim(port) else { continue }
            guard let udp = try? bindLoopback(type: Int32(SOCK_DGRAM.rawValue), port: port) else { continue }
            defer { close(udp.fd) }
            guard let tcp = try? bindLoopback(type: Int32(SOCK_STREAM.rawValue), port: port) else { continue }
            close(tcp.fd)
            return port
        }
    }
    let (fd, port) = try bindLoopback(type: Int32(SOCK_DGRAM.rawValue))
    close(fd)
    return port
}

/// The ports ``freePort()`` has handed out in this process, with their neighbours: SIPp binds its
/// media port and the one two above it, so a port within 3 of one handed out is not handed out
/// again. Bounded: forgotten after 4,000 ports, long after the peers that took the first ones stopped.
enum HandedOutPorts {
    private static let ports = Mutex(Set<Int>())

    /// True, and remembered, when neither `port` nor a neighbour has been handed out.
    static func claim(_ port: Int) -> Bool {
        ports.withLock { taken in
            if taken.count >= 4_000 { taken.removeAll() }
            guard (port - 3...port + 3).allSatisfy({ !taken.contains($0) }) else { return false }
            taken.insert(port)
            return true
        }
    }
}

/// A socket of `type` bound to an ephemeral port on 127.0.0.1: its descriptor (the caller closes
/// it) and the port the kernel chose.
func bindLoopback(type: Int32, address: String = "127.0.0.1", port: Int = 0) throws -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, type, 0)
    guard fd >= 0 else { throw PeerError("socket() failed") }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = UInt16(port).bigEndian
    addr.sin_addr.s_addr = inet_addr(address)
    let bound = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else {
        close(fd)
        throw PeerError("bind() on \(address) failed")
    }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    return (fd, Int(UInt16(bigEndian: addr.sin_port)))
}

/// Polls /proc/net/udp until something listens on `port` (at most 30 s): for peers such as nfcapd
/// that bind after they start and say nothing when they are ready.
public func waitForUDPListener(port: Int) async throws {
    guard try await waitForUDPListener(port: port, while: { true }) else { throw PeerError("nothing listens on UDP \(port) after 30 s") }
}

/// Polls /proc/net/udp until something listens on `port`: true then; false when `alive` turns
/// false (the peer exited) or 30 s pass.
func waitForUDPListener(port: Int, while alive: () -> Bool) async throws -> Bool {
    try await waitForListener("/proc/net/udp", port: port, while: alive)
}

/// Polls /proc/net/tcp until something listens on TCP `port` of any address (at most 30 s): for
/// peers that say nothing when they are ready (ExaBGP). True then; false when `alive` turns false
/// (the peer exited) or the time is up.
public func waitForTCPListener(port: Int, while alive: () -> Bool) async throws -> Bool {
    // State 0A is TCP_LISTEN.
    try await waitForListener("/proc/net/tcp", port: port, state: "0A", while: alive)
}

private func waitForListener(_ table: String, port: Int, state: String? = nil, while alive: () -> Bool) async throws -> Bool {
    let hex = ":" + String(format: "%04X", port)
    let deadline = ContinuousClock.now + .seconds(30)
    while ContinuousClock.now < deadline {
        // Read to its end (in `listening`): String(contentsOfFile:) stops after 4 KiB of a procfs
        // file, about 30 sockets, and the whole suite holds hundreds.
        if listening(table, hex: hex, state: state) { return true }
        guard alive() else { return false }
        try await Task.sleep(for: .milliseconds(50))
    }
    // A wait whose task was kept off the cooperative pool past the deadline looks once more.
    return listening(table, hex: hex, state: state)
}

private func listening(_ table: String, hex: String, state: String?) -> Bool {
    let text =
        FileHandle(forReadingAtPath: table).map { h in
            defer { try? h.close() }
            return String(decoding: h.readDataToEndOfFile(), as: UTF8.self)
        } ?? ""
    return text.split(separator: "\n").contains { line in
        let columns = line.split(separator: " ")
        return columns.count > 3 && columns[1].hasSuffix(hex) && (state.map { columns[3] == $0 } ?? true)
    }
}

/// Runs blocking work (a peer run to its end, which polls with `Thread.sleep`) on a thread of its
/// own and awaits it. Swift's cooperative pool has one thread per core, two on the CI machine: a
/// test that blocks one of them for minutes starves every other test's tasks, whose time limits
/// then run out while they wait for a thread.
public func offThePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
}
