import Foundation
import MamoriCore

/// A secret kept in a file in the data directory, readable by its owner only, created with random
/// bytes on first use: the audit key (hex), the pseudonym key (raw bytes).
public enum KeyFile {
    public enum Format: Sendable {
        /// Lower-case hex and a newline; read back from exactly `2 × byteCount` hex digits.
        case hex
        /// The bytes as they are; read back from any file of at least 16 bytes.
        case raw
    }

    /// Reads the key at `path`, or creates it with `byteCount` random bytes (mode 0600, set
    /// explicitly whatever the umask, flushed to disk with its directory).
    ///
    /// A key file that its group or others may read (or write) is refused, with the file and the
    /// fix in the message: a key others can read is a key that may have leaked.
    /// - Throws: ``KeyFileError`` when the file holds no key of that format, is readable by others,
    ///   or cannot be created.
    public static func loadOrCreate(path: String, byteCount: Int = 32, format: Format) throws -> [UInt8] {
        if let mode = PrivateFiles.mode(of: path) {
            try checkPrivate(path: path, mode: mode)
        }
        if let data = FileManager.default.contents(atPath: path) {
            switch format {
            case .hex:
                let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                guard text.utf8.count == 2 * byteCount, let bytes = [UInt8](hex: text) else {
                    throw KeyFileError("\(path) does not hold a \(2 * byteCount)-hex-digit key")
                }
                return bytes
            case .raw:
                guard data.count >= 16 else { throw KeyFileError("\(path) holds \(data.count) bytes; a key needs at least 16") }
                return [UInt8](data)
            }
        }
        var g = SystemRandomNumberGenerator()
        let key = (0..<byteCount).map { _ in UInt8.random(in: 0...255, using: &g) }
        let contents = format == .hex ? Data((key.hexEncoded + "\n").utf8) : Data(key)
        let directory = (path as NSString).deletingLastPathComponent
        do {
            if !directory.isEmpty && !FileManager.default.fileExists(atPath: directory) { try PrivateFiles.makeDirectory(directory) }
            // Never on disk with a wider mode, not even for a moment; never a half-written key.
            try PrivateFiles.replace(path, with: contents)
        } catch {
            throw KeyFileError("cannot create the key file \(path): \(error)")
        }
        return key
    }

    /// Refuses a key (or other secret) file its group or others can read or write.
    public static func checkPrivate(path: String, mode: mode_t, what: String = "key file") throws {
        guard mode & 0o077 != 0 else { return }
        throw KeyFileError(
            "the \(what) \(path) can be read or written by users other than its owner (mode \(String(mode & 0o777, radix: 8))); "
                + "run `chmod 600 \(path)` (and consider the secret exposed: whoever could read it may have copied it)")
    }
}

/// A key file that cannot be read or created.
public struct KeyFileError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
