// Benchmarking: the measurements behind BENCHMARKS.md — decoder throughput, attribution lookups,
// RADIUS accounting ingestion, detection throughput and memory, memory under spoofed floods, the
// DNS RPZ sinkhole (zones, transfers, dnstap). Each benchmark builds its own synthetic input, runs
// the product's real components on it (FlowCodec's decoder, Attribution's index,
// IdentityListeners' RADIUS server, Detection's analyzer, RPZ's policy, publication and transfer
// responder, Dnstap's decoders), and returns its figures with their JSON and text renderings; progress goes to a
// callback, nothing is printed. It may import those modules, DNSWire, MamoriCore, Evaluation (the
// simulator's Internet), SwiftNIO, swift-log, swift-metrics, swift-service-lifecycle, Foundation
// and the C library (CPU clocks, resident set, a UDP client socket). Used by the `mamori bench …`
// commands, which parse the arguments and print.

import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What the benchmarks measure with: the calling thread's CPU time, and the process's memory.
public enum BenchMeasure {
    /// A warning for standard error when this is a debug build, whose figures mean nothing; nil in a release build.
    public static var debugBuildWarning: String? {
        #if DEBUG
        return "warning: this is a debug build; use `swift build -c release` for real figures\n"
        #else
        return nil
        #endif
    }

    /// CPU seconds of the calling thread (CLOCK_THREAD_CPUTIME_ID): another process on the
    /// machine slows the wall clock, not this.
    public static func threadCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// CPU seconds of the whole process, every thread, user and system (getrusage).
    public static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// The process's resident set now, bytes (/proc/self/statm).
    public static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
    }

    /// A memory figure of /proc/self/status in bytes (`VmRSS` the resident set now, `VmHWM` its
    /// peak so far), 0 when it cannot be read.
    public static func statusBytes(_ field: String) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            let kilobytes =
                line.dropFirst(field.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int($0) } ?? 0
            return kilobytes * 1024
        }
        return 0
    }

    /// The process's peak resident set so far, bytes (getrusage).
    public static func peakResidentBytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }
}

/// A benchmark that could not give a figure: a wrong answer, a server that did not start.
public struct BenchmarkError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
