/// Fields of a sampled IPv4 (format 3) or IPv6 (format 4) flow record.
struct SFlowSampledIP {
    var length: UInt32
    var ipProtocol: UInt8
    var source: IPAddress
    var destination: IPAddress
    var sourcePort: UInt16
    var destinationPort: UInt16
    var tcpFlags: UInt8
    var typeOfService: UInt8
}
