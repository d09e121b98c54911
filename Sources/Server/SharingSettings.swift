import Accounts
import Foundation
import STIX
import TAXII
import Yams

/// Sharing with other carriers (`sharing:`): the TAXII 2.1 server (`sharing.taxii`) and the
/// peers whose collections Mamori reads (`sharing.peers`); off unless configured.
public struct SharingSettings: Sendable, Equatable {
    public var taxii: TAXIISettings?
    public var peers: [SharingPeerSettings] = []
    /// MISP feeds Mamori reads indicators from (`sharing.misp_feeds`).
    public var mispFeeds: [MISPFeedSettings] = []
    /// What of Mamori's own findings is published to its TAXII server (nil: nothing).
    public var export: SharingExportSettings?
    /// Whether imported `domain-name` indicators enter the DNS sinkhole (nil: they do not).
    public var sinkhole: SharingSinkholeSettings?

    public init(taxii: TAXIISettings? = nil, peers: [SharingPeerSettings] = []) {
        self.taxii = taxii
        self.peers = peers
    }
}

/// Imported domain names into the DNS sinkhole (`sharing.sinkhole`; needs `sinkhole:`): every
/// `domain-name` indicator of a pulled peer or an imported file whose confidence is at least
/// `minimum_confidence` becomes a name entry of source `indicator` (feed `taxii:<peer>` or
/// `file:<name>`) until its `valid_until`, and leaves when the indicator is revoked, expires or
/// is no longer offered. The sinkhole's guards (popular and protected names) apply.
public struct SharingSinkholeSettings: Sendable, Equatable {
    /// 0–100; an indicator without a confidence counts as 0.
    public var minimumConfidence = 70

    public init(minimumConfidence: Int = 70) { self.minimumConfidence = minimumConfidence }
}

/// A MISP feed Mamori reads indicators from (`sharing.misp_feeds[]`): `manifest.json` and one
/// file per event, over HTTP(S), as MISP instances and CIRCL's OSINT feed publish them.
public struct MISPFeedSettings: Sendable, Equatable {
    /// The source of its indicators (`misp:<name>`): a-z, 0-9, '-', '_'; unique among peers and feeds.
    public var name: String
    /// The feed's base URL (where `manifest.json` is).
    public var url: String
    /// A file holding what to send as `Authorization` (a MISP auth key), if the feed asks for one.
    public var authorizationFile: String?
    public var pullMinutes = 60
    public var timeoutSeconds = 30
    public var maximumIndicators = 100_000
    /// Events fetched in one pull (the newest changed ones first; the rest at the next pull).
    public var maximumEventsPerPull = 500
    /// The confidence (0–100) given to its indicators: MISP attributes state none.
    public var confidence = 50

    public init(name: String, url: String) {
        self.name = name
        self.url = url
    }
}

/// A peer's TAXII 2.1 collection that Mamori reads indicators from (`sharing.peers[]`): an
/// ISAC's hub, another carrier. See `docs/taxii.md`.
public struct SharingPeerSettings: Sendable, Equatable {
    /// A name for logs, metrics and the source of its indicators (`isac`): a-z, 0-9, '-', '_'.
    public var name: String
    /// The API root's URL (`https://hub.example/api1/`).
    public var apiRoot: String
    /// The collection's id or alias.
    public var collection: String
    /// HTTP Basic: the account and a file holding its password (mode 0600); or a token file.
    public var user: String?
    public var passwordFile: String?
    public var tokenFile: String?
    /// How often to pull (minutes, ≥ 1).
    public var pullMinutes = 15
    public var timeoutSeconds = 30
    /// The most indicators kept from this peer.
    public var maximumIndicators = 100_000
    /// Whether what Mamori exports (`sharing.export`) is also added to this collection.
    public var push = false
    /// Whether to read this collection (false: a collection Mamori only pushes to).
    public var pull = true

    public init(name: String, apiRoot: String, collection: String) {
        self.name = name
        self.apiRoot = apiRoot
        self.collection = collection
    }
}

