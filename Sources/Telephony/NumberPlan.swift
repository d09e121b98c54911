// NumberPlan.swift
//
// E.164 numbers, normalisation of dialled strings, and a longest-prefix number plan
// loaded from TSV tables (see e164-prefixes.tsv and SOURCES.md).
//
// Foundation only. Every public type is Sendable and immutable once built, so a plan can
// be shared freely between tasks.

import Foundation

// MARK: - E164Number

/// An international number in E.164 form: 1 to 15 digits, the first one 1-9, no "+".
///
/// The digits are packed into a single `UInt64` (4 bits a digit, the count in the top
/// 4 bits), so the value is trivially copyable, hashes cheaply and needs no allocation.
public struct E164Number: Hashable, Sendable, CustomStringConvertible {
    public static let maxDigits = 15

    /// Digit `i` (0 = first) sits in bits `4i ..< 4i+4`; the digit count in bits 60..<64.
    @usableFromInline let packed: UInt64

    @inlinable init(packed: UInt64) { self.packed = packed }

    /// Creates a number from 1-15 ASCII digits whose first digit is 1-9; `nil` otherwise.
    public init?(digits: some StringProtocol) {
        var p: UInt64 = 0
        var n: UInt64 = 0
        for b in digits.utf8 {
            guard b >= 0x30, b <= 0x39, n < UInt64(Self.maxDigits) else { return nil }
            if n == 0, b == 0x30 { return nil }
            p |= UInt64(b &- 0x30) << (4 &* n)
            n &+= 1
        }
        guard n > 0 else { return nil }
        packed = p | (n << 60)
    }

    /// Validating constructor that says why a digit string is not an E.164 number.
    public static func parse(_ digits: some StringProtocol) -> Result<E164Number, NumberError> {
        var count = 0
        for (offset, ch) in digits.enumerated() {
            guard ch.isASCII, ch.isNumber else {
                return .failure(.invalidCharacter(ch, offset: offset))
            }
            count += 1
        }
        if count == 0 { return .failure(.empty) }
        if count > maxDigits { return .failure(.tooLong(digits: count)) }
        if digits.utf8.first == UInt8(ascii: "0") { return .failure(.leadingZeroCountryCode) }
        return .success(E164Number(digits: digits)!)
    }

    /// Builds a number from digit values (0-9); the caller guarantees 1...15 digits and a
    /// non-zero first digit.
    @usableFromInline
    static func fromDigitValues<C: Collection>(_ values: C) -> E164Number where C.Element == UInt8 {
        var p: UInt64 = 0
        var n: UInt64 = 0
        for v in values {
            p |= UInt64(v) << (4 &* n)
            n &+= 1
        }
        return E164Number(packed: p | (n << 60))
    }

    /// Number of digits, 1...15.
    @inlinable public var digitCount: Int { Int(truncatingIfNeeded: packed >> 60) }

    /// The digit at position `i` (0 = first), 0-9. `i` must be below `digitCount`.
    @inlinable public func digit(at i: Int) -> Int {
        Int(truncatingIfNeeded: (packed >> (4 &* UInt64(truncatingIfNeeded: i))) & 0xF)
    }

    /// The digits as a string, without "+".
    public var digits: String {
        let n = digitCount
        return String(unsafeUninitializedCapacity: n) { buffer in
            var p = packed
            for i in 0..<n {
                buffer[i] = UInt8(truncatingIfNeeded: 0x30 &+ (p & 0xF))
                p >>= 4
            }
            return n
        }
    }

    /// "+<digits>".
    public var description: String { "+" + digits }

    /// The first `k` digits (clamped to 1...digitCount) as a number. Allocation-free, so it
    /// is a cheap dictionary key for "numbers in the same range".
    @inlinable public func leading(_ k: Int) -> E164Number {
        let n = digitCount
        let keep = UInt64(truncatingIfNeeded: Swift.max(1, Swift.min(k, n)))
        let mask: UInt64 = keep >= 15 ? (1 << 60) - 1 : (1 << (4 &* keep)) - 1
        return E164Number(packed: (packed & mask) | (keep << 60))
    }

