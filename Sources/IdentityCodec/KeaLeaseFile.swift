import FlowCodec

/// ISC Kea's memfile lease files (`kea-leases4.csv`, `kea-leases6.csv`): CSV with a header row,
/// one row per lease *change* appended as it happens (the last row for an address wins; a row
/// with `valid_lifetime` 0 or a state other than default means the lease is gone), compacted
/// now and then by Kea's LFC process.
///
/// Columns follow Kea 2.6 (`src/lib/dhcpsrv/csv_lease_file4.cc` and `csv_lease_file6.cc`,
/// schema with `pool_id`, added in Kea 2.5); the parser maps columns by the header, so files of
/// older Kea versions (fewer columns) read too. Times: `expire` is Unix seconds and
/// `expire − valid_lifetime` is the client's last transmission time (cltt). Commas inside
/// text fields are written as `&#x2c`, as Kea does.
public enum KeaLeaseFile {
    /// The header Kea 2.6 writes for DHCPv4 leases.
    public static let header4 =
        "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context,pool_id"
    /// The header Kea 2.6 writes for DHCPv6 leases.
    public static let header6 =
        "address,duid,valid_lifetime,expire,subnet_id,pref_lifetime,lease_type,iaid,prefix_len,fqdn_fwd,fqdn_rev,hostname,hwaddr,state,user_context,hwtype,hwaddr_source,pool_id"

    /// Lease states (Kea `Lease::STATE_*`).
    public struct State: Sendable, Hashable, RawRepresentable, CustomStringConvertible {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// In use (or, with valid_lifetime 0, deleted).
        public static let `default` = State(rawValue: 0)
        public static let declined = State(rawValue: 1)
        public static let expiredReclaimed = State(rawValue: 2)
        public static let released = State(rawValue: 3)
        public var description: String {
            switch rawValue {
            case 0: return "default"
            case 1: return "declined"
            case 2: return "expired-reclaimed"
            case 3: return "released"
            default: return "state-\(rawValue)"
            }
        }
    }

    /// A DHCPv4 lease row.
    public struct Lease4: Sendable, Hashable {
        public var address: IPAddress
        /// Client MAC, `aa:bb:cc:dd:ee:ff`.
        public var hardwareAddress: String
        /// Client identifier (option 61) as colon-separated hex, or empty.
        public var clientID: String = ""
        /// Seconds.
        public var validLifetime: UInt32
        /// Unix seconds: cltt + valid lifetime.
        public var expire: Int64
        public var subnetID: UInt32
        public var fqdnForward: Bool = false
        public var fqdnReverse: Bool = false
        public var hostname: String = ""
        public var state: State = .default
        /// JSON text, or empty.
        public var userContext: String = ""
        public var poolID: UInt32 = 0

        public init(address: IPAddress, hardwareAddress: String, validLifetime: UInt32, expire: Int64, subnetID: UInt32) {
            self.address = address
            self.hardwareAddress = hardwareAddress
            self.validLifetime = validLifetime
            self.expire = expire
            self.subnetID = subnetID
        }

        /// Client last transmission time, Unix seconds.
        public var clientLastTransmission: Int64 { expire &- Int64(validLifetime) }
        /// Whether the lease holds `address` at `unixSeconds` (in the default state and not expired).
        public func isActive(at unixSeconds: Int64) -> Bool {
            state == .default && validLifetime > 0 && unixSeconds >= clientLastTransmission && unixSeconds < expire
        }

        /// The CSV row (no newline).
        public var row: String {
            [
                "\(address)", hardwareAddress, clientID, "\(validLifetime)", "\(expire)", "\(subnetID)", fqdnForward ? "1" : "0",
                fqdnReverse ? "1" : "0",
                escape(hostname), "\(state.rawValue)", escape(userContext), "\(poolID)",
            ].joined(separator: ",")
        }
    }

    /// DHCPv6 lease types (Kea `Lease::Type`).
    public enum LeaseType: UInt8, Sendable, Hashable {
        /// IA_NA: a non-temporary address.
        case address = 0
        /// IA_TA: a temporary address.
        case temporaryAddress = 1
        /// IA_PD: a delegated prefix (`prefix_len` says how long).
        case prefix = 2
    }