/// The TAXII 2.1 server inside `mamori serve` (`sharing.taxii`): one API root and its collections.
/// See `docs/taxii.md`.
public struct TAXIISettings: Sendable, Equatable {
    /// The API root's path segment (`/mamori/`): 1 to 64 of a–z, 0–9, `-` and `_`.
    public var apiRoot = "mamori"
    public var title = "Mamori"
    public var description: String?
    public var contact: String?
    /// The largest request body taken (the API root's `max_content_length`).
    public var maxContentLength = 10 * 1024 * 1024
    /// Objects in one posted envelope.
    public var maxObjectsPerRequest = 10_000
    /// Bytes of one object.
    public var maxObjectBytes = 256 * 1024
    /// Object versions one collection holds; past it additions fail (status `failures`).
    public var maxObjectsPerCollection = 100_000
    /// Page sizes: when a request names no `limit`, and the most a page holds.
    public var defaultPageSize = 500
    public var maxPageSize = 1_000
    /// Status resources are kept this long (and at most ``maxStatuses`` of them).
    public var statusRetentionSeconds = 7 * 86_400
    public var maxStatuses = 10_000
    public var collections: [Collection] = []

    public init() {}

    /// One collection and who may read and write it.
    public struct Collection: Sendable, Equatable {
        /// A UUID (lower-cased).
        public var id: String
        public var title: String
        public var description: String?
        /// A short name, unique on the API root; ``TAXIIService/publish(collection:objects:now:)`` takes it too.
        public var alias: String?
        /// Who may read and write: account names, or `role:viewer`, `role:analyst`, `role:admin`
        /// (every account of that role or above). The caller also needs `read_shared` /
        /// `write_shared` (its role, narrowed by its token's scope).
        public var read: [Grantee] = []
        public var write: [Grantee] = []

        public init(
            id: String, title: String, description: String? = nil, alias: String? = nil, read: [Grantee] = [], write: [Grantee] = []
        ) {
            self.id = id
            self.title = title
            self.description = description
            self.alias = alias
            self.read = read
            self.write = write
        }

        /// Whether `principal` may read this collection.
        func mayRead(_ principal: Principal) -> Bool { principal.may(.readShared) && read.contains { $0.includes(principal) } }
        /// Whether `principal` may add objects to (and delete revoked objects from) this collection.
        func mayWrite(_ principal: Principal) -> Bool { principal.may(.writeShared) && write.contains { $0.includes(principal) } }
    }

    /// An entry of a collection's `read` or `write` list.
    public enum Grantee: Sendable, Hashable, CustomStringConvertible {
        /// One operator account, by name (its password or any of its tokens).
        case account(String)
        /// Every account of this role or above.
        case role(Role)

        /// `role:analyst` or an account name; nil for anything else.
        public init?(_ text: String) {
            if text.hasPrefix("role:") {
                guard let r = Role(rawValue: String(text.dropFirst(5))) else { return nil }
                self = .role(r)
            } else {
                guard OperatorAccount.isValidName(text) else { return nil }
                self = .account(text)
            }
        }

        func includes(_ principal: Principal) -> Bool {
            switch self {
            case .account(let name): principal.name == name
            case .role(let r): principal.role >= r
            }
        }

        public var description: String {
            switch self {
            case .account(let name): name
            case .role(let r): "role:\(r.rawValue)"
            }
        }
    }
}

