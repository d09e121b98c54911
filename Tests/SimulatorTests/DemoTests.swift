import Foundation
import MamoriTesting
import Testing

/// The README's demo, end to end with the built binary: `mamori serve` on free loopback ports
/// and a temporary data directory, fed by `mamori simulate --to … --fast`; the server must count
/// exactly the flow records the simulator says it exported, with no decode error and no template miss,
/// and its detectors must report the labelled scanners and the labelled inbound attack.
@Suite(.serialized)
struct DemoTests {
    @Test("mamori serve counts every flow record mamori simulate exports")
    func serveCountsWhatSimulateExports() async throws {
        let mamori = try ExternalPeer.builtProduct("mamori")
        let dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("mamori-demo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dataDirectory) }
        let udpPort = try freeUDPPort()
        let httpPort = try freeTCPPort()
        let server = try mamori.start(["serve", "--listen", "127.0.0.1:\(udpPort)", "--http", "127.0.0.1:\(httpPort)", "--data-dir", dataDirectory.path, "--log-level", "warning"])
        defer { server.stop() }
        // Up when /healthz answers (at most 30 s).
        var health: (status: Int, body: String)? = nil
        for _ in 0..<300 where health == nil {
            guard server.isRunning else { break }
            health = httpGet(port: httpPort, path: "/healthz")
            if health == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        try #require(health?.status == 200, "mamori serve did not answer /healthz on 127.0.0.1:\(httpPort) within 30 s (running: \(server.isRunning))")

        let labelsFile = dataDirectory.appendingPathComponent("labels.json").path
        try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        let output = try mamori.run(["simulate", "--to", "127.0.0.1:\(udpPort)", "--fast", "--subscribers", "400", "--duration", "10m", "--seed", "11", "--labels", labelsFile], timeout: .seconds(300))
        let summary = try #require(output.split(separator: "\n").last { $0.hasPrefix("simulated ") }, "no summary line in: \(output)")
        let fields = Dictionary(summary.split(separator: " ").dropFirst().compactMap { pair -> (String, String)? in
            let kv = pair.split(separator: "=", maxSplits: 1)
            return kv.count == 2 ? (String(kv[0]), String(kv[1])) : nil
        }, uniquingKeysWith: { a, _ in a })
        let exported = try #require(fields["flows_exported"].flatMap { Int($0) }, "no flows_exported in: \(summary)")
        #expect(exported > 10_000)
        #expect(fields["send_failures"] == "0")

        // The server catches up (decoding, then delivery to its consumers) within 30 s.
        var metrics = ""
        var counted = 0
        var healthz = ""
        for _ in 0..<300 {
            metrics = httpGet(port: httpPort, path: "/metrics")?.body ?? ""
            counted = Int(prometheusTotal(metrics, "mamori_collector_flow_records_total"))
            healthz = httpGet(port: httpPort, path: "/healthz")?.body ?? ""
            if counted >= exported && healthz.contains("\"flow_records\":\(exported)}") { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(counted == exported, "mamori serve decoded \(counted) flow records, mamori simulate exported \(exported)")
        #expect(prometheusTotal(metrics, "mamori_collector_datagrams_total") == Double(fields["datagrams"].flatMap { Int($0) } ?? -1))
        #expect(prometheusTotal(metrics, "mamori_collector_decode_errors_total") == 0)
        #expect(prometheusTotal(metrics, "mamori_collector_template_misses_total") == 0)
        #expect(prometheusTotal(metrics, "mamori_collector_queue_dropped_records_total") == 0)
        #expect(healthz.contains("\"status\":\"ok\""))
        #expect(healthz.contains("\"flow_records\":\(exported)}"), "healthz: \(healthz)")

        // The detectors inside serve found the labelled scanners and the inbound attack, and
        // nothing that is not in the labels.
        let labels = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: labelsFile))) as? [String: Any])
        let bots = Set(((labels["infectedDevices"] as? [[String: Any]]) ?? []).filter { $0["family"] as? String == "mirai-like" }.compactMap { $0["publicAddress"] as? String })
        let victims = Set(((labels["attacks"] as? [[String: Any]]) ?? []).filter { $0["direction"] as? String == "inbound" }.compactMap { $0["victimAddress"] as? String })
        func subjects(_ kind: String) -> [String] {
            guard let body = httpGet(port: httpPort, path: "/api/v1/findings?kind=\(kind)")?.body,
                  let page = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else { return [] }
            return ((page["findings"] as? [[String: Any]]) ?? []).compactMap { ($0["subject"] as? [String: Any])?["address"] as? String }
        }
        var scanners: [String] = []
        var attacked: [String] = []
        for _ in 0..<100 {
            scanners = subjects("scanning")
            attacked = subjects("inbound-ddos")
            if !scanners.isEmpty && !attacked.isEmpty { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(!bots.isEmpty)
        #expect(!scanners.isEmpty, "no scanning finding from serve: \(httpGet(port: httpPort, path: "/api/v1/findings?kind=scanning").map { "\($0.status) \($0.body.prefix(300))" } ?? "no answer"); \((httpGet(port: httpPort, path: "/metrics")?.body ?? "").split(separator: "\n").filter { $0.contains("findings") || $0.contains("flow_records_total") }) files \((try? FileManager.default.contentsOfDirectory(atPath: dataDirectory.path)) ?? [])")
        #expect(Set(scanners).isSubset(of: bots), "scanners \(scanners) not all labelled Mirai-like bots \(bots)")
        #expect(Set(attacked) == victims, "inbound-ddos findings \(attacked), labelled victims \(victims)")
        #expect(FileManager.default.fileExists(atPath: dataDirectory.appendingPathComponent("findings.sqlite").path))

        server.stop()
        #expect(!server.isRunning)
    }
}

/// Sum of every sample of a Prometheus metric (all label sets) in text exposition format.
func prometheusTotal(_ text: String, _ name: String) -> Double {
    text.split(separator: "\n").reduce(0) { sum, line in
        guard line.hasPrefix(name), let rest = line.dropFirst(name.count).first, rest == "{" || rest == " " else { return sum }
        return sum + (line.split(separator: " ").last.flatMap { Double($0) } ?? 0)
    }
}
