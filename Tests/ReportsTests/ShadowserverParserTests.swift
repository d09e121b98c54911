import FlowCodec
import Foundation
import Reports
import Testing

@Suite struct ShadowserverParserTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

    static func bytes(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixtures + "/" + path)))
    }

    @Test("intelmq's Shadowserver test files: every row accounted for, and every event intelmq expects is there (address, port, time)")
    func intelmqFiles() throws {
        let expected = try #require(
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/shadowserver/intelmq-expected.json")))
                as? [String: [String: Any]])
        #expect(expected.count == 12)
        var compared = 0
        for (csv, entry) in expected.sorted(by: { $0.key < $1.key }) {
            let report = try #require(entry["report"] as? [String: Any])
            let fileName = report["extra.file_name"] as? String ?? csv
            let file = try ShadowserverParser.parse(try Self.bytes("shadowserver/" + csv), fileName: fileName)
            #expect(file.rows == entry["csv_rows"] as? Int, "\(csv): \(file.rows) rows")
            #expect(file.accountedFor && file.rejected.isEmpty, "\(csv): \(file.rejected)")
            #expect(
                file.shortRows == (csv == "event4_microsoft_sinkhole.csv" ? 1 : 0), "\(csv): the sample's last row lacks its last column")
            #expect(file.knownType, "\(csv): report type \(file.reportType) from \(fileName)")
            for event in entry["expected_events"] as? [[String: Any]] ?? [] {
                guard let ip = event["source.ip"] as? String, let address = IPAddress(ip) else { continue }
                let port = (event["source.port"] as? Int).map(UInt16.init)
                let time = (event["time.source"] as? String).flatMap { Self.milliseconds(String($0.prefix(19))) }
                compared += 1
                #expect(
                    file.reports.contains { $0.address == address && (port == nil || $0.port == port) && (time == nil || $0.time == time) },
                    "\(csv): intelmq's event \(ip):\(port.map(String.init) ?? "-") at \(String(describing: event["time.source"])) is missing"
                )
            }
        }
        #expect(compared >= 30, "\(compared) of intelmq's events compared")
    }

    @Test("the CSVs of AbuseIO's Shadowserver e-mail samples: every row kept, with its problem and unmapped columns in extra")
    func abuseIOSamples() throws {
        let rows = [
            "2015-01-01-dns_openresolver-sample-asn.csv": (5, ReportProblem.openResolver),
            "2015-01-01-scan_memcached-sample-asn.csv": (9, .amplifier), "2015-01-01-scan_ntp-sample-asn.csv": (9, .amplifier),
            "2015-01-01-scan_ssdp-sample-asn.csv": (9, .amplifier), "2015-01-01-sinkhole_http_drone-sample-asn.csv": (8, .infected),
        ]
        for (name, (count, problem)) in rows.sorted(by: { $0.key < $1.key }) {
            let file = try ShadowserverParser.parse(try Self.bytes("abuseio/" + name), fileName: name)
            #expect(file.rows == count && file.reports.count == count && file.rejected.isEmpty, "\(name): \(file.rows) \(file.rejected)")
            #expect(file.reports.allSatisfy { $0.problem == problem && $0.source == "shadowserver" }, "\(name)")
        }
        let ntp = try ShadowserverParser.parse(
            try Self.bytes("abuseio/2015-01-01-scan_ntp-sample-asn.csv"), fileName: "2015-01-01-scan_ntp-sample-asn.csv")
        let first = try #require(ntp.reports.first)
        #expect(first.address == IPAddress("76.22.142.205") && first.port == 123 && first.transport == "udp" && first.asn == 7922)
        #expect(first.time == Self.milliseconds("2014-03-21 02:13:17") && first.geo == "US")
        #expect(first.extra["refid"] == "204.34.198.40" && first.extra["system"] == "UNIX", "unknown columns kept: \(first.extra)")
        #expect(ntp.unmappedColumns.contains("stratum"))
    }

    @Test(
        "bad input: a truncated file keeps its good rows, a row without an address or time is rejected by line, an unknown type is kept and marked, a file that is no report is an error"
    )
    func badInput() throws {
        let text = """
            "timestamp","ip","port","tag","device_vendor","device_model","new_column"
            "2026-12-01 03:04:05","198.51.100.7",23,"telnet","Hikvision","DS-2CD2032",x
            "2026-12-01 03:04:06","not an address",23,"telnet",,,
            "yesterday","198.51.100.8",23,"telnet",,,
            "2026-12-01 03:04:07","2001:db8::1",2323,"telnet",,,
            "2026-12-01 03:04:09","198.51.100.9",23,"telnet",,,,"one too many"
            "2026-12-01 03:04:08","198.51.1
            """
        let file = try ShadowserverParser.parse(Array(text.utf8), fileName: "2026-12-01-scan_newthing-example-asn-geo.csv")
        #expect(file.reportType == "scan_newthing" && !file.knownType)
        #expect(file.rows == 6 && file.accountedFor)
        #expect(file.reports.map(\.address) == [IPAddress("198.51.100.7")!, IPAddress("2001:db8::1")!])
        #expect(file.reports.allSatisfy { $0.problem == .unknown })
        #expect(file.reports.first?.deviceVendor == "Hikvision" && file.reports.first?.deviceModel == "DS-2CD2032")
        #expect(file.reports.first?.extra == ["new_column": "x"])
        #expect(
            file.rejected == [
                RejectedRow(line: 3, reason: "no_address"), RejectedRow(line: 4, reason: "bad_time"),
                RejectedRow(line: 6, reason: "field_count"),
                RejectedRow(line: 7, reason: "unterminated_quote"),
            ], "\(file.rejected)")
        #expect(throws: ReportError.self) { try ShadowserverParser.parse(Array("a,b,c\n1,2,3\n".utf8), fileName: "x.csv") }
        #expect(throws: ReportError.self) { try ShadowserverParser.parse([UInt8](), fileName: "x.csv") }
        #expect(ShadowserverParser.reportType(fileName: "/in/2026-12-01-event4_sinkhole_http-carrier-asn.csv") == "event4_sinkhole_http")
        #expect(ShadowserverParser.reportType(fileName: "scan_dns.csv") == "scan_dns")
    }

    static func milliseconds(_ text: String) -> Int64? {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = text.contains("T") ? "yyyy-MM-dd'T'HH:mm:ss" : "yyyy-MM-dd HH:mm:ss"
        return f.date(from: text).map { Int64($0.timeIntervalSince1970 * 1000) }
    }
}
