import MamoriCore

/// Kamailio's accounting log (`acc` with `cdr_enable` and `dialog`, logged to a file Mamori
/// follows; docs/fraud.md has the configuration). Three kinds of line are calls:
///
/// - the CDR a dialog writes when it ends (`log_write_cdr(): start_time=…; end_time=…;
///   duration=…; call_id=…; src_user=…; dialed=…; dst_user=…; sip_code=…`), times in Unix seconds
///   with milliseconds; with `cdr_start_on_confirmed=1` the start is the answer and the duration
///   the talk time;
/// - an INVITE the screening refused before any dialog (`ACC: call missed: …;method=INVITE;…;
///   block_reason=…` with a reason): a call to a blocked destination, which has no CDR. It tells
///   whether the fraud goes on while its destination is blocked;
/// - an INVITE answered (`ACC: transaction answered: …;method=INVITE;…;code=200`): a call that
///   is up from then on, ``CallRecord/inProgress``; its CDR, with the same `call_id`, ends it. It
///   lets a line pumping long calls be judged while the calls are up, not only once they end.
///
/// Every other line (other log lines, other transactions) is not a call and is passed over.
public struct KamailioAccFormat: Sendable, Hashable {
    public init() {}

    /// nil for a line that is not a call record.
    public func record(line: Substring) -> Result<CallRecord, CDRRejection>? {
        // Read on the line's UTF-8 bytes in place (a native string's are contiguous).
        if let r = line.utf8.withContiguousStorageIfAvailable({ record(bytes: $0) }) { return r }
        return Array(line.utf8).withUnsafeBufferPointer { record(bytes: $0) }
    }

    private func record(bytes: UnsafeBufferPointer<UInt8>) -> Result<CallRecord, CDRRejection>? {
        if let at = AccFields.find(Self.cdrMarker, in: bytes) {
            return cdr(AccFields(bytes, from: at))
        }
        if let at = AccFields.find(Self.missedMarker, in: bytes) {
            let p = AccFields(bytes, from: at)
            guard p["method"]?.uppercased() == "INVITE", let reason = p["block_reason"], !reason.isEmpty else { return nil }
            return refused(p)
        }
        if let at = AccFields.find(Self.answeredMarker, in: bytes) {
            let p = AccFields(bytes, from: at)
            guard p["method"]?.uppercased() == "INVITE", let code = p["code"].flatMap({ Int($0) }), (200..<300).contains(code) else {
                return nil
            }
            return answered(p)
        }
        return nil
    }

    static let cdrMarker: StaticString = "log_write_cdr():"
    static let missedMarker: StaticString = "ACC: call missed:"
    static let answeredMarker: StaticString = "ACC: transaction answered:"

    /// `k=v;k=v` or `k=v; k=v` as a dictionary (for tests; the reader uses ``AccFields``).
    func pairs(_ text: Substring) -> [String: String] {
        Array(text.utf8).withUnsafeBufferPointer { AccFields($0, from: 0).dictionary }
    }

    private func cdr(_ p: AccFields) -> Result<CallRecord, CDRRejection> {
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
    private func answered(_ p: AccFields) -> Result<CallRecord, CDRRejection>? {
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

    private func refused(_ p: AccFields) -> Result<CallRecord, CDRRejection> {
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

/// The `key=value` fields of one accounting log line, found on its bytes without copying: a value
/// becomes a String only when it is asked for. `k=v;k=v` or `k=v; k=v`; a value may hold `=`
/// (after the first) but not `;`; keys and values are trimmed of spaces, tabs and CR; of a key
/// given twice the last counts; at most 64 fields. Hand-written because a dictionary of Strings
/// per line was most of the reader's cost (BENCHMARKS.md, `mamori bench fraud`).
struct AccFields {
    private let bytes: UnsafeBufferPointer<UInt8>
    /// Key start, key end, value start, value end (offsets in `bytes`).
    private var fields: [(Int, Int, Int, Int)] = []

    /// The fields of `bytes` from `start` to its end; `bytes` must outlive the value.
    init(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) {
        self.bytes = bytes
        fields.reserveCapacity(16)
        var i = start
        let n = bytes.count
        while i < n, fields.count < 64 {
            var end = i
            while end < n, bytes[end] != UInt8(ascii: ";") { end += 1 }
            var eq = i
            while eq < end, bytes[eq] != UInt8(ascii: "=") { eq += 1 }
            if eq < end {
                let key = Self.trimmed(i, eq, bytes)
                if key.0 < key.1 {
                    let value = Self.trimmed(eq + 1, end, bytes)
                    fields.append((key.0, key.1, value.0, value.1))
                }
            }
            i = end + 1
        }
    }

    private static func trimmed(_ from: Int, _ to: Int, _ b: UnsafeBufferPointer<UInt8>) -> (Int, Int) {
        var lo = from
        var hi = to
        func blank(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0D }
        while lo < hi, blank(b[lo]) { lo += 1 }
        while hi > lo, blank(b[hi - 1]) { hi -= 1 }
        return (lo, hi)
    }

    subscript(key: StaticString) -> String? {
        let k = UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount)
        for f in fields.reversed() where f.1 - f.0 == k.count {
            var same = true
            for j in 0..<k.count where bytes[f.0 + j] != k[j] {
                same = false
                break
            }
            if same { return String(decoding: UnsafeBufferPointer(rebasing: bytes[f.2..<f.3]), as: UTF8.self) }
        }
        return nil
    }

    var dictionary: [String: String] {
        var out: [String: String] = [:]
        for f in fields {
            out[String(decoding: UnsafeBufferPointer(rebasing: bytes[f.0..<f.1]), as: UTF8.self)] =
                String(decoding: UnsafeBufferPointer(rebasing: bytes[f.2..<f.3]), as: UTF8.self)
        }
        return out
    }

    /// The offset just past the first `marker` in `bytes`.
    static func find(_ marker: StaticString, in bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        let m = UnsafeBufferPointer(start: marker.utf8Start, count: marker.utf8CodeUnitCount)
        guard let first = m.first, bytes.count >= m.count else { return nil }
        var i = 0
        while i <= bytes.count - m.count {
            if bytes[i] == first {
                var j = 1
                while j < m.count, bytes[i + j] == m[j] { j += 1 }
                if j == m.count { return i + m.count }
            }
            i += 1
        }
        return nil
    }
}