extension SharingSettings {
    /// Parses the `sharing:` mapping.
    static func parse(_ v: YAMLValue) throws(ConfigurationError) -> SharingSettings {
        var s = SharingSettings()
        let m = try YAMLMap(v.node, context: "sharing")
        try m.allowOnly(["taxii", "peers", "export", "sinkhole", "misp_feeds"])
        if let x = m["sinkhole"] {
            let e = try YAMLMap(x.node, context: "sharing.sinkhole")
            try e.allowOnly(["minimum_confidence"])
            var settings = SharingSinkholeSettings()
            if let c = e["minimum_confidence"] { settings.minimumConfidence = try c.int(in: 0...100) }
            s.sinkhole = settings
        }
        if let x = m["export"] {
            let e = try YAMLMap(x.node, context: "sharing.export")
            try e.allowOnly(["collection", "organisation", "tlp", "valid_days", "reflectors"])
            guard let c = e["collection"], let o = e["organisation"] else {
                throw x.error(
                    "sharing.export needs a 'collection' (of sharing.taxii.collections) and an 'organisation' (the carrier's name as peers know it)"
                )
            }
            var export = SharingExportSettings(collection: try c.string(), organisation: try o.string())
            if let t = e["tlp"] {
                export.tlp = try t.string()
                guard TLP(label: export.tlp) != nil else {
                    throw t.error("sharing.export.tlp must be clear, green, amber, amber+strict or red; got '\(export.tlp)'")
                }
            }
            if let d = e["valid_days"] { export.validDays = try d.int(in: 1...3650) }
            if let r = e["reflectors"] { export.reflectors = try r.bool() }
            s.export = export
        }
        if let t = m["taxii"] { s.taxii = try TAXIISettings.parse(t) }
        if let p = m["peers"] {
            guard case .sequence(let seq) = p.node else { throw p.error("sharing.peers must be a list") }
            for item in seq {
                let e = try YAMLMap(item, context: "a sharing peer")
                try e.allowOnly([
                    "name", "api_root", "collection", "user", "password_file", "token_file", "pull_minutes", "timeout_seconds",
                    "max_indicators", "push", "pull",
                ])
                guard let name = e["name"], let root = e["api_root"], let collection = e["collection"] else {
                    throw ConfigurationError(
                        line: item.mark?.line, "a sharing peer needs a 'name', an 'api_root' (its TAXII API root's URL) and a 'collection'")
                }
                let n = try name.string()
                guard (1...64).contains(n.utf8.count), n.utf8.allSatisfy({ TAXIISettings.isPathByte($0) }) else {
                    throw name.error("a sharing peer's name must be 1 to 64 of a-z, 0-9, '-' and '_'; got '\(n)'")
                }
                let url = try root.string()
                guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""), parsed.host != nil
                else {
                    throw root.error("sharing.peers (\(n)).api_root must be an http(s) URL; got '\(url)'")
                }
                var peer = SharingPeerSettings(name: n, apiRoot: url, collection: try collection.string())
                if let x = e["user"] { peer.user = try x.string() }
                if let x = e["password_file"] { peer.passwordFile = try x.string() }
                if let x = e["token_file"] { peer.tokenFile = try x.string() }
                if (peer.user == nil) != (peer.passwordFile == nil) || (peer.passwordFile != nil && peer.tokenFile != nil) {
                    throw ConfigurationError(
                        line: item.mark?.line,
                        "sharing.peers (\(n)): give user and password_file (HTTP Basic), or token_file, or neither")
                }
                if let x = e["pull_minutes"] { peer.pullMinutes = try x.int(in: 1...10_080) }
                if let x = e["timeout_seconds"] { peer.timeoutSeconds = try x.int(in: 1...600) }
                if let x = e["max_indicators"] { peer.maximumIndicators = try x.int(in: 1...1_000_000) }
                if let x = e["push"] { peer.push = try x.bool() }
                if let x = e["pull"] { peer.pull = try x.bool() }
                guard !s.peers.contains(where: { $0.name == n }) else { throw name.error("the sharing peer '\(n)' is listed twice") }
                s.peers.append(peer)
            }
        }
        if let f = m["misp_feeds"] {
            guard case .sequence(let seq) = f.node else { throw f.error("sharing.misp_feeds must be a list") }
            for item in seq {
                let e = try YAMLMap(item, context: "a MISP feed")
                try e.allowOnly([
                    "name", "url", "authorization_file", "pull_minutes", "timeout_seconds", "max_indicators", "max_events_per_pull",
                    "confidence",
                ])
                guard let name = e["name"], let url = e["url"] else {
                    throw ConfigurationError(line: item.mark?.line, "a MISP feed needs a 'name' and a 'url' (where its manifest.json is)")
                }
                let n = try name.string()
                guard (1...64).contains(n.utf8.count), n.utf8.allSatisfy({ TAXIISettings.isPathByte($0) }) else {
                    throw name.error("a MISP feed's name must be 1 to 64 of a-z, 0-9, '-' and '_'; got '\(n)'")
                }
                guard !s.peers.contains(where: { $0.name == n }), !s.mispFeeds.contains(where: { $0.name == n }) else {
                    throw name.error("'\(n)' names another sharing peer or MISP feed")
                }
                let u = try url.string()
                guard let parsed = URL(string: u), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""), parsed.host != nil else {
                    throw url.error("sharing.misp_feeds (\(n)).url must be an http(s) URL; got '\(u)'")
                }
                var feed = MISPFeedSettings(name: n, url: u)
                if let x = e["authorization_file"] { feed.authorizationFile = try x.string() }
                if let x = e["pull_minutes"] { feed.pullMinutes = try x.int(in: 1...10_080) }
                if let x = e["timeout_seconds"] { feed.timeoutSeconds = try x.int(in: 1...600) }
                if let x = e["max_indicators"] { feed.maximumIndicators = try x.int(in: 1...1_000_000) }
                if let x = e["max_events_per_pull"] { feed.maximumEventsPerPull = try x.int(in: 1...100_000) }
                if let x = e["confidence"] { feed.confidence = try x.int(in: 0...100) }
                s.mispFeeds.append(feed)
            }
        }
        return s
    }
}

