import Foundation

/// Sharing with other carriers: each peer Mamori pulls from (when, how many indicators, the last
/// error), and every indicator it holds from peers and imported files, with its source,
/// confidence, TLP and expiry — what an analyst checks before trusting a match "shared by …".
/// The server hands it plain values; STIX and TAXII types stay out of the console.
public struct SharingView {
    /// A source of indicators: a TAXII peer or an imported file.
    public struct Source {
        var name: String
        /// The peer's name, for the pull button (nil for a file).
        var peer: String?
        var indicators: Int
        var lastPull: String
        var bookmark: String
        var lastError: String?
        var failing: Bool

        /// `lastPull` in milliseconds since 1970.
        public init(name: String, peer: String?, indicators: Int, lastPull: Int64?, bookmark: String?, lastError: String?) {
            self.name = name
            self.peer = peer
            self.indicators = indicators
            self.lastPull = lastPull.map(Format.time) ?? "—"
            self.bookmark = bookmark ?? "—"
            self.lastError = lastError
            failing = lastError != nil
        }
    }

    /// One imported indicator as the page shows it.
    public struct Indicator {
        var source: String
        var name: String
        var values: String
        var kindClass: String
        var constraint: String
        var confidence: String
        var tlp: String
        var tlpClass: String
        var validUntil: String
        var modified: String
        var sinkholed: Bool

        /// Times in milliseconds since 1970.
        public init(
            source: String, name: String?, addresses: [String], names: [String], constraint: String, confidence: Int?, tlp: String?,
            validUntil: Int64?, modified: Int64?, sinkholed: Bool
        ) {
            self.source = source
            self.name = name ?? "—"
            let all = addresses + names
            values = all.prefix(8).joined(separator: " ") + (all.count > 8 ? " … (\(all.count))" : "")
            kindClass = names.isEmpty ? "address" : addresses.isEmpty ? "name" : "mixed"
            self.constraint = constraint
            self.confidence = confidence.map(String.init) ?? "—"
            // `TLP:AMBER+STRICT` as the STIX marking names it; the class is its level.
            self.tlp = tlp ?? "—"
            let level = tlp.map { $0.hasPrefix("TLP:") ? String($0.dropFirst(4)) : $0 } ?? "none"
            tlpClass = level.lowercased().replacingOccurrences(of: "+", with: "-")
            self.validUntil = validUntil.map(Format.time) ?? "—"
            self.modified = modified.map(Format.time) ?? "—"
            self.sinkholed = sinkholed
        }
    }

    var sources: [Source]
    var noSources: Bool
    var indicators: [Indicator]
    var empty: Bool
    var total: Int
    var shown: Int
    var truncated: Bool
    var filter: String
    var sourceOptions: [(name: String, selected: Bool)]
    var mayPull: Bool

    /// `total`: how many match the filter before the page's limit.
    public init(sources: [Source], indicators: [Indicator], total: Int, filter: String?, source: String?, mayPull: Bool) {
        self.sources = sources
        noSources = sources.isEmpty
        self.indicators = indicators
        empty = indicators.isEmpty
        self.total = total
        shown = indicators.count
        truncated = total > indicators.count
        self.filter = filter ?? ""
        sourceOptions = sources.map { ($0.name, $0.name == source) }
        self.mayPull = mayPull
    }
}
