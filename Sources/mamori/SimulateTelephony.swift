import ArgumentParser
import Foundation
import Senders
import Simulator

/// `mamori simulate telephony`: a carrier's call records with IRSF on hijacked lines, and the truth.
struct SimulateTelephony: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "telephony",
        abstract: "Simulate a Japanese carrier's call records (CDRs) with IRSF on hijacked lines, and write the ground truth.",
        discussion: """
            Builds a deterministic voice network from --seed: --lines subscriber lines in Tokyo (03) and \
            Osaka (06) for --days days from --start, and writes every call's record as the carrier's \
            softswitch logs it, in the order the feed delivers them (by the time each call ended).

            Who calls:
              homes: evenings and weekends, mostly fixed and mobile numbers in
                Japan, a few calls a week to family abroad (--family-abroad-share
                of them); 110 and 119 now and then
              businesses' PBXs (--business-share of the lines): weekday office
                hours (JST), many short calls, some to trade partners abroad
              hard negatives, heavy international use that is legitimate:
                --call-centres: ~150 calls an hour to many numbers in the US or
                  the Philippines, several at once, weekdays 9:00-18:00
                --satellite-fleets: every day, the vessels' Inmarsat and Iridium
                  phones (satellite, high-cost ranges)
                --island-traders: partners in Palau and Kiribati

            IRSF (--episodes, default two a day, at most one per 500 lines): a PBX or phone line is hijacked, mostly at \
            night or from a Friday evening; a few seconds of test calls to a range, then calls to \
            premium, satellite, international-network or small-country ranges of the shipped number \
            plan (docs/number-plan.md) — loud (6-30 long calls at once, for an hour to a weekend), \
            moderate (2-5 at once for a night) or low and slow (a few calls an hour for days) — to \
            consecutive or random numbers of one 1,000-number block, often from several lines of \
            different customers in the same hours. Then it stops.

            Formats (--format):
              asterisk: Master.csv of cdr_csv with loguniqueid, times in JST
                (read with an offset of 540 minutes)
              kamailio: the acc module's dialog CDRs (log_write_cdr) in syslog
                lines, Unix times with milliseconds; an answered call starts at
                its answer (cdr_start_on_confirmed)
            Both read back through Telephony's CDRReader to the same records.

            --labels writes the ground truth as JSON (docs/simulator-labels.md, "Telephony world"): \
            each hijacked line's episode windows, each episode's style, ranges and call ids, each \
            range's fraud-only hours, the hard negatives. The same seed and options always give the \
            same records and labels.

            Output: a progress line on standard error; at the end one summary line on standard output, \
            e.g. `simulated_telephony records=61234 fraudulent=4321 episodes=14 bytes=… seconds=…`.

            Examples:
              mamori simulate telephony --out week.csv --labels week.json
              mamori simulate telephony --format kamailio --out acc.log --days 2
              mamori simulate telephony --lines 25000 --out million.csv
              mamori simulate telephony --episodes 40 --out f.csv --labels f.json
            (the third writes about a million records: a week of 25,000 lines)

            Options go after `telephony`.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case asterisk, kamailio
    }

    @Option(help: "Seed of the simulated world: the same seed gives the same records and labels.")
    var seed: UInt64 = 1

    @Option(help: "Subscriber lines (20 to 1,000,000).")
    var lines: Int = 10_000

    @Option(help: "Simulated days (1 to 366).")
    var days: Int = 7

    @Option(help: "Whose CDRs: asterisk (Master.csv) or kamailio (acc log).")
    var format: Format = .asterisk

    @Option(help: ArgumentHelp("Write the call records to this file.", valueName: "file"))
    var out: String?

    @Option(help: ArgumentHelp("Write the ground-truth labels (JSON) to this file.", valueName: "file"))
    var labels: String?

    @Option(help: ArgumentHelp("When the world starts, RFC 3339 (default: 2026-12-07T00:00:00+09:00, a Monday).", valueName: "time"))
    var start: String?

    @Option(help: ArgumentHelp("Share of lines that are businesses' PBXs, 0 to 1.", valueName: "share"))
    var businessShare: Double = 0.2

    @Option(help: ArgumentHelp("Share of homes with family abroad, 0 to 1.", valueName: "share"))
    var familyAbroadShare: Double = 0.15

    @Option(help: "IRSF episodes (hijacked lines; default two per simulated day, at most one per 500 lines, 1 to 60).")
    var episodes: Int?

    @Option(help: "Hard negatives: call centres calling many numbers in one foreign country.")
    var callCentres: Int = 2

    @Option(help: "Hard negatives: companies calling their vessels' satellite phones.")
    var satelliteFleets: Int = 1

    @Option(help: "Hard negatives: traders calling partners in Pacific island states.")
    var islandTraders: Int = 1

    @Option(help: ArgumentHelp("Stop after this many records (the labels still describe the whole world).", valueName: "n"))
    var maxRecords: Int?

    // Everything after `telephony` is this command's: the parser stops `simulate`'s own options
    // there (its --seed and --labels would take ours). Anything not understood ends up here.
    @Argument(parsing: .captureForPassthrough, help: .hidden)
    var unexpected: [String] = []

    func validate() throws {
        if let first = unexpected.first, first == "--help" || first == "-h" { throw CleanExit.helpRequest(self) }
        if let first = unexpected.first { throw ValidationError("unknown option or argument '\(first)' (see --help)") }
        guard out != nil || labels != nil else { throw ValidationError("give --out FILE and/or --labels FILE") }
        if let start, Simulate.rfc3339Milliseconds(start) == nil {
            throw ValidationError("--start '\(start)' is not an RFC 3339 time like 2026-12-07T00:00:00+09:00")
        }
        if let maxRecords, maxRecords < 1 { throw ValidationError("--max-records must be at least 1") }
        do { try worldConfiguration().validate() } catch { throw ValidationError(error.description) }
    }

    func worldConfiguration() -> TelephonyWorld.Configuration {
        var c = TelephonyWorld.Configuration(seed: seed, lines: lines, days: days)
        c.feed = format == .asterisk ? .asterisk : .kamailio
        if let start, let t = Simulate.rfc3339Milliseconds(start) { c.startMilliseconds = t }
        c.businessFraction = businessShare
        c.familyAbroadFraction = familyAbroadShare
        c.episodes = episodes
        c.callCentreLines = callCentres
        c.satelliteFleetLines = satelliteFleets
        c.islandTradeLines = islandTraders
        c.maximumRecords = maxRecords
        return c
    }

    func run() throws {
        let c = worldConfiguration()
        let wallStart = monotonicSeconds()
        let world: TelephonyWorld
        do { world = try TelephonyWorld(configuration: c) } catch { throw ValidationError("\(error)") }

        if let labels {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(world.labels).write(to: URL(fileURLWithPath: labels))
        }
        guard let out else {
            summary(records: 0, fraudulent: 0, bytes: 0, world: world, since: wallStart)
            return
        }
        guard FileManager.default.createFile(atPath: out, contents: nil), let file = FileHandle(forWritingAtPath: out) else {
            throw ValidationError("cannot create \(out)")
        }
        defer { try? file.close() }
        let writer = TelephonyCDRWriter(feed: c.feed)
        var stream = world.calls()
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 20 + 4096)
        var records = 0
        var fraudulent = 0
        var bytes = 0
        var lastProgress = wallStart
        while let call = stream.next() {
            records += 1
            if call.episode != nil { fraudulent += 1 }
            writer.append(call, to: &buffer)
            if buffer.count >= 1 << 20 {
                try file.write(contentsOf: buffer)
                bytes += buffer.count
                buffer.removeAll(keepingCapacity: true)
                let now = monotonicSeconds()
                if now - lastProgress >= 1 {
                    lastProgress = now
                    progress(stream, world: world, records: records, elapsed: now - wallStart)
                }
            }
        }
        try file.write(contentsOf: buffer)
        bytes += buffer.count
        progress(stream, world: world, records: records, elapsed: monotonicSeconds() - wallStart)
        FileHandle.standardError.write(Data("\n".utf8))
        summary(records: records, fraudulent: fraudulent, bytes: bytes, world: world, since: wallStart)
    }

    private func progress(_ stream: TelephonyCallStream, world: TelephonyWorld, records: Int, elapsed: Double) {
        let c = world.configuration
        let hours = (min(stream.generatedUntil, c.endMilliseconds) - c.startMilliseconds) / 3_600_000
        let rate = elapsed > 0 ? Double(records) / elapsed : 0
        let line = "simulated \(hours)/\(c.days * 24) h  records \(records)  \(String(format: "%.0f", rate)) records/s"
        FileHandle.standardError.write(Data("\r\(line)   ".utf8))
    }

    private func summary(records: Int, fraudulent: Int, bytes: Int, world: TelephonyWorld, since: Double) {
        let seconds = monotonicSeconds() - since
        let line =
            "simulated_telephony records=\(records) fraudulent=\(fraudulent) episodes=\(world.labels.episodes.count) hijacked_lines=\(world.labels.hijackedLines.count) bytes=\(bytes) seconds=\(String(format: "%.2f", seconds))\n"
        FileHandle.standardOutput.write(Data(line.utf8))
    }
}
