// An SMTP client (RFC 5321) written here by hand on SwiftNIO: none of the Swift packages available
// to this project speaks SMTP, so the dialogue is spelled out below — EHLO/HELO, STARTTLS (RFC 3207),
// AUTH PLAIN/LOGIN (RFC 4954, 4616), MAIL, RCPT, DATA with dot-stuffing, QUIT. One connection per
// message; no pipelining, no connection reuse: notices are few.

import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// Sends ``MailMessage``s to one SMTP server (a relay or submission server).
///
/// ```swift
/// let client = SMTPClient(configuration: .init(host: "mail.example.net", port: 587,
///                                              tlsMode: .startTLSRequired,
///                                              credentials: .init(username: "mamori", password: secret)))
/// let delivery = try await client.send(message)   // delivery.finalReply: "250 2.0.0 Ok: queued as …"
/// ```
public struct SMTPClient: Sendable {
    /// Whether and how the connection is encrypted with STARTTLS.
    public enum TLSMode: Sendable, Equatable {
        /// Never start TLS: everything, including the message, travels in plaintext.
        case none
        /// Start TLS when the server offers STARTTLS; continue in plaintext when it does not
        /// offer it or refuses it (opportunistic TLS). A failed handshake still fails the send.
        case startTLSIfOffered
        /// Start TLS or fail: a server without STARTTLS gets no message (``SMTPError/Reason/startTLSNotOffered``).
        case startTLSRequired
    }

    /// A user name and password for SMTP AUTH.
    public struct Credentials: Sendable, CustomStringConvertible {
        public var username: String
        public var password: String

        public init(username: String, password: String) {
            self.username = username
            self.password = password
        }

        /// The user name only: the password never reaches a log.
        public var description: String { "\(username) (password hidden)" }
    }

    /// Where to send and how.
    public struct Configuration: Sendable {
        /// The server's host name or IP address.
        public var host: String
        /// The server's port: 25 (relay), 587 (submission) or a test port.
        public var port: Int
        /// STARTTLS policy; see ``TLSMode``.
        public var tlsMode: TLSMode
        /// A PEM file of CA (or self-signed) certificates to trust instead of the system's roots.
        public var trustedCACertificatePath: String?
        /// The name the server's certificate must carry; defaults to ``host``. Set it when connecting
        /// by IP address to a server whose certificate names a host.
        public var tlsServerName: String?
        /// Accept any certificate (no chain or name check). Only for a test server; it must be set
        /// explicitly and defeats the point of TLS against an active attacker.
        public var insecureDisableCertificateVerification: Bool
        /// Log in with AUTH PLAIN (or AUTH LOGIN when only that is offered) after STARTTLS.
        public var credentials: Credentials?
        /// Send ``credentials`` even when the connection is not encrypted. Off by default: without
        /// it the client refuses before sending them (``SMTPError/Reason/plaintextAuthenticationRefused``).
        public var allowPlaintextAuthentication: Bool
        /// The name this client gives in EHLO/HELO; defaults to this machine's host name.
        public var heloName: String
        /// How long to wait for the TCP connection.
        public var connectTimeout: Duration
        /// How long to wait for each reply of the server, including the TLS handshake and the
        /// answer to the whole message after DATA.
        public var commandTimeout: Duration

        /// A configuration; only `host` is required.
        public init(
            host: String,
            port: Int = 25,
            tlsMode: TLSMode = .startTLSIfOffered,
            trustedCACertificatePath: String? = nil,
            tlsServerName: String? = nil,
            insecureDisableCertificateVerification: Bool = false,
            credentials: Credentials? = nil,
            allowPlaintextAuthentication: Bool = false,
            heloName: String? = nil,
            connectTimeout: Duration = .seconds(10),
            commandTimeout: Duration = .seconds(60)
        ) {
            self.host = host
            self.port = port
            self.tlsMode = tlsMode
            self.trustedCACertificatePath = trustedCACertificatePath
            self.tlsServerName = tlsServerName
            self.insecureDisableCertificateVerification = insecureDisableCertificateVerification
            self.credentials = credentials
            self.allowPlaintextAuthentication = allowPlaintextAuthentication
            self.heloName = heloName ?? Self.localHostName()
            self.connectTimeout = connectTimeout
            self.commandTimeout = commandTimeout
        }

