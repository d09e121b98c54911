import MamoriCore

/// Asterisk's `cdr_csv` (`Master.csv`): no header, the columns in the documented order —
/// accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata, start, answer,
/// end, duration, billsec, disposition, amaflags, then uniqueid and userfield when
/// `loguniqueid`/`loguserfield` are set (later columns are ignored). Times are
/// `%Y-%m-%d %H:%M:%S` in the PBX's local time unless `usegmtime=yes`: give the PBX's offset.
public struct AsteriskCDRFormat: Sendable, Hashable {
    /// Minutes east of UTC of the times written (0 with `usegmtime=yes`; 540 for a PBX in JST).
    public var offsetMinutes: Int

    public init(offsetMinutes: Int = 0) { self.offsetMinutes = offsetMinutes }

    public func record(_ f: [String]) -> Result<CallRecord, CDRRejection> {
        guard f.count >= 16 else { return .failure(.missingColumns) }
        let src = f[1].trimmedSpaces
        var account = f[0].trimmedSpaces
        if account.isEmpty { account = src }
        if account.isEmpty { account = Self.peer(ofChannel: f[5]) }
        guard !account.isEmpty else { return .failure(.noAccount) }
        let dst = f[2].trimmedSpaces
        guard !dst.isEmpty else { return .failure(.noDestination) }
        guard let start = TimeText.parse(f[9], defaultOffsetMinutes: offsetMinutes) else { return .failure(.badTime) }
        let answerText = f[10].trimmedSpaces
        var answered: Int64?
        if !answerText.isEmpty {
            guard let a = TimeText.parse(answerText, defaultOffsetMinutes: offsetMinutes) else { return .failure(.badTime) }
            answered = a
        }
        guard let billsec = seconds(f[13]), seconds(f[12]) != nil else { return .failure(.badDuration) }
        let outcome: CallRecord.Outcome
        switch f[14].trimmedSpaces.uppercased() {
        case "ANSWERED": outcome = .answered
        case "NO ANSWER": outcome = .noAnswer
        case "BUSY": outcome = .busy
        case "FAILED", "CONGESTION": outcome = .failed
        default: return .failure(.badOutcome)
        }
        if outcome != .answered { answered = nil }
        return .success(
            CallRecord(
                feed: "asterisk", callID: f.count > 16 ? f[16].trimmedSpaces : "", account: account, caller: src, dialled: dst,
                start: start, answered: answered, billedSeconds: outcome == .answered ? billsec : 0, outcome: outcome))
    }

    /// `SIP/alice-0000002a` → `SIP/alice`: the peer a channel belongs to.
    static func peer(ofChannel channel: String) -> String {
        let c = channel.trimmedSpaces
        guard let dash = c.lastIndex(of: "-") else { return c }
        return String(c[..<dash])
    }
}

/// A carrier's own CSV of calls: a header line naming the columns, and which column holds what.
/// Times are read as ISO 8601, `YYYY-MM-DD HH:MM:SS` (at `offsetMinutes` when they carry no
/// zone) or Unix seconds; the outcome's values are mapped (anything answered with a duration is
/// answered when no outcome column is named).
public struct CDRMapping: Sendable, Hashable {
    public struct Columns: Sendable, Hashable {
        public var account: String
        public var caller: String?
        public var dialled: String
        public var start: String
        /// Seconds talked (billed). With ``answer`` missing, a call with a duration > 0 was answered.
        public var duration: String
        public var answer: String?
        public var outcome: String?
        public var callID: String?

        public init(
            account: String, caller: String? = nil, dialled: String, start: String, duration: String, answer: String? = nil,
            outcome: String? = nil, callID: String? = nil
        ) {
            self.account = account
            self.caller = caller
            self.dialled = dialled
            self.start = start
            self.duration = duration
            self.answer = answer
            self.outcome = outcome
            self.callID = callID
        }

