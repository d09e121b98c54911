import FlowCodec
import Foundation
import MamoriTesting
import Testing

/// Issue 22's privacy rule over a whole simulated carrier (subscribers behind a CGNAT, botnets,
/// a reflection flood): `mamori serve` collects the simulator's flows, an analyst confirms every
/// C&C and inbound-flood finding, and everything that then leaves Mamori by every path — its own
/// TAXII collection, the push to the ISAC's hub (OASIS medallion), and `GET /api/v1/sharing/export`
/// — is read back and searched leaf by leaf: no subscriber-side address (the subscriber prefixes,
/// the CGNAT pool, the CGNAT's inside space), no pseudonym, no account, no analyst. And it is not
/// empty: the world's C&C servers and reflectors are in it.
@Suite(.serialized, .timeLimit(.minutes(8)))
struct SharingPrivacyWorldTests {
    static let collection = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"

    /// Every string and number anywhere in a JSON value.
    static func leaves(_ value: Any) -> [String] {
        switch value {
        case let d as [String: Any]: d.flatMap { [$0.key] + leaves($0.value) }
        case let a as [Any]: a.flatMap(leaves)
        default: ["\(value)"]
        }
    }

    /// The IPv4 and IPv6 addresses written anywhere in `text`.
    static func addresses(in text: String) -> [IPAddress] {
        let v4 = text.matches(of: /\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}/).compactMap { IPAddress(String($0.output)) }
        let v6 = text.matches(of: /[0-9a-fA-F:]*:[0-9a-fA-F:]+/).compactMap { IPAddress(String($0.output)) }
        return v4 + v6
    }

    @Test func nothingAboutASubscriberLeavesBySharing() async throws {
        let mamori = try ExternalPeer.builtProduct("mamori")
        let inbox = MedallionPeer.Collection(title: "carriers' C&C")
        let hub = try await MedallionPeer(collections: [inbox])
        defer { hub.stop() }
        let dir = try TemporaryDirectory()
        let d = dir.path
        let (http, collector) = (try freeTCPPort(), try freeUDPPort())
        try "carrier-a's long password\n".write(toFile: d + "/isac.password", atomically: true, encoding: .utf8)
        try """
        data_directory: \(d)/data
        log_level: warning
        http:
          listen: 127.0.0.1:\(http)
        collector:
          listen: [127.0.0.1:\(collector)]
        sharing:
          taxii:
            collections:
              - id: \(Self.collection)
                title: C&C indicators
                alias: cnc
                read: [role:viewer]
          peers:
            - name: isac
              api_root: \(hub.apiRootURL)
              collection: \(inbox.id)
              user: carrier-a
              password_file: \(d)/isac.password
              push: true
              pull: false
          export:
            collection: cnc
            organisation: Example Carrier
            reflectors: true

        """.write(toFile: d + "/mamori.yaml", atomically: true, encoding: .utf8)
        let operators = try await OperatorBootstrap(mamori, dataDirectory: d + "/data")
        let token = try await operators.token("soc", scope: "read_findings,record_verdict,read_shared")
        let server = try await SinkholeServeTests.serve(mamori, directory: d, http: http)
        defer { server.stop() }

        let labels = d + "/labels.json"
        let output = try await offThePool {
            try mamori.run(
                [
                    "simulate", "--to", "127.0.0.1:\(collector)", "--fast", "--subscribers", "300", "--duration", "40m", "--seed", "21",
                    "--labels", labels,
                ], timeout: .seconds(300))
        }
        #expect(output.contains("send_failures=0"), "\(output)")
        let truth = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: labels))) as? [String: Any])
        let network = try #require(truth["network"] as? [String: Any])
        var forbidden = (network["subscriberPrefixes"] as? [String] ?? []).compactMap(IPPrefix.init)
        for pool in network["cgnatPools"] as? [[String: Any]] ?? [] {
            forbidden += (pool["prefixes"] as? [String] ?? []).compactMap(IPPrefix.init)
        }
        forbidden.append(IPPrefix("100.64.0.0/10")!) // the CGNAT's inside space
        #expect(forbidden.count >= 3, "\(network)")
        let accounts = (truth["infectedDevices"] as? [[String: Any]] ?? []).compactMap { $0["account"] as? String }

        // The analyst confirms every C&C and inbound-flood finding the detectors made.
        func findings(_ kind: String) async -> [[String: Any]] {
            let answer = await httpGet(
                port: http, path: "/api/v1/findings?kind=\(kind)&limit=500", headers: bearer(token), timeoutSeconds: 30)
            let page = answer.flatMap { try? JSONSerialization.jsonObject(with: Data($0.body.utf8)) as? [String: Any] }
            return page?["findings"] as? [[String: Any]] ?? []
        }
        var c2: [[String: Any]] = []
        var floods: [[String: Any]] = []
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            c2 = await findings("c2-server")
            floods = await findings("inbound-ddos")
            if !c2.isEmpty && !floods.isEmpty { break }
            try await Task.sleep(for: .seconds(1))
        }
        try #require(
            !c2.isEmpty && !floods.isEmpty, "c2: \(c2.count), floods: \(floods.count): \(SinkholeServeTests.log(d + "/mamori.log"))")
        // The findings themselves hold what must not leave (victims' addresses, pseudonyms): the
        // search below is not of data that never had any.
        let findingLeaves = (c2 + floods).flatMap { Self.leaves($0) }
        #expect(findingLeaves.contains { leaf in Self.addresses(in: leaf).contains { a in forbidden.contains { $0.contains(a) } } })
        #expect(findingLeaves.contains { $0.contains(/\b[hs]:[0-9a-f]{6}/) })
        for f in c2 + floods {
            let id = try #require(f["id"] as? String)
            let answer = await httpRequest(
                port: http, method: "POST", path: "/api/v1/findings/\(id)/verdict", headers: bearer(token),
                body: #"{"verdict": "true-positive", "note": "confirmed by hana@soc.example for account cust-1"}"#, timeoutSeconds: 30)
            #expect(answer?.status == 200, "\(id): \(String(describing: answer))")
        }

        // What left, by every path. TAXII collections are read page by page (`next`; medallion
        // serves 100 objects a page).
        let taxii = ["Accept": "application/taxii+json;version=2.1"]
        func collection(port: Int, path: String, headers: [String: String]) async -> (objects: [Any], complete: Bool) {
            var objects: [Any] = []
            var next: String?
            for _ in 0..<100 {
                let page = await httpGet(
                    port: port, path: path + (next.map { "&next=\($0)" } ?? ""), headers: headers.merging(taxii) { a, _ in a },
                    timeoutSeconds: 30)
                guard page?.status == 200,
                    let body = page.flatMap({ try? JSONSerialization.jsonObject(with: Data($0.body.utf8)) }) as? [String: Any]
                else { return (objects, false) }
                objects += body["objects"] as? [Any] ?? []
                guard body["more"] as? Bool == true, let n = body["next"] as? String else { return (objects, true) }
                next = n.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? n
            }
            return (objects, false)
        }
        let own = await collection(
            port: http, path: "/mamori/collections/\(Self.collection)/objects/?limit=1000&match[version]=all", headers: bearer(token))
        #expect(own.complete && !own.objects.isEmpty, "the carrier's own collection: \(own.objects.count) objects")
        let ownObjects = own.objects
        let export = await httpGet(port: http, path: "/api/v1/sharing/export?since=2000-01-01", headers: bearer(token), timeoutSeconds: 30)
        #expect(export?.status == 200, "\(String(describing: export))")
        let exported =
            ((export.flatMap { try? JSONSerialization.jsonObject(with: Data($0.body.utf8)) } as? [String: Any])?["objects"]
                as? [Any]) ?? []
        let hubPort = try #require(URL(string: hub.apiRootURL)?.port)
        let basic = "Basic " + Data("carrier-a:carrier-a's long password".utf8).base64EncodedString()
        // Wait until the hub holds every object of the collection (by id), two minutes at most.
        func ids(_ objects: [Any]) -> Set<String> { Set(objects.compactMap { ($0 as? [String: Any])?["id"] as? String }) }
        var pushed: [Any] = []
        let pushDeadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < pushDeadline {
            pushed = await collection(
                port: hubPort, path: "/isac/collections/\(inbox.id)/objects/?limit=100", headers: ["Authorization": basic]
            ).objects
            if !pushed.isEmpty && ids(pushed).isSuperset(of: ids(ownObjects)) { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(ids(pushed).isSuperset(of: ids(ownObjects)), "the hub holds \(ids(pushed).count) of \(ids(ownObjects).count) objects")

        // Not empty: the world's C&C servers and the flood's reflectors were shared.
        let everything: [(String, [Any])] = [("own collection", ownObjects), ("export", exported), ("hub", pushed)]
        let c2Addresses = Set((truth["commandAndControl"] as? [[String: Any]] ?? []).compactMap { $0["address"] as? String })
        let reflectors = Set((truth["attacks"] as? [[String: Any]] ?? []).flatMap { $0["sources"] as? [String] ?? [] })
        for (path, objects) in everything {
            let patterns = objects.compactMap { ($0 as? [String: Any])?["pattern"] as? String }
            #expect(
                patterns.contains { p in c2Addresses.contains { p.contains("'\($0)'") } }, "\(path): no C&C of the world in \(patterns)")
            if path != "export" { // the export API bundles the confirmed C&C findings only
                #expect(patterns.contains { p in reflectors.contains { p.contains("'\($0)'") } }, "\(path): no reflector in \(patterns)")
            }
        }

        // And nothing about a subscriber, at any depth.
        var checked = 0
        for (path, objects) in everything {
            for leaf in objects.flatMap(Self.leaves) {
                checked += 1
                for a in Self.addresses(in: leaf) {
                    #expect(!forbidden.contains { $0.contains(a) }, "\(path): a subscriber-side address \(a) in \(leaf)")
                }
                #expect(!leaf.contains(/\b[hs]:[0-9a-f]{6}/), "\(path): a pseudonym in \(leaf)")
                #expect(!leaf.contains("@") && !leaf.contains("hana") && !leaf.contains("cust-"), "\(path): \(leaf)")
                #expect(!accounts.contains { leaf.contains($0) }, "\(path): an account in \(leaf)")
            }
        }
        #expect(checked > 100, "\(checked) leaves")
        print(
            "sharing privacy: \(c2.count) C&C and \(floods.count) flood findings confirmed; objects out: \(ownObjects.count) in the collection, "
                + "\(exported.count) exported, \(pushed.count) pushed; \(checked) leaves searched")
    }
}
