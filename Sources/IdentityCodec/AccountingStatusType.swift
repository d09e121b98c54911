/// Acct-Status-Type values (RFC 2866 §5.1).
public enum AccountingStatusType: UInt32, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case start = 1
    case stop = 2
    case interimUpdate = 3
    /// The NAS (re)started: every session it had is gone; sent before its first Start.
    case accountingOn = 7
    /// The NAS is about to stop: every session it has ends.
    case accountingOff = 8

    /// The FreeRADIUS dictionary name (`Start`, `Interim-Update`, `Accounting-On` …).
    public var description: String {
        switch self {
        case .start: return "Start"
        case .stop: return "Stop"
        case .interimUpdate: return "Interim-Update"
        case .accountingOn: return "Accounting-On"
        case .accountingOff: return "Accounting-Off"
        }
    }

    public init?(name: some StringProtocol) {
        guard let s = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = s
    }
}
