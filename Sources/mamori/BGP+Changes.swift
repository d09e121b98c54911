import APIClient
import ArgumentParser
import FlowCodec
import Foundation

// `mamori bgp announce|withdraw|approve|reject|kill`: every change needs control_mitigation.

extension BGP {
    /// What the server answers a change: `{"event": "announced", "rule": {…}}`.
    struct ChangeAnswer: Decodable {
        var event: String
        var rule: RuleView?
        var withdrawn: Int?
    }

    /// Prints a change's answer as one line ("announced: flowspec:… …") or the server's JSON.
    static func report(_ body: String, json: Bool) throws {
        if json { return print(body, terminator: "") }
        let answer = try JSONDecoder().decode(ChangeAnswer.self, from: Data(body.utf8))
        let words: [String: String] = [
            "announced": "announced", "extended": "already announced, expiry extended", "pending": "waiting for approval",
            "dry_run": "dry run (logged, not announced)", "withdrawn": "withdrawn", "refused": "refused", "none": "no change",
        ]
        let what = words[answer.event] ?? answer.event
        print(clean(answer.rule.map { "\(what): \($0.line)" } ?? what))
    }

    /// A reason for the audit log: one line of 1 to 300 characters, as the server takes it.
    static func auditReason(_ text: String, option: String = "--reason") throws -> String {
        let reason = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty, reason.count <= 300, !reason.contains(where: \.isNewline) else {
            throw ValidationError("\(option) must be one line of 1 to 300 characters: it goes into the audit log")
        }
        return reason
    }

    /// A rule id as the server makes them: `rtbh:` or `flowspec:` and 16 hex digits.
    static func ruleID(_ text: String) throws -> String {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, ["rtbh", "flowspec"].contains(parts[0]), parts[1].count == 16,
            parts[1].allSatisfy({ $0.isHexDigit && !$0.isUppercase })
        else {
            throw ValidationError(
                "'\(clean(String(text.prefix(60))))' is not a rule id; ids look like rtbh:0123456789abcdef or flowspec:0123456789abcdef (see `mamori bgp rules`)"
            )
        }
        return text
    }

    /// The JSON body of `POST /api/v1/bgp/rules`.
    struct AnnounceBody: Encodable {
        var kind: String
        var destination: String?
        var source: String?
        var protocols: [Int]?
        var destinationPorts: [String]?
        var sourcePorts: [String]?
        var packetLength: String?
        var action: String?
        var rateBytesPerSecond: Double?
        var reason: String
        var minutes: Int?

        enum CodingKeys: String, CodingKey {
            case kind, destination, source, protocols, action, reason, minutes
            case destinationPorts = "destination_ports"
            case sourcePorts = "source_ports"
            case packetLength = "packet_length"
            case rateBytesPerSecond = "rate_bytes_per_second"
        }
    }

    /// Sends an announcement; a refusal by a safety rail stops with the rail and its reason.
    static func announce(_ body: AnnounceBody, _ options: Options, _ what: String) async throws {
        let bytes = [UInt8](try JSONEncoder().encode(body))
        let answer = try options.expect(try await options.request("POST", "/api/v1/bgp/rules", body: bytes), [200, 201], what)
        try report(answer, json: options.json)
    }

    /// How long a rule lives: the server allows up to its bgp.maximum_lifetime_hours (24 by default).
    static func checkMinutes(_ minutes: Int?) throws {
        guard let minutes else { return }
        guard (1...525_600).contains(minutes) else {
            throw ValidationError("--minutes must be at least 1 (and at most the server's bgp.maximum_lifetime_hours); got \(minutes)")
        }
    }

    /// An address or prefix for `option`: "203.0.113.7", "198.51.100.0/24", "2001:db8::/48".
    static func prefix(_ text: String, option: String) throws -> IPPrefix {
        guard let p = IPPrefix(text.trimmingCharacters(in: .whitespaces)) else {
            throw ValidationError(
                "\(option) '\(clean(String(text.prefix(60))))' is not an address or prefix (203.0.113.7, 198.51.100.0/24, 2001:db8::/48)")
        }
        return p
    }

