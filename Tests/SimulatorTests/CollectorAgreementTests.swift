import FlowCodec
import Foundation
import MamoriTesting
import Simulator
import Testing

/// The labels agree with the packets, as two independent collectors see them: the simulator's
/// export datagrams go over UDP on 127.0.0.1 to a real nfcapd (Debian nfdump) and through
/// Mamori's FlowDecoder; both must report the same flows, and in both every labelled C&C is
/// reached by exactly the labelled infected subscribers (after the CGNAT mapping), and no one else.
@Suite(.serialized)
struct CollectorAgreementTests {
    @Test(
        "nfcapd and Mamori see every C&C reached by exactly the labelled infected subscribers",
        arguments: [ExportProtocol.ipfix, .netflowV9])
    func commandAndControlFlowsComeFromExactlyTheInfected(protocol: ExportProtocol) async throws {
        let nfcapd = try ExternalPeer.require("nfcapd", debianPackage: "nfdump")
        let nfdump = try ExternalPeer.require("nfdump", debianPackage: "nfdump")
        let (simulation, datagrams) = try runAll(smallConfiguration(protocol: `protocol`))
        let labels = simulation.labels
        #expect(Set(labels.infectedDevices.map(\.family)) == Set(BotFamily.allCases))

        let mamori = decodeAll(datagrams).map(ObservedFlow.init)
        #expect(mamori.count == simulation.statistics.exportedFlows)

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mamori-sim-nfcapd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let (collector, port) = try await nfcapd.startUDPListener { p in
            ["-b", "127.0.0.1", "-p", "\(p)", "-w", dir.path, "-t", "3600", "-B", "4000000"]
        }
        defer { collector.stop() }
        try sendOverLoopback(datagrams, port: port)
        try await Task.sleep(for: .seconds(1))
        collector.stop()
        #expect(!collector.isRunning)
        let text = try await nfdump.run(["-R", dir.path, "-q", "-N", "-6", "-o", "fmt:%tsr|%sa|%sp|%da|%dp|%pr|%pkt|%byt"])
        let theirs = try parseNfdump(text)

        // The two collectors agree, flow for flow.
        #expect(
            theirs.count == mamori.count,
            "nfcapd stored \(theirs.count) flows, Mamori decoded \(mamori.count) (\(simulation.statistics.exportedFlows) exported)")
        let mine = Dictionary(mamori.map { ($0, 1) }, uniquingKeysWith: +)
        let nf = Dictionary(theirs.map { ($0, 1) }, uniquingKeysWith: +)
        let onlyMine = mine.filter { nf[$0.key] != $0.value }
        #expect(
            onlyMine.isEmpty, "\(onlyMine.count) flows differ between Mamori and nfdump, e.g. \(onlyMine.first.map { "\($0.key)" } ?? "")")

        // And both agree with the labels.
        let ccAddresses = Set(labels.commandAndControl.compactMap { IPAddress($0.address) })
        #expect(mamori.filter { ccAddresses.contains($0.destination) }.count > 50)
        for (name, flows) in [("Mamori", mamori), ("nfdump", theirs)] {
            let problems = groundTruthViolations(flows, labels: labels)
            #expect(problems.isEmpty, "\(name): \(problems.joined(separator: "\n"))")
        }
    }
}

/// Sends every datagram from one UDP socket to 127.0.0.1:`port`, a little paced so that a
/// collector on a loaded machine keeps up.
func sendOverLoopback(_ datagrams: [SimulatedDatagram], port: Int) throws {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    guard fd >= 0 else { throw PeerError("socket() failed") }
    defer { close(fd) }
    var size: Int32 = 4 << 20
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = UInt16(port).bigEndian
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    for (n, d) in datagrams.enumerated() {
        let sent = d.payload.withUnsafeBytes { bytes in
            withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        guard sent == d.payload.count else { throw PeerError("sendto failed for datagram \(n): errno \(errno)") }
        if n % 32 == 31 { usleep(2_000) }
    }
}

/// Lines of `nfdump -6 -o fmt:%tsr|%sa|%sp|%da|%dp|%pr|%pkt|%byt`.
func parseNfdump(_ text: String) throws -> [ObservedFlow] {
    try text.split(separator: "\n").compactMap { line -> ObservedFlow? in
        let f = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        guard f.count == 8 else { return nil }
        // ICMP: nfdump prints type.code as the destination port.
        let icmp = f[4].split(separator: ".").compactMap { UInt16($0) }
        let destinationPort = icmp.count == 2 ? icmp[0] << 8 | icmp[1] : UInt16(f[4])
        guard let seconds = Decimal(string: f[0]), let sa = IPAddress(f[1]), let sp = UInt16(f[2]), let da = IPAddress(f[3]),
            let dp = destinationPort,
            let packets = UInt64(f[6]), let bytes = UInt64(f[7])
        else { throw PeerError("unreadable nfdump line: \(line)") }
        let proto: UInt8
        switch f[5].uppercased() {
        case "TCP": proto = 6
        case "UDP": proto = 17
        default:
            guard let p = UInt8(f[5]) else { throw PeerError("unknown protocol in nfdump line: \(line)") }
            proto = p
        }
        let ms = NSDecimalNumber(decimal: seconds * 1000).int64Value
        return ObservedFlow(
            startMilliseconds: ms, source: sa, sourcePort: sp, destination: da, destinationPort: dp, ipProtocol: proto, packets: packets,
            bytes: bytes)
    }
}
