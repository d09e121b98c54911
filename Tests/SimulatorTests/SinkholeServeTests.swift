import DNSWire
import Foundation
import MamoriTesting
import Testing

/// The DNS sinkhole of `mamori serve` (issue 20) with real resolvers following it: BIND 9 over TSIG
/// and Unbound admitted by address (it cannot sign transfers), both told of changes by NOTIFY.
/// `mamori rpz add` puts a C&C name and a C&C address in; both resolvers rewrite them to the
/// sinkhole after an incremental transfer; a subscriber who opted out in the customer export
/// (`mamori consent import`) gets the true answer at the address attribution says they hold, others
/// do not; `mamori rpz remove` brings the true answer back. Seconds from the command to the first
/// rewritten answer are printed, not asserted (figures belong in BENCHMARKS.md).
@Suite(.serialized, .timeLimit(.minutes(6)))
struct SinkholeServeTests {
    static let secret = "mtJ+6YqXgR3lQd0c7lJ8dHk1m2b5x0WcC0i1Xv2Y3Zs="

    static let exampleZone = """
        $TTL 300
        @ IN SOA ns.example. hostmaster.example. 1 3600 600 86400 60
        @ IN NS ns.example.
        ns IN A 192.0.2.1
        cc IN A 192.0.2.10
        bad IN A 203.0.113.66
        sinkhole IN A 192.0.2.53

        """

    static func bindConfiguration(directory: String, port: Int, primaryPort: Int) -> String {
        """
        options {
            directory "\(directory)";
            pid-file "\(directory)/named.pid";
            session-keyfile "\(directory)/session.key";
            managed-keys-directory "\(directory)";
            listen-on port \(port) { 127.0.0.1; };
            listen-on-v6 { none; };
            recursion yes;
            allow-query { 127.0.0.0/8; };
            allow-recursion { 127.0.0.0/8; };
            dnssec-validation no;
            forwarders { 127.0.0.1 port 9; };
            forward only;
            notify no;
            // Transfers from an address of its own, which the sinkhole admits with the TSIG key
            // only (Unbound, unsigned, comes from 127.0.0.1).
            transfer-source 127.0.0.4;
            response-policy {
                zone "exempt.mamori." min-update-interval 0;
                zone "rpz.mamori." min-update-interval 0;
            };
        };
        key "mamori-xfr." { algorithm hmac-sha256; secret "\(secret)"; };
        logging {
            channel file { file "\(directory)/named.log"; severity info; print-time yes; print-category yes; };
            category default { file; };
            category rpz { file; };
            category xfer-in { file; };
        };
        controls { };
        zone "example." { type primary; file "\(directory)/example.db"; };
        zone "exempt.mamori." { type secondary; primaries { 127.0.0.1 port \(primaryPort) key "mamori-xfr."; }; file "\(directory)/exempt.db"; };
        zone "rpz.mamori." { type secondary; primaries { 127.0.0.1 port \(primaryPort) key "mamori-xfr."; }; file "\(directory)/rpz.db"; };

        """
    }

    /// Unbound transfers from 127.0.0.1, the address the sinkhole admits it by without a key.
    static func unboundConfiguration(directory: String, port: Int, primaryPort: Int) -> String {
        """
        server:
            interface: 127.0.0.1@\(port)
            port: \(port)
            do-ip6: no
            do-daemonize: no
            chroot: ""
            username: ""
            directory: "\(directory)"
            pidfile: "\(directory)/unbound.pid"
            use-syslog: no
            logfile: "\(directory)/unbound.log"
            verbosity: 2
            num-threads: 1
            access-control: 127.0.0.0/8 allow
            module-config: "respip iterator"
            do-not-query-localhost: no
        auth-zone:
            name: "example."
            zonefile: "\(directory)/example.db"
            for-downstream: no
            for-upstream: yes
            fallback-enabled: no
        remote-control:
            control-enable: no
        rpz:
            name: "exempt.mamori."
            primary: 127.0.0.1@\(primaryPort)
            allow-notify: 127.0.0.1
            zonefile: "\(directory)/exempt.mamori.zone"
        rpz:
            name: "rpz.mamori."
            primary: 127.0.0.1@\(primaryPort)
            allow-notify: 127.0.0.1
            zonefile: "\(directory)/rpz.mamori.zone"
            rpz-log: yes
            rpz-log-name: "mamori"

        """
    }

