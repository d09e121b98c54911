// DNSWire: the DNS wire format written by hand. No maintained Swift DNS codec is among the
// packages this project can depend on (see /work/.library/env/machines/swift-packages-b.md:
// SwiftNIO, swift-crypto, Hummingbird … but no DNS message library), so this module implements
// what the RPZ sinkhole needs: RFC 1035 messages and name compression, RFC 4343 case rules,
// RFC 1982 serial arithmetic and RFC 8945 TSIG. Pure: no sockets, files, clocks or loggers.

/// Why bytes or values could not be read or written as DNS.
public enum DNSWireError: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    /// The input ended before the item that starts or continues at this offset.
    case truncated(at: Int)
    /// A compression pointer at this offset points forward, at itself, or past the message.
    case badPointer(at: Int)
    /// A name took more compression pointers than any valid name needs (a loop or a chain).
    case tooManyPointers(at: Int)
    /// A label type other than a plain label or a pointer (0x40, 0x80 extended labels) at this offset.
    case badLabelType(at: Int)
    /// A label longer than 63 octets.
    case labelTooLong
    /// A name longer than 255 octets in wire form.
    case nameTooLong
    /// An empty label inside a name ("a..b"), or an empty label given to `prepending`.
    case emptyLabel
    /// Presentation text that is not a name: a bad escape such as `\256` or a lone `\`.
    case badEscape
    /// The header counts more records than the remaining octets could hold.
    case tooManyRecords(Int)
    /// The record data of this type is malformed (wrong length, or names that overrun it).
    case badRData(DNSType)
    /// Octets remain after the last record the header counts, starting at this offset.
    case trailingBytes(at: Int)
    /// The message does not fit into the size asked for; nothing is truncated silently.
    case tooLarge
    /// A TSIG record that is not the last record of the additional section, or more than one.
    case misplacedTSIG
    /// A TSIG secret that is not valid base64, or is empty.
    case badSecret
    /// A signed exchange failed to verify: BADSIG, BADKEY, BADTIME or FORMERR (a malformed or
    /// too short MAC), or the peer reported that TSIG error.
    case tsigRejected(DNSRCode)
    /// A message of a signed exchange carries no TSIG where one is required.
    case tsigMissing

    public var description: String {
        switch self {
        case .truncated(let at): "DNS message truncated at octet \(at)"
        case .badPointer(let at): "bad compression pointer at octet \(at) (not strictly backwards)"
        case .tooManyPointers(let at): "too many compression pointers in the name at octet \(at)"
        case .badLabelType(let at): "unsupported label type at octet \(at)"
        case .labelTooLong: "a DNS label is longer than 63 octets"
        case .nameTooLong: "a DNS name is longer than 255 octets"
        case .emptyLabel: "a DNS name has an empty label"
        case .badEscape: "bad escape in a DNS name's presentation form"
        case .tooManyRecords(let n): "the header counts \(n) records, more than the message can hold"
        case .badRData(let type): "malformed \(type) record data"
        case .trailingBytes(let at): "octets after the last record, from octet \(at)"
        case .tooLarge: "the DNS message does not fit the size limit"
        case .misplacedTSIG: "a TSIG record that is not the last additional record"
        case .badSecret: "the TSIG secret is not valid, non-empty base64"
        case .tsigRejected(let code): "TSIG rejected: \(code)"
        case .tsigMissing: "a TSIG record is missing"
        }
    }
}
