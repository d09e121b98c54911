import FlowCodec

/// Test-only: builds nfdump 1.6 ("layout 1") files from flow records, following nfdump 1.6's
/// header definitions (`nffile.h` `file_header_t`, `stat_record_t`, `data_block_header_t`;
/// `nfx.h` `common_record_t`, `extension_map_t`; `exporter.h` `exporter_info_record_t`), in
/// little-endian byte order as nfcapd writes on x86. LZ4 blocks are written as one literal run
/// (a valid LZ4 block that nfdump's `LZ4_decompress_safe` accepts, just not a compressed one).
enum NfdumpLayout1Writer {
    /// Extension ids and their sizes as `nfx.c` defines them (only those the tests use).
    static let sizes: [UInt16: Int] = [4: 4, 5: 8, 6: 4, 7: 8, 8: 4, 9: 4, 10: 16, 13: 4, 22: 40, 27: 8, 37: 20]

    static func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
    static func le32(_ v: UInt32) -> [UInt8] { le16(UInt16(v & 0xFFFF)) + le16(UInt16(v >> 16)) }
    static func le64(_ v: UInt64) -> [UInt8] { le32(UInt32(v & 0xFFFF_FFFF)) + le32(UInt32(v >> 32)) }

    /// File header (140 bytes) and statistics record (136 bytes), then the blocks.
    static func file(blocks: [[UInt8]], flags: UInt32 = 0, flows: UInt64 = 0) -> [UInt8] {
        var out = le16(0xA50C) + le16(1) + le32(flags) + le32(UInt32(blocks.count))
        out += Array("mamori-test".utf8) + [UInt8](repeating: 0, count: 128 - 11)
        out += le64(flows) + [UInt8](repeating: 0, count: 136 - 8)
        for b in blocks { out += b }
        return out
    }

    /// A data block (id 2) holding `records`, LZ4-"compressed" when asked.
    static func block(_ records: [[UInt8]], lz4: Bool = false, id: UInt16 = 2) -> [UInt8] {
        var body = records.flatMap { $0 }
        if lz4 { body = lz4Literals(body) }
        return le32(UInt32(records.count)) + le32(UInt32(body.count)) + le16(id) + le16(lz4 ? 2 : 1) + body
    }

    /// One LZ4 sequence of literals only.
    static func lz4Literals(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        if bytes.count < 15 {
            out.append(UInt8(bytes.count) << 4)
        } else {
            out.append(0xF0)
            var rest = bytes.count - 15
            while rest >= 255 {
                out.append(255)
                rest -= 255
            }
            out.append(UInt8(rest))
        }
        return out + bytes
    }

    /// An extension map record (type 2); `declared` overrides the extensions' total size.
    static func map(id: UInt16, extensions: [UInt16], declared: Int? = nil) -> [UInt8] {
        let total = declared ?? extensions.reduce(0) { $0 + (sizes[$1] ?? 0) }
        var body = le16(id) + le16(UInt16(total)) + extensions.flatMap { le16($0) } + le16(0)
        while (body.count + 4) % 4 != 0 { body += [0] }
        return le16(2) + le16(UInt16(body.count + 4)) + body
    }

    /// An exporter record (type 7) for an IPv4 exporter.
    static func exporter(sysid: UInt16, address: UInt32, domain: UInt32, version: UInt32) -> [UInt8] {
        le16(7) + le16(32) + le32(version) + le64(0) + le32(address) + le32(0) + le16(2) + le16(sysid) + le32(domain)
    }

    /// A flow record: type 10 (or the legacy type 1), the required extensions sized to the
    /// values, then the map's extensions.
    static func flow(_ r: FlowRecord, map: UInt16, extensions: [UInt16], sysid: UInt16 = 1, legacy: Bool = false, version: UInt8 = 9)
        -> [UInt8]
    {
        var flags: UInt8 = 0
        if r.sourceAddress.isIPv6 { flags |= 1 }
        if r.packets > UInt64(UInt32.max) { flags |= 2 }
        if r.bytes > UInt64(UInt32.max) { flags |= 4 }
        var body: [UInt8] = [flags, version] + le16(map)
        body += le16(UInt16(r.startMilliseconds % 1000)) + le16(UInt16(r.endMilliseconds % 1000))
        body += le32(UInt32(r.startMilliseconds / 1000)) + le32(UInt32(r.endMilliseconds / 1000))
        body += [0, r.tcpFlags, r.ipProtocol, r.typeOfService] + le16(r.sourcePort) + le16(r.destinationPort)
        if !legacy { body += le16(sysid) + le16(0) }
        if r.sourceAddress.isIPv6 {
            for a in [r.sourceAddress, r.destinationAddress] { body += le64(a.high) + le64(a.low) }
        } else {
            body += le32(r.sourceAddress.ipv4!) + le32(r.destinationAddress.ipv4!)
        }
        body += flags & 2 != 0 ? le64(r.packets) : le32(UInt32(r.packets))
        body += flags & 4 != 0 ? le64(r.bytes) : le32(UInt32(r.bytes))
        for e in extensions {
            switch e {
            case 4: body += le16(UInt16(r.inputInterface)) + le16(UInt16(r.outputInterface))
            case 5: body += le32(r.inputInterface) + le32(r.outputInterface)
            case 6: body += le16(UInt16(r.sourceAS)) + le16(UInt16(r.destinationAS))
            case 7: body += le32(r.sourceAS) + le32(r.destinationAS)
            case 8: body += [0, r.direction.rawValue, 24, 16]
            default: body += [UInt8](repeating: 0xEE, count: sizes[e] ?? 0)
            }
        }
        return le16(legacy ? 1 : 10) + le16(UInt16(body.count + 4)) + body
    }
}