    /// True if `other` is a leading part of (or equal to) this number.
    @inlinable public func hasPrefix(_ other: E164Number) -> Bool {
        let k = other.digitCount
        return k <= digitCount && leading(k) == other
    }
}

// MARK: - Errors and results of normalisation

/// Why a dialled string could not be turned into an E.164 number.
public enum NumberError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Nothing but whitespace, separators or a bare URI scheme.
    case empty
    /// The input is longer than `DialingRules.maxInputBytes`; it was not examined.
    case inputTooLong(bytes: Int)
    /// A character that is neither a digit, a leading "+", nor a visual separator
    /// (letters, "*", "#", pause characters ...). `offset` counts Unicode scalars from the
    /// start of the input.
    case invalidCharacter(Character, offset: Int)
    /// "+" somewhere other than at the start of the number.
    case misplacedPlus(offset: Int)
    /// A sip:/sips: URI without a user part ("sip:host").
    case missingUserPart
    /// The international form starts with 0 ("+0…", or "00 0…" after the exit code).
    case leadingZeroCountryCode
    /// Fewer digits than the rules' `minimumDigits` (country code included).
    case tooShort(digits: Int, minimum: Int)
    /// More than 15 digits (country code included).
    case tooLong(digits: Int)
    /// A national-format number that needs the trunk prefix: usually a local number dialled
    /// without its area code, which cannot be placed in the plan.
    case missingNationalPrefix(String)
    /// After the trunk prefix comes another 0: an exit or carrier code these rules do not
    /// know ("0044…" under Japanese rules, for instance).
    case invalidNationalNumber(String)
    /// A short code (emergency, service, directory …). Not malformed input, but not E.164
    /// either; only `DialingRules.normalise(_:)` reports it through this case. Use
    /// `DialingRules.classify(_:)` to get it as a first-class value.
    case shortCode(String)

    public var description: String {
        switch self {
        case .empty: return "empty number"
        case .inputTooLong(let bytes): return "input of \(bytes) bytes is longer than \(DialingRules.maxInputBytes)"
        case .invalidCharacter(let c, let offset):
            return "invalid character \(String(reflecting: String(c))) at offset \(offset)"
        case .misplacedPlus(let offset): return "'+' is only allowed at the start (found at offset \(offset))"
        case .missingUserPart: return "SIP URI has no user part"
        case .leadingZeroCountryCode: return "country code cannot start with 0"
        case .tooShort(let d, let m): return "too short: \(d) digits, at least \(m) needed"
        case .tooLong(let d): return "too long: \(d) digits, E.164 allows at most \(E164Number.maxDigits)"
        case .missingNationalPrefix(let s):
            return "national number \(s) lacks the trunk prefix (local number without area code?)"
        case .invalidNationalNumber(let s):
            return "national number \(s) starts with 0 after the trunk prefix (unknown exit or carrier code?)"
        case .shortCode(let s): return "short code \(s) is not an E.164 number"
        }
    }

    /// The short code, if this is `.shortCode`.
    public var shortCode: String? {
        if case .shortCode(let s) = self { return s }
        return nil
    }
}

/// What a dialled string turned out to be.
public enum DialledNumber: Sendable, Hashable, CustomStringConvertible {
    /// A full international number.
    case e164(E164Number)
    /// A short code such as 110, 112, 911, 999, 116123: not E.164. Callers that care about
    /// emergency numbers match these against their own list.
    case shortCode(String)
    /// Not a usable number.
    case invalid(NumberError)

    public var description: String {
        switch self {
        case .e164(let n): return n.description
        case .shortCode(let s): return "short code \(s)"
        case .invalid(let e): return "invalid: \(e)"
        }
    }
}

