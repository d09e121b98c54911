import FlowCodec
import Foundation

/// Deterministic, distinct test flows (IPv4 or IPv6), fields in ranges every protocol carries.
public func testFlows(_ count: Int, ipv6: Bool = false, base: Int64 = Int64(Date().timeIntervalSince1970 * 1000) - 60_000, tag: UInt32 = 0)
    -> [FlowRecord]
{
    (0..<count).map { i in
        let n = UInt32(i) + tag * 1000
        let src: IPAddress = ipv6 ? .v6(high: 0x2001_0db8_0000_0000, low: UInt64(n) + 1) : .v4(0x0A00_0000 | (n + 1))
        let dst: IPAddress = ipv6 ? .v6(high: 0x2001_0db8_ffff_0000, low: UInt64(n) + 7) : .v4(0xC633_6400 | (n & 0xFF))
        return FlowRecord(
            sourceAddress: src, destinationAddress: dst,
            sourcePort: UInt16(40_000 + i), destinationPort: i % 2 == 0 ? 443 : 53,
            ipProtocol: i % 2 == 0 ? 6 : 17, tcpFlags: i % 2 == 0 ? 0x1B : 0, typeOfService: UInt8(i % 4) << 2,
            bytes: UInt64(1000 + 100 * i), packets: UInt64(2 + i),
            startMilliseconds: base + Int64(i) * 1000, endMilliseconds: base + Int64(i) * 1000 + 500,
            inputInterface: UInt32(10 + i % 3), outputInterface: UInt32(20 + i % 5),
            sourceAS: 64_500 + UInt32(i % 7), destinationAS: 64_510
        )
    }
}
