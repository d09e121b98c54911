import Crypto
import Foundation
import HummingbirdBcrypt

/// Turns a password into a slow, salted hash and checks a password against one.
///
/// Implementations must be slow on purpose (a stolen hash must be expensive to guess from) and
/// must take about as long in ``verifyDummy(_:)`` as in ``verify(_:against:)``, so that an unknown
/// account name cannot be told from a wrong password by the time an answer takes. Calls are CPU
/// work of a quarter second or so: an HTTP handler should run them off the cooperative pool.
public protocol PasswordHashing: Sendable {
    func hash(_ password: String) -> String
    func verify(_ password: String, against hash: String) -> Bool
    /// A verification as slow as a real one, whose answer is thrown away.
    func verifyDummy(_ password: String)
}

/// bcrypt (hummingbird-auth's `HummingbirdBcrypt`), at a configurable cost (log2 rounds, default 12).
///
/// bcrypt reads at most 72 bytes and stops at a NUL byte, so the password is first reduced to
/// base64(SHA-256(password)) — 44 ASCII characters — and that is hashed: every byte of a long
/// password counts, and a NUL cannot cut it short. The ``PasswordPolicy`` still bounds the input
/// (1,024 bytes) so that hashing a huge body costs nothing.
public struct BcryptPasswordHashing: PasswordHashing {
    public let cost: UInt8
    private let dummyHash: String

    /// - Parameter cost: log2 of bcrypt's rounds, clamped to 4…31 (HummingbirdBcrypt traps outside
    ///   them). 12 in production; tests may use 4.
    public init(cost: Int = 12) {
        self.cost = UInt8(min(31, max(4, cost)))
        // A hash to verify against when the account does not exist, so that answering takes as
        // long as for a wrong password. Only its cost matters: made at cost 4 (a millisecond)
        // and relabelled with the real cost, which verifying it then spends — instead of a
        // whole cost-12 hash at every start (seconds of CPU in a debug build, and in the test
        // suite, which builds an application in hundreds of tests, minutes of it).
        let cheap = Bcrypt.hash(Self.prehash("mamori-dummy-password"), cost: 4)
        dummyHash = String(cheap.prefix(4)) + (self.cost < 10 ? "0" : "") + "\(self.cost)" + String(cheap.dropFirst(6))
    }

    public func hash(_ password: String) -> String { Bcrypt.hash(Self.prehash(password), cost: cost) }

    public func verify(_ password: String, against hash: String) -> Bool {
        // A hash that is not bcrypt's (empty, truncated) fails to verify; the C code checks its form.
        Bcrypt.verify(Self.prehash(password), hash: hash)
    }

    public func verifyDummy(_ password: String) { _ = Bcrypt.verify(Self.prehash(password), hash: dummyHash) }

    static func prehash(_ password: String) -> String {
        Data(SHA256.hash(data: Array(password.utf8))).base64EncodedString()
    }
}

/// What a new password must be: at least 12 characters, at most 1,024 bytes (so that a huge
/// input cannot burn CPU in the hash), and not only whitespace.
public struct PasswordPolicy: Sendable, Hashable {
    public var minimumCharacters: Int
    public var maximumBytes: Int

    public init(minimumCharacters: Int = 12, maximumBytes: Int = 1_024) {
        self.minimumCharacters = minimumCharacters
        self.maximumBytes = maximumBytes
    }

    /// Nil when `password` is acceptable, else why not (the error never quotes the password).
    public func problem(with password: String) -> AccountError? {
        // The byte bound first: counting characters of a huge string would itself cost time.
        guard password.utf8.count <= maximumBytes else {
            return AccountError(.passwordTooLong, "a password may be at most \(maximumBytes) bytes")
        }
        guard !password.allSatisfy(\.isWhitespace) else {
            return AccountError(.passwordBlank, "a password may not be empty or only whitespace")
        }
        guard password.count >= minimumCharacters else {
            return AccountError(.passwordTooShort, "a password needs at least \(minimumCharacters) characters")
        }
        return nil
    }
}
