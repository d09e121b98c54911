import FlowCodec
import FlowEncoding
import Testing

/// The encoders' NAT side, decoded back by ``FlowDecoder``: ``NATEventEncoder``'s RFC 8158
/// port-block messages carry the NAT fields they were given, ``FlowExportEncoder``'s ordinary flow
/// templates carry none.
@Suite struct NATEventEncoderTests {
    static let nat = IPAddress.v4(0xC000_0201) // 192.0.2.1, the CGNAT box
    static let observed: UInt64 = 1_795_000_000_123 // 2026-11-18T…, ms

    /// Flow templates without NAT elements carry no NAT fields at all.
    @Test func ordinaryFlowsHaveNoNATFields() throws {
        var e = FlowExportEncoder(protocol: .ipfix)
        let datagrams = e.encode(
            [FlowRecord(sourceAddress: .v4(1), destinationAddress: .v4(2), bytes: 10, packets: 1)],
            exportTimeMilliseconds: 1_795_000_000_000)
        var decoder = FlowDecoder()
        var records: [FlowRecord] = []
        var natRecords = 0
        for d in datagrams {
            natRecords += d.withUnsafeBytes { decoder.decode($0, from: Self.nat, receivedAtMilliseconds: 0, into: &records) }.natRecords
        }
        #expect(records.count == 1)
        #expect(records.first?.nat == nil)
        #expect(natRecords == 0)
    }

    /// The simulator's CGNAT box: NATEventEncoder's port-block messages decode back into the
    /// same NAT fields, template first and again after the refresh interval.
    @Test func portBlockEncoderRoundTrips() throws {
        var events: [FlowRecord] = []
        for i in 0..<100 {
            var nat = NATFields()
            nat.event = i % 2 == 0 ? NATFields.portBlockAllocation : NATFields.portBlockDeallocation
            nat.postSourceAddress = .v4(0xC612_0000 + UInt32(i / 64))
            nat.portRangeStart = 1024 + UInt16(i % 64) * 1008
            nat.portRangeEnd = nat.portRangeStart + 1007
            nat.portRangeStepSize = 1
            nat.portRangeNumPorts = 1008
            events.append(
                FlowRecord(
                    sourceAddress: .v4(0x6440_0001 + UInt32(i)), startMilliseconds: Int64(Self.observed) + Int64(i),
                    endMilliseconds: Int64(Self.observed) + Int64(i), nat: nat))
        }
        var encoder = NATEventEncoder(observationDomain: 9, templateRefreshInterval: 2, recordsPerMessage: 30)
        let messages = encoder.encode(events, exportTimeMilliseconds: Int64(Self.observed))
        #expect(messages.count == 4)
        var decoder = FlowDecoder()
        var records: [FlowRecord] = []
        for m in messages {
            let report = m.withUnsafeBytes { decoder.decode($0, from: Self.nat, receivedAtMilliseconds: 0, into: &records) }
            #expect(report.error == nil)
            #expect(report.templateMisses == 0)
        }
        #expect(records.count == events.count)
        for (a, b) in zip(records, events) {
            #expect(a.sourceAddress == b.sourceAddress)
            #expect(a.startMilliseconds == b.startMilliseconds)
            #expect(a.observationDomain == 9)
            #expect(a.nat?.event == b.nat?.event)
            #expect(a.nat?.postSourceAddress == b.nat?.postSourceAddress)
            #expect(a.nat?.portRangeStart == b.nat?.portRangeStart)
            #expect(a.nat?.portRangeEnd == b.nat?.portRangeEnd)
            #expect(a.nat?.portRangeNumPorts == 1008)
        }
    }
}
