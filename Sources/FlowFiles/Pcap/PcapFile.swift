import FlowCodec

/// A UDP datagram found in a capture file.
public struct CapturedDatagram: Sendable, Hashable {
    /// Capture time, microseconds since the Unix epoch.
    public var timestampMicroseconds: Int64
    public var sourceAddress: IPAddress
    public var sourcePort: UInt16
    public var destinationAddress: IPAddress
    public var destinationPort: UInt16
    public var payload: [UInt8]

    public init(
        timestampMicroseconds: Int64, sourceAddress: IPAddress, sourcePort: UInt16, destinationAddress: IPAddress, destinationPort: UInt16,
        payload: [UInt8]
    ) {
        self.timestampMicroseconds = timestampMicroseconds
        self.sourceAddress = sourceAddress
        self.sourcePort = sourcePort
        self.destinationAddress = destinationAddress
        self.destinationPort = destinationPort
        self.payload = payload
    }
}

/// Why a capture file could not be read.
public struct PcapError: Error, Sendable, Hashable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// Reads the UDP datagrams out of a classic libpcap file (microsecond or nanosecond, either byte
/// order) whose link type is Ethernet (with 802.1Q tags), raw IP, Linux cooked (SLL, SLL2) or BSD
/// loopback. IP fragments and non-UDP packets are counted and skipped.
///
/// Written by hand because no Swift package reads pcap; the format is a 24-byte header and
/// 16-byte record headers (https://www.tcpdump.org/manpages/pcap-savefile.5.html).
public struct PcapFile: Sendable {
    public private(set) var datagrams: [CapturedDatagram] = []
    /// Frames that were not UDP over IPv4/IPv6 (or were fragments).
    public private(set) var skippedFrames = 0
    public let linkType: UInt32

    public init(bytes: [UInt8]) throws(PcapError) {
        guard bytes.count >= 24 else { throw PcapError("file is \(bytes.count) bytes, shorter than a pcap header (24)") }
        let magic = UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3])
        let bigEndian: Bool
        let nanoseconds: Bool
        switch magic {
        case 0xA1B2_C3D4: (bigEndian, nanoseconds) = (true, false)
        case 0xD4C3_B2A1: (bigEndian, nanoseconds) = (false, false)
        case 0xA1B2_3C4D: (bigEndian, nanoseconds) = (true, true)
        case 0x4D3C_B2A1: (bigEndian, nanoseconds) = (false, true)
        case 0x0A0D_0D0A: throw PcapError("pcapng files are not supported; convert with: editcap -F pcap in.pcapng out.pcap")
        default: throw PcapError("not a pcap file (magic 0x\(String(magic, radix: 16)))")
        }
        func u32(_ o: Int) -> UInt32 {
            let v = UInt32(bytes[o]) << 24 | UInt32(bytes[o + 1]) << 16 | UInt32(bytes[o + 2]) << 8 | UInt32(bytes[o + 3])
            return bigEndian ? v : v.byteSwapped
        }
        linkType = u32(20) & 0x0FFF_FFFF
        var offset = 24
        while offset < bytes.count {
            guard offset + 16 <= bytes.count else { throw PcapError("truncated record header at byte \(offset)") }
            let seconds = Int64(u32(offset))
            let fraction = Int64(u32(offset + 4))
            let captured = Int(u32(offset + 8))
            let start = offset + 16
            guard captured <= 262_144, start + captured <= bytes.count else {
                throw PcapError("truncated packet at byte \(offset): \(captured) bytes announced, \(bytes.count - start) left")
            }
            let time = seconds * 1_000_000 + (nanoseconds ? fraction / 1000 : fraction)
            if let d = Self.udp(in: bytes[start..<(start + captured)], linkType: linkType, time: time) {
                datagrams.append(d)
            } else {
                skippedFrames += 1
            }
            offset = start + captured
        }
    }

    static func udp(in frame: ArraySlice<UInt8>, linkType: UInt32, time: Int64) -> CapturedDatagram? {
        let b = Array(frame)
        func u16(_ o: Int) -> Int { Int(b[o]) << 8 | Int(b[o + 1]) }
        var ip = 0
        var etherType = 0
        switch linkType {
        case 1: // Ethernet
            guard b.count >= 14 else { return nil }
            etherType = u16(12)
            ip = 14
            while etherType == 0x8100 || etherType == 0x88A8 {
                guard b.count >= ip + 4 else { return nil }
                etherType = u16(ip + 2)
                ip += 4
            }
        case 101, 12, 14: // raw IP
            guard !b.isEmpty else { return nil }
            etherType = b[0] >> 4 == 6 ? 0x86DD : 0x0800
        case 228: etherType = 0x0800
        case 229: etherType = 0x86DD
        case 113: // Linux cooked v1
            guard b.count >= 16 else { return nil }
            etherType = u16(14)
            ip = 16
        case 276: // Linux cooked v2
            guard b.count >= 20 else { return nil }
            etherType = u16(0)
            ip = 20
        case 0: // BSD loopback: 4-byte host-order family
            guard b.count >= 4 else { return nil }
            let family = b[0] == 0 ? Int(b[3]) : Int(b[0])
            etherType = family == 2 ? 0x0800 : 0x86DD
            ip = 4
        default:
            return nil
        }
        var udp = 0
        let src: IPAddress
        let dst: IPAddress
        var ipEnd = b.count
        switch etherType {
        case 0x0800:
            guard b.count >= ip + 20, b[ip] >> 4 == 4 else { return nil }
            let ihl = Int(b[ip] & 0x0F) * 4
            let total = u16(ip + 2)
            let fragment = u16(ip + 6)
            guard b[ip + 9] == 17, fragment & 0x3FFF == 0, ihl >= 20, b.count >= ip + ihl + 8 else { return nil }
            src = IPAddress(bytes: b[(ip + 12)..<(ip + 16)])!
            dst = IPAddress(bytes: b[(ip + 16)..<(ip + 20)])!
            if total >= ihl + 8 { ipEnd = min(b.count, ip + total) }
            udp = ip + ihl
        case 0x86DD:
            guard b.count >= ip + 48, b[ip] >> 4 == 6, b[ip + 6] == 17 else { return nil }
            src = IPAddress(bytes: b[(ip + 8)..<(ip + 24)])!
            dst = IPAddress(bytes: b[(ip + 24)..<(ip + 40)])!
            ipEnd = min(b.count, ip + 40 + u16(ip + 4))
            udp = ip + 40
        default:
            return nil
        }
        let udpLength = u16(udp + 4)
        let payloadEnd = udpLength >= 8 ? min(ipEnd, udp + udpLength) : ipEnd
        guard payloadEnd >= udp + 8 else { return nil }
        return CapturedDatagram(
            timestampMicroseconds: time, sourceAddress: src, sourcePort: UInt16(u16(udp)),
            destinationAddress: dst, destinationPort: UInt16(u16(udp + 2)), payload: Array(b[(udp + 8)..<payloadEnd])
        )
    }
}

