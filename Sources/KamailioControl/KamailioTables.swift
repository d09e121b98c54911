/// A ``SoftswitchBlocklist`` checked and made into the two db_text tables Kamailio loads: the
/// mtree of blocked prefixes and the htable of exempt accounts (docs/kamailio.md). Pure: text in
/// memory; ``KamailioPublisher`` writes it.
///
/// The blocked-prefix table (mtree, `type=0`, string values):
///
/// ```
/// tprefix(string) tvalue(string)
/// 4415:4415|r-2|premium rate
/// 88213:88213|irsf-17|suspected fraud
/// ```
///
/// The value repeats the prefix (mtree gives the screening route the value of the longest match,
/// not its prefix, and the trade-tie exemption is keyed by it), then the rule id(s), then the
/// reason, separated by `|`.
///
/// The exemption table (htable; a key per account and block, value `opt-out` or `trade-tie`):
///
/// ```
/// key_name(string) key_type(int) value_type(int) key_value(string)
/// pbx-12|*:0:0:opt-out
/// trader-7|88213:0:0:trade-tie
/// ```
///
/// An account opted out has the key `<account>|*`; one with trade ties `<account>|<prefix>`. The
/// part after the last `|` is `*` or digits, so no account (which may hold `|`) makes another's
/// key. db_text escapes `\` and `:` (`\\`, `\:`). Rows are sorted, so the same list makes the
/// same bytes.
public struct KamailioTables: Sendable, Hashable {
    /// Bounds of a list; past them the list is refused, not cut.
    public struct Limits: Sendable, Hashable {
        public var maximumBlocks: Int
        public var maximumExemptions: Int
        /// Longer reasons are cut to this many characters.
        public var maximumReasonLength: Int
        public var maximumAccountLength: Int

        public init(
            maximumBlocks: Int = 100_000, maximumExemptions: Int = 100_000, maximumReasonLength: Int = 64, maximumAccountLength: Int = 64
        ) {
            self.maximumBlocks = maximumBlocks
            self.maximumExemptions = maximumExemptions
            self.maximumReasonLength = maximumReasonLength
            self.maximumAccountLength = maximumAccountLength
        }
    }

    /// One row of the blocked-prefix tree: a prefix with the rules that block it.
    public struct BlockRow: Sendable, Hashable {
        public var prefix: String
        /// More than one when the list blocked the same prefix under several rules.
        public var ruleIDs: [String]
        /// The reason, sanitised (the first rule's, when several block the prefix).
        public var reason: String

        /// The tree's value: `prefix|rule[,rule…]|reason`.
        public var value: String { "\(prefix)|\(ruleIDs.joined(separator: ","))|\(reason)" }
    }

    /// One key of the exemption table.
    public struct ExemptionRow: Sendable, Hashable {
        public var account: String
        public var prefix: String?

        /// `<account>|*` or `<account>|<prefix>`.
        public var key: String { "\(account)|\(prefix ?? "*")" }
        /// `opt-out` or `trade-tie`.
        public var value: String { prefix == nil ? "opt-out" : "trade-tie" }
    }

    /// Sorted by prefix.
    public let blocks: [BlockRow]
    /// Sorted by key (its UTF-8 bytes).
    public let exemptions: [ExemptionRow]
    /// Entries of the list folded into others: a prefix blocked twice, an exemption repeated, a
    /// trade tie of an account that is opted out anyway.
    public let merged: Int

    /// The header line of the blocked-prefix table (db_text wants the `string` type spelled out).
    public static let blockHeader = "tprefix(string) tvalue(string)"
    /// The header line of the exemption table.
    public static let exemptionHeader = "key_name(string) key_type(int) value_type(int) key_value(string)"

    /// Checks `list` and builds its rows; throws ``KamailioControlError/Code/invalidList`` naming
    /// the first entry that breaks a rule.
    public init(_ list: SoftswitchBlocklist, limits: Limits = Limits()) throws(KamailioControlError) {
        guard list.blocks.count <= limits.maximumBlocks else {
            throw KamailioControlError(.invalidList, "\(list.blocks.count) blocks, more than the \(limits.maximumBlocks) allowed")
        }
        guard list.exemptions.count <= limits.maximumExemptions else {
            throw KamailioControlError(
                .invalidList, "\(list.exemptions.count) exemptions, more than the \(limits.maximumExemptions) allowed")
        }
        var merged = 0
        var byPrefix: [String: BlockRow] = [:]
        for (i, block) in list.blocks.enumerated() {
            guard Self.isPrefix(block.prefix) else {
                throw KamailioControlError(
                    .invalidList, "block \(i + 1): prefix '\(Self.shown(block.prefix))' is not 1–15 digits (E.164 without +)")
            }
            guard Self.isRuleID(block.ruleID) else {
                throw KamailioControlError(
                    .invalidList, "block \(i + 1): rule id '\(Self.shown(block.ruleID))' is not 1–64 of A–Z a–z 0–9 . _ -")
            }
            if var row = byPrefix[block.prefix] {
                merged += 1
                if !row.ruleIDs.contains(block.ruleID) { row.ruleIDs.append(block.ruleID) }
                byPrefix[block.prefix] = row
            } else {
                byPrefix[block.prefix] = BlockRow(
                    prefix: block.prefix, ruleIDs: [block.ruleID],
                    reason: Self.sanitisedReason(block.reason, limit: limits.maximumReasonLength))
            }
        }
        var optedOut = Set<String>()
        var exemptions = Set<ExemptionRow>()
        for (i, e) in list.exemptions.enumerated() {
            guard Self.isAccount(e.account, limit: limits.maximumAccountLength) else {
                throw KamailioControlError(
                    .invalidList,
                    "exemption \(i + 1): account '\(Self.shown(e.account))' is not 1–\(limits.maximumAccountLength) printable characters")
            }
            if let p = e.prefix, !Self.isPrefix(p) {
                throw KamailioControlError(
                    .invalidList, "exemption \(i + 1): prefix '\(Self.shown(p))' is not 1–15 digits (E.164 without +)")
            }
            if e.prefix == nil { optedOut.insert(e.account) }
            if !exemptions.insert(ExemptionRow(account: e.account, prefix: e.prefix)).inserted { merged += 1 }
        }
        let kept = exemptions.filter { $0.prefix == nil || !optedOut.contains($0.account) }
        merged += exemptions.count - kept.count
        blocks = byPrefix.values.sorted { $0.prefix < $1.prefix }
        self.exemptions = kept.sorted { Array($0.key.utf8).lexicographicallyPrecedes($1.key.utf8) }
        self.merged = merged
    }

