import Foundation
import MamoriTesting
import NIOCore
import NIOPosix
import Testing

@testable import Notify

/// The SMTP client against a real server, aiosmtpd (Debian's python3-aiosmtpd), on 127.0.0.1.
@Suite("SMTPClient against aiosmtpd", .serialized)
struct SMTPClientTests {
    static func configuration(_ server: SMTPTestServer, tlsMode: SMTPClient.TLSMode) -> SMTPClient.Configuration {
        SMTPClient.Configuration(
            host: "127.0.0.1", port: server.port, tlsMode: tlsMode, heloName: "mamori.test",
            connectTimeout: .seconds(5), commandTimeout: .seconds(10))
    }

    @Test("Plain send: Japanese subject and body, two recipients, a line starting with a dot")
    func plainSend() async throws {
        let server = try await SMTPTestServer.start()
        defer { server.stop() }
        let subject = MailMessageTests.japaneseSubject
        let body = "検出: ビーコン通信（間隔 60 秒）\n.先頭がドットの行\n.\n..\n最後の行 🚨\n"
        let message = MailMessage(
            from: MailAddress("mamori@example.net", name: "守り"), to: ["noc@example.net", "soc@example.org"],
            subject: subject, textBody: body)

        let delivery = try await SMTPClient(configuration: Self.configuration(server, tlsMode: .none)).send(message)

        #expect(!delivery.usedTLS)
        #expect(delivery.finalReply.code == 250)
        #expect(delivery.acceptedRecipients == ["noc@example.net", "soc@example.org"])
        let delivered = try server.delivered()
        try #require(delivered.count == 1, "one message in the Maildir; server log:\n\(server.serverLog())")
        let got = delivered[0]
        #expect(got.subject == subject)
        #expect(got.text?.replacingOccurrences(of: "\r\n", with: "\n") == body)
        #expect(got.envelopeRecipients == ["noc@example.net", "soc@example.org"])
        #expect(got.to == "noc@example.net, soc@example.org")
        #expect(got.from == "守り <mamori@example.net>")
    }

    @Test("Dot-stuffing on the wire: raw text lines starting with '.' arrive unchanged")
    func rawDotLines() async throws {
        let server = try await SMTPTestServer.start()
        defer { server.stop() }
        let body = ".\n..\n.leading dot\nmiddle . dot\n...\n"
        let raw = "From: mamori@example.net\nTo: noc@example.net\nSubject: dots\n\n" + body
        _ = try await SMTPClient(configuration: Self.configuration(server, tlsMode: .none))
            .send(rendered: raw, from: "mamori@example.net", to: ["noc@example.net"])
        let delivered = try server.delivered()
        try #require(delivered.count == 1)
        #expect(delivered[0].text?.replacingOccurrences(of: "\r\n", with: "\n") == body)
    }

    @Test("STARTTLS with a self-signed certificate the client trusts; the delivery reports TLS")
    func startTLS() async throws {
        let directory = try SMTPTestServer.makeDirectory()
        let certificate = try SMTPTestServer.makeCertificate(in: directory)
        let server = try await SMTPTestServer.start(in: directory, tls: certificate)
        defer { server.stop() }
        var configuration = Self.configuration(server, tlsMode: .startTLSRequired)
        configuration.trustedCACertificatePath = certificate.certificate
        configuration.tlsServerName = "localhost"
        let message = MailMessage(
            from: "mamori@example.net", to: ["noc@example.net"], subject: "TLS 経由の通知", textBody: "暗号化されています", htmlBody: "<p>暗号化されています</p>")

        let delivery = try await SMTPClient(configuration: configuration).send(message)

        #expect(delivery.usedTLS)
        #expect(delivery.finalReply.code == 250)
        let delivered = try server.delivered()
        try #require(delivered.count == 1, "server log:\n\(server.serverLog())")
        #expect(delivered[0].subject == "TLS 経由の通知")
        #expect(delivered[0].contentType == "multipart/alternative")
        #expect(delivered[0].text?.replacingOccurrences(of: "\r\n", with: "\n") == "暗号化されています")
        #expect(delivered[0].html?.replacingOccurrences(of: "\r\n", with: "\n") == "<p>暗号化されています</p>")
        #expect(server.receivedCommands().contains("STARTTLS"))
    }

