import MamoriCore

/// A way to draw E.164 numbers: a prefix (its digits as a value) and the length of the whole
/// number; the digits after the prefix are random.
struct NumberTemplate: Sendable, Hashable {
    let prefix: UInt64
    let digits: Int

    init(_ prefix: UInt64, _ digits: Int) {
        self.prefix = prefix
        self.digits = digits
    }

    var prefixDigits: Int { decimalDigits(prefix) }

    func draw(_ r: inout SplitMix64) -> UInt64 {
        let free = digits - prefixDigits
        return prefix * pow10[free] + UInt64(r.below(Int(pow10[free])))
    }
}

/// A country the simulated subscribers call, with numbers as its own subscribers have them.
struct CallableCountry: Sendable {
    let code: String
    let templates: [NumberTemplate]
}

/// The number plans the simulated callers use: only prefixes that the shipped table puts in the
/// country named, none of them high-cost (`TelephonyWorldTests` checks both).
enum TelephonyNumbers {
    /// Japan, as E.164 values (81…): fixed numbers in big cities (2-digit area codes after 81, 11
    /// digits), mobiles (090/080/070, 12 digits), IP phones (050), freephone (0120) and NaviDial (0570).
    static let domesticFixed: [NumberTemplate] = [
        NumberTemplate(813, 11), NumberTemplate(813, 11), NumberTemplate(813, 11), NumberTemplate(816, 11), NumberTemplate(816, 11),
        NumberTemplate(8145, 11), NumberTemplate(8152, 11), NumberTemplate(8111, 11), NumberTemplate(8192, 11),
        NumberTemplate(8175, 11), NumberTemplate(8178, 11), NumberTemplate(8122, 11), NumberTemplate(8182, 11),
        NumberTemplate(8143, 11), NumberTemplate(8148, 11),
    ]
    static let domesticMobile: [NumberTemplate] = [NumberTemplate(8190, 12), NumberTemplate(8180, 12), NumberTemplate(8170, 12)]
    static let ipPhone = NumberTemplate(8150, 12)
    static let freephone = NumberTemplate(81120, 11)
    static let naviDial = NumberTemplate(81570, 11)
    /// Emergency numbers (police, fire and ambulance) and information services (time, weather).
    static let emergency: [UInt64] = [110, 119, 119, 110, 118]
    static let information: [UInt64] = [117, 177]

    static let unitedStates = CallableCountry(
        code: "US",
        templates: [1212, 1310, 1415, 1206, 1312, 1617, 1713, 1305, 1808].map { NumberTemplate($0, 11) })
    static let philippines = CallableCountry(
        code: "PH", templates: [NumberTemplate(63917, 12), NumberTemplate(63918, 12), NumberTemplate(63927, 12), NumberTemplate(632, 11)])

    /// Where homes' families live.
    static let familyCountries: [CallableCountry] = [
        unitedStates,
        CallableCountry(code: "CN", templates: [NumberTemplate(86138, 13), NumberTemplate(86139, 13), NumberTemplate(8621, 12)]),
        CallableCountry(code: "KR", templates: [NumberTemplate(8210, 12), NumberTemplate(822, 11)]),
        philippines,
        CallableCountry(code: "VN", templates: [NumberTemplate(8491, 11), NumberTemplate(8428, 12)]),
        CallableCountry(code: "BR", templates: [NumberTemplate(55119, 13)]),
        CallableCountry(code: "PE", templates: [NumberTemplate(519, 11)]),
        CallableCountry(code: "TW", templates: [NumberTemplate(8869, 12)]),
        CallableCountry(code: "TH", templates: [NumberTemplate(668, 11)]),
        CallableCountry(code: "GB", templates: [NumberTemplate(4471, 12), NumberTemplate(4473, 12)]),
        CallableCountry(code: "AU", templates: [NumberTemplate(614, 11)]),
    ]

    /// Where businesses' trade partners are.
    static let tradeCountries: [CallableCountry] = [
        CallableCountry(code: "CN", templates: [NumberTemplate(8621, 12), NumberTemplate(8610, 12), NumberTemplate(86755, 13)]),
        unitedStates,
        CallableCountry(code: "KR", templates: [NumberTemplate(822, 11), NumberTemplate(8251, 11)]),
        CallableCountry(code: "TW", templates: [NumberTemplate(88622, 12), NumberTemplate(88627, 12)]),
        CallableCountry(code: "DE", templates: [NumberTemplate(4989, 12), NumberTemplate(4940, 12)]),
        CallableCountry(code: "SG", templates: [NumberTemplate(656, 10)]),
        CallableCountry(code: "TH", templates: [NumberTemplate(662, 10)]),
        CallableCountry(code: "VN", templates: [NumberTemplate(8428, 12)]),
        CallableCountry(code: "GB", templates: [NumberTemplate(4420, 12)]),
        CallableCountry(code: "HK", templates: [NumberTemplate(8522, 11), NumberTemplate(8523, 11)]),
    ]

    /// The satellite fleet's vessels: Inmarsat (+870 7…) and Iridium (+881 6…).
    static let inmarsat = NumberTemplate(8707, 12)
    static let iridium = NumberTemplate(8816, 12)
    /// The island traders' partners: Palau and Kiribati.
    static let islandPartners: [CallableCountry] = [
        CallableCountry(code: "PW", templates: [NumberTemplate(680, 10)]),
        CallableCountry(code: "KI", templates: [NumberTemplate(686, 11)]),
    ]

