import FlowCodec

/// Reads nfdump's binary capture files — what `nfcapd` writes — into flow records, so
/// `mamori analyze` works on a carrier's existing nfcapd archive. Pure: give it the file's bytes.
/// Both layouts are read: 2 (nfdump 1.7, below) and 1 (nfdump 1.6, e.g. Debian 11's nfcapd 1.6.22;
/// see `NfdumpFile+Layout1.swift`).
///
/// Layout (nfdump 1.7 `nffileV2.h`, `nfxV3.h`, written in the host's byte order, little-endian on
/// the machines nfdump runs on): a 40-byte file header (magic 0xA50C, layout version 2, the
/// compression of its blocks), then blocks — 12-byte header (records, size, type, flags) and the
/// block's bytes, compressed unless flag 1 says otherwise. Blocks of type 3 hold records: a 4-byte
/// header (type, size); type 11 is a flow (`recordHeaderV3`, 12 bytes, then elements each with a
/// 4-byte type/length header), type 7 names an exporter (its address and observation domain).
/// The appendix (statistics, identifiers) is made of the same blocks and records.
///
/// Compression: none (nfcapd's default — checked: Debian's nfcapd 1.7.1 writes compression 0
/// without -z/-y/-j) and LZ4 (`-y`; decoded here, see ``LZ4``). LZO (`-z`) and BZ2 (`-j`) files are
/// refused with an error that says how to convert them (`nfdump -r FILE -J 3 …`).
///
/// Sampling: nfcapd 1.7.1 already scales packets and bytes by the sampling interval it knew for
/// the exporter (`ipfix.c`/`netflow_v9.c`: `inPackets * intervalTotal / packetInterval`) and keeps
/// the interval in the sampler element (18); records carry those counters and that interval as is.
public enum NfdumpFile {
    /// A problem with the file as a whole (per-record problems are counted in ``Result``).
    public struct Error: Swift.Error, Hashable, CustomStringConvertible {
        public let description: String
        init(_ d: String) { description = d }
    }

    public struct Result: Sendable {
        public var records: [FlowRecord]
        /// Records of other types (statistics, samplers, identifiers) and unknown elements skipped.
        public var skippedRecords = 0
        /// Blocks that could not be read (bad size, undecodable compression); their records are lost.
        public var damagedBlocks = 0
        /// The file ended inside a block (nfcapd still writing, or a cut copy).
        public var truncated = false
        /// 0 none, 1 LZO, 2 BZ2, 3 LZ4 (the numbering of layout 2, also used for layout 1's flags).
        public var compression: UInt8 = 0
        /// The file layout: 1 (nfdump 1.6) or 2 (nfdump 1.7).
        public var layout: UInt16 = 2
        /// Layout 1: the flow count of the file's statistics record (0 while nfcapd is still writing it).
        public var declaredFlows: UInt64? = nil
    }

    static let magic: UInt16 = 0xA50C
    static let headerLength = 40
    static let blockHeaderLength = 12

