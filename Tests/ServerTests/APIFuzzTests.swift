import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import MamoriCore
import MamoriTesting
import NIOCore
import Server
import Testing

/// Random and extreme requests at a running server over real HTTP on loopback (seeded, fixed
/// budget): every route with every method, path parameters, query values and bodies drawn from
/// the edges — numbers at Int64's bounds and beyond, times in 1970 and 2262, empty, huge, deeply
/// nested or non-UTF-8 bodies, JSON of the wrong shape. Every answer must be a deliberate one
/// (2xx, 4xx; never a 5xx) and the server must still be up afterwards.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct APIFuzzTests {
    static let seed: UInt64 = 0x16_A91
    static let requests = 4_000
    static let timeBudget: Duration = .seconds(90)

    static let routes: [(HTTPRequest.Method, String)] = [
        (.get, "/healthz"), (.get, "/metrics"),
        (.get, "/api/v1/findings"), (.get, "/api/v1/findings/{id}"), (.post, "/api/v1/findings/{id}/verdict"),
        (.get, "/api/v1/attribution"), (.post, "/api/v1/attribution/batch"), (.post, "/api/v1/attribution/reveal"),
        (.get, "/api/v1/cases"), (.get, "/api/v1/cases/{id}"), (.post, "/api/v1/cases/{id}/close"), (.get, "/api/v1/notices/export.csv"),
        (.get, "/notice/{id}"), (.post, "/notice/{id}/acknowledge"), (.post, "/notice/{id}/opt-out"),
        (.get, "/api/v1/consent/{id}"), (.post, "/api/v1/consent/{id}/events"), (.post, "/api/v1/consent/import"),
    ]
    static let parameters = ["addr", "port", "at", "kind", "since", "until", "min_score", "limit", "state", "lang", "id", "subscriber"]
    static let words = [
        "", "0", "-1", "1", "9223372036854775807", "-9223372036854775808", "9223372036854775808", "18446744073709551615",
        "99999999999999999999999999", "1e308", "-1e308", "NaN", "inf", "0.5", "1.0000000001", "65535", "65536", "4102444800001",
        "9214646400000", "1970-01-01T00:00:00Z", "2262-04-11T23:47:16Z", "9999-12-31T23:59:59Z", "0000-00-00T00:00:00Z",
        "198.18.0.7", "::1", "300.1.1.1", "::ffff:1.2.3.4", "2001:db8::1%eth0", "true", "null", "[]", "{}",
        "c2-server", "infected-device", "open", "closed", "ja", "en", "xx",
        "%00", "%ff%fe", "%", "%%", "..%2f..%2fetc%2fpasswd", "<script>alert(1)</script>", "'; DROP TABLE findings; --",
        "日本語", "\u{202E}", String(repeating: "A", count: 5000),
    ]

    /// A JSON value of a random shape, sometimes deeply nested or long.
    static func json(_ m: inout HostileMutator, depth: Int = 0) -> String {
        switch m.below(depth > 3 ? 4 : 8) {
        case 0:
            return "\""
                + words[m.below(words.count)].replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                + "\""
        case 1: return words[m.below(8)]
        case 2: return ["true", "false", "null"][m.below(3)]
        case 3: return "\(Int64(bitPattern: m.next()))"
        case 4, 5:
            let keys = [
                "addr", "port", "at", "analyst", "reason", "verdict", "note", "queries", "event", "kind", "channel", "language", "source",
                "x",
            ]
            return "{"
                + (0..<m.below(6)).map { _ in "\"\(keys[m.below(keys.count)])\": \(json(&m, depth: depth + 1))" }.joined(separator: ",")
                + "}"
        case 6: return "[" + (0..<m.below(depth == 0 ? 40 : 5)).map { _ in json(&m, depth: depth + 1) }.joined(separator: ",") + "]"
        default: return String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        }
    }

    static func body(_ m: inout HostileMutator) -> ByteBuffer {
        switch m.below(6) {
        case 0: return ByteBuffer()
        case 1: return ByteBuffer(bytes: (0..<m.below(4096)).map { _ in UInt8(truncatingIfNeeded: m.next()) })
        case 2:
            return ByteBuffer(
                string: "subscriber,email,consent\n"
                    + (0..<m.below(50)).map { _ in
                        "\(words[m.below(words.count)]),\(words[m.below(words.count)]),\(words[m.below(words.count)])"
                    }.joined(separator: "\n"))
        case 3: return ByteBuffer(bytes: Array(repeating: UInt8(ascii: "{"), count: 1 << 20))
        default: return ByteBuffer(string: json(&m))
        }
    }

    static func escape(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
    }

    @Test("random and extreme requests at every route over HTTP: no 5xx, and the server still answers")
    func everyRoute() async throws {
        let dir = try TemporaryDirectory()
        var configuration = ServerTests.configuration(dataDirectory: dir.path)
        configuration.attribution.revealEnabled = true
        let (app, services) = try buildApplication(
            configuration: configuration, dependencies: ApplicationDependencies(logger: LogStore().logger(level: .critical)))
        let auth = try await services.operatorHeaders()
        let (sent, byStatus) = try await app.test(.live) { client in
            var m = HostileMutator(seed: Self.seed)
            var byStatus: [Int: Int] = [:]
            var sent = 0
            let started = ContinuousClock.now
            for _ in 0..<Self.requests where ContinuousClock.now - started < Self.timeBudget {
                let (listed, template) = Self.routes[m.below(Self.routes.count)]
                // Mostly the route's own method, sometimes another.
                let method: HTTPRequest.Method =
                    m.below(8) == 0 ? [.get, .post, .put, .delete, .patch, .head, .options][m.below(7)] : listed
                var path = template.replacingOccurrences(
                    of: "{id}", with: Self.escape(Self.words[m.below(Self.words.count)]).prefix(2000).description)
                if path.hasSuffix("/") || path.contains("//") { path = template.replacingOccurrences(of: "{id}", with: "x") }
                let query = (0..<m.below(5)).map { _ in
                    "\(Self.parameters[m.below(Self.parameters.count)])=\(Self.escape(Self.words[m.below(Self.words.count)]))"
                }.joined(separator: "&")
                let uri = query.isEmpty ? path : path + "?" + query
                let body = method == .post || m.below(10) == 0 ? Self.body(&m) : nil
                let status = try await client.execute(uri: uri, method: method, headers: auth, body: body) { $0.status.code }
                #expect(status < 500, "\(method) \(uri.prefix(300)) → \(status) (seed \(Self.seed))")
                byStatus[status, default: 0] += 1
                sent += 1
            }
            try await client.execute(uri: "/healthz", method: .get, headers: auth) { response in
                #expect(response.status == .ok)
            }
            return (sent, byStatus)
        }
        #expect(sent >= 500, "the budget ran out after \(sent) requests")
        #expect(byStatus.keys.contains { (400..<500).contains($0) }, "no request was refused: the fuzzer reached nothing")
        #expect(byStatus.keys.contains { (200..<300).contains($0) }, "no request was answered: the fuzzer only reached the refusals")
        print(
            "API fuzz (seed \(Self.seed)): \(sent) requests; answers by status: \(byStatus.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: " "))"
        )
    }
}
