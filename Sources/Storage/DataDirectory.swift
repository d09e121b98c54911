import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The data directory's permissions, made and checked at start: the directory (and its `audit`
/// subdirectory) mode 0700, every file in them 0600, whatever the umask.
///
/// Files an older version (or a hand copy) left readable by others are narrowed to 0600 and named
/// in the result, so the start can say so; key files are not narrowed but refused (by
/// ``KeyFile/loadOrCreate(path:byteCount:format:)``), since a key others could read may have leaked.
public enum DataDirectory {
    /// Creates `path` (mode 0700) if needed and narrows what is too open in it.
    /// - Parameter keyFiles: paths of key files; those in the directory are checked, not narrowed.
    /// - Returns: the files and directories whose mode was narrowed, each with its old mode.
    /// - Throws: ``KeyFileError`` for a key file readable by others, ``PrivateFileError`` when the
    ///   directory cannot be made private.
    @discardableResult
    public static func prepare(_ path: String, keyFiles: [String]) throws -> [(path: String, oldMode: String)] {
        var narrowed: [(String, String)] = []
        let before = PrivateFiles.mode(of: path)
        if try PrivateFiles.makeDirectory(path), let before { narrowed.append((path, String(before, radix: 8))) }
        for key in keyFiles {
            if let mode = PrivateFiles.mode(of: key) { try KeyFile.checkPrivate(path: key, mode: mode) }
        }
        let keys = Set(keyFiles.map { URL(fileURLWithPath: $0).standardizedFileURL.path })
        for directory in [path, path + "/audit"] {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { continue }
            if directory != path, let mode = PrivateFiles.mode(of: directory), mode & 0o077 != 0 {
                if try PrivateFiles.makeDirectory(directory) { narrowed.append((directory, String(mode, radix: 8))) }
            }
            for name in names.sorted() {
                let file = directory + "/" + name
                var s = stat()
                guard lstat(file, &s) == 0, s.st_mode & S_IFMT == S_IFREG, s.st_mode & 0o077 != 0, s.st_uid == getuid() else { continue }
                guard !keys.contains(URL(fileURLWithPath: file).standardizedFileURL.path) else { continue }
                guard chmod(file, PrivateFiles.fileMode) == 0 else {
                    throw PrivateFileError("cannot set mode 0600 on \(file): \(PrivateFiles.errnoText())")
                }
                narrowed.append((file, String(s.st_mode & 0o777, radix: 8)))
            }
        }
        return narrowed
    }
}
