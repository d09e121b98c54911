/// Where cases and the digests of notice-page tokens are kept: `Storage.SQLiteCaseStore` in
/// the server, `MamoriTesting.InMemoryCaseStore` in tests of the layers above. The case workflow
/// (`CaseWorkflow`) never calls it: `Server.CaseService` reads the inputs of a step from it and
/// carries the step's saves out on it.
public protocol CaseStore: Sendable {
    /// Inserts or replaces the case with `c.id`.
    func save(_ c: LawfulCase) throws
    func get(_ id: String) throws -> LawfulCase?
    /// The newest case (by `updated`) of `kind` for `subscriber`, whatever its state.
    func latest(subscriber: String, kind: NoticeContent.Kind) throws -> LawfulCase?
    /// The cases of `kind` for `subscriber`, newest first (a subscriber has one report case per
    /// problem: the caller picks the problem's).
    func cases(subscriber: String, kind: NoticeContent.Kind, limit: Int) throws -> [LawfulCase]
    /// Cases, newest first, optionally in one state.
    func list(state: CaseState?, limit: Int) throws -> [LawfulCase]
    /// Remembers a notice-page token by its digest (never the token).
    func addToken(digest: String, caseID: String, language: String, expires: Int64) throws
    /// The case and language a token opens, and when it expires.
    func token(digest: String) throws -> (caseID: String, language: String, expires: Int64)?
    /// Deletes finished and held cases (and their tokens) not updated since `cutoff`, and expired
    /// tokens; returns the number of cases deleted.
    @discardableResult
    func sweep(finishedBefore cutoff: Int64, now: Int64) throws -> Int
    func count() throws -> Int
}

extension CaseStore {
    public func list(state: CaseState? = nil, limit: Int = 500) throws -> [LawfulCase] { try list(state: state, limit: limit) }

    /// The states that ``sweep(finishedBefore:now:)`` deletes once old enough.
    public static var sweptStates: Set<CaseState> { Set(CaseState.allCases.filter { $0.isFinal || $0 == .held }) }
}
