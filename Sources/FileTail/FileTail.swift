import Foundation
import NIOConcurrencyHelpers

/// Follows files as they grow, as `tail -F` does: every ``poll(_:)`` hands on the bytes appended
/// since the last, at most ``maximumBytesPerPoll`` per file. A file replaced (another inode:
/// logrotate) or truncated is read again from its start, and the reader is told so (it must drop
/// what it held of a half line). Where it stood in each file is kept in `positionsFile`, so a
/// restart neither reads old records again nor misses the ones written while it was down.
///
/// A file seen for the first time is read from its start, or from its end with
/// `startAtEnd` (a carrier pointing Mamori at a year of logs wants only what comes next).
public final class FileTail: Sendable {
    public struct File: Sendable, Hashable {
        public var path: String
        /// What the reader calls it (a feed's name).
        public var name: String
        public init(path: String, name: String) {
            self.path = path
            self.name = name
        }
    }

    public enum Chunk: Sendable, Hashable {
        /// The file was replaced or truncated: what follows is from its start.
        case restart
        case bytes([UInt8])
    }

    struct Position: Sendable, Codable, Hashable {
        var inode: UInt64
        var offset: UInt64
    }

    public let files: [File]
    public let startAtEnd: Bool
    public let positionsFile: String?
    public let maximumBytesPerPoll: Int
    private let positions: NIOLockedValueBox<[String: Position]>

    public init(files: [File], startAtEnd: Bool = false, positionsFile: String? = nil, maximumBytesPerPoll: Int = 16 << 20) {
        self.files = files
        self.startAtEnd = startAtEnd
        self.positionsFile = positionsFile
        self.maximumBytesPerPoll = maximumBytesPerPoll
        var saved: [String: Position] = [:]
        if let positionsFile, let data = FileManager.default.contents(atPath: positionsFile),
            let decoded = try? JSONDecoder().decode([String: Position].self, from: data)
        {
            saved = decoded
        }
        positions = NIOLockedValueBox(saved)
    }

    /// Reads what every file gained; returns the bytes handed on.
    @discardableResult
    public func poll(_ each: (File, Chunk) -> Void) -> Int {
        var total = 0
        var changed = false
        for file in files {
            let (n, moved) = poll(file, each)
            total += n
            changed = changed || moved
        }
        if changed { save() }
        return total
    }

    private func poll(_ file: File, _ each: (File, Chunk) -> Void) -> (Int, Bool) {
        var st = stat()
        guard stat(file.path, &st) == 0 else { return (0, false) }
        let inode = UInt64(st.st_ino)
        let size = UInt64(st.st_size)
        let known = positions.withLockedValue { $0[file.path] }
        var position: Position
        switch known {
        case nil:
            position = Position(inode: inode, offset: startAtEnd ? size : 0)
            positions.withLockedValue { $0[file.path] = position }
            if startAtEnd { return (0, true) }
        case .some(let p) where p.inode != inode || size < p.offset:
            position = Position(inode: inode, offset: 0)
            each(file, .restart)
        case .some(let p):
            position = p
        }
        guard size > position.offset, let handle = FileHandle(forReadingAtPath: file.path) else {
            positions.withLockedValue { $0[file.path] = position }
            return (0, known != position)
        }
        defer { try? handle.close() }
        let want = Int(min(size - position.offset, UInt64(maximumBytesPerPoll)))
        guard (try? handle.seek(toOffset: position.offset)) != nil, let data = try? handle.read(upToCount: want), !data.isEmpty else {
            return (0, false)
        }
        each(file, .bytes(Array(data)))
        position.offset += UInt64(data.count)
        positions.withLockedValue { $0[file.path] = position }
        return (data.count, true)
    }

    private func save() {
        guard let positionsFile else { return }
        let snapshot = positions.withLockedValue { $0 }
        guard let data = try? JSONEncoder().encode(snapshot) else { return }
        let temporary = positionsFile + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: data) else { return }
        _ = rename(temporary, positionsFile)
    }
}
