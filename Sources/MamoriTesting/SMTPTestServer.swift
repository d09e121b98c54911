import Foundation

/// A real SMTP server for the tests: aiosmtpd from Debian's python3-aiosmtpd, run by
/// `/usr/bin/python3 -m aiosmtpd` on 127.0.0.1, storing what it accepts in a Maildir in a
/// temporary directory. Its handler (written by the test) refuses the recipients it is told to.
public final class SMTPTestServer: @unchecked Sendable {
    // @unchecked: used by one test at a time.
    public let directory: URL
    public let port: Int
    private let peer: RunningPeer
    private var maildir: String { directory.appendingPathComponent("maildir").path }
    private var logPath: String { directory.appendingPathComponent("server.log").path }

    /// Debian's Python, never the pyenv one on PATH: python3-aiosmtpd installs for it.
    public static let python = "/usr/bin/python3"

    private init(directory: URL, port: Int, peer: RunningPeer) {
        self.directory = directory
        self.port = port
        self.peer = peer
    }

    /// A new temporary directory for one test.
    public static func makeDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mamori-smtp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Throws a clear error when `/usr/bin/python3` cannot import aiosmtpd.
    public static func requireAiosmtpd() throws {
        let env = try ExternalPeer.require("env", debianPackage: "coreutils")
        do {
            try env.run([python, "-c", "import aiosmtpd"], timeout: .seconds(180))
        } catch {
            throw PeerError(
                "test peer aiosmtpd is not installed for \(python): run `apt-get install python3-aiosmtpd` "
                    + "(scripts/test installs it) — \(error)")
        }
    }

