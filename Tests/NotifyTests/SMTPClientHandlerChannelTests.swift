import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOSSL
import NIOTLS
import Testing

@testable import Notify

/// `SMTPClientHandler` (with the reply decoder in front of it, as `SMTPConversation.open` builds
/// the pipeline) in an `EmbeddedChannel`: the test plays the conversation's side — writing the
/// exchanges of a delivery in the order `SMTPConversation.deliver` sends them — and the server's,
/// with scripted reply bytes, and checks what goes on the wire and which reply each command gets.
/// Time is the embedded loop's: timeouts are reached with `advanceTime`, never by sleeping.
///
/// (The order of commands itself — EHLO, MAIL, RCPT, DATA — is `SMTPConversation`'s, which
/// connects through a `ClientBootstrap` and cannot run on an embedded channel; the aiosmtpd tests
/// in SMTPClientTests drive it against a real server.)
@Suite struct SMTPClientHandlerChannelTests {
    /// The reply an exchange got, once it got one.
    final class Outcome: Sendable {
        private let box = NIOLockedValueBox<Result<SMTPReply, any Error>?>(nil)
        init(_ future: EventLoopFuture<SMTPReply>) { future.whenComplete { r in self.box.withLockedValue { $0 = r } } }
        var isPending: Bool { box.withLockedValue { $0 == nil } }
        var reply: SMTPReply? { box.withLockedValue { try? $0?.get() } }
        var error: (any Error)? {
            box.withLockedValue { if case .failure(let e) = $0 { e } else { nil } }
        }
    }