        static func localHostName() -> String {
            var buffer = [CChar](repeating: 0, count: 256)
            guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
            let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return name.isEmpty ? "localhost" : name
        }
    }

    /// Where and how to send.
    public var configuration: Configuration
    /// Receives the dialogue at debug level, with credentials hidden.
    public var logger: Logger
    private let eventLoopGroup: any EventLoopGroup

    /// A client; connections are made on `eventLoopGroup` (the process-wide NIO group by default).
    public init(
        configuration: Configuration,
        logger: Logger = Logger(label: "mamori.notify.smtp"),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.configuration = configuration
        self.logger = logger
        self.eventLoopGroup = eventLoopGroup
    }

    /// Sends `message` from its `from` address to every address in `to`, over one new connection.
    ///
    /// Either every recipient is accepted and the server takes the message, or this throws an
    /// ``SMTPError`` naming the stage that failed and no message is handed over.
    public func send(_ message: MailMessage) async throws -> SMTPDelivery {
        try await send(rendered: message.rendered(), from: message.from.address, to: message.to.map(\.address))
    }

    /// Sends already rendered RFC 5322 text (line breaks `\n` or `\r\n`) with the given envelope.
    /// The text is dot-stuffed here; it should be 7-bit unless the server offers 8BITMIME.
    public func send(rendered content: String, from sender: String, to recipients: [String]) async throws -> SMTPDelivery {
        guard !recipients.isEmpty else {
            throw SMTPError(stage: .configuration, reason: .invalidInput, detail: "a message needs at least one recipient")
        }
        for address in [sender] + recipients where address.unicodeScalars.contains(where: { $0.value < 33 || $0 == "<" || $0 == ">" }) {
            throw SMTPError(
                stage: .configuration, reason: .invalidInput, detail: "\(address.debugDescription) is not a valid envelope address")
        }
        let conversation = try await SMTPConversation.open(configuration: configuration, logger: logger, group: eventLoopGroup)
        do {
            let delivery = try await conversation.deliver(content: content, from: sender, to: recipients)
            await conversation.quit()
            return delivery
        } catch {
            await conversation.quit()
            throw error
        }
    }
}

/// What happened when a message was handed over.
public struct SMTPDelivery: Sendable {
    /// The message travelled encrypted (STARTTLS succeeded).
    public var usedTLS: Bool
    /// The client logged in with AUTH.
    public var authenticated: Bool
    /// The envelope recipients the server accepted (all of them: a refusal fails the send).
    public var acceptedRecipients: [String]
    /// The server's answer to the message, often naming its queue id: `250 2.0.0 Ok: queued as 4F3C…`.
    public var finalReply: SMTPReply
}

/// The extensions a server announced in its EHLO reply (RFC 5321 §4.1.1.1), keyword → parameters.
struct SMTPExtensions {
    var keywords: [String: [String]] = [:]

    init(ehloReply: SMTPReply?) {
        for line in ehloReply?.lines.dropFirst() ?? [] {
            // "AUTH PLAIN LOGIN"; some old servers also write "AUTH=PLAIN LOGIN".
            var words = line.split(separator: " ").map(String.init)
            guard !words.isEmpty else { continue }
            var keyword = words.removeFirst().uppercased()
            if let equals = keyword.firstIndex(of: "=") {
                words.insert(String(keyword[keyword.index(after: equals)...]), at: 0)
                keyword = String(keyword[..<equals])
            }
            keywords[keyword, default: []] += words.map { $0.uppercased() }
        }
    }

