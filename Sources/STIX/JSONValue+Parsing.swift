extension JSONValue {
    /// Bounds on the JSON read from peers: documents larger or deeper than these are refused
    /// before they cost more than a linear scan.
    public struct Limits: Sendable, Hashable {
        /// The most bytes of one document (16 MiB: a TAXII page or a feed's event).
        public var maximumBytes: Int
        /// The deepest nesting of arrays and objects.
        public var maximumDepth: Int
        /// The most values (scalars, arrays and objects) in one document.
        public var maximumValues: Int

        public init(maximumBytes: Int = 16 << 20, maximumDepth: Int = 64, maximumValues: Int = 2_000_000) {
            self.maximumBytes = maximumBytes
            self.maximumDepth = maximumDepth
            self.maximumValues = maximumValues
        }
    }

    /// Reads one JSON document (RFC 8259, UTF-8, surrounding white space allowed).
    ///
    /// Strict: invalid UTF-8, a lone surrogate escape, a control character in a string, a
    /// duplicate member name, a number out of range or anything after the value is an error.
    /// - Throws: ``STIXError/Code/malformedJSON``, or ``STIXError/Code/limitExceeded`` past `limits`.
    public static func parse(_ bytes: some Collection<UInt8>, limits: Limits = Limits()) throws(STIXError) -> JSONValue {
        guard bytes.count <= limits.maximumBytes else {
            throw STIXError(.limitExceeded, "a JSON document of \(bytes.count) bytes (at most \(limits.maximumBytes))")
        }
        var parser = JSONParser(bytes: Array(bytes), limits: limits)
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.index == parser.bytes.count else { throw parser.error("data after the JSON value") }
        return value
    }

    /// Reads one JSON document from text.
    public static func parse(_ text: String, limits: Limits = Limits()) throws(STIXError) -> JSONValue {
        try parse(Array(text.utf8), limits: limits)
    }
}

/// A recursive-descent reader over the bytes of one document; recursion is bounded by
/// ``JSONValue/Limits/maximumDepth``.
private struct JSONParser {
    let bytes: [UInt8]
    let limits: JSONValue.Limits
    var index = 0
    var values = 0

    init(bytes: [UInt8], limits: JSONValue.Limits) {
        self.bytes = bytes
        self.limits = limits
    }

    func error(_ what: String) -> STIXError { STIXError(.malformedJSON, "\(what) at byte \(index)") }

    mutating func skipSpace() {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 {
            index += 1
        }
    }

    mutating func value(depth: Int) throws(STIXError) -> JSONValue {
        values += 1
        guard values <= limits.maximumValues else { throw STIXError(.limitExceeded, "more than \(limits.maximumValues) JSON values") }
        guard index < bytes.count else { throw error("end of input where a value was expected") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw error("unexpected byte 0x\(String(bytes[index], radix: 16))")
        }
    }

    mutating func literal(_ word: StaticString, _ value: JSONValue) throws(STIXError) -> JSONValue {
        let n = word.utf8CodeUnitCount
        guard index + n <= bytes.count else { throw error("truncated literal") }
        let expected = UnsafeBufferPointer(start: word.utf8Start, count: n)
        for k in 0..<n where bytes[index + k] != expected[k] { throw error("unknown literal") }
        index += n
        return value
    }

    mutating func object(depth: Int) throws(STIXError) -> JSONValue {
        guard depth <= limits.maximumDepth else { throw STIXError(.limitExceeded, "JSON nested deeper than \(limits.maximumDepth)") }
        index += 1
        var members: [String: JSONValue] = [:]
        skipSpace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("a member name was expected") }
            let key = try string()
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("':' was expected") }
            index += 1
            skipSpace()
            let v = try value(depth: depth)
            guard members.updateValue(v, forKey: key) == nil else { throw error("duplicate member name") }
            skipSpace()
            guard index < bytes.count else { throw error("unterminated object") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "}") else { throw error("',' or '}' was expected") }
            index += 1
            return .object(members)
        }
    }

    mutating func array(depth: Int) throws(STIXError) -> JSONValue {
        guard depth <= limits.maximumDepth else { throw STIXError(.limitExceeded, "JSON nested deeper than \(limits.maximumDepth)") }
        index += 1
        var elements: [JSONValue] = []
        skipSpace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            skipSpace()
            elements.append(try value(depth: depth))
            skipSpace()
            guard index < bytes.count else { throw error("unterminated array") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "]") else { throw error("',' or ']' was expected") }
            index += 1
            return .array(elements)
        }
    }

    mutating func hex4() throws(STIXError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw error("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[index]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
            default: throw error("bad \\u escape")
            }
            v = v << 4 | UInt32(d)
            index += 1
        }
        return v
    }

    mutating func string() throws(STIXError) -> String {
        index += 1
        var out: [UInt8] = []
        var escaped = false
        let start = index
        // Fast path: no escapes, the bytes are taken as they are.
        while index < bytes.count {
            let c = bytes[index]
            if c == UInt8(ascii: "\"") { break }
            if c == UInt8(ascii: "\\") {
                escaped = true
                break
            }
            guard c >= 0x20 else { throw error("control character in a string") }
            index += 1
        }
        guard index < bytes.count else { throw error("unterminated string") }
        out.append(contentsOf: bytes[start..<index])
        if escaped {
            while true {
                guard index < bytes.count else { throw error("unterminated string") }
                let c = bytes[index]
                if c == UInt8(ascii: "\"") { break }
                guard c >= 0x20 else { throw error("control character in a string") }
                guard c == UInt8(ascii: "\\") else {
                    out.append(c)
                    index += 1
                    continue
                }
                index += 1
                guard index < bytes.count else { throw error("unterminated escape") }
                let e = bytes[index]
                index += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard index + 2 <= bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw error("lone surrogate escape")
                        }
                        index += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw error("lone surrogate escape") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw error("lone surrogate escape")
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw error("bad \\u escape") }
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default: throw error("unknown escape")
                }
            }
        }
        index += 1
        let text = String(decoding: out, as: UTF8.self)
        // Decoding replaces invalid UTF-8 with U+FFFD, which changes the bytes: refuse instead.
        guard text.utf8.elementsEqual(out) else { throw error("invalid UTF-8 in a string") }
        return text
    }

    mutating func number() throws(STIXError) -> JSONValue {
        let start = index
        var integral = true
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        func digits(_ p: inout JSONParser) -> Int {
            var n = 0
            while p.index < p.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(p.bytes[p.index]) {
                p.index += 1
                n += 1
            }
            return n
        }
        guard index < bytes.count else { throw error("truncated number") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            guard digits(&self) > 0 else { throw error("bad number") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            integral = false
            guard digits(&self) > 0 else { throw error("bad fraction") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            integral = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits(&self) > 0 else { throw error("bad exponent") }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if integral, let i = Int64(text) { return .integer(i) }
        guard let d = Double(text), d.isFinite else { throw error("number out of range") }
        return .number(d)
    }
}
