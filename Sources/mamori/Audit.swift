import ArgumentParser
import Foundation
import Lawful
import Storage

/// `mamori audit verify`: checks the hash-chained audit log.
struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the tamper-evident audit log.",
        subcommands: [Verify.self]
    )

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every audit entry, its link to the one before, and the head: any change or deletion is reported.",
            discussion: """
                The audit log (<data-dir>/audit/) records every legal-basis decision, notice, identity \
                reveal, consent change and configuration load. Each entry carries an HMAC of its content \
                under the audit key and the digest of the entry before it; HEAD records the last one. \
                Exit status 0 when the log is sound, 1 when anything was altered, removed or reordered \
                (each problem is printed with its file and line). Old segments removed by the retention \
                sweep are recorded in the chain and are not a problem. Safe to run while the server runs.

                  mamori audit verify --data-dir mamori-data
                """
        )

        @Option(help: ArgumentHelp("The server's data directory.", valueName: "dir"))
        var dataDir: String = "mamori-data"

        @Option(help: ArgumentHelp("The audit key (default: <data-dir>/audit.key, or lawful.audit_key_file).", valueName: "file"))
        var keyFile: String?

        func run() throws {
            let path = keyFile ?? dataDir + "/audit.key"
            guard let key = try? AuditKey.load(path: path) else {
                throw AuditCommandError("cannot read the audit key \(path); give --key-file or --data-dir")
            }
            let directory = dataDir + "/audit"
            guard FileManager.default.fileExists(atPath: directory) else { throw AuditCommandError("no audit log in \(directory)") }
            let v = try AuditLog.verify(directory: directory, key: key)
            if v.isSound {
                print("audit log sound: \(v.entries) entries in \(v.segments) segment(s), head at entry \(v.head.map(String.init) ?? "-")")
                return
            }
            print("audit log NOT sound: \(v.problems.count) problem(s) in \(v.entries + v.problems.count) entries read")
            for p in v.problems { print("  \(p)") }
            throw ExitCode(1)
        }
    }
}

struct AuditCommandError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
