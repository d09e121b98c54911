import FlowCodec

/// nfdump 1.6's file layout ("layout 1"), what Debian 11's nfcapd 1.6.22 and NfSen installations
/// of that era write.
///
/// Learned from nfdump 1.6's headers (v1.6.22/v1.6.23: `bin/nffile.h` — `file_header_t`,
/// `stat_record_t`, `data_block_header_t`, `record_header_t`; `bin/nfx.h` — `common_record_t`,
/// `extension_map_t`, the `EX_…` extension ids; `bin/nfx.c` — the extension sizes;
/// `bin/exporter.h` — `exporter_info_record_t`; `bin/nffile_inline.c` — the order fields are read
/// in). Host byte order throughout (little-endian on the machines nfcapd runs on):
///
/// * file header, 140 bytes: magic 0xA50C, layout 1, flags (compression bits 0x1 LZO, 0x8 BZ2,
///   0x10 LZ4; 0x2 anonymised), number of blocks (0 while nfcapd still writes), 128-byte ident;
/// * statistics record, 136 bytes: flow, byte and packet totals (the flow total is kept as
///   ``NfdumpFile/Result/declaredFlows``), first/last seen;
/// * blocks: 12-byte header (records, size, id, flags), then `size` bytes, compressed as the file
///   header says (blocks are not flagged one by one). Only id 2 holds 1.6 records; id 1 (nfdump
///   1.5) is skipped, as nfdump 1.6.18+ does.
///
/// Records in a block start with type and size (16 bits each):
/// * 2 — an extension map: map id, the extensions' total size, then extension ids ending in 0.
///   A flow record names the map that says which optional extensions follow its required ones.
///   A map with an unknown id or whose sizes do not add up to its total is not used.
/// * 10 — a flow (`CommonRecordType`), 32 bytes: flags (0x1 IPv6, 0x2 64-bit packets, 0x4
///   64-bit bytes), netflow version, map id, msec of first/last, first/last (s), forwarding
///   status, TCP flags, protocol, ToS, ports, exporter id; then the required extensions
///   (addresses 8 or 32 bytes, packets 4 or 8, bytes 4 or 8) and the map's extensions in order.
///   Decoded here: interfaces (4: 2×16 bit, 5: 2×32 bit), AS numbers (6, 7) and the direction in
///   extension 8; the others are stepped over by their size.
/// * 1 — the same flow before 1.6.10 (no exporter id, 28 bytes before the extensions); nfdump
///   1.6.22 itself skips these, this reader decodes them.
/// * 7 — an exporter (address, observation domain, version), as in layout 2.
/// * others (statistics, samplers, legacy 5/6) are skipped and counted.
///
/// Damage: a record that does not fit its block ends that block (counted in
/// ``NfdumpFile/Result/damagedBlocks``); a flow naming a map the file has not defined (or a bad
/// one), or whose extensions run past its size, is skipped and counted; a cut file is reported
/// as truncated with the records before the cut kept.
extension NfdumpFile {
    static let layout1HeaderLength = 140
    static let layout1StatLength = 136

    /// Bytes of each extension id (`nfx.c` `extension_descriptor`); nil for ids nfdump 1.6 does
    /// not define. Ids 1–3 are the required extensions, sized by the record's flags, not the map.
    static let layout1ExtensionSizes: [Int?] = [
        0, 0, 0, 0, 4, 8, 4, 8, 4, 4, // 0–9: common, addresses, packets, bytes, interfaces, AS, misc, next hop v4
        16, 4, 16, 4, 4, 8, 4, 8, 4, 8, // 10–19: next hop v6, BGP next hop, VLAN, output packets/bytes, aggregated flows
        16, 16, 40, 4, 16, 4, 8, 8, 0, 0, // 20–29: MAC, MPLS, router IP, router id, BGP adjacent, received, reserved
        0, 0, 0, 0, 0, 0, 0, 20, 4, 8, // 30–39: reserved, NSEL common, xlate ports, xlate IPv4
        32, 24, 24, 72, 0, 24, 12, 0, 8, 0, // 40–49: xlate IPv6, ACL, user, user max, reserved, latency, NEL, compat, port block, reserved
    ]

