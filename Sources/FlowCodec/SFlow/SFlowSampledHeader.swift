/// Reads the packet header an sFlow agent copied into a raw packet header record (format 1).
///
/// The header is usually cut short (128 bytes by default), so every layer takes what is present:
/// addresses need the whole IP header, ports the first 4 bytes of the transport header and TCP
/// flags its first 14. Reads straight from the datagram; nothing is copied.
enum SFlowSampledHeader {
    /// sFlow `header_protocol` values this reader understands.
    static let ethernet: UInt32 = 1
    static let ipv4: UInt32 = 11
    static let ipv6: UInt32 = 12

    /// VLAN tags and MPLS labels followed before giving up (bounds work on hostile input).
    static let maxTags = 8
    /// IPv6 extension headers followed before giving up.
    static let maxExtensionHeaders = 8

    /// Fills addresses, ports, protocol, TCP flags and ToS of `record` from the sampled header in
    /// `range`. Returns whether an IP header was found.
    static func parse(
        _ bytes: UnsafeRawBufferPointer, range: Range<Int>, headerProtocol: UInt32, into record: inout FlowRecord
    ) -> Bool {
        let end = min(range.upperBound, bytes.count)
        switch headerProtocol {
        case ethernet:
            return parseEthernet(bytes, at: range.lowerBound, end: end, into: &record)
        case ipv4, ipv6:
            return parseIP(bytes, at: range.lowerBound, end: end, into: &record)
        default:
            return false
        }
    }

    /// Ethernet II with any number (up to ``maxTags``) of 802.1Q / 802.1ad tags, then IPv4, IPv6
    /// or an MPLS label stack over IP.
    static func parseEthernet(_ bytes: UnsafeRawBufferPointer, at start: Int, end: Int, into record: inout FlowRecord) -> Bool {
        guard end - start >= 14 else { return false }
        var offset = start + 14
        var etherType = bytes.loadBigEndianUInt16(at: start + 12)
        var tags = 0
        while etherType == 0x8100 || etherType == 0x88A8 || etherType == 0x9100 {
            guard tags < maxTags, end - offset >= 4 else { return false }
            etherType = bytes.loadBigEndianUInt16(at: offset + 2)
            offset += 4
            tags += 1
        }
        switch etherType {
        case 0x0800, 0x86DD:
            return parseIP(bytes, at: offset, end: end, into: &record)
        case 0x8847, 0x8848: // MPLS unicast / multicast: skip to the bottom of the stack
            for _ in 0..<maxTags {
                guard end - offset >= 4 else { return false }
                let bottom = bytes[offset + 2] & 0x01 != 0
                offset += 4
                if bottom { return parseIP(bytes, at: offset, end: end, into: &record) }
            }
            return false
        default:
            return false
        }
    }

    /// IPv4 or IPv6, chosen by the version nibble.
    static func parseIP(_ bytes: UnsafeRawBufferPointer, at start: Int, end: Int, into record: inout FlowRecord) -> Bool {
        guard start < end else { return false }
        switch bytes[start] >> 4 {
        case 4: return parseIPv4(bytes, at: start, end: end, into: &record)
        case 6: return parseIPv6(bytes, at: start, end: end, into: &record)
        default: return false
        }
    }

    static func parseIPv4(_ bytes: UnsafeRawBufferPointer, at start: Int, end: Int, into record: inout FlowRecord) -> Bool {
        guard end - start >= 20 else { return false }
        let headerLength = Int(bytes[start] & 0x0F) * 4
        guard headerLength >= 20 else { return false }
        record.typeOfService = bytes[start + 1]
        record.ipProtocol = bytes[start + 9]
        record.sourceAddress = .v4(bytes.loadBigEndianUInt32(at: start + 12))
        record.destinationAddress = .v4(bytes.loadBigEndianUInt32(at: start + 16))
        // Only the first fragment carries the transport header.
        if bytes.loadBigEndianUInt16(at: start + 6) & 0x1FFF == 0 {
            parseTransport(bytes, at: start + headerLength, end: end, into: &record)
        }
        return true
    }

    static func parseIPv6(_ bytes: UnsafeRawBufferPointer, at start: Int, end: Int, into record: inout FlowRecord) -> Bool {
        guard end - start >= 40 else { return false }
        record.typeOfService = (bytes[start] & 0x0F) << 4 | bytes[start + 1] >> 4
        record.sourceAddress = bytes.loadIPv6(at: start + 8)
        record.destinationAddress = bytes.loadIPv6(at: start + 24)
        var next = bytes[start + 6]
        var offset = start + 40
        for _ in 0..<maxExtensionHeaders {
            switch next {
            case 0, 43, 60: // hop-by-hop, routing, destination options: (length + 1) × 8 bytes
                guard end - offset >= 2 else {
                    record.ipProtocol = next
                    return true
                }
                let length = (Int(bytes[offset + 1]) + 1) * 8
                next = bytes[offset]
                offset += length
            case 51: // authentication header: (length + 2) × 4 bytes
                guard end - offset >= 2 else {
                    record.ipProtocol = next
                    return true
                }
                let length = (Int(bytes[offset + 1]) + 2) * 4
                next = bytes[offset]
                offset += length
            case 44: // fragment: only the first fragment carries the transport header
                guard end - offset >= 8 else {
                    record.ipProtocol = next
                    return true
                }
                let fragmentOffset = bytes.loadBigEndianUInt16(at: offset + 2) >> 3
                next = bytes[offset]
                offset += 8
                if fragmentOffset != 0 {
                    record.ipProtocol = next
                    return true
                }
            default:
                record.ipProtocol = next
                parseTransport(bytes, at: offset, end: end, into: &record)
                return true
            }
        }
        record.ipProtocol = next
        return true
    }

    /// Ports of TCP, UDP, SCTP and UDP-Lite; TCP flags. ICMP and others leave the ports 0.
    static func parseTransport(_ bytes: UnsafeRawBufferPointer, at start: Int, end: Int, into record: inout FlowRecord) {
        guard start <= end else { return }
        switch record.ipProtocol {
        case 6:
            guard end - start >= 4 else { return }
            record.sourcePort = bytes.loadBigEndianUInt16(at: start)
            record.destinationPort = bytes.loadBigEndianUInt16(at: start + 2)
            if end - start >= 14 { record.tcpFlags = bytes[start + 13] }
        case 17, 132, 136:
            guard end - start >= 4 else { return }
            record.sourcePort = bytes.loadBigEndianUInt16(at: start)
            record.destinationPort = bytes.loadBigEndianUInt16(at: start + 2)
        default:
            return
        }
    }
}
