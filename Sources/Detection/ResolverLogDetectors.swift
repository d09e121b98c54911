import FlowCodec
import MamoriCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What one answer of the carrier's resolvers says about the subscriber who asked (from the
/// resolvers' dnstap log): the client address, the name, the answer's RCODE, and whether the
/// answer was the sinkhole's. Built by the server from a dnstap client response; nothing else of
/// the query log reaches the detectors.
public struct ResolverObservation: Sendable, Hashable {
    public var client: IPAddress
    /// The query name, lower-case, without the final dot.
    public var name: String
    /// 0 NOERROR, 3 NXDOMAIN …
    public var responseCode: UInt8
    /// ms since the epoch.
    public var at: Int64
    /// The name is sinkholed (a name entry covers it, or the answer is the sinkhole's).
    public var sinkholed: Bool

    public init(client: IPAddress, name: String, responseCode: UInt8, at: Int64, sinkholed: Bool) {
        self.client = client
        self.name = name
        self.responseCode = responseCode
        self.at = at
        self.sinkholed = sinkholed
    }
}

/// A device that reached for a sinkholed C&C — by asking the resolver for a sinkholed name, or by
/// connecting to the sinkhole listener — is an infected device: one finding per client address,
/// kind `infected-device`, family `sinkhole`, with the names it reached for (C&C names, not
/// anything of the subscriber's), how often and when. Its id is the flow detectors' id for the
/// same host with `-sinkhole` appended, so it never overwrites their finding; the case workflow
/// merges both into the subscriber's case.
///
/// Bounded: at most ``maximumHosts`` clients (beyond, new ones are counted in ``droppedHosts``),
/// ``maximumNames`` names and ``ContactTimes/maximumTimes`` times each. Pure: the caller passes
/// every time.
public struct SinkholeContactTracker: Sendable {
    public static let maximumHosts = 100_000
    public static let maximumNames = 32

    struct Host {
        var names: [String: Int] = [:]
        var lookups = 0
        var connections = 0
        var first: Int64
        var last: Int64
        var times: [Int64] = []
        var changed = true
    }

    var hosts: [IPAddress: Host] = [:]
    /// Clients not tracked because the table was full.
    public private(set) var droppedHosts = 0
    /// How long a client's record lasts after its last contact (ms).
    public var retentionMilliseconds: Int64 = 7 * 86_400_000
    /// The key of the contact-time pseudonyms in the evidence.
    let pseudonymKey: [UInt8]

    public init(pseudonymKey: [UInt8]) { self.pseudonymKey = pseudonymKey }

    /// A lookup of a sinkholed name.
    public mutating func lookup(_ o: ResolverObservation) {
        guard o.sinkholed else { return }
        record(client: o.client, name: o.name, at: o.at, connection: false)
    }

    /// A connection to the sinkhole listener, asking for `name` (HTTP Host or TLS SNI) if known.
    public mutating func connection(from client: IPAddress, name: String?, at: Int64) {
        record(client: client, name: name, at: at, connection: true)
    }

    mutating func record(client: IPAddress, name: String?, at: Int64, connection: Bool) {
        if hosts[client] == nil {
            guard hosts.count < Self.maximumHosts else {
                droppedHosts += 1
                return
            }
            hosts[client] = Host(first: at, last: at)
        }
        hosts[client]!.update(name: name, at: at, connection: connection)
    }

    /// Findings for the clients whose record changed since the last call; forgets clients silent
    /// for longer than the retention.
    public mutating func findings(now: Int64) -> [Finding] {
        hosts = hosts.filter { now - $0.value.last <= retentionMilliseconds }
        var out: [Finding] = []
        for (client, host) in hosts where host.changed {
            hosts[client]!.changed = false
            out.append(finding(client, host))
        }
        return out.sorted { $0.id < $1.id }
    }

