import FlowCodec
import FlowFiles
import Foundation
import MamoriCore
import MamoriTesting
import Simulator
import Testing

/// `mamori analyze --format nfcapd` reads what a real nfcapd (Debian nfdump 1.7.1) writes: the
/// simulator's exports go to nfcapd over loopback, and every record Mamori reads from nfcapd's
/// file equals what nfdump itself prints from it — uncompressed (nfcapd's default) and LZ4 (-y).
@Suite(.serialized, .timeLimit(.minutes(3)))
struct NfcapdFileTests {
    /// Runs nfcapd with `options`, sends the simulator's IPFIX export, and returns the file it wrote.
    static func capture(_ options: [String], _ datagrams: [SimulatedDatagram]) async throws -> (file: String, directory: URL) {
        let nfcapd = try ExternalPeer.require("nfcapd", debianPackage: "nfdump")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mamori-nfcapd-file-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let (collector, port) = try await nfcapd.startUDPListener { p in
            ["-b", "127.0.0.1", "-p", "\(p)", "-w", dir.path, "-t", "3600", "-B", "4000000"] + options
        }
        defer { collector.stop() }
        try sendOverLoopback(datagrams, port: port)
        try await Task.sleep(for: .seconds(1))
        collector.stop()
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter {
            $0.hasPrefix("nfcapd.") && !$0.contains("current")
        }
        let listing = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        let file = try #require(files.first, "nfcapd wrote no file in \(dir.path): \(listing)")
        return (dir.appendingPathComponent(file).path, dir)
    }

    @Test("every record equals nfdump's own reading of the file", arguments: [[], ["-y"]])
    func sameAsNfdump(options: [String]) async throws {
        let nfdump = try ExternalPeer.require("nfdump", debianPackage: "nfdump")
        let (simulation, datagrams) = try runAll(smallConfiguration(protocol: .ipfix))
        let (file, dir) = try await Self.capture(options, datagrams)
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try NfdumpFile.read([UInt8](Data(contentsOf: URL(fileURLWithPath: file))))
        #expect(result.compression == (options.isEmpty ? 0 : 3))
        #expect(result.damagedBlocks == 0 && !result.truncated)
        let mine = result.records.map(ObservedFlow.init)
        let theirs = try await parseNfdump(try nfdump.run(["-r", file, "-q", "-N", "-6", "-o", "fmt:%tsr|%sa|%sp|%da|%dp|%pr|%pkt|%byt"]))
        #expect(mine.count == simulation.statistics.exportedFlows)
        #expect(theirs.count == mine.count)
        let a = Dictionary(mine.map { ($0, 1) }, uniquingKeysWith: +)
        let b = Dictionary(theirs.map { ($0, 1) }, uniquingKeysWith: +)
        let differ = a.filter { b[$0.key] != $0.value }
        #expect(differ.isEmpty, "\(differ.count) flows differ, e.g. \(differ.first.map { "\($0.key)" } ?? "")")
        // The exporter and its observation domain come from nfcapd's exporter records.
        #expect(Set(result.records.map(\.exporter)) == [IPAddress("127.0.0.1")!])
        #expect(result.records.allSatisfy { $0.exportProtocol == .ipfix })
    }

    @Test("LZO files are refused with the conversion to use; cut and altered files never crash or hang")
    func badFiles() async throws {
        let (_, datagrams) = try runAll(smallConfiguration(protocol: .netflowV9))
        let (lzo, lzoDir) = try await Self.capture(["-z"], datagrams)
        defer { try? FileManager.default.removeItem(at: lzoDir) }
        let refused = #expect(throws: NfdumpFile.Error.self) { try NfdumpFile.read([UInt8](Data(contentsOf: URL(fileURLWithPath: lzo)))) }
        #expect(refused?.description.contains("-J 3") == true)
        #expect(throws: NfdumpFile.Error.self) { try NfdumpFile.read(Array("not an nfdump file at all, just text here".utf8)) }

        for options in [[String](), ["-y"]] {
            let (file, dir) = try await Self.capture(options, datagrams)
            defer { try? FileManager.default.removeItem(at: dir) }
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
            let whole = try NfdumpFile.read(bytes).records.count
            var rng = SplitMix64(seed: 77)
            for _ in 0..<80 {
                var b = bytes
                if rng.next() % 2 == 0 {
                    b = Array(b.prefix(40 + Int(rng.next() % UInt64(b.count - 40))))
                } else {
                    for _ in 0..<(1 + rng.next() % 8) {
                        b[40 + Int(rng.next() % UInt64(b.count - 40))] = UInt8(truncatingIfNeeded: rng.next())
                    }
                }
                // Anything but a crash or a hang: an error, or fewer or altered records.
                if let r = try? NfdumpFile.read(b) { #expect(r.records.count <= whole + b.count / 12) }
            }
            // A file cut inside a block keeps the blocks before it and says it was cut.
            let cut = try NfdumpFile.read(Array(bytes.prefix(bytes.count - 100)))
            #expect(cut.truncated)
        }
    }
}