/// Writes UDP datagrams as a classic pcap (microseconds, little-endian, Ethernet link type).
///
/// Kept beside ``PcapFile`` rather than with the datagram encoders of FlowEncoding: it writes a
/// file format, not a flow protocol (it wraps datagrams someone else encoded), and it shares
/// ``CapturedDatagram`` with the reader, which reads back what it writes.
public struct PcapWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init() {
        bytes = []
        appendLE32(0xA1B2_C3D4)
        appendLE16(2)
        appendLE16(4)
        appendLE32(0)
        appendLE32(0)
        appendLE32(262_144)
        appendLE32(1)
    }

    /// Appends one datagram in an Ethernet/IPv4-or-IPv6/UDP frame (UDP checksum 0 over IPv4).
    public mutating func append(_ d: CapturedDatagram) {
        var frame: [UInt8] = [0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1]
        let udpLength = 8 + d.payload.count
        var udp: [UInt8] = [
            UInt8(d.sourcePort >> 8), UInt8(d.sourcePort & 0xFF), UInt8(d.destinationPort >> 8), UInt8(d.destinationPort & 0xFF),
            UInt8(udpLength >> 8 & 0xFF), UInt8(udpLength & 0xFF), 0, 0,
        ]
        udp += d.payload
        if !d.sourceAddress.isIPv6 && !d.destinationAddress.isIPv6 {
            frame += [0x08, 0x00]
            let total = 20 + udpLength
            var header: [UInt8] = [0x45, 0, UInt8(total >> 8 & 0xFF), UInt8(total & 0xFF), 0, 0, 0x40, 0, 64, 17, 0, 0]
            header += d.sourceAddress.bytes + d.destinationAddress.bytes
            var sum: UInt32 = 0
            for i in stride(from: 0, to: 20, by: 2) { sum += UInt32(header[i]) << 8 | UInt32(header[i + 1]) }
            while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
            let checksum = ~UInt16(sum)
            header[10] = UInt8(checksum >> 8)
            header[11] = UInt8(checksum & 0xFF)
            frame += header
        } else {
            frame += [0x86, 0xDD]
            frame += [0x60, 0, 0, 0, UInt8(udpLength >> 8 & 0xFF), UInt8(udpLength & 0xFF), 17, 64]
            frame += d.sourceAddress.ipv6Bytes + d.destinationAddress.ipv6Bytes
        }
        frame += udp
        appendLE32(UInt32(truncatingIfNeeded: d.timestampMicroseconds / 1_000_000))
        appendLE32(UInt32(truncatingIfNeeded: d.timestampMicroseconds % 1_000_000))
        appendLE32(UInt32(frame.count))
        appendLE32(UInt32(frame.count))
        bytes += frame
    }

    private mutating func appendLE32(_ v: UInt32) { for s in [0, 8, 16, 24] { bytes.append(UInt8(truncatingIfNeeded: v >> UInt32(s))) } }
    private mutating func appendLE16(_ v: UInt16) {
        bytes.append(UInt8(v & 0xFF))
        bytes.append(UInt8(v >> 8))
    }
}
