import Foundation
import Lawful
import Storage
import Testing

/// The consent registry: customer-system import, full history, state at any moment.
@Suite struct ConsentRegistryTests {
    typealias T = LegalBasisEngineTests

    static let export = """
        # exported from the customer system 2026-11-01
        account,email,language,terms_version,terms_accepted,warn_infection,warn_vulnerability,sinkhole_dns
        A-0001,taro@example.jp,ja,v3,2025-04-01,,,opt_out@2026-03-01
        A-0002,anna@example.com,EN,v2,2025-02-10,consent@2026-01-05,,
        "A-0003","hanako@example.jp",ja,v3,2025-04-02T09:30:00Z,withdrawn@2026-02-01,opt_out,
        A-0004,not-an-address,ja,v3,2025-04-01,,,
        A-0005,kenji@example.jp,ja,,2025-04-01,,,
        A-0006,mei@example.jp,ja,v3,2025-04-01,maybe,,
        ,nobody@example.jp,ja,v3,2025-04-01,,,
        A-0007,"ken, jr@example.jp,ja,v3,2025-04-01,,,
        A-0008,,,v1,2024-06-01,,,
        """

    @Test func parsingKeepsGoodLinesAndSaysWhyBadOnesWereRefused() throws {
        let file = try CustomerConsentFile.parse(Self.export)
        #expect(file.rows.map(\.account) == ["A-0001", "A-0002", "A-0003", "A-0008"])
        #expect(file.rows[1].language == "en")
        #expect(file.rows[2].termsAccepted == T.ms(2025, 4, 2, 9, 30))
        #expect(file.rows[0].statements == [.init(action: .sinkholeDNS, kind: .optedOut, at: T.ms(2026, 3, 1))])
        #expect(file.rows[2].statements.map(\.kind) == [.consentWithdrawn, .optedOut])
        #expect(file.rows[2].statements[1].at == nil) // no date: the import time
        let reasons = Dictionary(uniqueKeysWithValues: file.rejected.map { ($0.line, $0.reason) })
        #expect(reasons[6] == "'not-an-address' is not an e-mail address")
        #expect(reasons[7] == "terms_accepted without terms_version")
        #expect(reasons[8]?.contains("warn_infection 'maybe' is not consent, withdrawn, opt_out or no_opt_out") == true)
        #expect(reasons[9] == "no account")
        #expect(reasons[10] == "unbalanced quotes")
        #expect(file.rejected.count == 5)
    }

    /// Found by libFuzzer (Fuzz/Crashes/identity-files): a bare "@" in an action column trapped.
    @Test func actionValuesWithoutStatementOrDateAreRejectedLines() throws {
        let file = try CustomerConsentFile.parse("account,warn_infection\nA-1,@\nA-2,consent@\nA-3,@2026-03-01\nA-4,consent@2026-03-01\n")
        #expect(file.rows.map(\.account) == ["A-4"])
        #expect(file.rejected.map(\.line) == [2, 3, 4])
    }

    @Test func aFileWithoutAnAccountColumnIsRefusedWhole() {
        #expect(throws: CustomerConsentFileError.self) { try CustomerConsentFile.parse("customer,email\nA-1,a@b.jp\n") }
        #expect(throws: CustomerConsentFileError.self) { try CustomerConsentFile.parse("# only a comment\n") }
    }

    @Test func importRecordsStateContactsAndFullHistory() throws {
        let registry = try SQLiteConsentRegistry(path: ":memory:")
        let importedAt = T.ms(2026, 11, 1)
        let pseudonym: (String) -> String = { "s:" + $0.lowercased() }
        let file = try CustomerConsentFile.parse(Self.export)
        let first = try registry.importCustomers(file, pseudonym: pseudonym, at: importedAt, source: "import:customers.csv")
        #expect(first.subscribers == 4)
        #expect(first.events == 4 + 1 + 1 + 2) // terms for all four, A-0001's opt-out, A-0002's consent, A-0003's withdrawal and opt-out
        #expect(first.contacts == 3)
        #expect(first.rejected.count == 5)
        #expect(first.lines == 9)

        let taro = try registry.state(of: "s:a-0001", at: T.now)
        #expect(taro.terms?.version == "v3")
        #expect(taro.terms?.mark.at == T.ms(2025, 4, 1))
        #expect(taro.optOuts[.sinkholeDNS]?.at == T.ms(2026, 3, 1))
        // Before the opt-out took effect, the subscriber had not opted out.
        #expect(try registry.state(of: "s:a-0001", at: T.ms(2026, 2, 1)).optOuts.isEmpty)
        #expect(try registry.contact(of: "s:a-0001") == .init(email: "taro@example.jp", language: "ja"))
        #expect(try registry.contact(of: "s:a-0008") == nil)
        let hanako = try registry.state(of: "s:a-0003", at: T.now)
        #expect(hanako.withdrawals[.warnInfection] != nil)
        #expect(hanako.optOuts[.warnVulnerability]?.at == importedAt)

        // The same file again changes nothing.
        let again = try registry.importCustomers(file, pseudonym: pseudonym, at: importedAt + 1000, source: "import:customers.csv")
        #expect(again.events == 0)
        #expect(again.contacts == 0)

        // A later export where taro cancelled the opt-out and moved to terms v4 adds two events; history keeps all.
        let later = try CustomerConsentFile.parse(
            "account,email,terms_version,terms_accepted,sinkhole_dns\nA-0001,taro@example.jp,v4,2026-10-01,no_opt_out@2026-10-02\n")
        let third = try registry.importCustomers(later, pseudonym: pseudonym, at: T.ms(2026, 11, 10), source: "import:customers-2.csv")
        #expect(third.events == 2)
        let history = try registry.history(of: "s:a-0001")
        #expect(history.map(\.kind) == [.termsAccepted, .optedOut, .termsAccepted, .optOutCancelled])
        #expect(history.last?.recordedBy == "import:customers-2.csv")
        let now = try registry.state(of: "s:a-0001", at: T.now)
        #expect(now.terms?.version == "v4")
        #expect(now.optOuts.isEmpty)
        #expect(try registry.subscriberCount() == 4)
    }

    @Test func malformedEventsAreRefused() throws {
        let registry = try SQLiteConsentRegistry(path: ":memory:")
        let noAction = ConsentEvent(subscriber: "s:1", kind: .optedOut, at: 1, method: "web", recordedBy: "api")
        #expect(throws: ConsentRegistryError.self) { try registry.record([noAction], recordedAt: 2) }
        let notPerSubscriber = ConsentEvent(
            subscriber: "s:1", kind: .optedOut, action: .shareIndicator, at: 1, method: "web", recordedBy: "api")
        #expect(throws: ConsentRegistryError.self) { try registry.record([notPerSubscriber], recordedAt: 2) }
        #expect(try registry.history(of: "s:1").isEmpty)
    }
}