    /// `udp`, `tcp`, `icmp` … or a number from 0 to 255; several may be given as `udp,tcp`.
    static func protocols(_ values: [String]) throws -> [Int] {
        var out: [Int] = []
        for value in values.flatMap({ $0.split(separator: ",", omittingEmptySubsequences: false) }) {
            let v = value.trimmingCharacters(in: .whitespaces).lowercased()
            if let n = protocolNumbers[v] {
                out.append(n)
            } else if let n = Int(v), (0...255).contains(n) {
                out.append(n)
            } else {
                throw ValidationError(
                    "--protocol '\(clean(String(v.prefix(30))))' is neither a protocol name (\(protocolNumbers.keys.sorted().joined(separator: ", "))) nor a number from 0 to 255"
                )
            }
        }
        let unique = Array(Set(out)).sorted()
        guard unique.count <= 16 else { throw ValidationError("--protocol: at most 16 protocols in one rule") }
        return unique
    }

    /// `80`, `1000-2000`; several may be given as `80,443`. Returns them as the server reads them.
    static func ranges(_ values: [String], option: String, maximumCount: Int = 16) throws -> [String] {
        var out: [String] = []
        for value in values.flatMap({ $0.split(separator: ",", omittingEmptySubsequences: false) }) {
            out.append(try range(String(value), option: option))
        }
        guard out.count <= maximumCount else { throw ValidationError("\(option): at most \(maximumCount) values or ranges in one rule") }
        return out
    }

