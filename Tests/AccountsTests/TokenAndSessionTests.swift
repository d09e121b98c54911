import Accounts
import MamoriCore
import MamoriTesting
import Testing

@Suite struct MachineTokenTests {
    static func make(_ seed: UInt64 = 1) -> (MachineToken, Secret) {
        var random = SplitMix64(seed: seed)
        return MachineToken.make(
            name: "grafana", permissions: [.readMetrics], createdBy: "acct-1", at: 1_000, expiresAt: 2_000, using: &random)
    }

    @Test("the presented form: mamori_<16 hex>_<43 base64url>, stored only as a digest")
    func format() throws {
        let (token, presented) = Self.make()
        let text = presented.revealed
        #expect(text.hasPrefix("mamori_\(token.id)_"))
        #expect(text.utf8.count == 7 + 16 + 1 + 43)
        #expect(token.id.utf8.count == 16)
        let secretPart = String(text.dropFirst(7 + 16 + 1))
        #expect(token.digest.utf8.count == 64)
        #expect(!token.digest.contains(secretPart))
        #expect(!"\(token)".contains(secretPart) && !"\(token)".contains(token.digest))
        #expect("\(presented)" == "<redacted>" && String(reflecting: presented) == "<redacted>")
        let parsed = try #require(PresentedToken(text))
        #expect(parsed.id == token.id)
        #expect(token.matches(parsed))
        #expect(!"\(parsed)".contains(secretPart))
        // Another token's secret under this id does not match.
        let (_, other) = Self.make(2)
        let forged = "mamori_\(token.id)_" + String(other.revealed.dropFirst(7 + 16 + 1))
        #expect(!token.matches(try #require(PresentedToken(forged))))
        // Same seed, same token (tests can rely on it); different seeds differ.
        #expect(Self.make(1).1 == presented && Self.make(2).1 != presented)
    }

