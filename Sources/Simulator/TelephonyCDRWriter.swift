import MamoriCore
import Telephony

/// Writes call records as a softswitch logs them, one line each, so that `Telephony.CDRReader`
/// reads back the same records:
///
/// - Asterisk's `cdr_csv` `Master.csv` (`loguniqueid=yes`): accountcode, src, dst, dcontext, clid,
///   channel, dstchannel, lastapp, lastdata, start, answer, end, duration, billsec, disposition,
///   amaflags, uniqueid, userfield; strings quoted, times in the PBX's local time (JST unless told
///   otherwise: read with `AsteriskCDRFormat(offsetMinutes: 540)`);
/// - Kamailio's `acc` CDR of a dialog (`log_write_cdr(): start_time=…; end_time=…; duration=…;
///   call_id=…; src_user=…; src_ip=…; dialed=…; dst_user=…; sip_code=…; sip_reason=…`) in a
///   syslog line, read with `KamailioAccFormat`.
///
/// ```swift
/// let writer = TelephonyCDRWriter(feed: .asterisk)
/// var bytes: [UInt8] = []
/// for call in world.calls() { writer.append(call, to: &bytes) }
/// ```
public struct TelephonyCDRWriter: Sendable {
    public let feed: TelephonyFeed
    /// Minutes east of UTC of the times Asterisk writes (and of the syslog time of Kamailio's lines).
    public let offsetMinutes: Int

    public init(feed: TelephonyFeed, offsetMinutes: Int = 540) {
        self.feed = feed
        self.offsetMinutes = offsetMinutes
    }

    public func append(_ call: SimulatedCall, to out: inout [UInt8]) { append(call.record, hangUp: call.hangUp, to: &out) }

    /// Appends one line (with its line feed). `hangUp`: when the call ended (for a call never
    /// answered, after ringing; the record alone does not say).
    public func append(_ record: CallRecord, hangUp: Int64, to out: inout [UInt8]) {
        switch feed {
        case .asterisk: asterisk(record, hangUp: hangUp, &out)
        case .kamailio: kamailio(record, hangUp: hangUp, &out)
        }
    }

