import FlowCodec
import IdentityCodec

/// Deterministic identity data of a simulated ISP: RADIUS accounting (Accounting-On, Start,
/// Interim-Update), Kea lease-file rows (DHCPv4 leases and DHCPv6 prefix delegations, renewed at
/// T1 = half the valid lifetime), and CGNAT port-block allocations (IPFIX NAT events and
/// Juniper syslog lines) — all consistent with the addresses of ``ISPModel``.
///
/// Events are produced window by window, like flows: ``events(from:to:)`` returns what happens in
/// [from, to). Everything that was true when the run starts (sessions up, blocks allocated,
/// leases held) is emitted at the start with its real, earlier event time.
///
/// ```swift
/// let plan = IdentityPlan(model: simulation.model)
/// let first = plan.events(from: c.startMilliseconds, to: c.startMilliseconds + 10_000)
/// for e in first.accounting { send(try RADIUSPacket.accountingRequest(identifier: …, attributes: e.record.attributes, secret: s)) }
/// ```
public struct IdentityPlan: Sendable {
    /// Timing of the identity systems.
    public struct Configuration: Sendable, Hashable {
        /// Interim-Update interval of every RADIUS session, seconds (RFC 2869 Acct-Interim-Interval; ≥ 60).
        public var interimIntervalSeconds: Int = 600
        /// DHCPv4 and DHCPv6 valid lifetime, seconds; clients renew at half of it.
        public var leaseLifetimeSeconds: Int = 7200
        public init() {}
    }

    /// Share of broadband lines on PPPoE (RADIUS); the rest use IPoE (DHCP). Mobile lines are always RADIUS.
    public static let pppoeFraction = 0.6
    /// The CGNAT box that logs port blocks (IPFIX NAT events and syslog).
    public static let cgnatLoggerAddress = IPAddress.v4(0xC613_FD01) // 198.19.253.1
    /// Syslog HOSTNAME of the CGNAT box.
    public static let cgnatLoggerHost = "cgnat1"
    /// Kea subnet IDs: 1 for DHCPv4 (broadband), 2 for DHCPv6 prefix delegation.
    public static let subnet4 = UInt32(1)
    public static let subnet6 = UInt32(2)

    public let model: ISPModel
    public let configuration: Configuration
    private let seed: UInt64

    public init(model: ISPModel, configuration: Configuration = .init()) {
        self.model = model
        var c = configuration
        c.interimIntervalSeconds = max(60, c.interimIntervalSeconds)
        c.leaseLifetimeSeconds = max(120, c.leaseLifetimeSeconds)
        self.configuration = c
        seed = model.configuration.seed
    }

    static let tagProvisioning: UInt64 = 0x1D_0001
    static let tagSession: UInt64 = 0x1D_0002

    /// The account of subscriber `id`: 8 digits from a bijection of the id (unique per run, depends on the seed).
    public static func account(subscriberId id: UInt32, seed: UInt64) -> String {
        let n = (UInt64(id) &* 48_271 &+ seed % 100_000_000) % 100_000_000 // 48271 is prime to 10^8
        let digits = String(n)
        return "cust-" + String(repeating: "0", count: 8 - digits.count) + digits
    }

    /// The BNG (broadband) or packet gateway (mobile) of a line: 198.19.252.1+i or .129+i, i = exporter index mod 100.
    public static func nasAddress(line: LineKind, exporterIndex: Int) -> IPAddress {
        .v4(0xC613_FC00 + UInt32(exporterIndex % 100) + (line == .mobile ? 129 : 1))
    }

    /// The identity of `subscriber`.
    public func identity(of s: Subscriber) -> SubscriberIdentity {
        Self.identity(of: s, seed: seed, start: model.configuration.startMilliseconds)
    }

    /// Provisioning and session start: the cheap part of an identity, decided first.
    static func timing(of s: Subscriber, seed: UInt64, start: Int64) -> (Provisioning, Int64) {
        var r = StableHash.generator(seed, tagProvisioning, UInt64(s.id))
        let radius = r.chance(pppoeFraction)
        let sessionStart = start - 1000 * Int64(r.below(7 * 86_400))
        return (s.line == .mobile || radius ? .radius : .dhcp, sessionStart)
    }

