import NIOCore
import NIOSSL
import NIOTLS

/// One reply from an SMTP server: a three-digit code and one or more lines of text (RFC 5321 §4.2).
public struct SMTPReply: Sendable, Equatable, CustomStringConvertible {
    /// The reply code, e.g. 250.
    public var code: Int
    /// The text of each line without the code and separator, e.g. `["mail.example.net", "STARTTLS"]`.
    public var lines: [String]

    /// A reply.
    public init(code: Int, lines: [String]) {
        self.code = code
        self.lines = lines
    }

    /// The lines joined by newlines.
    public var text: String { lines.joined(separator: "\n") }

    /// `code` is 2xx.
    public var isPositiveCompletion: Bool { (200..<300).contains(code) }

    /// As the server sent it, lines joined by " / ": `250 2.0.0 Ok: queued as 4F3C`.
    public var description: String { "\(code) " + lines.joined(separator: " / ") }
}

/// A reply as decoded from the wire, with whether more bytes were already waiting behind it.
///
/// After `220` to STARTTLS nothing may follow in plaintext: bytes that did would be read as if
/// they came through TLS (the STARTTLS command-injection problem, CVE-2011-0411 and kin).
struct DecodedReply {
    var reply: SMTPReply
    var bytesFollow: Bool
}

/// Errors of the connection below the SMTP dialogue; ``SMTPClient`` turns them into ``SMTPError``.
enum SMTPTransportError: Error, CustomStringConvertible {
    case timedOut
    case connectionClosed
    case malformedReply(String)
    case dataAfterStartTLSReply

    var description: String {
        switch self {
        case .timedOut: "the server did not answer in time"
        case .connectionClosed: "the server closed the connection"
        case .malformedReply(let why): "malformed reply: \(why)"
        case .dataAfterStartTLSReply: "the server sent data after its 220 reply to STARTTLS, before TLS began"
        }
    }
}

/// Splits the byte stream from the server into replies: CRLF-terminated lines `ddd-text`
/// (more lines follow) and `ddd text` (last line), RFC 5321 §4.2.1.
struct SMTPReplyDecoder: ByteToMessageDecoder {
    typealias InboundOut = DecodedReply

    /// RFC 5321 allows 512 octets per reply line; accept more, but not without bound.
    static let maxLineLength = 4096
    /// EHLO replies have a line per extension; no server sends hundreds.
    static let maxLines = 256

    private var code: Int?
    private var lines: [String] = []

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > Self.maxLineLength {
                throw SMTPTransportError.malformedReply("a line longer than \(Self.maxLineLength) bytes")
            }
            return .needMoreData
        }
        let length = view.distance(from: view.startIndex, to: newline) + 1
        guard length <= Self.maxLineLength + 1, var bytes = buffer.readBytes(length: length) else {
            throw SMTPTransportError.malformedReply("a line longer than \(Self.maxLineLength) bytes")
        }
        bytes.removeLast() // "\n"
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        let line = String(decoding: bytes, as: UTF8.self)

        let digits = line.utf8.prefix(3)
        guard digits.count == 3, digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let lineCode = Int(String(decoding: digits, as: UTF8.self))
        else { throw SMTPTransportError.malformedReply("\(line.prefix(80).debugDescription) does not start with a code") }
        let separator = line.utf8.dropFirst(3).first
        guard separator == nil || separator == UInt8(ascii: " ") || separator == UInt8(ascii: "-") else {
            throw SMTPTransportError.malformedReply("\(line.prefix(80).debugDescription) has no space or hyphen after the code")
        }
        if let code, code != lineCode {
            throw SMTPTransportError.malformedReply("the lines of one reply have codes \(code) and \(lineCode)")
        }
        code = lineCode
        lines.append(String(decoding: line.utf8.dropFirst(4), as: UTF8.self))
        guard lines.count <= Self.maxLines else { throw SMTPTransportError.malformedReply("more than \(Self.maxLines) lines") }

        if separator != UInt8(ascii: "-") {
            let reply = SMTPReply(code: lineCode, lines: lines)
            code = nil
            lines = []
            context.fireChannelRead(NIOAny(DecodedReply(reply: reply, bytesFollow: buffer.readableBytes > 0)))
        }
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

/// For STARTTLS: how to start TLS once the server said 220.
struct TLSUpgrade: Sendable {
    var context: NIOSSLContext
    /// The name for SNI and certificate checking; nil for an IP address (NIOSSL then checks the IP).
    var serverHostname: String?
}

