import ArgumentParser
import FlowCodec
import FlowFiles
import Foundation
import MamoriCore
import OfflineAnalysis

struct Decode: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode the NetFlow/IPFIX/sFlow export packets inside a pcap file.",
        discussion: """
            Prints one flow record per line: a readable table, or JSON lines with --json \
            (schema in docs/flow-record.md). Templates are learned in capture order and kept per \
            exporter address, exactly as `mamori serve` does. A summary (datagrams, records, errors \
            by kind) goes to standard error.

            Examples:
              mamori decode export.pcap
              mamori decode export.pcap --json | jq 'select(.dport == 23)'
              mamori decode export.pcap --port 2055 --sampling 192.0.2.1=1000
            """
    )

    @Argument(help: "A pcap file (libpcap format) holding export datagrams.")
    var file: String

    @Flag(help: "Print JSON lines instead of a table.")
    var json = false

    @Option(help: "Only decode UDP datagrams sent to this destination port.")
    var port: Int?

    @Option(help: ArgumentHelp("Sampling interval for an exporter that announces none: ADDRESS=N (repeatable).", valueName: "address=n"))
    var sampling: [String] = []

    func run() async throws {
        let bytes: [UInt8]
        do {
            bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
        } catch {
            throw ValidationError("cannot read \(file): \(error.localizedDescription)")
        }
        let pcap: PcapFile
        do { pcap = try PcapFile(bytes: bytes) } catch { throw ValidationError("\(file): \(error)") }
        var configuration = FlowDecoder.Configuration()
        configuration.templateTimeoutSeconds = 0 // a capture may span longer than any timeout
        for s in sampling {
            let parts = s.split(separator: "=")
            guard parts.count == 2, let a = IPAddress(parts[0]), let n = UInt32(parts[1]), n > 0 else {
                throw ValidationError("--sampling expects ADDRESS=N, e.g. 192.0.2.1=1000; got '\(s)'")
            }
            configuration.samplingOverrides[a] = n
        }
        var decoder = FlowDecoder(configuration: configuration)
        var summary = DecodeSummary()
        let out = FileHandle.standardOutput
        var records: [FlowRecord] = []
        var text = json ? "" : FlowRecordFormatter.tableHeader + "\n"
        for d in pcap.datagrams {
            if let port, Int(d.destinationPort) != port { continue }
            records.removeAll(keepingCapacity: true)
            let report = d.payload.withUnsafeBytes { raw in
                decoder.decode(raw, from: d.sourceAddress, receivedAtMilliseconds: d.timestampMicroseconds / 1000, into: &records)
            }
            summary.add(report)
            for r in records {
                text += json ? FlowRecordFormatter.json(r) : FlowRecordFormatter.tableRow(r)
                text += "\n"
            }
            if text.utf8.count > 1 << 16 {
                out.write(Data(text.utf8))
                text = ""
            }
        }
        out.write(Data(text.utf8))
        FileHandle.standardError.write(
            Data((summary.text(skippedFrames: pcap.skippedFrames, templates: decoder.templates.count) + "\n").utf8))
    }
}
