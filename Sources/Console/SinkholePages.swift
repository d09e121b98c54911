import Accounts
import Foundation
import MamoriCore

/// The DNS sinkhole: the zones' serials, the opt-out exemptions' count, every entry with why it
/// is there and until when, and (for analysts) the forms that add and remove entries. The
/// server hands it plain values; the sinkhole's own types stay out of the console.
public struct SinkholeView {
    /// One entry as the page shows it.
    public struct Entry {
        var trigger: String
        var action: String
        var source: String
        var reason: String
        var added: String
        var expires: String
        var kindClass: String

        /// Times in seconds since 1970; `expires` nil for an entry that stays until removed.
        public init(trigger: String, action: String, source: String, reason: String, addedAt: Int64, expiresAt: Int64?) {
            self.trigger = trigger
            self.action = action
            self.source = source
            self.reason = reason
            added = Format.time(addedAt * 1000)
            expires = expiresAt.map { Format.time($0 * 1000) } ?? "—"
            kindClass = trigger.contains("/") ? "address" : "name"
        }
    }

    /// The sinkhole's state as the page's heading shows it.
    public struct Status {
        var zone: String
        var serial: UInt32
        var exemptionZone: String
        var exemptionSerial: UInt32
        var exemptedSubscribers: Int
        var exemptedPrefixes: Int
        var entries: Int
        var maximumEntries: Int

        public init(
            zone: String, serial: UInt32, exemptionZone: String, exemptionSerial: UInt32, exemptedSubscribers: Int, exemptedPrefixes: Int,
            entries: Int, maximumEntries: Int
        ) {
            self.zone = zone
            self.serial = serial
            self.exemptionZone = exemptionZone
            self.exemptionSerial = exemptionSerial
            self.exemptedSubscribers = exemptedSubscribers
            self.exemptedPrefixes = exemptedPrefixes
            self.entries = entries
            self.maximumEntries = maximumEntries
        }
    }

    var enabled: Bool
    var status: Status?
    var entries: [Entry]
    var empty: Bool
    var shown: Int
    var filter: String
    var mayChange: Bool

    /// `status` nil: the server has no `sinkhole:` section (the page says how to turn it on).
    public init(status: Status?, entries: [Entry], filter: String?, mayChange: Bool) {
        enabled = status != nil
        self.status = status
        self.entries = entries
        empty = entries.isEmpty
        shown = entries.count
        self.filter = filter ?? ""
        self.mayChange = mayChange && status != nil
    }
}
