import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// JSON-RPC 2.0 over HTTP to Kamailio's jsonrpcs module (served by xhttp): one client per
/// publish, shut down after it. Kamailio answers an error with an HTTP error status and a
/// JSON-RPC `error` object (`{"code":500,"message":"Htable reload failed"}`); both are read.
struct RPCClient: Sendable {
    let url: String
    let timeout: Duration
    let maximumAnswerBytes: Int
    private let http: HTTPClient

    init(_ c: KamailioPublisher.Configuration) {
        url = c.rpcURL
        timeout = c.timeout
        maximumAnswerBytes = c.maximumAnswerBytes
        let seconds = max(1, Int64(c.timeout.components.seconds))
        var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(min(seconds, 10)), read: .seconds(seconds)))
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.redirectConfiguration = .disallow
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    func shutdown() async { try? await http.shutdown() }

    /// Calls `method` and returns its `result`; an `error` answer throws ``KamailioControlError/Code/refused``
    /// with Kamailio's code and message.
    func call(_ method: String, _ params: [Any]) async throws(KamailioControlError) -> Any {
        switch try await answer(method, params) {
        case .success(let result): return result
        case .failure(let e):
            throw KamailioControlError(.refused, "\(method) answered error \(e.code) '\(e.message.prefix(200))' (HTTP \(e.status))")
        }
    }

    /// A JSON-RPC error answer.
    struct RPCError: Error {
        var code: Int
        var message: String
        var status: UInt
    }

    /// Calls `method`: its `result`, or the `error` Kamailio answered; throws when there is no
    /// JSON-RPC answer at all.
    func answer(_ method: String, _ params: [Any]) async throws(KamailioControlError) -> Result<Any, RPCError> {
        let body: Data
        do {
            body = try JSONSerialization.data(
                withJSONObject: ["jsonrpc": "2.0", "method": method, "params": params, "id": 1] as [String: Any])
        } catch {
            throw KamailioControlError(.malformedAnswer, "cannot encode the \(method) request: \(error)")
        }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        let status: HTTPResponseStatus
        let bytes: ByteBuffer
        do {
            let response = try await http.execute(
                request,
                deadline: .now()
                    + .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000))
            status = response.status
            bytes = try await response.body.collect(upTo: maximumAnswerBytes)
        } catch is NIOTooManyBytesError {
            throw KamailioControlError(.malformedAnswer, "\(method): the answer is larger than \(maximumAnswerBytes) bytes")
        } catch {
            throw KamailioControlError(.unreachable, "\(method) to \(url): \(Self.reason(error))")
        }
        let text = String(decoding: bytes.readableBytesView, as: UTF8.self)
        guard let answer = (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))) as? [String: Any] else {
            throw KamailioControlError(.malformedAnswer, "\(method): HTTP \(status.code), not a JSON-RPC answer: \(text.prefix(200))")
        }
        if let error = answer["error"] as? [String: Any] {
            return .failure(RPCError(code: error["code"] as? Int ?? 0, message: error["message"] as? String ?? "", status: status.code))
        }
        guard status == .ok, let result = answer["result"] else {
            throw KamailioControlError(.malformedAnswer, "\(method): HTTP \(status.code) without a result: \(text.prefix(200))")
        }
        return .success(result)
    }

    /// `mtree.summary <tree>`: how many prefixes the tree holds.
    func treeSize(_ tree: String) async throws(KamailioControlError) -> Int {
        guard let rows = try await call("mtree.summary", [tree]) as? [Any],
            let row = rows.compactMap({ $0 as? [String: Any] }).first(where: { $0["table"] as? String == tree }),
            let item = row["item"] as? [String: Any], let n = item["nritems"] as? Int
        else { throw KamailioControlError(.malformedAnswer, "mtree.summary \(tree): no nritems for the tree") }
        return n
    }

    /// `mtree.match <tree> <number> 0`: the longest prefix of `number` in the tree and its value;
    /// nil when none matches.
    func match(_ tree: String, _ number: String) async throws(KamailioControlError) -> (prefix: String, value: String)? {
        switch try await answer("mtree.match", [tree, number, 0]) {
        case .failure(let e) where e.code == 404: return nil
        case .failure(let e):
            throw KamailioControlError(.refused, "mtree.match answered error \(e.code) '\(e.message.prefix(200))' (HTTP \(e.status))")
        case .success(let r):
            guard let m = r as? [String: Any], let prefix = m["PREFIX"] as? String else {
                throw KamailioControlError(.malformedAnswer, "mtree.match \(tree): no PREFIX in the answer")
            }
            return (prefix, m["TVALUE"] as? String ?? "")
        }
    }

    /// `htable.stats`: how many items the table holds.
    func htableSize(_ table: String) async throws(KamailioControlError) -> Int {
        guard let rows = try await call("htable.stats", []) as? [Any],
            let row = rows.compactMap({ $0 as? [String: Any] }).first(where: { $0["name"] as? String == table }),
            let n = row["all"] as? Int
        else { throw KamailioControlError(.malformedAnswer, "htable.stats: no count for \(table)") }
        return n
    }

    /// `htable.get <table> <key>`: the value, or nil when the key is not there.
    func htableValue(_ table: String, _ key: String) async throws(KamailioControlError) -> String? {
        switch try await answer("htable.get", [table, key]) {
        case .failure(let e) where e.message.contains("doesn't exist"): return nil
        case .failure(let e):
            throw KamailioControlError(.refused, "htable.get answered error \(e.code) '\(e.message.prefix(200))' (HTTP \(e.status))")
        case .success(let r):
            guard let item = (r as? [String: Any])?["item"] as? [String: Any] else {
                throw KamailioControlError(.malformedAnswer, "htable.get \(table): no item in the answer")
            }
            return (item["value"] as? String) ?? (item["value"] as? Int).map(String.init) ?? ""
        }
    }

    /// `mtree.list <tree>`: prefix → value. Kamailio 5.6 gives `tvalue` as a list of one value.
    func loadedTree(_ tree: String) async throws(KamailioControlError) -> [String: String] {
        guard let rows = try await call("mtree.list", [tree]) as? [Any] else {
            throw KamailioControlError(.malformedAnswer, "mtree.list \(tree): the result is not a list")
        }
        var out: [String: String] = [:]
        for row in rows {
            guard let r = row as? [String: Any], let prefix = r["tprefix"] as? String else {
                throw KamailioControlError(.malformedAnswer, "mtree.list \(tree): a row without tprefix")
            }
            switch r["tvalue"] {
            case let v as String: out[prefix] = v
            case let list as [Any]: out[prefix] = list.compactMap { $0 as? String }.joined(separator: "\n")
            default: out[prefix] = ""
            }
        }
        return out
    }

    /// `htable.dump <table>`: key → value, from every slot.
    func loadedHTable(_ table: String) async throws(KamailioControlError) -> [String: String] {
        guard let slots = try await call("htable.dump", [table]) as? [Any] else {
            throw KamailioControlError(.malformedAnswer, "htable.dump \(table): the result is not a list")
        }
        var out: [String: String] = [:]
        for slot in slots {
            guard let s = slot as? [String: Any], let items = s["slot"] as? [Any] else {
                throw KamailioControlError(.malformedAnswer, "htable.dump \(table): an entry without slot")
            }
            for item in items {
                guard let i = item as? [String: Any], let name = i["name"] as? String else {
                    throw KamailioControlError(.malformedAnswer, "htable.dump \(table): an item without name")
                }
                out[name] = (i["value"] as? String) ?? (i["value"] as? Int).map(String.init) ?? ""
            }
        }
        return out
    }

    static func reason(_ error: any Error) -> String {
        if let e = error as? HTTPClientError {
            if e == .deadlineExceeded || e == .readTimeout { return "no answer in time" }
            if e == .connectTimeout { return "connection timed out" }
            return "\(e)"
        }
        if let e = error as? IOError { return e.description }
        return "\(error)"
    }
}
