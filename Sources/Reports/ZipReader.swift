import CompressNIO
import NIOCore

/// The files in a zip archive held in memory (a report mail's attachment, an uploaded `.zip`).
///
/// Read here rather than with ZIPFoundation: fuzzing showed that ZIPFoundation 0.9.20 traps on an
/// archive whose central directory points past its end (a range with its bounds reversed, in
/// `MemoryFile.readData`) and leaks its in-memory file on one without an end record — one hostile
/// upload would stop the server. Only the container is read by hand (the end of central directory
/// record, the central directory, each local header, every offset and length checked against the
/// bytes); inflating is zlib's, through compress-nio. Stored and deflated files only; zip64,
/// encrypted and multi-disk archives are refused with the reason (no report needs them).
///
/// The limits keep a zip bomb from filling memory: a cap on files, on each file's and all files'
/// unpacked size, and on the packing ratio — checked on the sizes the archive declares before
/// anything is unpacked, and on the bytes as they are unpacked (a file is inflated into at most
/// its declared size, and must come out exactly that long with the declared CRC-32).
public enum ZipReader {
    public struct Limits: Sendable {
        public var maxEntries = 64
        public var maxEntryBytes = 512 << 20
        public var maxTotalBytes = 1 << 30
        /// Unpacked ÷ packed bytes; text compresses 5–20 times, a bomb thousands of times.
        public var maxRatio = 250
        public init() {}
    }

    public struct File: Sendable {
        public var name: String
        public var bytes: [UInt8]
    }

    /// Whether the bytes start as a zip archive does (a local file header, `PK\3\4`).
    public static func looksLikeZip(_ bytes: some Collection<UInt8>) -> Bool {
        bytes.starts(with: [0x50, 0x4B, 0x03, 0x04])
    }

    struct Entry {
        var name: String
        var method: Int
        var flags: Int
        var crc: UInt32
        var packed: Int
        var unpacked: Int
        var localHeader: Int
        var isDirectory: Bool
    }

    /// The regular files in the archive (directories skipped), in central directory order.
    /// Throws, with nothing returned, when the archive cannot be read or passes a limit: a
    /// half-read archive is not imported.
    public static func files(_ bytes: [UInt8], limits: Limits = Limits()) throws(ReportError) -> [File] {
        let entries = try centralDirectory(bytes).filter { !$0.isDirectory }
        guard entries.count <= limits.maxEntries else {
            throw ReportError("zip_bomb: the archive holds \(entries.count) files, more than \(limits.maxEntries)")
        }
        var total = 0
        for e in entries {
            guard e.unpacked <= limits.maxEntryBytes else {
                throw ReportError("zip_bomb: \(e.name) would unpack to \(e.unpacked) bytes, more than \(limits.maxEntryBytes)")
            }
            guard e.unpacked <= max(e.packed, 1) * limits.maxRatio else {
                throw ReportError("zip_bomb: \(e.name) packs \(e.unpacked) bytes into \(e.packed), more than \(limits.maxRatio) to 1")
            }
            total += e.unpacked
            guard total <= limits.maxTotalBytes else {
                throw ReportError("zip_bomb: the archive would unpack to more than \(limits.maxTotalBytes) bytes")
            }
        }
        return try entries.map { e throws(ReportError) in File(name: e.name, bytes: try unpack(e, from: bytes)) }
    }

    /// Little-endian integers at an offset already checked to be inside the bytes.
    private static func u16(_ b: [UInt8], _ i: Int) -> Int { Int(b[i]) | Int(b[i + 1]) << 8 }
    private static func u32(_ b: [UInt8], _ i: Int) -> Int { u16(b, i) | u16(b, i + 2) << 16 }

