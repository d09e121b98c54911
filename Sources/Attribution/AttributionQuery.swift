import FlowCodec

/// One question for ``AttributionIndex/resolve(_:into:)``: who held `address` (and, behind a
/// CGNAT, source `port`) at `time` (ms since the Unix epoch).
public struct AttributionQuery: Sendable, Hashable {
    public var address: IPAddress
    public var port: UInt16?
    public var time: Int64

    public init(_ address: IPAddress, port: UInt16? = nil, at time: Int64) {
        self.address = address
        self.port = port
        self.time = time
    }
}