    func finding(_ client: IPAddress, _ h: Host) -> Finding {
        let subject = FindingSubject.host(InternalHost(address: client))
        let names = h.names.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map(\.key)
        var evidence = Evidence()
        evidence.features = [
            Feature(.sinkholedLookups, Double(h.lookups)),
            Feature(.sinkholeConnections, Double(h.connections)),
            Feature(.distinctDestinations, Double(h.names.count)),
        ]
        // The case workflow counts these as C&C contacts, one per name (`about` keys the merge).
        for (name, count) in h.names.sorted(by: { $0.key < $1.key }).prefix(8) {
            evidence.features.append(Feature(.c2Contacts, Double(count), about: "dns:\(name)"))
        }
        evidence.related = names
        evidence.reasons = [
            "the device asked the carrier's resolver for a name the sinkhole answers (a C&C name), or connected to the sinkhole",
            "nothing else of its DNS traffic is kept",
        ]
        evidence.contacts = [
            ContactTimes(host: Pseudonymizer(key: pseudonymKey).pseudonym(InternalHost(address: client)), times: h.times)
        ]
        let total = h.lookups + h.connections
        let score = min(1, 0.6 + 0.1 * Double(min(total, 4)))
        let shown = names.prefix(3).joined(separator: ", ") + (names.count > 3 ? " …" : "")
        let what = [
            h.lookups > 0 ? "\(h.lookups) lookups of sinkholed names" : nil,
            h.connections > 0 ? "\(h.connections) connections to the sinkhole" : nil,
        ].compactMap { $0 }.joined(separator: " and ")
        return Finding(
            id: Finding.id(kind: .infectedDevice, subject: subject) + "-sinkhole", kind: .infectedDevice, subject: subject, score: score,
            firstSeen: h.first, lastSeen: h.last, detectedAt: h.last, updatedAt: h.last, family: "sinkhole",
            summary: "\(what)" + (shown.isEmpty ? "" : " (\(shown))"), evidence: evidence)
    }
}

extension SinkholeContactTracker.Host {
    mutating func update(name: String?, at: Int64, connection: Bool) {
        if connection { connections += 1 } else { lookups += 1 }
        if let name, names[name] != nil || names.count < SinkholeContactTracker.maximumNames { names[name, default: 0] += 1 }
        first = min(first, at)
        last = max(last, at)
        if times.count < ContactTimes.maximumTimes { times.append(at) } else { times[times.count - 1] = max(times[times.count - 1], at) }
        times.sort()
        changed = true
    }
}

/// Domain generation algorithms: a bot that cannot reach its C&C asks for many algorithmically
/// generated names, and most do not exist. A client with at least ``Thresholds/minimumGenerated``
/// distinct NXDOMAIN names that look generated within ``Thresholds/windowMilliseconds``, making up
/// at least ``Thresholds/minimumShare`` of its distinct NXDOMAIN names, is reported as an infected
/// device (family `dga`), with the counts and a few of the names as evidence.
///
/// A name "looks generated" when its longest label below the last two is judged so by
/// ``looksGenerated(_:)``: long, high character entropy, few vowels or many digits. Names with a
/// single label (the random probes browsers send to detect NXDOMAIN hijacking), reverse lookups,
/// `.local`, `.lan`, `.home.arpa` and `.internal` are not counted. Bounded like the other tables.
public struct DGADetector: Sendable {
    public struct Thresholds: Sendable, Hashable {
        public var windowMilliseconds: Int64 = 600_000
        public var minimumGenerated = 20
        public var minimumShare = 0.6
        public init() {}
    }

    public static let maximumHosts = 100_000
    public static let maximumNamesPerHost = 512

    struct Host {
        /// Distinct NXDOMAIN names in the window: name → (last time, looks generated).
        var names: [String: (at: Int64, generated: Bool)] = [:]
        var reported: Int = 0
        var first: Int64
        var last: Int64
    }

    public var thresholds: Thresholds
    var hosts: [IPAddress: Host] = [:]
    public private(set) var droppedHosts = 0
    let pseudonymKey: [UInt8]

    public init(thresholds: Thresholds = .init(), pseudonymKey: [UInt8]) {
        self.thresholds = thresholds
        self.pseudonymKey = pseudonymKey
    }

    /// Takes one answer; only NXDOMAIN answers to countable names are kept.
    public mutating func observe(_ o: ResolverObservation) {
        guard o.responseCode == 3, Self.countable(o.name) else { return }
        if hosts[o.client] == nil {
            guard hosts.count < Self.maximumHosts else {
                droppedHosts += 1
                return
            }
            hosts[o.client] = Host(first: o.at, last: o.at)
        }
        var h = hosts[o.client]!
        if h.names[o.name] == nil && h.names.count >= Self.maximumNamesPerHost {
            // Full: the oldest name makes room (the window slides).
            if let oldest = h.names.min(by: { $0.value.at < $1.value.at })?.key { h.names[oldest] = nil }
        }
        h.names[o.name] = (o.at, Self.looksGenerated(o.name))
        h.first = min(h.first, o.at)
        h.last = max(h.last, o.at)
        hosts[o.client] = h
    }

