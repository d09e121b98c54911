import ArgumentParser
import Benchmarking
import Foundation

struct BenchReports: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reports",
        abstract: "Shadowserver report reading and attribution: rows per second and peak memory for a big CSV, beside Python's csv module.",
        discussion: """
            Writes a CSV of --rows rows in Shadowserver's current scan layout (17 columns, a \
            quoted banner with a comma and escaped quotes), each a device behind the CGNAT of one \
            of --subscribers subscribers, to --file; then reads it back in 1 MiB chunks through \
            Mamori's streaming parser on one thread, taking the reports as they come, as the \
            intake does; then reads it again, attributing each batch (public address and port → \
            port block → RADIUS session) against an index of every subscriber. Rates are rows \
            per CPU-second of the reading thread. Memory \
            is the process's peak resident set before and after reading: a streamed read leaves \
            it where writing left it. With --python, the same file through python3's \
            csv.DictReader (what intelmq's Shadowserver parser reads with) in a child process, \
            for the ratio.

            Example:  swift build -c release && .build/release/mamori bench reports --rows 1000000 --python
            """
    )

    @Option(help: "Rows in the report.")
    var rows: Int = 1_000_000

    @Option(help: "Subscribers behind the CGNAT whom the rows name (each row a device of one, in turn).")
    var subscribers: Int = 200_000

    @Option(help: ArgumentHelp("Where to write the CSV (removed afterwards).", valueName: "path"))
    var file: String = FileManager.default.temporaryDirectory.appendingPathComponent("mamori-bench-scan_ntp.csv").path

    @Flag(help: "Also read the file with python3's csv.DictReader.")
    var python = false

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        guard rows >= 1 else { throw ValidationError("--rows must be at least 1") }
        guard (1...4_000_000).contains(subscribers) else { throw ValidationError("--subscribers must be 1 to 4,000,000") }
    }

    func run() async throws {
        Bench.warnIfDebugBuild()
        defer { try? FileManager.default.removeItem(atPath: file) }
        let benchmark = ReportsBenchmark(rows: rows, subscribers: subscribers, path: file, python: python)
        let result = try await Bench.explained {
            try benchmark.run { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        }
        print(json ? result.json : result.text)
    }
}