    /// Decodes a whole file.
    public static func read(_ bytes: [UInt8]) throws(Error) -> Result {
        guard bytes.count >= headerLength else { throw Error("not an nfdump file: \(bytes.count) bytes, shorter than its 40-byte header") }
        guard le16(bytes, 0) == magic else { throw Error("not an nfdump file (no 0xA50C magic)") }
        let version = le16(bytes, 2)
        if version == 1 { return try readLayout1(bytes) }
        guard version == 2 else { throw Error("nfdump file layout \(version): only layouts 1 (nfdump 1.6) and 2 (nfdump 1.7) are read") }
        let compression = bytes[16]
        guard bytes[17] == 0 else { throw Error("encrypted nfdump file") }
        switch compression {
        case 0, 3: break
        case 1: throw Error("LZO-compressed nfdump file (nfcapd -z): not read; convert it with `nfdump -r FILE -J 3` (LZ4) or `-J 0`")
        case 2: throw Error("BZ2-compressed nfdump file (nfcapd -j): not read; convert it with `nfdump -r FILE -J 3` (LZ4) or `-J 0`")
        default: throw Error("nfdump file with compression \(compression) (ZSTD or newer): not read; convert it with `nfdump -r FILE -J 0`")
        }
        var result = Result(records: [])
        result.compression = compression
        var exporters: [UInt16: (address: IPAddress, domain: UInt32, version: UInt32)] = [:]
        var exporterOf: [UInt16] = [] // per record in result.records
        var offset = headerLength
        while offset < bytes.count {
            guard bytes.count - offset >= blockHeaderLength else {
                result.truncated = true
                break
            }
            let size = Int(le32(bytes, offset + 4))
            let type = le16(bytes, offset + 8)
            let flags = le16(bytes, offset + 10)
            let start = offset + blockHeaderLength
            guard size <= bytes.count - start else {
                result.truncated = true
                break
            }
            offset = start + size
            guard type == 3 else {
                result.skippedRecords += 1
                continue
            }
            var block: [UInt8]
            if compression == 0 || flags & 1 != 0 {
                block = Array(bytes[start..<(start + size)])
            } else {
                do {
                    block = try LZ4.decompress(bytes[start..<(start + size)], maximum: 64 << 20)
                } catch {
                    result.damagedBlocks += 1
                    continue
                }
            }
            readRecords(block, into: &result, exporters: &exporters, exporterOf: &exporterOf)
        }
        applyExporters(&result, exporters: exporters, exporterOf: exporterOf)
        return result
    }

    /// Sets each record's exporter, observation domain and export protocol from the exporter
    /// records (type 7) the file holds, by the record's exporter id.
    static func applyExporters(
        _ result: inout Result, exporters: [UInt16: (address: IPAddress, domain: UInt32, version: UInt32)], exporterOf: [UInt16]
    ) {
        for i in result.records.indices where i < exporterOf.count {
            if let e = exporters[exporterOf[i]] {
                result.records[i].exporter = e.address
                result.records[i].observationDomain = e.domain
                switch e.version {
                case 5: result.records[i].exportProtocol = .netflowV5
                case 9: result.records[i].exportProtocol = .netflowV9
                case 9999: result.records[i].exportProtocol = .sflowV5
                default: result.records[i].exportProtocol = .ipfix
                }
            }
        }
    }

    /// An exporter record (type 7, `exporter_info_record_t`, the same in both layouts) at `offset`.
    static func exporterRecord(_ b: [UInt8], at offset: Int) -> (sysid: UInt16, address: IPAddress, domain: UInt32, version: UInt32) {
        let version = le32(b, offset + 4)
        let family = le16(b, offset + 24)
        let sysid = le16(b, offset + 26)
        let domain = le32(b, offset + 28)
        // ip_addr_t: two host-order 64-bit words (IPv6), or the IPv4 address in the third 32-bit word.
        let address: IPAddress =
            family == 10 || family == 28 ? .v6(high: le64(b, offset + 8), low: le64(b, offset + 16)) : .v4(le32(b, offset + 16))
        return (sysid, address, domain, version)
    }

