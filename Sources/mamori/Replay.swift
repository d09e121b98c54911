import ArgumentParser
import FlowCodec
import FlowFiles
import Foundation
import MamoriCore
import Senders

struct Replay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send the UDP payloads found in a pcap to a collector.",
        discussion: """
            Every UDP datagram in the capture (optionally only those sent to --port) is sent, in \
            capture order, from one local socket to HOST:PORT. The collector sees this machine \
            as the exporter. Without --rate the datagrams go out as fast as possible.

            Examples:
              mamori replay export.pcap --to 127.0.0.1:2055
              mamori replay export.pcap --to [::1]:4739 --rate 1000 --loop 10
            """
    )

    @Argument(help: "A pcap file holding export datagrams.")
    var file: String

    @Option(help: ArgumentHelp("Collector to send to.", valueName: "host:port"))
    var to: String

    @Option(help: "Datagrams per second (0 = as fast as possible).")
    var rate: Double = 0

    @Option(help: "Send the whole capture this many times.")
    var loop: Int = 1

    @Option(help: "Only send datagrams whose destination port in the capture is this one.")
    var port: Int?

    func validate() throws {
        guard rate >= 0 else { throw ValidationError("--rate must be 0 or more") }
        guard loop >= 1 else { throw ValidationError("--loop must be at least 1") }
    }

    func run() async throws {
        let endpoint: SocketEndpoint
        do { endpoint = try SocketEndpoint(parsing: to) } catch { throw ValidationError("--to \(error)") }
        let bytes: [UInt8]
        do { bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file))) } catch {
            throw ValidationError("cannot read \(file): \(error.localizedDescription)")
        }
        let pcap: PcapFile
        do { pcap = try PcapFile(bytes: bytes) } catch { throw ValidationError("\(file): \(error)") }
        let payloads = pcap.datagrams.filter { port == nil || Int($0.destinationPort) == port }.map(\.payload)
        guard !payloads.isEmpty else { throw ValidationError("\(file) holds no UDP datagrams\(port.map { " to port \($0)" } ?? "")") }
        let sender = try UDPSender(to: endpoint)
        let start = monotonicSeconds()
        var sent = 0
        var failed = 0
        let total = payloads.count * loop
        var lastProgress = start
        for _ in 0..<loop {
            for p in payloads {
                if rate > 0 {
                    let due = start + Double(sent + failed) / rate
                    let wait = due - monotonicSeconds()
                    if wait > 0 { try await Task.sleep(nanoseconds: UInt64(wait * 1e9)) }
                }
                if p.withUnsafeBytes({ sender.send($0) }) { sent += 1 } else { failed += 1 }
                let now = monotonicSeconds()
                if now - lastProgress >= 1 {
                    lastProgress = now
                    FileHandle.standardError.write(Data("\rsent \(sent)/\(total) datagrams".utf8))
                }
            }
        }
        let elapsed = monotonicSeconds() - start
        let summary =
            "sent \(sent) of \(total) datagrams to \(endpoint) in \(String(format: "%.2f", elapsed)) s"
            + (failed > 0 ? " (\(failed) failed: is a collector listening?)" : "")
        FileHandle.standardError.write(Data("\r\(summary)\n".utf8))
        if failed > 0 && sent == 0 { throw ExitCode.failure }
    }
}