    static func mamoriConfiguration(directory: String, http: Int, collector: Int, transfer: Int, bind: Int, unbound: Int) -> String {
        """
        data_directory: \(directory)/data
        log_level: warning
        http:
          listen: 127.0.0.1:\(http)
        collector:
          listen: [127.0.0.1:\(collector)]
        attribution:
          static_assignments_file: \(directory)/static.csv
        lawful:
          policy_file: \(directory)/policy.yaml
        sinkhole:
          listen: 127.0.0.1:\(transfer)
          zone: rpz.mamori.
          exemption_zone: exempt.mamori.
          sinkhole_name: sinkhole.example.
          ttl: 5
          exemption_ttl: 5
          exemption_refresh_seconds: 5
          secondaries:
            - address: 127.0.0.4/32
              notify: 127.0.0.1:\(bind)
              tsig_key_name: mamori-xfr.
              tsig_secret_file: \(directory)/xfr.key
            - address: 127.0.0.1
              notify: 127.0.0.1:\(unbound)

        """
    }

    static let policy = """
        terms:
          - version: v3
            effective: 2025-04-01
            discloses: [warn_infection, sinkhole_dns]
            observation_statement: the names your devices look up are checked against known C&C servers when they are resolved
        sinkhole:
          opt_out_method: call 0120-000-000, or the form on the notice page

        """

    static func query(_ name: String, id: UInt16) -> [UInt8] {
        try! DNSMessage(header: DNSHeader(id: id, rd: true), questions: [DNSQuestion(name: try! DNSName(name), type: .A)]).serialize()
    }