    static func channel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(SMTPReplyDecoder()))
        try channel.pipeline.syncOperations.addHandler(SMTPClientHandler())
        try channel.connect(to: SocketAddress(ipAddress: "192.0.2.25", port: 25)).wait()
        return channel
    }

    /// Writes one exchange as `SMTPConversation.exchange` does: `command` + CRLF (nil: only wait for a reply).
    @discardableResult
    static func send(_ command: String?, on channel: EmbeddedChannel, timeout: TimeAmount = .seconds(60), tls: TLSUpgrade? = nil) -> Outcome
    {
        send(bytes: command.map { ByteBuffer(string: $0 + "\r\n") }, on: channel, timeout: timeout, tls: tls)
    }

    @discardableResult
    static func send(bytes: ByteBuffer?, on channel: EmbeddedChannel, timeout: TimeAmount = .seconds(60), tls: TLSUpgrade? = nil) -> Outcome
    {
        let promise = channel.eventLoop.makePromise(of: SMTPReply.self)
        channel.writeAndFlush(SMTPExchange(bytes: bytes, reply: promise, timeout: timeout, tlsUpgrade: tls)).whenFailure {
            promise.fail($0)
        }
        return Outcome(promise.futureResult)
    }

    /// The server's bytes arriving.
    static func server(_ text: String, to channel: EmbeddedChannel) throws {
        try channel.writeInbound(ByteBuffer(string: text))
    }

    /// Everything written to the server since the last call, as text.
    static func written(_ channel: EmbeddedChannel) throws -> String {
        var out = ""
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) { out += buffer.readString(length: buffer.readableBytes) ?? "" }
        return out
    }

    @Test(
        "a whole delivery: each command goes out as written, only after the previous reply, and gets its own reply; a multi-line EHLO reply is one reply"
    )
    func delivery() throws {
        let channel = try Self.channel()
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }

        // The greeting arrives before anyone asks: it is kept for the first exchange.
        try Self.server("220 mail.example.net ESMTP Postfix\r\n", to: channel)
        let greeting = Self.send(nil, on: channel)
        #expect(greeting.reply == SMTPReply(code: 220, lines: ["mail.example.net ESMTP Postfix"]))
        #expect(try Self.written(channel) == "", "waiting for the greeting writes nothing")

        let ehlo = Self.send("EHLO mamori.test", on: channel)
        #expect(try Self.written(channel) == "EHLO mamori.test\r\n")
        #expect(ehlo.isPending)
        try Self.server("250-mail.example.net\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n", to: channel)
        #expect(ehlo.isPending, "a reply is complete only at its last line")
        try Self.server("250-8BITMIME\r\n250 STARTTLS\r\n", to: channel)
        #expect(ehlo.reply == SMTPReply(code: 250, lines: ["mail.example.net", "PIPELINING", "SIZE 10240000", "8BITMIME", "STARTTLS"]))
        #expect(SMTPExtensions(ehloReply: ehlo.reply).offers("STARTTLS"))

        let script: [(command: String, reply: String, code: Int)] = [
            ("MAIL FROM:<mamori@example.net>", "250 2.1.0 Ok\r\n", 250),
            ("RCPT TO:<noc@example.net>", "250 2.1.5 Ok\r\n", 250),
            ("RCPT TO:<soc@example.org>", "250 2.1.5 Ok\r\n", 250),
            ("DATA", "354 End data with <CR><LF>.<CR><LF>\r\n", 354),
        ]
        for step in script {
            let outcome = Self.send(step.command, on: channel)
            #expect(try Self.written(channel) == step.command + "\r\n")
            #expect(outcome.isPending)
            try Self.server(step.reply, to: channel)
            #expect(outcome.reply?.code == step.code, "\(step.command)")
        }

        let content = "Subject: test\n.leading dot\nbody\n"
        let final = Self.send(bytes: ByteBuffer(bytes: SMTPConversation.dotStuffed(content)), on: channel)
        #expect(try Self.written(channel) == "Subject: test\r\n..leading dot\r\nbody\r\n.\r\n")
        try Self.server("250 2.0.0 Ok: queued as 4F3C\r\n", to: channel)
        #expect(final.reply == SMTPReply(code: 250, lines: ["2.0.0 Ok: queued as 4F3C"]))

        let quit = Self.send("QUIT", on: channel)
        #expect(try Self.written(channel) == "QUIT\r\n")
        try Self.server("221 2.0.0 Bye\r\n", to: channel)
        #expect(quit.reply?.code == 221)
        #expect(channel.isActive, "the handler leaves closing to the conversation")
    }

    @Test("replies are matched to commands in order, also when two are outstanding and both replies arrive in one segment")
    func inOrder() throws {
        let channel = try Self.channel()
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        try Self.server("220 ready\r\n", to: channel)
        #expect(Self.send(nil, on: channel).reply?.code == 220)

        let mail = Self.send("MAIL FROM:<a@example.net>", on: channel)
        let rcpt = Self.send("RCPT TO:<nobody@example.net>", on: channel)
        #expect(try Self.written(channel) == "MAIL FROM:<a@example.net>\r\nRCPT TO:<nobody@example.net>\r\n")
        try Self.server("250 2.1.0 Ok\r\n550 5.1.1 <nobody@example.net>: Recipient address rejected\r\n", to: channel)
        #expect(mail.reply?.code == 250)
        let refused = try #require(rcpt.reply, "a refusal is a reply: the conversation decides what it means")
        #expect(refused.code == 550 && !refused.isPositiveCompletion)
        // What the conversation makes of it: an error naming the stage, the reply and the command.
        let error = SMTPError(stage: .rcptTo, rejected: refused, command: "RCPT TO:<nobody@example.net>")
        #expect(error.reason == .rejected && error.code == 550)
        #expect(
            error.description
                == "SMTP rcptTo failed: server replied 550 5.1.1 <nobody@example.net>: Recipient address rejected to RCPT TO:<nobody@example.net>"
        )
    }

    @Test(
        "a malformed reply fails the waiting exchange with a protocol error that says what was wrong, closes the connection, and fails every later exchange"
    )
    func malformedReply() throws {
        let channel = try Self.channel()
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        let ehlo = Self.send("EHLO mamori.test", on: channel)
        _ = try Self.written(channel)

        // the handler takes the decoder's error: it does not reach the channel's end
        try Self.server("250-first line\r\nHELLO there\r\n", to: channel)

        let failure = try #require(ehlo.error)
        guard case SMTPTransportError.malformedReply(let why) = failure else {
            Issue.record("expected malformedReply, got \(failure)")
            return
        }
        #expect(why.contains("\"HELLO there\" does not start with a code"), "\(why)")
        let reported = SMTPConversation.transportError(failure, stage: .ehlo, command: "EHLO mamori.test")
        #expect(reported.reason == .protocolViolation && reported.stage == .ehlo)
        #expect(reported.description.contains("malformed reply"), "\(reported)")
        #expect(!channel.isActive, "the dialogue is out of step: the connection is closed")

        let later = Self.send("MAIL FROM:<a@example.net>", on: channel)
        #expect(later.error != nil, "nothing more is sent on a failed connection")
        #expect(try Self.written(channel) == "")
    }

    @Test("replies whose lines disagree on the code are refused")
    func mixedCodes() throws {
        let channel = try Self.channel()
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        let ehlo = Self.send("EHLO mamori.test", on: channel)
        try Self.server("250-mail.example.net\r\n251 other\r\n", to: channel)
        guard case SMTPTransportError.malformedReply(let why)? = ehlo.error else {
            Issue.record("expected malformedReply, got \(String(describing: ehlo.error))")
            return
        }
        #expect(why == "the lines of one reply have codes 250 and 251")
    }

    @Test("no reply within the command's timeout fails it with timedOut and closes the connection; a reply in time cancels the timer")
    func timeout() throws {
        let channel = try Self.channel()
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        let answered = Self.send("NOOP", on: channel, timeout: .seconds(5))
        channel.embeddedEventLoop.advanceTime(by: .seconds(4))
        try Self.server("250 2.0.0 Ok\r\n", to: channel)
        #expect(answered.reply?.code == 250)
        channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(channel.isActive, "the answered command's timer was cancelled")

        let data = Self.send("DATA", on: channel, timeout: .seconds(5))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(4_999))
        #expect(data.isPending)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        guard case SMTPTransportError.timedOut? = data.error else {
            Issue.record("expected timedOut, got \(String(describing: data.error))")
            return
        }
        #expect(SMTPConversation.transportError(data.error!, stage: .data, command: "DATA").reason == .timedOut)
        #expect(!channel.isActive)
    }

    @Test("the server closing the connection fails what waits with connectionClosed")
    func connectionClosed() throws {
        let channel = try Self.channel()
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        let rcpt = Self.send("RCPT TO:<noc@example.net>", on: channel)
        channel.pipeline.fireChannelInactive()
        guard case SMTPTransportError.connectionClosed? = rcpt.error else {
            Issue.record("expected connectionClosed, got \(String(describing: rcpt.error))")
            return
        }
        #expect(SMTPConversation.transportError(rcpt.error!, stage: .rcptTo, command: nil).reason == .connectionClosed)
    }

    static func tlsUpgrade() throws -> TLSUpgrade {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        return TLSUpgrade(context: try NIOSSLContext(configuration: configuration), serverHostname: "mail.example.net")
    }

    @Test(
        "STARTTLS: on 220 TLS goes in front of the pipeline and sends its ClientHello; the reply is handed over only when the handshake completes"
    )
    func startTLS() throws {
        let channel = try Self.channel()
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        let starttls = Self.send("STARTTLS", on: channel, tls: try Self.tlsUpgrade())
        #expect(try Self.written(channel) == "STARTTLS\r\n")
        #expect(throws: (any Error).self, "no TLS before the server agreed") {
            try channel.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self)
        }

        try Self.server("220 2.0.0 Ready to start TLS\r\n", to: channel)

        _ = try channel.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self)
        let hello = try #require(try channel.readOutbound(as: ByteBuffer.self), "the ClientHello is written")
        #expect(hello.getInteger(at: hello.readerIndex, as: UInt8.self) == 0x16, "a TLS handshake record")
        #expect(starttls.isPending, "the reply waits for the handshake")

        channel.pipeline.fireUserInboundEventTriggered(TLSUserEvent.handshakeCompleted(negotiatedProtocol: nil))
        #expect(starttls.reply == SMTPReply(code: 220, lines: ["2.0.0 Ready to start TLS"]))
    }

    @Test("STARTTLS: bytes behind the 220 (command injection before TLS) fail the exchange, add no TLS and close the connection")
    func startTLSInjection() throws {
        let channel = try Self.channel()
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        let starttls = Self.send("STARTTLS", on: channel, tls: try Self.tlsUpgrade())
        _ = try Self.written(channel)

        try Self.server("220 2.0.0 Ready to start TLS\r\n250 injected\r\n", to: channel)

        guard case SMTPTransportError.dataAfterStartTLSReply? = starttls.error else {
            Issue.record("expected dataAfterStartTLSReply, got \(String(describing: starttls.error))")
            return
        }
        #expect(SMTPConversation.transportError(starttls.error!, stage: .starttls, command: "STARTTLS").reason == .protocolViolation)
        #expect(throws: (any Error).self) { try channel.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self) }
        #expect(!channel.isActive)
    }

    @Test("a refused STARTTLS (not 220) is an ordinary reply: no TLS is started")
    func startTLSRefused() throws {
        let channel = try Self.channel()
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        let starttls = Self.send("STARTTLS", on: channel, tls: try Self.tlsUpgrade())
        try Self.server("454 4.7.0 TLS not available due to local problem\r\n", to: channel)
        #expect(starttls.reply?.code == 454)
        #expect(throws: (any Error).self) { try channel.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self) }
        #expect(try Self.written(channel) == "STARTTLS\r\n", "and nothing but the command was sent")
    }
}
