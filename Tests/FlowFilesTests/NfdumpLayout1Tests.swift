import FlowCodec
import FlowFiles
import Foundation
import MamoriCore
import MamoriTesting
import Testing

/// nfdump 1.6 files ("layout 1"): the real files of `Fixtures/nfdump16` (see its README), files
/// built by the test-only ``NfdumpLayout1Writer`` — read back by Mamori and by Debian's nfdump
/// 1.7.1 — and hostile variants of them.
struct NfdumpLayout1Tests {
    typealias W = NfdumpLayout1Writer

    /// Flows covering the decoded fields: IPv4/IPv6, 32/64-bit counters, both interface and AS widths, direction.
    static let flows: [FlowRecord] = [
        FlowRecord(
            sourceAddress: IPAddress("198.51.100.7")!, destinationAddress: IPAddress("203.0.113.9")!, sourcePort: 49_152,
            destinationPort: 443,
            ipProtocol: 6, tcpFlags: 0x1B, typeOfService: 0, bytes: 5_000, packets: 12, startMilliseconds: 1_565_633_748_049,
            endMilliseconds: 1_565_635_903_101, inputInterface: 1170, outputInterface: 1264, direction: .ingress, sourceAS: 209,
            destinationAS: 812),
        FlowRecord(
            sourceAddress: IPAddress("2001:db8::1")!, destinationAddress: IPAddress("2001:db8:ffff::53")!, sourcePort: 5353,
            destinationPort: 53,
            ipProtocol: 17, bytes: 6_000_000_000, packets: 5_000_000_000, startMilliseconds: 1_700_000_000_000,
            endMilliseconds: 1_700_000_001_999, inputInterface: 3, outputInterface: 4, sourceAS: 64_512, destinationAS: 65_000),
        FlowRecord(
            sourceAddress: IPAddress("192.0.2.1")!, destinationAddress: IPAddress("192.0.2.2")!, sourcePort: 0, destinationPort: 0x0800,
            ipProtocol: 1, bytes: 84, packets: 1, startMilliseconds: 1_700_000_002_000, endMilliseconds: 1_700_000_002_000),
    ]

    /// Three maps: interfaces/AS 4 bytes + direction; 2-byte ones with next hop and MPLS stepped over; none.
    static func records(legacyThird: Bool = false) -> (maps: [[UInt8]], flows: [[UInt8]]) {
        let maps = [W.map(id: 1, extensions: [5, 7, 8]), W.map(id: 2, extensions: [4, 10, 6, 22, 37]), W.map(id: 3, extensions: [])]
        let flows = [
            W.flow(flows[0], map: 1, extensions: [5, 7, 8], sysid: 1),
            W.flow(flows[1], map: 2, extensions: [4, 10, 6, 22, 37], sysid: 2),
            W.flow(flows[2], map: 3, extensions: [], sysid: 1, legacy: legacyThird),
        ]
        return (maps, flows)
    }

    static func file(lz4: Bool, legacyThird: Bool = false) -> [UInt8] {
        let (maps, flows) = records(legacyThird: legacyThird)
        let exporters = [
            W.exporter(sysid: 1, address: 0xC000_02FE, domain: 7, version: 9),
            W.exporter(sysid: 2, address: 0xC000_02FD, domain: 0, version: 10),
        ]
        // Maps and exporters in the first block, flows split across two, as nfcapd does on a block change.
        return W.file(
            blocks: [W.block(maps + exporters + [flows[0]], lz4: lz4), W.block(Array(flows[1...]), lz4: lz4)],
            flags: lz4 ? 0x10 : 0, flows: 3)
    }

    static func expected(_ r: FlowRecord, exporter: UInt32, domain: UInt32, protocol p: ExportProtocol) -> FlowRecord {
        var e = r
        e.exporter = .v4(exporter)
        e.observationDomain = domain
        e.exportProtocol = p
        e.samplingInterval = 1
        return e
    }

