import Detection
import FlowCodec
import NIOCore
import Testing

@testable import FlowBus

/// The bus's batch layout: every field of every record comes back exactly (extreme values too),
/// and a batch that breaks the layout anywhere is refused whole with the reason.
struct FlowBusBatchTests {
    static func record(_ i: Int, v6: Bool = false, nat: Bool = false) -> FlowRecord {
        var r = FlowRecord(
            exporter: i % 3 == 0 ? IPAddress("192.0.2.1")! : IPAddress("2001:db8::9")!, observationDomain: UInt32(i * 7),
            exportProtocol: [.ipfix, .netflowV9, .netflowV5, .sflowV5][i % 4],
            sourceAddress: v6 ? IPAddress("2001:db8:1::\(i % 65_535 + 1)")! : .v4(0x0A00_0000 | UInt32(i)),
            destinationAddress: i % 2 == 0 ? IPAddress("198.51.100.7")! : IPAddress("2001:db8:ffff::1")!,
            sourcePort: UInt16(truncatingIfNeeded: i),
            destinationPort: 443, ipProtocol: 6, tcpFlags: 0x1B, typeOfService: 0xB8, bytes: UInt64(i) * 1_500, packets: UInt64(i),
            samplingInterval: 1, startMilliseconds: 1_760_000_000_000 + Int64(i) * 1_000,
            endMilliseconds: 1_760_000_000_000 + Int64(i) * 1_500,
            inputInterface: 3, outputInterface: 4, direction: [.ingress, .egress, .unknown][i % 3], sourceAS: 64_500, destinationAS: 15_169)
        if nat {
            var n = NATFields()
            n.event = NATFields.portBlockAllocation
            n.postSourceAddress = i % 2 == 0 ? IPAddress("203.0.113.9")! : IPAddress("2001:db8::7")!
            n.portRangeStart = 1_024
            n.portRangeEnd = 2_047
            n.portRangeNumPorts = 1_024
            n.portRangeStepSize = 1
            r.nat = n
        }
        return r
    }

    @Test func everyFieldRoundTrips() throws {
        var records = (0..<500).map { Self.record($0, v6: $0 % 5 == 0, nat: $0 % 7 == 0) }
        // Extremes: every counter at its top, times far apart and before the epoch, NAT with no addresses.
        var extreme = FlowRecord(
            exporter: IPAddress("::1")!, observationDomain: .max, exportProtocol: .sflowV5,
            sourceAddress: IPAddress("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")!,
            destinationAddress: .v4(.max), sourcePort: .max, destinationPort: .max, ipProtocol: .max, tcpFlags: .max, typeOfService: .max,
            bytes: .max, packets: .max, samplingInterval: .max, startMilliseconds: .min, endMilliseconds: .max, inputInterface: .max,
            outputInterface: .max, direction: .unknown, sourceAS: .max, destinationAS: .max)
        var n = NATFields()
        n.event = .max
        n.postSourcePort = .max
        n.postDestinationPort = .max
        extreme.nat = n
        records.append(extreme)
        var other = extreme
        other.startMilliseconds = .max
        other.endMilliseconds = .min
        other.nat = nil
        records.append(other)
        let encoded = FlowBusBatch.encode(records)
        let decoded = try FlowBusBatch.decode(encoded)
        #expect(decoded == records)
        // Compact: the layout's point (the in-memory record is 160 bytes).
        let plain = FlowBusBatch.encode((0..<1_000).map { Self.record($0) })
        #expect(plain.readableBytes < 1_000 * 50, "\(plain.readableBytes) bytes for 1,000 IPv4 records")
    }

    @Test func placesRoundTripAndPutTheBatchBackInOrder() throws {
        let batch = (0..<2_000).map { Self.record($0, v6: $0 % 3 == 0, nat: $0 % 11 == 0) }
        var routing = FlowBusRouting(partitions: 5, network: FlowBusRoutingTests.network)
        var parts: [[FlowRecord]] = []
        var positions: [[Int]] = []
        routing.split(batch, into: &parts, positions: &positions)
        var decoded: [(records: [FlowRecord], positions: [Int]?)] = []
        for i in parts.indices {
            let part = try FlowBusBatch.decodePart(FlowBusBatch.encode(parts[i], positions: positions[i]))
            #expect(part.records == parts[i] && part.positions == positions[i])
            decoded.append(part)
        }
        #expect(FlowBusBatch.merge(decoded) == batch, "the parts merged by place are the batch as the collector had it")
        // Parts without places are put one after the other.
        let plain = parts.map { (records: $0, positions: [Int]?.none) }
        #expect(FlowBusBatch.merge(plain) == parts.flatMap { $0 })
        // Places cost about a byte a record.
        let with = FlowBusBatch.encode(parts[0], positions: positions[0]).readableBytes
        let without = FlowBusBatch.encode(parts[0]).readableBytes
        #expect(with - without <= parts[0].count * 2, "\(with - without) bytes of places for \(parts[0].count) records")
    }

