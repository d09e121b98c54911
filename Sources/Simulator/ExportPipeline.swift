import FlowCodec
import FlowEncoding

/// One export datagram as an exporter sends it.
public struct SimulatedDatagram: Sendable, Hashable {
    public var exporterIndex: Int
    /// The exporter's address (the datagram's source address).
    public var exporter: IPAddress
    /// When it is sent: the end of the window it exports, ms since the Unix epoch.
    public var timeMilliseconds: Int64
    public var payload: [UInt8]
}

/// The exporting side of the border routers: packet sampling and NetFlow v9 / IPFIX encoding,
/// one ``FlowExportEncoder`` per exporter (so each has its own templates and sequence numbers).
///
/// **Sampling model.** With 1-in-N sampling a router picks each packet with probability 1/N and
/// builds flows from the picked packets only. A flow of p packets therefore yields a record with
/// k ~ Binomial(p, 1/N) packets (exact Bernoulli trials up to 256 packets, the mean with random
/// rounding above), bytes scaled by k/p, and no record at all when k = 0. Counters are exported
/// as sampled; the interval is announced in the options template (IE 34, sampling algorithm 2 =
/// random) so collectors scale them back.
struct ExportPipeline: Sendable {
    var encoders: [FlowExportEncoder]
    var v4: [[FlowRecord]]
    var v6: [[FlowRecord]]
    let sampling: UInt32
    let seed: UInt64
    let batch: Int

    init(configuration c: ISPModel.Configuration) {
        encoders = (0..<c.exporters).map { i in
            FlowExportEncoder(
                protocol: c.exportProtocol, observationDomain: UInt32(i + 1), templateRefreshInterval: 64,
                samplingInterval: c.samplingInterval > 1 ? c.samplingInterval : nil,
                bootMilliseconds: c.startMilliseconds - 86_400_000 * Int64(3 + i))
        }
        batch = encoders[0].recordsPerDatagram
        v4 = Array(repeating: [], count: c.exporters)
        v6 = Array(repeating: [], count: c.exporters)
        sampling = c.samplingInterval
        seed = c.seed
    }

    /// Samples `record` and queues it; returns true when it survived sampling.
    mutating func add(_ record: FlowRecord, time: Int64, into out: inout [SimulatedDatagram]) -> Bool {
        var r = record
        if sampling > 1 {
            var g = StableHash.generator(
                seed, Tag.sampling,
                StableHash.of(
                    r.sourceAddress.low, r.destinationAddress.low, UInt64(r.sourcePort) << 16 | UInt64(r.destinationPort),
                    UInt64(bitPattern: r.startMilliseconds), r.sourceAddress.high ^ r.destinationAddress.high))
            let p = r.packets
            var k: UInt64 = 0
            if p <= 256 {
                for _ in 0..<p where g.next() % UInt64(sampling) == 0 { k += 1 }
            } else {
                let mean = Double(p) / Double(sampling)
                k = UInt64(mean) + (g.unit() < mean - Double(UInt64(mean)) ? 1 : 0)
            }
            guard k > 0 else { return false }
            r.bytes = max(k, r.bytes * k / p)
            r.packets = k
        }
        let i = Int(r.exporter.ipv4! - AddressPlan.exporterAddress(0).ipv4!)
        if r.sourceAddress.isIPv6 {
            v6[i].append(r)
            if v6[i].count >= batch { flush(i, ipv6: true, time: time, into: &out) }
        } else {
            v4[i].append(r)
            if v4[i].count >= batch { flush(i, ipv6: false, time: time, into: &out) }
        }
        return true
    }

    mutating func flush(_ i: Int, ipv6: Bool, time: Int64, into out: inout [SimulatedDatagram]) {
        let records = ipv6 ? v6[i] : v4[i]
        guard !records.isEmpty else { return }
        for payload in encoders[i].encode(records, exportTimeMilliseconds: time) {
            out.append(
                SimulatedDatagram(exporterIndex: i, exporter: AddressPlan.exporterAddress(i), timeMilliseconds: time, payload: payload))
        }
        if ipv6 { v6[i].removeAll(keepingCapacity: true) } else { v4[i].removeAll(keepingCapacity: true) }
    }

    /// Sends what every exporter still holds (the end of a window: the active timeout expired).
    mutating func flushAll(time: Int64, into out: inout [SimulatedDatagram]) {
        for i in encoders.indices {
            flush(i, ipv6: false, time: time, into: &out)
            flush(i, ipv6: true, time: time, into: &out)
        }
    }
}
