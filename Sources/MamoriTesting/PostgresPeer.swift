import Foundation

/// A real PostgreSQL server (Debian's package `postgresql`) on 127.0.0.1 for a test: a cluster
/// made by `initdb` in a temporary directory, a free port, a role `mamori` with a password and
/// its database `mamori`. fsync is off: a test's data need not survive a power loss.
///
/// The server refuses to run as root, so when the tests run as root its programs run as the
/// `postgres` user (which the Debian package creates) through `setpriv`, which executes the
/// program in place: the signals this peer sends reach the postmaster itself. A missing
/// PostgreSQL fails the test with the package to install.
/// ```swift
/// let server = try await PostgresPeer.start()
/// defer { server.kill() }
/// var configuration = try PostgresConfiguration(url: server.url)
/// try configuration.readPassword(from: server.passwordFile)
/// …
/// await server.stop()
/// ```
public final class PostgresPeer: @unchecked Sendable {
    // @unchecked: used from one test task at a time.
    public let port: Int
    /// The role the tests connect as, and its database.
    public let user = "mamori"
    public let database = "mamori"
    public let password: String
    /// A file holding ``password`` (for `password_file`).
    public let passwordFile: String
    public let logFile: String
    let directory: TemporaryDirectory
    let binaries: String
    let asPostgres: Bool
    /// The server's TLS settings (`-c ssl=on …`), empty without TLS.
    let tlsArguments: [String]
    /// With TLS, the PEM file of the test CA that signed the server's certificate (for
    /// `sslrootcert`); the certificate names `localhost` only.
    public let caFile: String?
    private var peer: RunningPeer

    /// `postgresql://mamori@127.0.0.1:<port>/mamori?sslmode=disable`: no password in it, as Mamori wants.
    public var url: String { "postgresql://\(user)@127.0.0.1:\(port)/\(database)?sslmode=disable" }
    public var isRunning: Bool { peer.isRunning }
    /// What the server logged so far (for a failing test's message).
    public var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    private init(
        port: Int, password: String, passwordFile: String, logFile: String, directory: TemporaryDirectory, binaries: String,
        asPostgres: Bool, tlsArguments: [String], caFile: String?, peer: RunningPeer
    ) {
        self.port = port
        self.password = password
        self.passwordFile = passwordFile
        self.logFile = logFile
        self.directory = directory
        self.binaries = binaries
        self.asPostgres = asPostgres
        self.tlsArguments = tlsArguments
        self.caFile = caFile
        self.peer = peer
    }

    /// The newest installed PostgreSQL's program directory (`<root>/<n>/bin`, Debian's layout);
    /// throws, naming the package to install, when there is none.
    public static func binaries(under root: String = "/usr/lib/postgresql") throws -> String {
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap { name in Int(name).map { ($0, "\(root)/\(name)/bin") } }
            .filter { FileManager.default.isExecutableFile(atPath: $0.1 + "/initdb") }
            .sorted { $0.0 > $1.0 }
        guard let newest = versions.first else {
            throw PeerError(
                "test peer PostgreSQL is not installed (no \(root)/*/bin/initdb): run `apt-get install postgresql` (scripts/test installs it)"
            )
        }
        return newest.1
    }

    /// Makes a cluster, starts the server and creates the role and database.
    ///
    /// - Parameter tls: also serve TLS, with a certificate for `localhost` signed by a CA of
    ///   the test's own (``caFile``), made with `openssl`.
    public static func start(tls: Bool = false) async throws -> PostgresPeer {
        let binaries = try binaries()
        let directory = try TemporaryDirectory()
        let asPostgres = getuid() == 0
        var owner: (uid: uid_t, gid: gid_t)?
        if asPostgres {
            guard let account = getpwnam("postgres") else {
                throw PeerError(
                    "the tests run as root and there is no user 'postgres' to run PostgreSQL as: run `apt-get install postgresql`")
            }
            guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else {
                throw PeerError("the tests run as root and need setpriv to run PostgreSQL as postgres: run `apt-get install util-linux`")
            }
            owner = (account.pointee.pw_uid, account.pointee.pw_gid)
            guard chown(directory.path, account.pointee.pw_uid, account.pointee.pw_gid) == 0 else {
                throw PeerError("cannot give \(directory.path) to the user postgres: \(String(cString: strerror(errno)))")
            }
        }
        var tlsArguments: [String] = []
        var caFile: String?
        if tls {
            caFile = try await makeCertificates(in: directory.path, owner: owner)
            tlsArguments = [
                "-c", "ssl=on", "-c", "ssl_cert_file=\(directory.path)/server.crt", "-c", "ssl_key_file=\(directory.path)/server.key",
            ]
        }
        let password = (0..<4).map { _ in String(UInt64.random(in: 0...UInt64.max), radix: 16) }.joined()
        let passwordFile = directory.path + "/password"
        try (password + "\n").write(toFile: passwordFile, atomically: false, encoding: .utf8)
        let initdb = program("initdb", binaries: binaries, asPostgres: asPostgres)
        try await initdb.path.run(
            initdb.prefix + [
                "-D", directory.path + "/data", "-U", "mamori_admin", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync",
                "-E", "UTF8", "--locale=C",
            ], timeout: .seconds(120))
        let logFile = directory.path + "/postgres.log"
        var failures = ""
        for _ in 0..<3 {
            let port = try freeTCPPort()
            let peer = try await launch(
                binaries: binaries, asPostgres: asPostgres, directory: directory, port: port, extra: tlsArguments, logFile: logFile)
            guard let peer else {
                failures = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
                continue
            }
            let server = PostgresPeer(
                port: port, password: password, passwordFile: passwordFile, logFile: logFile, directory: directory, binaries: binaries,
                asPostgres: asPostgres, tlsArguments: tlsArguments, caFile: caFile, peer: peer)
            try await server.psql(
                "CREATE ROLE \(server.user) LOGIN PASSWORD '\(password)'", "CREATE DATABASE \(server.database) OWNER \(server.user)")
            return server
        }
        throw PeerError("PostgreSQL did not start after three tries; it printed:\n\(failures.suffix(2000))")
    }

