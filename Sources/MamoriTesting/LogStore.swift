import Logging
import NIOConcurrencyHelpers

/// Log lines kept in memory (swift-log `InMemoryLogHandler` pattern), for tests that check what
/// was logged.
///
/// ```swift
/// let logs = LogStore()
/// let service = Service(logger: logs.logger(level: .warning))
/// #expect(logs.entries("request dropped").count == 1)
/// ```
public final class LogStore: Sendable {
    public struct Entry: Sendable {
        public var level: Logger.Level
        public var message: String
        public var metadata: [String: String]

        public init(level: Logger.Level, message: String, metadata: [String: String]) {
            self.level = level
            self.message = message
            self.metadata = metadata
        }
    }

    private let box = NIOLockedValueBox([Entry]())

    public init() {}

    public func append(_ e: Entry) { box.withLockedValue { $0.append(e) } }
    public var entries: [Entry] { box.withLockedValue { $0 } }
    public func entries(_ message: String) -> [Entry] { entries.filter { $0.message == message } }

    /// A logger writing here, at `level` and above.
    public func logger(label: String = "test", level: Logger.Level = .trace) -> Logger {
        var l = Logger(label: label) { _ in InMemoryLogHandler(store: self) }
        l.logLevel = level
        return l
    }
}

/// The log handler behind ``LogStore/logger(label:level:)``.
public struct InMemoryLogHandler: LogHandler {
    public let store: LogStore
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .trace

    public init(store: LogStore) { self.store = store }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let m = event.metadata { all.merge(m) { _, new in new } }
        store.append(.init(level: event.level, message: "\(event.message)", metadata: all.mapValues { "\($0)" }))
    }
}
