import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Told about the writes of every store: each failure, and each success (cheap: called on every
/// write). The server counts failures per store and reports the last one in `/healthz`.
///
/// Implementations must be thread-safe and must not block or throw.
public protocol StorageObserver: Sendable {
    /// A write to `store` ("findings", "cases", "consent", "audit") failed with `error`.
    func writeFailed(store: String, error: any Error)
    /// A write to `store` succeeded (after a failure: the store has recovered).
    func writeSucceeded(store: String)
}

/// An error about the input of a write (a malformed event), not about the storage: not counted
/// as a storage failure.
public protocol StorageInputError: Error {}

extension StorageObserver {
    /// Runs `body`, telling the observer how it went; rethrows.
    func observe<T>(_ store: String, _ body: () throws -> T) throws -> T {
        do {
            let value = try body()
            writeSucceeded(store: store)
            return value
        } catch {
            if !(error is any StorageInputError) { writeFailed(store: store, error: error) }
            throw error
        }
    }

    func observe<T>(_ store: String, _ body: () async throws -> T) async throws -> T {
        do {
            let value = try await body()
            writeSucceeded(store: store)
            return value
        } catch {
            if !(error is any StorageInputError) { writeFailed(store: store, error: error) }
            throw error
        }
    }
}

/// An observer that ignores everything (stores opened by tests and command-line tools).
public struct NoStorageObserver: StorageObserver {
    public init() {}
    public func writeFailed(store: String, error: any Error) {}
    public func writeSucceeded(store: String) {}
}

/// Files only their owner can read, whatever the process umask: created with an explicit mode
/// (`fchmod` after `open`, since `open`'s mode is filtered by the umask), flushed with `fsync`,
/// and the directory flushed after a file is created or renamed in it.
public enum PrivateFiles {
    public static let fileMode: mode_t = 0o600
    public static let directoryMode: mode_t = 0o700

    /// Creates `path` (and missing parents) with mode 0700, and sets 0700 on it even when it
    /// already existed with a wider mode. Returns whether the mode had to be narrowed.
    @discardableResult
    public static func makeDirectory(_ path: String) throws -> Bool {
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            guard chmod(path, directoryMode) == 0 else { throw PrivateFileError("cannot set mode 0700 on \(path): \(errnoText())") }
            return false
        }
        guard isDirectory.boolValue else { throw PrivateFileError("\(path) is not a directory") }
        var s = stat()
        guard stat(path, &s) == 0 else { throw PrivateFileError("cannot read \(path): \(errnoText())") }
        guard s.st_mode & 0o077 != 0 else { return false }
        guard chmod(path, directoryMode) == 0 else { throw PrivateFileError("cannot set mode 0700 on \(path): \(errnoText())") }
        return true
    }

    /// Opens `path` for writing (with `flags` added), creating it with mode 0600; a file that
    /// already existed keeps its mode. The caller closes the descriptor.
    public static func open(_ path: String, flags: Int32) throws -> (fd: Int32, created: Bool) {
        var fd = Glibc.open(path, flags | O_WRONLY | O_CLOEXEC | O_CREAT | O_EXCL, fileMode)
        if fd >= 0 {
            fchmod(fd, fileMode)
            return (fd, true)
        }
        guard errno == EEXIST else { throw PrivateFileError("cannot create \(path): \(errnoText())") }
        fd = Glibc.open(path, flags | O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PrivateFileError("cannot open \(path): \(errnoText())") }
        return (fd, false)
    }

    /// Creates `path` empty with mode 0600 if it does not exist (so that SQLite, which gives its
    /// `-wal` and `-shm` files the database file's mode, makes them private too).
    public static func touch(_ path: String) throws {
        let (fd, created) = try open(path, flags: 0)
        defer { close(fd) }
        if created { try syncDirectory(of: path) }
    }

    /// Writes all of `data` to `fd` (looping over short writes).
    public static func writeAll(_ data: Data, to fd: Int32, path: String) throws {
        try data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw PrivateFileError("cannot write \(path): \(errnoText())")
                }
                if n == 0 { throw PrivateFileError("cannot write \(path): no progress") }
                offset += n
            }
        }
    }

    /// Replaces `path` with `data` atomically and durably: a private temporary file, written and
    /// fsynced, renamed over `path`, then the directory fsynced.
    public static func replace(_ path: String, with data: Data) throws {
        let temporary = path + ".tmp"
        unlink(temporary)
        let (fd, _) = try open(temporary, flags: O_TRUNC)
        do {
            try writeAll(data, to: fd, path: temporary)
            guard fsync(fd) == 0 else { throw PrivateFileError("cannot flush \(temporary): \(errnoText())") }
            close(fd)
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let e = PrivateFileError("cannot replace \(path): \(errnoText())")
            unlink(temporary)
            throw e
        }
        try syncDirectory(of: path)
    }

    /// fsyncs the directory holding `path`, so a file created or renamed there survives a crash.
    public static func syncDirectory(of path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let fd = Glibc.open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw PrivateFileError("cannot open \(directory): \(errnoText())") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw PrivateFileError("cannot flush \(directory): \(errnoText())") }
    }

    /// The permission bits of `path`, nil when it does not exist.
    public static func mode(of path: String) -> mode_t? {
        var s = stat()
        guard stat(path, &s) == 0 else { return nil }
        return s.st_mode & 0o7777
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}

/// A private file or directory that cannot be created, written or flushed.
public struct PrivateFileError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