    static func readRecords(
        _ b: [UInt8], into result: inout Result, exporters: inout [UInt16: (address: IPAddress, domain: UInt32, version: UInt32)],
        exporterOf: inout [UInt16]
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
            case 11 where size >= 12:
                let exporterID = le16(b, offset + 8)
                if let r = flow(b, from: offset + 12, to: end) {
                    result.records.append(r)
                    exporterOf.append(exporterID)
                } else {
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

    /// A V3 flow record's elements → a flow record; nil without the generic flow element.
    static func flow(_ b: [UInt8], from start: Int, to end: Int) -> FlowRecord? {
        var r = FlowRecord(exportProtocol: .ipfix)
        var hasGeneric = false
        var offset = start
        while end - offset >= 4 {
            let type = le16(b, offset)
            let length = Int(le16(b, offset + 2))
            guard length >= 4, length <= end - offset else { break }
            let p = offset + 4
            let n = length - 4
            switch type {
            case 1 where n >= 48: // EXgenericFlow
                hasGeneric = true
                r.startMilliseconds = Int64(bitPattern: le64(b, p))
                r.endMilliseconds = Int64(bitPattern: le64(b, p + 8))
                r.packets = le64(b, p + 24)
                r.bytes = le64(b, p + 32)
                r.sourcePort = le16(b, p + 40)
                r.destinationPort = le16(b, p + 42)
                r.ipProtocol = b[p + 44]
                r.tcpFlags = b[p + 45]
                r.typeOfService = b[p + 47]
            case 2 where n >= 8: // EXipv4Flow
                r.sourceAddress = .v4(le32(b, p))
                r.destinationAddress = .v4(le32(b, p + 4))
            case 3 where n >= 32: // EXipv6Flow
                r.sourceAddress = .v6(high: le64(b, p), low: le64(b, p + 8))
                r.destinationAddress = .v6(high: le64(b, p + 16), low: le64(b, p + 24))
            case 4 where n >= 11: // EXflowMisc
                r.inputInterface = le32(b, p)
                r.outputInterface = le32(b, p + 4)
                r.direction = FlowDirection(rawValue: b[p + 10]) ?? .unknown
            case 7 where n >= 8: // EXasRouting
                r.sourceAS = le32(b, p)
                r.destinationAS = le32(b, p + 4)
            case 18 where n >= 8: // EXsamplerInfo: counters were scaled by nfcapd already
                let interval = le32(b, p + 4)
                if interval > 1 { r.samplingInterval = interval }
            default:
                break
            }
            offset += length
        }
        if r.endMilliseconds < r.startMilliseconds { r.endMilliseconds = r.startMilliseconds }
        return hasGeneric ? r : nil
    }

    @inline(__always) static func le16(_ b: [UInt8], _ i: Int) -> UInt16 { UInt16(b[i]) | UInt16(b[i + 1]) << 8 }
    @inline(__always) static func le32(_ b: [UInt8], _ i: Int) -> UInt32 { UInt32(le16(b, i)) | UInt32(le16(b, i + 2)) << 16 }
    @inline(__always) static func le64(_ b: [UInt8], _ i: Int) -> UInt64 { UInt64(le32(b, i)) | UInt64(le32(b, i + 4)) << 32 }
}

/// LZ4 block decompression (the raw block format nfdump writes with `LZ4_compress_default`, no
/// frame). Written by hand: the format is a page long (sequences of literal length, literals, a
/// 2-byte back-reference offset and a match length), and no Swift package on this machine
/// provides LZ4.
enum LZ4 {
    struct Error: Swift.Error {}

    static func decompress(_ input: ArraySlice<UInt8>, maximum: Int) throws(Error) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(min(maximum, input.count * 4))
        var i = input.startIndex
        let end = input.endIndex
        while i < end {
            let token = input[i]
            i += 1
            var literals = Int(token >> 4)
            if literals == 15 {
                while true {
                    guard i < end else { throw Error() }
                    let more = input[i]
                    i += 1
                    literals += Int(more)
                    if more != 255 { break }
                }
            }
            guard literals <= end - i, out.count + literals <= maximum else { throw Error() }
            out.append(contentsOf: input[i..<(i + literals)])
            i += literals
            if i == end { break } // the last sequence has literals only
            guard end - i >= 2 else { throw Error() }
            let distance = Int(input[i]) | Int(input[i + 1]) << 8
            i += 2
            guard distance > 0, distance <= out.count else { throw Error() }
            var match = Int(token & 15)
            if match == 15 {
                while true {
                    guard i < end else { throw Error() }
                    let more = input[i]
                    i += 1
                    match += Int(more)
                    if more != 255 { break }
                }
            }
            match += 4
            guard out.count + match <= maximum else { throw Error() }
            // Byte by byte: a match may overlap the bytes it produces (run-length repeats).
            let from = out.count - distance
            for k in 0..<match { out.append(out[from + k]) }
        }
        return out
    }
}