    /// One number or range from 0 to 65535: `80`, `1000-2000`.
    static func range(_ text: String, option: String) throws -> String {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: "-", omittingEmptySubsequences: false)
        let numbers = parts.map { UInt16($0.trimmingCharacters(in: .whitespaces)) }
        guard (1...2).contains(parts.count), let first = numbers[0], let last = numbers[numbers.count - 1] else {
            throw ValidationError(
                "\(option) '\(clean(String(text.prefix(30))))' is not a number or a range from 0 to 65535 (80, or 1000-2000)")
        }
        guard first <= last else { throw ValidationError("\(option) '\(text)': the range runs backwards; write \(last)-\(first)") }
        return first == last ? "\(first)" : "\(first)-\(last)"
    }

    struct Announce: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Announce a rule by hand: a black hole (RTBH) of one address, or a FlowSpec rule.",
            discussion: """
                The safety rails apply as to the detectors' rules: a rule touching a protected prefix \
                (the neighbours' own addresses are always protected), naming a prefix shorter than the \
                minimum, or beyond the caps is refused, and the command fails naming the rail. While \
                the kill switch is engaged nothing is announced. Announcing a rule that is already \
                announced extends its expiry.
                """,
            subcommands: [Blackhole.self, FlowSpec.self]
        )
    }

    struct Blackhole: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "blackhole",
            abstract: "Black-hole every packet to one address (RTBH: a host route with BLACKHOLE and NO_EXPORT).",
            discussion: """
                All traffic to the address is dropped at the carrier's edge — the attack and the \
                address's own traffic alike. Use it for a victim whose flood threatens the links of \
                others; use a FlowSpec rule when the attack can be told apart by protocol or port.

                Examples:
                  mamori bgp announce blackhole 198.51.100.7 --minutes 30 \\
                      --reason "DDoS on a subscriber, ticket 4711"
                  mamori bgp announce blackhole 2001:db8:100::7 --reason "DDoS, ticket 4712"
                """
        )
        @OptionGroup var options: Options
        @Argument(help: "The victim's address (IPv4 or IPv6): its host route is announced.") var address: String
        @Option(help: "Why: one line, kept in the audit log.") var reason: String
        @Option(help: "Minutes until the rule is withdrawn by itself (default 60).") var minutes: Int?

        func body() throws -> AnnounceBody {
            let p = try BGP.prefix(address, option: "ADDRESS")
            try BGP.checkMinutes(minutes)
            return AnnounceBody(kind: "blackhole", destination: p.description, reason: try BGP.auditReason(reason), minutes: minutes)
        }

        func validate() throws { _ = try body() }

        func run() async throws {
            try await BGP.announce(try body(), options, "bgp announce blackhole \(address)")
        }
    }

    struct FlowSpec: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "flowspec",
            abstract: "Discard or police the traffic a FlowSpec match selects (RFC 8955, 8956).",
            discussion: """
                A packet matches when it matches every component given; within a repeated option \
                (two --destination-port, or 80,443) any one value is enough. At least one of \
                --destination and --source is needed; both must be of one family. Ports only match \
                TCP, UDP and SCTP packets. Without --rate-limit the traffic is discarded.

                Examples:
                  mamori bgp announce flowspec --destination 198.51.100.7 \\
                      --protocol udp --source-port 123 --reason "NTP reflection"
                  mamori bgp announce flowspec --destination 198.51.100.0/24 \\
                      --protocol udp --source-port 53,123 --packet-length 400-1500 \\
                      --reason "DNS and NTP reflection" --minutes 120
                  mamori bgp announce flowspec --source 198.51.100.23 --protocol tcp \\
                      --destination-port 23 --destination-port 2323 \\
                      --rate-limit 125000 --reason "infected device scanning telnet"
                """
        )
        @OptionGroup var options: Options
        @Option(help: ArgumentHelp("Destination address or prefix.", valueName: "prefix")) var destination: String?
        @Option(help: ArgumentHelp("Source address or prefix.", valueName: "prefix")) var source: String?
        @Option(
            name: .customLong("protocol"),
            help: ArgumentHelp("IP protocol: udp, tcp, icmp, gre, esp, sctp … or a number (repeatable).", valueName: "protocol"))
        var protocols: [String] = []
        @Option(
            name: .customLong("destination-port"),
            help: ArgumentHelp("Destination port or range: 80, 1000-2000 (repeatable).", valueName: "port"))
        var destinationPorts: [String] = []
        @Option(
            name: .customLong("source-port"), help: ArgumentHelp("Source port or range: 123, 1024-65535 (repeatable).", valueName: "port"))
        var sourcePorts: [String] = []
        @Option(help: ArgumentHelp("Total IP packet length in bytes, or a range: 468, 400-1500.", valueName: "length"))
        var packetLength: String?
        @Option(
            name: .customLong("rate-limit"),
            help: ArgumentHelp("Police the traffic to this many bytes per second instead of discarding it.", valueName: "bytes-per-second"))
        var rateLimit: Double?
        @Option(help: "Why: one line, kept in the audit log.") var reason: String
        @Option(help: "Minutes until the rule is withdrawn by itself (default 60).") var minutes: Int?

        func body() throws -> AnnounceBody {
            let d = try destination.map { try BGP.prefix($0, option: "--destination") }
            let s = try source.map { try BGP.prefix($0, option: "--source") }
            guard d != nil || s != nil else {
                throw ValidationError(
                    "a FlowSpec rule needs --destination or --source (or both): a rule matching any address is never announced")
            }
            if let d, let s, d.isIPv4 != s.isIPv4 {
                throw ValidationError("--destination \(d) and --source \(s) must be of one family (both IPv4 or both IPv6)")
            }
            let numbers = try BGP.protocols(protocols)
            let dports = try BGP.ranges(destinationPorts, option: "--destination-port")
            let sports = try BGP.ranges(sourcePorts, option: "--source-port")
            if !(dports.isEmpty && sports.isEmpty), !numbers.isEmpty, numbers.allSatisfy({ ![6, 17, 132].contains($0) }) {
                throw ValidationError(
                    "ports only match TCP, UDP and SCTP packets; with --protocol \(numbers.map(BGP.protocolName).joined(separator: ",")) the rule would match nothing"
                )
            }
            let length = try packetLength.map { try BGP.range($0, option: "--packet-length") }
            if let rateLimit {
                guard rateLimit.isFinite, rateLimit > 0, rateLimit < 1e12 else {
                    throw ValidationError("--rate-limit must be above 0 bytes per second (leave it out to discard); got \(rateLimit)")
                }
            }
            try BGP.checkMinutes(minutes)
            return AnnounceBody(
                kind: "flowspec", destination: d?.description, source: s?.description, protocols: numbers.isEmpty ? nil : numbers,
                destinationPorts: dports.isEmpty ? nil : dports, sourcePorts: sports.isEmpty ? nil : sports, packetLength: length,
                action: rateLimit == nil ? "discard" : "rate-limit", rateBytesPerSecond: rateLimit, reason: try BGP.auditReason(reason),
                minutes: minutes)
        }

        func validate() throws { _ = try body() }

        func run() async throws {
            try await BGP.announce(try body(), options, "bgp announce flowspec")
        }
    }

    struct Withdraw: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Withdraw an announced rule now (audited); the routers drop it within seconds.")
        @OptionGroup var options: Options
        @Argument(help: "The rule's id, as `mamori bgp rules` prints it (rtbh:… or flowspec:…).") var id: String

        func validate() throws { _ = try BGP.ruleID(id) }

        func run() async throws {
            let body = try options.expect(
                try await options.request("DELETE", "/api/v1/bgp/rules/\(try BGP.ruleID(id))"), [200], "bgp withdraw \(id)")
            try BGP.report(body, json: options.json)
        }
    }

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Approve a rule waiting for an operator: it is announced (the safety rails still apply).")
        @OptionGroup var options: Options
        @Argument(help: "The rule's id, as `mamori bgp rules --state pending` prints it.") var id: String

        func validate() throws { _ = try BGP.ruleID(id) }

        func run() async throws {
            let body = try options.expect(
                try await options.request("POST", "/api/v1/bgp/rules/\(try BGP.ruleID(id))/approve"), [200, 201], "bgp approve \(id)")
            try BGP.report(body, json: options.json)
        }
    }

    struct Reject: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Reject a rule waiting for an operator: it is never announced (audited with the reason).")
        @OptionGroup var options: Options
        @Argument(help: "The rule's id, as `mamori bgp rules --state pending` prints it.") var id: String
        @Option(help: "Why: one line, kept in the audit log.") var reason: String

        func validate() throws {
            _ = try BGP.ruleID(id)
            _ = try BGP.auditReason(reason)
        }

        func run() async throws {
            let bytes = [UInt8](try JSONEncoder().encode(["reason": try BGP.auditReason(reason)]))
            let body = try options.expect(
                try await options.request("POST", "/api/v1/bgp/rules/\(try BGP.ruleID(id))/reject", body: bytes), [200],
                "bgp reject \(id)")
            try BGP.report(body, json: options.json)
        }
    }

    struct Kill: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The kill switch: withdraw every rule now and announce nothing more (--reason), or release it (--release).",
            discussion: """
                For when the rules themselves do harm. Engaging withdraws every announced rule at \
                once; until it is released, nothing is announced — not by the detectors, not by hand. \
                Releasing brings nothing back by itself: attacks still going on are proposed again by \
                their next findings. Both are written to the audit log.

                Examples:
                  mamori bgp kill --reason "routers dropping the wrong traffic, ticket 4713"
                  mamori bgp kill --release
                """
        )
        @OptionGroup var options: Options
        @Option(help: "Engage the kill switch; why: one line, kept in the audit log.") var reason: String?
        @Flag(help: "Release the kill switch.") var release = false

        func validate() throws {
            switch (reason, release) {
            case (nil, false): throw ValidationError("say --reason \"why\" to engage the kill switch, or --release to release it")
            case (.some, true): throw ValidationError("--reason engages the kill switch and --release releases it: give one of them")
            case (.some(let r), false): _ = try BGP.auditReason(r)
            case (nil, true): break
            }
        }

        func run() async throws {
            struct Answer: Decodable {
                var event: String
                var withdrawn: Int?
            }
            if release {
                let body = try options.expect(try await options.request("DELETE", "/api/v1/bgp/kill"), [200], "bgp kill --release")
                if options.json { return print(body, terminator: "") }
                print(
                    "kill switch released: rules may be announced again; nothing withdrawn comes back by itself (attacks still going on are proposed again by their next findings)"
                )
                return
            }
            let bytes = [UInt8](try JSONEncoder().encode(["reason": try BGP.auditReason(reason ?? "")]))
            let body = try options.expect(try await options.request("POST", "/api/v1/bgp/kill", body: bytes), [200], "bgp kill")
            if options.json { return print(body, terminator: "") }
            let answer = try JSONDecoder().decode(Answer.self, from: Data(body.utf8))
            let n = answer.withdrawn ?? 0
            print(
                "KILL SWITCH ENGAGED: \(n) rule\(n == 1 ? "" : "s") withdrawn; nothing is announced until `mamori bgp kill --release`")
        }
    }
}
