import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What the benchmarks measure with: the calling thread's CPU time, and the process's memory.
enum BenchMeasure {
    /// Says on standard error when this is a debug build, whose figures mean nothing.
    static func warnIfDebugBuild() {
        #if DEBUG
        FileHandle.standardError.write(Data("warning: this is a debug build; use `swift build -c release` for real figures\n".utf8))
        #endif
    }

    /// CPU seconds of the calling thread (CLOCK_THREAD_CPUTIME_ID): another process on the
    /// machine slows the wall clock, not this.
    static func threadCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// The process's resident set now, bytes (/proc/self/statm).
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
    }

    /// The process's peak resident set so far, bytes (getrusage).
    static func peakResidentBytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }
}