/// One command and the promise of its reply, written into the channel by ``SMTPConversation``.
struct SMTPExchange: Sendable {
    /// The bytes to send (a command line with CRLF, or the dot-stuffed content); nil to only wait for
    /// the next reply (the greeting).
    var bytes: ByteBuffer?
    /// Completed with the server's reply, or failed with an ``SMTPTransportError``, a TLS or channel error.
    var reply: EventLoopPromise<SMTPReply>
    /// How long the server has to answer.
    var timeout: TimeAmount
    /// Set for STARTTLS: on a 220 reply, add TLS to the pipeline and complete ``reply`` only when
    /// the handshake is done.
    var tlsUpgrade: TLSUpgrade?
}

/// Matches replies to commands in order, enforces the reply timeout and carries out the
/// STARTTLS switch on the event loop, at the very reply that allows it.
final class SMTPClientHandler: ChannelDuplexHandler {
    typealias InboundIn = DecodedReply
    typealias OutboundIn = SMTPExchange
    typealias OutboundOut = ByteBuffer

    private struct Waiting {
        var exchange: SMTPExchange
        var timeout: Scheduled<Void>?
    }

    private var waiting = CircularBuffer<Waiting>()
    /// Replies that came before anyone asked (the greeting, usually).
    private var unclaimed = CircularBuffer<SMTPReply>()
    /// A STARTTLS reply held back until the TLS handshake completes.
    private var handshaking: (waiting: Waiting, reply: SMTPReply)?
    /// Once set, every later exchange fails with it.
    private var failure: (any Error)?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let exchange = Self.unwrapOutboundIn(data)
        if let failure {
            exchange.reply.fail(failure)
            promise?.fail(failure)
            return
        }
        let timeout = context.eventLoop.assumeIsolated().scheduleTask(in: exchange.timeout) { [weak self] () -> Void in
            self?.fail(SMTPTransportError.timedOut, context: context)
        }
        waiting.append(Waiting(exchange: exchange, timeout: timeout))
        if let bytes = exchange.bytes {
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.whenFailure { exchange.reply.fail($0) }
            if let promise { written.futureResult.cascade(to: promise) }
            context.writeAndFlush(Self.wrapOutboundOut(bytes), promise: written)
        } else {
            promise?.succeed()
        }
        if let reply = unclaimed.popFirst() { deliver(reply, bytesFollow: false, context: context) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let decoded = Self.unwrapInboundIn(data)
        if waiting.isEmpty {
            unclaimed.append(decoded.reply)
        } else {
            deliver(decoded.reply, bytesFollow: decoded.bytesFollow, context: context)
        }
    }

    private func deliver(_ reply: SMTPReply, bytesFollow: Bool, context: ChannelHandlerContext) {
        guard let next = waiting.popFirst() else { return }
        guard let upgrade = next.exchange.tlsUpgrade, reply.code == 220 else {
            next.timeout?.cancel()
            next.exchange.reply.succeed(reply)
            return
        }
        guard !bytesFollow, unclaimed.isEmpty, waiting.isEmpty else {
            next.timeout?.cancel()
            next.exchange.reply.fail(SMTPTransportError.dataAfterStartTLSReply)
            fail(SMTPTransportError.dataAfterStartTLSReply, context: context)
            return
        }
        do {
            let tls = try NIOSSLClientHandler(context: upgrade.context, serverHostname: upgrade.serverHostname)
            try context.pipeline.syncOperations.addHandler(tls, position: .first)
            handshaking = (next, reply)
        } catch {
            next.timeout?.cancel()
            next.exchange.reply.fail(error)
            fail(error, context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent, let (held, reply) = handshaking {
            handshaking = nil
            held.timeout?.cancel()
            held.exchange.reply.succeed(reply)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error, context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(SMTPTransportError.connectionClosed)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        failAll(SMTPTransportError.connectionClosed)
    }

    /// Fails everything waiting and closes the connection: after a timeout or an error the
    /// dialogue cannot be trusted to be in step.
    private func fail(_ error: any Error, context: ChannelHandlerContext) {
        failAll(error)
        context.close(promise: nil)
    }

    private func failAll(_ error: any Error) {
        if failure == nil { failure = error }
        if let (held, _) = handshaking {
            handshaking = nil
            held.timeout?.cancel()
            held.exchange.reply.fail(error)
        }
        while let next = waiting.popFirst() {
            next.timeout?.cancel()
            next.exchange.reply.fail(error)
        }
    }
}
