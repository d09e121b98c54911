import FlowCodec

/// The kind of access line a subscriber has.
public enum LineKind: String, Sendable, Hashable, Codable {
    case broadband
    case mobile
}

/// What a device in a household is; it decides which services (and which botnets) it uses.
public enum DeviceKind: String, Sendable, Hashable, Codable, CaseIterable {
    case homeRouter = "home-router"
    case pc
    case phone
    case tv
    case camera = "iot-camera"
}

/// A CGNAT port block: the ports of the shared public address that belong to one subscriber.
public struct PortBlock: Sendable, Hashable, Codable {
    public var first: UInt16
    public var last: UInt16
    public func contains(_ port: UInt16) -> Bool { port >= first && port <= last }
}

/// One subscriber line, stored compactly (32 bytes) so a million fit in memory.
public struct Subscriber: Sendable, Hashable {
    public let id: UInt32
    public let line: LineKind
    /// Devices in the household, home router included (a mobile line has one phone).
    public let deviceCount: UInt8
    /// Index of the exporter (border router) that carries this line's traffic.
    public let exporterIndex: UInt8
    let insideV4: UInt32
    let publicV4: UInt32
    /// First port of the CGNAT block; 0 when the line has its own public address.
    let portBlockStart: UInt16
    /// High 64 bits of the IPv6 prefix (/56 broadband, /64 mobile); 0 when the line has no IPv6.
    let ipv6Prefix: UInt64

    /// The address the ISP assigns to the line: in 100.64.0.0/10 behind CGNAT, else public.
    public var insideAddress: IPAddress { .v4(insideV4) }
    /// The address the line's IPv4 traffic has on the Internet side (after CGNAT).
    public var publicAddress: IPAddress { .v4(publicV4) }
    public var isBehindCGNAT: Bool { portBlockStart != 0 }
    public var portBlock: PortBlock? {
        isBehindCGNAT ? PortBlock(first: portBlockStart, last: portBlockStart + (AddressPlan.portBlockSize - 1)) : nil
    }
    public var hasIPv6: Bool { ipv6Prefix != 0 }
    /// The delegated prefix as text, e.g. `2001:db8:0:100::/56`.
    public var ipv6PrefixText: String? {
        hasIPv6 ? "\(IPAddress.v6(high: ipv6Prefix, low: 0))/\(line == .mobile ? 64 : 56)" : nil
    }
}

/// The simulated ISP: subscribers, their lines and addresses (CGNAT, IPv6), their devices.
///
/// Built deterministically from a seed; the same configuration always builds the same ISP.
///
/// ```swift
/// let model = try ISPModel(configuration: .init(seed: 7, subscribers: 5000))
/// print(model.subscribers[0].publicAddress, model.subscribers[0].portBlock as Any)
/// ```
public struct ISPModel: Sendable {
    public let configuration: Configuration
    public let subscribers: [Subscriber]
    /// Public IPv4 addresses used as the CGNAT pool (198.18.0.0 upwards).
    public let cgnatPoolAddresses: Int

    public init(configuration: Configuration) throws(SimulationConfigurationError) {
        try configuration.validate()
        self.configuration = configuration
        let seed = configuration.seed
        // First pass: decide each line's kind, addressing and household size.
        struct Draft {
            var line: LineKind
            var ownPublic: Bool
            var ipv6: Bool
            var devices: UInt8
        }
        var drafts: [Draft] = []
        drafts.reserveCapacity(configuration.subscribers)
        var cgnatCount = 0
        for id in 0..<configuration.subscribers {
            var r = StableHash.generator(seed, Tag.subscriber, UInt64(id))
            let mobile = r.chance(configuration.mobileFraction)
            let ownPublic = !mobile && r.chance(configuration.publicIPv4Fraction)
            let ipv6 = r.chance(configuration.ipv6Fraction)
            let devices = mobile ? 1 : 2 + r.below(5)
            if !ownPublic { cgnatCount += 1 }
            drafts.append(Draft(line: mobile ? .mobile : .broadband, ownPublic: ownPublic, ipv6: ipv6, devices: UInt8(devices)))
        }
        let per = AddressPlan.subscribersPerCGNATAddress
        let poolAddresses = (cgnatCount + per - 1) / per
        guard poolAddresses <= AddressPlan.cgnatPoolCapacity, configuration.subscribers - cgnatCount <= AddressPlan.ownAddressCapacity,
            cgnatCount <= AddressPlan.cgnatInsideCapacity
        else {
            throw SimulationConfigurationError(
                "\(configuration.subscribers) subscribers do not fit the ISP's address plan (198.18.0.0/15): lower --subscribers or the public IPv4 fraction"
            )
        }
        cgnatPoolAddresses = poolAddresses
        // Second pass: assign addresses in id order (deterministic NAT: 64 consecutive CGNAT lines share an address).
        var list: [Subscriber] = []
        list.reserveCapacity(drafts.count)
        var cgnatIndex = 0
        var publicIndex = 0
        for (i, d) in drafts.enumerated() {
            let id = UInt32(i)
            let inside: UInt32
            let outside: UInt32
            var blockStart: UInt16 = 0
            if d.ownPublic {
                outside = AddressPlan.ownAddressBase + UInt32(publicIndex)
                inside = outside
                publicIndex += 1
            } else {
                inside = AddressPlan.cgnatInsideBase + 1 + UInt32(cgnatIndex)
                outside = AddressPlan.publicBase + UInt32(cgnatIndex / per)
                blockStart = AddressPlan.firstBlockPort + UInt16(cgnatIndex % per) * AddressPlan.portBlockSize
                cgnatIndex += 1
            }
            let exporter = UInt8(StableHash.of(seed, Tag.exporter, UInt64(outside)) % UInt64(configuration.exporters))
            let prefix: UInt64 =
                d.ipv6 ? (d.line == .mobile ? AddressPlan.mobilePrefix(subscriber: id) : AddressPlan.broadbandPrefix(subscriber: id)) : 0
            list.append(
                Subscriber(
                    id: id, line: d.line, deviceCount: d.devices, exporterIndex: exporter, insideV4: inside, publicV4: outside,
                    portBlockStart: blockStart, ipv6Prefix: prefix))
        }
        subscribers = list
    }