// MARK: - DialingRules

/// How subscribers of one network dial: the country they are in, their trunk (national)
/// prefix and their international exit codes.
public struct DialingRules: Sendable, Hashable {
    /// Inputs longer than this many UTF-8 bytes are rejected without being examined.
    public static let maxInputBytes = 256

    public enum ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
        case invalidCountryCode(String)
        case invalidPrefix(String)
        case invalidLimit(String)

        public var description: String {
            switch self {
            case .invalidCountryCode(let s): return "country code must be 1-3 digits not starting with 0: \(s)"
            case .invalidPrefix(let s): return "prefixes must be 1-8 ASCII digits: \(s)"
            case .invalidLimit(let s): return "invalid limit: \(s)"
            }
        }
    }

    /// E.164 country code, e.g. "81".
    public let countryCode: String
    /// Trunk prefix for national numbers, e.g. "0"; nil where there is none (Spain, Denmark …).
    public let nationalPrefix: String?
    /// International exit codes, e.g. ["010"] in Japan, ["00"] in most countries, ["011"] in NANP.
    public let internationalPrefixes: [String]
    /// Carrier-select / access codes stripped from the front when an exit code or the trunk
    /// prefix follows them (Japan "0033 010 …", for instance).
    public let carrierSelectPrefixes: [String]
    /// Lengths of national significant numbers that may be dialled without the trunk
    /// prefix (10...10 in NANP, where "212 555 0100" and "1 212 555 0100" are both national).
    public let nationalNumberLengths: ClosedRange<Int>?
    /// Digit strings of at most this length, dialled without "+" or an exit code, are short
    /// codes.
    public let shortCodeMaxDigits: Int
    /// International numbers with fewer digits than this (country code included) are
    /// rejected as too short.
    public let minimumDigits: Int

    // Digit values of the prefixes, longest first, for matching.
    let cc: [UInt8]
    let np: [UInt8]?
    let intl: [[UInt8]]
    let carriers: [[UInt8]]

    public init(
        countryCode: String,
        nationalPrefix: String?,
        internationalPrefixes: [String],
        carrierSelectPrefixes: [String] = [],
        nationalNumberLengths: ClosedRange<Int>? = nil,
        shortCodeMaxDigits: Int = 6,
        minimumDigits: Int = 7
    ) throws(ConfigError) {
        func digitValues(_ s: String, max: Int) -> [UInt8]? {
            let v = s.utf8.map { $0 &- 0x30 }
            guard !v.isEmpty, v.count <= max, v.allSatisfy({ $0 <= 9 }) else { return nil }
            return v
        }
        guard let ccv = digitValues(countryCode, max: 3), ccv[0] != 0 else {
            throw .invalidCountryCode(countryCode)
        }
        var npv: [UInt8]? = nil
        if let np = nationalPrefix {
            guard let v = digitValues(np, max: 8) else { throw .invalidPrefix(np) }
            npv = v
        }
        var intlv: [[UInt8]] = []
        for p in internationalPrefixes {
            guard let v = digitValues(p, max: 8) else { throw .invalidPrefix(p) }
            intlv.append(v)
        }
        var carv: [[UInt8]] = []
        for p in carrierSelectPrefixes {
            guard let v = digitValues(p, max: 8) else { throw .invalidPrefix(p) }
            carv.append(v)
        }
        guard (0...E164Number.maxDigits).contains(shortCodeMaxDigits) else {
            throw .invalidLimit("shortCodeMaxDigits \(shortCodeMaxDigits)")
        }
        guard (1...E164Number.maxDigits).contains(minimumDigits) else {
            throw .invalidLimit("minimumDigits \(minimumDigits)")
        }
        if let r = nationalNumberLengths, r.lowerBound < 1 || r.upperBound > E164Number.maxDigits {
            throw .invalidLimit("nationalNumberLengths \(r)")
        }
        self.countryCode = countryCode
        self.nationalPrefix = nationalPrefix
        self.internationalPrefixes = internationalPrefixes
        self.carrierSelectPrefixes = carrierSelectPrefixes
        self.nationalNumberLengths = nationalNumberLengths
        self.shortCodeMaxDigits = shortCodeMaxDigits
        self.minimumDigits = minimumDigits
        cc = ccv
        np = npv
        intl = intlv.sorted { $0.count > $1.count }
        carriers = carv.sorted { $0.count > $1.count }
    }

    /// Japan: trunk prefix 0, exit code 010.
    public static let japan = try! DialingRules(countryCode: "81", nationalPrefix: "0", internationalPrefixes: ["010"])
    /// United Kingdom: trunk prefix 0, exit code 00.
    public static let unitedKingdom = try! DialingRules(countryCode: "44", nationalPrefix: "0", internationalPrefixes: ["00"])
    /// NANP, seen from the United States: trunk prefix 1 (optional for 10-digit numbers), exit code 011.
    public static let northAmerica = try! DialingRules(
        countryCode: "1", nationalPrefix: "1", internationalPrefixes: ["011"], nationalNumberLengths: 10...10)

    /// Normalises a dialled string to E.164. Short codes come back as
    /// `.failure(.shortCode(...))`; use `classify(_:)` to get them as a separate result.
    public func normalise(_ dialled: String) -> Result<E164Number, NumberError> {
        switch classify(dialled) {
        case .e164(let n): return .success(n)
        case .shortCode(let s): return .failure(.shortCode(s))
        case .invalid(let e): return .failure(e)
        }
    }

    /// Classifies a dialled string: an E.164 number, a short code, or invalid.
    ///
    /// Accepted forms: "+44 20 7946 0000", "+44 (0)20 7946 0000", "0044 …" / "010 44 …"
    /// (exit codes of these rules), national "0312345678", NANP "212 555 0100",
    /// "tel:+81-3-1234-5678" (parameters after ";" are ignored), and "sip:"/"sips:" URIs
    /// whose user part is a number ("sip:+8131234@host;user=phone"). Visual separators
    /// (space, tab, no-break space, "-", ".", "(", ")", "/") are dropped.
    public func classify(_ dialled: String) -> DialledNumber {
        let byteCount = dialled.utf8.count
        if byteCount > Self.maxInputBytes { return .invalid(.inputTooLong(bytes: byteCount)) }

        let scalars = Array(dialled.unicodeScalars)
        var lo = 0
        var hi = scalars.count
        while lo < hi, scalars[lo].properties.isWhitespace { lo += 1 }
        while hi > lo, scalars[hi - 1].properties.isWhitespace { hi -= 1 }

        // URI forms.
        func hasScheme(_ scheme: StaticString) -> Bool { // ASCII, lower case
            let n = scheme.utf8CodeUnitCount
            guard hi - lo >= n else { return false }
            return scheme.withUTF8Buffer { s in
                for i in 0..<n {
                    var v = scalars[lo + i].value
                    if v >= 0x41, v <= 0x5A { v |= 0x20 }
                    if v != UInt32(s[i]) { return false }
                }
                return true
            }
        }
        func firstIndex(of c: Unicode.Scalar, from: Int, to: Int) -> Int? {
            var i = from
            while i < to {
                if scalars[i] == c { return i }
                i += 1
            }
            return nil
        }
        if hasScheme("tel:") {
            lo += 4
            hi = firstIndex(of: ";", from: lo, to: hi) ?? hi
        } else if hasScheme("sip:") || hasScheme("sips:") {
            lo += hasScheme("sips:") ? 5 : 4
            guard let at = firstIndex(of: "@", from: lo, to: hi) else { return .invalid(.missingUserPart) }
            hi = at
            hi = firstIndex(of: ";", from: lo, to: hi) ?? hi // user parameters
            hi = firstIndex(of: ":", from: lo, to: hi) ?? hi // password
        }

        // Scan: digits, one leading "+", separators; "(0)" after the first digits is
        // the "drop the trunk prefix when dialling from abroad" notation.
        var digits: [UInt8] = []
        digits.reserveCapacity(24)
        var plus = false
        var parenZeroAt: Int? = nil
        var i = lo
        while i < hi {
            let c = scalars[i]
            switch c {
            case "0"..."9":
                digits.append(UInt8(truncatingIfNeeded: c.value &- 0x30))
            case "+":
                guard digits.isEmpty, !plus else { return .invalid(.misplacedPlus(offset: i)) }
                plus = true
            case "("
            where !digits.isEmpty && parenZeroAt == nil && i + 2 < hi
                && scalars[i + 1] == "0" && scalars[i + 2] == ")":
                parenZeroAt = digits.count
                i += 3
                continue
            case " ", "\t", "\u{00A0}", "-", ".", "(", ")", "/":
                break
            default:
                return .invalid(.invalidCharacter(Character(c), offset: i))
            }
            i += 1
        }
        if digits.isEmpty { return .invalid(.empty) }

        if plus { return international(digits[...]) }

        var d = digits[...]
        for c in carriers where d.starts(with: c) {
            let rest = d.dropFirst(c.count)
            if intl.contains(where: { rest.starts(with: $0) }) || (np.map { rest.starts(with: $0) } ?? false) {
                d = rest
                break
            }
        }
        for p in intl where d.starts(with: p) {
            return international(d.dropFirst(p.count))
        }

        // National form: "(0)" means a real trunk-prefix digit here.
        if let at = parenZeroAt {
            var withZero = Array(d)
            let pos = at - (digits.count - d.count)
            if pos >= 0, pos <= withZero.count { withZero.insert(0, at: pos) }
            d = withZero[...]
        }
        if d.count <= shortCodeMaxDigits {
            return .shortCode(String(decoding: d.map { $0 &+ 0x30 }, as: UTF8.self))
        }
        let nsn: ArraySlice<UInt8>
        if let np, d.starts(with: np) {
            nsn = d.dropFirst(np.count)
            if nsn.first == 0 {
                return .invalid(.invalidNationalNumber(String(decoding: d.map { $0 &+ 0x30 }, as: UTF8.self)))
            }
        } else if let lengths = nationalNumberLengths, lengths.contains(d.count) {
            nsn = d
        } else if np == nil {
            nsn = d
        } else {
            return .invalid(.missingNationalPrefix(String(decoding: d.map { $0 &+ 0x30 }, as: UTF8.self)))
        }
        return international((cc + nsn)[...])
    }

    private func international(_ d: ArraySlice<UInt8>) -> DialledNumber {
        if d.count > E164Number.maxDigits { return .invalid(.tooLong(digits: d.count)) }
        if d.first == 0 { return .invalid(.leadingZeroCountryCode) }
        if d.count < minimumDigits { return .invalid(.tooShort(digits: d.count, minimum: minimumDigits)) }
        return .e164(E164Number.fromDigitValues(d))
    }
}