    /// The blocked-prefix table's file.
    public var blockFile: String {
        var text = Self.blockHeader + "\n"
        for row in blocks { text += Self.escaped(row.prefix) + ":" + Self.escaped(row.value) + "\n" }
        return text
    }

    /// The exemption table's file.
    public var exemptionFile: String {
        var text = Self.exemptionHeader + "\n"
        for row in exemptions { text += Self.escaped(row.key) + ":0:0:" + Self.escaped(row.value) + "\n" }
        return text
    }

    /// db_text's `version` table naming both tables (mtree's version 1, htable's 2); written only
    /// where none exists.
    public static func versionFile(blockTable: String, exemptionTable: String) -> String {
        "table_name(string) table_version(int)\n\(escaped(blockTable)):1\n\(escaped(exemptionTable)):2\n"
    }

    /// What Kamailio's `mtree.list` should show: prefix → value.
    public var expectedTree: [String: String] {
        Dictionary(uniqueKeysWithValues: blocks.map { ($0.prefix, $0.value) })
    }

    /// What Kamailio's `htable.dump` should show: key → value.
    public var expectedExemptions: [String: String] {
        Dictionary(uniqueKeysWithValues: exemptions.map { ($0.key, $0.value) })
    }

    // MARK: Rules

    static func isPrefix(_ s: String) -> Bool {
        (1...15).contains(s.utf8.count) && s.utf8.allSatisfy { (0x30...0x39).contains($0) }
    }

    static func isRuleID(_ s: String) -> Bool {
        (1...64).contains(s.utf8.count)
            && s.utf8.allSatisfy { b in
                (0x30...0x39).contains(b) || (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b) || b == 0x2E || b == 0x5F || b == 0x2D
            }
    }

    /// Printable: no control characters (C0, DEL, C1) and no line or paragraph separators.
    static func isAccount(_ s: String, limit: Int) -> Bool {
        let count = s.unicodeScalars.count
        return count >= 1 && count <= limit
            && s.unicodeScalars.allSatisfy { u in
                !(u.value < 0x20 || (0x7F...0x9F).contains(u.value) || u.value == 0x2028 || u.value == 0x2029)
            }
    }

    /// Characters a reason keeps: ASCII letters, digits, space and `- _ . , ( ) / + # ' ! ? & * @ = % [ ]`.
    /// Anything else (`:` and `\` of db_text, `|` of the tree's value, `;` of the accounting log,
    /// `"` of the Reason and Warning headers, controls, non-ASCII) becomes a space; runs of spaces
    /// become one; cut to `limit`; an empty reason becomes `blocked`.
    static func sanitisedReason(_ s: String, limit: Int) -> String {
        let kept: Set<UInt8> = Set("-_.,()/+#'!?&*@=%[] ".utf8)
        var out: [UInt8] = []
        for u in s.unicodeScalars {
            let keep = u.isASCII && (u.properties.isAlphabetic || ("0"..."9").contains(u) || kept.contains(UInt8(u.value)))
            let b: UInt8 = keep ? UInt8(u.value) : 0x20
            if b == 0x20, out.last == 0x20 || out.isEmpty { continue }
            out.append(b)
        }
        while out.last == 0x20 { out.removeLast() }
        if out.count > limit {
            out = Array(out.prefix(limit))
            while out.last == 0x20 { out.removeLast() }
        }
        return out.isEmpty ? "blocked" : String(decoding: out, as: UTF8.self)
    }

    /// db_text's escaping: `\` `:` and the controls it names (`\n` `\r` `\t`, NUL as `\0`).
    static func escaped(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case ":": out += "\\:"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\0": out += "\\0"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// A value for an error message: printable, at most 80 characters.
    static func shown(_ s: String) -> String {
        let clean = String(String.UnicodeScalarView(s.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : $0 }))
        return clean.count > 80 ? String(clean.prefix(80)) + "…" : clean
    }
}
