import MamoriCore

/// Kamailio's accounting log (`acc` with `cdr_enable` and `dialog`, logged to a file Mamori
/// follows; docs/fraud.md has the configuration). Two kinds of line are calls:
///
/// - the CDR a dialog writes when it ends (`log_write_cdr(): start_time=…; end_time=…;
///   duration=…; call_id=…; src_user=…; dialed=…; dst_user=…; sip_code=…`), times in Unix seconds
///   with milliseconds; with `cdr_start_on_confirmed=1` the start is the answer and the duration
///   the talk time;
/// - an INVITE the screening refused before any dialog (`ACC: call missed: …;method=INVITE;…;
///   block_reason=…` with a reason): a call to a blocked destination, which has no CDR. It tells
///   whether the fraud goes on while its destination is blocked.
///
/// - an INVITE answered (`ACC: transaction answered: …;method=INVITE;…;code=200`): a call that
///   is up from then on, ``CallRecord/inProgress``; its CDR, with the same `call_id`, ends it. It
///   lets a line pumping long calls be judged while the calls are up, not only once they end.
///
/// Every other line (other log lines, other transactions) is not a call and is passed over.
public struct KamailioAccFormat: Sendable, Hashable {
    public init() {}

    /// nil for a line that is not a call record.
    public func record(line: Substring) -> Result<CallRecord, CDRRejection>? {
        let bytes = line.utf8
        if let r = bytes.firstRange(of: Self.cdrMarker) {
            return cdr(pairs(Substring(bytes[r.upperBound...])))
        }
        if let r = bytes.firstRange(of: Self.missedMarker) {
            let p = pairs(Substring(bytes[r.upperBound...]))
            guard p["method"]?.uppercased() == "INVITE", let reason = p["block_reason"], !reason.isEmpty else { return nil }
            return refused(p)
        }
        if let r = bytes.firstRange(of: Self.answeredMarker) {
            let p = pairs(Substring(bytes[r.upperBound...]))
            guard p["method"]?.uppercased() == "INVITE", let code = p["code"].flatMap({ Int($0) }), (200..<300).contains(code) else {
                return nil
            }
            return answered(p)
        }
        return nil
    }

    static let cdrMarker = Array("log_write_cdr():".utf8)
    static let missedMarker = Array("ACC: call missed:".utf8)
    static let answeredMarker = Array("ACC: transaction answered:".utf8)

    /// `k=v;k=v` or `k=v; k=v`: a value may hold `=` (after the first) but not `;`. Read on the
    /// UTF-8 bytes: a log line is ASCII but for its values.
    func pairs(_ text: Substring) -> [String: String] {
        var out: [String: String] = [:]
        for piece in text.utf8.split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: true) {
            guard let eq = piece.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let key = Self.trimmed(piece[..<eq])
            guard !key.isEmpty, out.count < 64 else { continue }
            out[key] = Self.trimmed(piece[piece.index(after: eq)...])
        }
        return out
    }

    static func trimmed(_ bytes: Substring.UTF8View.SubSequence) -> String {
        var s = bytes
        while let f = s.first, f == 0x20 || f == 0x09 || f == 0x0D { s = s.dropFirst() }
        while let l = s.last, l == 0x20 || l == 0x09 || l == 0x0D { s = s.dropLast() }
        return String(Substring(s))
    }

    private func cdr(_ p: [String: String]) -> Result<CallRecord, CDRRejection> {
        guard let account = p["src_user"].flatMap({ $0.isEmpty ? nil : $0 }) else { return .failure(.noAccount) }
        guard let dialled = (p["dialed"] ?? p["dst_user"]).flatMap({ $0.isEmpty ? nil : $0 }) else {
            return .failure(.noDestination)
        }
        guard let start = p["start_time"].flatMap(Self.epochMilliseconds) else { return .failure(.badTime) }
        guard let duration = p["duration"].flatMap(seconds) else { return .failure(.badDuration) }
        guard let code = p["sip_code"].flatMap({ Int($0) }), (100...699).contains(code) else { return .failure(.badOutcome) }
        let outcome = Self.outcome(code)
        return .success(
            CallRecord(
                feed: "kamailio", callID: p["call_id"] ?? "", account: account, caller: account, dialled: dialled, start: start,
                answered: outcome == .answered ? start : nil, billedSeconds: outcome == .answered ? duration : 0, outcome: outcome))
    }

    /// A call answered and up; without a Call-ID its CDR could not be matched, so it is passed over.
    private func answered(_ p: [String: String]) -> Result<CallRecord, CDRRejection>? {
        guard let callID = p["call_id"], !callID.isEmpty else { return nil }
        guard let account = p["src_user"].flatMap({ $0.isEmpty ? nil : $0 }) else { return .failure(.noAccount) }
        guard let dialled = (p["dialed"] ?? p["dst_user"]).flatMap({ $0.isEmpty ? nil : $0 }) else {
            return .failure(.noDestination)
        }
        guard let start = (p["time_ms"] ?? p["timestamp"]).flatMap(Self.epochMilliseconds) else { return .failure(.badTime) }
        var record = CallRecord(
            feed: "kamailio", callID: callID, account: account, caller: account, dialled: dialled, start: start, answered: start,
            billedSeconds: 0, outcome: .answered)
        record.inProgress = true
        return .success(record)
    }

    private func refused(_ p: [String: String]) -> Result<CallRecord, CDRRejection> {
        guard let account = p["src_user"].flatMap({ $0.isEmpty ? nil : $0 }) else { return .failure(.noAccount) }
        guard let dialled = (p["dialed"] ?? p["dst_user"]).flatMap({ $0.isEmpty ? nil : $0 }) else {
            return .failure(.noDestination)
        }
        guard let start = (p["time_ms"] ?? p["timestamp"]).flatMap(Self.epochMilliseconds) else { return .failure(.badTime) }
        var record = CallRecord(
            feed: "kamailio", callID: p["call_id"] ?? "", account: account, caller: account, dialled: dialled, start: start,
            answered: nil, billedSeconds: 0, outcome: .failed)
        record.refusedByBlock = true
        return .success(record)
    }

    /// 2xx answered; 486 and 600 busy; 408, 480 and 487 (timeout, unavailable, cancelled) not
    /// answered; anything else failed.
    static func outcome(_ code: Int) -> CallRecord.Outcome {
        switch code {
        case 200..<300: .answered
        case 486, 600: .busy
        case 408, 480, 487: .noAnswer
        default: .failed
        }
    }

    /// `1796645190.386` or `1796645190` → milliseconds; nil unless 0 < t < year 10000.
    static func epochMilliseconds(_ text: String) -> Int64? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = Int64(parts[0]), whole > 0, whole < 253_402_300_800 else { return nil }
        var ms: Int64 = 0
        if parts.count == 2 {
            let frac = parts[1].prefix(3)
            guard !frac.isEmpty, frac.allSatisfy(\.isASCII), let f = Int64(frac), parts[1].allSatisfy({ $0.isNumber }) else {
                return nil
            }
            ms = f * [100, 10, 1][frac.count - 1]
        }
        return whole * 1000 + ms
    }
}
