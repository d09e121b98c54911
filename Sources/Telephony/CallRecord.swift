import MamoriCore

/// One call as a softswitch or PBX recorded it (a CDR), before its numbers are read: the fields
/// every source has, whatever its format (Asterisk `Master.csv`, Kamailio `acc`, a carrier's
/// own CSV).
public struct CallRecord: Sendable, Hashable {
    /// How the call ended.
    public enum Outcome: String, Sendable, Hashable, Codable, CaseIterable {
        case answered
        case noAnswer = "no_answer"
        case busy
        /// Failed or refused before it was answered (a 4xx–6xx final response, CONGESTION).
        case failed
    }

    /// The source it came from: `asterisk`, `kamailio`, or a mapping's name.
    public var feed: String
    /// The call's identifier in its source (Asterisk's uniqueid, SIP Call-ID); empty if it has none.
    public var callID: String
    /// The line or account billed for the call (Asterisk's accountcode, the SIP From user).
    public var account: String
    /// The calling number as recorded.
    public var caller: String
    /// The number dialled, as recorded (not yet normalised).
    public var dialled: String
    /// When the call was placed, milliseconds since 1970 (UTC).
    public var start: Int64
    /// When it was answered, if it was.
    public var answered: Int64?
    /// Seconds it was up after the answer (billed time).
    public var billedSeconds: Int
    public var outcome: Outcome
    /// The softswitch refused the call on one of Mamori's block rules (Kamailio's screening):
    /// an attempt to a blocked destination, which tells whether the fraud goes on.
    public var refusedByBlock = false
    /// Answered and still up: the softswitch said so when the call was answered (Kamailio's
    /// `ACC: transaction answered`), its record comes when it ends. ``billedSeconds`` is 0 and
    /// ``start`` the answer; the record that ends it has the same ``callID``.
    public var inProgress = false

    public init(
        feed: String, callID: String, account: String, caller: String, dialled: String, start: Int64, answered: Int64?,
        billedSeconds: Int, outcome: Outcome
    ) {
        self.feed = feed
        self.callID = callID
        self.account = account
        self.caller = caller
        self.dialled = dialled
        self.start = start
        self.answered = answered
        self.billedSeconds = billedSeconds
        self.outcome = outcome
    }

    /// When the call ended (the answer plus the billed time, or the start if never answered).
    public var end: Int64 { (answered ?? start) + Int64(billedSeconds) * 1000 }
}

/// Why a CDR line was not taken. The raw value is the metric label and what the API reports.
public enum CDRRejection: String, Error, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Not a readable CSV record (a stray quote, a field too long …) or not a `key=value` line.
    case malformed
    /// Fewer columns than the format needs.
    case missingColumns = "missing_columns"
    /// No account, and no caller to stand for it.
    case noAccount = "no_account"
    /// No number dialled.
    case noDestination = "no_destination"
    /// A time that cannot be read.
    case badTime = "bad_time"
    /// A duration that is not a whole, non-negative number of seconds (or absurdly long).
    case badDuration = "bad_duration"
    /// A disposition or status the format does not define.
    case badOutcome = "bad_outcome"
    /// Later than the reader's clock allows (a source whose clock runs ahead).
    case future
    /// A line of the accounting log that is not a call record (a REGISTER, a log line).
    case notACall = "not_a_call"

    public var description: String {
        switch self {
        case .malformed: "not a readable record"
        case .missingColumns: "fewer columns than the format has"
        case .noAccount: "no account or caller"
        case .noDestination: "no number dialled"
        case .badTime: "a time that cannot be read"
        case .badDuration: "a duration that is not a whole number of seconds from 0 to 1 day"
        case .badOutcome: "a disposition the format does not define"
        case .future: "a call later than the clock allows (the source's clock runs ahead?)"
        case .notACall: "not a call record"
        }
    }
}

/// A record read, or why a line was refused, with the line it came from (1-based).
public struct CDRLine: Sendable, Hashable {
    public var line: Int
    public var result: Result<CallRecord, CDRRejection>

    public init(line: Int, result: Result<CallRecord, CDRRejection>) {
        self.line = line
        self.result = result
    }
}

/// The longest call taken as real (a day): anything longer is a broken record.
let maximumCallSeconds = 86_400

/// A whole number of seconds from 0 to a day; Kamailio writes `12.345`, so a fraction is rounded.
func seconds(_ text: String) -> Int? {
    let t = text.trimmedSpaces
    if let n = Int(t) { return (0...maximumCallSeconds).contains(n) ? n : nil }
    guard let d = Double(t), d.isFinite, d >= 0, d <= Double(maximumCallSeconds) else { return nil }
    return Int(d.rounded())
}
