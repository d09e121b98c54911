import Crypto
import Foundation

/// A secret an operator or a program is handed once — a session id, a machine token, a CSRF
/// token — wrapped so that printing, interpolating or dumping it (into a log line, an error or an
/// audit entry) shows `<redacted>`. Read it on purpose through ``revealed``.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The secret itself: only for the one place that hands it out (a cookie, a form, the CLI's output).
    public let revealed: String

    public init(_ revealed: String) { self.revealed = revealed }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}

/// Random bytes and the encodings of secrets.
///
/// Randomness comes from a generator the caller passes in: `SystemRandomNumberGenerator` in
/// production (on Linux it reads `getrandom(2)`, a cryptographically secure source), a seeded
/// `SplitMix64` in tests that need a known value.
public enum SecretCoding {
    /// `count` random bytes from `generator`.
    public static func randomBytes(_ count: Int, using generator: inout some RandomNumberGenerator) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 8)
        while bytes.count < count {
            let word = generator.next()
            for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
        return Array(bytes.prefix(count))
    }

    /// Base64url without padding (RFC 4648 §5), the form that goes into a cookie or a header unescaped.
    public static func base64url(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Decodes exactly `count` bytes from unpadded base64url; nil for anything else (a wrong
    /// length, a character outside the alphabet). Total on any input.
    public static func decodeBase64url(_ text: Substring, count: Int) -> [UInt8]? {
        let expected = (count * 4 + 2) / 3
        guard text.utf8.count == expected else { return nil }
        guard text.utf8.allSatisfy(isBase64urlByte) else { return nil }
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while standard.utf8.count % 4 != 0 { standard += "=" }
        guard let data = Data(base64Encoded: standard), data.count == count else { return nil }
        // Only the canonical spelling: unused low bits in the last character must be zero, so
        // that one secret has exactly one presented form.
        guard base64url([UInt8](data)) == text else { return nil }
        return [UInt8](data)
    }

    private static func isBase64urlByte(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z")) || (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z"))
            || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
    }

    /// Lowercase hex.
    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Bytes of a hex string; nil when it is not hex of an even length. Total on any input.
    public static func bytes(fromHex text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 2)
        var i = 0
        while i < utf8.count {
            guard let hi = nibble(utf8[i]), let lo = nibble(utf8[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    /// SHA-256 of `secret`, hex: what is stored in place of a token's or a session's secret.
    public static func digest(of secret: [UInt8]) -> String { hex(SHA256.hash(data: secret)) }

    /// Whether SHA-256 of `secret` is the stored hex `digest`, compared in constant time
    /// (swift-crypto's digest comparison), so the time taken says nothing about how many bytes match.
    public static func matches(_ secret: [UInt8], digest: String) -> Bool {
        guard let stored = bytes(fromHex: digest), stored.count == SHA256.byteCount else { return false }
        return SHA256.hash(data: secret) == stored
    }

    /// Constant-time equality of two strings of the same length (a presented CSRF token against
    /// the session's), through the digests of both: swift-crypto compares digests without an early exit.
    public static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        SHA256.hash(data: Array(a.utf8)) == Array(SHA256.hash(data: Array(b.utf8)))
    }
}