    /// Runs SQL statements as the cluster's superuser over the Unix socket (one transaction each).
    @discardableResult
    public func psql(_ statements: String..., database: String = "postgres") async throws -> String {
        let arguments =
            ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", directory.path, "-p", "\(port)", "-U", "mamori_admin", "-d", database]
            + statements.flatMap { ["-c", $0] }
        return try await ExternalPeer(path: binaries + "/psql").run(arguments)
    }

    /// Stops the server with a fast shutdown (SIGINT: sessions are ended, the data is kept).
    public func stop() async {
        let peer = self.peer
        _ = try? await offThePool { peer.stop(signal: SIGINT) }
    }

    /// Starts the server again on the same port and data (after ``stop()``), and waits until
    /// it accepts connections.
    public func restart() async throws {
        await stop()
        guard
            let peer = try await Self.launch(
                binaries: binaries, asPostgres: asPostgres, directory: directory, port: port, extra: tlsArguments,
                logFile: directory.path + "/postgres-restart.log")
        else {
            let output = (try? String(contentsOfFile: directory.path + "/postgres-restart.log", encoding: .utf8)) ?? ""
            throw PeerError("PostgreSQL did not start again on port \(port); it printed:\n\(output.suffix(2000))")
        }
        self.peer = peer
    }

    /// Ends the server at once (SIGQUIT: no shutdown checkpoint), for a test's cleanup.
    public func kill() { peer.stop(signal: SIGQUIT) }

    deinit { peer.stop(signal: SIGQUIT) }

    /// A CA and a server certificate for `localhost` signed by it (P-256 keys, two days), in
    /// `directory`; the server's key belongs to `owner` (PostgreSQL wants its key readable by
    /// itself alone). Returns the CA's PEM file.
    static func makeCertificates(in directory: String, owner: (uid: uid_t, gid: gid_t)?) async throws -> String {
        let openssl = try ExternalPeer.require("openssl", debianPackage: "openssl")
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try await openssl.run(
            ["req", "-x509"] + ec + [
                "-keyout", "\(directory)/ca.key", "-out", "\(directory)/ca.pem", "-days", "2", "-subj", "/CN=Mamori test CA",
            ])
        try await openssl.run(
            ["req"] + ec + ["-keyout", "\(directory)/server.key", "-out", "\(directory)/server.csr", "-subj", "/CN=localhost"])
        try "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n".write(
            toFile: "\(directory)/server.ext", atomically: false, encoding: .utf8)
        try await openssl.run([
            "x509", "-req", "-in", "\(directory)/server.csr", "-CA", "\(directory)/ca.pem", "-CAkey", "\(directory)/ca.key",
            "-CAcreateserial", "-out", "\(directory)/server.crt", "-days", "2", "-extfile", "\(directory)/server.ext",
        ])
        let key = "\(directory)/server.key"
        if let owner, chown(key, owner.uid, owner.gid) != 0 {
            throw PeerError("cannot give \(key) to the user postgres: \(String(cString: strerror(errno)))")
        }
        guard chmod(key, 0o600) == 0 else { throw PeerError("cannot chmod \(key): \(String(cString: strerror(errno)))") }
        return "\(directory)/ca.pem"
    }

    /// `name` of the PostgreSQL programs, run as the postgres user when the tests run as root.
    static func program(_ name: String, binaries: String, asPostgres: Bool) -> (path: ExternalPeer, prefix: [String]) {
        asPostgres
            ? (
                ExternalPeer(path: "/usr/bin/setpriv"),
                ["--reuid=postgres", "--regid=postgres", "--clear-groups", "--", binaries + "/" + name]
            )
            : (ExternalPeer(path: binaries + "/" + name), [])
    }

    /// Starts the postmaster on `port`, and waits until it accepts connections; nil if it exited first.
    static func launch(
        binaries: String, asPostgres: Bool, directory: TemporaryDirectory, port: Int, extra: [String], logFile: String
    ) async throws
        -> RunningPeer?
    {
        let postgres = program("postgres", binaries: binaries, asPostgres: asPostgres)
        let peer = try postgres.path.start(
            postgres.prefix + [
                "-D", directory.path + "/data", "-k", directory.path, "-p", "\(port)", "-c", "listen_addresses=127.0.0.1", "-c",
                "fsync=off",
                "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=60", "-c", "shared_buffers=16MB",
            ] + extra, outputFile: logFile)
        guard try await waitForTCPListener(port: port, while: { peer.isRunning }) else {
            peer.stop(signal: SIGKILL)
            return nil
        }
        // Listening is not ready: until its startup ends the server answers "starting up".
        let ready = ExternalPeer(path: binaries + "/pg_isready")
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let result = try await ready.runToExit(["-q", "-h", directory.path, "-p", "\(port)", "-U", "mamori_admin", "-d", "postgres"])
            if result.status == 0 { return peer }
            guard peer.isRunning else { return nil }
            try await Task.sleep(for: .milliseconds(100))
        }
        peer.stop(signal: SIGKILL)
        throw PeerError("PostgreSQL listened on port \(port) but did not accept connections within 60 s")
    }
}
