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

    /// Reads the key at `path`, or creates it with `byteCount` random bytes (mode 0600).
    /// - Throws: ``KeyFileError`` when the file holds no key of that format or cannot be created.
    public static func loadOrCreate(path: String, byteCount: Int = 32, format: Format) throws -> [UInt8] {
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
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        guard FileManager.default.createFile(atPath: path, contents: contents, attributes: [.posixPermissions: 0o600]) else {
            throw KeyFileError("cannot create the key file \(path)")
        }
        return key
    }
}

/// A key file that cannot be read or created.
public struct KeyFileError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