    static func identity(of s: Subscriber, seed: UInt64, start: Int64) -> SubscriberIdentity {
        let (provisioning, sessionStart) = timing(of: s, seed: seed, start: start)
        let macLow = s.id // ids up to 4,000,000 fit the 3 free octets: unique per line
        let octets: [UInt8] = [
            0x02, 0x00, 0x5E, UInt8(truncatingIfNeeded: macLow >> 16), UInt8(truncatingIfNeeded: macLow >> 8),
            UInt8(truncatingIfNeeded: macLow),
        ]
        func hex(_ b: UInt8) -> String {
            let h = String(b, radix: 16)
            return h.count == 1 ? "0" + h : h
        }
        let mac = octets.map(hex)
        let digits = String(s.id)
        let msisdn = "99990" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
        let session = StableHash.of(seed, tagSession, UInt64(s.id))
        return SubscriberIdentity(
            subscriberId: s.id, account: account(subscriberId: s.id, seed: seed), provisioning: provisioning,
            callingStationID: s.line == .mobile ? msisdn : mac.joined(separator: "-"),
            hardwareAddress: s.line == .mobile ? nil : mac.joined(separator: ":"),
            nasAddress: nasAddress(line: s.line, exporterIndex: Int(s.exporterIndex)),
            sessionID: String(session, radix: 16, uppercase: true), sessionStart: sessionStart)
    }

    /// One RADIUS accounting record to send at `time` from `nas`.
    public struct Accounting: Sendable, Hashable {
        public var time: Int64
        public var nas: IPAddress
        public var record: AccountingRecord
    }

    /// What the identity systems emit in one window, each list in time order.
    public struct Window: Sendable, Hashable {
        public var accounting: [Accounting] = []
        public var leases4: [KeaLeaseFile.Lease4] = []
        public var leases6: [KeaLeaseFile.Lease6] = []
        /// CGNAT port-block events (allocation at session start).
        public var portBlocks: [NATPortBlockEvent] = []
        public init() {}
    }

    /// The NAS boot time sent in Accounting-On: a day before the oldest possible session.
    public var nasBootMilliseconds: Int64 { model.configuration.startMilliseconds - 8 * 86_400_000 }

    /// A RADIUS session that ends during the run and comes back: Accounting-Stop at `stop`, a new
    /// session (new Acct-Session-Id, same addresses — the ISP assigns static addresses) with
    /// Accounting-Start at `restart`. Behind CGNAT the port block is released at `stop` and the
    /// same block allocated again at `restart`.
    public struct Reconnect: Sendable, Hashable {
        public var stop: Int64
        public var restart: Int64
        /// Acct-Terminate-Cause (RFC 2866 §5.10): 2 Lost-Carrier, 4 Idle-Timeout, 1 User-Request.
        public var terminateCause: UInt32
        /// Acct-Session-Id of the new session.
        public var sessionID: String
    }

    /// The reconnect of a RADIUS line during the run, if it has one (about 20 % of mobile lines and
    /// 5 % of broadband PPPoE lines, in runs of at least 30 minutes).
    public func reconnect(of s: Subscriber) -> Reconnect? {
        let c = model.configuration
        guard c.durationMilliseconds >= 1_800_000, Self.timing(of: s, seed: seed, start: c.startMilliseconds).0 == .radius else {
            return nil
        }
        var r = StableHash.generator(seed, Self.tagSession, UInt64(s.id), 2)
        guard r.chance(s.line == .mobile ? 0.2 : 0.05) else { return nil }
        let stop = c.startMilliseconds + 600_000 + r.int64(in: 0..<(c.durationMilliseconds - 1_200_000))
        let restart = stop + 2_000 + r.int64(in: 0..<28_000)
        let causes: [UInt32] = [2, 4, 1]
        let session = StableHash.of(seed, Self.tagSession, UInt64(s.id), 3)
        return Reconnect(
            stop: stop, restart: restart, terminateCause: causes[r.below(3)], sessionID: String(session, radix: 16, uppercase: true))
    }

