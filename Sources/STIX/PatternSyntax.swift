// The STIX 2.1 patterning language (STIX 2.1 §9, and the ANTLR grammar STIXPattern.g4 of
// oasis-open/cti-stix2-json-schemas' pattern_grammar): tokens, the syntax tree, and a
// recursive-descent parser bounded in length, nesting and terms, since patterns come from peers.

/// One comparison's object path: `network-traffic:dst_ref.value`, `file:hashes.'SHA-256'`,
/// `network-traffic:protocols[*]`.
struct PatternPath: Hashable, Sendable, CustomStringConvertible {
    enum Component: Hashable, Sendable {
        case property(String)
        case index(Int64)
        case any
    }
    var objectType: String
    var components: [Component]

    /// `dst_ref.value`, `protocols[*]`: the path after the object type, as written without quotes.
    var property: String {
        var out = ""
        for c in components {
            switch c {
            case .property(let p): out += out.isEmpty ? p : ".\(p)"
            case .index(let i): out += "[\(i)]"
            case .any: out += "[*]"
            }
        }
        return out
    }

    var description: String { "\(objectType):\(property)" }
}

enum PatternLiteral: Hashable, Sendable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case bool(Bool)
    case hex(String)
    case binary(String)
    case timestamp(String)
}

enum PatternOperator: String, Hashable, Sendable {
    case equal = "="
    case notEqual = "!="
    case less = "<"
    case lessOrEqual = "<="
    case greater = ">"
    case greaterOrEqual = ">="
    case `in` = "IN"
    case like = "LIKE"
    case matches = "MATCHES"
    case isSubset = "ISSUBSET"
    case isSuperset = "ISSUPERSET"
    case exists = "EXISTS"
}

struct PatternComparison: Hashable, Sendable {
    var path: PatternPath
    var negated: Bool
    var op: PatternOperator
    /// One literal; several for `IN`; none for `EXISTS`.
    var values: [PatternLiteral]
}

indirect enum ComparisonExpression: Hashable, Sendable {
    case comparison(PatternComparison)
    case and(ComparisonExpression, ComparisonExpression)
    case or(ComparisonExpression, ComparisonExpression)
}

enum PatternQualifier: Hashable, Sendable {
    case within(Double)
    case repeats(Int64)
    case startStop(String, String)

    var name: String {
        switch self {
        case .within: "WITHIN"
        case .repeats: "REPEATS"
        case .startStop: "START/STOP"
        }
    }
}

indirect enum ObservationExpression: Hashable, Sendable {
    case observation(ComparisonExpression)
    case and(ObservationExpression, ObservationExpression)
    case or(ObservationExpression, ObservationExpression)
    case followedBy(ObservationExpression, ObservationExpression)
    case qualified(ObservationExpression, PatternQualifier)
}

enum PatternToken: Hashable, Sendable {
    case leftBracket, rightBracket, leftParen, rightParen, comma, colon, dot, star
    case comparator(PatternOperator)
    /// An identifier or keyword, as written.
    case word(String)
    case literal(PatternLiteral)
    case end

    var keyword: String? {
        if case .word(let w) = self { return w.uppercased() }
        return nil
    }
}

struct PatternLexer {
    let bytes: [UInt8]
    var index = 0

    init(_ text: String) { bytes = Array(text.utf8) }

    func error(_ what: String) -> STIXError { STIXError(.patternSyntax, "\(what) at byte \(index)") }

    static func isWordByte(_ c: UInt8) -> Bool {
        (0x61...0x7A).contains(c) || (0x41...0x5A).contains(c) || (0x30...0x39).contains(c) || c == 0x5F || c == 0x2D
    }

