import FlowCodec

/// A route Mamori originates — a black-hole host route or a FlowSpec rule — with the attributes
/// it is announced with. Each route goes in its own UPDATE, so one route's rejection never takes
/// another with it, and no UPDATE comes near the 4096-octet limit.
public struct BGPRoute: Sendable, Hashable, CustomStringConvertible {
    public var nlri: BGPNLRI
    /// The next hop of a unicast route (RTBH: the address the carrier's routers send to a
    /// discard interface). FlowSpec routes have none (RFC 8955 §4: next-hop length 0).
    public var nextHop: IPAddress?
    public var communities: [BGPCommunity]
    public var extendedCommunities: [BGPExtendedCommunity]
    public var largeCommunities: [BGPLargeCommunity]
    /// LOCAL_PREF, sent to internal peers only.
    public var localPreference: UInt32

    public init(
        nlri: BGPNLRI, nextHop: IPAddress? = nil, communities: [BGPCommunity] = [], extendedCommunities: [BGPExtendedCommunity] = [],
        largeCommunities: [BGPLargeCommunity] = [], localPreference: UInt32 = 100
    ) {
        self.nlri = nlri
        self.nextHop = nextHop
        self.communities = communities
        self.extendedCommunities = extendedCommunities
        self.largeCommunities = largeCommunities
        self.localPreference = localPreference
    }

    public var family: BGPFamily { nlri.family }

    public var description: String {
        var parts = [nlri.description]
        if let nextHop { parts.append("next hop \(nextHop)") }
        if !communities.isEmpty { parts.append("communities \(communities.map(\.description).joined(separator: " "))") }
        if !extendedCommunities.isEmpty {
            parts.append("extended \(extendedCommunities.map(\.description).joined(separator: " "))")
        }
        if !largeCommunities.isEmpty { parts.append("large \(largeCommunities.map(\.description).joined(separator: " "))") }
        return parts.joined(separator: ", ")
    }

    /// The UPDATE that announces this route to a peer. `external`: an eBGP session (our AS is
    /// prepended and LOCAL_PREF left out); internal peers get an empty AS_PATH and LOCAL_PREF.
    public func announcement(localAS: UInt32, external: Bool) -> BGPUpdate {
        var a = BGPPathAttributes(
            origin: .igp, asPath: external ? [.sequence([localAS])] : [], localPreference: external ? nil : localPreference,
            communities: communities.sorted(), extendedCommunities: extendedCommunities.sorted(),
            largeCommunities: largeCommunities.sorted())
        switch nlri {
        case .prefix(let p) where p.isIPv4:
            a.nextHop = nextHop
            return BGPUpdate(attributes: a, nlri: [p])
        case .prefix:
            a.reach = BGPReach(family: family, nextHop: nextHop?.ipv6Bytes ?? [], nlri: [nlri])
        case .flowSpec:
            a.reach = BGPReach(family: family, nextHop: [], nlri: [nlri])
        }
        return BGPUpdate(attributes: a)
    }

    /// The UPDATE that withdraws this route.
    public var withdrawal: BGPUpdate {
        switch nlri {
        case .prefix(let p) where p.isIPv4: BGPUpdate(withdrawn: [p])
        default: BGPUpdate(attributes: BGPPathAttributes(unreach: BGPUnreach(family: family, withdrawn: [nlri])))
        }
    }
}
