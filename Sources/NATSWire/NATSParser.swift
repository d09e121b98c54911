import Foundation
import NIOCore

/// Reads server operations from the bytes of a connection, as they arrive.
///
/// Call ``next(from:)`` with the connection's accumulated bytes: it returns the next whole
/// operation and consumes its bytes, or returns nil and consumes nothing when the operation is not
/// complete yet (a frame split across reads). Every size is bounded: a control line longer than
/// ``Limits/maxControlLine``, a payload over ``Limits/maxPayload`` (the server's `max_payload`)
/// or a header block over ``Limits/maxHeaderBytes`` throws as soon as its control line is read,
/// before its bytes are waited for, so the caller never buffers more than one bounded frame.
///
/// ```swift
/// var parser = NATSParser()
/// while let op = try parser.next(from: &buffer) { handle(op) }
/// ```
public struct NATSParser: Sendable {
    public struct Limits: Hashable, Sendable {
        /// The longest control line (operation name and arguments), CRLF excluded. INFO lines
        /// of a large cluster are the longest a server sends.
        public var maxControlLine: Int
        /// The largest payload accepted; set it to the server's `max_payload` once INFO arrives.
        public var maxPayload: Int
        /// The largest header block accepted.
        public var maxHeaderBytes: Int

        public init(maxControlLine: Int = 64 * 1024, maxPayload: Int = 1024 * 1024, maxHeaderBytes: Int = 64 * 1024) {
            self.maxControlLine = maxControlLine
            self.maxPayload = maxPayload
            self.maxHeaderBytes = maxHeaderBytes
        }
    }

    public var limits: Limits

    public init(limits: Limits = Limits()) { self.limits = limits }

