import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A machine token for `mamori serve`'s API (`mamori_<id>_<secret>`, as `mamori token create`
/// printed it), sent as `Authorization: Bearer …`.
///
/// Read from a file only its owner can read (``init(file:)``) or from the environment variable
/// ``environmentVariable`` — never from a command-line value, which `ps` and the shell's history
/// would show. Its text appears in no description, dump or error message.
public struct APIToken: Sendable, CustomStringConvertible, CustomReflectable {
    /// The token's text, trimmed.
    let value: String

    /// The environment variable a token is read from when no file is given.
    public static let environmentVariable = "MAMORI_TOKEN"
    /// Token files larger than this are refused before reading (a token is 67 characters).
    public static let maximumFileBytes = 4_096
    /// Longer values are refused: not a token.
    static let maximumLength = 256

    /// The token in `text`, without surrounding whitespace and line breaks; nil when that is not
    /// a token: empty, longer than 256 bytes, not starting `mamori_`, or holding anything but
    /// visible ASCII (which also keeps line breaks out of the HTTP header). Total on any input.
    public init?(_ text: String) {
        let trimmed = text.utf8.count <= Self.maximumFileBytes ? text.trimmingCharacters(in: .whitespacesAndNewlines) : ""
        guard !trimmed.isEmpty, trimmed.utf8.count <= Self.maximumLength, trimmed.hasPrefix("mamori_"),
            trimmed.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else { return nil }
        value = trimmed
    }

    /// The value of the `Authorization` header.
    var authorization: String { "Bearer " + value }

    public var description: String { "API token (hidden)" }
    /// `dump` shows nothing of the token.
    public var customMirror: Mirror { Mirror(self, children: [:]) }

    /// The token of `--token-file` when `file` is given, else of `MAMORI_TOKEN` in `environment`;
    /// nil when neither gives one (an unset or empty variable).
    /// - Throws: ``APITokenError`` when the file cannot be read, may be read by others, or the
    ///   file or variable does not hold a token.
    public static func load(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> APIToken? {
        if let file { return try APIToken(file: file) }
        guard let text = environment[environmentVariable], !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            return nil
        }
        guard let token = APIToken(text) else {
            throw APITokenError(
                "\(environmentVariable) does not hold a token: expected mamori_<id>_<secret>, as `mamori token create` prints it")
        }
        return token
    }

    /// The token in `file`: a regular file that only its owner may read or write, of at most
    /// ``maximumFileBytes`` bytes, holding one token (surrounding whitespace and a final newline
    /// are ignored). Checked before anything is read: a FIFO or a device is refused unread.
    public init(file: String) throws {
        let fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw APITokenError("cannot read the token file \(file): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var s = stat()
        guard fstat(fd, &s) == 0 else { throw APITokenError("cannot read the token file \(file): \(String(cString: strerror(errno)))") }
        guard s.st_mode & 0o170000 == 0o100000 else { throw APITokenError("the token file \(file) is not a regular file") }
        guard s.st_mode & 0o077 == 0 else {
            throw APITokenError(
                "the token file \(file) can be read or written by users other than its owner (mode \(String(s.st_mode & 0o777, radix: 8))); "
                    + "run `chmod 600 \(file)` (and consider the token exposed: whoever could read it may have copied it; "
                    + "`mamori token revoke ID` ends it)")
        }
        guard s.st_size <= Self.maximumFileBytes else {
            throw APITokenError("the token file \(file) is larger than \(Self.maximumFileBytes) bytes; it should hold one token (mamori_…)")
        }
        var bytes = [UInt8](repeating: 0, count: Self.maximumFileBytes + 1)
        var count = 0
        while count < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, $0.count - count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw APITokenError("cannot read the token file \(file): \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            count += n
        }
        guard count <= Self.maximumFileBytes, let token = APIToken(String(decoding: bytes[..<count], as: UTF8.self)) else {
            throw APITokenError(
                "the token file \(file) does not hold a token: expected one line mamori_<id>_<secret>, as `mamori token create` prints it")
        }
        self = token
    }
}

/// A token that cannot be read: the message names the file or variable and the fix, never the
/// token's text.
public struct APITokenError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
