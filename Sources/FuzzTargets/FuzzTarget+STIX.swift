import FlowCodec
import MamoriCore
import STIX

extension FuzzTarget {
    /// The guard the `stix-bundle` target screens with: subscribers in 198.51.100.0/24 and
    /// 2001:db8:100::/40, a CGNAT pool 192.0.2.0/26, one account name.
    static let stixGuard = SharingGuard(
        configuration: .init(
            subscriberPrefixes: PrefixSet([IPPrefix("198.51.100.0/24")!, IPPrefix("2001:db8:100::/40")!]),
            cgnatPools: [.init(prefix: IPPrefix("192.0.2.0/26")!)], accounts: ["yamada.taro"]))

    /// A peer's STIX pattern (the input as UTF-8 text), evaluated as an importer does.
    ///
    /// The grammar check and the evaluation agree (a pattern the evaluator calls a syntax error
    /// is not valid, one it evaluates or calls not evaluable is); an evaluated match names an
    /// address or a name in every alternative and matches what it names; each of its prefixes,
    /// written as a pattern again, evaluates to a match of that prefix.
    static func stixPattern(_ bytes: UnsafeRawBufferPointer) {
        let text = String(decoding: bytes, as: UTF8.self)
        let valid = STIXPattern.isValid(text)
        let match: IndicatorMatch
        do {
            match = try STIXPattern.evaluate(text)
        } catch {
            _ = (error.description, error.debugDescription)
            if error.code == .patternSyntax { precondition(!valid, "a syntax error in a valid pattern: \(error)") }
            if error.code == .notEvaluable { precondition(valid, "a pattern that does not parse was evaluated: \(error)") }
            return
        }
        precondition(valid, "an invalid pattern was evaluated")
        precondition(!match.alternatives.isEmpty, "an evaluated pattern matches nothing")
        for alternative in match.alternatives {
            let free =
                alternative.destinationPorts == nil && alternative.excludedDestinationPorts.isEmpty && alternative.sourcePorts == nil
                && alternative.excludedSourcePorts.isEmpty && alternative.protocols == nil
            switch alternative.target {
            case .addresses(let prefixes):
                precondition(!prefixes.isEmpty, "an alternative without addresses")
                for p in prefixes where free && !alternative.excludedAddresses.contains(where: { $0.contains(p.network) }) {
                    precondition(alternative.matches(address: p.network), "\(p) does not match its own network address")
                }
            case .domains(let names):
                precondition(!names.isEmpty, "an alternative without names")
                for n in names where free && !alternative.excludedDomains.contains(n) {
                    precondition(alternative.matches(domain: n), "\(n) does not match itself")
                }
            }
        }
        for p in match.prefixes.prefix(16) {
            let again = try? STIXPattern.evaluate(STIXPattern.prefix(p))
            precondition(again?.matches(address: p.network) == true, "\(p) written as a pattern does not match again")
        }
        for d in match.domains.prefix(16) {
            let again = try? STIXPattern.evaluate(STIXPattern.domain(d))
            precondition(again?.matches(domain: d) == true, "\(d) written as a pattern does not match again")
        }
    }

    /// A peer's STIX document: read as a bundle, a TAXII envelope and a MISP event.
    ///
    /// A bundle that reads is written again and reads back as the same bundle; its canonical
    /// form reads back as the same JSON; its indicators are each imported or skipped, once; and
    /// the sharing guard accounts for every object, passes nothing it would refuse alone, and
    /// passes again what it passed.
    static func stixBundle(_ bytes: UnsafeRawBufferPointer) {
        let input = Array(bytes.prefix(1 << 20))
        _ = try? STIXImport.envelope(input)
        _ = try? MISPFeed.event(input)
        _ = try? MISPFeed.manifest(input)
        guard let json = try? JSONValue.parse(input) else { return }
        let canonical = try? JSONValue.parse(json.canonicalEncoding)
        precondition(canonical?.isSemanticallyEqual(to: json) == true, "the canonical form reads back as other JSON")
        let bundle: STIXBundle
        do {
            bundle = try STIXBundle(json: json)
        } catch {
            precondition(error.code == .malformedBundle || error.code == .malformedObject, "a bundle failed with \(error)")
            return
        }
        let again = try? STIXBundle.decode(bundle.json.encoded(pretty: input.count % 2 == 0))
        precondition(again == bundle, "a bundle changed when written and read again")

        let imported = STIXImport.objects(bundle.objects)
        let indicators = Set(bundle.objects.filter { $0.type == "indicator" }.map(\.id.description))
        precondition(imported.indicators.count + imported.skipped.count == indicators.count, "an indicator was lost or counted twice")
        precondition(Set(imported.indicators.map(\.id) + imported.skipped.map(\.id)) == indicators, "an indicator was lost")

        let screened = stixGuard.screen(bundle.objects)
        precondition(screened.objects.count + screened.report.refusedCount == bundle.objects.count, "the guard lost an object")
        precondition(screened.report.refusals.values.reduce(0, +) == screened.report.refusedCount, "the guard's counts disagree")
        for o in screened.objects { precondition(stixGuard.check(o) == nil, "the guard passed \(o.id), which it refuses alone") }
        let refused = Set(screened.report.refused.map(\.id))
        for o in screened.objects { precondition(o.references.isDisjoint(with: refused), "\(o.id) passed, pointing at a refused object") }
        precondition(stixGuard.screen(screened.objects).objects == screened.objects, "screening again refused what passed")
    }
}
