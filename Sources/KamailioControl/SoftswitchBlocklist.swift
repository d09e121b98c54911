/// The block rules a softswitch enforces for Mamori (issue 24): destination prefixes refused
/// while an international revenue share fraud lasts, and the accounts exempt from them.
///
/// A value: what the rule module decided, before it is checked (``KamailioTables/init(_:limits:)``)
/// and written for Kamailio (``KamailioPublisher/publish(_:)``). The list is always published
/// whole: a block absent from the next list is lifted.
///
/// ```swift
/// let list = SoftswitchBlocklist(
///     blocks: [.init(prefix: "88213", ruleID: "irsf-17", reason: "suspected fraud")],
///     exemptions: [.init(account: "trader-7", prefix: "88213"), .init(account: "pbx-12")])
/// ```
public struct SoftswitchBlocklist: Sendable, Hashable {
    /// Calls to numbers starting with ``prefix`` are refused with a 403 that names ``ruleID`` and
    /// ``reason``.
    public struct Block: Sendable, Hashable {
        /// E.164 digits without `+`, 1–15 of them (`88213`, `4415`). The longest matching prefix
        /// of the dialled number (normalised to E.164 by the screening route) decides.
        public var prefix: String
        /// The rule's id, which the 403 carries for the carrier's support staff: letters, digits,
        /// `.`, `_` and `-`, 1–64 of them.
        public var ruleID: String
        /// Short text for the caller's 403 and the accounting log. Characters that would break the
        /// table, the SIP answer or the log line (`:` `|` `;` `"` `\` controls …) are replaced
        /// by spaces, and it is cut to ``KamailioTables/Limits/maximumReasonLength``.
        public var reason: String

        public init(prefix: String, ruleID: String, reason: String) {
            self.prefix = prefix
            self.ruleID = ruleID
            self.reason = reason
        }
    }

    /// An account (the SIP From user) that may call blocked destinations.
    public struct Exemption: Sendable, Hashable {
        /// The account as the SIP From user carries it (after URI unescaping): any printable
        /// text, 1–64 characters.
        public var account: String
        /// nil: exempt from every block (the subscriber opted out of screening). A prefix: exempt
        /// from the block on exactly that prefix (a business line with trade ties to the
        /// destination); still refused by any other block.
        public var prefix: String?

        public init(account: String, prefix: String? = nil) {
            self.account = account
            self.prefix = prefix
        }
    }

    public var blocks: [Block]
    public var exemptions: [Exemption]

    public init(blocks: [Block] = [], exemptions: [Exemption] = []) {
        self.blocks = blocks
        self.exemptions = exemptions
    }

    /// Nothing blocked: publishing it lifts every block.
    public static let empty = SoftswitchBlocklist()
}