    /// Asks the resolver at `port` for `name`'s A record from `source` until `accept` takes the answer.
    static func ask(port: Int, _ name: String, from source: String = "127.0.0.1", timeout: Duration, accept: (DNSMessage) -> Bool)
        async throws -> DNSMessage?
    {
        let client = try LoopbackDatagramSocket(address: source)
        let deadline = ContinuousClock.now + timeout
        var last: DNSMessage?
        var id: UInt16 = 0x2000
        while ContinuousClock.now < deadline {
            id &+= 1
            client.send(query(name, id: id), toPort: port)
            for bytes in await client.drain(quietMilliseconds: 300, limit: 4) {
                guard let m = try? DNSMessage.parse(bytes), m.header.id == id else { continue }
                last = m
                if accept(m) { return m }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        return last
    }

    /// `mamori serve --config <directory>/mamori.yaml`, its output in `mamori.log`, once its
    /// /healthz answers on `http` (30 s at most); fails with its log otherwise.
    static func serve(_ mamori: ExternalPeer, directory d: String, http: Int) async throws -> RunningPeer {
        let server = try mamori.start(["serve", "--config", d + "/mamori.yaml"], outputFile: d + "/mamori.log")
        var up = false
        for _ in 0..<300 where !up {
            guard server.isRunning else { break }
            up = await httpGet(port: http, path: "/healthz")?.status == 200
            if !up { try await Task.sleep(for: .milliseconds(100)) }
        }
        guard up else {
            server.stop()
            throw PeerError("mamori serve did not come up: \(log(d + "/mamori.log"))")
        }
        return server
    }

    static func address(_ m: DNSMessage, _ a: [UInt8]) -> Bool { m.answers.contains { $0.rdata == .a(a) } }
    static func sinkholed(_ m: DNSMessage) -> Bool { address(m, [192, 0, 2, 53]) }
    static func log(_ path: String) -> String {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "(no log)").suffix(3000).description
    }

    @Test func rpzCommandsReachBINDAndUnbound() async throws {
        let mamori = try ExternalPeer.builtProduct("mamori")
        let named = try ExternalPeer.require("named", debianPackage: "bind9")
        let unbound = try ExternalPeer.require("unbound", debianPackage: "unbound")
        let dir = try TemporaryDirectory()
        let d = dir.path
        let (http, transfer, bindPort, unboundPort) = (try freeTCPPort(), try freeTCPPort(), try freeUDPPort(), try freeUDPPort())
        try Self.exampleZone.write(toFile: d + "/example.db", atomically: true, encoding: .utf8)
        try Self.policy.write(toFile: d + "/policy.yaml", atomically: true, encoding: .utf8)
        try "prefix,subscriber\n127.0.0.2/32,A-0002\n127.0.0.1/32,A-0001\n".write(
            toFile: d + "/static.csv", atomically: true, encoding: .utf8)
        try (Self.secret + "\n").write(toFile: d + "/xfr.key", atomically: true, encoding: .utf8)
        try Self.bindConfiguration(directory: d, port: bindPort, primaryPort: transfer)
            .write(toFile: d + "/named.conf", atomically: true, encoding: .utf8)
        try Self.unboundConfiguration(directory: d, port: unboundPort, primaryPort: transfer)
            .write(toFile: d + "/unbound.conf", atomically: true, encoding: .utf8)
        try Self.mamoriConfiguration(
            directory: d, http: http, collector: try freeUDPPort(), transfer: transfer, bind: bindPort, unbound: unboundPort
        ).write(toFile: d + "/mamori.yaml", atomically: true, encoding: .utf8)

        let operators = try await OperatorBootstrap(mamori, dataDirectory: d + "/data")
        let token = try await operators.token("soc", scope: "read_findings,change_sinkhole,change_consent")
        let server = try await SinkholeServeTests.serve(mamori, directory: d, http: http)
        defer { server.stop() }
        let bind = try named.start(["-f", "-4", "-n", "1", "-c", d + "/named.conf"])
        defer { bind.stop() }
        let resolver = try unbound.start(["-d", "-c", d + "/unbound.conf"])
        defer { resolver.stop() }
        let loaded = try await waitUntil(timeout: .seconds(60)) {
            let text = Self.log(d + "/named.log")
            return text.contains("zone rpz.mamori/IN: transferred serial") && text.contains("zone exempt.mamori/IN: transferred serial")
        }
        try #require(loaded, "BIND did not load both policy zones: \(Self.log(d + "/named.log"))")
        for port in [bindPort, unboundPort] {
            let before = try await Self.ask(port: port, "cc.example", timeout: .seconds(20)) { Self.address($0, [192, 0, 2, 10]) }
            #expect(
                before.map { Self.address($0, [192, 0, 2, 10]) } == true, "before any entry, port \(port): \(String(describing: before))")
        }

        let online = ["--server", "127.0.0.1:\(http)"]
        let environment = ["MAMORI_TOKEN": token]
        let added = ContinuousClock.now
        let out = try await mamori.run(
            ["rpz", "add", "cc.example", "--reason", "C&C of a test botnet", "--days", "1"] + online, environment: environment)
        #expect(out.hasPrefix("added: cc.example."), "\(out)")
        _ = try await mamori.run(["rpz", "add", "203.0.113.66", "--reason", "C&C address"] + online, environment: environment)
        for (port, name) in [(bindPort, "BIND"), (unboundPort, "Unbound")] {
            let rewritten = try await Self.ask(port: port, "cc.example", timeout: .seconds(45), accept: Self.sinkholed)
            #expect(
                rewritten.map(Self.sinkholed) == true,
                "\(name) did not sinkhole cc.example: \(String(describing: rewritten)); logs: \(Self.log(d + (port == bindPort ? "/named.log" : "/unbound.log")))"
            )
            print("sinkhole: \(name) answers cc.example with the sinkhole \(ContinuousClock.now - added) after `mamori rpz add`")
            // The address trigger: a name that resolves into the C&C address is rewritten too.
            let byAddress = try await Self.ask(port: port, "bad.example", timeout: .seconds(30), accept: Self.sinkholed)
            #expect(
                byAddress.map(Self.sinkholed) == true,
                "\(name) did not rewrite an answer into 203.0.113.66: \(String(describing: byAddress))")
        }
        let list = try await mamori.run(["rpz", "list"] + online, environment: environment)
        #expect(list.contains("cc.example.\tsinkhole\tanalyst:") && list.contains("203.0.113.66/32"), "\(list)")

        // A-0002 opts out in the customer export; attribution says A-0002 holds 127.0.0.2.
        try
            "account,email,language,terms_version,terms_accepted,warn_infection,warn_vulnerability,sinkhole_dns\nA-0001,a@example.jp,ja,v3,2025-04-01,,,\nA-0002,b@example.jp,ja,v3,2025-04-01,,,opt_out\n"
            .write(toFile: d + "/customers.csv", atomically: true, encoding: .utf8)
        _ = try await mamori.run(["consent", "import", d + "/customers.csv"] + online, environment: environment)
        let optedOut = try await Self.ask(port: bindPort, "cc.example", from: "127.0.0.2", timeout: .seconds(45)) {
            Self.address($0, [192, 0, 2, 10])
        }
        #expect(optedOut.map { Self.address($0, [192, 0, 2, 10]) } == true, "BIND, opted-out client: \(String(describing: optedOut))")
        let optedOutUnbound = try await Self.ask(port: unboundPort, "cc.example", from: "127.0.0.2", timeout: .seconds(45)) {
            Self.address($0, [192, 0, 2, 10])
        }
        #expect(
            optedOutUnbound.map { Self.address($0, [192, 0, 2, 10]) } == true,
            "Unbound, opted-out client: \(String(describing: optedOutUnbound))")
        for (port, name) in [(bindPort, "BIND"), (unboundPort, "Unbound")] {
            let stillSinkholed = try await Self.ask(port: port, "cc.example", timeout: .seconds(10), accept: Self.sinkholed)
            #expect(stillSinkholed.map(Self.sinkholed) == true, "\(name): a client who did not opt out is still sinkholed")
        }

        // Changes went by IXFR.
        let metrics = await httpGet(port: http, path: "/metrics")?.body ?? ""
        let ixfr = metrics.split(separator: "\n").first { $0.hasPrefix("mamori_rpz_transfers_total{type=\"ixfr\"}") }
        #expect(ixfr.flatMap { Int($0.split(separator: " ").last ?? "") }.map { $0 > 0 } == true, "\(String(describing: ixfr))")

        let removed = ContinuousClock.now
        _ = try await mamori.run(["rpz", "remove", "cc.example"] + online, environment: environment)
        for (port, name) in [(bindPort, "BIND"), (unboundPort, "Unbound")] {
            let back = try await Self.ask(port: port, "cc.example", timeout: .seconds(45)) { Self.address($0, [192, 0, 2, 10]) }
            #expect(back.map { Self.address($0, [192, 0, 2, 10]) } == true, "\(name) after removal: \(String(describing: back))")
            print("sinkhole: \(name) answers cc.example truly again \(ContinuousClock.now - removed) after `mamori rpz remove`")
        }
        let refused = try await mamori.runToExit(["rpz", "add", "www.google.com", "--reason", "x"] + online, environment: environment)
        #expect(refused.status != 0 && refused.stderr.contains("protected name"), "\(refused.stderr)")
    }
}