    /// The next whole operation at the front of `buffer`, consumed; nil (nothing consumed) when
    /// more bytes are needed.
    public func next(from buffer: inout ByteBuffer) throws(NATSWireError) -> NATSServerOperation? {
        let view = buffer.readableBytesView
        let searched = view.prefix(limits.maxControlLine + 2)
        guard let lf = searched.firstIndex(of: 10) else {
            if view.count > limits.maxControlLine + 1 {
                throw NATSWireError(.controlLineTooLong, "no CRLF within \(limits.maxControlLine) bytes")
            }
            return nil
        }
        let lineEnd = lf - view.startIndex // offset of LF
        guard lineEnd >= 1, view[lf - 1] == 13 else { throw NATSWireError(.malformedOperation, "a control line ends with LF but no CR") }
        let line = Array(view[view.startIndex..<(lf - 1)])
        guard line.count <= limits.maxControlLine else {
            throw NATSWireError(.controlLineTooLong, "a control line of \(line.count) bytes, over \(limits.maxControlLine)")
        }
        let controlLength = lineEnd + 1
        // The operation name: up to the first space or tab.
        let nameEnd = line.firstIndex { $0 == 32 || $0 == 9 } ?? line.count
        let name = String(decoding: line[0..<nameEnd], as: UTF8.self).uppercased()
        let argumentBytes = line[nameEnd...]
        switch name {
        case "PING", "PONG", "+OK":
            guard argumentBytes.allSatisfy({ $0 == 32 || $0 == 9 }) else {
                throw NATSWireError(.malformedOperation, "\(name) takes no arguments")
            }
            buffer.moveReaderIndex(forwardBy: controlLength)
            return name == "PING" ? .ping : name == "PONG" ? .pong : .ok
        case "-ERR":
            var text = NATSHeaders.trimmed(argumentBytes)
            if text.count >= 2, text.hasPrefix("'"), text.hasSuffix("'") { text = String(text.dropFirst().dropLast()) }
            buffer.moveReaderIndex(forwardBy: controlLength)
            return .error(text)
        case "INFO":
            let json = argumentBytes.drop { $0 == 32 || $0 == 9 }
            guard json.first == UInt8(ascii: "{") else { throw NATSWireError(.malformedOperation, "INFO without a JSON object") }
            let info: NATSServerInfo
            do {
                info = try JSONDecoder().decode(NATSServerInfo.self, from: Data(json))
            } catch {
                throw NATSWireError(.invalidJSON, "INFO's JSON does not decode: \(error)")
            }
            buffer.moveReaderIndex(forwardBy: controlLength)
            return .info(info)
        case "MSG", "HMSG":
            let arguments = argumentBytes.split { $0 == 32 || $0 == 9 }.map { String(decoding: $0, as: UTF8.self) }
            let withHeaders = name == "HMSG"
            let counts = withHeaders ? 2 : 1
            guard arguments.count == 2 + counts || arguments.count == 3 + counts else {
                throw NATSWireError(.malformedOperation, "\(name) with \(arguments.count) arguments")
            }
            let total = try Self.number(arguments[arguments.count - 1], name)
            let headerCount = withHeaders ? try Self.number(arguments[arguments.count - 2], name) : 0
            guard headerCount <= total else {
                throw NATSWireError(.malformedOperation, "\(name): header bytes \(headerCount) over total bytes \(total)")
            }
            if withHeaders {
                guard headerCount <= limits.maxHeaderBytes else {
                    throw NATSWireError(.headersTooLarge, "a header block of \(headerCount) bytes, over \(limits.maxHeaderBytes)")
                }
                guard headerCount >= 12 else { throw NATSWireError(.malformedHeaders, "a header block of \(headerCount) bytes") }
            }
            guard total - headerCount <= limits.maxPayload else {
                throw NATSWireError(.payloadTooLarge, "a payload of \(total - headerCount) bytes, over max_payload \(limits.maxPayload)")
            }
            let subject = arguments[0]
            try Self.validate(subject: subject)
            let reply = arguments.count == 3 + counts ? arguments[2] : nil
            if let reply { try Self.validate(subject: reply) }
            guard buffer.readableBytes >= controlLength + total + 2 else { return nil }
            let bodyStart = buffer.readerIndex + controlLength
            guard buffer.getInteger(at: bodyStart + total, as: UInt16.self) == 0x0D0A else {
                throw NATSWireError(.malformedOperation, "\(name)'s payload is not followed by CRLF")
            }
            var headers: NATSHeaders?
            if withHeaders {
                let block = buffer.getSlice(at: bodyStart, length: headerCount)!
                headers = try NATSHeaders.decode(block.readableBytesView)
            }
            let payload = buffer.getSlice(at: bodyStart + headerCount, length: total - headerCount)!
            buffer.moveReaderIndex(forwardBy: controlLength + total + 2)
            return .message(NATSMessage(subject: subject, sid: arguments[1], replyTo: reply, headers: headers, payload: payload))
        default:
            throw NATSWireError(.unknownOperation, "unknown operation \(String(name.prefix(16)).debugDescription)")
        }
    }

    /// A decimal count: digits only, at most 12 of them.
    static func number(_ text: String, _ op: String) throws(NATSWireError) -> Int {
        guard !text.isEmpty, text.utf8.count <= 12, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let n = Int(text) else {
            throw NATSWireError(.malformedOperation, "\(op): \(String(text.prefix(16)).debugDescription) is not a byte count")
        }
        return n
    }

    /// A subject: not empty, no whitespace or control characters, no empty token.
    public static func validate(subject: String) throws(NATSWireError) {
        guard !subject.isEmpty, subject.utf8.count <= 4096 else { throw NATSWireError(.invalidSubject, "a subject is empty or too long") }
        guard subject.utf8.allSatisfy({ $0 > 32 && $0 != 127 }) else {
            throw NATSWireError(.invalidSubject, "a subject holds whitespace or control characters")
        }
        guard !subject.hasPrefix("."), !subject.hasSuffix("."), !subject.contains("..") else {
            throw NATSWireError(.invalidSubject, "a subject has an empty token")
        }
    }
}
