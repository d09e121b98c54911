import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A tmpfs of a few hundred KiB or MiB mounted for one fault test under a unique directory in
/// /tmp, which the test fills up (``fill()``), frees (``free()``) and unmounts (``unmount()``,
/// call it in a `defer`: lazily, so it succeeds even while files are still open).
///
/// Mounting needs root (or CAP_SYS_ADMIN); without it ``mount(sizeKiB:)`` throws an error that
/// says so, and the test fails: a fault test that cannot make its fault proves nothing.
///
/// ```swift
/// let fs = try SmallFilesystem.mount(sizeKiB: 4096)
/// defer { fs.unmount() }
/// try fs.fill()
/// ```
public final class SmallFilesystem: @unchecked Sendable {
    // @unchecked: used from one test at a time.
    public let path: String
    private var fillers: [String] = []
    private var mounted = true

    private init(path: String) { self.path = path }

    public static func mount(sizeKiB: Int) throws -> SmallFilesystem {
        let path = "/tmp/mamori-fault-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard mkdir(path, 0o700) == 0 else { throw PeerError("cannot create \(path): \(String(cString: strerror(errno)))") }
        do {
            try ExternalPeer.require("mount", debianPackage: "mount").run(
                ["-t", "tmpfs", "-o", "size=\(sizeKiB)k,mode=0700", "tmpfs", path], timeout: .seconds(20))
        } catch {
            rmdir(path)
            throw PeerError("cannot mount a \(sizeKiB) KiB tmpfs at \(path) (fault tests need root or CAP_SYS_ADMIN): \(error)")
        }
        return SmallFilesystem(path: path)
    }

    /// Writes filler files until the filesystem refuses with ENOSPC; returns the bytes written.
    @discardableResult
    public func fill() throws -> Int {
        let file = path + "/filler-\(fillers.count)"
        fillers.append(file)
        let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == ENOSPC { return 0 }
            throw PeerError("cannot create \(file): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0x5A, count: 4096)
        var total = 0
        while true {
            let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                total += n
                continue
            }
            if n < 0 && errno == EINTR { continue }
            guard n < 0 && errno == ENOSPC else { throw PeerError("filling \(file): \(String(cString: strerror(errno)))") }
            // Smaller writes take the last partial page too.
            var one = UInt8(0x5A)
            while write(fd, &one, 1) == 1 { total += 1 }
            return total
        }
    }

    /// Deletes the filler files.
    public func free() {
        for f in fillers { unlink(f) }
        fillers = []
    }

    /// Bytes free on the filesystem.
    public var freeBytes: Int {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return -1 }
        return Int(s.f_bavail) * Int(s.f_frsize)
    }

    /// Unmounts (lazily: open files do not stop it) and removes the mount point.
    public func unmount() {
        guard mounted else { return }
        mounted = false
        _ = try? ExternalPeer.require("umount", debianPackage: "mount").run(["-l", path], timeout: .seconds(20))
        rmdir(path)
    }
}