    /// The end of central directory record (the last one, as unzip finds it) and the entries of
    /// the central directory it points to.
    static func centralDirectory(_ b: [UInt8]) throws(ReportError) -> [Entry] {
        guard b.count >= 22 else { throw ReportError("not a readable zip archive (shorter than an end record)") }
        // The record is 22 bytes and a comment of at most 65,535 at the very end.
        var end = -1
        var offset = b.count - 22
        while offset >= max(0, b.count - 22 - 65_535) {
            if b[offset] == 0x50, b[offset + 1] == 0x4B, b[offset + 2] == 0x05, b[offset + 3] == 0x06,
                offset + 22 + u16(b, offset + 20) == b.count
            {
                end = offset
                break
            }
            offset -= 1
        }
        guard end >= 0 else { throw ReportError("not a readable zip archive (no end of central directory record: cut short?)") }
        let disk = u16(b, end + 4)
        let directoryDisk = u16(b, end + 6)
        let count = u16(b, end + 10)
        let size = u32(b, end + 12)
        let start = u32(b, end + 16)
        guard disk == 0, directoryDisk == 0, u16(b, end + 8) == count else {
            throw ReportError("a zip archive split over several disks is not read")
        }
        guard count != 0xFFFF, size != 0xFFFF_FFFF, start != 0xFFFF_FFFF else {
            throw ReportError("a zip64 archive is not read (no report file needs one)")
        }
        guard start + size <= end else { throw ReportError("not a readable zip archive (the central directory runs past its end)") }
        var entries: [Entry] = []
        var at = start
        for _ in 0..<count {
            guard at + 46 <= start + size, u32(b, at) == 0x0201_4B50 else {
                throw ReportError("not a readable zip archive (a central directory entry is broken)")
            }
            let nameLength = u16(b, at + 28)
            let next = at + 46 + nameLength + u16(b, at + 30) + u16(b, at + 32)
            guard next <= start + size else { throw ReportError("not a readable zip archive (a central directory entry runs past it)") }
            let name = String(decoding: b[(at + 46)..<(at + 46 + nameLength)], as: UTF8.self)
            let entry = Entry(
                name: String(name.split(separator: "/").last ?? ""), method: u16(b, at + 10), flags: u16(b, at + 8),
                crc: UInt32(u32(b, at + 16)), packed: u32(b, at + 20), unpacked: u32(b, at + 24), localHeader: u32(b, at + 42),
                isDirectory: name.hasSuffix("/"))
            guard entry.packed != 0xFFFF_FFFF, entry.unpacked != 0xFFFF_FFFF, entry.localHeader != 0xFFFF_FFFF else {
                throw ReportError("a zip64 archive is not read (no report file needs one)")
            }
            entries.append(entry)
            at = next
        }
        return entries
    }

    /// One file's bytes: its local header checked, stored bytes copied or deflated ones inflated
    /// into at most the declared size, then its length and CRC-32 compared with the directory's.
    static func unpack(_ e: Entry, from b: [UInt8]) throws(ReportError) -> [UInt8] {
        guard e.flags & 1 == 0 else { throw ReportError("\(e.name) in the archive is encrypted") }
        let h = e.localHeader
        guard h + 30 <= b.count, u32(b, h) == 0x0403_4B50 else {
            throw ReportError("\(e.name) in the archive: its local header is missing or broken")
        }
        let data = h + 30 + u16(b, h + 26) + u16(b, h + 28)
        guard data + e.packed <= b.count else { throw ReportError("\(e.name) in the archive runs past its end (cut short?)") }
        let packed = b[data..<(data + e.packed)]
        var out: [UInt8]
        switch e.method {
        case 0:
            guard e.packed == e.unpacked else { throw ReportError("\(e.name) in the archive: stored, yet its sizes differ") }
            out = Array(packed)
        case 8:
            var input = ByteBuffer(bytes: packed)
            do {
                var inflated = try input.decompress(with: .deflate(), maxSize: max(e.unpacked, 1))
                out = inflated.readBytes(length: inflated.readableBytes) ?? []
            } catch {
                throw ReportError(
                    "\(e.name) in the archive cannot be unpacked (\(error)): "
                        + "\(error as? CompressNIOError == .bufferOverflow ? "zip_bomb: more bytes than it declares" : "corrupt")")
            }
        default:
            throw ReportError("\(e.name) in the archive is packed with method \(e.method); only stored and deflated files are read")
        }
        guard out.count == e.unpacked else {
            throw ReportError("\(e.name) in the archive unpacks to \(out.count) bytes, not the \(e.unpacked) it declares")
        }
        guard crc32(out) == e.crc else { throw ReportError("\(e.name) in the archive fails its CRC-32 check (corrupt)") }
        return out
    }

    /// CRC-32 (IEEE 802.3, as zip uses it), by table.
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = crcTable[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    private static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }
}
