import ArgumentParser

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure Mamori on this machine (figures for BENCHMARKS.md).",
        subcommands: []
    )
}
