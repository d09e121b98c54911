import Accounts
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MamoriTesting
import NIOCore
import TAXII
import Testing

@testable import Server

/// The TAXII 2.1 server inside `mamori serve`: access, hostile input, the delete rule,
/// persistence, and a live server read by the OASIS client (taxii2-client).
@Suite struct TAXIIServerTests {
    static let readOnly = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
    static let readWrite = "4f0b3c2e-1d5a-4e8b-9a7c-6b2d1e0f3a59"
    static let hidden = "0e1d2c3b-4a59-4867-8f7e-6d5c4b3a2918"
    static let taxii: HTTPFields = [.accept: TAXIIMediaType.taxii]

    static func configuration(_ dir: TemporaryDirectory) -> MamoriConfiguration {
        var c = ServerTests.configuration(dataDirectory: dir.path)
        var t = TAXIISettings()
        t.title = "Test carrier's Mamori"
        t.maxContentLength = 64 * 1024
        t.maxObjectsPerRequest = 100
        t.collections = [
            .init(id: readOnly, title: "C&C indicators", alias: "cnc", read: [.account("reader"), .role(.analyst)], write: []),
            .init(id: readWrite, title: "From peers", alias: "inbound", read: [.account("writer")], write: [.account("writer")]),
            .init(id: hidden, title: "Hidden", alias: "hidden", read: [.role(.admin)], write: [.role(.admin)]),
        ]
        c.sharing.taxii = t
        return c
    }

    static func application(_ dir: TemporaryDirectory) throws -> (some ApplicationProtocol, MamoriServices) {
        var dependencies = ApplicationDependencies(logger: LogStore().logger(level: .critical))
        dependencies.passwordHashing = BcryptPasswordHashing(cost: 4)
        return try buildApplication(configuration: configuration(dir), dependencies: dependencies)
    }

    static func basic(_ name: String, _ password: String = "a long test password", accept: String = TAXIIMediaType.taxii) -> HTTPFields {
        [.authorization: "Basic " + Data("\(name):\(password)".utf8).base64EncodedString(), .accept: accept]
    }

    static func indicator(_ n: Int, modified: String = "2026-12-01T00:00:00.000Z", revoked: Bool = false) -> [String: Any] {
        let hex = String(n, radix: 16)
        var o: [String: Any] = [
            "type": "indicator", "spec_version": "2.1",
            "id": "indicator--00000000-0000-4000-8000-" + String(repeating: "0", count: 12 - hex.count) + hex,
            "created": "2026-12-01T00:00:00.000Z", "modified": modified, "pattern": "[ipv4-addr:value = '198.51.100.\(n % 250)']",
            "pattern_type": "stix", "valid_from": "2026-12-01T00:00:00Z", "name": "C&C server \(n)",
        ]
        if revoked { o["revoked"] = true }
        return o
    }

    static func json(_ o: Any) throws -> Data { try JSONSerialization.data(withJSONObject: o) }