    /// Decodes a layout-1 file (the caller has checked the magic and the layout).
    static func readLayout1(_ bytes: [UInt8]) throws(Error) -> Result {
        guard bytes.count >= layout1HeaderLength + layout1StatLength else {
            throw Error(
                "nfdump 1.6 file cut inside its header: \(bytes.count) bytes, its header and statistics take \(layout1HeaderLength + layout1StatLength)"
            )
        }
        let flags = le32(bytes, 4)
        var result = Result(records: [])
        result.layout = 1
        result.declaredFlows = le64(bytes, layout1HeaderLength)
        // nfdump's own precedence when several bits are set: LZO, then BZ2, then LZ4.
        if flags & 0x1 != 0 {
            throw Error(
                "LZO-compressed nfdump 1.6 file (nfcapd -z): not read; convert it with `nfdump -r FILE -J 0 -w NEW` (or -y/-J 3 for LZ4)")
        }
        if flags & 0x8 != 0 {
            throw Error(
                "BZ2-compressed nfdump 1.6 file (nfcapd -j): not read; convert it with `nfdump -r FILE -J 0 -w NEW` (or -y/-J 3 for LZ4)")
        }
        let lz4 = flags & 0x10 != 0
        result.compression = lz4 ? 3 : 0

        var maps: [UInt16: [UInt16]] = [:] // map id → extension ids (only usable maps)
        var exporters: [UInt16: (address: IPAddress, domain: UInt32, version: UInt32)] = [:]
        var exporterOf: [UInt16] = []
        var offset = layout1HeaderLength + layout1StatLength
        while offset < bytes.count {
            guard bytes.count - offset >= blockHeaderLength else {
                result.truncated = true
                break
            }
            let size = Int(le32(bytes, offset + 4))
            let id = le16(bytes, offset + 8)
            let start = offset + blockHeaderLength
            guard size <= bytes.count - start else {
                result.truncated = true
                break
            }
            offset = start + size
            guard id == 2 else {
                result.skippedRecords += 1
                continue
            }
            var block: [UInt8]
            if lz4 {
                do {
                    block = try LZ4.decompress(bytes[start..<(start + size)], maximum: 16 << 20)
                } catch {
                    result.damagedBlocks += 1
                    continue
                }
            } else {
                block = Array(bytes[start..<(start + size)])
            }
            readLayout1Records(block, into: &result, maps: &maps, exporters: &exporters, exporterOf: &exporterOf)
        }
        applyExporters(&result, exporters: exporters, exporterOf: exporterOf)
        return result
    }

    static func readLayout1Records(
        _ b: [UInt8], into result: inout Result, maps: inout [UInt16: [UInt16]],
        exporters: inout [UInt16: (address: IPAddress, domain: UInt32, version: UInt32)], exporterOf: inout [UInt16]
    ) {
        var offset = 0
        while b.count - offset >= 4 {
            let type = le16(b, offset)
            let size = Int(le16(b, offset + 2))
            guard size >= 4, size <= b.count - offset else {
                result.damagedBlocks += 1 // a record that does not fit: the rest of the block is unreadable
                return
            }
            let end = offset + size
            switch type {
            case 10 where size >= 32, 1 where size >= 28:
                let mapID = le16(b, offset + 6)
                if let extensions = maps[mapID], let r = layout1Flow(b, at: offset, end: end, legacy: type == 1, extensions: extensions) {
                    result.records.append(r)
                    exporterOf.append(type == 10 ? le16(b, offset + 28) : 0)
                } else {
                    result.skippedRecords += 1
                }
            case 2 where size >= 8:
                let mapID = le16(b, offset + 4)
                if let extensions = layout1Map(b, at: offset, end: end) {
                    maps[mapID] = extensions
                } else {
                    maps[mapID] = nil
                    result.skippedRecords += 1
                }
            case 7 where size >= 32:
                let e = exporterRecord(b, at: offset)
                exporters[e.sysid] = (e.address, e.domain, e.version)
            default:
                result.skippedRecords += 1
            }
            offset = end
        }
    }

