import ArgumentParser
import Benchmarking
import Foundation

struct BenchRADIUS: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "radius",
        abstract: "RADIUS accounting requests ingested per second: over UDP on loopback into the attribution index.",
        discussion: """
            Starts Mamori's RADIUS accounting server on a free 127.0.0.1 port, recording into an \
            attribution index as `mamori serve` does, and sends it --requests signed \
            Accounting-Requests (Start, then Interim-Updates, of distinct sessions) from one client \
            socket, keeping --window requests outstanding. Counts the Accounting-Responses, requests \
            never answered (given up after 200 ms of silence), the records that reached the index, \
            and the wall time. \
            Sender and server share the machine, so the figure is a floor for a dedicated server.

            Example:  swift build -c release && .build/release/mamori bench radius --requests 200000
            """
    )

    @Option(help: "Accounting-Requests to send.")
    var requests: Int = 200_000

    @Option(help: "Requests outstanding at once (a NAS's retransmission window).")
    var window: Int = 128

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() async throws {
        let result = try await Bench.explained {
            try await RADIUSBenchmark(requests: requests, window: window).run { answered in
                FileHandle.standardError.write(Data("\r\(answered)/\(requests) answered   ".utf8))
            }
        }
        if json {
            print(result.json)
        } else {
            FileHandle.standardError.write(Data("\r".utf8))
            print(result.text)
        }
    }
}