        var all: [String] { [account, dialled, start, duration] + [caller, answer, outcome, callID].compactMap { $0 } }
    }

    /// The feed's name (metrics, findings' evidence).
    public var name: String
    public var columns: Columns
    public var offsetMinutes: Int
    /// Lower-cased values of the outcome column and what they mean (the defaults know
    /// `answered`, `no answer`, `busy`, `failed`, SIP codes `200`, `486`, `487` …).
    public var outcomes: [String: CallRecord.Outcome]

    public static let defaultOutcomes: [String: CallRecord.Outcome] = [
        "answered": .answered, "answer": .answered, "ok": .answered, "200": .answered, "no answer": .noAnswer,
        "no_answer": .noAnswer, "noanswer": .noAnswer, "cancel": .noAnswer, "487": .noAnswer, "480": .noAnswer, "408": .noAnswer,
        "busy": .busy, "486": .busy, "600": .busy, "failed": .failed, "congestion": .failed, "rejected": .failed,
    ]

    public init(name: String, columns: Columns, offsetMinutes: Int = 0, outcomes: [String: CallRecord.Outcome] = Self.defaultOutcomes) {
        self.name = name
        self.columns = columns
        self.offsetMinutes = offsetMinutes
        self.outcomes = outcomes
    }

    /// The positions of the mapped columns in `header`, or the columns it lacks.
    public func positions(in header: [String]) -> Result<[String: Int], MissingColumns> {
        var index: [String: Int] = [:]
        for (i, h) in header.enumerated() { index[h.trimmedSpaces.lowercased()] = index[h.trimmedSpaces.lowercased()] ?? i }
        var found: [String: Int] = [:]
        var missing: [String] = []
        for c in columns.all {
            if let i = index[c.lowercased()] { found[c] = i } else { missing.append(c) }
        }
        return missing.isEmpty ? .success(found) : .failure(MissingColumns(names: missing))
    }

    public struct MissingColumns: Error, Sendable, Hashable, CustomStringConvertible {
        public var names: [String]
        public var description: String { "the header has no column " + names.map { "\"\($0)\"" }.joined(separator: ", ") }
    }

    public func record(_ f: [String], positions p: [String: Int]) -> Result<CallRecord, CDRRejection> {
        func v(_ name: String?) -> String? {
            guard let name, let i = p[name] else { return nil }
            return i < f.count ? f[i].trimmedSpaces : nil
        }
        guard let accountText = v(columns.account), let dialled = v(columns.dialled), let startText = v(columns.start),
            let durationText = v(columns.duration)
        else { return .failure(.missingColumns) }
        let caller = v(columns.caller) ?? ""
        let account = accountText.isEmpty ? caller : accountText
        guard !account.isEmpty else { return .failure(.noAccount) }
        guard !dialled.isEmpty else { return .failure(.noDestination) }
        guard let start = TimeText.parse(startText, defaultOffsetMinutes: offsetMinutes) else { return .failure(.badTime) }
        guard let duration = seconds(durationText) else { return .failure(.badDuration) }
        var answered: Int64?
        if let a = v(columns.answer), !a.isEmpty {
            guard let t = TimeText.parse(a, defaultOffsetMinutes: offsetMinutes) else { return .failure(.badTime) }
            answered = t
        }
        let outcome: CallRecord.Outcome
        if let o = v(columns.outcome) {
            guard let mapped = outcomes[o.lowercased()] else { return .failure(.badOutcome) }
            outcome = mapped
        } else {
            outcome = duration > 0 || answered != nil ? .answered : .noAnswer
        }
        if outcome == .answered, answered == nil { answered = start }
        return .success(
            CallRecord(
                feed: name, callID: v(columns.callID) ?? "", account: account, caller: caller, dialled: dialled, start: start,
                answered: outcome == .answered ? answered : nil, billedSeconds: outcome == .answered ? duration : 0, outcome: outcome))
    }
}