    @Test("STARTTLS against a certificate the client does not trust fails at starttls")
    func untrustedCertificate() async throws {
        let directory = try SMTPTestServer.makeDirectory()
        let certificate = try SMTPTestServer.makeCertificate(in: directory)
        let server = try await SMTPTestServer.start(in: directory, tls: certificate)
        defer { server.stop() }
        let message = MailMessage(from: "mamori@example.net", to: ["noc@example.net"], subject: "x", textBody: "x")

        let error = await #expect(throws: SMTPError.self) {
            try await SMTPClient(configuration: Self.configuration(server, tlsMode: .startTLSIfOffered)).send(message)
        }
        #expect(error?.stage == .starttls)
        #expect(error?.reason == .tlsFailed)
        #expect(try server.delivered().isEmpty)
    }

    @Test(".startTLSRequired against a server without STARTTLS fails at starttls and delivers nothing")
    func startTLSRequiredButNotOffered() async throws {
        let server = try await SMTPTestServer.start()
        defer { server.stop() }
        let message = MailMessage(from: "mamori@example.net", to: ["noc@example.net"], subject: "x", textBody: "x")

        let error = await #expect(throws: SMTPError.self) {
            try await SMTPClient(configuration: Self.configuration(server, tlsMode: .startTLSRequired)).send(message)
        }
        #expect(error?.stage == .starttls)
        #expect(error?.reason == .startTLSNotOffered)
        #expect(error?.description.contains("STARTTLS") == true)
        #expect(try server.delivered().isEmpty)
        let commands = server.receivedCommands()
        #expect(commands.contains { $0.hasPrefix("EHLO") }, "the conversation reached the server; its log:\n\(server.serverLog())")
        #expect(!commands.contains { $0.uppercased().hasPrefix("MAIL") }, "no MAIL command reached the server")
    }

    @Test("A refused recipient gives an SMTPError at rcptTo with the server's 550")
    func refusedRecipient() async throws {
        let server = try await SMTPTestServer.start(options: ["nobody@example.net"])
        defer { server.stop() }
        let message = MailMessage(
            from: "mamori@example.net", to: ["noc@example.net", "nobody@example.net"], subject: "x", textBody: "x")

        let error = await #expect(throws: SMTPError.self) {
            try await SMTPClient(configuration: Self.configuration(server, tlsMode: .none)).send(message)
        }
        #expect(error?.stage == .rcptTo)
        #expect(error?.reason == .rejected)
        #expect(error?.code == 550)
        #expect(error?.serverText?.contains("nobody@example.net") == true)
        #expect(error?.command == "RCPT TO:<nobody@example.net>")
        #expect(error?.description.contains("550") == true)
        #expect(try server.delivered().isEmpty, "no partial delivery")
    }

    @Test("Credentials over an unencrypted connection are refused by the client before they are sent")
    func noPlaintextCredentials() async throws {
        let server = try await SMTPTestServer.start()
        defer { server.stop() }
        var configuration = Self.configuration(server, tlsMode: .startTLSIfOffered)
        configuration.credentials = .init(username: SMTPTestServer.username, password: SMTPTestServer.password)
        let message = MailMessage(from: "mamori@example.net", to: ["noc@example.net"], subject: "x", textBody: "x")

        let error = await #expect(throws: SMTPError.self) {
            try await SMTPClient(configuration: configuration).send(message)
        }
        #expect(error?.stage == .auth)
        #expect(error?.reason == .plaintextAuthenticationRefused)
        #expect(error?.description.contains("unencrypted") == true)
        #expect(try server.delivered().isEmpty)
        let log = server.serverLog()
        let commands = server.receivedCommands()
        #expect(commands.contains { $0.hasPrefix("EHLO") }, "the conversation reached the server; its log:\n\(log)")
        #expect(!commands.contains { $0.uppercased().hasPrefix("AUTH") }, "no AUTH command reached the server")
        #expect(!commands.contains { $0.uppercased().hasPrefix("MAIL") })
        #expect(!log.contains("s3cret"))
        #expect(!log.contains(Data("\0mamori\0s3cret-p4ss".utf8).base64EncodedString()))
        #expect(!log.contains(Data("s3cret-p4ss".utf8).base64EncodedString()))
    }

    /// A server with STARTTLS and a client trusting its certificate, with `credentials`.
    static func tlsServerAndConfiguration(
        credentials: SMTPClient.Credentials, serverOptions: [String] = []
    ) async throws -> (SMTPTestServer, SMTPClient.Configuration) {
        let directory = try SMTPTestServer.makeDirectory()
        let certificate = try SMTPTestServer.makeCertificate(in: directory)
        let server = try await SMTPTestServer.start(in: directory, tls: certificate, options: serverOptions)
        var configuration = configuration(server, tlsMode: .startTLSRequired)
        configuration.trustedCACertificatePath = certificate.certificate
        configuration.tlsServerName = "localhost"
        configuration.credentials = credentials
        return (server, configuration)
    }

    @Test("AUTH after STARTTLS: PLAIN, or LOGIN when the server answers PLAIN with 504", arguments: [false, true])
    func authenticateOverTLS(plainUnsupported: Bool) async throws {
        let (server, configuration) = try await Self.tlsServerAndConfiguration(
            credentials: .init(username: SMTPTestServer.username, password: SMTPTestServer.password),
            serverOptions: plainUnsupported ? ["plain=504"] : [])
        defer { server.stop() }
        let message = MailMessage(from: "mamori@example.net", to: ["noc@example.net"], subject: "認証済み", textBody: "x")

        let delivery = try await SMTPClient(configuration: configuration).send(message)

        #expect(delivery.usedTLS && delivery.authenticated)
        let delivered = try server.delivered()
        try #require(delivered.count == 1, "server log:\n\(server.serverLog())")
        #expect(delivered[0].authenticatedAs == SMTPTestServer.username)
        let commands = server.receivedCommands()
        let startTLS = try #require(commands.firstIndex(of: "STARTTLS"))
        let auth = try #require(commands.firstIndex { $0.hasPrefix("AUTH") })
        #expect(startTLS < auth, "credentials only after TLS: \(commands)")
        #expect(commands.contains { $0.hasPrefix("AUTH LOGIN") } == plainUnsupported)
    }

    @Test("A wrong password gives an SMTPError at auth with the server's 535; nothing is delivered")
    func wrongPassword() async throws {
        let (server, configuration) = try await Self.tlsServerAndConfiguration(
            credentials: .init(username: SMTPTestServer.username, password: "wrong"))
        defer { server.stop() }
        let message = MailMessage(from: "mamori@example.net", to: ["noc@example.net"], subject: "x", textBody: "x")

        let error = await #expect(throws: SMTPError.self) {
            try await SMTPClient(configuration: configuration).send(message)
        }
        #expect(error?.stage == .auth)
        #expect(error?.code == 535)
        #expect(error?.description.contains("wrong") == false, "the password is not in the error")
        #expect(try server.delivered().isEmpty)
    }

    @Test("A closed port fails at connect")
    func connectionRefused() async throws {
        let port = try freeTCPPort()
        let message = MailMessage(from: "mamori@example.net", to: ["noc@example.net"], subject: "x", textBody: "x")
        let configuration = SMTPClient.Configuration(host: "127.0.0.1", port: port, connectTimeout: .seconds(5))
        let error = await #expect(throws: SMTPError.self) {
            try await SMTPClient(configuration: configuration).send(message)
        }
        #expect(error?.stage == .connect)
    }
}