    @Test("parsing hostile input is total: nil, never a trap")
    func hostile() throws {
        let (token, presented) = Self.make()
        let valid = presented.revealed
        let tail = String(valid.dropFirst(7))
        let afterID = String(valid.dropFirst(7 + 16))
        let withoutLast = String(valid.dropLast())
        var cases: [String] = ["", "mamori_", "mamori__", "Mamori_" + tail, valid + "A", withoutLast, "mamoru_" + tail]
        cases.append("mamori_" + token.id.uppercased() + afterID)
        cases.append("mamori_" + String(repeating: "g", count: 16) + afterID)
        cases.append(String(valid.dropLast(2)) + "==")
        cases.append(withoutLast + "あ")
        cases.append(withoutLast + "\u{0}")
        cases.append(String(repeating: "mamori_", count: 200_000))
        cases.append(String(repeating: "\u{FFFF}", count: 74))
        for c in cases { #expect(PresentedToken(c) == nil, "\(c.prefix(40))") }
        // Every one-character change of a valid token either fails to parse or fails to match.
        let alphabet = Array("abcdefABCDEF0123456789-_=/+ .あ")
        var chars = Array(valid)
        for i in chars.indices {
            let original = chars[i]
            for replacement in alphabet where replacement != original {
                chars[i] = replacement
                if let p = PresentedToken(String(chars)) { #expect(!token.matches(p) || String(chars) == valid) }
            }
            chars[i] = original
        }
        // Seeded random strings of every length near the real one.
        var random = SplitMix64(seed: 19)
        for _ in 0..<5_000 {
            let length = Int(random.next() % 90)
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            let s = "mamori_" + String(decoding: bytes, as: UTF8.self)
            if let p = PresentedToken(s) { #expect(!token.matches(p)) }
        }
    }
}

@Suite struct SessionTests {
    let policy = SessionPolicy()

    @Test("idle after 30 minutes without a request, over after 12 hours whatever happens")
    func expiry() {
        var random = SplitMix64(seed: 7)
        var (s, _) = OperatorSession.make(accountID: "acct-1", clientAddress: "192.0.2.1", at: 0, using: &random)
        #expect(s.expiry(at: 30 * 60_000 - 1, policy: policy) == nil)
        #expect(s.expiry(at: 30 * 60_000, policy: policy) == .idle)
        // Active every 20 minutes: still over at 12 hours.
        var t: Int64 = 0
        while t + 20 * 60_000 < 12 * 3_600_000 {
            t += 20 * 60_000
            #expect(s.expiry(at: t, policy: policy) == nil)
            s.lastSeenAt = t
        }
        #expect(s.expiry(at: 12 * 3_600_000, policy: policy) == .absolute)
        // Hostile times do not trap.
        #expect(s.expiry(at: Int64.max, policy: policy) != nil)
        #expect(s.expiry(at: Int64.min, policy: policy) == nil)
    }

    @Test("session ids: 43 base64url characters, stored as a digest; CSRF compared exactly")
    func ids() throws {
        var random = SplitMix64(seed: 8)
        let (s, id) = OperatorSession.make(accountID: "acct-1", clientAddress: "192.0.2.1", at: 0, using: &random)
        #expect(id.revealed.utf8.count == 43)
        #expect(OperatorSession.digest(ofPresented: id.revealed) == s.digest)
        #expect(s.digest != id.revealed && !s.digest.contains(id.revealed))
        #expect(!"\(s)".contains(s.csrfToken) && !"\(s)".contains(s.digest))
        for bad in ["", "x", String(id.revealed.dropLast()), id.revealed + "A", String(repeating: "A", count: 1_000_000)] {
            #expect(OperatorSession.digest(ofPresented: bad) == nil)
        }
        #expect(s.acceptsCSRF(s.csrfToken))
        #expect(!s.acceptsCSRF(""))
        #expect(!s.acceptsCSRF(String(s.csrfToken.dropLast()) + (s.csrfToken.hasSuffix("A") ? "B" : "A")))
        let (s2, id2) = OperatorSession.make(accountID: "acct-1", clientAddress: "192.0.2.1", at: 0, using: &random)
        #expect(id2 != id && s2.csrfToken != s.csrfToken)
    }
}

@Suite(.heavyWork) struct LoginThrottleTests {
    @Test("at most 10 attempts per address per minute")
    func perAddress() {
        var throttle = LoginThrottle()
        for i in 0..<10 { #expect(throttle.admit(name: "n\(i)", address: "192.0.2.1", at: 1_000) == .allowed) }
        #expect(throttle.admit(name: "other", address: "192.0.2.1", at: 1_500) == .throttled(retryAfter: 59_500))
        #expect(throttle.admit(name: "other", address: "192.0.2.2", at: 1_500) == .allowed)
        #expect(throttle.admit(name: "other", address: "192.0.2.1", at: 61_000) == .allowed)
    }

    @Test("per name: exponential back-off after three failures, ended by a success")
    func backoff() {
        var throttle = LoginThrottle(configuration: .init(attemptsPerAddress: 1_000))
        for _ in 0..<3 {
            #expect(throttle.admit(name: "alice", address: "a", at: 0) == .allowed)
            throttle.recordFailure(name: "alice", at: 0)
        }
        #expect(throttle.admit(name: "alice", address: "a", at: 999) == .throttled(retryAfter: 1))
        #expect(throttle.admit(name: "bob", address: "a", at: 999) == .allowed)
        #expect(throttle.admit(name: "alice", address: "a", at: 1_000) == .allowed)
        throttle.recordFailure(name: "alice", at: 1_000)
        #expect(throttle.admit(name: "alice", address: "a", at: 2_999) == .throttled(retryAfter: 1))
        #expect(throttle.admit(name: "alice", address: "a", at: 3_000) == .allowed)
        for _ in 0..<100 { throttle.recordFailure(name: "alice", at: 3_000) }
        // Capped at five minutes, however many failures.
        #expect(throttle.admit(name: "alice", address: "a", at: 3_000) == .throttled(retryAfter: 300_000))
        throttle.recordSuccess(name: "alice")
        #expect(throttle.consecutiveFailures(name: "alice") == 0)
        #expect(throttle.admit(name: "alice", address: "a", at: 3_001) == .allowed)
    }

    @Test("a million distinct addresses and names: the tables stay within their capacity")
    func bounded() {
        var throttle = LoginThrottle(configuration: .init(capacity: 10_000))
        for i in 0..<1_000_000 {
            let address = "10.\(i >> 16).\((i >> 8) & 255).\(i & 255)"
            _ = throttle.admit(name: "n\(i)", address: address, at: Int64(i))
            throttle.recordFailure(name: "n\(i)", at: Int64(i))
        }
        #expect(throttle.size.addresses <= 10_000 && throttle.size.addresses > 0)
        #expect(throttle.size.names <= 10_000 && throttle.size.names > 0)
        // The newest are remembered.
        #expect(throttle.consecutiveFailures(name: "n999999") == 1)
        // A huge key is cut, not stored whole.
        _ = throttle.admit(name: String(repeating: "x", count: 1_000_000), address: String(repeating: "y", count: 1_000_000), at: 0)
        #expect(throttle.size.addresses <= 10_000)
    }
}