    /// A quoted literal's content: `\'` and `\\` are the only escapes.
    mutating func quoted() throws(STIXError) -> String {
        index += 1
        var out: [UInt8] = []
        while true {
            guard index < bytes.count else { throw error("unterminated string literal") }
            let c = bytes[index]
            if c == UInt8(ascii: "'") {
                index += 1
                break
            }
            if c == UInt8(ascii: "\\") {
                guard index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "'") || bytes[index + 1] == UInt8(ascii: "\\") else {
                    throw error("unknown escape in a string literal")
                }
                out.append(bytes[index + 1])
                index += 2
                continue
            }
            out.append(c)
            index += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    mutating func next() throws(STIXError) -> PatternToken {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 || bytes[index] == 0x0A || bytes[index] == 0x0D {
            index += 1
        }
        guard index < bytes.count else { return .end }
        let c = bytes[index]
        let next: UInt8? = index + 1 < bytes.count ? bytes[index + 1] : nil
        switch c {
        case UInt8(ascii: "["):
            index += 1
            return .leftBracket
        case UInt8(ascii: "]"):
            index += 1
            return .rightBracket
        case UInt8(ascii: "("):
            index += 1
            return .leftParen
        case UInt8(ascii: ")"):
            index += 1
            return .rightParen
        case UInt8(ascii: ","):
            index += 1
            return .comma
        case UInt8(ascii: ":"):
            index += 1
            return .colon
        case UInt8(ascii: "*"):
            index += 1
            return .star
        case UInt8(ascii: "="):
            index += next == UInt8(ascii: "=") ? 2 : 1
            return .comparator(.equal)
        case UInt8(ascii: "!"):
            guard next == UInt8(ascii: "=") else { throw error("'!' without '='") }
            index += 2
            return .comparator(.notEqual)
        case UInt8(ascii: "<"):
            if next == UInt8(ascii: "=") {
                index += 2
                return .comparator(.lessOrEqual)
            }
            if next == UInt8(ascii: ">") {
                index += 2
                return .comparator(.notEqual)
            }
            index += 1
            return .comparator(.less)
        case UInt8(ascii: ">"):
            if next == UInt8(ascii: "=") {
                index += 2
                return .comparator(.greaterOrEqual)
            }
            index += 1
            return .comparator(.greater)
        case UInt8(ascii: "'"):
            return .literal(.string(try quoted()))
        case UInt8(ascii: "."):
            if let n = next, (0x30...0x39).contains(n) { return try number() }
            index += 1
            return .dot
        case UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try number()
        default:
            if next == UInt8(ascii: "'"), c == UInt8(ascii: "h") || c == UInt8(ascii: "b") || c == UInt8(ascii: "t") {
                index += 1
                let content = try quoted()
                switch c {
                case UInt8(ascii: "h"): return .literal(.hex(content))
                case UInt8(ascii: "b"): return .literal(.binary(content))
                default:
                    guard STIXTimestamp.parse(content) != nil else { throw error("bad timestamp literal") }
                    return .literal(.timestamp(content))
                }
            }
            guard (0x61...0x7A).contains(c) || (0x41...0x5A).contains(c) || c == 0x5F else {
                throw error("unexpected character")
            }
            let start = index
            while index < bytes.count, Self.isWordByte(bytes[index]) { index += 1 }
            let word = String(decoding: bytes[start..<index], as: UTF8.self)
            switch word.lowercased() {
            case "true": return .literal(.bool(true))
            case "false": return .literal(.bool(false))
            default: return .word(word)
            }
        }
    }

    mutating func number() throws(STIXError) -> PatternToken {
        let start = index
        if bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") { index += 1 }
        var digits = 0
        var fraction = false
        while index < bytes.count {
            let c = bytes[index]
            if (0x30...0x39).contains(c) {
                digits += 1
            } else if c == UInt8(ascii: "."), !fraction {
                fraction = true
            } else {
                break
            }
            index += 1
        }
        guard digits > 0, digits <= 40 else { throw error("bad number") }
        var text = String(decoding: bytes[start..<index], as: UTF8.self)
        if text.hasPrefix("+") { text.removeFirst() }
        if fraction {
            guard let d = Double(text), d.isFinite else { throw error("bad number") }
            return .literal(.float(d))
        }
        guard let i = Int64(text) else { throw error("integer out of range") }
        return .literal(.integer(i))
    }
}

/// Parses a pattern into its syntax tree, within ``STIXPattern/Limits``.
struct PatternParser {
    var lexer: PatternLexer
    var token: PatternToken = .end
    let limits: STIXPattern.Limits
    var depth = 0
    var comparisons = 0