    /// Everything that happens in [from, to) (plus, when `from` is the run's start, the state at the start).
    public func events(from: Int64, to: Int64) -> Window {
        var w = Window()
        let start = model.configuration.startMilliseconds
        let atStart = from <= start && start < to
        let interval = Int64(configuration.interimIntervalSeconds) * 1000
        let lifetime = Int64(configuration.leaseLifetimeSeconds) * 1000
        if atStart {
            var nases = Set<IPAddress>()
            for s in model.subscribers { nases.insert(Self.nasAddress(line: s.line, exporterIndex: Int(s.exporterIndex))) }
            for nas in nases.sorted() {
                var on = AccountingRecord(status: .accountingOn, eventTime: nasBootMilliseconds / 1000)
                on.nasIPAddress = nas
                w.accounting.append(Accounting(time: start, nas: nas, record: on))
            }
        }
        for s in model.subscribers {
            let (provisioning, sessionStart) = Self.timing(of: s, seed: seed, start: start)
            switch provisioning {
            case .radius:
                if atStart {
                    let id = identity(of: s)
                    w.accounting.append(Accounting(time: start, nas: id.nasAddress, record: record(.start, s, id, at: id.sessionStart)))
                }
                // Interim-Updates at sessionStart + k·interval (k ≥ 1) inside [from, to), for the
                // session held at the start (until its Stop) and for the one after a reconnect.
                let reconnect = reconnect(of: s)
                let first = identity(of: s)
                var sessions: [(SubscriberIdentity, Int64)] = [(first, reconnect?.stop ?? .max)]
                if let reconnect {
                    var second = first
                    second.sessionID = reconnect.sessionID
                    second.sessionStart = reconnect.restart
                    sessions.append((second, .max))
                    if from <= reconnect.stop && reconnect.stop < to {
                        var stop = record(.interimUpdate, s, first, at: reconnect.stop)
                        stop.status = .stop
                        stop.terminateCause = reconnect.terminateCause
                        w.accounting.append(Accounting(time: reconnect.stop, nas: first.nasAddress, record: stop))
                        if let block = s.portBlock {
                            w.portBlocks.append(
                                NATPortBlockEvent(
                                    kind: .release, timeMilliseconds: reconnect.stop, host: Self.cgnatLoggerHost,
                                    insideAddress: s.insideAddress,
                                    outsideAddress: s.publicAddress, firstPort: block.first, lastPort: block.last,
                                    allocatedAt: first.sessionStart / 1000))
                        }
                    }
                    if from <= reconnect.restart && reconnect.restart < to {
                        w.accounting.append(
                            Accounting(
                                time: reconnect.restart, nas: second.nasAddress, record: record(.start, s, second, at: reconnect.restart)))
                        if let block = s.portBlock {
                            w.portBlocks.append(
                                NATPortBlockEvent(
                                    kind: .allocate, timeMilliseconds: reconnect.restart, host: Self.cgnatLoggerHost,
                                    insideAddress: s.insideAddress,
                                    outsideAddress: s.publicAddress, firstPort: block.first, lastPort: block.last,
                                    allocatedAt: reconnect.restart / 1000))
                        }
                    }
                }
                for (id, until) in sessions {
                    var k = max(1, (max(from, start) - id.sessionStart + interval - 1) / interval)
                    while id.sessionStart + k * interval < min(to, until) {
                        let t = id.sessionStart + k * interval
                        w.accounting.append(Accounting(time: t, nas: id.nasAddress, record: record(.interimUpdate, s, id, at: t)))
                        k += 1
                    }
                }
            case .dhcp:
                // The lease held at the start (last renewed at cltt0), then renewals every T1 = lifetime / 2.
                let t1 = lifetime / 2
                let cltt0 = sessionStart + (start - sessionStart) / t1 * t1
                var times: [Int64] = atStart ? [cltt0] : []
                var j = max(1, (from - cltt0 + t1 - 1) / t1)
                while cltt0 + j * t1 < to {
                    times.append(cltt0 + j * t1)
                    j += 1
                }
                if !times.isEmpty {
                    let id = identity(of: s)
                    for cltt in times {
                        w.leases4.append(lease4(s, id, cltt: cltt))
                        if s.hasIPv6 { w.leases6.append(lease6(s, id, cltt: cltt)) }
                    }
                }
            }
            if atStart, let block = s.portBlock {
                w.portBlocks.append(
                    NATPortBlockEvent(
                        kind: .allocate, timeMilliseconds: sessionStart, host: Self.cgnatLoggerHost, insideAddress: s.insideAddress,
                        outsideAddress: s.publicAddress, firstPort: block.first, lastPort: block.last, allocatedAt: sessionStart / 1000))
            }
        }
        // Total orders, so equal seeds give equal output: time, Accounting-On first, then NAS and session.
        w.accounting.sort {
            let a = ($0.time, $0.record.status == .accountingOn ? 0 : 1, $0.nas, $0.record.sessionID)
            let b = ($1.time, $1.record.status == .accountingOn ? 0 : 1, $1.nas, $1.record.sessionID)
            return a < b
        }
        w.leases4.sort { ($0.expire, $0.address) < ($1.expire, $1.address) }
        w.leases6.sort { ($0.expire, $0.address) < ($1.expire, $1.address) }
        w.portBlocks.sort { ($0.timeMilliseconds, $0.insideAddress) < ($1.timeMilliseconds, $1.insideAddress) }
        return w
    }