    /// A DHCPv6 lease row.
    public struct Lease6: Sendable, Hashable {
        /// The address, or the first address of a delegated prefix.
        public var address: IPAddress
        /// Client DUID as colon-separated hex.
        public var duid: String
        public var validLifetime: UInt32
        /// Unix seconds: cltt + valid lifetime.
        public var expire: Int64
        public var subnetID: UInt32
        public var preferredLifetime: UInt32
        public var type: LeaseType
        public var iaid: UInt32
        /// 128 for addresses; the delegated length (e.g. 56) for IA_PD.
        public var prefixLength: UInt8
        public var fqdnForward: Bool = false
        public var fqdnReverse: Bool = false
        public var hostname: String = ""
        /// Client MAC, if known.
        public var hardwareAddress: String = ""
        public var state: State = .default
        public var userContext: String = ""
        /// Hardware type of `hardwareAddress` (1 = Ethernet); nil writes an empty column.
        public var hardwareType: UInt16? = nil
        /// Where Kea learned the MAC (Kea `HWAddr::HWADDR_SOURCE_*`; 4 = from the DUID); nil writes empty.
        public var hardwareAddressSource: UInt32? = nil
        public var poolID: UInt32 = 0

        public init(
            address: IPAddress, duid: String, validLifetime: UInt32, expire: Int64, subnetID: UInt32, preferredLifetime: UInt32,
            type: LeaseType, iaid: UInt32, prefixLength: UInt8
        ) {
            self.address = address
            self.duid = duid
            self.validLifetime = validLifetime
            self.expire = expire
            self.subnetID = subnetID
            self.preferredLifetime = preferredLifetime
            self.type = type
            self.iaid = iaid
            self.prefixLength = prefixLength
        }

        /// The leased prefix (`address/prefix_len`).
        public var prefix: IPPrefix? { IPPrefix(address: address, length: Int(prefixLength)) }
        public var clientLastTransmission: Int64 { expire &- Int64(validLifetime) }
        public func isActive(at unixSeconds: Int64) -> Bool {
            state == .default && validLifetime > 0 && unixSeconds >= clientLastTransmission && unixSeconds < expire
        }

        public var row: String {
            [
                "\(address)", duid, "\(validLifetime)", "\(expire)", "\(subnetID)", "\(preferredLifetime)", "\(type.rawValue)", "\(iaid)",
                "\(prefixLength)",
                fqdnForward ? "1" : "0", fqdnReverse ? "1" : "0", escape(hostname), hardwareAddress, "\(state.rawValue)",
                escape(userContext),
                hardwareType.map { "\($0)" } ?? "", hardwareAddressSource.map { "\($0)" } ?? "", "\(poolID)",
            ].joined(separator: ",")
        }
    }

    static func escape(_ s: String) -> String { s.replacing(",", with: "&#x2c") }
    static func unescape(_ s: Substring) -> String { String(s.replacing("&#x2c", with: ",")) }

    /// Splits a lease file into its column map and data rows (blank lines skipped).
    static func table(_ text: Substring, required: [String]) throws(IdentityCodecError) -> (
        columns: [String: Int], rows: [(line: Int, fields: [Substring])]
    ) {
        // "\r\n" is one Character in Swift: split on both, so files with CRLF line ends read too.
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated().map {
            ($0.offset + 1, $0.element.hasSuffix("\r") ? $0.element.dropLast() : $0.element)
        }
        while let last = lines.last, last.1.isEmpty { lines.removeLast() }
        guard let head = lines.first else { throw IdentityCodecError(.missingField, "empty lease file (no header)") }
        var columns: [String: Int] = [:]
        let names = head.1.split(separator: ",", omittingEmptySubsequences: false)
        for (i, c) in names.enumerated() {
            guard columns.updateValue(i, forKey: String(c)) == nil else {
                throw IdentityCodecError(.malformedLine, "header names '\(c)' twice")
            }
        }
        for r in required where columns[r] == nil { throw IdentityCodecError(.missingField, "header has no '\(r)' column") }
        var rows: [(Int, [Substring])] = []
        for (n, l) in lines.dropFirst() where !l.isEmpty {
            let f = l.split(separator: ",", omittingEmptySubsequences: false)
            guard f.count == names.count else {
                throw IdentityCodecError(.malformedLine, "line \(n): \(f.count) fields, header has \(names.count)")
            }
            rows.append((n, f))
        }
        return (columns, rows)
    }