    static func body(_ r: TestResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [String: Any]) ?? [:]
    }

    @Test("sharing.taxii in YAML: collections, grantees and bounds are read; bad ids, names, keys and duplicates are refused with the line")
    func configurationYAML() throws {
        let c = try MamoriConfiguration.parse(
            yaml: """
                sharing:
                  taxii:
                    api_root: isp-taxii
                    title: "Example carrier's Mamori"
                    max_content_length: 1048576
                    max_page_size: 200
                    collections:
                      - id: 91A7B528-80EB-42ED-A74D-C6FBD5A26116
                        title: C&C indicators
                        alias: cnc
                        read: [isac-reader, role:analyst]
                        write: []
                """)
        let t = try #require(c.sharing.taxii)
        #expect(t.apiRoot == "isp-taxii" && t.title == "Example carrier's Mamori" && t.maxContentLength == 1_048_576)
        #expect(t.maxPageSize == 200 && t.defaultPageSize == 200)
        #expect(t.collections.first?.id == Self.readOnly && t.collections.first?.alias == "cnc")
        #expect(t.collections.first?.read == [.account("isac-reader"), .role(.analyst)] && t.collections.first?.write == [])
        #expect(MamoriConfiguration().sharing.taxii == nil, "off unless configured")
        for (yaml, says) in [
            ("sharing:\n  taxii:\n    collections:\n      - {id: not-a-uuid, title: x}", "UUID"),
            ("sharing:\n  taxii:\n    collections:\n      - {id: \(Self.readOnly), title: x, read: [role:root]}", "role:viewer"),
            ("sharing:\n  taxii:\n    collections:\n      - {id: \(Self.readOnly)}", "title"),
            (
                "sharing:\n  taxii:\n    collections:\n      - {id: \(Self.readOnly), title: x}\n      - {id: \(Self.readOnly), title: y}",
                "twice"
            ),
            ("sharing:\n  taxii:\n    api_root: taxii2", "api_root"),
            ("sharing:\n  taxii:\n    colections: []", "unknown key"),
            ("sharing:\n  taxii:\n    max_content_length: 10", "between"),
        ] {
            do {
                _ = try MamoriConfiguration.parse(yaml: yaml)
                Issue.record("accepted: \(yaml)")
            } catch {
                #expect(error.description.contains(says) && error.line != nil, "\(error)")
            }
        }
    }

    @Test(
        "access: 401 with a challenge, 403 without a sharing permission, hidden collections 404, read-only refuses writes; all TAXII bodies"
    )
    func access() async throws {
        let dir = try TemporaryDirectory()
        let (app, services) = try Self.application(dir)
        try await services.addAccount("reader", role: .peer, password: "a long test password")
        try await services.addAccount("writer", role: .peer, password: "a long test password")
        let noSharing = try await services.operatorHeaders(role: .viewer, name: "scoped", scope: [.readFindings])
        let analystToken = try await services.operatorHeaders(role: .analyst, name: "analyst", scope: [.readShared])
        let taxii = try #require(services.taxii)
        try taxii.publish(collection: "cnc", objects: [Self.json(Self.indicator(1))], now: 1_000)
        try await app.test(.router) { client in
            try await client.execute(uri: "/taxii2/", method: .get, headers: Self.taxii) { r in
                #expect(r.status == .unauthorized)
                #expect(r.headers[.wwwAuthenticate]?.contains("Basic") == true && r.headers[.wwwAuthenticate]?.contains("Bearer") == true)
                #expect(r.headers[.contentType] == TAXIIMediaType.taxii)
                #expect(Self.body(r)["http_status"] as? String == "401" && Self.body(r)["title"] != nil)
            }
            try await client.execute(uri: "/taxii2/", method: .get, headers: noSharing + Self.taxii) { r in
                #expect(r.status == .forbidden)
                #expect(r.headers[.contentType] == TAXIIMediaType.taxii && Self.body(r)["http_status"] as? String == "403")
            }
            try await client.execute(uri: "/taxii2/", method: .get, headers: Self.basic("reader", "wrong password!!")) { r in
                #expect(r.status == .unauthorized)
            }
            // Basic is accepted on the TAXII routes only.
            try await client.execute(uri: "/api/v1/findings", method: .get, headers: Self.basic("reader")) { r in
                #expect(r.status == .unauthorized)
            }
            // A peer account cannot sign in either (nothing but the TAXII routes is for it).
            let peerLogin = try await RouteAccessTests.login(client, "reader", "a long test password")
            #expect(peerLogin.status == .forbidden && peerLogin.cookie == nil, "\(peerLogin)")
            try await client.execute(uri: "/taxii2/", method: .get, headers: Self.basic("reader")) { r in
                #expect(r.status == .ok)
                #expect((Self.body(r)["api_roots"] as? [String])?.count == 1)
            }
            try await client.execute(uri: "/mamori/", method: .get, headers: Self.basic("reader")) { r in
                #expect(Self.body(r)["max_content_length"] as? Int == 64 * 1024)
                #expect(Self.body(r)["versions"] as? [String] == [TAXIIMediaType.taxii])
            }
            // The reader sees only the collection it may read; the analyst's token (role) the same.
            for headers in [Self.basic("reader"), analystToken + Self.taxii] {
                try await client.execute(uri: "/mamori/collections/", method: .get, headers: headers) { r in
                    let list = Self.body(r)["collections"] as? [[String: Any]] ?? []
                    #expect(list.map { $0["id"] as? String } == [Self.readOnly])
                    #expect(list.first?["can_read"] as? Bool == true && list.first?["can_write"] as? Bool == false)
                }
            }
            for uri in [
                "/mamori/collections/\(Self.hidden)/", "/mamori/collections/\(Self.hidden)/objects/",
                "/mamori/collections/\(Self.readWrite)/manifest/",
            ] {
                try await client.execute(uri: uri, method: .get, headers: Self.basic("reader")) { r in
                    #expect(r.status == .notFound, "\(uri)")
                    #expect(Self.body(r)["http_status"] as? String == "404")
                }
            }
            // Writing to the read-only collection: 403.
            let envelope = ByteBuffer(bytes: try Self.json(["objects": [Self.indicator(2)]]))
            try await client.execute(
                uri: "/mamori/collections/\(Self.readOnly)/objects/", method: .post,
                headers: Self.basic("reader") + [.contentType: TAXIIMediaType.taxii], body: envelope
            ) { r in
                #expect(r.status == .forbidden)
                #expect(Self.body(r)["http_status"] as? String == "403")
            }
            // The writer writes to its collection; the status is its own.
            let statusID = try await client.execute(
                uri: "/mamori/collections/\(Self.readWrite)/objects/", method: .post,
                headers: Self.basic("writer") + [.contentType: TAXIIMediaType.taxii], body: envelope
            ) { r -> String in
                #expect(r.status == .accepted)
                #expect(Self.body(r)["success_count"] as? Int == 1 && Self.body(r)["status"] as? String == "complete")
                return Self.body(r)["id"] as? String ?? ""
            }
            try await client.execute(uri: "/mamori/status/\(statusID)/", method: .get, headers: Self.basic("writer")) { r in
                #expect(r.status == .ok && Self.body(r)["total_count"] as? Int == 1)
            }
            try await client.execute(uri: "/mamori/status/\(statusID)/", method: .get, headers: Self.basic("reader")) { r in
                #expect(r.status == .notFound, "another peer's status")
            }
        }
        // A changed password ends the remembered Basic success at once; a disabled account too.
        let reader = try #require(try await services.accountStore.account(named: "reader"))
        let changed = try AccountWorkflow(hashing: BcryptPasswordHashing(cost: 4)).changePassword(
            of: reader, to: "another long password", current: nil, by: .console, at: Int64(Date().timeIntervalSince1970 * 1000)
        ).value
        try await services.accountStore.save(changed)
        try await app.test(.router) { client in
            try await client.execute(uri: "/taxii2/", method: .get, headers: Self.basic("reader")) { r in
                #expect(r.status == .unauthorized, "the old password after a change")
            }
            try await client.execute(uri: "/taxii2/", method: .get, headers: Self.basic("reader", "another long password")) { r in
                #expect(r.status == .ok)
            }
            var disabled = changed
            disabled.disabled = true
            try await services.accountStore.save(disabled)
            try await client.execute(uri: "/taxii2/", method: .get, headers: Self.basic("reader", "another long password")) { r in
                #expect(r.status == .unauthorized, "a disabled account")
            }
        }
        // Wrong passwords are audited like failed logins.
        let log = try String(contentsOfFile: dir.path + "/audit/000001.jsonl", encoding: .utf8)
        #expect(log.contains("login failed: wrong password"))
    }

    @Test("hostile input: malformed and huge envelopes, bad next, added_after and match values, wrong media types — TAXII errors")
    func hostileInput() async throws {
        let dir = try TemporaryDirectory()
        let (app, services) = try Self.application(dir)
        try await services.addAccount("writer", role: .peer, password: "a long test password")
        let objects = "/mamori/collections/\(Self.readWrite)/objects/"
        let post: HTTPFields = Self.basic("writer") + [.contentType: TAXIIMediaType.taxii]
        try await app.test(.router) { client in
            for (body, status) in [
                ("not json", HTTPResponse.Status.badRequest), ("[]", .badRequest), ("{}", .badRequest), (#"{"objects": []}"#, .badRequest),
                (#"{"objects": "x"}"#, .badRequest), (String(repeating: "[", count: 10_000), .badRequest),
                (#"{"objects": [""# + String(repeating: "x", count: 70_000) + #""]}"#, .contentTooLarge),
            ] {
                try await client.execute(uri: objects, method: .post, headers: post, body: ByteBuffer(string: body)) { r in
                    #expect(r.status == status, "\(body.prefix(30))")
                    #expect(r.headers[.contentType] == TAXIIMediaType.taxii)
                    #expect(Self.body(r)["http_status"] as? String == String(status.code))
                }
            }
            let many = ByteBuffer(bytes: try Self.json(["objects": (0..<101).map { _ in ["type": "x"] }]))
            try await client.execute(uri: objects, method: .post, headers: post, body: many) { r in #expect(r.status == .contentTooLarge) }
            // Per-object failures are in the status, not a refusal of the envelope.
            var noID = Self.indicator(1)
            noID["id"] = nil
            let mixed = ByteBuffer(bytes: try Self.json(["objects": [Self.indicator(1), noID, 7]]))
            try await client.execute(uri: objects, method: .post, headers: post, body: mixed) { r in
                #expect(r.status == .accepted)
                #expect(Self.body(r)["success_count"] as? Int == 1 && Self.body(r)["failure_count"] as? Int == 2)
            }
            try await client.execute(
                uri: objects, method: .post, headers: Self.basic("writer") + [.contentType: "application/json"], body: mixed
            ) { r in #expect(r.status == .unsupportedMediaType) }
            try await client.execute(uri: objects, method: .get, headers: Self.basic("writer", accept: "text/html")) { r in
                #expect(r.status == .notAcceptable && r.headers[.contentType] == TAXIIMediaType.taxii)
            }
            for query in [
                "next=abc", "next=", "added_after=yesterday", "added_after=2026-01-01", "limit=0", "limit=x", "match%5Bversion%5D=newest",
                "match%5Bid%5D=indicator", "match%5Btype%5D=Bad!", "match%5Bcolour%5D=red", "match[spec_version]=two", "%ZZ=1",
            ] {
                try await client.execute(uri: objects + "?" + query, method: .get, headers: Self.basic("writer")) { r in
                    #expect(r.status == .badRequest, "\(query)")
                    #expect(Self.body(r)["http_status"] as? String == "400", "\(query)")
                }
            }
            try await client.execute(uri: objects + "not-an-id/", method: .get, headers: Self.basic("writer")) { r in
                #expect(r.status == .badRequest)
            }
            // Good filters, percent-encoded as clients send them.
            try await client.execute(
                uri: objects + "?match%5Btype%5D=indicator&limit=5&added_after=2020-01-01T00:00:00Z", method: .get,
                headers: Self.basic("writer")
            ) { r in
                #expect(r.status == .ok)
                #expect((Self.body(r)["objects"] as? [Any])?.count == 1)
                #expect(r.headers[.taxiiDateAddedFirst] != nil && r.headers[.taxiiDateAddedLast] != nil)
            }
        }
    }

    @Test(
        "seeded mutations of envelopes and query strings: every answer a deliberate one (no 5xx), a TAXII body, and the server still answers"
    )
    func mutations() async throws {
        let dir = try TemporaryDirectory()
        let (app, services) = try Self.application(dir)
        try await services.addAccount("writer", role: .peer, password: "a long test password")
        let objects = "/mamori/collections/\(Self.readWrite)/objects/"
        let post: HTTPFields = Self.basic("writer") + [.contentType: TAXIIMediaType.taxii]
        let envelopes = try [
            Self.json(["objects": (0..<5).map { Self.indicator($0) }]),
            Self.json(["objects": [Self.indicator(1, modified: "2026-12-02T00:00:00.000Z", revoked: true), ["type": "ipv4-addr"]]]),
        ].map { Array($0) }
        let queries = [
            "limit=2&match%5Btype%5D=indicator,malware", "added_after=2026-12-01T00:00:00.000Z&match%5Bversion%5D=first,last",
            "match%5Bid%5D=indicator--00000000-0000-4000-8000-000000000001&match%5Bversion%5D=all", "next=1764547200000000",
        ].map { Array($0.utf8) }
        let byStatus = try await app.test(.router) { client in
            var m = HostileMutator(seed: 0x7A_11)
            var byStatus: [Int: Int] = [:]
            for n in 0..<1_500 {
                let body = m.mutate(envelopes[n % 2], other: envelopes[(n + 1) % 2])
                let status = try await client.execute(uri: objects, method: .post, headers: post, body: ByteBuffer(bytes: body)) { r in
                    #expect(r.headers[.contentType] == TAXIIMediaType.taxii)
                    return Int(r.status.code)
                }
                byStatus[status, default: 0] += 1
                let query = String(decoding: m.mutate(queries[n % 4], other: queries[(n + 1) % 4]), as: UTF8.self)
                let path = objects + "?" + query.filter { !$0.isWhitespace && $0 != "#" }
                let get = try await client.execute(uri: path, method: .get, headers: Self.basic("writer")) { Int($0.status.code) }
                byStatus[get, default: 0] += 1
            }
            try await client.execute(uri: objects, method: .get, headers: Self.basic("writer")) { r in #expect(r.status == .ok) }
            return byStatus
        }
        #expect(!byStatus.keys.contains { $0 >= 500 }, "\(byStatus)")
        #expect(byStatus[202, default: 0] > 0 && byStatus[400, default: 0] > 0 && byStatus[200, default: 0] > 0, "\(byStatus)")
    }

    @Test("delete: refused (409) until the latest version is revoked; then gone, and the versions endpoint says 404")
    func deleteRule() async throws {
        let dir = try TemporaryDirectory()
        let (app, services) = try Self.application(dir)
        try await services.addAccount("writer", role: .peer, password: "a long test password")
        let taxii = try #require(services.taxii)
        let id = Self.indicator(1)["id"] as! String
        try taxii.publish(collection: Self.readWrite, objects: [Self.json(Self.indicator(1))], now: 1_000)
        let uri = "/mamori/collections/\(Self.readWrite)/objects/\(id)/"
        try await app.test(.router) { client in
            try await client.execute(uri: uri, method: .delete, headers: Self.basic("writer")) { r in
                #expect(r.status == .conflict)
                #expect(Self.body(r)["error_code"] as? String == "delete-needs-revocation")
            }
            try taxii.publish(
                collection: "inbound", objects: [Self.json(Self.indicator(1, modified: "2026-12-02T00:00:00.000Z", revoked: true))],
                now: 2_000)
            try await client.execute(uri: uri + "versions/", method: .get, headers: Self.basic("writer")) { r in
                #expect(Self.body(r)["versions"] as? [String] == ["2026-12-01T00:00:00.000Z", "2026-12-02T00:00:00.000Z"])
            }
            try await client.execute(uri: uri, method: .delete, headers: Self.basic("writer")) { r in #expect(r.status == .ok) }
            try await client.execute(uri: uri + "versions/", method: .get, headers: Self.basic("writer")) { r in
                #expect(r.status == .notFound)
            }
        }
        #expect(taxii.count(collection: Self.readWrite) == 0)
    }

    @Test("published objects and status resources survive a restart (SQLite in the data directory)")
    func persistence() async throws {
        let dir = try TemporaryDirectory()
        let statusID: String
        do {
            let (_, services) = try Self.application(dir)
            let taxii = try #require(services.taxii)
            let status = try taxii.publish(collection: "cnc", objects: (0..<50).map { try Self.json(Self.indicator($0)) }, now: 5_000)
            #expect(status.successCount == 50)
            statusID = status.id
        }
        let (app, services) = try Self.application(dir)
        try await services.addAccount("reader", role: .peer, password: "a long test password")
        #expect(services.taxii?.count(collection: "cnc") == 50)
        #expect(try services.taxii?.status(id: statusID, owner: TAXIIService.serverOwner)?.successCount == 50)
        try await app.test(.router) { client in
            try await client.execute(
                uri: "/mamori/collections/\(Self.readOnly)/objects/?limit=20", method: .get, headers: Self.basic("reader")
            ) { r in
                #expect((Self.body(r)["objects"] as? [Any])?.count == 20 && Self.body(r)["more"] as? Bool == true)
            }
        }
        // A new version gets a date_added after everything stored before the restart.
        let status = try #require(try services.taxii?.publish(collection: "cnc", objects: [Self.json(Self.indicator(99))], now: 1))
        #expect(status.successCount == 1)
    }

    /// `.build/pytools/bin/python` with taxii2-client, or an issue saying how to install it.
    static func pythonWithClient() async -> String? {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let python = root.path + "/.build/pytools/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python),
            (try? await ExternalPeer(path: python).runToExit(["-c", "import taxii2client"]).status) == 0
        else {
            Issue.record(
                "taxii2-client is missing from \(python): scripts/test installs it (pip install taxii2-client into .build/pytools)")
            return nil
        }
        return python
    }

    @Test(
        "http.tls: taxii2-client reads discovery and a collection over HTTPS (certificate checked), api_roots say https; plain HTTP gets nothing"
    )
    func overHTTPS() async throws {
        guard let python = await Self.pythonWithClient() else { return }
        let dir = try TemporaryDirectory()
        let tls = try HTTPEdgeTests.certificate(in: dir.path)
        var configuration = Self.configuration(dir)
        configuration.httpTLS = tls
        let (app, services) = try buildApplication(configuration: configuration, dependencies: HTTPEdgeTests.dependencies())
        try await services.addAccount("reader", role: .peer, password: "a long test password")
        try services.taxii?.publish(collection: "cnc", objects: (0..<3).map { try Self.json(Self.indicator($0)) }, now: 1_000)
        let script = """
            import json, os, sys
            # requests lets these variables override a session's verify=: the test's certificate must count.
            for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
                os.environ.pop(name, None)
            import requests
            from taxii2client.v21 import Server
            port, cert, collection = sys.argv[1], sys.argv[2], sys.argv[3]
            server = Server("https://127.0.0.1:%s/taxii2/" % port, user="reader", password="a long test password", verify=cert)
            root = server.api_roots[0]
            objects = [c for c in root.collections if c.id == collection][0].get_objects().get("objects", [])
            try:
                requests.get("http://127.0.0.1:%s/taxii2/" % port, auth=("reader", "a long test password"), timeout=5)
                plain = "answered"
            except requests.exceptions.RequestException:
                plain = "failed"
            print(json.dumps({"api_roots": [r.url for r in server.api_roots], "objects": len(objects), "plain": plain}))
            """
        let out = try await HTTPEdgeTests.running(app, services, notices: false) { port, _ in
            try await ExternalPeer(path: python).runToExit(
                ["-c", script, String(port), tls.certificateFile, Self.readOnly], timeout: .seconds(120))
        }
        #expect(out.status == 0, "\(out.stderr)")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any], "\(out.stdout)")
        #expect((result["api_roots"] as? [String])?.first?.hasPrefix("https://127.0.0.1:") == true, "\(result)")
        #expect(result["objects"] as? Int == 3)
        #expect(result["plain"] as? String == "failed")
    }

    @Test("taxii2-client against a live server on 127.0.0.1: 10,000 objects paged, added_after, manifest, versions, 401/403, writes")
    func realClient() async throws {
        guard let python = await Self.pythonWithClient() else { return }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("taxii-client-check.py").path
        let dir = try TemporaryDirectory()
        let (app, services) = try Self.application(dir)
        try await services.addAccount("reader", role: .peer, password: "a long test password")
        try await services.addAccount("writer", role: .peer, password: "a long test password")
        let scoped = try await services.operatorHeaders(role: .viewer, name: "scoped", scope: [.readFindings])
        let taxii = try #require(services.taxii)
        // 10,000 indicators, one of them in a second version, and a malware.
        let objects = try (0..<10_000).map { try Self.json(Self.indicator($0)) }
        let published = try taxii.publish(collection: "cnc", objects: objects, now: 1_000)
        #expect(published.successCount == 10_000 && published.failureCount == 0)
        try taxii.publish(collection: "cnc", objects: [Self.json(Self.indicator(7, modified: "2026-12-03T00:00:00.000Z"))], now: 2_000)
        try taxii.publish(
            collection: "cnc",
            objects: [
                Self.json([
                    "type": "malware", "spec_version": "2.1", "id": "malware--0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                    "created": "2026-12-01T00:00:00.000Z", "modified": "2026-12-01T00:00:00.000Z", "name": "a bot", "is_family": true,
                ])
            ], now: 3_000)
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let token = try #require(scoped[.authorization]).dropFirst("Bearer ".count)
            let arguments: [String: Any] = [
                "url": "http://127.0.0.1:\(port)", "reader": ["reader", "a long test password"],
                "writer": ["writer", "a long test password"],
                "scoped_token": String(token), "read_only": Self.readOnly, "read_write": Self.readWrite,
                "versioned_id": Self.indicator(7)["id"] as! String, "expected": 10_001,
            ]
            let input = String(decoding: try JSONSerialization.data(withJSONObject: arguments), as: UTF8.self)
            let run = try await ExternalPeer(path: python).runToExit([script, input], timeout: .seconds(600))
            #expect(run.status == 0, "\(run.stderr)")
            let out = try #require(
                try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run.stdout) \(run.stderr)")
            #expect(out["discovery_title"] as? String == "Test carrier's Mamori")
            #expect(out["api_roots"] as? [String] == ["http://127.0.0.1:\(port)/mamori/"])
            #expect(out["max_content_length"] as? Int == 64 * 1024)
            let collections = out["collections"] as? [[String: Any]] ?? []
            #expect(collections.count == 1 && collections.first?["id"] as? String == Self.readOnly)
            #expect(collections.first?["can_read"] as? Bool == true && collections.first?["can_write"] as? Bool == false)
            // 10,000 indicators (object 7 once, in its last version) and the malware.
            #expect(out["objects_paged"] as? Int == 10_001 && out["distinct_ids"] as? Int == 10_001, "\(out)")
            #expect(out["pages"] as? Int == 21)
            #expect(out["manifest_records"] as? Int == 10_001 && out["manifest_sorted"] as? Bool == true)
            #expect(out["manifest_media_type"] as? String == TAXIIMediaType.stix)
            #expect(out["added_after_count"] as? Int == 1_000)
            #expect(out["versions"] as? [String] == ["2026-12-01T00:00:00.000Z", "2026-12-03T00:00:00.000Z"])
            #expect(out["object_last_modified"] as? [String] == ["2026-12-03T00:00:00.000Z"])
            #expect(out["object_all_versions"] as? Int == 2)
            #expect(out["match_type_malware"] as? Int == 1)
            let unauthenticated = out["unauthenticated"] as? [String: Any] ?? [:]
            #expect(unauthenticated["status"] as? Int == 401)
            #expect((unauthenticated["www_authenticate"] as? String)?.contains("Basic realm") == true)
            #expect(unauthenticated["content_type"] as? String == TAXIIMediaType.taxii)
            #expect((out["unauthorised"] as? [String: Any])?["status"] as? Int == 403)
            #expect(out["wrong_password"] as? Int == 401)
            #expect(out["write_read_only_client"] as? String == "refused")
            #expect(out["write_read_only"] as? Int == 403 && out["write_read_only_error"] as? String == "403")
            let status = out["write_status"] as? [String: Any] ?? [:]
            #expect(status["status"] as? String == "complete" && status["total"] as? Int == 26 && status["success"] as? Int == 25)
            #expect(status["failure"] as? Int == 1 && status["pending"] as? Int == 0)
            #expect((status["failure_message"] as? String)?.contains("spec_version") == true)
            #expect(out["status_refreshed"] as? String == "complete")
            #expect(out["written_read_back"] as? Int == 25)
            #expect(out["rewrite_success"] as? Int == 25 && out["after_rewrite"] as? Int == 25)
        }
        #expect(taxii.count(collection: "inbound") == 25)
        // Metrics: objects served and added per collection, error answers by status.
        let metrics = try await app.test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { String(buffer: $0.body) }
        }
        #expect(
            metrics.contains(#"mamori_taxii_objects_added_total{collection="cnc"} 10002"#),
            "\(metrics.split(separator: "\n").filter { $0.contains("taxii") })")
        #expect(metrics.contains(#"mamori_taxii_objects_added_total{collection="inbound"} 25"#))
        #expect(metrics.contains(#"mamori_taxii_objects_refused_total{collection="inbound"} 1"#))
        #expect(
            metrics.contains(#"mamori_taxii_errors_total{status="401"}"#) && metrics.contains(#"mamori_taxii_errors_total{status="403"}"#))
        let served = metrics.split(separator: "\n").first { $0.hasPrefix(#"mamori_taxii_objects_served_total{collection="cnc"}"#) }
        // 10,001 paged, 1,000 after added_after, the object (1), its versions (2), the malware (1); manifests serve no objects.
        #expect(served.flatMap { Int($0.split(separator: " ").last ?? "") } == 11_005, "\(served ?? "none")")
    }
}
