import Attribution
import Benchmarking
import FlowCodec
import Foundation
import IdentityCodec
import MamoriCore
import Reports

/// How fast a big Shadowserver report is read and attributed, and in how much memory: a CSV of
/// `rows` rows in the current scan layout (`timestamp`, `ip`, `protocol`, `port`, `hostname`,
/// `tag`, `asn`, `geo`, …, `device_vendor`, `device_type`, `device_model`, a banner with a quoted
/// comma), each row a device behind the CGNAT (a public address and a port of one of
/// `subscribers` port blocks), written to disk. Then, on one thread: the file read back in 1 MiB
/// chunks through `ShadowserverParser`, reports drained as they come (as the intake does); then
/// again, each drained batch also attributed through `AttributionIndex.resolve` (1,024 at a time,
/// as `ReportService` does) against an index holding every subscriber's RADIUS session and port
/// block. Beside it, when asked, the same file through Python's `csv.DictReader` — what intelmq's
/// Shadowserver parser reads with — in a child process.
struct ReportsBenchmark: Sendable {
    var rows: Int
    var subscribers: Int
    var path: String
    var python: Bool

    /// 63 port blocks of 1,008 ports from 1024 on each public address (the simulator's layout).
    static let blocksPerAddress = 63
    /// 2026-12-01T00:00:00Z: the report's day.
    static let day: Int64 = 1_796_083_200_000

    public struct Result: Sendable, Encodable {
        public var rows: Int
        public var fileBytes: Int
        public var kept: Int
        public var cpuSeconds: Double
        public var rowsPerSecond: Double
        public var megabytesPerSecond: Double
        public var subscribers: Int
        /// Parsing and attributing: CPU seconds, rows per second, rows attributed.
        public var attributedCPUSeconds: Double
        public var attributedRowsPerSecond: Double
        public var attributed: Int
        /// Peak resident set before reading (after writing the file), after reading it, and at
        /// the end (with the attribution index built and the file read again).
        public var peakResidentBeforeBytes: Int
        public var peakResidentAfterReadingBytes: Int
        public var peakResidentAfterBytes: Int
        public var pythonRowsPerSecond: Double?
        public var pythonPeakResidentBytes: Int?

        public var text: String {
            var lines = [
                String(
                    format: "%d rows (%.1f MiB) read in %.2f CPU-s: %.0f rows/s, %.1f MiB/s; %d kept", rows, Double(fileBytes) / 1_048_576,
                    cpuSeconds, rowsPerSecond, megabytesPerSecond, kept),
                String(
                    format: "read and attributed (%d subscribers behind the CGNAT in the index) in %.2f CPU-s: %.0f rows/s; %d attributed",
                    subscribers, attributedCPUSeconds, attributedRowsPerSecond, attributed),
                String(
                    format:
                        "peak resident set: %.1f MiB before reading, %.1f MiB after reading the whole file (growth %.1f MiB), %.1f MiB with the attribution index",
                    Double(peakResidentBeforeBytes) / 1_048_576, Double(peakResidentAfterReadingBytes) / 1_048_576,
                    Double(peakResidentAfterReadingBytes - peakResidentBeforeBytes) / 1_048_576, Double(peakResidentAfterBytes) / 1_048_576),
            ]
            if let p = pythonRowsPerSecond, let m = pythonPeakResidentBytes {
                lines.append(
                    String(
                        format: "python3 csv.DictReader, same file: %.0f rows/s (Mamori %.1f× that), peak resident set %.1f MiB", p,
                        rowsPerSecond / p, Double(m) / 1_048_576))
            }
            return lines.joined(separator: "\n")
        }

        public var json: String {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys]
            return (try? e.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        }
    }

    static let header =
        #""timestamp","ip","protocol","port","hostname","tag","asn","geo","region","city","naics","sic","sector","device_vendor","device_type","device_model","banner""#

