import FlowCodec

// Finding the addresses written in a string, for the guard: it must find them wherever and
// however they are written, and a false find only refuses an object (it fails closed).
extension SharingGuard {
    /// `bytes` with the usual defanged spellings made plain: `[.]`, `(.)`, `{.}`, `[dot]`,
    /// `(dot)` → `.`; `[:]` → `:`; `[at]`, `(at)`, `[@]` → `@` (letters in any case).
    static func refanged(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.contains(where: { $0 == 0x5B || $0 == 0x28 || $0 == 0x7B }) else { return bytes }
        let forms: [([UInt8], UInt8)] = [
            (Array("[.]".utf8), 0x2E), (Array("(.)".utf8), 0x2E), (Array("{.}".utf8), 0x2E), (Array("[dot]".utf8), 0x2E),
            (Array("(dot)".utf8), 0x2E), (Array("[:]".utf8), 0x3A), (Array("[at]".utf8), 0x40), (Array("(at)".utf8), 0x40),
            (Array("[@]".utf8), 0x40),
        ]
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        next: while i < bytes.count {
            for (form, plain) in forms where i + form.count <= bytes.count {
                var same = true
                for k in 0..<form.count where bytes[i + k] | 0x20 != form[k] | 0x20 {
                    same = false
                    break
                }
                if same {
                    out.append(plain)
                    i += form.count
                    continue next
                }
            }
            out.append(bytes[i])
            i += 1
        }
        return out
    }

    /// Every IPv4 or IPv6 address or prefix written in `bytes`.
    static func addresses(in bytes: [UInt8]) -> [IPPrefix] {
        var out: [IPPrefix] = []
        // Runs of hex digits, `.`, `:` and `/`, read whole, then in parts.
        var i = 0
        while i < bytes.count {
            guard isHex(bytes[i]) || bytes[i] == 0x3A else {
                i += 1
                continue
            }
            var j = i
            while j < bytes.count, isHex(bytes[j]) || bytes[j] == 0x3A || bytes[j] == 0x2E || bytes[j] == 0x2F { j += 1 }
            var run = Array(bytes[i..<j])
            while let last = run.last, last == 0x2E || last == 0x2F || last == 0x3A, run.count > 2, !(run.suffix(2) == [0x3A, 0x3A]) {
                run.removeLast()
            }
            out += candidates(run)
            i = j
        }
        out += dashedQuads(bytes)
        out += reverseNames(bytes)
        return out
    }

    /// The addresses one run spells: the run itself; else its IPv4 parts (`198.51.100.7:443`,
    /// `…23abc`), and an IPv6 address with hex letters glued before or after it.
    static func candidates(_ run: [UInt8]) -> [IPPrefix] {
        let colons = run.filter { $0 == 0x3A }.count
        let dots = run.filter { $0 == 0x2E }.count
        guard colons >= 2 || dots >= 3 else { return [] }
        if let p = IPPrefix(String(decoding: run, as: UTF8.self)) { return [p] }
        var out: [IPPrefix] = []
        if dots >= 3 { out += dottedQuads(run) }
        if colons >= 2 { out += gluedIPv6(run) }
        return out
    }

    /// IPv4 addresses (and `/n` prefixes) among the digits and dots of `run`; when an outer
    /// number has too many digits (`1198.51.100.23`, `….2345`), each reading of it.
    static func dottedQuads(_ run: [UInt8]) -> [IPPrefix] {
        var out: [IPPrefix] = []
        var i = 0
        while i < run.count {
            guard (0x30...0x39).contains(run[i]) else {
                i += 1
                continue
            }
            var j = i
            while j < run.count, (0x30...0x39).contains(run[j]) || run[j] == 0x2E { j += 1 }
            let groups = run[i..<j].split(separator: 0x2E, omittingEmptySubsequences: false)
            var suffix = ""
            if j < run.count, run[j] == 0x2F {
                var k = j + 1
                while k < run.count, (0x30...0x39).contains(run[k]), k - j <= 3 { k += 1 }
                if k > j + 1 { suffix = "/" + String(decoding: run[(j + 1)..<k], as: UTF8.self) }
            }
            // Every four consecutive groups: a quad may sit inside a longer dotted run.
            if groups.count >= 4 {
                for start in 0...(groups.count - 4) {
                    let g = groups[start..<(start + 4)].map { String(decoding: $0, as: UTF8.self) }
                    guard g.allSatisfy({ !$0.isEmpty }) else { continue }
                    let firsts = (1...min(3, g[0].count)).map { String(g[0].suffix($0)) }
                    let lasts = (1...min(3, g[3].count)).map { String(g[3].prefix($0)) }
                    let exact = "\(g[0]).\(g[1]).\(g[2]).\(g[3])"
                    if let p = IPPrefix(exact + (start + 4 == groups.count ? suffix : "")) ?? IPPrefix(exact) {
                        out.append(p)
                        continue
                    }
                    for f in firsts {
                        for l in lasts {
                            if let p = IPPrefix("\(f).\(g[1]).\(g[2]).\(l)") { out.append(p) }
                        }
                    }
                }
            }
            i = j
        }
        return out
    }

