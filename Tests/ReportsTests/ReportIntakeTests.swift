import FlowCodec
import Foundation
import MamoriCore
import Testing

@testable import Reports

@Suite struct ReportIntakeTests {
    static func bytes(_ path: String) throws -> [UInt8] { try ShadowserverParserTests.bytes(path) }

    static func ms(_ text: String) -> Int64? { TimeText.parse(text) }

    @Test("AbuseIO's Shadowserver mails: the zipped CSV attachment of each is found, unpacked and read, every row kept")
    func shadowserverMails() throws {
        let expected: [String: (Int, String, ReportProblem)] = [
            "2015-01-01-dns_openresolver-sample-asn.csv.zip.eml": (5, "dns_openresolver", .openResolver),
            "2015-01-01-scan_memcached-sample-asn.csv.zip.eml": (9, "scan_memcached", .amplifier),
            "2015-01-01-scan_ntp-sample-asn.csv.zip.eml": (9, "scan_ntp", .amplifier),
            "2015-01-01-scan_ssdp-sample-asn.csv.zip.eml": (9, "scan_ssdp", .amplifier),
            "2015-01-01-sinkhole_http_drone-sample-asn.csv.zip.eml": (8, "sinkhole_http_drone", .infected),
        ]
        for (name, (rows, type, problem)) in expected.sorted(by: { $0.key < $1.key }) {
            let items = try ReportIntake().read(try Self.bytes("abuse-reports/shadowserver/" + name), fileName: name)
            #expect(items.count == 1, "\(name): \(items.map(\.name))")
            let file = try #require(items.first?.file)
            #expect(file.rows == rows && file.keptCount == rows && file.rejectedCount == 0 && file.accountedFor, "\(name)")
            #expect(file.reportType == type && file.knownType && file.reports.allSatisfy { $0.problem == problem }, "\(name)")
            #expect(
                items.first?.name.hasSuffix(
                    "› " + name.replacingOccurrences(of: ".zip.eml", with: ".zip") + " › "
                        + name.replacingOccurrences(of: ".zip.eml", with: "")) == true, "\(items.first?.name ?? "")")
            // The same rows as the CSV extracted from the attachment by Python's email and zipfile.
            let csv = name.replacingOccurrences(of: ".zip.eml", with: "")
            let direct = try ShadowserverParser.parse(try Self.bytes("abuseio/" + csv), fileName: csv)
            #expect(file.reports == direct.reports, "\(name)")
        }
    }

    @Test("AbuseIO's ARF feedback-loop samples: one spam complaint each, with the Source-IP, the arrival time and the sender")
    func arfSamples() throws {
        let expected: [String: (String, String, String)] = [
            "AOL_example_1.eml": ("10.17.18.1", "aol.net", "Tue, 19 Jan 2016 14:32:40 -0500 (EST)"),
            "Comcast_example_2.eml": ("10.17.18.6", "comcastfbl.senderscore.net", "Tue, 19 Jan 2016 15:14:53 +0000"),
            "Cox_example_1.eml": ("10.17.18.7", "fbl.cox.net", "Mon, 21 Dec 2015 22:52:30 +0000"),
            "Yahoo_example_2.eml": ("10.17.18.26", "arf.mail.yahoo.com", "Tue, 19 Jan 2016 15:16:34 UTC"),
            "Zoho_example_1.eml": ("10.17.18.28", "fbl.zoho.com", "Mon, 7 Sep 2015 08:58:04 -0700 (PDT)"),
        ]
        for (name, (address, sender, time)) in expected.sorted(by: { $0.key < $1.key }) {
            let items = try ReportIntake().read(try Self.bytes("abuse-reports/feedback-loop-arf/" + name), fileName: name)
            let file = try #require(items.first?.file)
            #expect(items.count == 1 && file.rows == 1 && file.keptCount == 1 && file.accountedFor, "\(name): \(file.rejected)")
            let report = try #require(file.reports.first)
            #expect(report.address == IPAddress(address) && report.problem == .spam && report.reportType == "arf-abuse", "\(name)")
            #expect(report.source == sender, "\(name): \(report.source)")
            #expect(report.time == Self.ms(time) && report.time > 0, "\(name): \(report.time)")
            #expect(report.extra["original-rcpt-to"] == nil, "the complainant's address is not kept")
        }
        let comcast = try ReportIntake().read(try Self.bytes("abuse-reports/feedback-loop-arf/Comcast_example_2.eml"), fileName: "c.eml")
        #expect(comcast.first?.file.reports.first?.extra["reported-domain"] == "comcast.net")
    }

    @Test("an X-ARF login-attack report (written from the x-arf.org 0.2 schema): address, port, time, attacking")
    func xarf() throws {
        let items = try ReportIntake().read(try Self.bytes("written/xarf-login-attack.eml"), fileName: "xarf.eml")
        let report = try #require(items.first?.file.reports.first)
        #expect(items.first?.file.reportType == "xarf-login-attack" && items.first?.file.source == "reporter.example")
        #expect(report.address == IPAddress("192.0.2.77") && report.port == 51022 && report.problem == .attacking)
        #expect(report.time == Self.ms("2026-12-02T09:15:00Z") && report.tag == "ssh" && report.extra["occurrences"] == "37")
    }

    @Test("NOTICE-style CSV: JST times, weakness to problem, bad rows rejected by line with the reason")
    func noticeCSV() throws {
        let items = try ReportIntake().read(try Self.bytes("written/notice-2026-12-01.csv"), fileName: "notice-2026-12-01.csv")
        let file = try #require(items.first?.file)
        #expect(file.source == "notice" && file.rows == 7 && file.keptCount == 4 && file.accountedFor)
        #expect(
            file.rejected == [
                RejectedRow(line: 6, reason: "no_address"), RejectedRow(line: 7, reason: "bad_time"),
                RejectedRow(line: 8, reason: "bad_port"),
            ])
        let first = try #require(file.reports.first)
        #expect(first.address == IPAddress("198.51.100.20") && first.port == 23 && first.problem == .weakCredentials)
        #expect(first.time == Self.ms("2026-12-01T00:12:44Z"), "09:12:44 JST")
        #expect(
            first.deviceVendor == "ExampleCam" && first.deviceModel == "EC-100" && first.deviceType == "camera" && first.tag == "telnet")
        #expect(file.reports[2].problem == .exposedService && file.reports[2].time == Self.ms("2026-12-01T00:20:00Z"))
        #expect(file.reports[3].problem == .weakCredentials && file.reports[3].port == nil, "default-password, no port")
    }

    @Test("NOTICE-style JSON: numbers, nested values kept as JSON, a non-object and an addressless entry rejected")
    func noticeJSON() throws {
        let items = try ReportIntake().read(try Self.bytes("written/notice-2026-12-01.json"), fileName: "notice.json")
        let file = try #require(items.first?.file)
        #expect(file.rows == 5 && file.keptCount == 3 && file.accountedFor)
        #expect(file.rejected == [RejectedRow(line: 4, reason: "not_an_object"), RejectedRow(line: 5, reason: "no_address")])
        #expect(file.reports[0].port == 23 && file.reports[0].extra["evidence"] == #"{"login":"root"}"#)
        #expect(file.reports[2].problem == .openResolver && file.reports[2].time == Self.ms("2026-12-01T00:20:00Z"))
        let lines = Array(
            "{\"time\":\"2026-12-01T00:00:00Z\",\"address\":\"198.51.100.1\"}\n\n{\"time\":\"2026-12-01T00:00:01Z\",\"address\":\"198.51.100.2\"}\n"
                .utf8)
        #expect(try ReportIntake().read(lines, fileName: "x.jsonl").first?.file.keptCount == 2, "JSON Lines")
    }

    @Test("a CSIRT feed read with a configured mapping; a mapping that names a column the file lacks is an error, nothing imported")
    func mappedFeed() throws {
        var columns = ReportMapping.Columns(address: ["source ip"], time: ["observed (jst)"])
        columns.port = ["src port"]
        columns.problem = ["vulnerability"]
        columns.deviceModel = ["model"]
        var mapping = ReportMapping(name: "csirt", reportType: "vulnerable", problem: .exposedService, columns: columns)
        mapping.fileNames = ["csirt-*.csv"]
        mapping.timeZoneOffsetMinutes = 540
        let intake = ReportIntake(mappings: [mapping])
        let file = try #require(try intake.read(try Self.bytes("written/csirt-feed.csv"), fileName: "csirt-feed.csv").first?.file)
        #expect(file.source == "csirt" && file.keptCount == 2 && file.accountedFor)
        #expect(
            file.reports[0].address == IPAddress("203.0.113.9") && file.reports[0].port == 7547 && file.reports[0].deviceModel == "ZXV10")
        #expect(file.reports[0].reportType == "vulnerable:cve-2014-9222" && file.reports[0].time == Self.ms("2026-12-01T01:00:00Z"))
        var wrong = mapping
        wrong.columns.address = ["ip"]
        #expect(throws: ReportError.self) {
            try ReportIntake(mappings: [wrong]).read(try Self.bytes("written/csirt-feed.csv"), fileName: "csirt-feed.csv")
        }
        #expect(throws: ReportError.self, "no mapping: not a format Mamori knows") {
            try ReportIntake().read(try Self.bytes("written/csirt-feed.csv"), fileName: "csirt-feed.csv")
        }
    }

    @Test("bad mail: a report mail without its attachment, a truncated base64 zip, a message past the part limit")
    func badMail() throws {
        let mail = try Self.bytes("abuse-reports/shadowserver/2015-01-01-scan_ntp-sample-asn.csv.zip.eml")
        let text = String(decoding: mail, as: UTF8.self)
        let attachmentStart = try #require(text.range(of: "Content-Type: application/octet-stream"))
        let withoutAttachment = Array(text[..<attachmentStart.lowerBound].utf8)
        #expect {
            try ReportIntake().read(withoutAttachment, fileName: "a.eml")
        } throws: { ($0 as? ReportError)?.description.contains("no report attachment") == true }
        // Cut in the middle of the base64: the zip's central directory is gone.
        let truncated = Array(mail.prefix(mail.count * 2 / 3))
        #expect(throws: ReportError.self) { try ReportIntake().read(truncated, fileName: "a.eml") }
        var limits = ReportIntake.Limits()
        limits.mime.maxParts = 1
        #expect(throws: ReportError.self) { try ReportIntake(limits: limits).read(mail, fileName: "a.eml") }
    }

    @Test("a zip bomb is refused before it is unpacked: by its declared size, its ratio, or its entry count")
    func zipBomb() throws {
        // 64 MiB of zeros packs into ~64 KiB: a ratio of about 1000.
        let bomb = try Self.zip(["zeros.csv": [UInt8](repeating: 0x30, count: 64 << 20)])
        #expect(bomb.count < 200_000)
        #expect {
            try ReportIntake().read(bomb, fileName: "report.zip")
        } throws: { ($0 as? ReportError)?.description.hasPrefix("zip_bomb") == true }
        var limits = ReportIntake.Limits()
        limits.zip.maxEntries = 2
        let many = try Self.zip(["a.csv": Array("x".utf8), "b.csv": Array("y".utf8), "c.csv": Array("z".utf8)])
        #expect {
            try ReportIntake(limits: limits).read(many, fileName: "r.zip")
        } throws: { ($0 as? ReportError)?.description.contains("holds 3 files") == true }
        let csv = try Self.bytes("abuseio/2015-01-01-scan_ntp-sample-asn.csv")
        let good = try Self.zip(["2015-01-01-scan_ntp-sample-asn.csv": csv])
        // Cut short (no end of central directory record), a central directory pointing past the end,
        // a file whose bytes were changed: each refused with the reason (the first two made
        // ZIPFoundation leak and trap under the fuzzer).
        for (bytes, reason) in [
            (Array(good.dropLast(30)), "no end of central directory"), (Self.pointingPastTheEnd(good), "runs past"),
            (Self.flippingAByte(good), "cannot be unpacked"),
        ] {
            #expect {
                try ReportIntake().read(bytes, fileName: "r.zip")
            } throws: { ($0 as? ReportError)?.description.contains(reason) == true }
        }
        #expect(try ReportIntake().read(good, fileName: "whatever.bin").first?.file.keptCount == 9, "a zip is known by its bytes")
    }

    @Test("RFC 5322, ISO 8601 and Unix times; nonsense refused")
    func times() {
        #expect(TimeText.parse("Tue, 19 Jan 2016 14:32:49 EST") == TimeText.parse("2016-01-19T19:32:49Z"))
        #expect(TimeText.parse("19 Jan 2016 14:32 -0500 (EST)") == TimeText.parse("2016-01-19T19:32:00Z"))
        #expect(TimeText.parse("2026-12-01T09:00:00.250+09:00") == TimeText.parse("2026-12-01T00:00:00.25Z"))
        #expect(TimeText.parse("2026-12-01 09:00:00", defaultOffsetMinutes: 540) == TimeText.parse("1796083200"))
        #expect(TimeText.parse("1796083200000") == 1_796_083_200_000)
        for bad in [
            "", "2026-02-30 00:00:00", "2026-12-01", "12/01/2026 10:00", "Tue, 19 Foo 2016 14:32:49 EST", "99999999999",
            "2026-12-01T25:00:00Z",
        ] {
            #expect(TimeText.parse(bad) == nil, "\(bad)")
        }
    }

    @Test("MIME: folded headers, quoted-printable, RFC 2231 file names, a missing closing delimiter")
    func mime() throws {
        let text = """
            From x Mon Jan  1 00:00:00 2026\r
            Subject: a\r
             b\r
            Content-Type: multipart/mixed;\r
            \tboundary="=_b"\r
            \r
            preamble\r
            --=_b\r
            Content-Type: text/plain\r
            Content-Transfer-Encoding: quoted-printable\r
            \r
            caf=C3=A9 =\r
            ok\r
            --=_b\r
            Content-Type: application/octet-stream\r
            Content-Disposition: attachment; filename*=UTF-8''r%C3%A9port.csv\r
            \r
            a,b\r
            """
        let message = try MIMEEntity.parse(Array(text.utf8))
        #expect(message.header("subject") == "a b" && message.parts.count == 2)
        #expect(String(decoding: message.parts[0].body, as: UTF8.self) == "café ok")
        #expect(message.parts[1].fileName == "réport.csv" && message.parts[1].body == Array("a,b\r".utf8))
    }

    /// The archive with its end record's central directory offset moved past the end.
    static func pointingPastTheEnd(_ zip: [UInt8]) -> [UInt8] {
        var z = zip
        let end = z.count - 22
        z[end + 16] = 0xFF
        z[end + 17] = 0xFF
        z[end + 18] = 0x00
        z[end + 19] = 0x10
        return z
    }

    /// The archive with a byte of its first file's packed data changed.
    static func flippingAByte(_ zip: [UInt8]) -> [UInt8] {
        var z = zip
        let data = 30 + (Int(z[26]) | Int(z[27]) << 8) + (Int(z[28]) | Int(z[29]) << 8)
        z[data + 3] ^= 0xFF
        return z
    }

    /// A zip archive written by Python's zipfile (deflated), as a reporter would send it.
    static func zip(_ files: [String: [UInt8]]) throws -> [UInt8] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mamori-zip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var names: [String] = []
        for (name, bytes) in files.sorted(by: { $0.key < $1.key }) {
            try Data(bytes).write(to: dir.appendingPathComponent(name))
            names.append(name)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.currentDirectoryURL = dir
        process.arguments =
            [
                "python3", "-c",
                "import sys, zipfile\nwith zipfile.ZipFile('out.zip', 'w', zipfile.ZIP_DEFLATED) as z:\n    for n in sys.argv[1:]: z.write(n)",
            ] + names
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "python3 zipfile")
        return [UInt8](try Data(contentsOf: dir.appendingPathComponent("out.zip")))
    }
}