    init(_ text: String, limits: STIXPattern.Limits) throws(STIXError) {
        guard text.utf8.count <= limits.maximumLength else {
            throw STIXError(.limitExceeded, "a pattern of \(text.utf8.count) bytes (at most \(limits.maximumLength))")
        }
        lexer = PatternLexer(text)
        self.limits = limits
        token = try lexer.next()
    }

    func error(_ what: String) -> STIXError { lexer.error(what) }

    mutating func advance() throws(STIXError) { token = try lexer.next() }

    mutating func expect(_ t: PatternToken, _ what: String) throws(STIXError) {
        guard token == t else { throw error("\(what) expected") }
        try advance()
    }

    mutating func enter() throws(STIXError) {
        depth += 1
        guard depth <= limits.maximumDepth else { throw STIXError(.limitExceeded, "a pattern nested deeper than \(limits.maximumDepth)") }
    }

    mutating func parse() throws(STIXError) -> ObservationExpression {
        let e = try followedBy()
        guard token == .end else { throw error("end of pattern expected") }
        return e
    }

    mutating func followedBy() throws(STIXError) -> ObservationExpression {
        var e = try observationOr()
        while token.keyword == "FOLLOWEDBY" {
            try advance()
            e = .followedBy(e, try observationOr())
        }
        return e
    }

    mutating func observationOr() throws(STIXError) -> ObservationExpression {
        var e = try observationAnd()
        while token.keyword == "OR" {
            try advance()
            e = .or(e, try observationAnd())
        }
        return e
    }

    mutating func observationAnd() throws(STIXError) -> ObservationExpression {
        var e = try qualifiedObservation()
        while token.keyword == "AND" {
            try advance()
            e = .and(e, try qualifiedObservation())
        }
        return e
    }

    mutating func qualifiedObservation() throws(STIXError) -> ObservationExpression {
        try enter()
        defer { depth -= 1 }
        var e: ObservationExpression
        switch token {
        case .leftBracket:
            try advance()
            e = .observation(try comparisonOr())
            try expect(.rightBracket, "']'")
        case .leftParen:
            try advance()
            e = try followedBy()
            try expect(.rightParen, "')'")
        default:
            throw error("'[' or '(' expected")
        }
        while let k = token.keyword, ["WITHIN", "REPEATS", "START"].contains(k) {
            try advance()
            switch k {
            case "WITHIN":
                let seconds: Double
                switch token {
                case .literal(.integer(let i)) where i > 0: seconds = Double(i)
                case .literal(.float(let d)) where d > 0: seconds = d
                default: throw error("a positive number of seconds expected")
                }
                try advance()
                guard token.keyword == "SECONDS" else { throw error("SECONDS expected") }
                try advance()
                e = .qualified(e, .within(seconds))
            case "REPEATS":
                guard case .literal(.integer(let n)) = token, n > 0 else { throw error("a positive count expected") }
                try advance()
                guard token.keyword == "TIMES" else { throw error("TIMES expected") }
                try advance()
                e = .qualified(e, .repeats(n))
            default:
                guard case .literal(.timestamp(let start)) = token else { throw error("a timestamp literal expected") }
                try advance()
                guard token.keyword == "STOP" else { throw error("STOP expected") }
                try advance()
                guard case .literal(.timestamp(let stop)) = token else { throw error("a timestamp literal expected") }
                try advance()
                e = .qualified(e, .startStop(start, stop))
            }
        }
        return e
    }