    func record(_ status: AccountingStatusType, _ s: Subscriber, _ id: SubscriberIdentity, at t: Int64) -> AccountingRecord {
        var r = AccountingRecord(status: status, sessionID: id.sessionID, eventTime: t / 1000)
        r.userName = id.account
        r.callingStationID = id.callingStationID
        r.nasIPAddress = id.nasAddress
        r.nasPortType = s.line == .mobile ? 18 : 5 // Wireless-Other (packet gateway) / Virtual (PPPoE)
        r.framedPPP = s.line == .broadband
        r.framedIPAddress = s.insideAddress
        if let text = s.ipv6PrefixText, let p = IPPrefix(text) {
            if s.line == .mobile { r.framedIPv6Prefixes = [p] } else { r.delegatedIPv6Prefixes = [p] }
        }
        if status == .interimUpdate {
            let seconds = (t - id.sessionStart) / 1000
            r.sessionTime = UInt32(clamping: seconds)
            // Synthetic volume: a stable per-line rate, so counters only grow.
            let rate = 2_000 + StableHash.of(seed, Self.tagSession, UInt64(s.id), 1) % 200_000
            r.inputOctets = UInt64(seconds) * rate / 8
            r.outputOctets = UInt64(seconds) * rate
            r.inputPackets = UInt32(clamping: UInt64(seconds) * rate / 8 / 600)
            r.outputPackets = UInt32(clamping: UInt64(seconds) * rate / 1200)
        }
        return r
    }

    func lease4(_ s: Subscriber, _ id: SubscriberIdentity, cltt: Int64) -> KeaLeaseFile.Lease4 {
        var l = KeaLeaseFile.Lease4(
            address: s.insideAddress, hardwareAddress: id.hardwareAddress ?? "", validLifetime: UInt32(configuration.leaseLifetimeSeconds),
            expire: cltt / 1000 + Int64(configuration.leaseLifetimeSeconds), subnetID: Self.subnet4)
        l.clientID = "01:" + (id.hardwareAddress ?? "")
        l.userContext = "{ \"account\": \"\(id.account)\" }"
        return l
    }

    func lease6(_ s: Subscriber, _ id: SubscriberIdentity, cltt: Int64) -> KeaLeaseFile.Lease6 {
        let prefix = IPPrefix(s.ipv6PrefixText ?? "::/128")!
        var l = KeaLeaseFile.Lease6(
            address: prefix.network, duid: "00:03:00:01:" + (id.hardwareAddress ?? ""),
            validLifetime: UInt32(configuration.leaseLifetimeSeconds),
            expire: cltt / 1000 + Int64(configuration.leaseLifetimeSeconds), subnetID: Self.subnet6,
            preferredLifetime: UInt32(configuration.leaseLifetimeSeconds / 2),
            type: .prefix, iaid: 1, prefixLength: UInt8(prefix.length))
        l.hardwareAddress = id.hardwareAddress ?? ""
        l.hardwareType = 1
        l.hardwareAddressSource = 4 // Kea HWADDR_SOURCE_DUID: the MAC comes from the DUID-LL
        l.userContext = "{ \"account\": \"\(id.account)\" }"
        return l
    }

    /// IPFIX NAT events (RFC 8158 port block allocation, natEvent 16) for `blocks`, as flow records
    /// for ``FlowEncoding/NATEventEncoder``.
    public static func natEventRecords(_ blocks: [NATPortBlockEvent]) -> [FlowRecord] {
        blocks.map { b in
            var nat = NATFields()
            nat.event = b.kind == .release ? NATFields.portBlockDeallocation : NATFields.portBlockAllocation
            nat.postSourceAddress = b.outsideAddress
            nat.portRangeStart = b.firstPort
            nat.portRangeEnd = b.lastPort
            nat.portRangeStepSize = 1
            nat.portRangeNumPorts = b.lastPort - b.firstPort + 1
            return FlowRecord(
                exporter: cgnatLoggerAddress, sourceAddress: b.insideAddress, startMilliseconds: b.timeMilliseconds,
                endMilliseconds: b.timeMilliseconds, nat: nat)
        }
    }
}
