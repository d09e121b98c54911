import Foundation
import ZIPFoundation

/// The files in a zip archive held in memory (a report mail's attachment, an uploaded `.zip`),
/// read with ZIPFoundation, with the limits that keep a zip bomb from filling memory: a cap on
/// entries, on each entry's and all entries' unpacked size, and on the packing ratio. The caps are
/// checked on the sizes the archive declares before anything is unpacked, and again on the bytes
/// as they are unpacked (an archive can lie about its sizes).
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

    /// The regular files in the archive (directories and links skipped), in archive order. Throws,
    /// with nothing returned, when the archive cannot be read or passes a limit: a half-read
    /// archive is not imported.
    public static func files(_ bytes: [UInt8], limits: Limits = Limits()) throws(ReportError) -> [File] {
        // ZIPFoundation 0.9.20 leaks its in-memory file (and the bytes) when it finds no end of
        // central directory record; so it is only handed archives that have one.
        guard hasEndOfCentralDirectory(bytes) else {
            throw ReportError("not a readable zip archive (no end of central directory record: cut short?)")
        }
        let archive: Archive
        do {
            archive = try Archive(data: Data(bytes), accessMode: .read)
        } catch {
            throw ReportError("not a readable zip archive (\(error))")
        }
        let entries = archive.filter { $0.type == .file }
        guard entries.count <= limits.maxEntries else {
            throw ReportError("zip_bomb: the archive holds \(entries.count) files, more than \(limits.maxEntries)")
        }
        var total = 0
        for entry in entries {
            let declared = entry.uncompressedSize
            guard declared <= UInt64(limits.maxEntryBytes) else {
                throw ReportError("zip_bomb: \(entry.path) would unpack to \(declared) bytes, more than \(limits.maxEntryBytes)")
            }
            guard declared <= max(entry.compressedSize, 1) * UInt64(limits.maxRatio) else {
                throw ReportError(
                    "zip_bomb: \(entry.path) packs \(declared) bytes into \(entry.compressedSize), more than \(limits.maxRatio) to 1")
            }
            total += Int(declared)
            guard total <= limits.maxTotalBytes else {
                throw ReportError("zip_bomb: the archive would unpack to more than \(limits.maxTotalBytes) bytes")
            }
        }
        var files: [File] = []
        var unpacked = 0
        for entry in entries {
            var out: [UInt8] = []
            let cap = Int(entry.uncompressedSize)
            do {
                _ = try archive.extract(entry, skipCRC32: false) { chunk in
                    unpacked += chunk.count
                    guard out.count + chunk.count <= cap, unpacked <= limits.maxTotalBytes else { throw Overflow() }
                    out.append(contentsOf: chunk)
                }
            } catch is Overflow {
                throw ReportError("zip_bomb: \(entry.path) unpacks to more bytes than it declares (\(cap))")
            } catch {
                throw ReportError("\(entry.path) in the archive cannot be unpacked (\(error))")
            }
            guard out.count == cap else {
                throw ReportError("\(entry.path) in the archive unpacks to \(out.count) bytes, not the \(cap) it declares")
            }
            files.append(File(name: String(entry.path.split(separator: "/").last ?? ""), bytes: out))
        }
        return files
    }

    private struct Overflow: Error {}

    /// Whether the bytes end with an end of central directory record as ZIPFoundation looks for
    /// it: the last `PK\5\6` at least 22 bytes before the end, its comment within the bytes.
    static func hasEndOfCentralDirectory(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 22 else { return false }
        var offset = bytes.count - 22
        while offset >= 0 {
            if bytes[offset] == 0x50, bytes[offset + 1] == 0x4B, bytes[offset + 2] == 0x05, bytes[offset + 3] == 0x06 {
                let comment = Int(bytes[offset + 20]) | Int(bytes[offset + 21]) << 8
                return offset + 22 + comment <= bytes.count
            }
            offset -= 1
        }
        return false
    }
}
