import Foundation

/// Why sending a message over SMTP failed, and at which step of the conversation.
///
/// When the server refused something, ``code`` and ``serverText`` hold its reply
/// (e.g. `550` and `5.1.1 <nobody@example.net>: Recipient address rejected`).
public struct SMTPError: Error, Sendable, CustomStringConvertible {
    /// The step of the SMTP conversation that failed.
    public enum Stage: String, Sendable, CustomStringConvertible {
        /// Checking the configuration and the envelope before connecting.
        case configuration
        /// Opening the TCP connection.
        case connect
        /// Waiting for the server's `220` greeting.
        case greeting
        /// `EHLO` (or its fallback `HELO`), also the second `EHLO` after STARTTLS.
        case ehlo
        /// `STARTTLS` and the TLS handshake that follows it.
        case starttls
        /// `AUTH PLAIN` or `AUTH LOGIN`.
        case auth
        /// `MAIL FROM`.
        case mailFrom
        /// `RCPT TO` for one recipient.
        case rcptTo
        /// `DATA`, the message content and the server's final answer to it.
        case data

        public var description: String { rawValue }
    }

    /// What went wrong.
    public enum Reason: Sendable, Equatable {
        /// The server answered with a reply that refuses the command (see ``SMTPError/code``).
        case rejected
        /// The server does not offer STARTTLS and the configuration requires it.
        case startTLSNotOffered
        /// Credentials are configured but the server offers neither AUTH PLAIN nor AUTH LOGIN.
        case authenticationNotOffered
        /// Credentials are configured but the connection is not encrypted and
        /// ``SMTPClient/Configuration/allowPlaintextAuthentication`` is not set; nothing was sent.
        case plaintextAuthenticationRefused
        /// The TLS handshake or the TLS configuration (e.g. the CA file) failed.
        case tlsFailed
        /// No TCP connection could be made.
        case connectionFailed
        /// The server closed the connection in the middle of the conversation.
        case connectionClosed
        /// The server did not answer within the configured timeout.
        case timedOut
        /// The server sent something that is not an SMTP reply, or data it must not send.
        case protocolViolation
        /// The message or the configuration cannot be sent as it is (e.g. no recipients).
        case invalidInput
    }

    /// The step that failed.
    public var stage: Stage
    /// What went wrong.
    public var reason: Reason
    /// The server's reply code, when the server answered (e.g. 550).
    public var code: Int?
    /// The text of the server's reply, lines joined by newlines, when the server answered.
    public var serverText: String?
    /// The command that was answered, with credentials hidden (e.g. `RCPT TO:<a@example.net>`).
    public var command: String?
    /// Our own explanation, e.g. the underlying network or TLS error.
    public var detail: String

    /// An error at `stage`.
    public init(stage: Stage, reason: Reason, code: Int? = nil, serverText: String? = nil, command: String? = nil, detail: String = "") {
        self.stage = stage
        self.reason = reason
        self.code = code
        self.serverText = serverText
        self.command = command
        self.detail = detail
    }

    /// The server refused `command` with `reply`.
    init(stage: Stage, rejected reply: SMTPReply, command: String?, detail: String = "") {
        self.init(stage: stage, reason: .rejected, code: reply.code, serverText: reply.text, command: command, detail: detail)
    }

    /// One line for a log: the stage, the server's answer if any, and our explanation.
    public var description: String {
        var text = "SMTP \(stage) failed"
        if let code {
            text += ": server replied \(code)"
            if let serverText, !serverText.isEmpty { text += " " + serverText.replacingOccurrences(of: "\n", with: " / ") }
            if let command { text += " to \(command)" }
            if !detail.isEmpty { text += " (\(detail))" }
        } else {
            text += ": " + (detail.isEmpty ? "\(reason)" : detail)
            if let command { text += " (after \(command))" }
        }
        return text
    }
}
