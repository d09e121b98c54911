import FlowCodec

/// Encodes sampled packets as sFlow v5 datagrams (flow samples with a raw Ethernet/IP/TCP-or-UDP
/// header record), as a switch or router agent sends them.
///
/// Each ``FlowRecord`` becomes one flow sample describing one sampled packet of
/// `bytes / packets` octets (at least 64); the decoder scales it back by `samplingRate`.
public struct SFlowEncoder: Sendable {
    public var agent: IPAddress
    public var subAgentID: UInt32
    public var samplingRate: UInt32
    public var samplesPerDatagram: Int
    private var sequence: UInt32 = 0
    private var sampleSequence: UInt32 = 0

    public init(agent: IPAddress, subAgentID: UInt32 = 0, samplingRate: UInt32 = 1000, samplesPerDatagram: Int = 8) {
        self.agent = agent
        self.subAgentID = subAgentID
        self.samplingRate = samplingRate
        self.samplesPerDatagram = samplesPerDatagram
    }

    public mutating func encode(_ records: some Collection<FlowRecord>, uptimeMilliseconds: UInt32) -> [[UInt8]] {
        var out: [[UInt8]] = []
        let all = Array(records)
        var i = 0
        while i < all.count {
            let n = min(samplesPerDatagram, all.count - i)
            out.append(encodeDatagram(all[i..<(i + n)], uptime: uptimeMilliseconds))
            i += n
        }
        return out
    }

    private mutating func encodeDatagram(_ records: ArraySlice<FlowRecord>, uptime: UInt32) -> [UInt8] {
        var w = ByteWriter(capacity: 1400)
        w.u32(5)
        w.u32(agent.isIPv6 ? 2 : 1)
        w.address(agent)
        w.u32(subAgentID)
        w.u32(sequence)
        w.u32(uptime)
        w.u32(UInt32(records.count))
        sequence &+= 1
        for r in records {
            let header = Self.packetHeader(r)
            let padded = (header.count + 3) & ~3
            let recordLength = 16 + padded
            let sampleLength = 32 + 8 + recordLength
            w.u32(1)
            w.u32(UInt32(sampleLength)) // flow sample
            w.u32(sampleSequence)
            w.u32(r.inputInterface & 0x00FF_FFFF)
            sampleSequence &+= 1
            w.u32(samplingRate)
            w.u32(sampleSequence &* samplingRate)
            w.u32(0)
            w.u32(r.inputInterface)
            w.u32(r.outputInterface)
            w.u32(1)
            w.u32(1)
            w.u32(UInt32(recordLength)) // raw packet header
            let frame = r.packets > 0 ? max(64, r.bytes / r.packets) : 64
            w.u32(1)
            w.u32(UInt32(clamping: frame))
            w.u32(4)
            w.u32(UInt32(header.count))
            w.bytes += header
            for _ in header.count..<padded { w.u8(0) }
        }
        return w.bytes
    }

    /// Ethernet + IPv4/IPv6 + TCP/UDP header of the sampled packet.
    static func packetHeader(_ r: FlowRecord) -> [UInt8] {
        var w = ByteWriter(capacity: 80)
        w.u32(0x0200_0000)
        w.u16(0x0001)
        w.u32(0x0200_0000)
        w.u16(0x0002)
        let l4Length = r.ipProtocol == 6 ? 20 : 8
        let v6 = r.sourceAddress.isIPv6 || r.destinationAddress.isIPv6
        if v6 {
            w.u16(0x86DD)
            w.u32(0x6000_0000 | UInt32(r.typeOfService) << 20)
            w.u16(UInt16(l4Length))
            w.u8(r.ipProtocol)
            w.u8(64)
            let (sh, sl) = r.sourceAddress.ipv6Halves
            let (dh, dl) = r.destinationAddress.ipv6Halves
            w.u64(sh)
            w.u64(sl)
            w.u64(dh)
            w.u64(dl)
        } else {
            w.u16(0x0800)
            w.u8(0x45)
            w.u8(r.typeOfService)
            w.u16(UInt16(20 + l4Length))
            w.u32(0)
            w.u8(64)
            w.u8(r.ipProtocol)
            w.u16(0)
            w.address(r.sourceAddress)
            w.address(r.destinationAddress)
        }
        w.u16(r.sourcePort)
        w.u16(r.destinationPort)
        if r.ipProtocol == 6 {
            w.u32(0)
            w.u32(0)
            w.u8(0x50)
            w.u8(r.tcpFlags)
            w.u16(65535)
            w.u32(0)
        } else {
            w.u16(UInt16(l4Length))
            w.u16(0)
        }
        return w.bytes
    }
}
