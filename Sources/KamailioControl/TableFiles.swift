import Foundation

/// The db_text table files of one tables directory, written so that Kamailio sees a whole old
/// file or a whole new one, and re-reads the new one.
///
/// db_text (`db_mode=1`) re-reads a table on the next query only when the file's modification
/// time, in whole seconds, is newer than the one it read: two writes within a second would leave
/// the second unseen. So each new file gets `max(now, previous + 1 s)` before it is renamed over
/// the old one.
struct TableFiles: Sendable {
    let directory: String
    let version: String
    let blocks: String
    let exemptions: String

    init(_ c: KamailioPublisher.Configuration) {
        directory = c.tablesDirectory
        version = c.tablesDirectory + "/version"
        blocks = c.tablesDirectory + "/" + c.blockTable
        exemptions = c.tablesDirectory + "/" + c.exemptionTable
    }

    /// The file's text, or nil when there is none.
    func read(_ path: String) throws(KamailioControlError) -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KamailioControlError(.tableWrite, "cannot read \(path)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    func writeIfAbsent(_ path: String, _ text: String) throws(KamailioControlError) {
        guard !FileManager.default.fileExists(atPath: path) else { return }
        try replace(path, with: text)
    }

    /// Writes `text` to a temporary file beside `path` (mode 0644: Kamailio may run as another
    /// user), flushes it, gives it a modification time newer than `path`'s, renames it over
    /// `path` and flushes the directory.
    func replace(_ path: String, with text: String) throws(KamailioControlError) {
        let temporary = directory + "/.\((path as NSString).lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("cannot create \(temporary)") }
        var ok = false
        defer {
            if !ok { unlink(temporary) }
        }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let e = failure("cannot write \(temporary)")
                close(fd)
                throw e
            }
            written += n
        }
        _ = fchmod(fd, 0o644)
        guard fsync(fd) == 0 else {
            let e = failure("cannot flush \(temporary)")
            close(fd)
            throw e
        }
        var previous = stat()
        let before = stat(path, &previous) == 0 ? Int(previous.st_mtim.tv_sec) : 0
        let now = Int(time(nil))
        let seconds = max(now, before + 1)
        var times = [
            timespec(tv_sec: seconds, tv_nsec: 0),
            timespec(tv_sec: seconds, tv_nsec: 0),
        ]
        guard futimens(fd, &times) == 0 else {
            let e = failure("cannot set the modification time of \(temporary)")
            close(fd)
            throw e
        }
        close(fd)
        guard rename(temporary, path) == 0 else { throw failure("cannot rename \(temporary) to \(path)") }
        ok = true
        let dir = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 {
            _ = fsync(dir)
            close(dir)
        }
    }

    private func failure(_ what: String) -> KamailioControlError {
        KamailioControlError(.tableWrite, "\(what): \(String(cString: strerror(errno)))")
    }
}
