import ArgumentParser
import Benchmarking

struct BenchAttribution: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attribution",
        abstract: "Attribution lookups per core with millions of mapping records loaded, and memory per record.",
        discussion: """
            Builds an index of about --records claims the way a large carrier's feeds would fill \
            it: per subscriber line a closed earlier RADIUS session on another address, the current \
            session (Framed-IP-Address in 100.64.0.0/10 and a Delegated-IPv6-Prefix /56), and a \
            CGNAT port block on a public address (syslog allocation). Then it answers random \
            lookups on one thread for --seconds: public address + port behind the CGNAT (two \
            steps), IPv6 addresses inside delegated prefixes, and inside addresses — in equal \
            shares, all at times inside the sessions, every answer checked. Then the same queries \
            again through the batch API, resolve(_:into:), 1,024 at a time (a caller attributing a \
            window of findings). Each measurement is cut into --rounds passes, single and batched \
            back to back, and the median reported with the lowest and highest. Rates are lookups \
            per CPU-second of the thread (CLOCK_THREAD_CPUTIME_ID). Memory is the growth of the \
            process's resident set while building, divided by the claims.

            Example:  swift build -c release && .build/release/mamori bench attribution --records 10000000
            """
    )

    @Option(help: "Mapping records (claims) to load; four per subscriber line.")
    var records: Int = 10_000_000

    @Option(help: "Seconds of lookups per measurement (mixed; each kind gets a third).")
    var seconds: Double = 5

    @Option(
        help:
            "Rounds: each measurement is split into this many passes, single and batched interleaved, and the median reported (the machine's load drifts)."
    )
    var rounds: Int = 3

    func validate() throws {
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
    }

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() async throws {
        Bench.warnIfDebugBuild()
        let result = try await Bench.explained { try AttributionBenchmark(records: records, seconds: seconds, rounds: rounds).run() }
        print(json ? result.json : result.text)
    }
}