    func offers(_ keyword: String) -> Bool { keywords[keyword] != nil }
    var authMechanisms: Set<String> { Set(keywords["AUTH"] ?? []) }
}

/// One connection's dialogue with the server. Used by one task from start to end.
final class SMTPConversation {
    private let channel: any Channel
    private let configuration: SMTPClient.Configuration
    private let logger: Logger
    private var extensions = SMTPExtensions(ehloReply: nil)
    private var usedTLS = false

    private init(channel: any Channel, configuration: SMTPClient.Configuration, logger: Logger) {
        self.channel = channel
        self.configuration = configuration
        self.logger = logger
    }

    /// Connects and returns a conversation that has not yet read the greeting.
    static func open(configuration: SMTPClient.Configuration, logger: Logger, group: any EventLoopGroup) async throws -> SMTPConversation {
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(SMTPReplyDecoder()))
                    try channel.pipeline.syncOperations.addHandler(SMTPClientHandler())
                }
            }
        do {
            let channel = try await bootstrap.connect(host: configuration.host, port: configuration.port).get()
            logger.debug("connected", metadata: ["server": "\(configuration.host):\(configuration.port)"])
            return SMTPConversation(channel: channel, configuration: configuration, logger: logger)
        } catch {
            let timedOut = (error as? ChannelError).map { if case .connectTimeout = $0 { true } else { false } } ?? false
            throw SMTPError(
                stage: .connect, reason: timedOut ? .timedOut : .connectionFailed,
                detail: "cannot connect to \(configuration.host):\(configuration.port): \(error)"
            )
        }
    }

    /// Greeting, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA: everything but QUIT.
    func deliver(content: String, from sender: String, to recipients: [String]) async throws -> SMTPDelivery {
        let greeting = try await exchange(nil, stage: .greeting)
        guard greeting.code == 220 else { throw SMTPError(stage: .greeting, rejected: greeting, command: nil, detail: "no 220 greeting") }

        try await hello()
        try await startTLSIfWanted()
        var authenticated = false
        if let credentials = configuration.credentials {
            try await authenticate(credentials)
            authenticated = true
        }

        let eightBit = content.utf8.contains { $0 >= 0x80 } && extensions.offers("8BITMIME")
        let mailFrom = "MAIL FROM:<\(sender)>" + (eightBit ? " BODY=8BITMIME" : "")
        let mailReply = try await exchange(mailFrom, stage: .mailFrom)
        guard mailReply.isPositiveCompletion else { throw SMTPError(stage: .mailFrom, rejected: mailReply, command: mailFrom) }

        for recipient in recipients {
            let rcpt = "RCPT TO:<\(recipient)>"
            let reply = try await exchange(rcpt, stage: .rcptTo)
            guard reply.isPositiveCompletion else { throw SMTPError(stage: .rcptTo, rejected: reply, command: rcpt) }
        }

        let dataReply = try await exchange("DATA", stage: .data)
        guard dataReply.code == 354 else { throw SMTPError(stage: .data, rejected: dataReply, command: "DATA") }
        let final = try await exchange(
            bytes: channel.allocator.buffer(bytes: Self.dotStuffed(content)), shown: "<message, \(content.utf8.count) bytes>", stage: .data)
        guard final.isPositiveCompletion else { throw SMTPError(stage: .data, rejected: final, command: "<end of data>") }

        return SMTPDelivery(usedTLS: usedTLS, authenticated: authenticated, acceptedRecipients: recipients, finalReply: final)
    }

    /// Says QUIT (waiting briefly for 221) and closes the connection; never throws.
    func quit() async {
        if channel.isActive {
            _ = try? await exchange("QUIT", stage: .data, timeout: min(configuration.commandTimeout, .seconds(5)))
        }
        try? await channel.close()
    }

    // MARK: - Steps

    /// EHLO, or HELO when the server does not know EHLO (a 5xx reply); records the extensions.
    private func hello() async throws {
        let ehlo = "EHLO \(configuration.heloName)"
        let reply = try await exchange(ehlo, stage: .ehlo)
        if reply.isPositiveCompletion {
            extensions = SMTPExtensions(ehloReply: reply)
            return
        }
        guard (500..<600).contains(reply.code) else { throw SMTPError(stage: .ehlo, rejected: reply, command: ehlo) }
        let helo = "HELO \(configuration.heloName)"
        let heloReply = try await exchange(helo, stage: .ehlo)
        guard heloReply.isPositiveCompletion else { throw SMTPError(stage: .ehlo, rejected: heloReply, command: helo) }
        extensions = SMTPExtensions(ehloReply: nil)
    }

    private func startTLSIfWanted() async throws {
        switch configuration.tlsMode {
        case .none:
            return
        case .startTLSIfOffered where !extensions.offers("STARTTLS"):
            logger.debug("server does not offer STARTTLS; continuing without TLS")
            return
        case .startTLSRequired where !extensions.offers("STARTTLS"):
            throw SMTPError(
                stage: .starttls, reason: .startTLSNotOffered,
                detail: "the server does not offer STARTTLS and the configuration requires it; nothing was sent")
        case .startTLSIfOffered, .startTLSRequired:
            break
        }
        let upgrade = try tlsUpgrade()
        let reply = try await exchange("STARTTLS", stage: .starttls, tls: upgrade)
        guard reply.code == 220 else {
            if configuration.tlsMode == .startTLSRequired {
                throw SMTPError(stage: .starttls, rejected: reply, command: "STARTTLS")
            }
            logger.warning("server refused STARTTLS; continuing without TLS", metadata: ["reply": "\(reply)"])
            return
        }
        usedTLS = true
        logger.debug("TLS established")
        // RFC 3207 §4.2: forget what was learnt before TLS and ask again.
        try await hello()
    }

    /// The TLS context from the configuration: trusted roots, and verification off only when asked.
    private func tlsUpgrade() throws -> TLSUpgrade {
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            if let path = configuration.trustedCACertificatePath {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(path))
            }
            if configuration.insecureDisableCertificateVerification {
                tls.certificateVerification = .none
            }
            let context = try NIOSSLContext(configuration: tls)
            let name = configuration.tlsServerName ?? configuration.host
            // NIOSSL checks an IP address against the certificate itself when given no name.
            let isIPAddress = (try? SocketAddress(ipAddress: name, port: 0)) != nil
            return TLSUpgrade(context: context, serverHostname: isIPAddress ? nil : name)
        } catch {
            throw SMTPError(stage: .starttls, reason: .tlsFailed, detail: "TLS configuration: \(error)")
        }
    }

    /// AUTH PLAIN when offered, else AUTH LOGIN (also when PLAIN is answered with 504); never over
    /// plaintext unless the configuration allows it.
    private func authenticate(_ credentials: SMTPClient.Credentials) async throws {
        guard usedTLS || configuration.allowPlaintextAuthentication else {
            throw SMTPError(
                stage: .auth, reason: .plaintextAuthenticationRefused,
                detail: "refusing to send credentials over an unencrypted connection (use STARTTLS, or set allowPlaintextAuthentication)")
        }
        let mechanisms = extensions.authMechanisms
        if mechanisms.contains("PLAIN") {
            let token = Data(([0] + Array(credentials.username.utf8) + [0] + Array(credentials.password.utf8))).base64EncodedString()
            let reply = try await exchange("AUTH PLAIN " + token, shown: "AUTH PLAIN <credentials>", stage: .auth)
            if reply.code == 235 { return }
            guard reply.code == 504, mechanisms.contains("LOGIN") else {
                throw SMTPError(stage: .auth, rejected: reply, command: "AUTH PLAIN <credentials>")
            }
        } else if !mechanisms.contains("LOGIN") {
            throw SMTPError(
                stage: .auth, reason: .authenticationNotOffered,
                detail: "the server offers no AUTH PLAIN or LOGIN (offered: \(mechanisms.sorted().joined(separator: " ")))")
        }
        let steps: [(line: String, shown: String, expected: Int)] = [
            ("AUTH LOGIN", "AUTH LOGIN", 334),
            (Data(credentials.username.utf8).base64EncodedString(), "<username>", 334),
            (Data(credentials.password.utf8).base64EncodedString(), "<password>", 235),
        ]
        for step in steps {
            let reply = try await exchange(step.line, shown: step.shown, stage: .auth)
            guard reply.code == step.expected else { throw SMTPError(stage: .auth, rejected: reply, command: step.shown) }
        }
    }

    // MARK: - Wire

    /// Sends `command` (nil: send nothing) and returns the server's reply.
    private func exchange(
        _ command: String?, shown: String? = nil, stage: SMTPError.Stage, tls: TLSUpgrade? = nil, timeout: Duration? = nil
    ) async throws -> SMTPReply {
        let bytes = command.map { channel.allocator.buffer(string: $0 + "\r\n") }
        return try await exchange(bytes: bytes, shown: shown ?? command, stage: stage, tls: tls, timeout: timeout)
    }

    private func exchange(
        bytes: ByteBuffer?, shown: String?, stage: SMTPError.Stage, tls: TLSUpgrade? = nil, timeout: Duration? = nil
    ) async throws -> SMTPReply {
        if let shown { logger.debug("C: \(shown)") }
        let promise = channel.eventLoop.makePromise(of: SMTPReply.self)
        let exchange = SMTPExchange(
            bytes: bytes, reply: promise, timeout: TimeAmount(timeout ?? configuration.commandTimeout), tlsUpgrade: tls)
        channel.writeAndFlush(exchange).whenFailure { promise.fail($0) }
        do {
            let reply = try await promise.futureResult.get()
            logger.debug("S: \(reply)")
            return reply
        } catch {
            throw Self.transportError(error, stage: stage, command: shown)
        }
    }

    /// A network, TLS or protocol error as an ``SMTPError`` at `stage`.
    static func transportError(_ error: any Error, stage: SMTPError.Stage, command: String?) -> SMTPError {
        let reason: SMTPError.Reason
        switch error {
        case SMTPTransportError.timedOut: reason = .timedOut
        case SMTPTransportError.connectionClosed: reason = .connectionClosed
        case SMTPTransportError.malformedReply, SMTPTransportError.dataAfterStartTLSReply: reason = .protocolViolation
        case is NIOSSLError, is NIOSSLExtraError, is BoringSSLError: reason = .tlsFailed
        case let channelError as ChannelError where channelError == .ioOnClosedChannel || channelError == .alreadyClosed:
            reason = .connectionClosed
        default: reason = stage == .starttls ? .tlsFailed : .connectionClosed
        }
        return SMTPError(stage: stage, reason: reason, command: command, detail: "\(error)")
    }

    /// The message as DATA content: CRLF line breaks, a `.` doubled at the start of a line
    /// (RFC 5321 §4.5.2), a final CRLF, and the terminating `.` line.
    static func dotStuffed(_ content: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(content.utf8.count + 64)
        var atLineStart = true
        var previous: UInt8 = 0
        for byte in content.utf8 {
            switch byte {
            case UInt8(ascii: "\n"):
                if previous != UInt8(ascii: "\r") { out += [13, 10] } // bare LF → CRLF; after CR, CRLF was written already
                atLineStart = true
            case UInt8(ascii: "\r"):
                out += [13, 10] // CR (alone or before LF) → CRLF
                atLineStart = true
            default:
                if atLineStart && byte == UInt8(ascii: ".") { out.append(UInt8(ascii: ".")) }
                out.append(byte)
                atLineStart = false
            }
            previous = byte
        }
        if !atLineStart { out += [13, 10] }
        out += Array(".\r\n".utf8)
        return out
    }
}
