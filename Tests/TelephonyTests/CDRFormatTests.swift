import MamoriCore
import Testing

@testable import Telephony

/// The three call-record formats, read from bytes in pieces, and what becomes of bad lines:
/// each refused with its line and reason, the good lines around it kept.
struct CDRFormatTests {
    static func read(_ text: String, _ format: CDRReader.Format, notAfter: Int64? = nil, chunk: Int = 7) -> [CDRLine] {
        var reader = CDRReader(format: format, notAfter: notAfter)
        var out: [CDRLine] = []
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            reader.feed(bytes[i..<min(i + chunk, bytes.count)]) { out.append($0) }
            i += chunk
        }
        reader.finish { out.append($0) }
        return out
    }

    static func ms(_ text: String) -> Int64 { TimeText.parse(text)! }

    @Test func asteriskMasterCSV() throws {
        // As cdr_csv writes it (every text field quoted, quotes doubled), with loguniqueid.
        let csv = #"""
            "line-0001","0312345678","0104412345678","from-internal","""Alice"" <0312345678>","SIP/1001-00000001","SIP/trunk-00000002","Dial","SIP/trunk/0104412345678,60","2026-12-07 10:00:00","2026-12-07 10:00:05","2026-12-07 10:03:05",185,180,"ANSWERED","DOCUMENTATION","1796637600.1",""
            "","0312345678","0120123456","from-internal","","SIP/1001-00000003","","Dial","","2026-12-07 10:05:00","","2026-12-07 10:05:20",20,0,"NO ANSWER","DOCUMENTATION","1796637900.3",""
            "","","8821312345","from-internal","","SIP/1002-00000004","","Dial","","2026-12-07 10:06:00","","2026-12-07 10:06:01",1,0,"BUSY","DOCUMENTATION","1796637960.4",""
            "line-0001","0312345678","0044","from-internal","","SIP/1001-5","","Dial","","yesterday","","",1,0,"ANSWERED","DOCUMENTATION","x",""
            "line-0001","0312345678","0044","from-internal","","SIP/1001-5","","Dial","","2026-12-07 10:06:00","","",-4,0,"ANSWERED","DOCUMENTATION","x",""
            "line-0001","0312345678","0044","from-internal","","SIP/1001-5","","Dial","","2026-12-07 10:06:00","","",4,0,"HUNG UP","DOCUMENTATION","x",""
            "line-0001","0312345678","0044","from-internal"
            "line-0002","0312340000","+442079460000","from-internal","","SIP/1009-9","","Dial","","2026-12-07 19:00:00","2026-12-07 19:00:02","2026-12-07 19:01:02",62,60,"ANSWERED","BILLING","1796670000.9",""

            """#
        // A PBX in JST without usegmtime: its times are local.
        let lines = Self.read(csv, .asterisk(AsteriskCDRFormat(offsetMinutes: 540)))
        #expect(lines.map(\.line) == [1, 2, 3, 4, 5, 6, 7, 8])
        let first = try lines[0].result.get()
        #expect(first.account == "line-0001" && first.caller == "0312345678" && first.dialled == "0104412345678")
        #expect(first.start == Self.ms("2026-12-07T01:00:00Z") && first.answered == Self.ms("2026-12-07T01:00:05Z"))
        #expect(first.billedSeconds == 180 && first.outcome == .answered && first.callID == "1796637600.1")
        #expect(first.end == Self.ms("2026-12-07T01:03:05Z"))
        let second = try lines[1].result.get()
        #expect(second.account == "0312345678", "no accountcode: the caller stands for the line")
        #expect(second.outcome == .noAnswer && second.answered == nil && second.billedSeconds == 0)
        let third = try lines[2].result.get()
        #expect(third.account == "SIP/1002", "no accountcode, no caller: the channel's peer")
        #expect(third.outcome == .busy)
        #expect(lines[3].result == .failure(.badTime))
        #expect(lines[4].result == .failure(.badDuration))
        #expect(lines[5].result == .failure(.badOutcome))
        #expect(lines[6].result == .failure(.missingColumns))
        #expect((try? lines[7].result.get())?.account == "line-0002", "good lines after bad ones are kept")
    }

    /// Lines as Kamailio 5.6 wrote them in the lab (acc + dialog CDRs, logged to stderr).
    @Test func kamailioAccountingLog() throws {
        let log = """
             0(20870) INFO: <core> [main.c:2866]: main(): processes (including attendants): 10
             2(20878) NOTICE: acc [acc.c:268]: acc_log_request(): ACC: transaction answered: timestamp=1796645192;time_ms=1796645192.391;method=BYE;from_tag=20944SIPpTag001;to_tag=20896SIPpTag011;call_id=1-20944@127.0.0.1;code=200;reason=OK;src_user=1001;src_ip=127.0.0.1;dialed=0312345678;dst_user=81312345678;block_reason=
             2(20878) NOTICE: acc [acc.c:268]: acc_log_request(): ACC: transaction answered: timestamp=1796645190;time_ms=1796645190.386;method=INVITE;from_tag=20944SIPpTag001;to_tag=20896SIPpTag011;call_id=1-20944@127.0.0.1;code=200;reason=OK;src_user=1001;src_ip=127.0.0.1;dialed=0312345678;dst_user=81312345678;block_reason=
             2(20878) NOTICE: acc [acc.c:268]: acc_log_request(): ACC: call missed: timestamp=1796645193;time_ms=1796645193.597;method=INVITE;from_tag=21010SIPpTag001;to_tag=62a8e38824eb2a320f9d06b0beb8e283-44ce85f1;call_id=1-21010@127.0.0.1;code=403;reason=Forbidden;src_user=1001;src_ip=127.0.0.1;dialed=8821312345;dst_user=8821312345;block_reason=Destination blocked: suspected fraud
             1(20876) NOTICE: acc [acc_cdr.c:395]: log_write_cdr(): start_time=1796645190.386; end_time=1796645192.391; duration=2.005; call_id=1-20944@127.0.0.1; src_user=1001; src_ip=127.0.0.1; dialed=0312345678; dst_user=81312345678; sip_code=200; sip_reason=OK
             1(20876) NOTICE: acc [acc_cdr.c:395]: log_write_cdr(): start_time=1796645200.000; end_time=1796645200.000; duration=0.000; call_id=2-20944@127.0.0.1; src_user=1002; src_ip=127.0.0.1; dialed=441632960000; dst_user=441632960000; sip_code=408; sip_reason=Request Timeout
             1(20876) NOTICE: acc [acc_cdr.c:395]: log_write_cdr(): start_time=soon; end_time=1796645192.391; duration=2.005; call_id=3; src_user=1001; dialed=1; sip_code=200
             1(20876) NOTICE: acc [acc_cdr.c:395]: log_write_cdr(): start_time=1796645190.386; duration=2.005; call_id=4; dialed=1; sip_code=200
             1(20876) NOTICE: acc [acc_cdr.c:395]: log_write_cdr(): start_time=1796645190.386; duration=2.005; call_id=5; src_user=1001; dialed=0312345678; sip_code=999
            """
        let lines = Self.read(log, .kamailio(KamailioAccFormat()), chunk: 13)
        #expect(lines.map(\.line) == [3, 4, 5, 6, 7, 8, 9], "the log's other lines and other transactions (a BYE) are not calls")
        let up = try lines[0].result.get()
        #expect(up.inProgress && up.outcome == .answered && up.billedSeconds == 0 && up.callID == "1-20944@127.0.0.1")
        #expect(up.start == 1_796_645_190_386 && up.answered == up.start && up.account == "1001" && up.dialled == "0312345678")
        let refused = try lines[1].result.get()
        #expect(refused.refusedByBlock && refused.outcome == .failed && refused.dialled == "8821312345" && !refused.inProgress)
        #expect(refused.start == 1_796_645_193_597 && refused.account == "1001")
        let cdr = try lines[2].result.get()
        #expect(cdr.account == "1001" && cdr.dialled == "0312345678" && cdr.callID == "1-20944@127.0.0.1" && !cdr.inProgress)
        #expect(cdr.start == 1_796_645_190_386 && cdr.answered == cdr.start && cdr.billedSeconds == 2 && !cdr.refusedByBlock)
        let timeout = try lines[3].result.get()
        #expect(timeout.outcome == .noAnswer && timeout.billedSeconds == 0)
        #expect(lines[4].result == .failure(.badTime))
        #expect(lines[5].result == .failure(.noAccount))
        #expect(lines[6].result == .failure(.badOutcome))
    }

    /// The fields of a log line, read in place: trimmed, the last of a repeated key, `=` inside a
    /// value, no key, non-ASCII values, at most 64 fields.
    @Test func accFieldsAreReadLikeKamailioWritesThem() {
        let f = KamailioAccFormat()
        let p = f.pairs(" a=1; b = two words ;c=x=y;=lost;d;e=é\r;a=3;;")
        #expect(p == ["a": "3", "b": "two words", "c": "x=y", "e": "é"], "\(p)")
        let many = (0..<100).map { "k\($0)=\($0)" }.joined(separator: ";")
        let q = f.pairs(Substring(many))
        #expect(q.count == 64 && q["k63"] == "63" && q["k64"] == nil)
        #expect(f.pairs("") == [:] && f.pairs(";;;") == [:])
    }

    @Test func mappedCSVWithItsHeader() throws {
        let mapping = CDRMapping(
            name: "billing-export",
            columns: .init(account: "Line", caller: "CLI", dialled: "Called", start: "Started", duration: "Seconds", outcome: "Result"),
            offsetMinutes: 540)
        let csv = """
            Called,Line,Started,Seconds,Result,CLI,Unused
            0104412345678,L-1,2026-12-07 09:00:00,61,ANSWERED,0312345678,x
            0104412345678,L-1,2026-12-07T00:05:00Z,0,486,0312345678,x
            +8821312345,,1796645190,12,200,0312349999,x
            0104412345678,L-1,2026-12-07 09:00:00,61.4,teleported,0312345678,x
            ,,2026-12-07 09:00:00,61,ANSWERED,,x
            0104412345678,L-1,2026-12-07 09:00:00,3600000,ANSWERED,0312345678,x
            """
        let lines = Self.read(csv, .mapped(mapping))
        #expect(lines.map(\.line) == [2, 3, 4, 5, 6, 7])
        let a = try lines[0].result.get()
        #expect(a.feed == "billing-export" && a.account == "L-1" && a.start == Self.ms("2026-12-07T00:00:00Z") && a.billedSeconds == 61)
        #expect((try lines[1].result.get()).outcome == .busy)
        let c = try lines[2].result.get()
        #expect(c.account == "0312349999" && c.start == 1_796_645_190_000 && c.outcome == .answered)
        #expect(lines[3].result == .failure(.badOutcome))
        #expect(lines[4].result == .failure(.noAccount))
        #expect(lines[5].result == .failure(.badDuration))
    }

    @Test func aMappedCSVWithoutItsColumnsIsRefusedWhole() {
        let mapping = CDRMapping(name: "x", columns: .init(account: "line", dialled: "called", start: "start", duration: "secs"))
        var reader = CDRReader(format: .mapped(mapping))
        var out: [CDRLine] = []
        reader.feed(Array("line,number,start,secs\nL,1,2026-12-07 00:00:00,1\n".utf8)) { out.append($0) }
        reader.finish { out.append($0) }
        #expect(out.isEmpty)
        #expect(reader.failure?.description == #"the header has no column "called""#)
    }

    @Test func aSourceWhoseClockRunsAheadIsRefusedPastTheBound() throws {
        let now = Self.ms("2026-12-07T10:00:00Z")
        let log = """
            x log_write_cdr(): start_time=1796637600.000; duration=5; call_id=a; src_user=1; dialed=0311112222; sip_code=200
            x log_write_cdr(): start_time=1796641200.000; duration=5; call_id=b; src_user=1; dialed=0311112222; sip_code=200
            """
        // 1796637600 is 10:00:00Z; 1796641200 an hour later, past a five-minute allowance.
        let lines = Self.read(log, .kamailio(KamailioAccFormat()), notAfter: now + 300_000)
        #expect(lines.count == 2)
        #expect((try lines[0].result.get()).callID == "a")
        #expect(lines[1].result == .failure(.future))
    }

    @Test func anEndlessLineIsCutAndRefusedNotHeld() {
        var reader = CDRReader(format: .kamailio(KamailioAccFormat()))
        var out: [CDRLine] = []
        let junk = Array(repeating: UInt8(ascii: "a"), count: 100_000)
        reader.feed(Array("log_write_cdr(): start_time=1796637600.000; duration=5; src_user=1; dialed=".utf8) + junk + [10]) {
            out.append($0)
        }
        reader.feed(Array("log_write_cdr(): start_time=1796637600.000; duration=5; src_user=1; dialed=0311112222; sip_code=200\n".utf8)) {
            out.append($0)
        }
        #expect(out.count == 2)
        #expect(out[0].result == .failure(.badOutcome), "cut at 16 KiB, its status is lost")
        #expect((try? out[1].result.get())?.dialled == "0311112222")
    }

    @Test func callsAreClassifiedByTheCarriersRulesAndPlan() {
        let classifier = CallClassifier(rules: .japan, plan: .shipped)
        func call(_ dialled: String) -> Call {
            classifier.classify(
                CallRecord(
                    feed: "t", callID: "", account: "a", caller: "", dialled: dialled, start: 0, answered: nil, billedSeconds: 0,
                    outcome: .answered))
        }
        let domestic = call("03-1234-5678")
        #expect(domestic.number?.digits == "81312345678" && !domestic.isInternational && domestic.destination?.country == "JP")
        let uk = call("010 44 20 7946 0000")
        #expect(uk.isInternational && uk.destination?.country == "GB" && !uk.isHighCost)
        #expect(uk.range?.digits == "442079460", "the block of 1,000 it sits in")
        let sat = call("+8821312345")
        #expect(sat.isInternational && sat.isHighCost, "\(String(describing: sat.destination))")
        let police = call("110")
        #expect(police.isEmergency && police.number == nil && !police.isInternational)
        #expect(!call("117").isEmergency, "a short code that is not an emergency number")
        if case .invalid = call("+44 20 CALL ME").dialled {} else { Issue.record("letters are not a number") }
        if case .invalid = call("+1234567890123456789").dialled {} else { Issue.record("more than 15 digits is not E.164") }
    }
}
