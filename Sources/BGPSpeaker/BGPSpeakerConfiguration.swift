import BGPWire
import FlowCodec

/// Who Mamori speaks BGP to, and as whom.
public struct BGPSpeakerConfiguration: Sendable, Hashable {
    /// Mamori's AS (a 4-octet AS is sent as AS_TRANS in OPEN's My AS, RFC 6793).
    public var localAS: UInt32
    /// The BGP identifier, written as an IPv4 address (`192.0.2.1`).
    public var routerID: UInt32
    public var neighbors: [BGPNeighborConfiguration]
    /// The first retry after a failed or lost session; doubled up to ``retryMaximum``.
    public var retryInitial: Duration
    public var retryMaximum: Duration
    /// How long a TCP connection attempt may take.
    public var connectTimeout: Duration
    /// Graceful restart (RFC 4724) offered to every neighbour: how long (seconds, 1–4095) a
    /// neighbour may keep Mamori's routes while it restarts; nil: not offered.
    public var gracefulRestartTime: UInt16?

    public init(
        localAS: UInt32, routerID: UInt32, neighbors: [BGPNeighborConfiguration], retryInitial: Duration = .seconds(1),
        retryMaximum: Duration = .seconds(60), connectTimeout: Duration = .seconds(5), gracefulRestartTime: UInt16? = nil
    ) {
        self.gracefulRestartTime = gracefulRestartTime
        self.localAS = localAS
        self.routerID = routerID
        self.neighbors = neighbors
        self.retryInitial = retryInitial
        self.retryMaximum = retryMaximum
        self.connectTimeout = connectTimeout
    }

    /// `192.0.2.1` as a BGP identifier; nil for anything but a dotted-quad IPv4 address.
    public static func routerID(_ text: String) -> UInt32? {
        guard let address = IPAddress(text), let v4 = address.ipv4 else { return nil }
        return v4
    }
}

/// One BGP neighbour: a router or route reflector Mamori connects to. Mamori opens the TCP
/// connection (it does not listen on port 179), so the router's side is configured passive or
/// simply accepts from Mamori's address.
public struct BGPNeighborConfiguration: Sendable, Hashable {
    /// A name for logs, metrics and the API (`edge-1`).
    public var name: String
    /// The neighbour's address (IPv4 or IPv6).
    public var address: String
    public var port: Int
    public var peerAS: UInt32
    /// The source address Mamori connects from (the address the router has configured for it);
    /// nil: the kernel's choice.
    public var localAddress: String?
    /// The hold time Mamori proposes (0: no keepalives; otherwise at least 3 s).
    public var holdTime: UInt16
    /// The families Mamori offers; the session carries those the neighbour offers too.
    public var families: [BGPFamily]
    /// The TCP MD5 signature key (RFC 2385) the router has for this session, 1–80 octets; nil: none.
    public var md5Password: String?

    public init(
        name: String, address: String, port: Int = 179, peerAS: UInt32, localAddress: String? = nil, holdTime: UInt16 = 90,
        families: [BGPFamily] = BGPFamily.supported, md5Password: String? = nil
    ) {
        self.md5Password = md5Password
        self.name = name
        self.address = address
        self.port = port
        self.peerAS = peerAS
        self.localAddress = localAddress
        self.holdTime = holdTime
        self.families = families
    }

    /// `edge-1 (192.0.2.10:179, AS 65000)`.
    public var label: String { "\(name) (\(address):\(port), AS \(peerAS))" }
}
