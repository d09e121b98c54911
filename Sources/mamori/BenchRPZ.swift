import ArgumentParser
import Benchmarking
import Foundation

struct BenchRPZ: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rpz",
        abstract: "The DNS RPZ sinkhole at scale: publishing the zones, AXFR, IXFR, dnstap ingestion.",
        discussion: """
            Builds a sinkhole policy of --entries entries from a fixed seed — 80 % name triggers \
            (random command-and-control-like names: algorithmic labels under common and cheap TLDs, \
            dynamic-DNS hosts, service hosts under random domains), 20 % address triggers (IPv4 \
            hosts, some /24s, some IPv6 hosts) — and measures on one thread, with the product's own \
            components (SinkholePolicy, RPZPublication, ZoneTransferResponder, FrameStreamDecoder, \
            ResolverEvent):

              build the policy        adding every entry (the guards included), wall and CPU time
              first publish           rendering both RPZ zones the first time (RPZPublication.init)
              AXFR                    ZoneTransferResponder.respond for an AXFR of the whole \
            sinkhole zone: wall and CPU time, messages, records and bytes of the answer
              memory                  VmRSS (/proc/self/status) before and after the AXFR, and \
            VmHWM, the peak resident set, after it
              apply N changes         a batch of --changes operations (half removals of present \
            entries, half new entries) applied to the policy
              publish the batch       RPZPublication.publish after the batch: the new serial and \
            its journal step
              old path                with --full-render, the same batch published the old way \
            (the whole zone re-rendered and diffed), checked to give the same zone and step
              IXFR                    the IXFR answer from the serial before the last batch: \
            time, messages, records and bytes
              dnstap ingestion        frames per CPU second through FrameStreamDecoder and \
            ResolverEvent.decode, on 40,000 CLIENT_QUERY/CLIENT_RESPONSE frames (with their DNS \
            messages) written with the generated protobuf types, read in 64 KiB pieces

            Batch figures are the median of --batches batches. CPU times are the thread's \
            (CLOCK_THREAD_CPUTIME_ID): another process on the machine slows the wall clock, not them.

            Example:  swift build -c release --product mamori && .build/release/mamori bench rpz --entries 1000000 --full-render
            """
    )

    @Option(help: "Policy entries (names and addresses).")
    var entries: Int = 1_000_000

    @Option(help: "Changes per batch: half removals, half additions.")
    var changes: Int = 100

    @Option(help: "Batches of changes published; figures are the median.")
    var batches: Int = 3

    @Flag(help: "Also publish each batch the old way (the whole zone re-rendered and diffed), side by side.")
    var fullRender = false

    @Option(help: "CPU seconds of dnstap decoding.")
    var dnstapSeconds: Double = 3

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() async throws {
        Bench.warnIfDebugBuild()
        guard (1...20_000_000).contains(entries) else { throw ValidationError("--entries must be 1 to 20,000,000") }
        guard changes >= 2, changes <= entries, batches >= 1, dnstapSeconds > 0 else {
            throw ValidationError("--changes must be 2 to --entries, --batches at least 1, --dnstap-seconds above 0")
        }
        let benchmark = RPZBenchmark(
            entries: entries, changes: changes, batches: batches, fullRender: fullRender, dnstapSeconds: dnstapSeconds)
        let result = try await Bench.explained {
            try benchmark.run(progress: json ? nil : { FileHandle.standardError.write(Data("  \($0)\n".utf8)) })
        }
        print(json ? result.json : result.text)
    }
}
