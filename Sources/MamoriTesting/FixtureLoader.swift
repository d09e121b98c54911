import FlowCodec
import FlowFiles
import Foundation
import NIOCore

/// Loads capture fixtures (classic pcap files) as the datagrams a collector would have received.
///
/// ```swift
/// let datagrams = try FixtureLoader.datagrams(pcapAt: url.path)
/// var decoder = FlowDecoder()
/// let frames = FixtureLoader.replay(datagrams, through: &decoder)
/// ```
public enum FixtureLoader {
    /// Why a fixture could not be loaded.
    public struct LoadError: Error, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "\(path): \(reason)" }
    }

    /// The raw bytes of a file.
    public static func bytes(at path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LoadError(path: path, reason: "cannot read file")
        }
        return [UInt8](data)
    }

    /// The UDP datagrams of a pcap file, in capture order.
    public static func datagrams(pcapAt path: String) throws -> [CapturedDatagram] {
        do {
            return try PcapFile(bytes: bytes(at: path)).datagrams
        } catch let error as PcapError {
            throw LoadError(path: path, reason: error.description)
        }
    }

    /// The UDP payloads of a pcap file, one `ByteBuffer` per datagram.
    public static func buffers(pcapAt path: String) throws -> [ByteBuffer] {
        try datagrams(pcapAt: path).map { ByteBuffer(bytes: $0.payload) }
    }

    /// The result of decoding one captured datagram.
    public struct DecodedFrame: Sendable {
        /// 1-based frame index among the pcap's UDP datagrams (matches tshark's frame number when
        /// every frame of the capture is UDP).
        public var frame: Int
        public var datagram: CapturedDatagram
        public var report: DecodeReport
        public var records: [FlowRecord]
    }

    /// Decodes `datagrams` in order through one decoder: exporter = the datagram's source
    /// address, receive time = its capture time.
    public static func replay(_ datagrams: [CapturedDatagram], through decoder: inout FlowDecoder) -> [DecodedFrame] {
        var out: [DecodedFrame] = []
        out.reserveCapacity(datagrams.count)
        for (i, d) in datagrams.enumerated() {
            var records: [FlowRecord] = []
            let report = decoder.decode(
                ByteBuffer(bytes: d.payload), from: d.sourceAddress,
                receivedAtMilliseconds: d.timestampMicroseconds / 1000, into: &records
            )
            out.append(DecodedFrame(frame: i + 1, datagram: d, report: report, records: records))
        }
        return out
    }
}