// MARK: - Destinations

/// Category of a prefix-table row.
public enum DestinationCategory: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case geographic
    case mobile
    case satellite
    case internationalNetwork = "international-network"
    case premium
    case sharedCost = "shared-cost"
    case freephone
    case reserved
    /// For carrier tables: a range the carrier rates as expensive, whatever its kind.
    case highCost = "high-cost"

    /// Satellite, international networks, premium rate and carrier "high-cost" rows.
    public var isHighCost: Bool {
        switch self {
        case .satellite, .internationalNetwork, .premium, .highCost: return true
        case .geographic, .mobile, .sharedCost, .freephone, .reserved: return false
        }
    }

    public var description: String { rawValue }
}

/// One row of the plan: what a prefix is.
public struct Destination: Sendable, Hashable, CustomStringConvertible {
    /// E.164 digits of the prefix, no "+".
    public let prefix: String
    /// ISO 3166-1 alpha-2 code, or a pseudo code for non-geographic services (see the TSV header).
    public let country: String
    public let name: String
    public let category: DestinationCategory
    public let note: String
    /// Name of the table the row came from (for audit: shipped table or a carrier file).
    public let source: String

    public init(
        prefix: String, country: String, name: String, category: DestinationCategory,
        note: String = "", source: String = ""
    ) {
        self.prefix = prefix
        self.country = country
        self.name = name
        self.category = category
        self.note = note
        self.source = source
    }

