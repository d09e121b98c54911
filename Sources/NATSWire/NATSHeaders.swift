import NIOCore

/// One `Name: value` line of a NATS header block.
public struct NATSHeaderField: Hashable, Sendable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// A NATS header block (`NATS/1.0` version line, `Name: value` lines, an empty line), as HPUB
/// sends and HMSG delivers it. Names keep their case and may repeat (ADR-4); the version line may
/// carry a status (`NATS/1.0 503`, `NATS/1.0 404 No Messages`), which the server uses for
/// no-responders and for JetStream pull requests.
public struct NATSHeaders: Hashable, Sendable {
    /// The three-digit status of the version line, if any.
    public var status: Int?
    /// The words after the status (`No Messages`), or "".
    public var statusDescription: String
    public private(set) var fields: [NATSHeaderField]

    public init(status: Int? = nil, statusDescription: String = "", fields: [NATSHeaderField] = []) {
        self.status = status
        self.statusDescription = statusDescription
        self.fields = fields
    }

    /// Adds a line (names may repeat).
    public mutating func append(_ name: String, _ value: String) { fields.append(NATSHeaderField(name: name, value: value)) }

    /// The first value of `name` (names compare exactly, as NATS keeps their case).
    public subscript(name: String) -> String? { fields.first { $0.name == name }?.value }

    /// Every value of `name`, in order.
    public func values(_ name: String) -> [String] { fields.filter { $0.name == name }.map(\.value) }

    static let version = Array("NATS/1.0".utf8)

    /// Writes the block, ending with its empty line. Names must be printable ASCII without `:`;
    /// values must not hold CR or LF.
    public func write(into buffer: inout ByteBuffer) throws(NATSWireError) {
        buffer.writeBytes(Self.version)
        if let status {
            guard (100...999).contains(status) else { throw NATSWireError(.malformedHeaders, "status \(status) is not three digits") }
            buffer.writeString(" \(status)")
            if !statusDescription.isEmpty {
                guard !statusDescription.utf8.contains(where: { $0 == 13 || $0 == 10 }) else {
                    throw NATSWireError(.malformedHeaders, "status description holds CR or LF")
                }
                buffer.writeString(" " + statusDescription)
            }
        }
        buffer.writeStaticString("\r\n")
        for field in fields {
            guard !field.name.isEmpty, field.name.utf8.allSatisfy({ $0 >= 33 && $0 <= 126 && $0 != UInt8(ascii: ":") }) else {
                throw NATSWireError(.malformedHeaders, "header name \(field.name.debugDescription) is not printable ASCII without ':'")
            }
            guard !field.value.utf8.contains(where: { $0 == 13 || $0 == 10 }) else {
                throw NATSWireError(.malformedHeaders, "the value of header \(field.name) holds CR or LF")
            }
            buffer.writeString(field.name)
            buffer.writeStaticString(": ")
            buffer.writeString(field.value)
            buffer.writeStaticString("\r\n")
        }
        buffer.writeStaticString("\r\n")
    }

    /// The block's size in bytes as ``write(into:)`` writes it.
    public func encodedCount() throws(NATSWireError) -> Int {
        var buffer = ByteBuffer()
        try write(into: &buffer)
        return buffer.readableBytes
    }

    /// Reads a whole header block (every byte of `bytes`, which must end with the empty line).
    public static func decode(_ bytes: ByteBufferView) throws(NATSWireError) -> NATSHeaders {
        let all = Array(bytes)
        guard all.count >= version.count + 4, all.starts(with: version) else {
            throw NATSWireError(.malformedHeaders, "the header block does not start with NATS/1.0")
        }
        guard all.suffix(4).elementsEqual([13, 10, 13, 10]) else {
            throw NATSWireError(.malformedHeaders, "the header block does not end with an empty line")
        }
        // Lines without the final empty one; each ends with CRLF.
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        var i = 0
        while i + 1 < all.count - 2 {
            if all[i] == 13 && all[i + 1] == 10 {
                lines.append(all[start..<i])
                start = i + 2
                i += 2
            } else {
                guard all[i] != 10 && all[i] != 13 else { throw NATSWireError(.malformedHeaders, "a bare CR or LF in the header block") }
                i += 1
            }
        }
        guard start == all.count - 2 else { throw NATSWireError(.malformedHeaders, "the header block's lines do not end with CRLF") }
        guard let first = lines.first else { throw NATSWireError(.malformedHeaders, "no version line") }
        var headers = NATSHeaders()
        let rest = first.dropFirst(version.count)
        if !rest.isEmpty {
            guard rest.first == UInt8(ascii: " ") else { throw NATSWireError(.malformedHeaders, "the version is not NATS/1.0") }
            let words = rest.split(separator: UInt8(ascii: " "), maxSplits: 1, omittingEmptySubsequences: true)
            if let code = words.first {
                guard code.count == 3, code.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
                    throw NATSWireError(.malformedHeaders, "the status is not three digits")
                }
                headers.status = Int(String(decoding: code, as: UTF8.self))
                if words.count > 1 { headers.statusDescription = trimmed(words[1]) }
            }
        }
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
                throw NATSWireError(.malformedHeaders, "a header line without ':'")
            }
            let name = line[line.startIndex..<colon]
            guard !name.isEmpty, name.allSatisfy({ $0 >= 33 && $0 <= 126 }) else {
                throw NATSWireError(.malformedHeaders, "a header name that is empty or not printable ASCII")
            }
            headers.append(String(decoding: name, as: UTF8.self), trimmed(line[(colon + 1)...]))
        }
        return headers
    }

    static func trimmed(_ bytes: ArraySlice<UInt8>) -> String {
        var s = bytes
        while let f = s.first, f == 32 || f == 9 { s = s.dropFirst() }
        while let l = s.last, l == 32 || l == 9 { s = s.dropLast() }
        return String(decoding: s, as: UTF8.self)
    }
}