    /// Writes the CSV, streaming (a few KiB at a time).
    public func writeFile(progress: (Int) -> Void = { _ in }) throws {
        FileManager.default.createFile(atPath: path, contents: nil)
        guard let out = FileHandle(forWritingAtPath: path) else { throw BenchmarkError("cannot write \(path)") }
        defer { try? out.close() }
        var buffer = Self.header + "\n"
        var random = SplitMix64(seed: 23)
        let vendors = [("Hikvision", "IP Camera", "DS-2CD2032"), ("MikroTik", "router", "RB951"), ("", "", ""), ("ZTE", "CPE", "ZXV10")]
        for i in 0..<rows {
            let k = i % subscribers
            let outside = 0xC612_0000 + UInt32(k / Self.blocksPerAddress)
            let address = "198.18.\((outside >> 8) & 255).\(outside & 255)"
            let port = 1024 + (k % Self.blocksPerAddress) * 1008 + Int(random.next() % 1008)
            let (vendor, type, model) = vendors[i % vendors.count]
            let second = i % 86_400
            let time = String(format: "2026-12-01 %02d:%02d:%02d", second / 3600, second / 60 % 60, second % 60)
            buffer +=
                "\"\(time)\",\"\(address)\",\"udp\",\(port),\"host-\(i).example.jp\",\"ntp\",64500,\"JP\",\"TOKYO\",\"CHIYODA\",517311,0,\"Communications\",\"\(vendor)\",\"\(type)\",\"\(model)\",\"ntpd 4.2.8, \"\"stratum\"\" 2\"\n"
            if buffer.utf8.count > 1 << 16 {
                out.write(Data(buffer.utf8))
                buffer = ""
            }
            if i % 100_000 == 0 { progress(i) }
        }
        out.write(Data(buffer.utf8))
    }

    public func run(progress: (String) -> Void = { _ in }) throws -> Result {
        progress("writing \(rows) rows to \(path)")
        try writeFile()
        let fileBytes = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let peakBefore = BenchMeasure.peakResidentBytes()
        progress("reading it back")
        guard let handle = FileHandle(forReadingAtPath: path) else { throw BenchmarkError("cannot read \(path)") }
        defer { try? handle.close() }
        var parser = ShadowserverParser(fileName: "2026-12-01-scan_ntp-bench-asn.csv")
        var kept = 0
        var cpu = 0.0
        while true {
            guard let data = try handle.read(upToCount: 1 << 20), !data.isEmpty else { break }
            let chunk = [UInt8](data)
            let cpu0 = BenchMeasure.threadCPUSeconds()
            parser.feed(chunk)
            kept += parser.drainReports().count
            cpu += BenchMeasure.threadCPUSeconds() - cpu0
        }
        let cpu0 = BenchMeasure.threadCPUSeconds()
        var file = try parser.finish()
        kept += file.drainReports().count
        cpu += BenchMeasure.threadCPUSeconds() - cpu0
        guard file.rows == rows, kept == rows, file.accountedFor else {
            throw BenchmarkError("read \(file.rows) rows and kept \(kept), not \(rows): \(file.rejectedByReason)")
        }
        let peakAfterReading = BenchMeasure.peakResidentBytes()
        progress("building the attribution index (\(subscribers) subscribers)")
        let index = Self.index(subscribers: subscribers)
        progress("reading it again, attributing every batch")
        let (attributedCPU, attributed) = try attribute(index)
        guard attributed == rows else { throw BenchmarkError("attributed \(attributed) of \(rows) rows") }
        var result = Result(
            rows: rows, fileBytes: fileBytes, kept: kept, cpuSeconds: cpu, rowsPerSecond: Double(rows) / cpu,
            megabytesPerSecond: Double(fileBytes) / 1_048_576 / cpu, subscribers: subscribers, attributedCPUSeconds: attributedCPU,
            attributedRowsPerSecond: Double(rows) / attributedCPU, attributed: attributed, peakResidentBeforeBytes: peakBefore,
            peakResidentAfterReadingBytes: peakAfterReading, peakResidentAfterBytes: BenchMeasure.peakResidentBytes())
        if python {
            progress("the same file through python3 csv.DictReader")
            let (rate, peak) = try pythonPeer()
            result.pythonRowsPerSecond = rate
            result.pythonPeakResidentBytes = peak
        }
        return result
    }