    private func asterisk(_ r: CallRecord, hangUp: Int64, _ out: inout [UInt8]) {
        let seconds = floorDivide(r.start, 1000) * 1000
        let end = max(seconds, floorDivide(hangUp, 1000) * 1000)
        let tag = fnv(r.callID)
        quoted(r.account, &out)
        out.append(0x2C)
        quoted(r.caller, &out)
        out.append(0x2C)
        quoted(r.dialled, &out)
        out.append(contentsOf: #","from-internal",""""" <"#.utf8)
        out.append(contentsOf: r.caller.utf8)
        out.append(contentsOf: #">","SIP/"#.utf8)
        out.append(contentsOf: r.account.utf8)
        out.append(UInt8(ascii: "-"))
        hex(tag & 0xFFFF_FFFF, &out)
        out.append(contentsOf: #"",""#.utf8)
        if r.outcome != .failed {
            out.append(contentsOf: "SIP/trunk-".utf8)
            hex(tag >> 32, &out)
        }
        out.append(contentsOf: #"","Dial","SIP/trunk/"#.utf8)
        out.append(contentsOf: r.dialled.utf8)
        out.append(contentsOf: #",60",""#.utf8)
        localTime(seconds, &out)
        out.append(contentsOf: #"",""#.utf8)
        if r.outcome == .answered, let a = r.answered { localTime(a, &out) }
        out.append(contentsOf: #"",""#.utf8)
        localTime(end, &out)
        out.append(contentsOf: #"","#.utf8)
        appendInteger((end - seconds) / 1000, to: &out)
        out.append(0x2C)
        appendInteger(Int64(r.billedSeconds), to: &out)
        out.append(0x2C)
        let disposition =
            switch r.outcome {
            case .answered: #""ANSWERED""#
            case .noAnswer: #""NO ANSWER""#
            case .busy: #""BUSY""#
            case .failed: #""FAILED""#
            }
        out.append(contentsOf: disposition.utf8)
        out.append(contentsOf: #","BILLING","#.utf8)
        quoted(r.callID, &out)
        out.append(contentsOf: #","""#.utf8)
        out.append(0x0A)
    }

    private func kamailio(_ r: CallRecord, hangUp: Int64, _ out: inout [UInt8]) {
        let tag = fnv(r.account)
        let end = max(r.start, hangUp)
        syslogTime(end, &out)
        out.append(contentsOf: " sbc1 /usr/sbin/kamailio[".utf8)
        appendInteger(20_870 + Int64(tag % 8), to: &out)
        out.append(contentsOf: "]: NOTICE: acc [acc_cdr.c:395]: log_write_cdr(): start_time=".utf8)
        epoch(r.start, &out)
        out.append(contentsOf: "; end_time=".utf8)
        epoch(end, &out)
        out.append(contentsOf: "; duration=".utf8)
        epoch(r.outcome == .answered ? Int64(r.billedSeconds) * 1000 : 0, &out)
        out.append(contentsOf: "; call_id=".utf8)
        out.append(contentsOf: r.callID.utf8)
        out.append(contentsOf: "; src_user=".utf8)
        out.append(contentsOf: r.account.utf8)
        // The customer's PBX or phone, by its account: documentation addresses only.
        out.append(contentsOf: (tag >> 8) % 2 == 0 ? "; src_ip=198.51.100.".utf8 : "; src_ip=203.0.113.".utf8)
        appendInteger(Int64(1 + (tag >> 16) % 254), to: &out)
        out.append(contentsOf: "; dialed=".utf8)
        out.append(contentsOf: r.dialled.utf8)
        out.append(contentsOf: "; dst_user=".utf8)
        Self.routed(r.dialled, &out)
        let code = fnv(r.callID) % 3
        let status =
            switch r.outcome {
            case .answered: "200; sip_reason=OK"
            case .noAnswer:
                ["487; sip_reason=Request Terminated", "480; sip_reason=Temporarily Unavailable", "408; sip_reason=Request Timeout"][
                    Int(code)]
            case .busy: code == 0 ? "600; sip_reason=Busy Everywhere" : "486; sip_reason=Busy Here"
            case .failed: ["503; sip_reason=Service Unavailable", "404; sip_reason=Not Found", "403; sip_reason=Forbidden"][Int(code)]
            }
        out.append(contentsOf: "; sip_code=".utf8)
        out.append(contentsOf: status.utf8)
        out.append(0x0A)
    }

    /// The request URI's user after the carrier's routing: E.164 digits for `010…`, `+…` and
    /// national `0…` numbers, the dialled string for short codes and local numbers.
    static func routed(_ dialled: String, _ out: inout [UInt8]) {
        let u = dialled.utf8
        if u.starts(with: "010".utf8) {
            out.append(contentsOf: u.dropFirst(3))
        } else if u.first == UInt8(ascii: "+") {
            out.append(contentsOf: u.dropFirst())
        } else if u.first == UInt8(ascii: "0") {
            out.append(contentsOf: "81".utf8)
            out.append(contentsOf: u.dropFirst())
        } else {
            out.append(contentsOf: u)
        }
    }

    /// `"text"` with `"` doubled.
    private func quoted(_ text: String, _ out: inout [UInt8]) {
        out.append(0x22)
        for b in text.utf8 {
            out.append(b)
            if b == 0x22 { out.append(0x22) }
        }
        out.append(0x22)
    }

    private func hex(_ v: UInt64, _ out: inout [UInt8]) {
        for shift in stride(from: 28, through: 0, by: -4) {
            let d = UInt8(truncatingIfNeeded: (v >> UInt64(shift)) & 0xF)
            out.append(d < 10 ? 0x30 + d : 0x61 + d - 10)
        }
    }

    /// `2026-12-07 10:00:05` in the writer's local time.
    private func localTime(_ ms: Int64, _ out: inout [UInt8]) {
        let local = floorDivide(ms, 1000) + Int64(offsetMinutes) * 60
        let days = floorDivide(local, 86_400)
        let s = local - days * 86_400
        let (y, m, d) = civilDate(days)
        appendDigits(UInt64(max(0, y)), width: 4, to: &out)
        out.append(UInt8(ascii: "-"))
        appendDigits(UInt64(m), width: 2, to: &out)
        out.append(UInt8(ascii: "-"))
        appendDigits(UInt64(d), width: 2, to: &out)
        out.append(0x20)
        clock(s, &out)
    }

    /// `Dec  7 10:00:05`, as syslog stamps a line.
    private func syslogTime(_ ms: Int64, _ out: inout [UInt8]) {
        let local = floorDivide(ms, 1000) + Int64(offsetMinutes) * 60
        let days = floorDivide(local, 86_400)
        let (_, m, d) = civilDate(days)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        out.append(contentsOf: months[m - 1].utf8)
        out.append(0x20)
        if d < 10 { out.append(0x20) }
        appendDigits(UInt64(d), to: &out)
        out.append(0x20)
        clock(local - days * 86_400, &out)
    }

    private func clock(_ secondsOfDay: Int64, _ out: inout [UInt8]) {
        appendDigits(UInt64(secondsOfDay / 3600), width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDigits(UInt64(secondsOfDay / 60 % 60), width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDigits(UInt64(secondsOfDay % 60), width: 2, to: &out)
    }

    /// Milliseconds as seconds with three decimals: `1796645190.386`.
    private func epoch(_ ms: Int64, _ out: inout [UInt8]) {
        appendInteger(floorDivide(ms, 1000), to: &out)
        out.append(UInt8(ascii: "."))
        appendDigits(UInt64(ms - floorDivide(ms, 1000) * 1000), width: 3, to: &out)
    }

    /// FNV-1a of the text: stable channel names, worker pids and addresses for an account or call.
    private func fnv(_ text: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return h
    }
}