    public var isHighCost: Bool { category.isHighCost }

    public var description: String { "+\(prefix) \(country) \(name) [\(category)]" }
}

/// A problem found while reading a table.
public struct PlanIssue: Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable {
        /// The line was skipped.
        case error
        /// The line was used, but deserves a look (a duplicate prefix within one table).
        case warning
    }
    public let severity: Severity
    /// Table name as given to the loader.
    public let source: String
    /// 1-based line number.
    public let line: Int
    public let message: String

    public var description: String { "\(source):\(line): \(severity.rawValue): \(message)" }
}

// MARK: - NumberPlan

/// A longest-prefix-match table of destinations, built from one or more TSV tables.
/// Rows of later tables replace rows of earlier tables with the same prefix, so carrier
/// extensions go after the shipped table.
public struct NumberPlan: Sendable {
    public struct Limits: Sendable, Hashable {
        /// Rows accepted over all tables; further lines are ignored (and reported once).
        public var maxRows: Int
        /// Longer lines are reported and skipped.
        public var maxLineBytes: Int
        public init(maxRows: Int = 100_000, maxLineBytes: Int = 4_096) {
            self.maxRows = maxRows
            self.maxLineBytes = maxLineBytes
        }
    }

    public struct LoadReport: Sendable, Hashable {
        /// Rows read without error, over all tables.
        public var rowsAccepted = 0
        /// Rows that replaced an earlier row with the same prefix.
        public var rowsReplaced = 0
        public var issues: [PlanIssue] = []
        public var errors: [PlanIssue] { issues.filter { $0.severity == .error } }
    }

