import Foundation

/// A real Kamailio (Debian's `kamailio`, 5.6) as a test softswitch on loopback: started in the
/// foreground (`-DD`, logging to standard error with `-E`, which goes to ``logPath``) with a
/// configuration file and the ports and paths it takes as `-A` defines (`SIP_PORT`, `RPC_PORT`,
/// `UAS_URI`, `DBURL`; see `Tests/KamailioControlTests/Fixtures/kamailio.cfg`), on free ports of
/// 127.0.0.1, never 5060. Ready when its JSON-RPC (xhttp + jsonrpcs) answers `core.version`.
/// Stop it with ``stop()`` (a `defer` in the test); deinit stops it too.
///
/// Kamailio forks worker processes; ``stop()`` sends SIGTERM to the main one, which ends them,
/// and kills by process id any of them still there after it (SIGKILL).
public final class KamailioPeer: @unchecked Sendable {
    // @unchecked: used from one test task at a time.

    /// Kamailio's SIP port (UDP, 127.0.0.1).
    public let sipPort: Int
    /// Kamailio's JSON-RPC port (HTTP over TCP, 127.0.0.1).
    public let rpcPort: Int
    /// Everything Kamailio logged: its accounting lines (acc, CDRs) among the rest.
    public let logPath: String
    /// The db_text directory it reads (`DBURL`).
    public let tablesDirectory: String
    private let directory: TemporaryDirectory
    private let process: RunningPeer
    private let curl: ExternalPeer
    private var workers: [pid_t] = []

    /// `http://127.0.0.1:<rpcPort>/RPC`.
    public var rpcURL: String { "http://127.0.0.1:\(rpcPort)/RPC" }

    /// Checks `configFile` (`kamailio -c`), starts Kamailio and waits (at most `timeout`) until
    /// its JSON-RPC answers; throws with what Kamailio printed when it does not. `logPath`: where
    /// its log goes (a file of its own temporary directory when nil). Throws a clear error when
    /// kamailio or curl is not installed.
    public init(
        configFile: String, tablesDirectory: String, uasPort: Int, logPath: String? = nil, defines: [String: String] = [:],
        timeout: Duration = .seconds(60)
    ) async throws {
        let kamailio = try ExternalPeer.require("kamailio", debianPackage: "kamailio")
        curl = try ExternalPeer.require("curl", debianPackage: "curl")
        directory = try TemporaryDirectory()
        self.tablesDirectory = tablesDirectory
        let log = logPath ?? directory.path + "/kamailio.log"
        self.logPath = log
        var last = ""
        for _ in 0..<3 {
            let sip = try freeUDPPort()
            var rpc = try freeTCPPort()
            while rpc == sip { rpc = try freeTCPPort() }
            var all = [
                "SIP_PORT": "\(sip)", "RPC_PORT": "\(rpc)", "UAS_URI": "\"sip:127.0.0.1:\(uasPort)\"",
                "DBURL": "\"text://\(tablesDirectory)\"",
            ]
            all.merge(defines) { _, given in given }
            let defineArguments = all.sorted { $0.key < $1.key }.flatMap { ["-A", "\($0.key)=\($0.value)"] }
            let check = try await kamailio.runToExit(["-c", "-f", configFile] + defineArguments, timeout: .seconds(30))
            guard check.status == 0 else {
                throw PeerError("kamailio -c refuses \(configFile) (exit \(check.status)):\n\(check.stderr.suffix(3000))")
            }
            let running = try kamailio.start(
                ["-f", configFile, "-DD", "-E", "-m", "256", "-M", "64", "-Y", directory.path, "-P", directory.path + "/kamailio.pid"]
                    + defineArguments, outputFile: log)
            if try await Self.waitForRPC(curl: curl, url: "http://127.0.0.1:\(rpc)/RPC", timeout: timeout, while: { running.isRunning }) {
                sipPort = sip
                rpcPort = rpc
                process = running
                workers = Self.children(of: running.pid)
                return
            }
            running.stop()
            Self.killLeft(Self.children(of: running.pid))
            last = (try? String(contentsOfFile: log, encoding: .utf8)).map { String($0.suffix(3000)) } ?? ""
            // Another port only when this one was taken meanwhile; any other failure is the answer.
            if !last.contains("Address already in use") { break }
        }
        throw PeerError("kamailio did not start (its JSON-RPC never answered); it printed:\n\(last)")
    }

    /// Calls `method` over JSON-RPC (curl, at most 10 s) and returns the answer's text.
    @discardableResult
    public func rpc(_ method: String, _ params: [String] = []) async throws -> String {
        let body = try JSONSerialization.data(
            withJSONObject: ["jsonrpc": "2.0", "method": method, "params": params, "id": 1] as [String: Any])
        return try await curl.run(
            ["-sS", "-m", "10", "-H", "Content-Type: application/json", "--data-binary", String(decoding: body, as: UTF8.self), rpcURL],
            timeout: .seconds(15))
    }

    /// The number of dialogs Kamailio holds up now (`dlg.stats_active`'s `all`).
    public func activeDialogs() async throws -> Int {
        let answer = try await rpc("dlg.stats_active")
        guard let json = try JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any],
            let result = json["result"] as? [String: Any], let all = result["all"] as? Int
        else { throw PeerError("unexpected dlg.stats_active answer: \(answer)") }
        return all
    }

    /// Kamailio's log so far.
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    public var isRunning: Bool { process.isRunning }

    /// Stops Kamailio (SIGTERM, SIGKILL after 10 s) and any worker left; idempotent.
    public func stop() {
        let known = Set(workers + Self.children(of: process.pid))
        process.stop()
        Self.killLeft(Array(known))
    }

    deinit { stop() }

    // MARK: -

    static func waitForRPC(curl: ExternalPeer, url: String, timeout: Duration, while alive: () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard alive() else { return false }
            if let r = try? await curl.runToExit(
                ["-s", "-m", "2", "--data-binary", #"{"jsonrpc":"2.0","method":"core.version","id":1}"#, url], timeout: .seconds(5)),
                r.status == 0, r.stdout.contains("kamailio")
            {
                return true
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// The processes whose parent is `pid` (from /proc).
    static func children(of pid: pid_t) -> [pid_t] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { name -> pid_t? in
            guard let child = pid_t(name),
                let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            // "pid (comm) state ppid …"
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && pid_t(fields[1]) == pid ? child : nil
        }
    }

    /// SIGKILL to each of `pids` still running as kamailio (a reused id is left alone), then
    /// waits (at most 5 s) until they are gone.
    static func killLeft(_ pids: [pid_t]) {
        let alive = pids.filter { isKamailio($0) }
        for p in alive { kill(p, SIGKILL) }
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline && alive.contains(where: { isKamailio($0) }) { Thread.sleep(forTimeInterval: 0.02) }
    }

    private static func isKamailio(_ pid: pid_t) -> Bool {
        guard let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8) else { return false }
        guard comm.hasPrefix("kamailio") else { return false }
        // A zombie (its parent gone, not yet reaped by init) holds no port: gone enough.
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        return !(stat.split(separator: ")").last?.split(separator: " ").first == "Z")
    }
}
