import FlowCodec
import MamoriCore

/// CGNAT port-block allocation logs as syslog lines, in the format of Juniper's CGNAT service
/// (Junos MS-MPC/MS-MIC `jservices-nat`, "port block allocation" with logging enabled):
///
/// ```text
/// <134>1 2026-01-01T00:00:00.000Z cgnat1 jservices-nat - JSERVICES_NAT_PORT_BLOCK_ALLOC - {cgnat}[jservices-nat]: JSERVICES_NAT_PORT_BLOCK_ALLOC: 100.64.0.1 -> 198.18.0.0:1024-2031 0x69559a00
/// ```
///
/// Why this one: Juniper MX routers with MS-MPC cards are a common CGNAT in ISP access networks,
/// and their message body is what collectors and lawful-intercept tools already parse —
/// `JSERVICES_NAT_PORT_BLOCK_ALLOC`, `…_RELEASE` and the interim `…_ACTIVE`, then
/// `inside -> outside:first-last`, then a hex number. Sources: Juniper's Junos CLI reference
/// `secured-port-block-allocation` (which names JSERVICES_NAT_PORT_BLOCK_ALLOC) and "Secured Port
/// Block Allocation Interim Logging"; the body layout as parsed by public collectors of these
/// logs. The documents consulted do not define the trailing hex number: Mamori writes the block's
/// allocation time in Unix seconds there and reads any hex value back. The framing is RFC 5424 (§6: `<PRI>1 TIMESTAMP HOSTNAME
/// APP-NAME PROCID MSGID SD MSG`), which Junos emits with `structured-data` syslog, because its
/// timestamp carries the year, milliseconds and the zone — needed to attribute a flow to a
/// subscriber without guessing. PRI 134 = facility local0 (16) × 8 + severity informational (6).
public struct NATPortBlockEvent: Sendable, Hashable {
    /// Which message.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case allocate = "JSERVICES_NAT_PORT_BLOCK_ALLOC"
        case release = "JSERVICES_NAT_PORT_BLOCK_RELEASE"
        /// Interim log of a block still in use (Junos `interim-logging-interval`).
        case active = "JSERVICES_NAT_PORT_BLOCK_ACTIVE"
    }

    public var kind: Kind
    /// When the line was logged, ms since the Unix epoch.
    public var timeMilliseconds: Int64
    /// The CGNAT device (syslog HOSTNAME).
    public var host: String
    /// Junos service set name.
    public var serviceSet: String
    /// The subscriber's (inside) address, 100.64.0.0/10 typically.
    public var insideAddress: IPAddress
    /// The public (outside) address.
    public var outsideAddress: IPAddress
    public var firstPort: UInt16
    public var lastPort: UInt16
    /// The trailing hex number; Mamori writes the block's allocation time in Unix seconds.
    public var allocatedAt: Int64

    public init(
        kind: Kind, timeMilliseconds: Int64, host: String, serviceSet: String = "cgnat", insideAddress: IPAddress,
        outsideAddress: IPAddress, firstPort: UInt16, lastPort: UInt16, allocatedAt: Int64
    ) {
        self.kind = kind
        self.timeMilliseconds = timeMilliseconds
        self.host = host
        self.serviceSet = serviceSet
        self.insideAddress = insideAddress
        self.outsideAddress = outsideAddress
        self.firstPort = firstPort
        self.lastPort = lastPort
        self.allocatedAt = allocatedAt
    }

    /// The syslog line (RFC 5424, no trailing newline).
    public var line: String {
        "<134>1 \(UTCTime(milliseconds: timeMilliseconds).rfc3339) \(host) jservices-nat - \(kind.rawValue) - {\(serviceSet)}[jservices-nat]: \(kind.rawValue): \(insideAddress) -> \(outsideAddress):\(firstPort)-\(lastPort) 0x\(String(UInt64(max(0, allocatedAt)), radix: 16))"
    }

    /// Parses one line. Throws ``IdentityCodecError/Code/malformedLine`` when the RFC 5424 header or
    /// the Juniper body is not there, ``IdentityCodecError/Code/badFieldValue`` for a bad time,
    /// address, port range or hex time. Lines of other messages throw ``IdentityCodecError/Code/malformedLine``:
    /// a reader of a mixed syslog stream skips them.
    public init(line: Substring) throws(IdentityCodecError) {
        var text = line
        while text.last == "\n" || text.last == "\r" { text = text.dropLast() }
        // RFC 5424 header: <PRI>1 SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD SP MSG
        guard text.first == "<", let close = text.firstIndex(of: ">"),
            text[text.index(after: text.startIndex)..<close].allSatisfy(\.isNumber),
            text[text.index(after: close)...].hasPrefix("1 ")
        else {
            throw IdentityCodecError(.malformedLine, "not an RFC 5424 line: \(text.prefix(80))")
        }
        let fields = text[text.index(close, offsetBy: 3)...].split(separator: " ", maxSplits: 6, omittingEmptySubsequences: false)
        guard fields.count == 7 else { throw IdentityCodecError(.malformedLine, "RFC 5424 header incomplete: \(text.prefix(80))") }
        guard let time = UTCTime.milliseconds(rfc3339: fields[0]) else {
            throw IdentityCodecError(.badFieldValue, "timestamp '\(fields[0])'")
        }
        let message = fields[5] == "-" ? fields[6] : try Self.skipStructuredData(fields[5] + " " + fields[6])
        // MSG: {service-set}[jservices-nat]: KIND: inside -> outside:first-last 0xHEX
        guard message.first == "{", let setEnd = message.firstIndex(of: "}") else {
            throw IdentityCodecError(.malformedLine, "no {service-set}: \(message.prefix(80))")
        }
        let serviceSet = String(message[message.index(after: message.startIndex)..<setEnd])
        let words = message[message.index(after: setEnd)...].split(separator: " ")
        guard words.count == 6, words[0] == "[jservices-nat]:", words[1].last == ":",
            let kind = Kind(rawValue: String(words[1].dropLast())), words[3] == "->"
        else {
            throw IdentityCodecError(.malformedLine, "not a port block message: \(message.prefix(120))")
        }
        guard let inside = IPAddress(words[2]) else { throw IdentityCodecError(.badFieldValue, "inside address '\(words[2])'") }
        guard let colon = words[4].lastIndex(of: ":"), let outside = IPAddress(words[4][..<colon]) else {
            throw IdentityCodecError(.badFieldValue, "outside '\(words[4])'")
        }
        let range = words[4][words[4].index(after: colon)...].split(separator: "-", omittingEmptySubsequences: false)
        guard range.count == 2, let first = UInt16(range[0]), let last = UInt16(range[1]), first <= last else {
            throw IdentityCodecError(.badFieldValue, "port range '\(words[4])'")
        }
        guard words[5].hasPrefix("0x"), let allocated = Int64(words[5].dropFirst(2), radix: 16) else {
            throw IdentityCodecError(.badFieldValue, "allocation time '\(words[5])'")
        }
        self.init(
            kind: kind, timeMilliseconds: time, host: String(fields[1]), serviceSet: serviceSet, insideAddress: inside,
            outsideAddress: outside, firstPort: first, lastPort: last, allocatedAt: allocated)
    }

    /// Drops RFC 5424 structured data (`[id k="v" …]…`) and the space after it.
    static func skipStructuredData(_ s: Substring) throws(IdentityCodecError) -> Substring {
        var i = s.startIndex
        var depthOpen = false
        var inQuote = false
        var escaped = false
        while i < s.endIndex {
            let c = s[i]
            if escaped {
                escaped = false
            } else if inQuote {
                if c == "\\" { escaped = true } else if c == "\"" { inQuote = false }
            } else if c == "\"" {
                inQuote = true
            } else if c == "[" {
                depthOpen = true
            } else if c == "]" {
                depthOpen = false
            } else if c == " " && !depthOpen {
                return s[s.index(after: i)...]
            }
            i = s.index(after: i)
        }
        throw IdentityCodecError(.malformedLine, "structured data without a message")
    }
}