    /// All rows in effect, sorted by prefix.
    public let destinations: [Destination]
    /// What happened while loading.
    public let report: LoadReport

    // Trie over digits: children[node * 10 + digit] is the child node (0 = none; the root
    // is node 0 and never a child); terminal[node] indexes `destinations` or is -1.
    @usableFromInline let children: [Int32]
    @usableFromInline let terminal: [Int32]
    // destinations[i].category, kept apart so category checks need no reference counting.
    @usableFromInline let categories: [DestinationCategory]

    /// Builds a plan from tables given in order of precedence (later wins).
    public init(tables: [(name: String, text: String)], limits: Limits = Limits()) {
        var report = LoadReport()
        var merged: [String: Destination] = [:]
        var budget = limits.maxRows
        for table in tables {
            let (rows, issues) = NumberPlan.parse(
                table.text, source: table.name,
                limits: Limits(maxRows: budget, maxLineBytes: limits.maxLineBytes))
            report.issues += issues
            report.rowsAccepted += rows.count
            budget -= rows.count
            for row in rows {
                if merged.updateValue(row, forKey: row.prefix) != nil { report.rowsReplaced += 1 }
            }
        }
        self.init(rows: merged.values, report: report)
    }

    /// Builds a plan from one table.
    public init(tsv: String, name: String = "table", limits: Limits = Limits()) {
        self.init(tables: [(name: name, text: tsv)], limits: limits)
    }