    /// An IPv6 address in a run that does not read whole: its first and last groups may have
    /// hex letters glued on (`cafe2001:db8::1`, `2001:db8::1beef`); each reading of them.
    static func gluedIPv6(_ run: [UInt8]) -> [IPPrefix] {
        var text = String(decoding: run, as: UTF8.self)
        var length = ""
        if let slash = text.firstIndex(of: "/") {
            length = String(text[slash...].prefix(4))
            text = String(text[..<slash])
        }
        let groups = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard groups.count >= 3, let first = groups.first, let last = groups.last else { return [] }
        let middle = groups.dropFirst().dropLast().joined(separator: ":")
        let firsts = first.isEmpty ? [""] : (1...min(4, first.count)).map { String(first.suffix($0)) }
        let lasts = last.isEmpty ? [""] : (1...min(4, last.count)).map { String(last.prefix($0)) }
        var out: [IPPrefix] = []
        for f in firsts {
            for l in lasts {
                let candidate = "\(f):\(middle):\(l)"
                if let p = IPPrefix(candidate + length) ?? IPPrefix(candidate) { out.append(p) }
            }
        }
        return out
    }

    /// `198-51-100-23` (as carriers name their subscribers' addresses in PTR records).
    static func dashedQuads(_ bytes: [UInt8]) -> [IPPrefix] {
        guard bytes.contains(0x2D) else { return [] }
        var out: [IPPrefix] = []
        var i = 0
        while i < bytes.count {
            guard (0x30...0x39).contains(bytes[i]), i == 0 || !(0x30...0x39).contains(bytes[i - 1]) else {
                i += 1
                continue
            }
            var j = i
            while j < bytes.count, (0x30...0x39).contains(bytes[j]) || bytes[j] == 0x2D { j += 1 }
            let groups = bytes[i..<j].split(separator: 0x2D, omittingEmptySubsequences: false)
            if groups.count >= 4 {
                for start in 0...(groups.count - 4) {
                    let quad = groups[start..<(start + 4)].map { String(decoding: $0, as: UTF8.self) }.joined(separator: ".")
                    if let p = IPPrefix(quad) { out.append(p) }
                }
            }
            i = j
        }
        return out
    }

    /// The address or network of an `in-addr.arpa` or `ip6.arpa` name.
    static func reverseNames(_ bytes: [UInt8]) -> [IPPrefix] {
        let lower = bytes.map { $0 | ((0x41...0x5A).contains($0) ? 0x20 : 0) }
        var out: [IPPrefix] = []
        for (suffix, v6) in [(Array(".in-addr.arpa".utf8), false), (Array(".ip6.arpa".utf8), true)] {
            guard lower.count > suffix.count else { continue }
            for end in 0...(lower.count - suffix.count) where lower[end..<(end + suffix.count)].elementsEqual(suffix) {
                // The labels before the suffix, nearest first.
                var labels: [String] = []
                var k = end
                while k > 0, labels.count < (v6 ? 32 : 4) {
                    var start = k - 1
                    while start >= 0, isAlnum(lower[start]) { start -= 1 }
                    let label = String(decoding: lower[(start + 1)..<k], as: UTF8.self)
                    guard !label.isEmpty else { break }
                    labels.append(label)
                    guard start >= 0, lower[start] == 0x2E else { break }
                    k = start
                }
                if v6 {
                    // Nearest the suffix is the address's first nibble (octet), so the labels,
                    // nearest first, are in the address's order.
                    let hex = Array(labels.prefix { $0.count == 1 && isHex(Array($0.utf8)[0]) }.joined())
                    guard !hex.isEmpty else { continue }
                    var text = ""
                    for (n, c) in (hex + Array(repeating: "0", count: 32 - hex.count)).enumerated() {
                        if n > 0, n % 4 == 0 { text += ":" }
                        text.append(c)
                    }
                    if let p = IPPrefix("\(text)/\(4 * hex.count)") { out.append(p) }
                } else {
                    let octets = labels.prefix { $0.count <= 3 && $0.allSatisfy(\.isNumber) }
                    guard !octets.isEmpty else { continue }
                    let padded = Array(octets) + Array(repeating: "0", count: 4 - octets.count)
                    if let p = IPPrefix("\(padded.joined(separator: "."))/\(8 * octets.count)") { out.append(p) }
                }
            }
        }
        return out
    }
}
