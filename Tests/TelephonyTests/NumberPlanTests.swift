import Foundation
import Testing

@testable import Telephony

/// The number plan: normalising what subscribers dial (Japanese, British and North American
/// rules), the shipped E.164 table and a carrier's table over it, longest-prefix lookup, ranges.
struct NumberPlanTests {
    static func check(_ ok: Bool, _ what: @autoclosure () -> String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(ok, "\(what())", sourceLocation: sourceLocation)
    }

    static func expectNumber(_ rules: DialingRules, _ input: String, _ expected: String, sourceLocation: SourceLocation = #_sourceLocation)
    {
        let got = rules.classify(input)
        check(
            got == .e164(E164Number(digits: expected.dropFirst())!),
            "\(rules.countryCode): \(String(reflecting: input)) -> \(got), expected \(expected)", sourceLocation: sourceLocation)
    }

    static func expectShort(_ rules: DialingRules, _ input: String, _ expected: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let got = rules.classify(input)
        check(
            got == .shortCode(expected), "\(String(reflecting: input)) -> \(got), expected short code \(expected)",
            sourceLocation: sourceLocation)
        check(rules.normalise(input) == .failure(.shortCode(expected)), "normalise(\(input)) short code", sourceLocation: sourceLocation)
    }

    static func expectError(
        _ rules: DialingRules, _ input: String, _ expected: NumberError, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let got = rules.classify(input)
        check(got == .invalid(expected), "\(String(reflecting: input)) -> \(got), expected \(expected)", sourceLocation: sourceLocation)
    }

    /// The table as the module ships it.
    static let shipped: String = NumberPlan.shippedTableText

    @Test func shippedTable() { _ = Self.testShippedTable(Self.shipped) }
    @Test func carrierOverride() { Self.testCarrierOverride(Self.shipped) }
    @Test func ranges() { Self.testRanges(NumberPlan.shipped) }
    @Test func e164Number() { Self.testE164Number() }
    @Test func japaneseDialling() { Self.testJapan() }
    @Test func britishDialling() { Self.testUK() }
    @Test func northAmericanDialling() { Self.testNANP() }
    @Test func longestMatchAndParser() { Self.testLongestMatchAndParser() }

    // MARK: E164Number

    static func testE164Number() {
        let n = E164Number(digits: "442079460000")
        check(n?.description == "+442079460000", "description")
        check(n?.digitCount == 12, "digitCount")
        check(n?.digit(at: 0) == 4 && n?.digit(at: 11) == 0, "digit(at:)")
        check(E164Number(digits: "") == nil, "empty rejected")
        check(E164Number(digits: "0441") == nil, "leading 0 rejected")
        check(E164Number(digits: "12a") == nil, "letters rejected")
        check(E164Number(digits: "123456789012345") != nil, "15 digits accepted")
        check(E164Number(digits: "1234567890123456") == nil, "16 digits rejected")
        check(E164Number(digits: "1")?.description == "+1", "1 digit accepted")
        check(E164Number.parse("12x") == .failure(.invalidCharacter("x", offset: 2)), "parse reports character")
        check(E164Number.parse("1234567890123456") == .failure(.tooLong(digits: 16)), "parse reports length")
        check(E164Number.parse("0123") == .failure(.leadingZeroCountryCode), "parse reports leading zero")
        check(n?.leading(4).description == "+4420", "leading(4)")
        check(n?.leading(99) == n, "leading clamps high")
        check(n?.leading(0).description == "+4", "leading clamps low")
        check(n!.hasPrefix(E164Number(digits: "4420")!), "hasPrefix")
        check(!n!.hasPrefix(E164Number(digits: "4421")!), "not hasPrefix")
        check(Set([n!, E164Number(digits: "442079460000")!]).count == 1, "Hashable")
    }

    // MARK: Normalisation

    static func testJapan() {
        let jp = DialingRules.japan
        expectNumber(jp, "010-44-20-7946-0000", "+442079460000")
        expectNumber(jp, "0312345678", "+81312345678")
        expectNumber(jp, "03-1234-5678", "+81312345678")
        expectNumber(jp, "(03) 1234-5678", "+81312345678")
        expectNumber(jp, "090.1234.5678", "+819012345678")
        expectNumber(jp, "+44 20 7946 0000", "+442079460000")
        expectNumber(jp, "  +81 3 1234 5678  ", "+81312345678")
        expectNumber(jp, "tel:+81-3-1234-5678", "+81312345678")
        expectNumber(jp, "TEL:+81-3-1234-5678;ext=12", "+81312345678")
        expectNumber(jp, "tel:03-1234-5678;phone-context=+81", "+81312345678")
        expectNumber(jp, "sip:+8131234@host", "+8131234")
        expectNumber(jp, "sip:+81312345678;npdi@pbx.example.net;user=phone", "+81312345678")
        expectNumber(jp, "sips:0312345678@pbx.example.net", "+81312345678")
        expectNumber(jp, "sip:+81312345678:secret@host", "+81312345678")
        expectShort(jp, "110", "110")
        expectShort(jp, "119", "119")
        expectShort(jp, "118", "118")
        expectShort(jp, "1-1-0", "110")
        // carrier-select code before the exit code
        let jpCarrier = try! DialingRules(
            countryCode: "81", nationalPrefix: "0", internationalPrefixes: ["010"],
            carrierSelectPrefixes: ["0033", "001"])
        expectNumber(jpCarrier, "0033-010-1-212-555-0100", "+12125550100")
        expectNumber(jpCarrier, "001 010 44 20 7946 0000", "+442079460000")
        expectNumber(jpCarrier, "0033-03-1234-5678", "+81312345678")
        // errors
        expectError(jp, "", .empty)
        expectError(jp, "   ", .empty)
        expectError(jp, "tel:", .empty)
        expectError(jp, "- ( ) .", .empty)
        expectError(jp, "03-CALL-NOW", .invalidCharacter("C", offset: 3))
        expectError(jp, "sip:alice@example.com", .invalidCharacter("a", offset: 4))
        expectError(jp, "sip:example.com", .missingUserPart)
        expectError(jp, "*67 03 1234 5678", .invalidCharacter("*", offset: 0))
        expectError(jp, "03 1234 5678#", .invalidCharacter("#", offset: 12))
        expectError(jp, "++81312345678", .misplacedPlus(offset: 1))
        expectError(jp, "81+312345678", .misplacedPlus(offset: 2))
        expectError(jp, "+1234567890123456", .tooLong(digits: 16))
        expectError(jp, "010 81 3 1234 5678 9012 345", .tooLong(digits: 18))
        expectError(jp, "03 1234 5678 9012 3456", .tooLong(digits: 19))
        expectError(jp, "+81 3", .tooShort(digits: 3, minimum: 7))
        expectError(jp, "010", .tooShort(digits: 0, minimum: 7))
        expectError(jp, "+0 81 3 1234 5678", .leadingZeroCountryCode)
        expectError(jp, "12345678", .missingNationalPrefix("12345678"))
        expectError(jp, "0044 20 7946 0000", .invalidNationalNumber("00442079460000"))
        expectError(jp, String(repeating: "1", count: 300), .inputTooLong(bytes: 300))
        check(jp.normalise("0312345678") == .success(E164Number(digits: "81312345678")!), "normalise success")
        check(jp.normalise("03-CALL-NOW") == .failure(.invalidCharacter("C", offset: 3)), "normalise failure")
        check(NumberError.shortCode("110").shortCode == "110", "shortCode accessor")
        check(NumberError.tooLong(digits: 16).description.contains("at most 15"), "error message")
        // configuration errors
        var configError: DialingRules.ConfigError? = nil
        do { _ = try DialingRules(countryCode: "081", nationalPrefix: "0", internationalPrefixes: ["010"]) } catch { configError = error }
        check(configError == .invalidCountryCode("081"), "bad country code rejected")
        configError = nil
        do { _ = try DialingRules(countryCode: "81", nationalPrefix: "0", internationalPrefixes: ["01x"]) } catch { configError = error }
        check(configError == .invalidPrefix("01x"), "bad exit code rejected")
    }

    static func testUK() {
        let gb = DialingRules.unitedKingdom
        for s in [
            "+44 20 7946 0000", "0044 20 7946 0000", "020 7946 0000", "(020) 7946 0000",
            "+44 (0)20 7946 0000", "0044 (0)20 7946 0000", "(0)20 7946 0000", "020-7946-0000",
        ] {
            expectNumber(gb, s, "+442079460000")
        }
        expectNumber(gb, "07911 123456", "+447911123456")
        expectNumber(gb, "00 1 212 555 0100", "+12125550100")
        expectNumber(gb, "00 81 3 1234 5678", "+81312345678")
        expectShort(gb, "999", "999")
        expectShort(gb, "112", "112")
        expectShort(gb, "116 123", "116123")
        expectShort(gb, "118 118", "118118")
        expectError(gb, "7946 0000", .missingNationalPrefix("79460000"))
        expectError(gb, "00", .tooShort(digits: 0, minimum: 7))
        expectError(gb, "00 0 1234 5678", .leadingZeroCountryCode)
    }

    static func testNANP() {
        let us = DialingRules.northAmerica
        expectNumber(us, "011 44 20 7946 0000", "+442079460000")
        expectNumber(us, "1 (212) 555-0100", "+12125550100")
        expectNumber(us, "212.555.0100", "+12125550100")
        expectNumber(us, "(876) 555-0100", "+18765550100")
        expectNumber(us, "+1 876 555 0100", "+18765550100")
        expectShort(us, "911", "911")
        expectShort(us, "988", "988")
        expectError(us, "555-0100", .missingNationalPrefix("5550100"))
        expectError(us, "1-800-FLOWERS", .invalidCharacter("F", offset: 6))
    }

    // MARK: Tables

    static func testLongestMatchAndParser() {
        let tsv = """
            # a comment
            prefix\tcountry\tname\tcategory\tnote
            4\tXX\tZone four\treserved
            44\tGB\tUnited Kingdom\tgeographic\tcountry code
            447\tGB\tUnited Kingdom\tmobile\tmobile range

            4479\tGB\tUnited Kingdom\tpremium\tmade-up test row
            0123\tGB\tLeading zero\tgeographic
            12a4\tGB\tLetters\tgeographic
            1234567890123456\tGB\tSixteen digits\tgeographic
            45\tdk\tDenmark\tgeographic
            46\tSE\tSweden\tfreefone
            47\tNO\t\tgeographic
            48\tPL\tPoland\tgeographic\tnote\textra
            just one field
            49\tDE\tGermany\tgeographic\r
            44\tGB\tUnited Kingdom (again)\tgeographic\tduplicate
            """
        let (rows, issues) = NumberPlan.parse(tsv, source: "test.tsv")
        check(rows.map(\.prefix) == ["4", "44", "447", "4479", "49", "44"], "good rows kept: \(rows.map(\.prefix))")
        let errorLines = issues.filter { $0.severity == .error }.map(\.line)
        check(errorLines == [8, 9, 10, 11, 12, 13, 14, 15], "error lines \(errorLines)")
        let warnings = issues.filter { $0.severity == .warning }
        check(warnings.map(\.line) == [17], "duplicate warned: \(warnings)")
        check(
            issues.first?.description == "test.tsv:8: error: prefix 0123 starts with 0; E.164 country codes start with 1-9",
            "issue text: \(issues.first?.description ?? "-")")
        check(issues.contains { $0.line == 12 && $0.message.contains("unknown category \"freefone\"") }, "category message")
        check(issues.contains { $0.line == 10 && $0.message.contains("16 digits") }, "length message")

        let plan = NumberPlan(tsv: tsv, name: "test.tsv")
        check(plan.report.errors.count == 8, "report errors")
        check(plan.report.rowsReplaced == 1, "duplicate replaced")
        func at(_ d: String) -> String? { plan.lookup(E164Number(digits: d)!)?.prefix }
        check(at("447912345678") == "4479", "longest match 4479")
        check(at("447712345678") == "447", "longest match 447")
        check(at("442079460000") == "44", "longest match 44")
        check(at("431234567") == "4", "fallback to 4")
        check(at("4") == "4", "exact short number")
        check(at("5551234567") == nil, "no match")
        check(plan.lookup(E164Number(digits: "442079460000")!)?.name == "United Kingdom (again)", "later row wins")
        check(plan.lookup(E164Number(digits: "4912345678")!)?.country == "DE", "CRLF line accepted")

        // bounded: row limit
        let limited = NumberPlan(
            tsv: "1\tUS\tA\tgeographic\n2\tXX\tB\treserved\n3\tXX\tC\treserved\n",
            limits: .init(maxRows: 2))
        check(limited.count == 2 && limited.report.errors.first?.line == 3, "row limit reported at line 3")
        let longLine = "1\tUS\t" + String(repeating: "x", count: 5000) + "\tgeographic"
        check(NumberPlan.parse(longLine, source: "t").issues.first?.message.contains("longer than") == true, "line length bound")
    }

    static func testShippedTable(_ shipped: String) -> NumberPlan {
        let plan = NumberPlan(tables: [(name: "e164-prefixes.tsv", text: shipped)])
        check(plan.report.issues.isEmpty, "shipped table loads cleanly: \(plan.report.issues.prefix(5))")
        var byCategory: [DestinationCategory: Int] = [:]
        for d in plan.destinations { byCategory[d.category, default: 0] += 1 }

        func d(_ digits: String) -> Destination? { plan.lookup(E164Number(digits: digits)!) }
        check(d("18765550100")?.country == "JM", "+1 876 -> JM: \(String(describing: d("18765550100")))")
        check(d("16585550100")?.country == "JM", "+1 658 -> JM")
        check(d("12125550100")?.country == "US", "+1 212 -> US")
        check(d("14165550100")?.country == "CA", "+1 416 -> CA")
        check(d("18095550100")?.country == "DO" && d("18495550100")?.country == "DO", "+1 809/849 -> DO")
        check(d("17875550100")?.country == "PR" && d("19395550100")?.country == "PR", "+1 787/939 -> PR")
        check(d("12845550100")?.country == "VG", "+1 284 -> VG")
        check(d("16495550100")?.country == "TC", "+1 649 -> TC")
        check(d("19005550100")?.category == .premium && d("19005550100")!.isHighCost, "+1 900 premium")
        check(d("18005550100")?.category == .freephone && !d("18005550100")!.isHighCost, "+1 800 freephone")
        check(d("77012345678")?.country == "KZ", "+7 701 -> KZ")
        check(d("77272584471")?.country == "KZ", "+7 727 -> KZ")
        check(d("76012345678")?.country == "KZ", "+7 6xx -> KZ")
        check(d("74951234567")?.country == "RU", "+7 495 -> RU")
        check(d("79161234567")?.country == "RU", "+7 916 -> RU")
        let iridium = d("881612345678")
        check(iridium?.category == .satellite && iridium?.name == "Iridium" && iridium!.isHighCost, "+881 6 Iridium")
        check(d("88181234567")?.name == "Globalstar", "+881 8 Globalstar")
        check(d("88101234567")?.prefix == "881" && d("88101234567")?.category == .satellite, "+881 0 falls back to GMSS")
        check(d("870772112345")?.category == .satellite, "+870 Inmarsat satellite")
        check(d("442079460000")?.country == "GB", "+44 -> GB")
        check(d("441481256789")?.country == "GG", "+44 1481 -> GG")
        check(d("447624123456")?.country == "IM", "+44 7624 -> IM")
        check(d("447797123456")?.country == "JE", "+44 7797 -> JE")
        check(d("449012345678")?.category == .premium, "+44 90 premium")
        let net = d("882123456789")
        check(net?.category == .internationalNetwork && net?.prefix == "882" && net!.isHighCost, "+882 1 international-network")
        check(d("88216123456")?.name == "Thuraya RMSS Network" && d("88216123456")?.category == .satellite, "+882 16 Thuraya")
        check(d("883510012345")?.category == .internationalNetwork, "+883 international-network")
        check(d("979123456789")?.category == .premium, "+979 premium")
        check(d("80012345678")?.category == .freephone, "+800 freephone")
        check(d("80812345678")?.category == .sharedCost, "+808 shared-cost")
        let unknown = d("99912345678")
        check(unknown == nil || unknown?.category == .reserved, "+999 nil or reserved: \(String(describing: unknown))")
        check(unknown.map { !$0.isHighCost } ?? true, "+999 not high cost")
        check(d("3906698123")?.country == "VA", "+39 06 698 -> VA")
        check(d("390612345678")?.country == "IT", "+39 06 -> IT")
        check(d("35818123456")?.country == "AX", "+358 18 -> AX")
        check(d("38344123456")?.country == "XK", "+383 -> XK")
        check(d("2901234")?.country == "SH" && d("2908123")?.country == "TA", "+290 SH / TA")
        check(d("81312345678")?.country == "JP", "+81 -> JP")
        // every 1-3 digit country code position is covered: any number finds a row
        var uncovered: [String] = []
        for a in 1...9 {
            for b in 0...9 {
                for c in 0...9 {
                    let digits = "\(a)\(b)\(c)123456789"
                    if d(digits) == nil { uncovered.append("\(a)\(b)\(c)") }
                }
            }
        }
        check(uncovered.isEmpty, "all 3-digit starts covered; missing: \(uncovered.prefix(10))")
        return plan
    }

    static func testCarrierOverride(_ shipped: String) {
        let carrier = """
            # carrier extension: later rows win
            447700900\tGB\tUK test range sold by IPRN\thigh-cost\tcarrier fraud desk
            44\tGB\tUnited Kingdom (carrier name)\tgeographic
            8816\tXS\tIridium (carrier rate)\tsatellite\toverride
            bad line here
            """
        let plan = NumberPlan(tables: [(name: "shipped", text: shipped), (name: "carrier.tsv", text: carrier)])
        let hit = plan.lookup(E164Number(digits: "447700900123")!)
        check(hit?.category == .highCost && hit!.isHighCost && hit?.source == "carrier.tsv", "carrier high-cost row wins")
        check(plan.lookup(E164Number(digits: "442079460000")!)?.name == "United Kingdom (carrier name)", "carrier replaces 44")
        check(plan.lookup(E164Number(digits: "881612345678")!)?.name == "Iridium (carrier rate)", "carrier replaces 8816")
        check(plan.lookup(E164Number(digits: "441481256789")!)?.country == "GG", "shipped longer prefix still wins")
        check(plan.report.rowsReplaced == 2, "two rows replaced: \(plan.report.rowsReplaced)")
        check(
            plan.report.errors.map(\.description) == [
                "carrier.tsv:5: error: expected 4 or 5 tab-separated fields (prefix, country, name, category, note), found 1"
            ],
            "carrier bad line reported: \(plan.report.errors)")
    }

    static func testRanges(_ plan: NumberPlan) {
        let n = E164Number(digits: "447700900123")!
        check(plan.range(of: n, digits: 6) == "447700", "range 6 digits")
        check(plan.range(of: n, digits: 40) == "447700900123", "range clamps")
        check(plan.range(of: n, .block(droppingLast: 3)) == "447700900", "block of 1000")
        check(plan.range(of: n, .prefixPlus(2)) == "4477", "prefix 44 + 2 digits")
        check(plan.range(of: E164Number(digits: "881612345678")!, .prefixPlus(3)) == "8816123", "prefix 8816 + 3")
        check(plan.rangeKey(of: n, .leadingDigits(5)) == E164Number(digits: "44770")!, "range key")
    }
}
