extension JSONValue {
    /// The members STIX readers look for first, written first; the rest follow in code point order.
    static let leadingKeys = ["type", "spec_version", "id", "created_by_ref", "created", "modified"]

    /// UTF-8 JSON text. Object members come in a fixed order (``leadingKeys``, then sorted), so
    /// the same value always gives the same bytes.
    /// - Parameter pretty: two-space indentation and one member per line.
    public func encoded(pretty: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        write(into: &out, indent: pretty ? 0 : nil, canonical: false)
        if pretty { out.append(0x0A) }
        return out
    }

    /// The text of ``encoded(pretty:)``.
    public func text(pretty: Bool = false) -> String { String(decoding: encoded(pretty: pretty), as: UTF8.self) }

    /// The JSON Canonicalization Scheme form (RFC 8785) that STIX 2.1 §2.9 hashes into a cyber
    /// observable's UUIDv5: no white space, members sorted by UTF-16 code units, strings with
    /// only the mandatory escapes.
    public var canonicalEncoding: [UInt8] {
        var out: [UInt8] = []
        write(into: &out, indent: nil, canonical: true)
        return out
    }

    static func utf16Less(_ a: String, _ b: String) -> Bool { a.utf16.lexicographicallyPrecedes(b.utf16) }

    func write(into out: inout [UInt8], indent: Int?, canonical: Bool) {
        switch self {
        case .null: out += Array("null".utf8)
        case .bool(let b): out += Array((b ? "true" : "false").utf8)
        case .integer(let i): out += Array(String(i).utf8)
        case .number(let d): out += Array(Self.format(d).utf8)
        case .string(let s): Self.writeString(s, into: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (k, e) in elements.enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                Self.newline(&out, indent.map { $0 + 1 })
                e.write(into: &out, indent: indent.map { $0 + 1 }, canonical: canonical)
            }
            if !elements.isEmpty { Self.newline(&out, indent) }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            let keys: [String]
            if canonical {
                keys = members.keys.sorted(by: Self.utf16Less)
            } else {
                let leading = Self.leadingKeys.filter { members[$0] != nil }
                keys = leading + members.keys.filter { !Self.leadingKeys.contains($0) }.sorted(by: Self.utf16Less)
            }
            for (k, key) in keys.enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                Self.newline(&out, indent.map { $0 + 1 })
                Self.writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                if indent != nil { out.append(UInt8(ascii: " ")) }
                members[key]!.write(into: &out, indent: indent.map { $0 + 1 }, canonical: canonical)
            }
            if !members.isEmpty { Self.newline(&out, indent) }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func newline(_ out: inout [UInt8], _ indent: Int?) {
        guard let indent else { return }
        out.append(0x0A)
        out += [UInt8](repeating: 0x20, count: indent * 2)
    }

    /// A finite number as RFC 8785 writes it for the values STIX uses: an integral value below
    /// 10^21 in plain digits, anything else in Swift's shortest round-trip form.
    static func format(_ d: Double) -> String {
        if d.rounded() == d, abs(d) < 1e21 {
            if abs(d) < 9e18 { return String(Int64(d)) }
        }
        return d.description
    }

    static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out += [0x5C, 0x22]
            case UInt8(ascii: "\\"): out += [0x5C, 0x5C]
            case 0x08: out += [0x5C, UInt8(ascii: "b")]
            case 0x0C: out += [0x5C, UInt8(ascii: "f")]
            case 0x0A: out += [0x5C, UInt8(ascii: "n")]
            case 0x0D: out += [0x5C, UInt8(ascii: "r")]
            case 0x09: out += [0x5C, UInt8(ascii: "t")]
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out += [0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(b >> 4)], hex[Int(b & 0xF)]]
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
