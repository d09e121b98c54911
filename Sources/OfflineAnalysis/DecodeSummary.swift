import FlowCodec

/// Totals over a run of the flow decoder, for a person: what `mamori decode` and the pcap input
/// of an analysis print.
public struct DecodeSummary: Sendable {
    public var datagrams = 0
    public var records = 0
    public var optionsRecords = 0
    public var templateMisses = 0
    public var lost: UInt64 = 0
    public var counterSamples = 0
    public var errors: [String: Int] = [:]
    public var byProtocol: [String: Int] = [:]

    public init() {}

    public mutating func add(_ r: DecodeReport) {
        datagrams += 1
        records += r.flowRecords
        optionsRecords += r.optionsRecords
        templateMisses += r.templateMisses
        lost += r.estimatedLostRecords
        counterSamples += r.counterSamples
        byProtocol[r.exportProtocol.map { "\($0)" } ?? "unknown", default: 0] += 1
        if let e = r.error { errors[e.code.description, default: 0] += 1 }
    }

    public func text(skippedFrames: Int, templates: Int) -> String {
        var s =
            "\(datagrams) datagrams (\(byProtocol.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))), "
        s += "\(records) flow records, \(optionsRecords) options records, \(counterSamples) sFlow counter samples, "
        s +=
            "\(templates) templates, \(templateMisses) sets without template, ~\(lost) records lost (sequence gaps), \(skippedFrames) non-UDP frames skipped"
        if !errors.isEmpty {
            s += "\nerrors: " + errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        }
        return s
    }
}