    /// Destinations IRSF pumps, each a row of the shipped table (prefix) and the length of its
    /// numbers. High-cost ranges: satellite and international networks, international premium
    /// rate, national premium ranges (Latvia, Lithuania, Estonia, the UK, Malta, Belarus,
    /// Maldives, Timor-Leste, Liberia, Seychelles).
    static let fraudHighCost: [NumberTemplate] = [
        NumberTemplate(870, 12), NumberTemplate(8816, 12), NumberTemplate(8817, 12), NumberTemplate(88216, 13),
        NumberTemplate(882, 13), NumberTemplate(883, 13), NumberTemplate(979, 12),
        NumberTemplate(37190, 11), NumberTemplate(370900, 11), NumberTemplate(372900, 11), NumberTemplate(4490, 12),
        NumberTemplate(4491, 12), NumberTemplate(356506, 11), NumberTemplate(375902, 12), NumberTemplate(960900, 10),
        NumberTemplate(67090, 11), NumberTemplate(2_313_324, 12), NumberTemplate(24885, 10),
    ]
    /// … and small countries and islands whose termination rates are high, geographic in the
    /// table: Cuba, the Pacific, West Africa, Somalia, the Caribbean's NANP area codes.
    static let fraudSmallCountries: [NumberTemplate] = [
        NumberTemplate(53, 10), NumberTemplate(676, 10), NumberTemplate(674, 10), NumberTemplate(682, 8), NumberTemplate(688, 8),
        NumberTemplate(686, 11), NumberTemplate(677, 10), NumberTemplate(232, 11), NumberTemplate(224, 12), NumberTemplate(252, 11),
        NumberTemplate(1473, 11), NumberTemplate(1758, 11), NumberTemplate(1767, 11), NumberTemplate(1876, 11),
        NumberTemplate(1268, 11), NumberTemplate(1649, 11), NumberTemplate(1664, 11),
    ]
    static var fraudDestinations: [NumberTemplate] { fraudHighCost + fraudSmallCountries }
}

/// 10^0 … 10^18.
let pow10: [UInt64] = {
    var p: [UInt64] = [1]
    for _ in 1...18 { p.append(p.last! * 10) }
    return p
}()

/// The number of decimal digits of `v` (1 for 0).
func decimalDigits(_ v: UInt64) -> Int {
    var n = 1
    while n < 19 && v >= pow10[n] { n += 1 }
    return n
}

/// Appends the decimal digits of `v`, left-padded with zeros to `width`.
func appendDigits(_ v: UInt64, width: Int = 0, to out: inout [UInt8]) {
    let n = max(width, decimalDigits(v))
    var i = n - 1
    var x = v
    let at = out.count
    out.append(contentsOf: repeatElement(0x30, count: n))
    while i >= 0 {
        out[at + i] = 0x30 &+ UInt8(truncatingIfNeeded: x % 10)
        x /= 10
        i -= 1
    }
}

/// Appends the decimal text of a signed value.
func appendInteger(_ v: Int64, to out: inout [UInt8]) {
    if v < 0 { out.append(UInt8(ascii: "-")) }
    appendDigits(v.magnitude, to: &out)
}

/// How a dialled number is written in the CDR: as a Japanese subscriber dials it.
enum DialForm: UInt8, Sendable {
    /// `0` and the national number: `0312345678`, `09012345678`, `0120123456`.
    case national
    /// A local number without its area code (Tokyo's and Osaka's 8 digits): `12345678`.
    case local
    /// The exit code `010` and the international number: `0104420794600000`.
    case international
    /// `+` and the international number, as smartphone apps and softphones send it.
    case plus
    /// A short code: `110`, `119`, `117`.
    case short
}

/// The dialled string of `number` (an E.164 value, or a short code's digits) in `form`, small
/// enough (up to 15 bytes) to live inside the `String` without an allocation.
func dialledText(_ number: UInt64, _ form: DialForm) -> String {
    var digits = decimalDigits(number)
    var value = number
    var lead: StaticString = ""
    switch form {
    case .national:
        value = number - 81 * pow10[digits - 2]
        digits -= 2
        lead = "0"
    case .local:
        value = number % pow10[8]
        digits = 8
    case .international: lead = "010"
    case .plus: lead = "+"
    case .short: break
    }
    let leadCount = lead.utf8CodeUnitCount
    return String(unsafeUninitializedCapacity: leadCount + digits) { buffer in
        lead.withUTF8Buffer { l in
            for i in 0..<leadCount { buffer[i] = l[i] }
        }
        var x = value
        var i = leadCount + digits - 1
        while i >= leadCount {
            buffer[i] = 0x30 &+ UInt8(truncatingIfNeeded: x % 10)
            x /= 10
            i -= 1
        }
        return leadCount + digits
    }
}

/// Civil time in Japan (JST, UTC+9, no daylight saving).
struct JapanTime: Sendable {
    static let offsetMilliseconds: Int64 = 9 * 3_600_000

    /// Days since 1970-01-01 in Japan.
    let day: Int64
    /// 0–23.
    let hour: Int
    /// 0 Sunday … 6 Saturday.
    let weekday: Int

    init(_ ms: Int64) {
        let local = ms + Self.offsetMilliseconds
        day = floorDivide(local, 86_400_000)
        hour = Int((local - day * 86_400_000) / 3_600_000)
        weekday = Int(((day % 7) + 11) % 7) // 1970-01-01 was a Thursday
    }

    var isWeekday: Bool { weekday >= 1 && weekday <= 5 }
}

/// (year, month, day) of a count of days since 1970-01-01 (Howard Hinnant's civil_from_days).
func civilDate(_ days: Int64) -> (year: Int64, month: Int, day: Int) {
    let z = days + 719_468
    let era = floorDivide(z, 146_097)
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = Int(doy - (153 * mp + 2) / 5 + 1)
    let m = Int(mp < 10 ? mp + 3 : mp - 9)
    return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
}
