import FlowCodec

/// How a subscriber line gets its addresses, and so which identity system knows who it is.
public enum Provisioning: String, Sendable, Hashable, Codable {
    /// PPPoE broadband or a mobile data session: the BNG / packet gateway sends RADIUS accounting.
    case radius
    /// IPoE broadband: DHCPv4 lease (and DHCPv6 prefix delegation) from Kea.
    case dhcp
}

/// Who a line is in the carrier's identity systems.
public struct SubscriberIdentity: Sendable, Hashable {
    public var subscriberId: UInt32
    /// The customer account, e.g. `cust-04827100` (User-Name in RADIUS, user context in Kea).
    public var account: String
    public var provisioning: Provisioning
    /// Calling-Station-Id: the CPE's MAC (`02-00-5e-…`, locally administered, fictional) on broadband,
    /// an MSISDN in the unassigned E.164 country code 999 (fictional) on mobile.
    public var callingStationID: String
    /// The CPE's MAC as Kea writes it (`02:00:5e:…`); nil on mobile.
    public var hardwareAddress: String?
    /// The BNG or packet gateway (198.19.252.0/24) that holds the session.
    public var nasAddress: IPAddress
    /// Acct-Session-Id of the current session.
    public var sessionID: String
    /// When the current session (and its CGNAT port block, DHCP lease) began, ms since the Unix epoch;
    /// up to 7 days before the simulation starts. Addresses do not change during a run.
    public var sessionStart: Int64
}
