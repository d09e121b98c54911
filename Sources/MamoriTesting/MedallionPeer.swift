import Foundation

extension ExternalPeer {
    /// A program of the project's PyPI test tools, `.build/pytools/bin/<name>` (scripts/test
    /// installs them there): found from the package root of the running test binary
    /// (`<root>/.build/<triple>/debug/…`) or `$MAMORI_PYTOOLS`. Throws an error that says how to
    /// install it when it is not there.
    public static func pythonTool(_ name: String) throws -> ExternalPeer {
        var directories: [String] = []
        if let dir = ProcessInfo.processInfo.environment["MAMORI_PYTOOLS"] { directories.append(dir + "/bin") }
        if let running = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            var url = URL(fileURLWithPath: running).deletingLastPathComponent()
            while url.path != "/" && url.lastPathComponent != ".build" { url = url.deletingLastPathComponent() }
            if url.lastPathComponent == ".build" { directories.append(url.path + "/pytools/bin") }
        }
        for d in directories where FileManager.default.isExecutableFile(atPath: d + "/" + name) {
            return ExternalPeer(path: d + "/" + name)
        }
        throw PeerError(
            "the PyPI test tool '\(name)' is not in \(directories.joined(separator: " or ")): run scripts/test, which installs the "
                + "project's PyPI test tools into .build/pytools")
    }
}

/// OASIS medallion (PyPI `medallion`, the TAXII 2.1 reference server) as the ISAC's hub on
/// loopback: its memory back end loaded with one API root (`isac`) and the collections given,
/// HTTP Basic users as given, listening on 127.0.0.1:<free port>. Stop it with ``stop()`` (a
/// `defer` in the test); deinit kills it too.
public final class MedallionPeer: @unchecked Sendable {
    // @unchecked: used from one test task at a time.

    /// A collection on the hub; medallion's permissions are per collection, the same for every user.
    public struct Collection: Sendable {
        public var id: String
        public var title: String
        public var canRead: Bool
        public var canWrite: Bool
        /// STIX objects already in it (JSON objects), with their manifest made from them.
        public var objects: [[String: any Sendable]]

        public init(
            id: String = UUID().uuidString.lowercased(), title: String, canRead: Bool = true, canWrite: Bool = true,
            objects: [[String: any Sendable]] = []
        ) {
            self.id = id
            self.title = title
            self.canRead = canRead
            self.canWrite = canWrite
            self.objects = objects
        }
    }

    public let port: Int
    public let apiRoot = "isac"
    public let collections: [Collection]
    /// HTTP Basic accounts: name → password.
    public let users: [String: String]
    public var baseURL: String { "http://127.0.0.1:\(port)" }
    public var apiRootURL: String { "\(baseURL)/\(apiRoot)/" }
    private let directory: TemporaryDirectory
    private let process: RunningPeer
    private let outputPath: String

    /// Starts medallion and waits (at most 30 s) until it listens; throws with what it printed
    /// when it does not, and a clear error when the PyPI tool is missing.
    public init(collections: [Collection], users: [String: String] = ["carrier-a": "carrier-a's long password"]) async throws {
        let medallion = try ExternalPeer.pythonTool("medallion")
        self.collections = collections
        self.users = users
        directory = try TemporaryDirectory()
        port = try freeTCPPort()
        let base = "http://127.0.0.1:\(port)"
        let now = "2026-01-01T00:00:00.000Z"
        let data: [String: Any] = [
            "/discovery": [
                "title": "Mamori test ISAC", "description": "medallion started by Mamori's tests", "default": "\(base)/\(apiRoot)/",
                "api_roots": ["\(base)/\(apiRoot)/"],
            ],
            apiRoot: [
                "information": [
                    "title": "ISAC", "description": "indicators shared between carriers",
                    "versions": ["application/taxii+json;version=2.1"], "max_content_length": 10_485_760,
                ],
                "status": [],
                "collections": collections.map { c -> [String: Any] in
                    [
                        "id": c.id, "title": c.title, "can_read": c.canRead, "can_write": c.canWrite,
                        "media_types": ["application/stix+json;version=2.1"], "objects": c.objects,
                        "manifest": c.objects.map { o -> [String: Any] in
                            [
                                "id": o["id"] ?? "", "date_added": now, "version": o["modified"] ?? o["created"] ?? now,
                                "media_type": "application/stix+json;version=2.1",
                            ]
                        },
                    ]
                },
            ],
        ]
        let dataPath = directory.path + "/data.json"
        try JSONSerialization.data(withJSONObject: data, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: dataPath))
        let config: [String: Any] = [
            "backend": ["module": "medallion.backends.memory_backend", "module_class": "MemoryBackend", "filename": dataPath],
            "users": users,
            "taxii": ["max_page_size": 100],
        ]
        let configPath = directory.path + "/medallion.json"
        try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted]).write(to: URL(fileURLWithPath: configPath))
        outputPath = directory.path + "/medallion.out"
        process = try medallion.start(["--host", "127.0.0.1", "--port", String(port), configPath], outputFile: outputPath)
        let running = process
        guard try await waitForTCPListener(port: port, while: { running.isRunning }) else {
            process.stop()
            throw PeerError("medallion did not listen on 127.0.0.1:\(port):\n\(describeFiles(outputPath))")
        }
    }

    /// What medallion printed (for the message of a failing test).
    public var log: String { describeFiles(outputPath) }

    /// Stops medallion (SIGTERM, then SIGKILL after 10 s); idempotent.
    public func stop() { process.stop() }

    deinit { process.stop() }
}