    @Test func placesOnSomeRecordsOnlyOrGoingBackAreRefused() throws {
        let records = [Self.record(3), Self.record(6)]
        var bytes = Array(FlowBusBatch.encode(records, positions: [4, 9]).readableBytesView)
        let flagsAt = 4 + 1 + 6 + 1 + 1 + 4
        #expect(bytes[flagsAt] & 8 != 0)
        // A zero gap (the same place twice) is refused.
        bytes[flagsAt + 1] = 0
        #expect(throws: FlowBusError.self) { try FlowBusBatch.decode(ByteBuffer(bytes: bytes)) }
        // The first record with a place, the second without: refused.
        let second = Array(FlowBusBatch.encode([Self.record(6)]).readableBytesView)
        let secondRecord = Array(second[flagsAt...])
        let firstWithPlace = Array(FlowBusBatch.encode([Self.record(3)], positions: [4]).readableBytesView)
        var half = firstWithPlace
        half[4] = 2 // two records
        half += secondRecord
        #expect(throws: FlowBusError.self) { try FlowBusBatch.decode(ByteBuffer(bytes: half)) }
        // Places beyond the bound are refused.
        #expect(throws: FlowBusError.self) {
            try FlowBusBatch.decode(FlowBusBatch.encode(records, positions: [4, 9]), limits: .init(maximumPosition: 5))
        }
    }

    @Test func anEmptyBatchRoundTrips() throws {
        #expect(try FlowBusBatch.decode(FlowBusBatch.encode([FlowRecord]())) == [])
    }

    @Test func everyCutIsRefused() throws {
        let encoded = FlowBusBatch.encode((0..<20).map { Self.record($0, v6: $0 % 2 == 0, nat: $0 % 3 == 0) })
        for cut in 0..<encoded.readableBytes {
            let short = encoded.getSlice(at: 0, length: cut)!
            #expect(throws: FlowBusError.self) { try FlowBusBatch.decode(short) }
        }
        var longer = encoded
        longer.writeInteger(UInt8(0))
        #expect(throws: FlowBusError(.trailingBytes, at: encoded.readableBytes, "1 bytes after the last record")) {
            try FlowBusBatch.decode(longer)
        }
    }

    @Test func brokenFieldsAreRefusedWithTheReason() throws {
        let encoded = FlowBusBatch.encode([Self.record(3)]) // an IPv4 exporter
        func refused(_ edit: (inout [UInt8]) -> Void) -> FlowBusError.Kind? {
            var bytes = Array(encoded.readableBytesView)
            edit(&bytes)
            do {
                _ = try FlowBusBatch.decode(ByteBuffer(bytes: bytes))
                return nil
            } catch {
                return error.kind
            }
        }
        #expect(refused { $0[0] = 0x58 } == .badMagic)
        #expect(refused { $0[3] = 2 } == .badMagic)
        // Header: magic (4), count (1), base time (6 bytes of varint), exporter count (1), family (1) + 4.
        let flagsAt = 4 + 1 + 6 + 1 + 1 + 4
        #expect(refused { $0[flagsAt] = 0x80 } == .badValue)
        #expect(refused { $0[flagsAt + 1] = 1 } == .badValue, "exporter index past the table")
        #expect(refused { $0[4 + 1 + 6 + 1] = 5 } == .badValue, "exporter family 5")
        // A record count the bytes cannot hold is refused before anything is reserved for it.
        #expect(refused { $0[4] = 0x7F } == .truncated)
        #expect(
            refused {
                $0.insert(contentsOf: [0xFF, 0xFF, 0xFF, 0x7F], at: 4)
                $0.remove(at: 8)
            } == .tooLarge)
        // The export protocol and direction are the record's last two bytes (no NAT fields).
        #expect(refused { $0[$0.count - 2] = 11 } == .badValue)
        #expect(refused { $0[$0.count - 1] = 7 } == .badValue)
    }

    @Test func overlongVarintsAreRefused() throws {
        var bytes: [UInt8] = [0x4D, 0x46, 0x42, 0x01]
        bytes += [0x01] // one record
        bytes += Array(repeating: 0xFF, count: 9) + [0x02] // a base time over 64 bits
        bytes += Array(repeating: 0, count: 40)
        #expect(throws: FlowBusError.self) { try FlowBusBatch.decode(ByteBuffer(bytes: bytes)) }
    }

    @Test func randomBytesNeverCrashTheDecoder() {
        var generator = SystemRandomNumberGenerator()
        let valid = Array(FlowBusBatch.encode((0..<8).map { Self.record($0, v6: $0 % 2 == 0, nat: $0 % 2 == 1) }).readableBytesView)
        var accepted = 0
        for round in 0..<20_000 {
            var bytes = valid
            // Flip a few bytes of a valid batch, or start from noise.
            if round % 4 == 0 {
                bytes = (0..<Int.random(in: 0..<300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            } else {
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
            }
            if let records = try? FlowBusBatch.decode(ByteBuffer(bytes: bytes)) {
                accepted += 1
                // What is accepted encodes back to a batch that decodes to the same records.
                #expect((try? FlowBusBatch.decode(FlowBusBatch.encode(records))) == records)
            }
        }
        #expect(accepted < 20_000)
    }
}

/// The routing: a record goes to its subscriber host's partition, whichever way it crosses, the
/// same partition as the detector workers of one process would pick.
struct FlowBusRoutingTests {
    /// The remote side in documentation space, which a laboratory network takes as the Internet.
    static let network = NetworkLayout(
        subscriberPrefixes: [IPPrefix("10.0.0.0/8")!, IPPrefix("2001:db8:1::/48")!],
        laboratoryInternet: [IPPrefix("198.51.100.0/24")!, IPPrefix("2001:db8:ffff::/48")!])

    @Test func bothDirectionsOfAHostShareAPartition() {
        var routing = FlowBusRouting(partitions: 16, network: Self.network)
        var seen = Set<Int>()
        for i in 0..<2_000 {
            let host = IPAddress.v4(0x0A00_0000 | UInt32(i))
            let out = FlowRecord(
                sourceAddress: host, destinationAddress: IPAddress("198.51.100.7")!, sourcePort: 40_000, destinationPort: 443, ipProtocol: 6
            )
            let into = FlowRecord(
                sourceAddress: IPAddress("198.51.100.7")!, destinationAddress: host, sourcePort: 443, destinationPort: 40_000, ipProtocol: 6
            )
            let p = routing.partition(of: out)
            #expect(p == routing.partition(of: into))
            #expect(p == SubscriberPartitioning.partition(of: host, count: 16))
            seen.insert(p)
        }
        #expect(seen.count == 16, "2,000 hosts over 16 partitions reach every one")
        // An IPv6 subscriber's /64 is one host: its addresses share a partition.
        let a = FlowRecord(sourceAddress: IPAddress("2001:db8:1:5::1")!, destinationAddress: IPAddress("2001:db8:ffff::1")!, ipProtocol: 17)
        let b = FlowRecord(
            sourceAddress: IPAddress("2001:db8:1:5::abcd")!, destinationAddress: IPAddress("2001:db8:ffff::2")!, ipProtocol: 17)
        #expect(routing.partition(of: a) == routing.partition(of: b))
    }

    @Test func subjectsAndPartitionsAgree() {
        let routing = FlowBusRouting(partitions: 8, network: Self.network)
        #expect(routing.subject(of: 3) == "mamori.flows.3")
        #expect(routing.wildcard == "mamori.flows.*")
        #expect(routing.partition(ofSubject: "mamori.flows.7") == 7)
        #expect(routing.partition(ofSubject: "mamori.flows.8") == nil)
        #expect(routing.partition(ofSubject: "mamori.flows.x") == nil)
        #expect(routing.partition(ofSubject: "other.flows.1") == nil)
        #expect(FlowBusRouting(partitions: 0, network: Self.network).partitions == 1)
        #expect(FlowBusRouting(partitions: 1 << 20, network: Self.network).partitions == FlowBusRouting.maximumPartitions)
    }

    @Test func splitKeepsOrderWithinAPartition() {
        var routing = FlowBusRouting(partitions: 4, network: Self.network)
        let records = (0..<400).map { i in
            FlowRecord(
                sourceAddress: .v4(0x0A00_0000 | UInt32(i % 37)), destinationAddress: IPAddress("198.51.100.7")!, sourcePort: UInt16(i),
                ipProtocol: 6)
        }
        var parts: [[FlowRecord]] = []
        routing.split(records, into: &parts)
        #expect(parts.count == 4)
        #expect(parts.map(\.count).reduce(0, +) == 400)
        for part in parts {
            #expect(part.map(\.sourcePort) == part.map(\.sourcePort).sorted())
        }
    }
}