    /// A self-signed certificate for `localhost` and 127.0.0.1 in `directory`: (certificate, key) paths.
    public static func makeCertificate(in directory: URL) throws -> (certificate: String, key: String) {
        let openssl = try ExternalPeer.require("openssl", debianPackage: "openssl")
        let certificate = directory.appendingPathComponent("cert.pem").path
        let key = directory.appendingPathComponent("key.pem").path
        try openssl.run(
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days", "1",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-keyout", key, "-out", certificate,
            ], timeout: .seconds(60))
        return (certificate, key)
    }

    /// Starts aiosmtpd in `directory` (made if nil); with STARTTLS when `tls` is given. `options`
    /// go to the handler: addresses to refuse, `plain=504`.
    public static func start(
        in directory: URL? = nil, tls: (certificate: String, key: String)? = nil, options: [String] = []
    ) async throws -> SMTPTestServer {
        try requireAiosmtpd()
        let directory = try directory ?? makeDirectory()
        try handlerModule.write(to: directory.appendingPathComponent("mamori_smtp_handler.py"), atomically: true, encoding: .utf8)
        try parserScript.write(to: directory.appendingPathComponent("read_maildir.py"), atomically: true, encoding: .utf8)
        let port = try freeTCPPort()
        var arguments = [
            python, "-m", "aiosmtpd", "-n", "-d", "-l", "127.0.0.1:\(port)",
            "-c", "mamori_smtp_handler.RecordingMailbox",
        ]
        if let tls { arguments += ["--tlscert", tls.certificate, "--tlskey", tls.key] }
        arguments += ["--", directory.appendingPathComponent("maildir").path] + options
        // sh: to run in the directory (so `-m` finds the handler module) and keep the server's log.
        let command =
            "cd \(shellQuoted(directory.path)) && exec " + arguments.map(shellQuoted).joined(separator: " ")
            + " 2>" + shellQuoted(directory.appendingPathComponent("server.log").path)
        let sh = try ExternalPeer.require("sh", debianPackage: "dash")
        let server = SMTPTestServer(directory: directory, port: port, peer: try sh.start(["-c", command]))
        try await server.waitUntilListening()
        return server
    }

    /// Polls until a TCP connection to the port succeeds (at most 180 s: a loaded machine starts
    /// Python slowly). The error says how long it waited, the last connect error and whether the
    /// server process was still running.
    private func waitUntilListening() async throws {
        let started = ContinuousClock.now
        let deadline = started + .seconds(180)
        var lastError = "none"
        var running = true
        while ContinuousClock.now < deadline {
            switch Self.connectError(port: port) {
            case nil: return
            case let e?: lastError = e
            }
            running = peer.isRunning
            if !running { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let log = serverLog()
        stop()
        throw PeerError(
            "aiosmtpd did not accept connections on 127.0.0.1:\(port) after \(ContinuousClock.now - started) (last connect error: \(lastError); server process \(running ? "running" : "exited")); its log:\n\(log)"
        )
    }

    /// Nil when a TCP connection to 127.0.0.1:`port` succeeds, else why not.
    private static func connectError(port: Int) -> String? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return "socket: \(String(cString: strerror(errno)))" }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return rc == 0 ? nil : "connect: \(String(cString: strerror(errno)))"
    }

    /// The server's log (`-d`: every command line it received).
    public func serverLog() -> String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    /// The command lines the server received, as its log shows them (`EHLO mamori.test`, `QUIT` …).
    public func receivedCommands() -> [String] {
        serverLog().split(separator: "\n").compactMap { line in
            guard let start = line.range(of: ">> b'") else { return nil }
            return String(line[start.upperBound...].dropLast())
        }
    }

    /// The messages in the Maildir, parsed by Python's `email` package.
    public func delivered() throws -> [DeliveredMessage] {
        let env = try ExternalPeer.require("env", debianPackage: "coreutils")
        let json = try env.run([Self.python, directory.appendingPathComponent("read_maildir.py").path, maildir], timeout: .seconds(30))
        return try JSONDecoder().decode([DeliveredMessage].self, from: Data(json.utf8))
    }

    /// Stops the server and removes its directory.
    public func stop() {
        peer.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    private static func shellQuoted(_ s: String) -> String {
        "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// The user name and password the test server accepts for AUTH.
    public static let username = "mamori"
    public static let password = "s3cret-p4ss"

    /// aiosmtpd's Maildir handler, refusing the recipients given after the Maildir path with 550,
    /// accepting AUTH PLAIN and LOGIN for mamori / s3cret-p4ss (aiosmtpd offers AUTH only after
    /// STARTTLS), recording the login as X-Authenticated-As; with the argument `plain=504` it
    /// answers AUTH PLAIN as an unknown mechanism.
    private static let handlerModule = """
        from aiosmtpd.handlers import Mailbox
        from aiosmtpd.smtp import MISSING, AuthResult, LoginPassword
        import base64

        USERNAME = b"\(username)"
        PASSWORD = b"\(password)"


        class RecordingMailbox(Mailbox):
            def __init__(self, mail_dir, options=()):
                super().__init__(mail_dir)
                self.plain_unsupported = "plain=504" in options
                self.refused = {o.lower() for o in options if "@" in o}

            @classmethod
            def from_cli(cls, parser, *args):
                if len(args) < 1:
                    parser.error("The directory for the maildir is required")
                return cls(args[0], args[1:])

            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
                if address.lower() in self.refused:
                    return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
                envelope.rcpt_tos.append(address)
                return "250 OK"

            def prepare_message(self, session, envelope):
                message = super().prepare_message(session, envelope)
                if session.login_data is not None:
                    message["X-Authenticated-As"] = session.login_data.decode()
                return message

            @staticmethod
            def check(login, password):
                if login == USERNAME and password == PASSWORD:
                    return AuthResult(success=True, auth_data=LoginPassword(login, password))
                return AuthResult(success=False, handled=False)

            async def auth_PLAIN(self, server, args):
                if self.plain_unsupported:
                    await server.push("504 5.5.4 Unrecognized authentication type")
                    return AuthResult(success=False, handled=True)
                if len(args) < 2:
                    await server.push("501 5.5.2 initial response expected")
                    return AuthResult(success=False, handled=True)
                _, login, password = base64.b64decode(args[1]).split(b"\\0")
                return self.check(login, password)

            async def auth_LOGIN(self, server, args):
                login = await server.challenge_auth("Username:")
                if login is MISSING:
                    return AuthResult(success=False, handled=False)
                password = await server.challenge_auth("Password:")
                if password is MISSING:
                    return AuthResult(success=False, handled=False)
                return self.check(login, password)

        """

    /// Prints the Maildir's messages as JSON, decoded with Python's `email` package.
    private static let parserScript = """
        import email, email.policy, json, mailbox, sys

        out = []
        for key in sorted(mailbox.Maildir(sys.argv[1], factory=None).keys()):
            raw = mailbox.Maildir(sys.argv[1], factory=None).get_bytes(key)
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            text = msg.get_body(preferencelist=("plain",))
            html = msg.get_body(preferencelist=("html",))
            out.append({
                "subject": str(msg["subject"]),
                "from": str(msg["from"]),
                "to": str(msg["to"]),
                "envelopeRecipients": [r.strip() for r in str(msg["X-RcptTo"]).split(",")],
                "authenticatedAs": msg["X-Authenticated-As"],
                "contentType": msg.get_content_type(),
                "text": text.get_content() if text is not None else None,
                "html": html.get_content() if html is not None else None,
                "raw": raw.decode("ascii", "replace"),
            })
        print(json.dumps(out))

        """
}

/// One message as aiosmtpd stored it, decoded by Python's `email` package.
public struct DeliveredMessage: Decodable, Sendable {
    public var subject: String
    public var from: String
    public var to: String
    public var envelopeRecipients: [String]
    public var authenticatedAs: String?
    public var contentType: String
    public var text: String?
    public var html: String?
    public var raw: String
}