    mutating func comparisonOr() throws(STIXError) -> ComparisonExpression {
        var e = try comparisonAnd()
        while token.keyword == "OR" {
            try advance()
            e = .or(e, try comparisonAnd())
        }
        return e
    }

    mutating func comparisonAnd() throws(STIXError) -> ComparisonExpression {
        var e = try comparisonTerm()
        while token.keyword == "AND" {
            try advance()
            e = .and(e, try comparisonTerm())
        }
        return e
    }

    mutating func countComparisons(_ n: Int) throws(STIXError) {
        comparisons += n
        guard comparisons <= limits.maximumComparisons else {
            throw STIXError(.limitExceeded, "more than \(limits.maximumComparisons) comparisons and set members")
        }
    }

    mutating func comparisonTerm() throws(STIXError) -> ComparisonExpression {
        try enter()
        defer { depth -= 1 }
        if token == .leftParen {
            try advance()
            let e = try comparisonOr()
            try expect(.rightParen, "')'")
            return e
        }
        try countComparisons(1)
        if token.keyword == "EXISTS" {
            try advance()
            return .comparison(PatternComparison(path: try path(), negated: false, op: .exists, values: []))
        }
        let p = try path()
        var negated = false
        if token.keyword == "NOT" {
            negated = true
            try advance()
        }
        let op: PatternOperator
        switch token {
        case .comparator(let c): op = c
        case .word(let w):
            guard let o = PatternOperator(rawValue: w.uppercased()), ![.exists].contains(o), o.rawValue.first!.isLetter else {
                throw error("a comparison operator expected")
            }
            op = o
        default: throw error("a comparison operator expected")
        }
        try advance()
        var values: [PatternLiteral] = []
        if op == .in {
            try expect(.leftParen, "'('")
            while true {
                guard case .literal(let l) = token else { throw error("a literal expected") }
                try countComparisons(1)
                values.append(l)
                try advance()
                if token == .comma {
                    try advance()
                    continue
                }
                try expect(.rightParen, "')'")
                break
            }
        } else {
            guard case .literal(let l) = token else { throw error("a literal expected") }
            values = [l]
            try advance()
            switch (op, l) {
            case (.like, .string), (.matches, .string), (.isSubset, .string), (.isSuperset, .string): break
            case (.like, _), (.matches, _), (.isSubset, _), (.isSuperset, _): throw error("\(op.rawValue) takes a string")
            case (.less, .bool), (.lessOrEqual, .bool), (.greater, .bool), (.greaterOrEqual, .bool): throw error("a boolean is not ordered")
            default: break
            }
        }
        return .comparison(PatternComparison(path: p, negated: negated, op: op, values: values))
    }

    mutating func path() throws(STIXError) -> PatternPath {
        guard case .word(let type) = token else { throw error("an object type expected") }
        guard type.utf8.allSatisfy({ (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D }) else {
            throw error("an object type is lowercase letters, digits and '-'")
        }
        try advance()
        try expect(.colon, "':'")
        var components: [PatternPath.Component] = []
        switch token {
        case .word(let w): components.append(.property(w))
        case .literal(.string(let s)): components.append(.property(s))
        default: throw error("a property name expected")
        }
        try advance()
        while components.count <= 32 {
            if token == .dot {
                try advance()
                switch token {
                case .word(let w): components.append(.property(w))
                case .literal(.string(let s)): components.append(.property(s))
                default: throw error("a property name expected")
                }
                try advance()
            } else if token == .leftBracket {
                try advance()
                switch token {
                case .star: components.append(.any)
                case .literal(.integer(let i)) where i >= 0: components.append(.index(i))
                default: throw error("'*' or an index expected")
                }
                try advance()
                try expect(.rightBracket, "']'")
            } else {
                return PatternPath(objectType: type, components: components)
            }
        }
        throw STIXError(.limitExceeded, "an object path of more than 32 steps")
    }
}
