import MetricsTestKit

extension TestMetrics {
    /// Sum of the counters with this label whose dimensions include `dimensions` (all of them
    /// when `dimensions` is empty).
    public func counterTotal(_ label: String, _ dimensions: [String: String] = [:]) -> Int64 {
        counters.filter { c in
            c.label == label && dimensions.allSatisfy { d in c.dimensions.contains { $0.0 == d.key && $0.1 == d.value } }
        }.reduce(0) { $0 + $1.totalValue }
    }
}