    /// An extension map's ids, or nil when it names an id nfdump 1.6 does not define or its
    /// extensions do not add up to the total it declares.
    static func layout1Map(_ b: [UInt8], at offset: Int, end: Int) -> [UInt16]? {
        let declared = Int(le16(b, offset + 6))
        var ids: [UInt16] = []
        var total = 0
        var p = offset + 8
        while end - p >= 2 {
            let id = le16(b, p)
            p += 2
            if id == 0 { break }
            guard Int(id) < layout1ExtensionSizes.count, let size = layout1ExtensionSizes[Int(id)] else { return nil }
            ids.append(id)
            total += size
        }
        return total == declared ? ids : nil
    }

    /// A type 10 (or legacy type 1) flow record → a flow record; nil when its extensions do not
    /// fit the record.
    static func layout1Flow(_ b: [UInt8], at offset: Int, end: Int, legacy: Bool, extensions: [UInt16]) -> FlowRecord? {
        let flags = b[offset + 4]
        let version = b[offset + 5]
        var r = FlowRecord(exportProtocol: version == 5 ? .netflowV5 : version == 9 ? .netflowV9 : .ipfix)
        let msecFirst = Int64(le16(b, offset + 8))
        let msecLast = Int64(le16(b, offset + 10))
        r.startMilliseconds = Int64(le32(b, offset + 12)) * 1000 + msecFirst
        r.endMilliseconds = Int64(le32(b, offset + 16)) * 1000 + msecLast
        r.tcpFlags = b[offset + 21]
        r.ipProtocol = b[offset + 22]
        r.typeOfService = b[offset + 23]
        r.sourcePort = le16(b, offset + 24)
        r.destinationPort = le16(b, offset + 26)
        var p = offset + (legacy ? 28 : 32)
        func has(_ n: Int) -> Bool { end - p >= n }
        if flags & 0x1 != 0 {
            guard has(32) else { return nil }
            r.sourceAddress = .v6(high: le64(b, p), low: le64(b, p + 8))
            r.destinationAddress = .v6(high: le64(b, p + 16), low: le64(b, p + 24))
            p += 32
        } else {
            guard has(8) else { return nil }
            r.sourceAddress = .v4(le32(b, p))
            r.destinationAddress = .v4(le32(b, p + 4))
            p += 8
        }
        let packetsWidth = flags & 0x2 != 0 ? 8 : 4
        let bytesWidth = flags & 0x4 != 0 ? 8 : 4
        guard has(packetsWidth + bytesWidth) else { return nil }
        r.packets = packetsWidth == 8 ? le64(b, p) : UInt64(le32(b, p))
        p += packetsWidth
        r.bytes = bytesWidth == 8 ? le64(b, p) : UInt64(le32(b, p))
        p += bytesWidth
        for id in extensions {
            let size = layout1ExtensionSizes[Int(id)] ?? 0
            guard has(size) else { return nil }
            switch id {
            case 4:
                r.inputInterface = UInt32(le16(b, p))
                r.outputInterface = UInt32(le16(b, p + 2))
            case 5:
                r.inputInterface = le32(b, p)
                r.outputInterface = le32(b, p + 4)
            case 6:
                r.sourceAS = UInt32(le16(b, p))
                r.destinationAS = UInt32(le16(b, p + 2))
            case 7:
                r.sourceAS = le32(b, p)
                r.destinationAS = le32(b, p + 4)
            case 8:
                r.direction = FlowDirection(rawValue: b[p + 1]) ?? .unknown
            default:
                break
            }
            p += size
        }
        if r.endMilliseconds < r.startMilliseconds { r.endMilliseconds = r.startMilliseconds }
        return r
    }
}