extension TAXIISettings {
    /// Parses `sharing.taxii`.
    static func parse(_ v: YAMLValue) throws(ConfigurationError) -> TAXIISettings {
        var s = TAXIISettings()
        let m = try YAMLMap(v.node, context: "sharing.taxii")
        try m.allowOnly([
            "api_root", "title", "description", "contact", "max_content_length", "max_objects_per_request", "max_object_bytes",
            "max_objects_per_collection", "default_page_size", "max_page_size", "status_retention_days", "max_statuses", "collections",
        ])
        if let x = m["api_root"] {
            let root = try x.string()
            guard (1...64).contains(root.utf8.count), root.utf8.allSatisfy({ Self.isPathByte($0) }), root != "taxii2", root != "api" else {
                throw x.error("sharing.taxii.api_root must be 1 to 64 of a-z, 0-9, '-' and '_' (not taxii2 or api); got '\(root)'")
            }
            s.apiRoot = root
        }
        if let x = m["title"] { s.title = try x.string() }
        if let x = m["description"] { s.description = try x.string() }
        if let x = m["contact"] { s.contact = try x.string() }
        if let x = m["max_content_length"] { s.maxContentLength = try x.int(in: 1_024...(256 * 1024 * 1024)) }
        if let x = m["max_objects_per_request"] { s.maxObjectsPerRequest = try x.int(in: 1...100_000) }
        if let x = m["max_object_bytes"] { s.maxObjectBytes = try x.int(in: 256...(16 * 1024 * 1024)) }
        if let x = m["max_objects_per_collection"] { s.maxObjectsPerCollection = try x.int(in: 1...10_000_000) }
        if let x = m["max_page_size"] { s.maxPageSize = try x.int(in: 1...10_000) }
        if let x = m["default_page_size"] { s.defaultPageSize = try x.int(in: 1...s.maxPageSize) }
        s.defaultPageSize = min(s.defaultPageSize, s.maxPageSize)
        if let x = m["status_retention_days"] { s.statusRetentionSeconds = try x.int(in: 1...3650) * 86_400 }
        if let x = m["max_statuses"] { s.maxStatuses = try x.int(in: 1...1_000_000) }
        if let c = m["collections"] {
            guard case .sequence(let seq) = c.node else { throw c.error("sharing.taxii.collections must be a list") }
            for item in seq {
                let e = try YAMLMap(item, context: "a TAXII collection")
                try e.allowOnly(["id", "title", "description", "alias", "read", "write"])
                guard let idValue = e["id"], let titleValue = e["title"] else {
                    throw ConfigurationError(line: item.mark?.line, "a TAXII collection needs an 'id' (a UUID) and a 'title'")
                }
                let id = try idValue.string().lowercased()
                guard TAXIICandidate.isValidID("x--" + id, type: "x") else {
                    throw idValue.error("a collection's id must be a UUID; got '\(id)'")
                }
                var collection = Collection(id: id, title: try titleValue.string())
                if let x = e["description"] { collection.description = try x.string() }
                if let x = e["alias"] {
                    let alias = try x.string()
                    guard (1...64).contains(alias.utf8.count), alias.utf8.allSatisfy({ Self.isPathByte($0) }) else {
                        throw x.error("a collection's alias must be 1 to 64 of a-z, 0-9, '-' and '_'; got '\(alias)'")
                    }
                    collection.alias = alias
                }
                for (key, path) in [("read", \Collection.read), ("write", \Collection.write)] {
                    guard let x = e[key] else { continue }
                    var grantees: [Grantee] = []
                    for text in try x.strings() {
                        guard let g = Grantee(text) else {
                            throw x.error(
                                "\(key): '\(text)' is neither an account name nor role:peer, role:viewer, role:analyst or role:admin")
                        }
                        grantees.append(g)
                    }
                    collection[keyPath: path] = grantees
                }
                guard !s.collections.contains(where: { $0.id == collection.id }) else {
                    throw idValue.error("collection \(collection.id) is listed twice")
                }
                if let alias = collection.alias, s.collections.contains(where: { $0.alias == alias || $0.id == alias }) {
                    throw ConfigurationError(line: item.mark?.line, "the alias '\(alias)' is used twice")
                }
                s.collections.append(collection)
            }
        }
        return s
    }

    static func isPathByte(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "-")
            || b == UInt8(ascii: "_")
    }
}
