/// A domain name: a sequence of labels of octets, always absolute (the root is implied last).
///
/// Equality and hashing ignore ASCII case (RFC 4343: "A" equals "a", other octets are compared
/// exactly); the labels keep the case they were given, which is what is written. Limits are
/// checked when a name is made: a label is 1 … 63 octets, and the name's wire form (a length
/// octet per label, the labels and the root's zero) at most 255 octets.
///
/// ```swift
/// let owner = try DNSName("evil.example").appending(DNSName("rpz.mamori."))
/// owner.description  // "evil.example.rpz.mamori."
/// ```
public struct DNSName: Hashable, Sendable, CustomStringConvertible {
    /// The labels, leftmost first, without the root's empty label.
    public let labels: [[UInt8]]

    /// The root name, ".".
    public static let root = DNSName(validated: [])

    /// The longest label, in octets.
    public static let maxLabelLength = 63
    /// The longest name in wire form, in octets.
    public static let maxWireLength = 255

    init(validated labels: [[UInt8]]) { self.labels = labels }

    /// A name from its labels, leftmost first.
    /// - Throws: `.emptyLabel`, `.labelTooLong` or `.nameTooLong`.
    public init(labels: [[UInt8]]) throws(DNSWireError) {
        var length = 1
        for label in labels {
            if label.isEmpty { throw .emptyLabel }
            if label.count > Self.maxLabelLength { throw .labelTooLong }
            length += 1 + label.count
        }
        if length > Self.maxWireLength { throw .nameTooLong }
        self.labels = labels
    }

    /// A name from presentation text (RFC 1035 §5.1): labels separated by dots, a final dot
    /// optional (every name here is absolute), `\.` or `\X` for a literal character and `\DDD`
    /// for the octet with decimal value DDD. "." and "" are the root.
    /// - Throws: `.badEscape`, `.emptyLabel`, `.labelTooLong` or `.nameTooLong`.
    public init(_ text: String) throws(DNSWireError) {
        let bytes = Array(text.utf8)
        if bytes.isEmpty || bytes == [UInt8(ascii: ".")] {
            self = .root
            return
        }
        var labels: [[UInt8]] = []
        var current: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "\\") {
                guard i + 1 < bytes.count else { throw .badEscape }
                let d = bytes[i + 1]
                if Self.isDigit(d) {
                    guard i + 3 < bytes.count, Self.isDigit(bytes[i + 2]), Self.isDigit(bytes[i + 3]) else {
                        throw .badEscape
                    }
                    let v = Int(d - 48) * 100 + Int(bytes[i + 2] - 48) * 10 + Int(bytes[i + 3] - 48)
                    guard v <= 255 else { throw .badEscape }
                    current.append(UInt8(v))
                    i += 4
                } else {
                    current.append(d)
                    i += 2
                }
                if current.count > Self.maxLabelLength { throw .labelTooLong }
            } else if c == UInt8(ascii: ".") {
                if current.isEmpty { throw .emptyLabel }
                labels.append(current)
                current = []
                i += 1
            } else {
                current.append(c)
                if current.count > Self.maxLabelLength { throw .labelTooLong }
                i += 1
            }
        }
        if !current.isEmpty { labels.append(current) }
        try self.init(labels: labels)
    }

    static func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }

    /// The number of labels, not counting the root's (0 for the root).
    public var labelCount: Int { labels.count }

    /// The length of the name's uncompressed wire form, in octets.
    public var wireLength: Int { labels.reduce(1) { $0 + 1 + $1.count } }

    /// The presentation form, absolute (with the final dot): `.`, `\.`, `\\`, `"`, `(`, `)`, `;`,
    /// `@` and `$` are escaped with a backslash, octets outside 0x21 … 0x7E as `\DDD`.
    public var description: String {
        if labels.isEmpty { return "." }
        var out: [UInt8] = []
        for label in labels {
            for c in label {
                switch c {
                case UInt8(ascii: "."), UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "("), UInt8(ascii: ")"),
                    UInt8(ascii: ";"), UInt8(ascii: "@"), UInt8(ascii: "$"):
                    out.append(UInt8(ascii: "\\"))
                    out.append(c)
                case 0x21...0x7E:
                    out.append(c)
                default:
                    out.append(UInt8(ascii: "\\"))
                    out.append(48 + c / 100)
                    out.append(48 + c / 10 % 10)
                    out.append(48 + c % 10)
                }
            }
            out.append(UInt8(ascii: "."))
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The labels with ASCII upper case folded to lower case (RFC 4343): the canonical form.
    public var lowercased: DNSName { DNSName(validated: labels.map(Self.lower)) }

    static func lower(_ label: [UInt8]) -> [UInt8] {
        label.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }
    }

    static func labelsEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        for k in 0..<a.count {
            let x = a[k] >= 65 && a[k] <= 90 ? a[k] | 0x20 : a[k]
            let y = b[k] >= 65 && b[k] <= 90 ? b[k] | 0x20 : b[k]
            if x != y { return false }
        }
        return true
    }

    public static func == (lhs: DNSName, rhs: DNSName) -> Bool {
        guard lhs.labels.count == rhs.labels.count else { return false }
        for k in 0..<lhs.labels.count where !labelsEqual(lhs.labels[k], rhs.labels[k]) { return false }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(labels.count)
        for label in labels {
            hasher.combine(label.count)
            for c in label { hasher.combine(c >= 65 && c <= 90 ? c | 0x20 : c) }
        }
    }

    /// Whether this name is `other` or below it ("a.example." is a subdomain of "example." and
    /// of itself; every name is a subdomain of the root).
    public func isSubdomain(of other: DNSName) -> Bool {
        let n = other.labels.count
        guard labels.count >= n else { return false }
        let offset = labels.count - n
        for k in 0..<n where !Self.labelsEqual(labels[offset + k], other.labels[k]) { return false }
        return true
    }

    /// This name with one more label on the left.
    /// - Throws: `.emptyLabel`, `.labelTooLong` or `.nameTooLong`.
    public func prepending(_ label: [UInt8]) throws(DNSWireError) -> DNSName {
        try DNSName(labels: [label] + labels)
    }

    /// This name with `other`'s labels after its own: "evil.example." appending "rpz.mamori."
    /// is "evil.example.rpz.mamori.", an RPZ owner name.
    /// - Throws: `.nameTooLong`.
    public func appending(_ other: DNSName) throws(DNSWireError) -> DNSName {
        if wireLength + other.wireLength - 1 > Self.maxWireLength { throw .nameTooLong }
        return DNSName(validated: labels + other.labels)
    }

    /// The uncompressed wire form, as given (`lowercased` first for the canonical form).
    public var wireBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(wireLength)
        for label in labels {
            out.append(UInt8(label.count))
            out.append(contentsOf: label)
        }
        out.append(0)
        return out
    }
}