    /// Findings for clients over the thresholds whose generated-name count grew since last
    /// reported; drops names older than the window and clients with none left.
    public mutating func findings(now: Int64) -> [Finding] {
        var out: [Finding] = []
        for (client, var h) in hosts {
            h.names = h.names.filter { now - $0.value.at <= thresholds.windowMilliseconds }
            if h.names.isEmpty {
                hosts[client] = nil
                continue
            }
            let generated = h.names.filter(\.value.generated)
            let share = Double(generated.count) / Double(h.names.count)
            if generated.count >= thresholds.minimumGenerated && share >= thresholds.minimumShare && generated.count > h.reported {
                h.reported = generated.count
                out.append(finding(client, h, generated: generated.keys.sorted(), share: share))
            }
            hosts[client] = h
        }
        return out.sorted { $0.id < $1.id }
    }

    func finding(_ client: IPAddress, _ h: Host, generated: [String], share: Double) -> Finding {
        let subject = FindingSubject.host(InternalHost(address: client))
        var evidence = Evidence()
        evidence.features = [
            Feature(.nxdomainNames, Double(h.names.count)),
            Feature(.generatedNames, Double(generated.count)),
            Feature(.generatedNameShare, share),
            Feature(.window, Double(thresholds.windowMilliseconds / 1000), unit: "s"),
        ]
        evidence.thresholds = [
            .atLeast("generated_names", Double(generated.count), Double(thresholds.minimumGenerated)),
            .atLeast("generated_name_share", share, thresholds.minimumShare),
        ]
        evidence.related = Array(generated.prefix(10))
        evidence.reasons = [
            "many lookups of names that do not exist and look machine-made: a bot trying the names of a domain generation algorithm"
        ]
        let times = h.names.values.map(\.at).sorted().suffix(ContactTimes.maximumTimes)
        evidence.contacts = [
            ContactTimes(host: Pseudonymizer(key: pseudonymKey).pseudonym(InternalHost(address: client)), times: Array(times))
        ]
        let score = min(1, 0.5 + 0.5 * share * min(1, Double(generated.count) / Double(2 * thresholds.minimumGenerated)))
        return Finding(
            id: Finding.id(kind: .infectedDevice, subject: subject) + "-dga", kind: .infectedDevice, subject: subject, score: score,
            firstSeen: h.first, lastSeen: h.last, detectedAt: h.last, updatedAt: h.last, family: "dga",
            summary:
                "\(generated.count) lookups of non-existent, machine-made names in \(thresholds.windowMilliseconds / 60_000) min (\(generated.prefix(2).joined(separator: ", ")) …)",
            evidence: evidence)
    }

    /// Whether a name is counted at all (see the type's comment).
    static func countable(_ name: String) -> Bool {
        let labels = name.split(separator: ".")
        guard labels.count >= 2 else { return false }
        let last = labels.last!
        if ["local", "lan", "internal", "localdomain", "home", "corp"].contains(last) { return false }
        if name.hasSuffix("in-addr.arpa") || name.hasSuffix("ip6.arpa") || name.hasSuffix("home.arpa") { return false }
        return true
    }

    /// Whether the name's distinguishing label looks machine-made: the longest label other than
    /// the last (the TLD) — for `x7kqpz3mvt.example.com` that is `x7kqpz3mvt` — of at least 8
    /// characters, with character entropy of at least 3 bits, and one of: under 30 % vowels among
    /// its letters, at least 20 % digits, or a run of 4 or more consonants. Words and brand names
    /// (`shopping`, `mailserver`, `googleusercontent`) have more vowels, fewer digits and short
    /// consonant runs.
    public static func looksGenerated(_ name: String) -> Bool {
        let labels = name.split(separator: ".").dropLast()
        guard let label = labels.max(by: { $0.count < $1.count }), label.count >= 8 else { return false }
        var counts: [Character: Int] = [:]
        for c in label { counts[c, default: 0] += 1 }
        let n = Double(label.count)
        let entropy = counts.values.reduce(0.0) { e, c in
            let p = Double(c) / n
            return e - p * log2(p)
        }
        guard entropy >= 3.0 else { return false }
        var letters = 0
        var vowels = 0
        var digits = 0
        var run = 0
        var longestRun = 0
        for c in label {
            if c.isNumber {
                digits += 1
                run = 0
            } else if c.isLetter {
                letters += 1
                if "aeiouy".contains(c) {
                    vowels += 1
                    run = 0
                } else {
                    run += 1
                    longestRun = max(longestRun, run)
                }
            } else {
                run = 0
            }
        }
        let vowelShare = letters == 0 ? 0 : Double(vowels) / Double(letters)
        return vowelShare < 0.3 || Double(digits) / n >= 0.2 || longestRun >= 4
    }
}
