/// sFlow v5 state per agent. (Placeholder: replaced by the sFlow decoder.)
struct SFlowDecoderState: Sendable {}

extension FlowDecoder {
    mutating func decodeSFlow(
        _ bytes: UnsafeRawBufferPointer, exporter: IPAddress, now: Int64,
        into records: inout [FlowRecord], report: inout DecodeReport
    ) {
        report.exportProtocol = .sflowV5
        report.error = FlowDecodingError(.unsupportedVersion, "sFlow not yet implemented")
    }
}
