import FlowCodec

/// A whole simulated ISP run: the model, the threats, the ground-truth labels, and the export
/// datagrams window by window.
///
/// ```swift
/// var simulation = try Simulation(configuration: .init(seed: 1, subscribers: 5000))
/// let labels = simulation.labels
/// while let datagrams = simulation.nextWindow() {
///     for d in datagrams { send(d.payload, from: d.exporter) }
/// }
/// ```
public struct Simulation: Sendable {
    public let model: ISPModel
    public let threats: ThreatPlan
    public let generator: TrafficGenerator
    /// Start of the next window to generate, ms since the Unix epoch.
    public private(set) var now: Int64
    public private(set) var statistics = Statistics()
    var pipeline: ExportPipeline

    public struct Statistics: Sendable, Hashable {
        /// Flow records generated (before sampling).
        public var generatedFlows = 0
        /// Flow records exported (after sampling).
        public var exportedFlows = 0
        public var datagrams = 0
        public var exportBytes = 0
    }

    public init(configuration: ISPModel.Configuration) throws(SimulationConfigurationError) {
        model = try ISPModel(configuration: configuration)
        threats = ThreatPlan(model: model)
        generator = TrafficGenerator(model: model, threats: threats)
        pipeline = ExportPipeline(configuration: configuration)
        now = configuration.startMilliseconds
    }

    public var configuration: ISPModel.Configuration { model.configuration }
    public var isFinished: Bool { now >= configuration.endMilliseconds }

    /// The ground truth of this run.
    public var labels: Labels { Labels(model: model, threats: threats) }

    /// Generates the next window and returns its export datagrams (all stamped with the window's
    /// end), or nil when the simulated duration is over.
    public mutating func nextWindow() -> [SimulatedDatagram]? {
        guard !isFinished else { return nil }
        let start = now
        let end = min(now + configuration.windowMilliseconds, configuration.endMilliseconds)
        var out: [SimulatedDatagram] = []
        var pipe = pipeline
        var generated = 0
        var exported = 0
        generator.generate(windowStart: start, windowEnd: end) { record in
            generated += 1
            if pipe.add(record, time: end, into: &out) { exported += 1 }
        }
        pipe.flushAll(time: end, into: &out)
        pipeline = pipe
        now = end
        statistics.generatedFlows += generated
        statistics.exportedFlows += exported
        statistics.datagrams += out.count
        for d in out { statistics.exportBytes += d.payload.count }
        return out
    }
}