    /// Every subscriber's RADIUS session (inside address, up from the day before to the report day's
    /// end) and CGNAT port block.
    static func index(subscribers: Int) -> AttributionIndex {
        var index = AttributionIndex()
        let since = day - 86_400_000
        let nas = IPAddress.v4(0xC613_FC01)
        for k in 0..<subscribers {
            let inside = IPAddress.v4(0x6440_0000 + UInt32(k))
            var start = AccountingRecord(status: .start, sessionID: "s\(k)", eventTime: since / 1000)
            start.userName = "cust-\(k)"
            start.framedIPAddress = inside
            index.apply(start, from: nas, receivedAt: since)
            // The session is still up at the end of the report's day.
            var interim = start
            interim.status = .interimUpdate
            interim.eventTime = (day + 86_399_000) / 1000
            index.apply(interim, from: nas, receivedAt: day + 86_399_000)
            let first = UInt16(1024 + (k % blocksPerAddress) * 1008)
            index.apply(
                NATPortBlockEvent(
                    kind: .allocate, timeMilliseconds: since, host: "cgnat1", insideAddress: inside,
                    outsideAddress: .v4(0xC612_0000 + UInt32(k / blocksPerAddress)), firstPort: first, lastPort: first + 1007,
                    allocatedAt: 0))
        }
        return index
    }

    /// The file read again, each drained batch attributed 1,024 at a time: CPU seconds and rows attributed.
    func attribute(_ index: AttributionIndex) throws -> (Double, Int) {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw BenchmarkError("cannot read \(path)") }
        defer { try? handle.close() }
        var parser = ShadowserverParser(fileName: "2026-12-01-scan_ntp-bench-asn.csv")
        var attributed = 0
        var cpu = 0.0
        var answers: [AttributionIndex.Resolution] = []
        func take(_ reports: [ExternalReport]) {
            var start = 0
            while start < reports.count {
                let batch = reports[start..<min(reports.count, start + 1024)]
                start += batch.count
                answers.removeAll(keepingCapacity: true)
                index.resolve(batch.map { AttributionQuery($0.address, port: $0.port, at: $0.time) }, into: &answers)
                attributed += answers.count { $0.outcome == .attributed }
            }
        }
        while true {
            guard let data = try handle.read(upToCount: 1 << 20), !data.isEmpty else { break }
            let chunk = [UInt8](data)
            let cpu0 = BenchMeasure.threadCPUSeconds()
            parser.feed(chunk)
            take(parser.drainReports())
            cpu += BenchMeasure.threadCPUSeconds() - cpu0
        }
        let cpu0 = BenchMeasure.threadCPUSeconds()
        var file = try parser.finish()
        take(file.drainReports())
        cpu += BenchMeasure.threadCPUSeconds() - cpu0
        return (cpu, attributed)
    }

    /// Python's csv.DictReader over the file, timed by its process CPU time, with its peak RSS.
    func pythonPeer() throws -> (Double, Int) {
        let script = """
            import csv, sys, time
            t = time.process_time(); n = 0
            with open(sys.argv[1], newline='', encoding='utf-8') as f:
                for row in csv.DictReader(f):
                    if row['ip']: n += 1
            cpu = time.process_time() - t
            # VmHWM: this process image's peak (ru_maxrss would carry the parent's over exec).
            hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]
            print(n, cpu, hwm)
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let fields = output.split(whereSeparator: \.isWhitespace)
        guard process.terminationStatus == 0, fields.count == 3, let n = Int(fields[0]), n == rows, let cpu = Double(fields[1]),
            let kib = Int(fields[2])
        else { throw BenchmarkError("python3's csv.DictReader did not read the file: \(output)") }
        return (Double(n) / cpu, kib * 1024)
    }
}
