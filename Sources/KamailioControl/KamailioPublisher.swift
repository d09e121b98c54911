// KamailioControl: Mamori's block rules in the carrier's softswitch. Writes the db_text tables
// Kamailio's mtree (blocked prefixes) and htable (exempt accounts) load, reloads them over
// Kamailio's JSON-RPC (xhttp + jsonrpcs, HTTP on loopback), and reads back what Kamailio loaded.
// An adapter: it may import Foundation, AsyncHTTPClient, SwiftNIO's core, POSIX and HTTP/1
// modules, Logging, Metrics and MamoriCore.

import AsyncHTTPClient
import Foundation
import Logging
import MamoriCore
import Metrics
import NIOCore
import NIOHTTP1

/// Publishes a ``SoftswitchBlocklist`` to a running Kamailio (docs/kamailio.md).
///
/// A publish, one at a time (a second waits for the first):
/// 1. checks the list (``KamailioTables``; nothing is written if it breaks a rule);
/// 2. writes both tables, each to a temporary file given a modification time newer (in whole
///    seconds) than the file it replaces — db_text re-reads a table only then — and renamed over it;
/// 3. asks Kamailio to reload the exemptions (`htable.reload`), then the blocks (`mtree.reload`):
///    a new block arrives with its exemptions already in force;
/// 4. reads back what Kamailio loaded (`mtree.list`, `htable.dump`; for large tables their sizes
///    and a sample, ``Configuration/fullReadBackLimit``) and reports whether it is what was
///    published.
///
/// When Kamailio refuses a reload (it answers an error and keeps the list it had) or does not
/// answer, the tables on disk are put back as they were (and a reload that had succeeded is
/// repeated with them), so that disk and memory agree again and a restarted Kamailio loads the
/// list in force; the error names the RPC answer.
///
/// Metrics: `mamori_kamailio_publishes_total{outcome}` (`published`, `mismatch`, `invalid_list`,
/// `table_write`, `unreachable`, `refused`, `malformed_answer`),
/// `mamori_kamailio_published_entries{table="blocks"|"exemptions"}` and
/// `mamori_kamailio_publish_duration_seconds` (the last publish). Failures are logged once per
/// kind every 10 minutes.
///
/// ```swift
/// let publisher = KamailioPublisher(
///     configuration: .init(tablesDirectory: "/var/lib/mamori/kamailio", rpcURL: "http://127.0.0.1:5071/RPC"),
///     logger: logger, metricsFactory: factory)
/// try publisher.prepare()   // before Kamailio first starts: empty tables
/// let report = try await publisher.publish(list)
/// ```
public actor KamailioPublisher {
    public struct Configuration: Sendable, Hashable {
        /// The directory of db_text tables Kamailio reads (`db_url` `text://<directory>`). Mamori's
        /// own: Mamori writes its two tables and, if there is none, `version`.
        public var tablesDirectory: String
        /// Kamailio's JSON-RPC over HTTP, `http://127.0.0.1:PORT/RPC`.
        public var rpcURL: String
        /// Each RPC's time limit (reloading 100,000 prefixes took Kamailio 5.6 about 3.5 s on a
        /// busy two-core machine).
        public var timeout: Duration
        /// The mtree's name (`modparam("mtree", "mtree", "name=…")`) and its db_text table.
        public var blockTree: String
        public var blockTable: String
        /// The htable's name (`modparam("htable", "htable", "…=>dbtable=…")`) and its db_text table.
        public var exemptionHTable: String
        public var exemptionTable: String
        public var limits: KamailioTables.Limits
        /// A larger RPC answer is refused.
        public var maximumAnswerBytes: Int
        /// Tables of at most this many rows are read back whole (`mtree.list`, `htable.dump`).
        /// Larger ones are checked by their size (`mtree.summary`, `htable.stats`) and
        /// ``sampleSize`` rows spread over them (`mtree.match`, `htable.get`): Kamailio 5.6 takes
        /// seconds to list 20,000 prefixes and over 30 s for 100,000, and cuts an `htable.dump`
        /// answer of megabytes short (its TCP write queue).
        public var fullReadBackLimit: Int
        public var sampleSize: Int

        public init(
            tablesDirectory: String, rpcURL: String, timeout: Duration = .seconds(30), blockTree: String = "mamori_blocked",
            blockTable: String = "mamori_blocked", exemptionHTable: String = "mamori_exempt", exemptionTable: String = "mamori_exempt",
            limits: KamailioTables.Limits = KamailioTables.Limits(), maximumAnswerBytes: Int = 64 << 20, fullReadBackLimit: Int = 5000,
            sampleSize: Int = 64
        ) {
            self.tablesDirectory = tablesDirectory
            self.rpcURL = rpcURL
            self.timeout = timeout
            self.blockTree = blockTree
            self.blockTable = blockTable
            self.exemptionHTable = exemptionHTable
            self.exemptionTable = exemptionTable
            self.limits = limits
            self.maximumAnswerBytes = maximumAnswerBytes
            self.fullReadBackLimit = fullReadBackLimit
            self.sampleSize = sampleSize
        }
    }

    public nonisolated let configuration: Configuration
    private let logger: Logger
    private let outcomes: [String: Counter]
    private let blockEntries: Gauge
    private let exemptionEntries: Gauge
    private let duration: Gauge
    private var throttle = LogThrottle(interval: 600_000, maximumKeys: 16)
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    static let outcomeLabels = ["published", "mismatch", "invalid_list", "table_write", "unreachable", "refused", "malformed_answer"]

    public init(configuration: Configuration, logger: Logger, metricsFactory: any MetricsFactory) {
        self.configuration = configuration
        self.logger = logger
        var o: [String: Counter] = [:]
        for label in Self.outcomeLabels {
            o[label] = Counter(label: "mamori_kamailio_publishes_total", dimensions: [("outcome", label)], factory: metricsFactory)
        }
        outcomes = o
        blockEntries = Gauge(label: "mamori_kamailio_published_entries", dimensions: [("table", "blocks")], factory: metricsFactory)
        exemptionEntries = Gauge(label: "mamori_kamailio_published_entries", dimensions: [("table", "exemptions")], factory: metricsFactory)
        duration = Gauge(label: "mamori_kamailio_publish_duration_seconds", factory: metricsFactory)
    }

    /// Makes the tables directory ready for Kamailio's first start: the directory, a `version`
    /// table and empty tables where there are none. Touches nothing that exists; no RPC.
    public nonisolated func prepare() throws(KamailioControlError) {
        let files = TableFiles(configuration)
        do {
            try FileManager.default.createDirectory(atPath: configuration.tablesDirectory, withIntermediateDirectories: true)
        } catch {
            throw KamailioControlError(.tableWrite, "cannot create \(configuration.tablesDirectory): \(error)")
        }
        try files.writeIfAbsent(
            files.version, KamailioTables.versionFile(blockTable: configuration.blockTable, exemptionTable: configuration.exemptionTable))
        try files.writeIfAbsent(files.blocks, KamailioTables.blockHeader + "\n")
        try files.writeIfAbsent(files.exemptions, KamailioTables.exemptionHeader + "\n")
    }

    /// Publishes `list` whole (what it leaves out is lifted) and returns what Kamailio loaded.
    /// Throws ``KamailioControlError``: `invalidList` and `tableWrite` before Kamailio was asked
    /// anything (it keeps its list), `refused` and `unreachable` when a reload failed (Kamailio
    /// keeps the list it had; the tables on disk are put back), `malformedAnswer`.
    public func publish(_ list: SoftswitchBlocklist) async throws(KamailioControlError) -> PublishReport {
        await acquire()
        defer { release() }
        let started = ContinuousClock.now
        do {
            let report = try await publishNow(list, started: started)
            record(report.matches ? "published" : "mismatch", started: started)
            blockEntries.record(report.blocks)
            exemptionEntries.record(report.exemptions)
            if !report.matches {
                note("mismatch", "Kamailio loaded something else than was published: \(report.differences.joined(separator: "; "))")
            }
            return report
        } catch {
            record(error.code.description, started: started)
            note(error.code.description, error.description)
            throw error
        }
    }

    private func publishNow(_ list: SoftswitchBlocklist, started: ContinuousClock.Instant) async throws(KamailioControlError)
        -> PublishReport
    {
        let tables = try KamailioTables(list, limits: configuration.limits)
        try prepare()
        let files = TableFiles(configuration)
        let previousExemptions = try files.read(files.exemptions)
        let previousBlocks = try files.read(files.blocks)
        try files.replace(files.exemptions, with: tables.exemptionFile)
        do {
            try files.replace(files.blocks, with: tables.blockFile)
        } catch {
            try? files.replace(files.exemptions, with: previousExemptions ?? KamailioTables.exemptionHeader + "\n")
            throw error
        }
        let client = RPCClient(configuration)
        let result: Result<PublishReport, KamailioControlError>
        do {
            result = .success(
                try await reload(tables, client: client, files: files, previous: (previousExemptions, previousBlocks), started: started))
        } catch {
            result = .failure(error)
        }
        await client.shutdown()
        return try result.get()
    }

    private func reload(
        _ tables: KamailioTables, client: RPCClient, files: TableFiles, previous: (exemptions: String?, blocks: String?),
        started: ContinuousClock.Instant
    ) async throws(KamailioControlError) -> PublishReport {
        var reloaded: [String] = []
        do {
            _ = try await client.call("htable.reload", [configuration.exemptionHTable])
            reloaded.append("htable")
            _ = try await client.call("mtree.reload", [configuration.blockTree])
        } catch {
            // Kamailio keeps what it had: put the tables it had back on disk, and reload what
            // had already taken the new ones.
            try? files.replace(files.exemptions, with: previous.exemptions ?? KamailioTables.exemptionHeader + "\n")
            try? files.replace(files.blocks, with: previous.blocks ?? KamailioTables.blockHeader + "\n")
            var restored = "the tables on disk were put back"
            if reloaded.contains("htable") {
                do {
                    _ = try await client.call("htable.reload", [configuration.exemptionHTable])
                    restored += " and the exemptions reloaded from them"
                } catch {
                    restored += ", but reloading the exemptions from them failed too (\(error.reason))"
                }
            }
            throw KamailioControlError(error.code, "\(error.reason); Kamailio keeps the list it had loaded, \(restored)")
        }
        var differences: [String] = []
        let loadedBlocks: Int
        let loadedExemptions: Int
        var checked = 0
        if tables.blocks.count <= configuration.fullReadBackLimit {
            let tree = try await client.loadedTree(configuration.blockTree)
            loadedBlocks = tree.count
            checked += tables.blocks.count
            PublishReport.compare("block", tables.expectedTree, tree, into: &differences)
        } else {
            loadedBlocks = try await client.treeSize(configuration.blockTree)
            if loadedBlocks != tables.blocks.count { differences.append("\(loadedBlocks) blocks loaded, not \(tables.blocks.count)") }
            for row in Self.sample(tables.blocks, configuration.sampleSize) {
                checked += 1
                let got = try await client.match(configuration.blockTree, row.prefix)
                if got?.prefix != row.prefix || got?.value != row.value {
                    differences.append(
                        got.map { "block \(row.prefix) is '\($0.value)' under \($0.prefix)" } ?? "missing block \(row.prefix)")
                }
            }
        }
        if tables.exemptions.count <= configuration.fullReadBackLimit {
            let exemptions = try await client.loadedHTable(configuration.exemptionHTable)
            loadedExemptions = exemptions.count
            checked += tables.exemptions.count
            PublishReport.compare("exemption", tables.expectedExemptions, exemptions, into: &differences)
        } else {
            loadedExemptions = try await client.htableSize(configuration.exemptionHTable)
            if loadedExemptions != tables.exemptions.count {
                differences.append("\(loadedExemptions) exemptions loaded, not \(tables.exemptions.count)")
            }
            for row in Self.sample(tables.exemptions, configuration.sampleSize) {
                checked += 1
                let got = try await client.htableValue(configuration.exemptionHTable, row.key)
                if got != row.value { differences.append(got.map { "exemption \(row.key) is '\($0)'" } ?? "missing exemption \(row.key)") }
            }
        }
        return PublishReport(
            blocks: tables.blocks.count, exemptions: tables.exemptions.count, merged: tables.merged, loadedBlocks: loadedBlocks,
            loadedExemptions: loadedExemptions, checkedEntries: checked, differences: Array(differences.prefix(10)),
            duration: ContinuousClock.now - started)
    }

    /// At most `count` rows spread evenly over `rows`, the first and the last among them.
    static func sample<T>(_ rows: [T], _ count: Int) -> [T] {
        guard rows.count > count, count > 1 else { return Array(rows.prefix(max(count, 0))) }
        return (0..<count).map { rows[$0 * (rows.count - 1) / (count - 1)] }
    }

    private func record(_ outcome: String, started: ContinuousClock.Instant) {
        outcomes[outcome]?.increment()
        let d = ContinuousClock.now - started
        duration.record(Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
    }

    /// Logs a failure kind once every 10 minutes.
    private func note(_ kind: String, _ message: String) {
        let now = Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000)
        guard throttle.shouldLog(kind, now: now) else { return }
        logger.info(
            "kamailio: publish failed: \(message) (logged once every 10 minutes; counted in mamori_kamailio_publishes_total{outcome=\"\(kind)\"})",
            metadata: ["kamailio.outcome": "\(kind)"])
    }

    private func acquire() async {
        if !busy {
            busy = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    private func release() {
        if waiting.isEmpty {
            busy = false
        } else {
            waiting.removeFirst().resume()
        }
    }
}

/// What a publish did and what Kamailio loaded.
public struct PublishReport: Sendable, Hashable, CustomStringConvertible {
    /// Rows published (after merging).
    public var blocks: Int
    public var exemptions: Int
    /// Entries of the list folded into others (``KamailioTables/merged``).
    public var merged: Int
    /// Rows Kamailio shows after the reload.
    public var loadedBlocks: Int
    public var loadedExemptions: Int
    /// Whether Kamailio loaded exactly what was published.
    public var matches: Bool
    /// The first differences (at most 10): `missing block 88213`, `unexpected exemption a|*` …
    public var differences: [String]
    public var duration: Duration

    /// Entries whose value was read back and compared: all of them, or a sample when a table
    /// is larger than ``KamailioPublisher/Configuration/fullReadBackLimit`` (its size is
    /// compared then too).
    public var checkedEntries: Int

    init(
        blocks: Int, exemptions: Int, merged: Int, loadedBlocks: Int, loadedExemptions: Int, checkedEntries: Int, differences: [String],
        duration: Duration
    ) {
        self.blocks = blocks
        self.exemptions = exemptions
        self.merged = merged
        self.loadedBlocks = loadedBlocks
        self.loadedExemptions = loadedExemptions
        self.checkedEntries = checkedEntries
        self.differences = differences
        matches = differences.isEmpty
        self.duration = duration
    }

    /// Appends what differs between `expected` and `loaded` (at most 10 differences in all).
    static func compare(_ what: String, _ expected: [String: String], _ loaded: [String: String], into d: inout [String]) {
        for (k, v) in expected.sorted(by: { $0.key < $1.key }) where d.count < 10 {
            if let l = loaded[k] {
                if l != v { d.append("\(what) \(k) is '\(l)', not '\(v)'") }
            } else {
                d.append("missing \(what) \(k)")
            }
        }
        for k in loaded.keys.sorted() where expected[k] == nil && d.count < 10 { d.append("unexpected \(what) \(k)") }
    }

    public var description: String {
        "published \(blocks) blocks and \(exemptions) exemptions (\(merged) merged); Kamailio loaded \(loadedBlocks) and \(loadedExemptions), \(checkedEntries) compared"
            + (matches ? "" : ", differing: \(differences.joined(separator: "; "))")
    }
}
