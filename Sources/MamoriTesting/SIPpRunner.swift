import Foundation

/// SIPp (Debian's `sip-tester`) as a test caller and callee on loopback.
///
/// ``call(_:scenario:target:name:holdMilliseconds:rate:timeout:)`` runs a UAC scenario once per
/// call (an injection file, `SEQUENTIAL`: field 0 the caller's account as the From user, field 1
/// the number dialled) and returns its exit status (0: every call went as the scenario expects)
/// with its logs; ``startUAS(scenario:)`` starts a UAS that answers until stopped. Every run is
/// bounded: SIPp's own `-timeout` with `-timeout_error`, and an outer limit that kills it. Every
/// SIPp binds a free port of 127.0.0.1 (never 5060) and writes its logs in ``directory``.
public struct SIPpRunner: Sendable {
    public let sipp: ExternalPeer
    /// Where the injection files and the logs of each run go.
    public let directory: String

    /// Throws a clear error when SIPp is not installed.
    public init(directory: String) throws {
        sipp = try ExternalPeer.require("sipp", debianPackage: "sip-tester")
        self.directory = directory
    }

    /// One UAC run.
    public struct Run: Sendable, CustomStringConvertible {
        public var name: String
        /// SIPp's exit status: 0 every call succeeded, 1 some failed, 97/99 other errors, 128+ a signal.
        public var status: Int32
        /// Its standard output and error (the final screen of statistics).
        public var output: String
        /// The scenario's `<log>` lines (`-trace_logs`): `ANSWERED …`, `REFUSED … status=…`.
        public var log: String
        /// Unexpected messages and failures (`-trace_err`).
        public var errors: String
        /// The statistics CSV (`-trace_stat`).
        public var statistics: String

        public var succeeded: Bool { status == 0 }

        public var description: String {
            // The errors and the final statistics first: they say which call failed and why, and a
            // test report cut short keeps its beginning.
            "sipp \(name) exited \(status)\n--- errors:\n\(errors.suffix(3000))\n--- output:\n\(output.suffix(2500))\n--- log:\n\(log.suffix(2000))"
        }
    }

    /// Places `calls` (account, number dialled) in order through `target` (`127.0.0.1:PORT`)
    /// with `scenario`, each held `holdMilliseconds` (the scenario's `<pause/>`), `rate` new
    /// calls a second; SIPp gives up after `timeout` (an error), and is killed 15 s after that.
    public func call(
        _ calls: [(account: String, dialled: String)], scenario: String, target: String, name: String, holdMilliseconds: Int = 0,
        rate: Int = 10, timeout: Duration = .seconds(30)
    ) async throws -> Run {
        precondition(!calls.isEmpty, "a SIPp run needs at least one call")
        let injection = directory + "/\(name).csv"
        let rows = calls.map { "\($0.account);\($0.dialled);" }
        try (["SEQUENTIAL"] + rows).joined(separator: "\n").appending("\n").write(toFile: injection, atomically: true, encoding: .utf8)
        let paths = (log: directory + "/\(name).log", errors: directory + "/\(name).errors.log", stat: directory + "/\(name).stat.csv")
        for p in [paths.log, paths.errors, paths.stat] { try? FileManager.default.removeItem(atPath: p) }
        let seconds = max(1, Int(timeout.components.seconds))
        let port = try freeUDPPort()
        let arguments = [
            target, "-sf", scenario, "-inf", injection, "-i", "127.0.0.1", "-p", "\(port)", "-mp", "\(try freeUDPPort())", "-t", "u1",
            "-m", "\(calls.count)", "-l", "\(calls.count)", "-r", "\(rate)", "-d", "\(holdMilliseconds)",
            "-timeout", "\(seconds)s", "-timeout_error", "-nostdin",
            "-trace_logs", "-log_file", paths.log, "-trace_err", "-error_file", paths.errors,
            "-trace_stat", "-stf", paths.stat, "-fd", "1",
        ]
        let result = try await sipp.runToExit(arguments, timeout: timeout + .seconds(15))
        func read(_ p: String) -> String { (try? String(contentsOfFile: p, encoding: .utf8)) ?? "" }
        return Run(
            name: name, status: result.status, output: result.stdout + result.stderr, log: read(paths.log), errors: read(paths.errors),
            statistics: read(paths.stat))
    }

    /// Starts a UAS with `scenario` on a free UDP port of 127.0.0.1 and waits until it listens.
    public func startUAS(scenario: String, name: String = "uas") async throws -> SIPpUAS {
        let log = directory + "/\(name).log"
        let errors = directory + "/\(name).errors.log"
        let (peer, port) = try await sipp.startUDPListener { port in
            [
                "-sf", scenario, "-i", "127.0.0.1", "-p", "\(port)", "-mp", "\((try? freeUDPPort()) ?? port + 2)", "-t", "u1", "-nostdin",
                "-trace_logs", "-log_file", log, "-trace_err", "-error_file", errors,
            ]
        }
        return SIPpUAS(peer: peer, port: port, logPath: log, errorsPath: errors)
    }
}

/// A SIPp UAS running until ``stop()``.
public final class SIPpUAS: @unchecked Sendable {
    // @unchecked: used from one test task at a time.
    private let peer: RunningPeer
    public let port: Int
    public let logPath: String
    public let errorsPath: String

    init(peer: RunningPeer, port: Int, logPath: String, errorsPath: String) {
        self.peer = peer
        self.port = port
        self.logPath = logPath
        self.errorsPath = errorsPath
    }

    /// The scenario's `<log>` lines so far (`INVITE ruser=… fuser=…`).
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    public var isRunning: Bool { peer.isRunning }

    /// Stops it (SIGTERM, SIGKILL after 10 s); idempotent.
    public func stop() { peer.stop() }

    deinit { peer.stop(signal: SIGKILL) }
}