    /// The kind of device `index` of `subscriber` (index 0 of a broadband household is its home router).
    public func deviceKind(_ subscriber: Subscriber, _ index: Int) -> DeviceKind {
        if subscriber.line == .mobile { return .phone }
        if index == 0 { return .homeRouter }
        let roll = StableHash.of(configuration.seed, Tag.deviceKind, UInt64(subscriber.id), UInt64(index)) % 100
        switch roll {
        case ..<25: return .pc
        case ..<60: return .phone
        case ..<78: return .tv
        default: return .camera
        }
    }

    /// The device's IPv6 address (prefix + a stable random interface ID), or nil without IPv6.
    /// Cameras and home routers' own traffic stay on IPv4.
    public func deviceIPv6(_ subscriber: Subscriber, _ index: Int) -> IPAddress? {
        guard subscriber.hasIPv6 else { return nil }
        let kind = deviceKind(subscriber, index)
        guard kind != .camera && kind != .homeRouter else { return nil }
        let iid = StableHash.of(configuration.seed, Tag.interfaceID, UInt64(subscriber.id), UInt64(index)) | 1
        return .v6(high: subscriber.ipv6Prefix, low: iid)
    }

    /// A source port for a new outbound IPv4 connection, as the CGNAT (or the host, for a public
    /// line) would choose it: inside the port block behind CGNAT, in 32768–60999 otherwise.
    func sourcePort(_ subscriber: Subscriber, _ random: UInt64) -> UInt16 {
        if subscriber.portBlockStart != 0 {
            return subscriber.portBlockStart + UInt16(random % UInt64(AddressPlan.portBlockSize))
        }
        return 32768 + UInt16(random % 28232)
    }
}

/// Stream tags: separate random streams per kind of decision.
enum Tag {
    static let subscriber: UInt64 = 1
    static let exporter: UInt64 = 2
    static let deviceKind: UInt64 = 3
    static let interfaceID: UInt64 = 4
    static let web: UInt64 = 10
    static let video: UInt64 = 11
    static let games: UInt64 = 12
    static let ntp: UInt64 = 13
    static let push: UInt64 = 14
    static let update: UInt64 = 15
    static let camera: UInt64 = 16
    static let messaging: UInt64 = 17
    static let bitTorrent: UInt64 = 18
    static let bitTorrentSwarm: UInt64 = 19
    static let ssdp: UInt64 = 20
    static let mdns: UInt64 = 21
    static let publicNTP: UInt64 = 22
    static let console: UInt64 = 23
    static let infection: UInt64 = 30
    static let bot: UInt64 = 31
    static let scan: UInt64 = 32
    static let attack: UInt64 = 33
    static let peerToPeer: UInt64 = 34
    static let spread: UInt64 = 35
    static let irc: UInt64 = 36
    static let slowScan: UInt64 = 37
    static let icmpFlood: UInt64 = 38
    static let singleSYNFlood: UInt64 = 39
    static let sampling: UInt64 = 40
}

/// Why a simulation cannot be built from a configuration.
public struct SimulationConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
