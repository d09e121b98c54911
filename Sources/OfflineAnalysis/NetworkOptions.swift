import Detection
import Evaluation
import FlowCodec
import MamoriCore
import Simulator

/// The network an analysis is told about, before labels or truth fill in what is missing.
public struct NetworkOptions: Sendable, Hashable {
    /// The subscribers' address space.
    public var subscriberPrefixes: [IPPrefix]
    /// The carrier's own infrastructure, never analysed.
    public var infrastructurePrefixes: [IPPrefix]
    /// CGNAT pools with fixed port blocks.
    public var cgnatPools: [CGNATPool]
    /// Special-purpose space that plays the Internet in a lab capture.
    public var laboratoryInternet: [IPPrefix]

    public init(
        subscriberPrefixes: [IPPrefix] = [], infrastructurePrefixes: [IPPrefix] = [], cgnatPools: [CGNATPool] = [],
        laboratoryInternet: [IPPrefix] = []
    ) {
        self.subscriberPrefixes = subscriberPrefixes
        self.infrastructurePrefixes = infrastructurePrefixes
        self.cgnatPools = cgnatPools
        self.laboratoryInternet = laboratoryInternet
    }
}

extension OfflineAnalyzer {
    /// The layout to analyse with: what `given` says; without subscriber prefixes, the truth's
    /// network, else the simulator labels' (with their CGNAT pools). With labels and no
    /// laboratory Internet given, the simulator's Internet (documentation and reserved space) is
    /// the Internet. Throws ``Failure/noSubscriberSpace`` when no subscriber space comes from
    /// anywhere, and ``Failure/badTruthPrefix(_:field:)``.
    public static func networkLayout(_ given: NetworkOptions, labels: Labels? = nil, truth: CorpusManifest.Capture? = nil) throws
        -> NetworkLayout
    {
        func prefixes(_ list: [String], _ field: String) throws -> [IPPrefix] {
            try list.map { text in
                guard let p = IPPrefix(text) else { throw Failure.badTruthPrefix(text, field: field) }
                return p
            }
        }
        var subscribers = given.subscriberPrefixes
        var infrastructure = given.infrastructurePrefixes
        var pools = given.cgnatPools
        if subscribers.isEmpty, let truth {
            subscribers = try prefixes(truth.subscriberPrefixes, "subscriberPrefixes")
            infrastructure += try prefixes(truth.infrastructurePrefixes ?? [], "infrastructurePrefixes")
        }
        if subscribers.isEmpty, let labels, let layout = LabelEvaluation.networkLayout(labels) {
            subscribers = layout.subscriberPrefixes.prefixes
            infrastructure += layout.infrastructurePrefixes.prefixes
            pools += layout.cgnatPools
        }
        guard !subscribers.isEmpty else { throw Failure.noSubscriberSpace }
        var lab = given.laboratoryInternet
        if lab.isEmpty, labels != nil { lab = LabelEvaluation.simulatorInternet }
        return NetworkLayout(
            subscriberPrefixes: subscribers, infrastructurePrefixes: infrastructure, cgnatPools: pools, laboratoryInternet: lab)
    }
}
