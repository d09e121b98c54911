/// What decoding one datagram produced, besides the records themselves.
///
/// Decoding never throws away good records: when part of a datagram is malformed the records
/// before it are kept, the rest is skipped and ``error`` says why.
public struct DecodeReport: Sendable, Hashable {
    /// Protocol of the datagram, when its header could be read.
    public var exportProtocol: ExportProtocol? = nil
    /// Observation domain / source ID / agent sub-ID from the header.
    public var observationDomain: UInt32 = 0
    /// Flow records appended to the output.
    public var flowRecords: Int = 0
    /// Of ``flowRecords``, those decoded with a template that carries NAT fields (RFC 8158 NAT
    /// events, NSEL): lets a consumer skip scanning batches that hold none.
    public var natRecords: Int = 0
    /// Options data records consumed (sampling, interface tables …); not emitted as flows.
    public var optionsRecords: Int = 0
    /// Templates and options templates learned or refreshed.
    public var templatesLearned: Int = 0
    /// Templates withdrawn (IPFIX) .
    public var templatesWithdrawn: Int = 0
    /// Data sets skipped because their template is unknown or expired.
    public var templateMisses: Int = 0
    /// Records estimated lost from a sequence-number gap before this datagram.
    public var estimatedLostRecords: UInt64 = 0
    /// The sequence number went backwards or jumped too far: treated as an exporter restart.
    public var sequenceReset: Bool = false
    /// sFlow counter samples seen (counted, not emitted).
    public var counterSamples: Int = 0
    /// Records dropped because a time lay outside 1970–2100 (``FlowTimeWindow``); not in ``flowRecords``.
    public var timesOutOfRange: Int = 0
    /// Records dropped because the flow started longer ago than the configured age.
    public var timesTooOld: Int = 0
    /// Records dropped because the flow ends further ahead of the receive time than allowed.
    public var timesAhead: Int = 0
    /// Records kept with their end (which preceded the start) set to the start.
    public var repairedTimes: Int = 0
    /// Records dropped for their times, all reasons.
    public var rejectedTimes: Int { timesOutOfRange + timesTooOld + timesAhead }
    /// The first error met; records before it were kept.
    public var error: FlowDecodingError? = nil

    public init() {}
}