    @Test("records written in layout 1 read back field for field, uncompressed and LZ4", arguments: [false, true])
    func roundTrip(lz4: Bool) throws {
        let result = try NfdumpFile.read(Self.file(lz4: lz4))
        #expect(result.layout == 1 && result.compression == (lz4 ? 3 : 0) && result.declaredFlows == 3)
        #expect(result.damagedBlocks == 0 && !result.truncated && result.skippedRecords == 0)
        try #require(result.records.count == 3)
        #expect(result.records[0] == Self.expected(Self.flows[0], exporter: 0xC000_02FE, domain: 7, protocol: .netflowV9))
        var v6 = Self.expected(Self.flows[1], exporter: 0xC000_02FD, domain: 0, protocol: .ipfix)
        v6.direction = .unknown // map 2 has no extension 8
        #expect(result.records[1] == v6)
        var icmp = Self.expected(Self.flows[2], exporter: 0xC000_02FE, domain: 7, protocol: .netflowV9)
        icmp.direction = .unknown
        #expect(result.records[2] == icmp)
    }

    @Test("the legacy record type 1 (no exporter id) is read too")
    func legacyType1() throws {
        let result = try NfdumpFile.read(Self.file(lz4: false, legacyThird: true))
        try #require(result.records.count == 3)
        #expect(
            result.records[2].sourceAddress == IPAddress("192.0.2.1")! && result.records[2].bytes == 84
                && result.records[2].exporter == .unspecifiedV4)
    }

    @Test("Debian's nfdump 1.7.1 reads the writer's layout-1 file to the same flows (the writer follows nfdump's format)")
    func nfdumpAgrees() async throws {
        let nfdump = try ExternalPeer.require("nfdump", debianPackage: "nfdump")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mamori-nfdump16-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(Self.file(lz4: false)).write(to: URL(fileURLWithPath: path))
        let mine = try NfdumpFile.read(Self.file(lz4: false)).records.map(Self.line)
        let theirs = try await Self.nfdumpLines(nfdump, path)
        #expect(mine == theirs)
        // Also any real layout-1 files named in MAMORI_NFDUMP16_FILES (':'-separated), e.g. ones
        // that cannot be committed for want of a licence.
        for extra in (ProcessInfo.processInfo.environment["MAMORI_NFDUMP16_FILES"] ?? "").split(separator: ":").map(String.init) {
            let result = try NfdumpFile.read([UInt8](Data(contentsOf: URL(fileURLWithPath: extra))))
            #expect(result.damagedBlocks == 0 && !result.truncated, "\(extra)")
            await #expect(result.records.map(Self.line) == (try Self.nfdumpLines(nfdump, extra)), "\(extra)")
        }
    }

    /// The fields both sides print: start ms, duration ms, addresses, ports, protocol, counters, interfaces, AS.
    static func line(_ r: FlowRecord) -> String {
        [
            String(r.startMilliseconds), String(r.endMilliseconds - r.startMilliseconds), r.sourceAddress.description, String(r.sourcePort),
            r.destinationAddress.description, String(r.destinationPort), String(r.ipProtocol), String(r.packets), String(r.bytes),
            String(r.inputInterface), String(r.outputInterface), String(r.sourceAS), String(r.destinationAS),
        ].joined(separator: "|")
    }

    static func nfdumpLines(_ nfdump: ExternalPeer, _ path: String) async throws -> [String] {
        let out = try await nfdump.run([
            "-r", path, "-q", "-N", "-6", "-o", "fmt:%tsr|%td|%sa|%sp|%da|%dp|%pr|%pkt|%byt|%in|%out|%sas|%das",
        ])
        return out.split(separator: "\n").compactMap { row in
            let f = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count == 13, let start = Double(f[0]), let duration = Double(f[1]) else { return nil }
            let addresses = [f[2], f[4]].map { IPAddress($0)?.description ?? $0 }
            // ICMP: nfdump prints the destination port as type.code (`8.0`); the record holds type × 256 + code.
            let typeCode = f[5].split(separator: ".").compactMap { Int($0) }
            let port = typeCode.count == 2 ? String(typeCode[0] * 256 + typeCode[1]) : f[5]
            return
                ([
                    String(Int64((start * 1000).rounded())), String(Int64((duration * 1000).rounded())), addresses[0], f[3], addresses[1],
                    port,
                ] + f[6...]).joined(separator: "|")
        }
    }

    @Test("the real nfdump 1.6 files: an empty uncompressed one reads, an LZO one is refused with the conversion to use")
    func realFiles() async throws {
        let empty = try NfdumpFile.read([UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path("nfdump16/nfcapd-empty")))))
        #expect(empty.layout == 1 && empty.compression == 0 && empty.records.isEmpty && empty.declaredFlows == 0)
        #expect(empty.damagedBlocks == 0 && !empty.truncated)
        let lzo = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("nfdump16/nfcapd-small-lzo"))))
        let refused = #expect(throws: NfdumpFile.Error.self) { try NfdumpFile.read(lzo) }
        #expect(refused?.description.contains("LZO") == true && refused?.description.contains("-J 0") == true)
        var bz2 = Self.file(lz4: false)
        bz2[4] = 0x08
        let refusedBZ2 = #expect(throws: NfdumpFile.Error.self) { try NfdumpFile.read(bz2) }
        #expect(refusedBZ2?.description.contains("BZ2") == true)
    }

    @Test("unknown and bad extension maps, misfit records, cut and oversized blocks: counted, never a trap")
    func hostile() throws {
        let (maps, flows) = Self.records()
        func read(_ blocks: [[UInt8]]) throws -> NfdumpFile.Result { try NfdumpFile.read(W.file(blocks: blocks)) }

        // A flow naming a map the file never defined is skipped; the next one still reads.
        let unknownMap = try read([W.block([maps[0], W.flow(Self.flows[0], map: 9, extensions: [5, 7, 8]), flows[0]])])
        #expect(unknownMap.records.count == 1 && unknownMap.skippedRecords == 1)
        // A map with an id nfdump 1.6 does not define, or whose sizes do not add up: not used.
        let badID = try read([W.block([W.map(id: 1, extensions: [5, 99]), flows[0]])])
        #expect(badID.records.isEmpty && badID.skippedRecords == 2)
        let badTotal = try read([W.block([W.map(id: 1, extensions: [5, 7, 8], declared: 12), flows[0]])])
        #expect(badTotal.records.isEmpty && badTotal.skippedRecords == 2)
        // A flow whose map promises more extension bytes than the record holds.
        let short = try read([W.block([W.map(id: 1, extensions: [5, 7, 8, 22]), flows[0]])])
        #expect(short.records.isEmpty && short.skippedRecords == 1)
        // A record whose size runs past its block ends the block; a record of size 0 too.
        var long = flows[0]
        long[2] = 0xFF
        long[3] = 0x7F
        let damaged = try read([W.block([maps[0], long]), W.block([flows[0]])])
        #expect(damaged.damagedBlocks == 1 && damaged.records.count == 1)
        let zero = try read([W.block([maps[0], [10, 0, 0, 0] + flows[0]])])
        #expect(zero.damagedBlocks == 1 && zero.records.isEmpty)
        // A block claiming more bytes than the file has (up to 4 GiB): truncated, nothing read past it.
        var huge = W.block([maps[0], flows[0]])
        huge.replaceSubrange(4..<8, with: W.le32(.max))
        let cut = try read([W.block([maps[0], flows[0]]), huge])
        #expect(cut.truncated && cut.records.count == 1)
        // Blocks of nfdump 1.5 (id 1) are skipped; undecodable LZ4 is a damaged block.
        let old = try read([W.block(maps + [flows[0]], id: 1)])
        #expect(old.records.isEmpty && old.skippedRecords == 1)
        var badLZ4 = W.block(maps + [flows[0]], lz4: true)
        badLZ4[12] = 0x0F // a match before any literal
        let lz4 = try NfdumpFile.read(W.file(blocks: [badLZ4], flags: 0x10))
        #expect(lz4.damagedBlocks == 1 && lz4.records.isEmpty)
        // Cut inside the header: an error, not a trap.
        #expect(throws: NfdumpFile.Error.self) { try NfdumpFile.read(Array(Self.file(lz4: false).prefix(200))) }
    }

    @Test("every prefix and seeded mutations of layout-1 files never trap")
    func neverTraps() throws {
        for lz4 in [false, true] {
            let file = Self.file(lz4: lz4)
            for cut in 0..<file.count {
                guard let r = try? NfdumpFile.read(Array(file.prefix(cut))) else { continue }
                #expect(r.records.count < 3, "cut at \(cut)") // the last flow is in the cut block
            }
            var random = SplitMix64(seed: lz4 ? 16 : 61)
            for _ in 0..<2000 {
                var mutated = file
                for _ in 0..<(1 + Int(random.next() % 6)) {
                    let i = 276 + Int(random.next() % UInt64(file.count - 276))
                    mutated[i] = UInt8(truncatingIfNeeded: random.next())
                }
                _ = try? NfdumpFile.read(mutated)
            }
        }
    }
}
