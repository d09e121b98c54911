import FlowCodec
import Testing

/// CGNAT logs as IPFIX NAT events (RFC 8158) arrive on the flow port and decode into the NAT
/// fields of a flow record. Templates follow RFC 8158 §4 (the field sets of its "NAT44 session
/// create/delete" and "NAT port block allocation/de-allocation" events).
@Suite struct NATEventTests {
    static let nat = IPAddress.v4(0xC000_0201) // 192.0.2.1, the CGNAT box
    static let observed: UInt64 = 1_795_000_000_123 // 2026-11-18T…, ms

    @Test func portBlockAllocationIPv4() throws {
        var m = IPFIXMessageBuilder(exportTime: 1_795_000_001, sequence: 0, domain: 7)
        m.template(
            id: 300,
            fields: [
                .init(id: 323, length: 8), // observationTimeMilliseconds
                .init(id: 230, length: 1), // natEvent
                .init(id: 8, length: 4), // sourceIPv4Address (inside, subscriber)
                .init(id: 225, length: 4), // postNATSourceIPv4Address (outside, public)
                .init(id: 361, length: 2), // portRangeStart
                .init(id: 362, length: 2), // portRangeEnd
                .init(id: 363, length: 2), // portRangeStepSize
                .init(id: 364, length: 2), // portRangeNumPorts
                .init(id: 234, length: 4), // ingressVRFID (ignored)
            ])
        var r = ByteWriter()
        r.u64(Self.observed)
        r.u8(NATFields.portBlockAllocation) // 16 (IANA; not 14, which is address binding create)
        r.address(.v4(0x6440_0001)) // 100.64.0.1 (RFC 6598 shared address space)
        r.address(.v4(0xCB00_7105)) // 203.0.113.5
        r.u16(1024)
        r.u16(1535)
        r.u16(1)
        r.u16(512)
        r.u32(3)
        var d = ByteWriter()
        d.u64(Self.observed + 60_000)
        d.u8(NATFields.portBlockDeallocation) // 17
        d.address(.v4(0x6440_0001))
        d.address(.v4(0xCB00_7105))
        d.u16(1024)
        d.u16(1535)
        d.u16(1)
        d.u16(512)
        d.u32(3)
        m.data(templateID: 300, records: [r.bytes, d.bytes])

        var decoder = FlowDecoder()
        var records: [FlowRecord] = []
        let report = m.bytes().withUnsafeBytes {
            decoder.decode($0, from: Self.nat, receivedAtMilliseconds: Int64(Self.observed), into: &records)
        }
        #expect(report.error == nil)
        #expect(report.flowRecords == 2)
        #expect(report.natRecords == 2) // a collector relies on it to skip batches without NAT events
        let allocate = try #require(records.first)
        let nat = try #require(allocate.nat)
        #expect(nat.event == 16)
        #expect(allocate.sourceAddress == IPAddress("100.64.0.1"))
        #expect(nat.postSourceAddress == IPAddress("203.0.113.5"))
        #expect(nat.portRangeStart == 1024)
        #expect(nat.portRangeEnd == 1535)
        #expect(nat.portRangeStepSize == 1)
        #expect(nat.portRangeNumPorts == 512)
        #expect(allocate.startMilliseconds == Int64(Self.observed))
        #expect(allocate.endMilliseconds == Int64(Self.observed))
        #expect(allocate.observationDomain == 7)
        let release = try #require(records.last?.nat)
        #expect(release.event == 17)
        #expect(records.last?.startMilliseconds == Int64(Self.observed) + 60_000)
    }

    @Test func nat44SessionCreateCarriesBothSidesAndPorts() throws {
        var m = IPFIXMessageBuilder(exportTime: 1_795_000_001)
        m.template(
            id: 301,
            fields: [
                .init(id: 323, length: 8), .init(id: 230, length: 1),
                .init(id: 8, length: 4), .init(id: 7, length: 2), // inside source and port
                .init(id: 225, length: 4), .init(id: 227, length: 2), // outside source and port
                .init(id: 12, length: 4), .init(id: 11, length: 2), // destination
                .init(id: 226, length: 4), .init(id: 228, length: 2), // post-NAT destination
                .init(id: 4, length: 1),
            ])
        var r = ByteWriter()
        r.u64(Self.observed)
        r.u8(1)
        r.address(.v4(0x6440_0002))
        r.u16(51_000)
        r.address(.v4(0xCB00_7105))
        r.u16(1100)
        r.address(.v4(0xC633_6407))
        r.u16(443)
        r.address(.v4(0xC633_6407))
        r.u16(443)
        r.u8(6)
        m.data(templateID: 301, records: [r.bytes])
        var decoder = FlowDecoder()
        var records: [FlowRecord] = []
        _ = m.bytes().withUnsafeBytes { decoder.decode($0, from: Self.nat, receivedAtMilliseconds: 0, into: &records) }
        let record = try #require(records.first)
        let nat = try #require(record.nat)
        #expect(nat.event == 1)
        #expect(record.sourceAddress == IPAddress("100.64.0.2"))
        #expect(record.sourcePort == 51_000)
        #expect(nat.postSourceAddress == IPAddress("203.0.113.5"))
        #expect(nat.postSourcePort == 1100)
        #expect(record.destinationAddress == IPAddress("198.51.100.7"))
        #expect(record.destinationPort == 443)
        #expect(nat.postDestinationAddress == IPAddress("198.51.100.7"))
        #expect(nat.postDestinationPort == 443)
        #expect(record.ipProtocol == 6)
    }

    @Test func nat64SessionUsesIPv6InsideAndIPv4Outside() throws {
        var m = IPFIXMessageBuilder(exportTime: 1_795_000_001)
        m.template(
            id: 302,
            fields: [
                .init(id: 323, length: 8), .init(id: 230, length: 1),
                .init(id: 27, length: 16), .init(id: 7, length: 2), // sourceIPv6Address
                .init(id: 225, length: 4), .init(id: 227, length: 2),
            ])
        var r = ByteWriter()
        r.u64(Self.observed)
        r.u8(4)
        r.address(IPAddress("2001:db8:1::42")!)
        r.u16(40_000)
        r.address(.v4(0xCB00_7106))
        r.u16(2048)
        m.data(templateID: 302, records: [r.bytes])
        var decoder = FlowDecoder()
        var records: [FlowRecord] = []
        _ = m.bytes().withUnsafeBytes { decoder.decode($0, from: Self.nat, receivedAtMilliseconds: 0, into: &records) }
        let record = try #require(records.first)
        #expect(record.sourceAddress == IPAddress("2001:db8:1::42"))
        #expect(record.nat?.postSourceAddress == IPAddress("203.0.113.6"))
        #expect(record.nat?.postSourcePort == 2048)
        #expect(record.nat?.event == 4)
    }
}
