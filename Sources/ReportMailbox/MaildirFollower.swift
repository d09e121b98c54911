// ReportMailbox: the abuse mailbox Mamori follows — a Maildir the carrier's MTA delivers into
// (Postfix, Exim, Dovecot's LDA, or any that writes Maildir), as AbuseIO is fed. An adapter:
// it lists and renames files and hands each message's bytes to a handler; what a message is, and
// what becomes of its reports, is the `Reports` intake's and `Server.ReportService`'s.

import Foundation
import Logging
import Metrics
import ServiceLifecycle

/// Follows a Maildir (`new/`, `cur/`, `tmp/`): every message delivered into `new/` is read and
/// handed to the handler once, then moved to `cur/` — flagged seen (`:2,S`) when its reports were
/// taken, flagged and seen (`:2,FS`) when it was refused, so an operator's mail client shows the
/// refused ones. Messages are taken oldest first (Maildir names start with the delivery time),
/// at most `batch` a poll; one larger than `maxMessageBytes` is refused without being read.
/// Nothing is deleted: the carrier's own retention applies to the mailbox.
public final class MaildirFollower: Service, Sendable {
    /// What the handler made of a message: nil when taken, else why it was refused.
    public typealias Handler = @Sendable (_ bytes: [UInt8], _ name: String) async -> String?

    public struct Configuration: Sendable, Hashable {
        public var path: String
        public var pollInterval: Duration = .seconds(10)
        public var maxMessageBytes = 64 << 20
        public var batch = 100
        public init(path: String) { self.path = path }
    }

    public enum Outcome: String, Sendable, CaseIterable {
        case taken, refused
        case tooLarge = "too_large"
        case unreadable
    }

    public let configuration: Configuration
    private let handler: Handler
    private let logger: Logger
    private let messages: [Outcome: Counter]

    public init(
        configuration: Configuration, logger: Logger, metricsFactory: any MetricsFactory = MetricsSystem.factory,
        handler: @escaping Handler
    ) {
        self.configuration = configuration
        self.handler = handler
        self.logger = logger
        var messages: [Outcome: Counter] = [:]
        for o in Outcome.allCases {
            messages[o] = Counter(label: "mamori_reports_mail_total", dimensions: [("outcome", o.rawValue)], factory: metricsFactory)
        }
        self.messages = messages
    }

    /// Creates `new/`, `cur/` and `tmp/` when missing (an MTA delivering into an empty folder
    /// expects them), then polls until graceful shutdown.
    public func run() async throws {
        for sub in ["new", "cur", "tmp"] {
            try? FileManager.default.createDirectory(atPath: configuration.path + "/" + sub, withIntermediateDirectories: true)
        }
        logger.info("following the abuse mailbox", metadata: ["maildir": "\(configuration.path)"])
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                _ = await self.poll()
                try? await Task.sleep(for: self.configuration.pollInterval)
            }
        }
    }

    /// Takes what `new/` holds (at most a batch); returns the messages handled.
    @discardableResult
    public func poll() async -> Int {
        let new = configuration.path + "/new"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: new) else {
            logger.warning("the abuse mailbox cannot be listed", metadata: ["maildir": "\(configuration.path)"])
            return 0
        }
        var handled = 0
        for name in names.filter({ !$0.hasPrefix(".") }).sorted().prefix(configuration.batch) {
            if Task.isCancelled { break }
            let path = new + "/" + name
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            let outcome: Outcome
            var reason: String?
            if size > configuration.maxMessageBytes {
                outcome = .tooLarge
                reason = "\(size) bytes, more than the \(configuration.maxMessageBytes) a report mail may have"
            } else if let data = FileManager.default.contents(atPath: path) {
                reason = await handler([UInt8](data), name)
                outcome = reason == nil ? .taken : .refused
            } else {
                outcome = .unreadable
                reason = "the message cannot be read"
            }
            messages[outcome]?.increment()
            if let reason {
                logger.notice("a mail in the abuse mailbox was refused", metadata: ["message": "\(name)", "reason": "\(reason)"])
            }
            let base = name.split(separator: ":", maxSplits: 1).first.map(String.init) ?? name
            let target = configuration.path + "/cur/" + base + (outcome == .taken ? ":2,S" : ":2,FS")
            do {
                try FileManager.default.moveItem(atPath: path, toPath: target)
            } catch {
                // Left in new/ it would be taken again each poll: say so loudly, once per message.
                logger.error("a mail in the abuse mailbox cannot be moved to cur/", metadata: ["message": "\(name)", "error": "\(error)"])
            }
            handled += 1
        }
        return handled
    }
}