    /// Builds a plan from rows (for a later row with the same prefix, the later one wins).
    public init(destinations: [Destination]) {
        var merged: [String: Destination] = [:]
        var report = LoadReport()
        for row in destinations {
            guard E164Number(digits: row.prefix) != nil else {
                report.issues.append(
                    PlanIssue(
                        severity: .error, source: row.source, line: 0,
                        message: "invalid prefix \(String(reflecting: row.prefix))"))
                continue
            }
            report.rowsAccepted += 1
            if merged.updateValue(row, forKey: row.prefix) != nil { report.rowsReplaced += 1 }
        }
        self.init(rows: merged.values, report: report)
    }

    private init(rows: some Collection<Destination>, report: LoadReport) {
        let sorted = rows.sorted { $0.prefix < $1.prefix }
        var children = [Int32](repeating: 0, count: 10)
        var terminal: [Int32] = [-1]
        for (index, row) in sorted.enumerated() {
            var node = 0
            for b in row.prefix.utf8 {
                let slot = node * 10 + Int(b &- 0x30)
                var next = Int(children[slot])
                if next == 0 {
                    next = terminal.count
                    children[slot] = Int32(next)
                    children.append(contentsOf: repeatElement(0, count: 10))
                    terminal.append(-1)
                }
                node = next
            }
            terminal[node] = Int32(index)
        }
        self.destinations = sorted
        self.report = report
        self.children = children
        self.terminal = terminal
        self.categories = sorted.map(\.category)
    }

    /// Number of rows in effect.
    public var count: Int { destinations.count }

    /// Index into `destinations` of the longest prefix of `n`, or nil. Allocation-free.
    @inlinable
    public func lookupIndex(_ n: E164Number) -> Int? {
        var best: Int32 = -1
        children.withUnsafeBufferPointer { ch in
            terminal.withUnsafeBufferPointer { term in
                var node = 0
                var p = n.packed
                for _ in 0..<n.digitCount {
                    let next = ch[node &* 10 &+ Int(truncatingIfNeeded: p & 0xF)]
                    if next == 0 { break }
                    node = Int(truncatingIfNeeded: next)
                    let t = term[node]
                    if t >= 0 { best = t }
                    p >>= 4
                }
            }
        }
        return best >= 0 ? Int(truncatingIfNeeded: best) : nil
    }

    /// The row for the longest prefix of `n`, or nil if no row matches.
    @inlinable
    public func lookup(_ n: E164Number) -> Destination? {
        guard let i = lookupIndex(n) else { return nil }
        return destinations[i]
    }

    /// Category of the longest matching row, or nil. Allocation- and refcount-free.
    @inlinable
    public func category(of n: E164Number) -> DestinationCategory? {
        guard let i = lookupIndex(n) else { return nil }
        return categories[i]
    }

    /// True if the longest matching row is high-cost (satellite, international network,
    /// premium, or a carrier "high-cost" row).
    @inlinable
    public func isHighCost(_ n: E164Number) -> Bool {
        category(of: n)?.isHighCost ?? false
    }

    // MARK: Ranges

    /// How to cut a number down to the range it belongs to.
    public enum RangeGranularity: Sendable, Hashable {
        /// The first N digits.
        case leadingDigits(Int)
        /// The matched table prefix plus N more digits (just the first N digits when no
        /// row matches), so ranges follow the plan's structure.
        case prefixPlus(Int)
        /// The number without its last N digits: the block of 10^N consecutive numbers it
        /// sits in. Premium/IRSF ranges are leased in such blocks, so `.block(droppingLast: 3)`
        /// or `4` is a sound key for "many different numbers in one range".
        case block(droppingLast: Int)
    }

    /// The number's range as its first `digits` digits (clamped to the number's length).
    public func range(of n: E164Number, digits: Int) -> String {
        n.leading(digits).digits
    }

    /// The number's range at the given granularity, as digits.
    public func range(of n: E164Number, _ granularity: RangeGranularity) -> String {
        rangeKey(of: n, granularity).digits
    }

