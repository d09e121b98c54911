import FlowCodec
import Foundation
import IdentityCodec
import Logging
import Metrics
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Reads the carrier's identity files and follows them as they grow: ISC Kea memfile lease files
/// (v4, v6), FreeRADIUS `detail` files and CGNAT port-block syslog files. The whole file at start,
/// then every `pollInterval` what was appended — complete lines (detail: complete records) only,
/// so a line half-written is read once it is whole. A file that shrinks or is replaced (another
/// inode: `kea-lfc` rotating `leases4.csv`, logrotate) is read again from the start; applying a
/// lease or record twice changes nothing in the attribution index.
///
/// Metrics: `mamori_identity_file_records_total{kind,result}` (result: read, bad); a bad line is
/// logged once per file and skipped, the good ones around it are kept.
public final class IdentityFileFollower: Service, Sendable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case keaLeases4 = "kea-leases4"
        case keaLeases6 = "kea-leases6"
        case radiusDetail = "radius-detail"
        case natSyslog = "nat-syslog"
    }

    public struct File: Sendable, Hashable {
        public var path: String
        public var kind: Kind
        public init(path: String, kind: Kind) {
            self.path = path
            self.kind = kind
        }
    }

    public struct Configuration: Sendable, Hashable {
        public var files: [File] = []
        public var pollInterval: Duration = .seconds(1)
        public init() {}
    }

    /// Where the records go.
    public struct Handlers: Sendable {
        public var accounting: @Sendable (AccountingRecord, IPAddress, Int64) -> Void
        public var lease4: @Sendable (KeaLeaseFile.Lease4) -> Void
        public var lease6: @Sendable (KeaLeaseFile.Lease6) -> Void
        public var portBlock: @Sendable (NATPortBlockEvent) -> Void
        public init(
            accounting: @escaping @Sendable (AccountingRecord, IPAddress, Int64) -> Void,
            lease4: @escaping @Sendable (KeaLeaseFile.Lease4) -> Void,
            lease6: @escaping @Sendable (KeaLeaseFile.Lease6) -> Void, portBlock: @escaping @Sendable (NATPortBlockEvent) -> Void
        ) {
            self.accounting = accounting
            self.lease4 = lease4
            self.lease6 = lease6
            self.portBlock = portBlock
        }
    }

    struct Position {
        var inode: UInt64 = 0
        var offset: UInt64 = 0
        /// Kea: the header line, needed to read the rows after it.
        var header: String?
        var warned = false
    }

    private let configuration: Configuration
    private let handlers: Handlers
    private let logger: Logger
    private let positions: NIOLockedValueBox<[String: Position]>
    private let read: [Kind: Counter]
    private let bad: [Kind: Counter]

    public init(configuration: Configuration, handlers: Handlers, logger: Logger, metricsFactory: any MetricsFactory) {
        self.configuration = configuration
        self.handlers = handlers
        self.logger = logger
        positions = NIOLockedValueBox([:])
        var r: [Kind: Counter] = [:]
        var b: [Kind: Counter] = [:]
        for k in Kind.allCases {
            r[k] = Counter(
                label: "mamori_identity_file_records_total", dimensions: [("kind", k.rawValue), ("result", "read")], factory: metricsFactory
            )
            b[k] = Counter(
                label: "mamori_identity_file_records_total", dimensions: [("kind", k.rawValue), ("result", "bad")], factory: metricsFactory)
        }
        read = r
        bad = b
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                self.pollOnce()
                try? await Task.sleep(for: self.configuration.pollInterval)
            }
        }
    }

    /// Reads what every file gained since the last call; returns the records read.
    @discardableResult
    public func pollOnce() -> Int {
        configuration.files.reduce(0) { $0 + poll($1) }
    }

    private func poll(_ file: File) -> Int {
        var st = stat()
        guard stat(file.path, &st) == 0 else { return 0 } // not there (yet): nothing to read
        var position = positions.withLockedValue { $0[file.path] ?? Position() }
        let inode = UInt64(st.st_ino)
        let size = UInt64(st.st_size)
        if inode != position.inode || size < position.offset {
            if position.inode != 0 {
                logger.info("identity file replaced or truncated: reading it again", metadata: ["file": "\(file.path)"])
            }
            position = Position(inode: inode, offset: 0, header: nil, warned: position.warned)
        }
        guard size > position.offset, let handle = FileHandle(forReadingAtPath: file.path) else {
            positions.withLockedValue { $0[file.path] = position }
            return 0
        }
        defer { try? handle.close() }
        // At most 64 MiB per poll, so one huge file cannot hold the others up.
        let want = Int(min(size - position.offset, 64 << 20))
        try? handle.seek(toOffset: position.offset)
        guard let data = try? handle.read(upToCount: want), !data.isEmpty else { return 0 }
        let text = String(decoding: data, as: UTF8.self)
        var consumed = 0
        var count = 0
        var bad = 0
        var firstProblem: String?
        switch file.kind {
        case .radiusDetail:
            // A record ends with a blank line; each complete one is parsed on its own, so one bad
            // record costs only itself.
            guard let end = text.range(of: "\n\n", options: .backwards) else { break }
            let complete = text[..<end.upperBound]
            consumed = complete.utf8.count
            for chunk in complete.components(separatedBy: "\n\n") where !chunk.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                do {
                    let result = try FreeRADIUSDetail.parse((chunk + "\n\n")[...])
                    guard !result.entries.isEmpty else { throw IdentityCodecError(.malformedLine, "no record") }
                    for entry in result.entries {
                        let record = try entry.accountingRecord()
                        handlers.accounting(record, record.nasIPAddress ?? .unspecifiedV4, entry.writtenAtMilliseconds)
                        count += 1
                    }
                } catch {
                    bad += 1
                    firstProblem = firstProblem ?? "\(error)"
                }
            }
        case .keaLeases4, .keaLeases6, .natSyslog:
            guard let lastNewline = text.utf8.lastIndex(of: UInt8(ascii: "\n")) else { break }
            let complete = text[..<lastNewline]
            consumed = complete.utf8.count + 1
            for line in complete.split(separator: "\n", omittingEmptySubsequences: true) {
                let row = line.hasSuffix("\r") ? line.dropLast() : line
                if row.isEmpty { continue }
                if file.kind == .natSyslog {
                    do {
                        handlers.portBlock(try NATPortBlockEvent(line: row))
                        count += 1
                    } catch {
                        bad += 1
                        firstProblem = firstProblem ?? "\(error)"
                    }
                    continue
                }
                guard let header = position.header else {
                    position.header = String(row)
                    continue
                }
                do {
                    let one = header + "\n" + row
                    if file.kind == .keaLeases4 {
                        for l in try KeaLeaseFile.parse4(one[...]) { handlers.lease4(l) }
                    } else {
                        for l in try KeaLeaseFile.parse6(one[...]) { handlers.lease6(l) }
                    }
                    count += 1
                } catch {
                    bad += 1
                    firstProblem = firstProblem ?? "\(error)"
                }
            }
        }
        position.offset += UInt64(consumed)
        if bad > 0, !position.warned {
            position.warned = true
            logger.warning(
                "skipped unreadable lines of an identity file",
                metadata: ["file": "\(file.path)", "kind": "\(file.kind.rawValue)", "problem": "\(firstProblem ?? "")"])
        }
        positions.withLockedValue { $0[file.path] = position }
        if count > 0 { read[file.kind]?.increment(by: Int64(count)) }
        if bad > 0 { self.bad[file.kind]?.increment(by: Int64(bad)) }
        return count
    }
}