    struct Row {
        let line: Int
        let fields: [Substring]
        let columns: [String: Int]
        func text(_ name: String) -> Substring { columns[name].map { fields[$0] } ?? "" }
        func number<T: FixedWidthInteger>(_ name: String, _: T.Type = T.self, default value: T? = nil) throws(IdentityCodecError) -> T {
            let t = text(name)
            if t.isEmpty, let value { return value }
            guard let v = T(t) else { throw IdentityCodecError(.badFieldValue, "line \(line): \(name) '\(t)' is not a number") }
            return v
        }
        func bool(_ name: String) throws(IdentityCodecError) -> Bool {
            switch text(name) {
            case "", "0", "false": return false
            case "1", "true": return true
            default: throw IdentityCodecError(.badFieldValue, "line \(line): \(name) '\(text(name))' is not 0 or 1")
            }
        }
        func address(_ v6: Bool) throws(IdentityCodecError) -> IPAddress {
            guard let a = IPAddress(text("address")), a.isIPv6 == v6 else {
                throw IdentityCodecError(.badFieldValue, "line \(line): address '\(text("address"))' is not an IPv\(v6 ? 6 : 4) address")
            }
            return a
        }
    }

    /// Parses a DHCPv4 lease file (header first). Throws ``IdentityCodecError/Code/missingField`` for a
    /// header without address/valid_lifetime/expire/subnet_id, ``IdentityCodecError/Code/malformedLine``
    /// for a row with the wrong number of fields, ``IdentityCodecError/Code/badFieldValue`` for a bad value.
    public static func parse4(_ text: Substring) throws(IdentityCodecError) -> [Lease4] {
        let t = try table(text, required: ["address", "hwaddr", "valid_lifetime", "expire", "subnet_id"])
        var out: [Lease4] = []
        for (n, f) in t.rows {
            let r = Row(line: n, fields: f, columns: t.columns)
            var l = Lease4(
                address: try r.address(false), hardwareAddress: String(r.text("hwaddr")), validLifetime: try r.number("valid_lifetime"),
                expire: try r.number("expire"), subnetID: try r.number("subnet_id"))
            l.clientID = String(r.text("client_id"))
            l.fqdnForward = try r.bool("fqdn_fwd")
            l.fqdnReverse = try r.bool("fqdn_rev")
            l.hostname = unescape(r.text("hostname"))
            l.state = State(rawValue: try r.number("state", default: 0))
            l.userContext = unescape(r.text("user_context"))
            l.poolID = try r.number("pool_id", default: 0)
            out.append(l)
        }
        return out
    }

    /// Parses a DHCPv6 lease file (header first); errors as ``parse4(_:)``.
    public static func parse6(_ text: Substring) throws(IdentityCodecError) -> [Lease6] {
        let t = try table(
            text,
            required: ["address", "duid", "valid_lifetime", "expire", "subnet_id", "pref_lifetime", "lease_type", "iaid", "prefix_len"])
        var out: [Lease6] = []
        for (n, f) in t.rows {
            let r = Row(line: n, fields: f, columns: t.columns)
            let typeRaw: UInt8 = try r.number("lease_type")
            guard let type = LeaseType(rawValue: typeRaw) else {
                throw IdentityCodecError(.badFieldValue, "line \(n): lease_type \(typeRaw)")
            }
            let prefixLength: UInt8 = try r.number("prefix_len")
            guard prefixLength <= 128 else { throw IdentityCodecError(.badFieldValue, "line \(n): prefix_len \(prefixLength)") }
            var l = Lease6(
                address: try r.address(true), duid: String(r.text("duid")), validLifetime: try r.number("valid_lifetime"),
                expire: try r.number("expire"),
                subnetID: try r.number("subnet_id"), preferredLifetime: try r.number("pref_lifetime"), type: type,
                iaid: try r.number("iaid"), prefixLength: prefixLength)
            l.fqdnForward = try r.bool("fqdn_fwd")
            l.fqdnReverse = try r.bool("fqdn_rev")
            l.hostname = unescape(r.text("hostname"))
            l.hardwareAddress = String(r.text("hwaddr"))
            l.state = State(rawValue: try r.number("state", default: 0))
            l.userContext = unescape(r.text("user_context"))
            l.hardwareType = r.text("hwtype").isEmpty ? nil : try r.number("hwtype")
            l.hardwareAddressSource = r.text("hwaddr_source").isEmpty ? nil : try r.number("hwaddr_source")
            l.poolID = try r.number("pool_id", default: 0)
            out.append(l)
        }
        return out
    }
}