    /// Allocation-free form of `range(of:_:)`: the range as a (shorter) E164Number,
    /// usable as a dictionary key.
    @inlinable
    public func rangeKey(of n: E164Number, _ granularity: RangeGranularity) -> E164Number {
        switch granularity {
        case .leadingDigits(let k):
            return n.leading(k)
        case .prefixPlus(let k):
            let base = lookupIndex(n).map { destinations[$0].prefix.utf8.count } ?? 0
            return n.leading(base + k)
        case .block(let k):
            return n.leading(n.digitCount - k)
        }
    }

    // MARK: Parsing

    /// Parses one TSV table. Columns: prefix, country, name, category[, note], separated by
    /// tabs. Blank lines and lines starting with "#" are ignored; a line whose first field is
    /// "prefix" is taken as a header. Bad lines are reported with their line numbers and
    /// skipped; good lines are kept.
    public static func parse(_ text: String, source: String, limits: Limits = Limits())
        -> (rows: [Destination], issues: [PlanIssue])
    {
        var rows: [Destination] = []
        var issues: [PlanIssue] = []
        var seen: [String: Int] = [:]
        func fail(_ line: Int, _ message: String) {
            issues.append(PlanIssue(severity: .error, source: source, line: line, message: message))
        }
        var lineNumber = 0
        // Split on LF bytes: a Character-wise split would not see "\r\n" (one grapheme) as "\n".
        for rawBytes in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            var bytes = rawBytes
            if bytes.last == UInt8(ascii: "\r") { bytes = bytes.dropLast() }
            var line = Substring(bytes)
            if lineNumber == 1, line.first == "\u{FEFF}" { line = line.dropFirst() }
            if bytes.count > limits.maxLineBytes {
                fail(lineNumber, "line longer than \(limits.maxLineBytes) bytes")
                continue
            }
            let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
            if trimmed.isEmpty || trimmed.first == "#" { continue }

            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            if fields[0].lowercased() == "prefix" { continue }
            guard fields.count == 4 || fields.count == 5 else {
                fail(lineNumber, "expected 4 or 5 tab-separated fields (prefix, country, name, category, note), found \(fields.count)")
                continue
            }
            if rows.count >= limits.maxRows {
                fail(lineNumber, "row limit of \(limits.maxRows) reached; this and later lines ignored")
                break
            }
            let prefix = fields[0]
            guard !prefix.isEmpty, prefix.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                fail(lineNumber, "prefix \(String(reflecting: prefix)) is not all digits")
                continue
            }
            guard prefix.utf8.count <= E164Number.maxDigits else {
                fail(lineNumber, "prefix \(prefix) has \(prefix.utf8.count) digits, at most \(E164Number.maxDigits) allowed")
                continue
            }
            guard prefix.utf8.first != UInt8(ascii: "0") else {
                fail(lineNumber, "prefix \(prefix) starts with 0; E.164 country codes start with 1-9")
                continue
            }
            let country = fields[1]
            guard country.utf8.count == 2, country.utf8.allSatisfy({ $0 >= 0x41 && $0 <= 0x5A }) else {
                fail(lineNumber, "country \(String(reflecting: country)) is not two upper-case letters")
                continue
            }
            let name = fields[2]
            guard !name.isEmpty else {
                fail(lineNumber, "name is empty")
                continue
            }
            guard let category = DestinationCategory(rawValue: fields[3]) else {
                let allowed = DestinationCategory.allCases.map(\.rawValue).joined(separator: ", ")
                fail(lineNumber, "unknown category \(String(reflecting: fields[3])); expected one of: \(allowed)")
                continue
            }
            if let earlier = seen[prefix] {
                issues.append(
                    PlanIssue(
                        severity: .warning, source: source, line: lineNumber,
                        message: "prefix \(prefix) also on line \(earlier); this row replaces it"))
            }
            seen[prefix] = lineNumber
            rows.append(
                Destination(
                    prefix: prefix, country: country, name: name, category: category,
                    note: fields.count == 5 ? fields[4] : "", source: source))
        }
        return (rows, issues)
    }
}
