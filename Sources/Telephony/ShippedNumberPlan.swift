import Foundation

extension NumberPlan {
    /// The E.164 table the project ships (`Resources/e164-prefixes.tsv`: every ITU country
    /// code, the NANP's non-US/CA area codes, satellite and international networks, national
    /// premium, freephone and shared-cost ranges; sources in docs/number-plan.md).
    public static let shippedTableText: String = {
        guard let url = Bundle.module.url(forResource: "e164-prefixes", withExtension: "tsv"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { return "" }
        return text
    }()

    /// The shipped table alone.
    public static let shipped = NumberPlan(tables: [(name: "e164-prefixes.tsv", text: shippedTableText)])

    /// The shipped table with a carrier's own tables over it (later rows replace earlier ones).
    public static func withCarrierTables(_ tables: [(name: String, text: String)]) -> NumberPlan {
        NumberPlan(tables: [(name: "e164-prefixes.tsv", text: shippedTableText)] + tables)
    }
}