/// Resolvers the sinkhole does not list get REFUSED, BIND (signed with the right key, from an
/// address not listed) and Unbound alike: neither loads the zone, and the refusals are counted.
@Suite(.serialized, .timeLimit(.minutes(4)))
struct SinkholeRefusalTests {
    @Test func unlistedResolversAreRefused() async throws {
        let mamori = try ExternalPeer.builtProduct("mamori")
        let named = try ExternalPeer.require("named", debianPackage: "bind9")
        let unbound = try ExternalPeer.require("unbound", debianPackage: "unbound")
        let dir = try TemporaryDirectory()
        let d = dir.path
        let (http, transfer, bindPort, unboundPort) = (try freeTCPPort(), try freeTCPPort(), try freeUDPPort(), try freeUDPPort())
        try SinkholeServeTests.exampleZone.write(toFile: d + "/example.db", atomically: true, encoding: .utf8)
        try (SinkholeServeTests.secret + "\n").write(toFile: d + "/xfr.key", atomically: true, encoding: .utf8)
        try SinkholeServeTests.bindConfiguration(directory: d, port: bindPort, primaryPort: transfer)
            .write(toFile: d + "/named.conf", atomically: true, encoding: .utf8)
        try SinkholeServeTests.unboundConfiguration(directory: d, port: unboundPort, primaryPort: transfer)
            .write(toFile: d + "/unbound.conf", atomically: true, encoding: .utf8)
        // Only 127.0.0.9 may transfer (with the key): BIND comes from 127.0.0.4, Unbound from 127.0.0.1.
        try """
        data_directory: \(d)/data
        log_level: warning
        http:
          listen: 127.0.0.1:\(http)
        collector:
          listen: [127.0.0.1:\(try freeUDPPort())]
        sinkhole:
          listen: 127.0.0.1:\(transfer)
          zone: rpz.mamori.
          exemption_zone: exempt.mamori.
          sinkhole_name: sinkhole.example.
          secondaries:
            - address: 127.0.0.9
              tsig_key_name: mamori-xfr.
              tsig_secret_file: \(d)/xfr.key

        """.write(toFile: d + "/mamori.yaml", atomically: true, encoding: .utf8)
        let server = try await SinkholeServeTests.serve(mamori, directory: d, http: http)
        defer { server.stop() }
        func refusals() async -> Int {
            let metrics = await httpGet(port: http, path: "/metrics")?.body ?? ""
            return metrics.split(separator: "\n").first { $0.hasPrefix("mamori_rpz_transfer_errors_total{reason=\"refused\"}") }
                .flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
        }
        // Unbound alone first (from 127.0.0.1, unsigned): refused.
        let resolver = try unbound.start(["-d", "-c", d + "/unbound.conf"])
        defer { resolver.stop() }
        var byUnbound = 0
        for _ in 0..<300 where byUnbound == 0 {
            byUnbound = await refusals()
            if byUnbound == 0 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(byUnbound >= 1, "Unbound's transfer was not refused")
        // Then BIND (from 127.0.0.4, with the right key): refused too, and it says so.
        let bind = try named.start(["-f", "-4", "-n", "1", "-c", d + "/named.conf"])
        defer { bind.stop() }
        for _ in 0..<300 where !SinkholeServeTests.log(d + "/named.log").contains("REFUSED") {
            try await Task.sleep(for: .milliseconds(100))
        }
        let bindLog = SinkholeServeTests.log(d + "/named.log")
        #expect(bindLog.contains("REFUSED") && !bindLog.contains("zone rpz.mamori/IN: transferred serial"), "\(bindLog)")
        #expect(await refusals() > byUnbound)
        let metrics = await httpGet(port: http, path: "/metrics")?.body ?? ""
        #expect(
            !metrics.split(separator: "\n").contains { $0.hasPrefix("mamori_rpz_transfers_total") && !$0.hasSuffix(" 0") },
            "no transfer was served")
    }
}
